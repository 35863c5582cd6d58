"""End to end, nn family: small seeded Keras models / tf.functions -> tflconv -> LiteRT, compared
with TensorFlow, plus op-count assertions showing the fusions and a comparison of op counts
with the official converter.

Tolerance: float32 outputs within atol 1e-5 / rtol 1e-4 (elementwise, numpy assert_allclose),
except where a test states otherwise.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert")

import models  # noqa: E402
from e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402

from tflconv import passes  # noqa: E402, F401  (registers the passes)
from tflconv.api.converter import convert  # noqa: E402
from tflconv.core.parser import parse_module  # noqa: E402
from tflconv.core.passes import PassContext  # noqa: E402
from tflconv.passes.fuse.pass_ import Fuse  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4
layers = keras.layers


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _x(*shape: int, seed: int = 1) -> np.ndarray:
    return _rng(seed).standard_normal(shape).astype(np.float32)


def _seq(input_shape, *stack, seed: int = 0):
    """A functional Keras model with a dynamic batch; BatchNorm layers get random statistics."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in stack:
        x = layer(x)
    model = keras.Model(inputs, x)
    rng = _rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            shapes = [w.shape for w in layer.get_weights()]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, shapes[0]).astype(np.float32),
                    rng.uniform(-0.5, 0.5, shapes[1]).astype(np.float32),
                    rng.uniform(-0.5, 0.5, shapes[2]).astype(np.float32),
                    rng.uniform(0.5, 1.5, shapes[3]).astype(np.float32),
                ]
            )
        elif layer.weights and not isinstance(layer, layers.BatchNormalization):
            # Non-zero biases so bias fusion is visible numerically.
            layer.set_weights(
                [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()]
            )
    return model


def _fn(fn, *shapes):
    """A tf.function with a float32 input signature."""
    specs = [tf.TensorSpec(s, tf.float32) for s in shapes]
    return tf.function(fn, input_signature=specs)


def check(model, *inputs, atol: float = ATOL, rtol: float = RTOL) -> dict[str, int]:
    """Convert, compare with TF, return our op histogram (without tfl.no_value)."""
    tflite = convert_and_compare(model, list(inputs), atol=atol, rtol=rtol)
    return _ops(tflite)


def _ops(tflite: bytes) -> dict[str, int]:
    return {k: v for k, v in op_histogram(tflite).items() if k != "tfl.no_value"}


def _fused_activations(tflite: bytes, name: str) -> list[str]:
    module = read_flatbuffer(tflite)
    return [op.attr("fused_activation_function") for op in module.walk() if op.name == name]


# --- convolutions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"padding": "same"},
        {"padding": "valid"},
        {"padding": "same", "strides": 2},
        {"padding": "valid", "dilation_rate": 2},
        {"padding": "same", "dilation_rate": 2},
        {"padding": "valid", "groups": 2},
    ],
    ids=["same", "valid", "strided", "dilated-valid", "dilated-same", "grouped"],
)
def test_conv2d_bias_relu(kwargs):
    model = _seq((10, 10, 4), layers.Conv2D(6, 3, activation="relu", **kwargs))
    ops = check(model, _x(2, 10, 10, 4))
    assert ops == {"tfl.conv_2d": 1}


