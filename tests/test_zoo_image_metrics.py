"""Image-quality graphs the held-out zoo sweep (benchmarks/zoo_sweep.py) found refused while
the official converter converts them: `tf.image.ssim` builds its Gaussian filter at run time and
tiles it by the channel count, which left the depthwise filter's channel dim unknown
(cleanup/fold_tf.py `RefineTile`). Converted with tflconv, run in LiteRT, compared with TF."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import convert_and_compare, op_histogram  # noqa: E402


@pytest.mark.parametrize("shape", [(1, 16, 16, 1), (2, 16, 12, 3)])
@pytest.mark.parametrize("filter_size", [3, 5])
def test_ssim(shape, filter_size):
    rng = np.random.default_rng(filter_size)
    a = rng.uniform(0, 1, shape).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)

    def body(x, y):
        return tf.image.ssim(x, y, 1.0, filter_size=filter_size)

    spec = [tf.TensorSpec(shape, tf.float32)] * 2
    cf = tf.function(body, input_signature=spec).get_concrete_function()
    tflite = convert_and_compare(cf, [a, b], atol=1e-5)
    assert op_histogram(tflite).get("tfl.depthwise_conv_2d", 0) >= 1


def test_tile_by_channel_count_as_depthwise_filter():
    """The filter pattern without SSIM around it: a per-channel blur."""
    x = np.random.default_rng(0).standard_normal((1, 9, 9, 4)).astype(np.float32)
    k = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]).astype(np.float32) / 16

    def body(t):
        w = tf.tile(tf.reshape(tf.constant(k), [3, 3, 1, 1]), [1, 1, tf.shape(t)[-1], 1])
        return tf.nn.depthwise_conv2d(t, w, [1, 1, 1, 1], "SAME")

    cf = tf.function(body, input_signature=[tf.TensorSpec(x.shape)]).get_concrete_function()
    convert_and_compare(cf, [x])


@pytest.mark.parametrize("axis", [1, -1, None])
@pytest.mark.parametrize("op", ["reduce_variance", "reduce_std"])
def test_variance_uses_squared_difference(axis, op):
    """square(|x - mean|) is one squared_difference, as the official converter writes it."""
    x = np.random.default_rng(4).standard_normal((3, 7)).astype(np.float32)

    def body(t):
        return getattr(tf.math, op)(t, axis=axis, keepdims=True)

    cf = tf.function(body, input_signature=[tf.TensorSpec((3, 7))]).get_concrete_function()
    hist = op_histogram(convert_and_compare(cf, [x]))
    assert hist.get("tfl.squared_difference") == 1 and "tfl.square" not in hist, hist


@pytest.mark.parametrize("log", [False, True])
def test_constant_softmax_folds(log):
    """A softmax of constants (a normalised kernel) is a constant, exact to float32."""
    x = np.random.default_rng(5).standard_normal((2, 5)).astype(np.float32)
    logits = np.array([[0.5, -1.0, 3.0, 0.0, 2.0]], np.float32)
    fn = tf.nn.log_softmax if log else tf.nn.softmax

    def body(t):
        return t * fn(tf.constant(logits))

    cf = tf.function(body, input_signature=[tf.TensorSpec((2, 5))]).get_concrete_function()
    hist = op_histogram(convert_and_compare(cf, [x], atol=1e-6))
    assert hist == {"tfl.mul": 1}, hist
