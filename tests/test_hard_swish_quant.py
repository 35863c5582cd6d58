"""MobileNetV3-style blocks (hard-swish `x * relu6(x + 3) / 6`, squeeze-excite gates
`relu6(x + 3) / 6`) in int8: division by a constant becomes a multiplication before
quantization (as the official converter's grappler pass does), so no float DIV is left between
a dequantize and a quantize, and the int8 error is the official converter's."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tflconv  # noqa: E402
from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402

SHAPE = (1, 16, 16, 3)


def _block(gate: str, seed: int = 0):
    """conv -> hard-swish -> depthwise -> squeeze-excite (hard-sigmoid gate) -> conv + residual
    -> global pool -> dense. `gate` is how the hard sigmoid is written."""
    import keras

    keras.utils.set_random_seed(seed)
    ops = keras.ops

    def hard_sigmoid(v):
        if gate == "div":
            return ops.relu6(v + 3.0) / 6.0
        return ops.relu6(v + 3.0) * (1.0 / 6.0)

    i = keras.Input(SHAPE[1:], batch_size=1, name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", name="stem")(i)
    x = x * ops.relu6(x + 3.0) / 6.0  # hard-swish as TF writes it out
    y = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = y * hard_sigmoid(y)  # hard-swish with the gate's own association
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(y)
    s = keras.layers.Conv2D(4, 1, activation="relu", name="se_reduce")(s)
    s = keras.layers.Conv2D(16, 1, name="se_expand")(s)
    y = y * hard_sigmoid(s)  # squeeze-excite: the gate multiplies another tensor
    y = keras.layers.Conv2D(16, 1, name="project")(y) + x
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    return keras.Model(i, keras.layers.Dense(10, name="logits")(y))


def _data(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, SHAPE).astype(np.float32) for _ in range(n)]


def _int8(model, calib, ours: bool = True) -> bytes:
    import tensorflow as tf

    api = tflconv if ours else tf.lite
    conv = api.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [api.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x] for x in calib)
    return conv.convert()


def _relative_rmse(model, tflite: bytes, inputs: list[np.ndarray]) -> float:
    ref = np.stack([np.asarray(model(x)) for x in inputs])
    got = np.stack([run_litert(tflite, [x])[0] for x in inputs])
    return float(np.sqrt(np.mean((got - ref) ** 2) / np.mean(ref**2)))


@pytest.mark.parametrize("gate", ["div", "mul"])
def test_float_model_has_no_div_and_matches_keras(gate):
    model = _block(gate)
    tflite = convert_and_compare(model, _data(1, 1), atol=1e-5, rtol=1e-4)
    hist = op_histogram(tflite)
    assert "tfl.div" not in hist
    assert hist.get("tfl.hard_swish") == 2, hist


def test_int8_has_no_float_div_and_matches_the_official_error():
    model = _block("div")
    calib, held_out = _data(8, 2), _data(6, 3)
    ours, official = _int8(model, calib), _int8(model, calib, ours=False)
    hist = op_histogram(ours)
    assert "tfl.div" not in hist, hist
    # one quantize at the input, one dequantize at the output: everything else is int8
    assert hist.get("tfl.quantize") == 1 and hist.get("tfl.dequantize") == 1, hist
    official_hist = {k: n for k, n in op_histogram(official).items() if k != "tfl.no_value"}
    assert {k: n for k, n in hist.items() if k != "tfl.no_value"} == official_hist
    err, err_official = (
        _relative_rmse(model, ours, held_out),
        _relative_rmse(model, official, held_out),
    )
    print(f"relative RMSE: ours {err:.4f}, official {err_official:.4f}")
    assert err < 0.1
    assert err <= 1.25 * err_official, (err, err_official)