def test_depthwise_multiplier_2():
    model = _seq((8, 8, 3), layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu6"))
    tflite = convert_and_compare(model, [_x(2, 8, 8, 3)], atol=ATOL, rtol=RTOL)
    assert _ops(tflite) == {"tfl.depthwise_conv_2d": 1}
    assert _fused_activations(tflite, "tfl.depthwise_conv_2d") == ["RELU6"]


def test_transpose_conv():
    model = _seq(
        (5, 5, 3), layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")
    )
    ops = check(model, _x(2, 5, 5, 3) * 3)
    assert ops["tfl.transpose_conv"] == 1
    assert "tfl.add" not in ops and "tfl.relu" not in ops  # bias and relu joined it


def test_conv3d():
    model = _seq((5, 5, 5, 2), layers.Conv3D(3, 3, activation="relu"))
    ops = check(model, _x(2, 5, 5, 5, 2))
    assert ops == {"tfl.conv_3d": 1}


def test_conv3d_transpose_bias_fused():
    model = _seq(
        (3, 3, 3, 2),
        layers.Conv3DTranspose(2, 3, strides=2, padding="same", activation="relu"),
    )
    ops = check(model, _x(2, 3, 3, 3, 2) * 3, atol=1e-4)
    assert ops["tfl.conv_3d_transpose"] == 1
    assert "tfl.add" not in ops and "tfl.relu" not in ops


def test_conv1d_separable_channels_first():
    conv1d = _seq((10, 3), layers.Conv1D(4, 3, padding="same", activation="relu"))
    assert check(conv1d, _x(2, 10, 3)) == {"tfl.conv_2d": 1, "tfl.reshape": 2}
    sep = _seq((8, 8, 3), layers.SeparableConv2D(4, 3, padding="same", activation="relu"))
    assert check(sep, _x(2, 8, 8, 3)) == {"tfl.depthwise_conv_2d": 1, "tfl.conv_2d": 1}
    first = _seq((3, 8, 8), layers.Conv2D(4, 3, data_format="channels_first"))
    assert check(first, _x(2, 3, 8, 8)) == {"tfl.conv_2d": 1, "tfl.transpose": 2}


def test_pooling():
    model = _seq(
        (9, 9, 3),
        layers.MaxPooling2D(3, strides=2),
        layers.AveragePooling2D(2, padding="same"),
        layers.MaxPooling2D(2, padding="same"),
    )
    ops = check(model, _x(2, 9, 9, 3))
    assert ops == {"tfl.max_pool_2d": 2, "tfl.average_pool_2d": 1}


def test_conv_bn_relu6_is_one_conv():
    model = _seq(
        (8, 8, 3),
        layers.Conv2D(8, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(6.0),
    )
    tflite = convert_and_compare(model, [_x(2, 8, 8, 3)], atol=ATOL, rtol=RTOL)
    assert _ops(tflite) == {"tfl.conv_2d": 1}
    assert _fused_activations(tflite, "tfl.conv_2d") == ["RELU6"]


def test_depthwise_bn_and_zero_padding():
    model = _seq(
        (8, 8, 4),
        layers.ZeroPadding2D(1),
        layers.DepthwiseConv2D(3, use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2D(5, 1),
    )
    ops = check(model, _x(2, 8, 8, 4))
    assert ops == {"tfl.depthwise_conv_2d": 1, "tfl.conv_2d": 1}


def test_rescaling_folds_into_conv():
    model = _seq(
        (8, 8, 3),
        layers.Rescaling(1.0 / 255.0),
        layers.Rescaling([2.0, 0.5, 1.5]),
        layers.ZeroPadding2D(((0, 1), (0, 1))),
        layers.Conv2D(4, 3, strides=2),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
    )
    x = _rng(2).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    ops = check(model, x, atol=1e-4)
    assert ops == {"tfl.conv_2d": 1, "tfl.depthwise_conv_2d": 1}


def test_fused_batch_norm_inference_and_training():
    rng = _rng(3)
    scale, offset, mean, var = (rng.uniform(0.5, 1.5, 3).astype(np.float32) for _ in range(4))

    def bn(x):
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x, scale, offset, mean, var, epsilon=1e-3, is_training=False
        )
        z, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3, is_training=True)
        return y + z

    ops = check(_fn(bn, (2, 4, 4, 3)), _x(2, 4, 4, 3), atol=1e-4)
    assert ops["tfl.mean"] == 2


def test_tf1_style_conv_fused_batch_norm_pool_l2():
    rng = _rng(6)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    scale, offset, mean = (rng.standard_normal(4).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 1.5, 4).astype(np.float32)

    def f(x):
        y = tf.nn.conv2d(x, w, 1, "SAME")
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(y, scale, offset, mean, var, is_training=False)
        y = tf.nn.relu6(y)
        # zero padding before a max pool of non-negative values is SAME padding
        y = tf.nn.max_pool2d(tf.pad(y, [[0, 0], [0, 1], [0, 1], [0, 0]]), 3, 2, "VALID")
        return tf.nn.l2_normalize(tf.reshape(y, [-1, 4 * 4 * 4]), axis=-1)

    ops = check(_fn(f, (None, 8, 8, 3)), _x(2, 8, 8, 3))
    assert ops == {
        "tfl.conv_2d": 1,
        "tfl.max_pool_2d": 1,
        "tfl.reshape": 1,
        "tfl.l2_normalization": 1,
    }


# --- matrix products -----------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_dense_rank2(use_bias, activation):
    model = _seq((6,), layers.Dense(4, use_bias=use_bias, activation=activation))
    tflite = convert_and_compare(model, [_x(3, 6)], atol=ATOL, rtol=RTOL)
    assert _ops(tflite) == {"tfl.fully_connected": 1}
    assert _fused_activations(tflite, "tfl.fully_connected") == ["RELU" if activation else "NONE"]


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_dense_rank3_is_one_fully_connected(use_bias, activation):
    model = _seq((7, 4), layers.Dense(5, use_bias=use_bias, activation=activation))
    ops = check(model, _x(2, 7, 4))
    assert ops == {"tfl.fully_connected": 1}


def test_dense_bn_dense():
    model = _seq((6,), layers.Dense(8), layers.BatchNormalization(), layers.Dense(3))
    ops = check(model, _x(4, 6))
    assert ops == {"tfl.fully_connected": 2}


def test_matmul_transposes_and_batch_matmul():
    w = _x(5, 3, seed=4)

    def f(a, b, c):
        y1 = tf.matmul(a, b, transpose_a=True)  # a: [4,6] -> [6,4] @ b[4,3]
        y2 = tf.matmul(c, w, transpose_b=True)  # c: [6,3] @ w^T
        y3 = tf.linalg.matmul(tf.reshape(c, [2, 3, 3]), tf.reshape(c, [2, 3, 3]), adjoint_b=True)
        return y1, y2, y3

    ops = check(_fn(f, (4, 6), (4, 3), (6, 3)), _x(4, 6), _x(4, 3, seed=2), _x(6, 3, seed=3))
    assert ops["tfl.fully_connected"] == 2
    assert ops["tfl.batch_matmul"] == 1


def test_einsum_forms():
    w = _x(4, 2, 3, seed=5)

    def f(x, q, k):
        heads = tf.einsum("btd,dnh->btnh", x, w)
        scores = tf.einsum("BTNH,BSNH->BNTS", q, k)
        context = tf.einsum("BNTS,BSNH->BTNH", scores, k)
        return heads, context

    ops = check(
        _fn(f, (None, 5, 4), (None, 5, 2, 3), (None, 6, 2, 3)),
        _x(2, 5, 4),
        _x(2, 5, 2, 3),
        _x(2, 6, 2, 3, seed=7),
    )
    assert ops["tfl.fully_connected"] == 1
    assert ops["tfl.batch_matmul"] == 2


@pytest.mark.parametrize(
    "equation,shapes",
    [
        ("abc,cd->abd", [(2, 5, 4), (4, 3)]),
        ("bij,bj->bi", [(2, 3, 4), (2, 4)]),
        ("ij,kj->ki", [(3, 4), (5, 4)]),
        ("bxy,byz->bzx", [(2, 3, 4), (2, 4, 5)]),
        ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
        ("i,j->ij", [(3,), (4,)]),
    ],
)
def test_einsum_general(equation, shapes):
    ops = check(
        _fn(lambda a, b: tf.einsum(equation, a, b), *shapes),
        *(_x(*s, seed=i) for i, s in enumerate(shapes)),
    )
    assert "tf.Einsum" not in str(ops)


def test_explicit_padding_and_dynamic_filters():
    def f(x, w, d):
        a = tf.nn.conv2d(x, w, strides=1, padding=[[0, 0], [1, 2], [0, 1], [0, 0]])
        b = tf.nn.depthwise_conv2d(x, d, strides=[1, 1, 1, 1], padding="SAME")
        return a, b

    ops = check(
        _fn(f, (2, 6, 6, 3), (3, 3, 3, 4), (3, 3, 3, 2)),
        _x(2, 6, 6, 3),
        _x(3, 3, 3, 4, seed=2),
        _x(3, 3, 3, 2, seed=3),
        atol=1e-4,
    )
    assert ops["tfl.pad"] == 1 and ops["tfl.transpose"] == 1 and ops["tfl.reshape"] == 1


def test_multi_head_attention():
    model = _attention()
    ops = check(model, _x(2, 5, 8), atol=1e-4)
    assert ops["tfl.fully_connected"] == 4
    assert ops["tfl.batch_matmul"] == 2
    assert "tfl.add" not in ops  # every projection bias joined its fully_connected


# --- activations -----------------------------------------------------------------------------


ACTIVATIONS = {
    "relu": (lambda x: tf.nn.relu(x), {"tfl.relu": 1}),
    "relu6": (lambda x: tf.nn.relu6(x), {"tfl.relu6": 1}),
    "relu1": (lambda x: tf.clip_by_value(x, -1.0, 1.0), {"tfl.relu_n1_to_1": 1}),
    "relu0to1": (lambda x: tf.clip_by_value(x, 0.0, 1.0), {"tfl.relu_0_to_1": 1}),
    "leaky_relu": (lambda x: keras.activations.leaky_relu(x, 0.1), {"tfl.leaky_relu": 1}),
    "elu": (lambda x: keras.activations.elu(x), {"tfl.elu": 1}),
    "selu": (lambda x: keras.activations.selu(x), None),
    "sigmoid": (lambda x: tf.sigmoid(x), {"tfl.logistic": 1}),
    "tanh": (lambda x: tf.tanh(x), {"tfl.tanh": 1}),
    "softplus": (lambda x: keras.activations.softplus(x), None),
    "gelu": (lambda x: keras.activations.gelu(x, approximate=False), {"tfl.gelu": 1}),
    "gelu_tanh": (lambda x: keras.activations.gelu(x, approximate=True), {"tfl.gelu": 1}),
    "tf_gelu": (lambda x: tf.nn.gelu(x), {"tfl.gelu": 1}),
    "silu": (lambda x: keras.activations.silu(x), {"tfl.logistic": 1, "tfl.mul": 1}),
    "hard_swish": (lambda x: keras.activations.hard_swish(x), {"tfl.hard_swish": 1}),
    "softmax": (lambda x: tf.nn.softmax(x), {"tfl.softmax": 1}),
    "log_softmax": (lambda x: tf.nn.log_softmax(x), {"tfl.log_softmax": 1}),
    "l2_normalize": (lambda x: tf.math.l2_normalize(x, axis=-1), {"tfl.l2_normalization": 1}),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation(name):
    fn, expected = ACTIVATIONS[name]
    x = _x(3, 8) * 3.0
    ops = check(_fn(fn, (None, 8)), x)
    if expected is not None:
        assert ops == expected
    assert sum(ops.values()) <= 4


def test_activation_fused_into_elementwise_and_pool():
    def f(a, b):
        return (
            tf.nn.relu(a * b),
            tf.nn.relu6(a - b),
            tf.clip_by_value(a / (tf.abs(b) + 1.0), -1.0, 1.0),
            tf.nn.relu(tf.nn.avg_pool2d(tf.reshape(a, [-1, 2, 4, 1]), 2, 1, "VALID")),
            tf.nn.relu(tf.concat([a, b], axis=1)),  # concatenation ignores fused activations
        )

    ops = check(_fn(f, (None, 8), (None, 8)), _x(3, 8) * 4, _x(3, 8, seed=5) * 4)
    assert "tfl.relu6" not in ops and "tfl.relu_n1_to_1" not in ops
    assert ops["tfl.relu"] == 1  # the one after the concatenation


def test_prelu_and_leaky_layers():
    model = _seq((6,), layers.Dense(4), layers.PReLU(), layers.Dense(3), layers.LeakyReLU(0.3))
    assert check(model, _x(4, 6) * 3) == {
        "tfl.fully_connected": 2,
        "tfl.prelu": 1,
        "tfl.leaky_relu": 1,
    }


# --- padding, resizing, normalization -------------------------------------------------------


def test_pads():
    def f(x):
        a = tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]])
        b = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-2.0)
        c = tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]], mode="REFLECT")
        d = tf.pad(x, [[0, 0], [2, 2], [1, 1], [0, 0]], mode="SYMMETRIC")
        return a, b, c, d

    ops = check(_fn(f, (None, 4, 4, 2)), _x(2, 4, 4, 2))
    assert ops == {"tfl.pad": 1, "tfl.padv2": 1, "tfl.mirror_pad": 2}


