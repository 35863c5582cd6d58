"""Property tests of the quantization kernels (tflconv/passes/quantize/kernels.py).

Chunked code paths are exercised with a tiny `CHUNK`, so chunk boundaries fall inside every
array hypothesis draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tflconv.passes.quantize import kernels as K

FINITE = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)
SETTINGS = settings(max_examples=60, deadline=None)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(K, "CHUNK", 7)
    monkeypatch.setattr(K, "FUSED_CHUNK", 7)


def arrays(min_dims=1, max_dims=5, max_side=6):
    return hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side),
        elements=FINITE,
    )


@st.composite
def array_and_axis(draw, min_dims=1, max_dims=5):
    x = draw(arrays(min_dims, max_dims))
    axis = draw(st.integers(0, x.ndim - 1))
    return x, axis


# --- weights --------------------------------------------------------------------------------


@SETTINGS
@given(array_and_axis())
def test_per_channel_weights_roundtrip_within_half_step(case):
    w, axis = case
    q, scales = K.quantize_weights_symmetric(w, axis)
    assert q.dtype == np.int8 and q.shape == w.shape
    assert scales.shape == (w.shape[axis],)
    assert q.min() >= -127 and q.max() <= 127  # narrow range, no overflow
    back = K.dequantize(q, scales, 0, axis)
    shape = [1] * w.ndim
    shape[axis] = -1
    step = scales.reshape(shape).astype(np.float64)
    err = np.abs(back.astype(np.float64) - w)
    assert np.all(err <= step / 2 * (1 + 1e-5) + 1e-30)


@SETTINGS
@given(array_and_axis())
def test_per_channel_scales_are_channel_absmax_over_127(case):
    w, axis = case
    _, scales = K.quantize_weights_symmetric(w, axis)
    others = tuple(i for i in range(w.ndim) if i != axis)
    absmax = np.abs(w.astype(np.float64)).max(axis=others) if others else np.abs(w)
    expected = np.maximum(absmax, K.NEAR_ZERO / 2) / 127
    np.testing.assert_allclose(scales, expected.astype(np.float32), rtol=1e-7)


@SETTINGS
@given(array_and_axis())
def test_channel_minmax_matches_numpy_for_every_axis(case):
    w, axis = case
    lo, hi = K.channel_minmax(w, axis)
    others = tuple(i for i in range(w.ndim) if i != axis)
    np.testing.assert_array_equal(lo, w.min(axis=others) if others else w)
    np.testing.assert_array_equal(hi, w.max(axis=others) if others else w)


@SETTINGS
@given(arrays())
def test_per_tensor_weights(w):
    q, scales = K.quantize_weights_symmetric(w, None)
    assert scales.shape == (1,)
    assert np.all(np.abs(K.dequantize(q, scales, 0) - w) <= scales[0] / 2 * (1 + 1e-5) + 1e-30)


@pytest.mark.skipif(not K.USE_NUMBA, reason="numba not installed")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@SETTINGS
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=40),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False)
        | st.sampled_from([np.inf, -np.inf, np.nan]),
    ),
    st.data(),
    st.sampled_from(["i8", "i16"]),
)
def test_compiled_weight_kernels_are_bit_identical_to_numpy(w, data, dtype):
    # Both layouts (contiguous channel rows and interleaved channels), tiny and huge scales,
    # inf / NaN channels (quantized to 0 on every path).
    axis = data.draw(st.integers(0, w.ndim - 1) | st.none())
    use = K.USE_NUMBA
    try:
        K.USE_NUMBA = True
        q1, s1 = K.quantize_weights_symmetric(w, axis, dtype)
        K.USE_NUMBA = False
        q2, s2 = K.quantize_weights_symmetric(w, axis, dtype)
    finally:
        K.USE_NUMBA = use
    np.testing.assert_array_equal(q1, q2)
    np.testing.assert_array_equal(s1, s2)


def test_zero_weights_get_the_widened_range():
    q, scales = K.quantize_weights_symmetric(np.zeros((3, 4), np.float32), 0)
    assert np.all(q == 0)
    np.testing.assert_allclose(scales, 5e-7 / 127, rtol=1e-6)


# --- activations ----------------------------------------------------------------------------


@SETTINGS
@given(FINITE, FINITE, st.sampled_from(["i8", "ui8", "i16"]))
def test_affine_params_represent_zero_exactly_and_cover_the_range(a, b, dtype):
    lo, hi = min(a, b), max(a, b)
    scale, zp = K.affine_params(lo, hi, dtype)
    qmin, qmax = K.INT_RANGES[dtype]
    assert qmin <= int(zp) <= qmax
    assert scale > 0
    zero = K.quantize_affine(np.zeros(3, np.float32), float(scale), int(zp), dtype)
    assert np.all(K.dequantize(zero, scale, zp) == 0.0)  # zero is exactly representable
    xs = np.linspace(min(lo, 0.0), max(hi, 0.0), 11, dtype=np.float32)
    q = K.quantize_affine(xs, float(scale), int(zp), dtype)
    assert q.min() >= qmin and q.max() <= qmax
    err = np.abs(K.dequantize(q, scale, zp).astype(np.float64) - xs)
    # Within half a step, plus the zero-point nudge (at most half a step at the range ends).
    assert np.all(err <= float(scale) * (1 + 1e-4) + 1e-12)


@SETTINGS
@given(arrays(max_dims=3), st.floats(1e-3, 10), st.integers(-128, 127))
def test_quantize_affine_saturates(x, scale, zp):
    q = K.quantize_affine(x, scale, zp, "i8")
    ref = np.clip(np.rint(x.astype(np.float64) / np.float32(scale)) + zp, -128, 127)
    assert q.dtype == np.int8
    assert np.max(np.abs(q.astype(np.int64) - ref)) <= 1  # float32 vs float64 division ties


def test_affine_params_match_the_official_converter():
    # Values observed in TF 2.21 conversions (legacy float scale).
    s, z = K.affine_params(0.0, 1.7675940990447998)
    assert float(s) == pytest.approx(0.006931741256266832, rel=1e-6) and int(z) == -128
    s, z = K.affine_params(0.0, 0.1)
    assert float(s) == pytest.approx(0.0003921568568330258, rel=1e-7) and int(z) == -128
    s, z = K.symmetric_params(-0.999783992767334, 0.9999935626983643, "i16")
    assert float(s) == pytest.approx(3.051831299671903e-05, rel=1e-7) and int(z) == 0


def test_degenerate_range_is_widened():
    s, z = K.affine_params(0.0, 0.0)
    assert float(s) == pytest.approx(1e-6 / 255, rel=1e-5)
    assert -128 <= int(z) <= 127


# --- biases ---------------------------------------------------------------------------------


@SETTINGS
@given(
    hnp.arrays(np.float32, st.integers(1, 9), elements=FINITE),
    st.floats(1e-6, 1.0),
    st.sampled_from(["i32", "i64"]),
)
# Saturation at int64's limits: 2**63 as float64 would wrap around when cast back.
@example(np.array([9224.0], np.float32), 1e-6, "i64")
@example(np.array([-9224.0], np.float32), 1e-6, "i64")
def test_bias_scale_is_input_times_weight_scale_and_never_overflows(bias, s_in, dtype):
    ws = np.linspace(1e-9, 1e-2, bias.size).astype(np.float32)
    q, scales = K.quantize_bias(bias, s_in, ws, dtype)
    np.testing.assert_allclose(scales, np.float32(s_in) * ws, rtol=1e-6)
    info = np.iinfo(K.NUMPY_INT[dtype])
    assert q.dtype == K.NUMPY_INT[dtype]
    assert q.min() >= -info.max and q.max() <= info.max
    # (beyond ~2**40 steps float64 division cannot place values within half a step exactly)
    inside = np.abs(bias / scales.astype(np.float64)) < min(info.max / 2, 2.0**40)
    exact = np.float64(np.float32(s_in)) * ws.astype(np.float64)  # what kernels add q at
    back = q[inside].astype(np.float64) * exact[inside]
    assert np.all(np.abs(back - bias[inside]) <= exact[inside] / 2 * (1 + 1e-6))


# --- calibration min/max and float16 ------------------------------------------------------------


@SETTINGS
@given(hnp.arrays(np.float32, st.integers(1, 60), elements=st.floats(width=32)))
def test_minmax_skips_nans_and_gives_no_range_with_sentinels(x):
    lo, hi, had_nan = K.minmax(x)
    data = x[~np.isnan(x)]
    assert had_nan == bool(np.isnan(x).any())
    if data.size and np.abs(data).max() < K.SENTINEL_MAGNITUDE:
        assert lo == data.min() and hi == data.max()
    else:
        assert lo > hi  # nothing seen


def test_running_minmax_is_plain_min_max_over_samples():
    acc = K.RunningMinMax()
    for x in ([1.0, 2.0], [-3.0, 0.5], [np.nan, 4.0]):
        acc.update(np.array(x, np.float32))
    assert (acc.lo, acc.hi, acc.nan_samples) == (-3.0, 4.0, 1)


@SETTINGS
@given(hnp.arrays(np.float32, st.integers(1, 40), elements=st.floats(-1e6, 1e6, width=32)))
def test_float16_is_ieee_rounding_and_saturates(x):
    h = K.to_float16(x)
    assert h.dtype == np.float16 and np.isfinite(h).all()
    inside = np.abs(x) <= K.FLOAT16_MAX
    np.testing.assert_array_equal(h[inside], x[inside].astype(np.float16))
    assert np.all(np.abs(h[~inside]) == np.float16(K.FLOAT16_MAX))


def test_scalars_keep_their_rank():
    q = K.quantize_affine(np.float32(3.0), 3.0 / 255, -128)
    assert q.shape == () and int(q) == 127
    assert K.to_float16(np.float32(0.5)).shape == ()
    q, scales = K.quantize_weights_symmetric(np.array(-2.0, np.float32), None)
    assert q.shape == () and int(q) == -127 and scales.shape == (1,)
