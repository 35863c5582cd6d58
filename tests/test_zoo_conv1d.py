"""Dilated 1-D convolutions (TCN / WaveNet stacks), which the held-out zoo sweep
(benchmarks/zoo_sweep.py) found converted with space_to_batch_nd / batch_to_space_nd left in:
now one dilated conv_2d between the ExpandDims / Squeeze reshapes (fuse/dilated_conv1d.py), as
the official converter. Converted with tflconv, run in LiteRT, compared with Keras / TF."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


@pytest.mark.parametrize("padding", ["causal", "same", "valid"])
@pytest.mark.parametrize("rate,kernel", [(2, 3), (3, 2), (4, 5)])
@pytest.mark.parametrize("batch", [1, 2])
def test_keras_dilated_conv1d(padding, rate, kernel, batch):
    import keras

    keras.utils.set_random_seed(rate * 10 + kernel)
    inputs = keras.Input((23, 3), batch_size=batch)
    conv = keras.layers.Conv1D(5, kernel, padding=padding, dilation_rate=rate, activation="relu")
    model = keras.Model(inputs, conv(inputs))
    x = np.random.default_rng(0).standard_normal((batch, 23, 3)).astype(np.float32)
    tflite = convert(model)
    (got,) = run_litert(tflite, [x])
    np.testing.assert_allclose(got, np.asarray(model(x)), atol=1e-5, rtol=1e-4)
    hist = op_histogram(tflite)
    assert "tfl.space_to_batch_nd" not in hist and "tfl.batch_to_space_nd" not in hist, hist
    assert hist["tfl.conv_2d"] == 1 and "tfl.relu" not in hist, hist


def test_tf_nn_conv1d_with_dilations():
    """tf.nn.conv1d(dilations=2) on a (batch, width, channels) tensor, then a bias add."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 4, 6)).astype(np.float32)
    b = rng.standard_normal((6,)).astype(np.float32)

    def body(t):
        return tf.nn.conv1d(t, w, 1, "SAME", dilations=2) + b

    spec = [tf.TensorSpec((2, 17, 4), tf.float32)]
    cf = tf.function(body, input_signature=spec).get_concrete_function()
    x = rng.standard_normal((2, 17, 4)).astype(np.float32)
    tflite = convert_and_compare(cf, [x])
    assert "tfl.space_to_batch_nd" not in op_histogram(tflite)