def test_resize_and_lrn():
    def f(x):
        a = tf.image.resize(x, [8, 6], method="bilinear")
        b = tf.image.resize(x, [8, 8], method="nearest")
        c = tf.compat.v1.image.resize_bilinear(x, [7, 7], align_corners=True)
        d = tf.nn.local_response_normalization(x, depth_radius=1, bias=1.0, alpha=0.5, beta=0.5)
        return a, b, c, d

    ops = check(_fn(f, (None, 4, 4, 3)), _x(2, 4, 4, 3))
    assert ops == {
        "tfl.resize_bilinear": 2,
        "tfl.resize_nearest_neighbor": 1,
        "tfl.local_response_normalization": 1,
    }


def test_upsampling_bilinear():
    model = _seq((4, 4, 3), layers.UpSampling2D(interpolation="bilinear"))
    assert check(model, _x(2, 4, 4, 3)) == {"tfl.resize_bilinear": 1}


# --- dynamic batch ---------------------------------------------------------------------------


def test_dynamic_batch_converted_once_runs_at_batch_1_and_3():
    model = _seq(
        (8, 8, 3),
        layers.Conv2D(4, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2D(4, 3, dilation_rate=2),
        layers.GlobalAveragePooling2D(),
        layers.Dense(3, activation="softmax"),
    )
    tflite = convert(model)
    for batch in (1, 3):
        x = _x(batch, 8, 8, 3, seed=batch)
        (got,) = run_litert(tflite, [x])
        np.testing.assert_allclose(got, model(x).numpy(), atol=ATOL, rtol=RTOL)


# --- against the official converter ----------------------------------------------------------


def _official_ops(model) -> dict[str, int]:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return _ops(converter.convert())


OFFICIAL_CASES = {
    "conv_bn_relu6": lambda: _seq(
        (8, 8, 3),
        layers.Conv2D(8, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(6.0),
    ),
    "dense_rank3": lambda: _seq((7, 4), layers.Dense(5, activation="relu")),
    "dilated_conv": lambda: _seq((12, 12, 3), layers.Conv2D(4, 3, dilation_rate=2)),
    "pad_conv": lambda: _seq((8, 8, 3), layers.ZeroPadding2D(1), layers.Conv2D(4, 3)),
    "transpose_conv": lambda: _seq(
        (5, 5, 3), layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    ),
    "attention": lambda: _attention(),
    "conv1d": lambda: _seq((10, 3), layers.Conv1D(4, 3, padding="same", activation="relu")),
    "prelu": lambda: _seq((6,), layers.Dense(4), layers.PReLU()),
    "depthwise_dilated": lambda: _seq(
        (10, 10, 3), layers.DepthwiseConv2D(3, dilation_rate=2, padding="same")
    ),
    "conv3d_transpose": lambda: _seq(
        (3, 3, 3, 2), layers.Conv3DTranspose(2, 3, strides=2, padding="same")
    ),
    "small_cnn": lambda: models.small_cnn(),
    "transformer_block": lambda: models.transformer_block(),
}


def _attention():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 8))
    return keras.Model(inputs, layers.MultiHeadAttention(2, 4)(inputs, inputs))


