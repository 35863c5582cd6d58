"""TF's fake-quantization ops lowered to tfl.quantize / tfl.dequantize pairs
(passes/legalize_tf/fake_quant.py), converted with tflconv, run in LiteRT and compared with TF's
kernels over ranges that need nudging (zero outside or off the grid), narrow ranges, 2..8 bits,
per-channel ranges and inputs beyond the range (clamping)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402

# (min, max): symmetric, zero off the grid, all positive, all negative, tiny
RANGES = [(-3.1, 5.3), (-1.0, 1.0), (0.5, 6.0), (-10.0, -2.0), (-1e-3, 2e-3)]


def _inputs(lo: float, hi: float, shape=(3, 5, 8)) -> np.ndarray:
    """Values across and beyond [lo, hi], plus the bounds and zero."""
    span = hi - lo
    x = np.random.default_rng(7).uniform(lo - span / 2, hi + span / 2, shape).astype(np.float32)
    x.reshape(-1)[:3] = [lo, hi, 0.0]
    return x


def _check(fn, x: np.ndarray) -> None:
    """TF's and LiteRT's results agree, except on exact halfway ties between two grid values,
    which TF rounds up (or to even) and QUANTIZE rounds after a float division (one step)."""
    cf = tf.function(fn, input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    concrete = cf.get_concrete_function()
    tflite = convert([concrete])
    hist = op_histogram(tflite)
    assert hist.get("tfl.quantize") == 1 and hist.get("tfl.dequantize") == 1, hist
    assert not [k for k in hist if k.startswith(("tfl.custom", "tf."))], hist
    (got,) = run_litert(tflite, [x])
    want = concrete(tf.constant(x)).numpy()
    close = np.isclose(got, want, rtol=1e-6, atol=1e-7)
    step = np.abs(got - want)
    tie = np.abs(x - (got + want) / 2) <= 1e-3 * step
    bad = ~close & ~tie
    assert not bad.any(), (x[bad], got[bad], want[bad])
    assert (~close).mean() < 0.02  # ties are rare


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("num_bits", [8, 5, 2])
@pytest.mark.parametrize("lo,hi", RANGES)
@pytest.mark.parametrize("form", ["args", "vars"])
def test_fake_quant_per_tensor(form, lo, hi, num_bits, narrow):
    x = _inputs(lo, hi)
    if form == "args":

        def fn(a):
            return tf.quantization.fake_quant_with_min_max_args(
                a, lo, hi, num_bits=num_bits, narrow_range=narrow
            )
    else:

        def fn(a):
            return tf.quantization.fake_quant_with_min_max_vars(
                a, tf.constant(lo), tf.constant(hi), num_bits=num_bits, narrow_range=narrow
            )

    _check(fn, x)


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("num_bits", [8, 4])
def test_fake_quant_per_channel(num_bits, narrow):
    lo = np.array([lo for lo, _ in RANGES] + [-2.0, 0.0, -0.5], np.float32)
    hi = np.array([hi for _, hi in RANGES] + [2.0, 1.0, 7.5], np.float32)
    x = np.random.default_rng(3).uniform(-12, 8, (2, 3, lo.size)).astype(np.float32)

    def fn(a):
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(
            a, tf.constant(lo), tf.constant(hi), num_bits=num_bits, narrow_range=narrow
        )

    _check(fn, x)


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("num_bits", [8, 4])
@pytest.mark.parametrize("lo,hi", [(-3.1, 5.3), (-1.0, 1.0), (0.0, 6.0), (-4.0, 0.5)])
def test_quantize_and_dequantize_v4(lo, hi, num_bits, signed, narrow):
    x = _inputs(lo, hi)

    def fn(a):
        return tf.raw_ops.QuantizeAndDequantizeV4(
            input=a, input_min=tf.constant(lo), input_max=tf.constant(hi),
            signed_input=signed, num_bits=num_bits, range_given=True, narrow_range=narrow,
        )  # fmt: skip

    _check(fn, x)


def _qat_like(w: np.ndarray):
    def fn(a):
        a = tf.quantization.fake_quant_with_min_max_args(a, -4.0, 4.0)
        kernel = tf.quantization.fake_quant_with_min_max_vars(
            tf.constant(w), tf.constant(-3.0), tf.constant(3.0), narrow_range=True
        )
        y = tf.nn.relu(tf.matmul(a, kernel))
        return tf.quantization.fake_quant_with_min_max_args(y, 0.0, 10.0)

    return fn


@pytest.mark.parametrize("mode", ["float", "dynamic_range", "float16", "int8"])
def test_quantize_chain_on_fake_quant_pairs(mode):
    """Float and float16 models keep the Q/DQ pairs (TF's fake quantization, computed in
    float); with optimizations=[DEFAULT] and no float16 the graph is quantization-aware
    trained and becomes int8 with the FakeQuant ranges, as tf.lite does (test_qat.py), with or
    without a representative dataset. Each stays within one output step (10 / 255) per lossy
    recipe of TF."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    x = rng.uniform(-4, 4, (2, 16)).astype(np.float32)
    cf = tf.function(_qat_like(w), input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    concrete = cf.get_concrete_function()
    options: dict = {}
    if mode != "float":
        options["optimizations"] = ["DEFAULT"]
    if mode == "float16":
        options["target_spec"] = {"supported_types": ["float16"]}
    if mode == "int8":

        def dataset():
            for _ in range(4):
                yield [rng.uniform(-4, 4, x.shape).astype(np.float32)]

        options["representative_dataset"] = dataset
    tflite = convert([concrete], **options)
    (got,) = run_litert(tflite, [x])
    want = concrete(tf.constant(x)).numpy()
    exact = mode == "float"
    np.testing.assert_allclose(got, want, atol=1e-6 if exact else 2.5 * 10 / 255)
    hist = op_histogram(tflite)
    if mode in ("float", "float16"):
        assert hist.get("tfl.quantize", 0) >= 3
    else:  # int8 end to end: the input's quantize, the output's dequantize
        assert hist.get("tfl.quantize") == 1 and hist.get("tfl.dequantize") == 1, hist


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("lo,hi", [(-3.1, 5.3), (-1.0, 1.0)])
def test_quantize_and_dequantize_v4_half_up(lo, hi, signed):
    x = _inputs(lo, hi)

    def fn(a):
        return tf.raw_ops.QuantizeAndDequantizeV4(
            input=a, input_min=tf.constant(lo), input_max=tf.constant(hi), signed_input=signed,
            range_given=True, round_mode="HALF_UP",
        )  # fmt: skip

    _check(fn, x)
