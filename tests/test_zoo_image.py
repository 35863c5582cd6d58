"""Image graphs the held-out zoo sweep (benchmarks/zoo_sweep.py) measured above the official
converter's op count: Tensordot to a last dim of 1 followed by ExpandDims
(`tf.image.rgb_to_grayscale`, per-pixel projections) is one fully_connected keeping its dims.
Converted with tflconv, run in LiteRT, compared with TensorFlow."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import convert_and_compare, op_histogram  # noqa: E402


def _fn(body, *shapes):
    spec = [tf.TensorSpec(s, tf.float32) for s in shapes]
    return tf.function(body, input_signature=spec).get_concrete_function()


@pytest.mark.parametrize("shape", [(1, 7, 9, 3), (2, 5, 4, 3), (3, 8, 3)])
def test_rgb_to_grayscale_is_one_fully_connected(shape):
    x = np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)
    tflite = convert_and_compare(_fn(lambda t: tf.image.rgb_to_grayscale(t), shape), [x])
    ops = {k: v for k, v in op_histogram(tflite).items() if k != "tfl.no_value"}
    assert ops == {"tfl.fully_connected": 1}


@pytest.mark.parametrize("shape", [(2, 6, 4), (1, 3, 5, 4)])
def test_tensordot_then_expand_dims(shape):
    """A learned per-position score (Tensordot with a vector) kept as a trailing axis of 1."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((shape[-1],)).astype(np.float32)
    x = rng.standard_normal(shape).astype(np.float32)

    def body(t):
        return tf.nn.relu(tf.expand_dims(tf.tensordot(t, w, axes=[[-1], [0]]), -1))

    tflite = convert_and_compare(_fn(body, shape), [x])
    assert "tfl.reshape" not in op_histogram(tflite)


def test_reshape_with_another_user_is_kept():
    """The squeezed projection is an output too: the reshapes stay, results still match."""
    x = np.random.default_rng(2).standard_normal((1, 4, 5, 3)).astype(np.float32)
    w = np.array([0.5, -1.0, 2.0], np.float32)

    def body(t):
        y = tf.tensordot(t, w, axes=[[-1], [0]])
        return y, tf.expand_dims(y, -1) * 2.0

    convert_and_compare(_fn(body, (1, 4, 5, 3)), [x])