@pytest.mark.parametrize("name", list(OFFICIAL_CASES))
def test_op_count_not_above_official(name):
    model = OFFICIAL_CASES[name]()
    ours = _ops(convert(model))
    official = _official_ops(model)
    print(f"{name}: ours {sum(ours.values())} {ours} official {sum(official.values())} {official}")
    assert sum(ours.values()) <= sum(official.values()), (ours, official)


# --- why a fusion did not happen --------------------------------------------------------------

TWO_USERS = """
module {
  func.func @f(%x: tensor<?x4x4x2xf32>) -> (tensor<?x4x4x2xf32>, tensor<?x4x4x2xf32>) {
    %w = "arith.constant"() {value = dense<1.0> : tensor<2x1x1x2xf32>} : () -> tensor<2x1x1x2xf32>
    %b = "arith.constant"() {value = dense<0.0> : tensor<2xf32>} : () -> tensor<2xf32>
    %m = "arith.constant"() {value = dense<2.0> : tensor<2xf32>} : () -> tensor<2xf32>
    %c = "tfl.conv_2d"(%x, %w, %b) {dilation_h_factor = 1, dilation_w_factor = 1, fused_activation_function = "NONE", padding = "SAME", stride_h = 1, stride_w = 1} : (tensor<?x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<?x4x4x2xf32>
    %y = "tfl.mul"(%c, %m) {fused_activation_function = "NONE"} : (tensor<?x4x4x2xf32>, tensor<2xf32>) -> tensor<?x4x4x2xf32>
    %r = "tfl.relu"(%c) : (tensor<?x4x4x2xf32>) -> tensor<?x4x4x2xf32>
    "func.return"(%y, %r) : (tensor<?x4x4x2xf32>, tensor<?x4x4x2xf32>) -> ()
  }
}
"""


