"""Keras attention layers the second zoo scan found above the official converter's op count:
`matmul(q, transpose(k))` keeps a TRANSPOSE where the official sets BATCH_MATMUL's adj_y
(fuse/matmul_transpose.py). Converted with tflconv, run in LiteRT, compared with Keras / TF."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


@pytest.mark.parametrize("score_mode", ["dot"])
@pytest.mark.parametrize("use_scale", [False, True])
def test_keras_attention(score_mode, use_scale):
    import keras

    keras.utils.set_random_seed(0)
    q = keras.Input((6, 8), batch_size=2)
    v = keras.Input((5, 8), batch_size=2)
    layer = keras.layers.Attention(use_scale=use_scale, score_mode=score_mode)
    model = keras.Model([q, v], layer([q, v]))
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, 6, 8)).astype(np.float32),
          rng.standard_normal((2, 5, 8)).astype(np.float32)]  # fmt: skip
    tflite = convert(model)
    (got,) = run_litert(tflite, xs)
    np.testing.assert_allclose(got, np.asarray(model(xs)), atol=1e-5, rtol=1e-4)
    assert "tfl.transpose" not in op_histogram(tflite)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 3, 4, 5)])
def test_transposed_operands_become_adjoint_flags(transpose_a, shape):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    perm = list(range(len(shape) - 2)) + [len(shape) - 1, len(shape) - 2]

    def body(x, y):
        lhs = tf.transpose(x, perm) if transpose_a else x
        rhs = y if transpose_a else tf.transpose(y, perm)
        return tf.matmul(lhs, rhs)

    spec = [tf.TensorSpec(shape)] * 2
    cf = tf.function(body, input_signature=spec).get_concrete_function()
    tflite = convert_and_compare(cf, [a, b])
    assert "tfl.transpose" not in op_histogram(tflite)


def test_other_permutations_stay():
    """A transpose that moves a batch dim is not an adjoint: it stays, results still match."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 2, 4)).astype(np.float32)
    b = rng.standard_normal((2, 4, 3)).astype(np.float32)

    def body(x, y):
        return tf.matmul(tf.transpose(x, [1, 0, 2]), y)

    spec = [tf.TensorSpec((3, 2, 4)), tf.TensorSpec((2, 4, 3))]
    cf = tf.function(body, input_signature=spec).get_concrete_function()
    assert "tfl.transpose" in op_histogram(convert_and_compare(cf, [a, b]))
