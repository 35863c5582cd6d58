"""Recurrent models of the held-out zoo sweep (benchmarks/zoo_sweep.py) that converted with
more ops than the official converter: ConvLSTM1D gates add two 1-D convolutions written as
ExpandDims -> conv_2d -> Squeeze; the add (and the unary gate activations before a mul) now
compute before one reshape (fuse/reshape_motion.py). Converted with tflconv, run in LiteRT,
compared with TensorFlow / Keras."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


def _fn(body, *shapes):
    spec = [tf.TensorSpec(s, tf.float32) for s in shapes]
    return tf.function(body, input_signature=spec).get_concrete_function()


def _conv1d(t, w):
    return tf.squeeze(tf.nn.conv2d(tf.expand_dims(t, 1), w[None], 1, "SAME"), 1)


@pytest.mark.parametrize("batch,width,cin,cout", [(2, 10, 3, 4), (1, 7, 5, 2)])
@pytest.mark.parametrize("op", ["add", "multiply", "subtract", "maximum"])
def test_binary_of_two_squeezed_convs_has_one_reshape(batch, width, cin, cout, op):
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((3, cin, cout)).astype(np.float32)
    w2 = rng.standard_normal((3, cout, cout)).astype(np.float32)
    binary = getattr(tf.math, op)

    def body(x, h):
        return binary(_conv1d(x, w1), _conv1d(h, w2))

    shapes = [(batch, width, cin), (batch, width, cout)]
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    tflite = convert_and_compare(_fn(body, *shapes), inputs)
    # the two input ExpandDims and one reshape after the binary op (was: one per operand)
    assert op_histogram(tflite)["tfl.reshape"] == 3


def test_gate_product_through_activations():
    """sigmoid(i) * tanh(g) over squeezed convs: the activations move with the reshape."""
    rng = np.random.default_rng(1)
    wi, wg = (rng.standard_normal((3, 4, 6)).astype(np.float32) for _ in range(2))

    def body(x):
        return tf.sigmoid(_conv1d(x, wi)) * tf.tanh(_conv1d(x, wg))

    x = rng.standard_normal((2, 9, 4)).astype(np.float32)
    tflite = convert_and_compare(_fn(body, (2, 9, 4)), [x])
    assert op_histogram(tflite)["tfl.reshape"] == 2


def test_broadcasting_and_shared_operands_are_kept():
    """Reshapes of different source shapes (broadcasting) and reshapes with another user are
    left alone; the results still match."""
    rng = np.random.default_rng(2)

    def body(x, y):
        a = tf.reshape(x, [2, 6])
        b = tf.reshape(y, [1, 6])  # broadcasts
        c = tf.reshape(y * 2.0, [1, 6])
        return a + b, c * b

    inputs = [rng.standard_normal((3, 4)).astype(np.float32),
              rng.standard_normal((6,)).astype(np.float32)]  # fmt: skip
    convert_and_compare(_fn(body, (3, 4), (6,)), inputs)


@pytest.mark.parametrize("filters,padding", [(4, "same"), (3, "valid")])
def test_conv_lstm1d_matches_keras(filters, padding):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 10, 3), batch_size=2)
    model = keras.Model(inputs, keras.layers.ConvLSTM1D(filters, 3, padding=padding)(inputs))
    x = np.random.default_rng(3).standard_normal((2, 6, 10, 3)).astype(np.float32)
    tflite = convert(model)
    (got,) = run_litert(tflite, [x])
    np.testing.assert_allclose(got, np.asarray(model(x)), atol=1e-5, rtol=1e-4)
    # per step: 2 ExpandDims, 1 reshape per gate sum (4), 1 after the output product, the
    # tensor-array write (was 11 reshapes)
    assert op_histogram(tflite)["tfl.reshape"] <= 8


def test_conv_lstm3d_matches_keras():
    """ConvLSTM3D takes the last step of a rank-6 stack: a strided slice above the kernel's
    rank 5, legalized with the whole trailing dims merged."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3, 4, 4, 4, 2), batch_size=1)
    model = keras.Model(inputs, keras.layers.ConvLSTM3D(2, 3, padding="same")(inputs))
    x = np.random.default_rng(5).standard_normal((1, 3, 4, 4, 4, 2)).astype(np.float32)
    tflite = convert(model)
    (got,) = run_litert(tflite, [x])
    np.testing.assert_allclose(got, np.asarray(model(x)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "index",
    [
        (-1,),
        (slice(1, 3), ...),
        (slice(None), 0, ...),
        (..., slice(None, None, 2), slice(None)),
        (slice(None), slice(None), slice(1, 2), slice(None), slice(None), slice(None)),
    ],
)
def test_rank6_strided_slice(index):
    """6-D slices are one STRIDED_SLICE (the kernel's limit); 7-D ones merge whole dims."""
    for shape in ((3, 2, 2, 3, 2, 4), (3, 2, 2, 3, 2, 4, 2)):
        x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)

        def body(t):
            return t[index]

        cf = tf.function(body, input_signature=[tf.TensorSpec(x.shape)]).get_concrete_function()
        tflite = convert_and_compare(cf, [x])
        if len(shape) == 6:
            assert op_histogram(tflite) == {"tfl.strided_slice": 1}