def test_fusion_refusals_say_why():
    module = parse_module(TWO_USERS)
    ctx = PassContext()
    Fuse().run(module, ctx)
    ops = {op.name: op for op in module.walk()}
    assert ops["tfl.conv_2d"].attr("fused_activation_function") == "NONE"
    reasons = {
        name: "; ".join(r for pattern, r in ctx.tracer.failure_reasons(ops[name]))
        for name in ("tfl.mul", "tfl.relu")
    }
    assert "conv output has 2 users" in reasons["tfl.mul"]
    assert "conv output has 2 users" in reasons["tfl.relu"]


def test_erf_gelu_times_a_gate_becomes_gelu():
    """GeGLU with exact GELU: gelu(x) * gate, the GELU product inside a bigger one."""

    def f(x, gate):
        return tf.nn.gelu(x, approximate=False) * gate

    specs = [tf.TensorSpec([None, 8], tf.float32)] * 2
    concrete = tf.function(f, input_signature=specs).get_concrete_function()
    x, gate = np.random.default_rng(0).normal(size=(2, 3, 8)).astype(np.float32)
    hist = op_histogram(convert_and_compare(concrete, [x, gate]))
    assert hist.get("tfl.gelu") == 1 and hist.get("tfl.mul") == 1, hist


@pytest.mark.parametrize("shape", [[3, 1, 2, 4, 6], [2, 2, 3, 4, 5, 6]])
def test_tanh_gelu_above_rank_4_becomes_gelu(shape):
    """Above rank 4 LiteRT's POW does not broadcast, so x^3 gets a BROADCAST_TO exponent: the
    GELU match reads the exponent through it (LiteRT's op_tests gelu cases expect one GELU)."""
    f = tf.function(lambda x: tf.nn.gelu(x, approximate=True))
    concrete = f.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    x = np.random.default_rng(1).uniform(-8, 8, size=shape).astype(np.float32)
    assert op_histogram(convert_and_compare(concrete, [x])) == {"tfl.gelu": 1}


POOL3D_CASES = [
    # (ksize, strides, input shape, padding): SAME windows past the edge, strides larger than
    # the window, a window of 1 in H / W (no per-frame pool), a dynamic batch
    ([1, 2, 3, 4, 1], [1, 2, 2, 4, 1], [3, 16, 15, 14, 3], "SAME"),
    ([1, 2, 3, 4, 1], [1, 2, 1, 2, 1], [1, 7, 6, 9, 2], "VALID"),
    ([1, 3, 1, 1, 1], [1, 2, 1, 1, 1], [2, 7, 4, 5, 2], "SAME"),
    ([1, 1, 2, 2, 1], [1, 1, 3, 3, 1], [None, 4, 7, 7, 3], "SAME"),
]


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("ksize,strides,shape,padding", POOL3D_CASES)
def test_pool3d_as_two_2d_pools(pool, ksize, strides, shape, padding):
    """MaxPool3D / AvgPool3D become builtin 2-D pools (the official's custom ops do not run on
    LiteRT's standard resolver); AvgPool3D's SAME average counts only unpadded elements, as TF."""
    op = tf.nn.max_pool3d if pool == "max" else tf.nn.avg_pool3d
    f = tf.function(lambda x: op(x, ksize=ksize, strides=strides, padding=padding))
    concrete = f.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    x = np.random.default_rng(2).uniform(-100, 100, [d or 2 for d in shape]).astype(np.float32)
    hist = op_histogram(convert_and_compare(concrete, [x], atol=1e-4))
    assert set(hist) <= {"tfl.reshape", f"tfl.{'max' if pool == 'max' else 'average'}_pool_2d"}


@pytest.mark.parametrize("dtype", [tf.int32, tf.uint8, tf.int64, tf.float16])
@pytest.mark.parametrize("align_corners,half_pixel", [(True, False), (False, True)])
def test_resize_bilinear_of_non_float32_returns_float32(dtype, align_corners, half_pixel):
    """TF's ResizeBilinear interpolates any input type in float and returns float32: a CAST,
    then the float kernel (LiteRT op_tests resize_bilinear int32 cases; the official refuses)."""
    f = tf.function(
        lambda x: tf.compat.v1.image.resize_bilinear(
            x, [5, 6], align_corners=align_corners, half_pixel_centers=half_pixel
        )
    )
    concrete = f.get_concrete_function(tf.TensorSpec([1, 3, 4, 3], dtype))
    x = np.random.default_rng(3).integers(0, 100, (1, 3, 4, 3)).astype(dtype.as_numpy_dtype)
    hist = op_histogram(convert_and_compare(concrete, [x]))
    assert hist == {"tfl.cast": 1, "tfl.resize_bilinear": 1}


@pytest.mark.parametrize(
    "shape,ksize,strides,padding,include_batch",
    [
        ([2, 4, 3, 2], (2, 2), (2, 2), "SAME", False),  # padded windows: -inf never wins
        ([2, 4, 11, 2], (2, 2), (2, 3), "VALID", True),
        ([1, 7, 9, 3], (3, 3), (2, 2), "SAME", True),
        ([None, 5, 6, 2], (2, 1), (1, 1), "VALID", False),
    ],
)
def test_max_pool_with_argmax_as_builtins(shape, ksize, strides, padding, include_batch):
    """MaxPoolWithArgmax: MAX_POOL_2D and ARG_MAX over the window's strided slices give TF's
    values and flat indices (the official makes a custom op LiteRT's resolver lacks)."""

    def f(x):
        return tf.nn.max_pool_with_argmax(
            x,
            ksize,
            strides,
            padding,
            output_dtype=tf.int64,
            include_batch_in_index=include_batch,
        )

    concrete = tf.function(f).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    x = np.random.default_rng(4).uniform(-10, 10, [d or 3 for d in shape]).astype(np.float32)
    hist = op_histogram(convert_and_compare(concrete, [x], atol=0, rtol=0))
    assert "tfl.custom" not in hist and hist["tfl.arg_max"] == 1, hist
