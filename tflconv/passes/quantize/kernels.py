"""The hot numeric kernels of quantization: scales and zero points, weight and bias quantization,
float16 conversion, calibration min/max.

Plain NumPy, processed in cache-sized chunks, plus compiled numba loops for symmetric weight
quantization (the bulk of a model's bytes): NumPy needs five passes over each block there
(min, max, multiply, round, cast), which caps it at ~2-3x the naive expression on
cache-resident tensors; one fused loop per channel reaches the memory-bandwidth bound. The
numba functions are compiled on first use (~0.7 s for the conv layout, ~0.3 s for the depthwise
layout, then ~0.2 s per process to load from numba's on-disk cache) and are bit-identical to the
NumPy paths, which stay as the fallback when numba is missing (see docs/quantization.md).
NumPy's SIMD reductions (min/max at ~30 GB/s here) already reach the bound for calibration.
The NumPy rules:

- one pass over memory per logical step: a chunk (`CHUNK` elements, 1 MB of float32) is reduced
  or transformed by several NumPy calls while it sits in L2, never a whole-tensor temporary;
- per-channel scales are applied by broadcasting a small per-row or per-column vector, so the
  channel axis costs nothing wherever it is (the (A, C, B) view below);
- float -> int conversion is `rint` in place followed by one casting copy into the output.

Conventions follow the official converter (`quantization_utils.cc`, `fakeQuantAttrsToType`):
symmetric weights use the narrow range [-127, 127] and zero point 0; activations use the full
range with `legacy_float_scale` (scale computed in float32); ranges are widened to include 0 and
very small ranges to +-5e-7. Rounding is round-half-to-even (NumPy's `rint`); the official code
rounds half away from zero, which differs only for values exactly halfway between two steps.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from typing import Any

import numpy as np

CHUNK = 1 << 18
"""Elements per chunk: 1 MB of float32, half of this machine class's L2."""

FUSED_CHUNK = 1 << 19
"""Elements per block of the fused per-channel weight kernel: it makes ~12 NumPy calls per
block, so bigger blocks (2 MB, still L3-resident) amortise the call overhead better."""

NEAR_ZERO = 1e-6
"""Ranges narrower than this are widened to +-NEAR_ZERO/2 (`ExpandVerySmallRange`)."""

INT_RANGES: dict[str, tuple[int, int]] = {
    "i8": (-128, 127),
    "ui8": (0, 255),
    "i16": (-32768, 32767),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
}
NUMPY_INT = {
    "i8": np.int8,
    "ui8": np.uint8,
    "i16": np.int16,
    "i32": np.int32,
    "i64": np.int64,
}


# --- calibration: min/max ---------------------------------------------------------------------


SENTINEL_MAGNITUDE = 1e30
"""|values| from here on are sentinels (infinities, +-FLT_MAX), not data: see `minmax`."""


def minmax(x: np.ndarray) -> tuple[float, float, bool]:
    """(min, max, had_nan) of `x`, NaNs skipped; (inf, -inf, had_nan) -- no range -- when every
    element is NaN or any is a sentinel (|x| >= SENTINEL_MAGNITUDE, infinities included).

    Large arrays are reduced chunk by chunk so `max` reads the data `min` just brought into
    cache (one pass over memory instead of two)."""
    flat = x.reshape(-1)
    n = flat.size
    if n == 0:
        return math.inf, -math.inf, False
    if n <= 2 * CHUNK:
        lo, hi = flat.min(), flat.max()
    else:
        lo = hi = flat[0]
        for start in range(0, n, CHUNK):
            part = flat[start : start + CHUNK]
            lo = np.minimum(lo, part.min())  # NumPy's minimum propagates NaN, Python's min not
            hi = np.maximum(hi, part.max())
    had_nan = False
    if flat.dtype.kind == "f" and np.isnan(lo) | np.isnan(hi):
        # Rare: redo with the NaN-skipping reductions (the slow path only runs when needed).
        had_nan = True
        if np.isnan(flat).all():
            return math.inf, -math.inf, True
        lo, hi = np.nanmin(flat), np.nanmax(flat)
    if flat.dtype.kind == "f" and max(-lo, hi) >= SENTINEL_MAGNITUDE:
        # An infinity or a float32 extreme is a sentinel (a -inf pad before a max pool, a
        # masked logit: LiteRT's float kernels clamp -inf to -FLT_MAX): in the range it makes
        # the scale useless, and a finite range would turn it into an ordinary number. The
        # sample gives no range; a tensor without one stays float, unless a same-scale consumer
        # (the max pool) lends it its range, where saturating the sentinel is exact.
        return math.inf, -math.inf, had_nan
    return float(lo), float(hi), had_nan


class RunningMinMax:
    """Plain running min/max over samples, like the official calibration logger (no moving
    average); NaNs are skipped and counted."""

    __slots__ = ("lo", "hi", "nan_samples")

    def __init__(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf
        self.nan_samples = 0

    def update(self, x: np.ndarray) -> None:
        lo, hi, had_nan = minmax(x)
        self.lo = min(self.lo, lo)
        self.hi = max(self.hi, hi)
        self.nan_samples += had_nan

    @property
    def seen(self) -> bool:
        return self.lo <= self.hi


# --- scales and zero points --------------------------------------------------------------------


def widen_small_range(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`ExpandVerySmallRange`: ranges narrower than 1e-6 become at least [-5e-7, 5e-7]."""
    small = (hi - lo) <= NEAR_ZERO
    half = NEAR_ZERO / 2
    return np.where(small, np.minimum(lo, -half), lo), np.where(small, np.maximum(hi, half), hi)


def affine_params(
    lo: float | np.ndarray,
    hi: float | np.ndarray,
    dtype: str = "i8",
    *,
    narrow_range: bool = False,
    legacy_float_scale: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric (scale, zero_point) arrays for ranges [lo, hi] (scalars or per-channel arrays),
    as `fakeQuantAttrsToType`: the range is widened to include 0, the scale is
    (max - min) / (qmax - qmin) (in float32 with `legacy_float_scale`, as the Python PTQ path),
    the zero point is taken from whichever end has the smaller rounding error, then rounded and
    clamped. A range of width 0 gets scale 1 and zero point qmin."""
    qmin, qmax = INT_RANGES[dtype]
    if narrow_range:
        qmin += 1
    lo = np.minimum(np.asarray(lo, np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, np.float64), 0.0)
    lo, hi = widen_small_range(lo, hi)
    if legacy_float_scale:
        scale = (hi.astype(np.float32) - lo.astype(np.float32)).astype(np.float64) / (qmax - qmin)
    else:
        scale = (hi - lo) / (qmax - qmin)
    degenerate = np.abs(hi - lo) < np.finfo(np.float64).eps
    safe = np.where(degenerate, 1.0, scale)
    from_min = qmin - lo / safe
    from_max = qmax - hi / safe
    err_min = abs(qmin) + np.abs(lo / safe)
    err_max = abs(qmax) + np.abs(hi / safe)
    zp = np.where(err_min < err_max, from_min, from_max)
    zp = np.clip(_round_half_away(zp), qmin, qmax)
    zp = np.where(degenerate, qmin, zp)
    return np.where(degenerate, 1.0, scale).astype(np.float32), zp.astype(np.int64)


def symmetric_params(
    lo: float | np.ndarray, hi: float | np.ndarray, dtype: str = "i8"
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric narrow-range (scale, zero_point=0): scale = max(|lo|, |hi|) / qmax, as for int8
    weights ([-127, 127]) and int16 activations ([-32767, 32767])."""
    _, qmax = INT_RANGES[dtype]
    absmax = np.maximum(np.abs(np.asarray(lo, np.float64)), np.abs(np.asarray(hi, np.float64)))
    absmax = np.maximum(absmax, NEAR_ZERO / 2)  # ExpandVerySmallRange of [-m, m]
    scale = (absmax / qmax).astype(np.float32)
    return scale, np.zeros(scale.shape, np.int64)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.trunc(x + np.copysign(0.5, x))


# --- per-channel reductions ------------------------------------------------------------------


def _acb(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int]:
    """(A, C, B): the tensor seen as A blocks of C channels of B contiguous elements."""
    if axis is None:
        return 1, 1, int(np.prod(shape, dtype=np.int64))
    axis = axis % len(shape)
    a = int(np.prod(shape[:axis], dtype=np.int64))
    b = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return a, int(shape[axis]), b


_ROWS_MIN = 16
"""Below this many contiguous elements per channel run, reduce across rows (columns layout)."""


def channel_minmax(w: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (min, max) along `axis` (one channel when None), float64 arrays of length C.

    Channel runs of at least 16 contiguous elements (conv/FC axis 0) are reduced row by row
    (SIMD along the row); shorter runs (depthwise, channel last) are reduced across rows with
    vectorised element-wise min/max over whole rows, chunk by chunk."""
    w = np.asarray(w, order="C")
    a, c, b = _acb(w.shape, axis)
    if w.size == 0:
        return np.zeros(c), np.zeros(c)
    if b >= _ROWS_MIN or a == 1:
        rows = w.reshape(a * c, b)
        step = max(1, CHUNK // max(b, 1))
        lo = np.empty(a * c, w.dtype)
        hi = np.empty(a * c, w.dtype)
        for r in range(0, a * c, step):
            block = rows[r : r + step]
            np.min(block, axis=1, out=lo[r : r + step])
            np.max(block, axis=1, out=hi[r : r + step])
        lo2, hi2 = lo.reshape(a, c).min(axis=0), hi.reshape(a, c).max(axis=0)
    else:
        rows = w.reshape(a, c * b)
        step = max(1, CHUNK // (c * b))
        lo_acc = rows[0].copy()
        hi_acc = rows[0].copy()
        for r in range(0, a, step):
            block = rows[r : r + step]
            np.minimum(lo_acc, block.min(axis=0), out=lo_acc)
            np.maximum(hi_acc, block.max(axis=0), out=hi_acc)
        lo2 = lo_acc.reshape(c, b).min(axis=1)
        hi2 = hi_acc.reshape(c, b).max(axis=1)
    return lo2.astype(np.float64), hi2.astype(np.float64)


# --- quantizing arrays -----------------------------------------------------------------------


def _per_element_factor(a: int, c: int, b: int, values: np.ndarray) -> tuple[bool, np.ndarray]:
    """How to broadcast a per-channel vector over the (A, C, B) view: (rows layout?, vector)."""
    if b >= _ROWS_MIN or a == 1:
        return True, np.tile(values, a).reshape(a * c, 1)  # one value per row of B
    return False, np.repeat(values, b).reshape(1, c * b)  # one value per column


def quantize_scaled(
    x: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray,
    axis: int | None,
    dtype: str,
    qmin: int | None = None,
    qmax: int | None = None,
) -> np.ndarray:
    """clip(rint(x / scale) + zero_point, qmin, qmax) as `dtype`, per channel along `axis`.

    One pass: each chunk is multiplied by 1/scale into a reusable float buffer, rounded in place,
    shifted and clipped (skipped when the scale came from this very data and no clipping can
    happen: pass qmin=qmax=None), then cast into the output."""
    x = np.asarray(x, dtype=np.float32, order="C")
    out = np.empty(x.shape, NUMPY_INT[dtype])
    if x.size == 0:
        return out
    lo_hi = INT_RANGES[dtype]
    clip = qmin is not None or qmax is not None
    qmin = lo_hi[0] if qmin is None else qmin
    qmax = lo_hi[1] if qmax is None else qmax
    scale = np.asarray(scale, np.float64).reshape(-1)
    zp = np.asarray(zero_point, np.float64).reshape(-1)
    inv = (1.0 / scale).astype(np.float32)
    shift = bool(np.any(zp))
    wide = dtype in ("i32", "i64")  # float32 cannot hold every int32: round in float64
    work = np.float64 if wide else np.float32
    a, c, b = _acb(x.shape, axis if len(scale) > 1 else None)
    if len(scale) == 1:
        rows_layout, factor = True, inv.astype(work)
        zcol = zp.astype(work)
        view_in, view_out = x.reshape(1, -1), out.reshape(1, -1)
        step_rows, flat = 1, True
    else:
        rows_layout, factor = _per_element_factor(a, c, b, inv.astype(work))
        _, zcol = _per_element_factor(a, c, b, zp.astype(work))
        if rows_layout:
            view_in, view_out = x.reshape(a * c, b), out.reshape(a * c, b)
            step_rows = max(1, CHUNK // max(b, 1))
        else:
            view_in, view_out = x.reshape(a, c * b), out.reshape(a, c * b)
            step_rows = max(1, CHUNK // (c * b))
        flat = False
    if flat:
        src, dst = x.reshape(-1), out.reshape(-1)
        buf = np.empty(min(CHUNK, src.size), work)
        for s in range(0, src.size, CHUNK):
            n = min(CHUNK, src.size - s)
            t = buf[:n]
            np.multiply(src[s : s + n], factor, out=t)
            np.rint(t, out=t)
            if shift:
                t += zcol
            if clip:
                np.clip(t, qmin, qmax, out=t)
            dst[s : s + n] = t
        return out
    width = view_in.shape[1]
    buf = np.empty((step_rows, width), work)
    for r in range(0, view_in.shape[0], step_rows):
        block = view_in[r : r + step_rows]
        t = buf[: block.shape[0]]
        f = factor[r : r + step_rows] if rows_layout else factor
        np.multiply(block, f, out=t)
        np.rint(t, out=t)
        if shift:
            t += zcol[r : r + step_rows] if rows_layout else zcol
        if clip:
            np.clip(t, qmin, qmax, out=t)
        view_out[r : r + step_rows] = t
    return out


def quantize_weights_symmetric(
    w: np.ndarray, axis: int | None, dtype: str = "i8"
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric narrow-range weights: (q, scales) with scale_c = max|w_c| / qmax, zero point 0,
    q in [-qmax, qmax]. Per channel along `axis`, per tensor when None.

    When each channel is one contiguous slab (conv OHWI / FC [out, in] on axis 0), a block of
    channels is reduced and quantized while it is in cache: one pass over memory. Otherwise
    (depthwise, channel last) the ranges need every row first: a reduction pass, then a
    quantization pass. No clipping pass is needed: |w / scale_c| <= qmax by construction (a
    reciprocal's rounding can only reach qmax + tiny, which `rint` brings back to qmax)."""
    w = np.asarray(w, dtype=np.float32, order="C")
    a, c, b = _acb(w.shape, axis if w.ndim else None)
    if USE_NUMBA and w.size and dtype in ("i8", "i16"):
        compiled = _weights_numba(w, a, c, b, dtype)
        if compiled is not None:  # None: numba failed to import, the NumPy path below runs
            return compiled
    if a == 1 and b >= _ROWS_MIN and w.size and axis is not None and w.ndim:
        return _fused_rows(w.reshape(c, b), dtype, w.shape)
    lo, hi = channel_minmax(w, axis)
    scales, _ = symmetric_params(lo, hi, dtype)
    q = quantize_scaled(w, scales, np.zeros(len(scales)), axis, dtype)
    _zero_nonfinite(q, scales, a, c, b)
    return q, scales


def _zero_nonfinite(q: np.ndarray, scales: np.ndarray, a: int, c: int, b: int) -> None:
    """Channels with an inf or NaN weight have a non-finite scale; their values (x / inf or NaN,
    cast to int: platform-defined) are written as 0 so every path gives the same result."""
    bad = ~np.isfinite(scales)
    if bad.any():
        q.reshape(a, c, b)[:, bad, :] = 0


def _weights_numba(
    w: np.ndarray, a: int, c: int, b: int, dtype: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """`quantize_weights_symmetric` with the compiled kernels; same float32 arithmetic.
    None when numba cannot be imported."""
    rows_nb, col_absmax_nb, scale_cols_nb = (
        _jit(_rows_nb),
        _jit(_col_absmax_nb),
        _jit(_scale_cols_nb),
    )
    if rows_nb is None or col_absmax_nb is None or scale_cols_nb is None:
        return None
    out = np.empty(w.shape, NUMPY_INT[dtype])
    qmax = np.float32(INT_RANGES[dtype][1])
    bits = w.view(np.uint32)
    if a == 1 and b >= _ROWS_MIN:  # each channel one contiguous row: one pass, row in L1
        scales = np.empty(c, np.float32)
        floor = np.float32(NEAR_ZERO / 2)
        rows_nb(bits.reshape(c, b), out.reshape(c, b), scales, qmax, floor)
        return out, scales
    # Channel runs interleaved (depthwise, channel last): column-wise absmax, then one
    # quantization pass; scales as `symmetric_params` (float64 floor, as the NumPy path).
    col = col_absmax_nb(bits.reshape(a, c * b)).reshape(c, b).max(axis=1)
    absmax = col.view(np.float32).astype(np.float64)
    scales, _ = symmetric_params(absmax, absmax, dtype)
    inv = (1.0 / scales.astype(np.float64)).astype(np.float32)
    with np.errstate(invalid="ignore"):
        scale_cols_nb(w.reshape(a, c * b), np.repeat(inv, b), out.reshape(a, c * b))
    _zero_nonfinite(out, scales, a, c, b)
    return out, scales


_MAGIC = np.float32(1.5 * 2**23)
"""x + 1.5 * 2**23 rounds x (|x| < 2**22) to an integer in float32 arithmetic (half to even);
the low bits of the sum's bit pattern are then that integer, and an int32 -> int8 cast keeps
exactly its low byte: rounding and narrowing in two cheap passes instead of rint + cast."""
_MAGIC_BITS = np.int32(0x4B400000)


def _fused_rows(
    rows: np.ndarray, dtype: str, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row symmetric quantization, each block of rows reduced and quantized in cache."""
    c, b = rows.shape
    out = np.empty((c, b), NUMPY_INT[dtype])
    scales = np.empty(c, np.float32)
    step = max(1, FUSED_CHUNK // b)
    m = min(step, c)
    buf = np.empty((m, b), np.float32)
    lo, hi, inv = (np.empty(m, np.float32) for _ in range(3))
    _, qmax = INT_RANGES[dtype]
    narrow = dtype == "i8"  # int16 results need the full int32 pattern, not its low byte
    for r in range(0, c, step):
        block = rows[r : r + step]
        n = block.shape[0]
        low, high = lo[:n], hi[:n]
        np.min(block, axis=1, out=low)
        np.max(block, axis=1, out=high)
        np.negative(low, out=low)
        np.maximum(high, low, out=high)  # per-row max |w|
        np.maximum(high, np.float32(NEAR_ZERO / 2), out=high)  # ExpandVerySmallRange
        np.divide(high, np.float32(qmax), out=scales[r : r + n])
        np.divide(np.float32(1), scales[r : r + n], out=inv[:n])
        t = buf[:n]
        np.multiply(block, inv[:n].reshape(n, 1), out=t)
        if narrow:
            t += _MAGIC
            out[r : r + n] = t.view(np.int32)  # low byte of 0x4B400000 + q == q
        else:
            np.rint(t, out=t)
            out[r : r + n] = t
    _zero_nonfinite(out, scales, 1, c, b)
    return out.reshape(shape), scales


def quantize_affine(x: np.ndarray, scale: float, zero_point: int, dtype: str = "i8") -> np.ndarray:
    """Per-tensor affine quantization with clipping (non-weight constants, test inputs)."""
    return quantize_scaled(
        x, np.array([scale]), np.array([zero_point]), None, dtype, *INT_RANGES[dtype]
    )


def quantize_bias(
    bias: np.ndarray, input_scale: float, weight_scales: np.ndarray, dtype: str = "i32"
) -> tuple[np.ndarray, np.ndarray]:
    """Bias as int32 (int64 for 16x8): scale_c = input_scale * weight_scale_c, zero point 0,
    values rounded in float64 and saturated to the type's range. Returns (q, scales).

    The file stores the float32 products as scales; values are quantized with the exact double
    products, which is what the kernels add them at (as the official converter). Chunked through
    one float64 buffer (fresh whole-tensor temporaries cost page faults here)."""
    ws = np.asarray(weight_scales, np.float32).reshape(-1)
    scales = np.multiply(ws, np.float32(input_scale), dtype=np.float32)
    # Kernels rescale the accumulator by input_scale * weight_scale computed in double from
    # the stored float32 scales, so that exact product is what a bias step is worth.
    exact = np.float64(np.float32(input_scale)) * ws.astype(np.float64)
    b = np.asarray(bias, np.float32).reshape(-1)
    out = np.empty(b.size, NUMPY_INT[dtype])
    lo, hi = INT_RANGES[dtype]
    if dtype in ("i32", "i64"):
        lo = -hi  # symmetric storage range, as the official bias types
    per_channel = len(scales) == b.size and b.size > 1
    hi_f, lo_f = _float_bound(hi), _float_bound(lo)
    safe = np.where(exact == 0, 1.0, exact) if exact.min() <= 0 else exact
    m = min(CHUNK, max(b.size, 1))
    buf, div = np.empty(m, np.float64), np.empty(m, np.float64)
    for start in range(0, b.size, CHUNK):
        n = min(CHUNK, b.size - start)
        t = buf[:n]
        t[...] = b[start : start + n]  # plain casting copies: buffered mixed-type ufuncs are slow
        if per_channel:
            d = div[:n]
            d[...] = safe[start : start + n]
            t /= d
        else:
            t /= safe[0]
        np.rint(t, out=t)
        np.minimum(t, hi_f, out=t)  # float bounds: int ones make a slow loop
        np.maximum(t, lo_f, out=t)
        out[start : start + n] = t
    return out.reshape(np.shape(bias)), scales


def _float_bound(bound: int) -> np.float64:
    """The float64 nearest to `bound` on its side of zero: int64's limits round away from zero
    in float64 (2**63), which would wrap around when cast back."""
    f = np.float64(bound)
    if abs(int(f)) > abs(bound):
        f = np.nextafter(f, np.float64(0))
    return f


def dequantize(
    q: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int, axis: int | None = None
) -> np.ndarray:
    """(q - zero_point) * scale as float32, per channel along `axis` when scale is a vector."""
    scale = np.asarray(scale, np.float32).reshape(-1)
    zp = np.asarray(zero_point, np.float32).reshape(-1)
    if len(zp) == 1 and len(scale) > 1:
        zp = np.repeat(zp, len(scale))
    if len(scale) == 1 or axis is None:
        return ((q.astype(np.float32) - zp[0]) * scale[0]).astype(np.float32)
    shape = [1] * q.ndim
    shape[axis] = len(scale)
    return ((q.astype(np.float32) - zp.reshape(shape)) * scale.reshape(shape)).astype(np.float32)


# --- float16 ---------------------------------------------------------------------------------

FLOAT16_MAX = 65504.0


def to_float16(x: np.ndarray) -> np.ndarray:
    """float32 -> float16, bit-exact with IEEE round-to-nearest-even (`astype`), values beyond
    +-65504 saturating instead of becoming inf (an inf weight breaks a model).

    NumPy's float16 cast is a scalar loop (~1.5 GB/s here); this builds the half-precision bit
    patterns with vectorised integer arithmetic on cache-sized chunks instead (F. Giesen's
    `float_to_half_fast3`): normal values round by adding 0xfff plus the lowest kept mantissa
    bit before shifting, subnormal ones through a float addition of a magic constant."""
    x = np.asarray(x, dtype=np.float32, order="C")
    src = x.reshape(-1)
    if src.size == 0:
        return np.empty(x.shape, np.float16)
    lo, hi, had_nan = minmax(src)
    if had_nan:  # rare: the exact slow path keeps NaN payloads as the cast does
        return np.clip(x, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
    saturate = max(abs(lo), abs(hi)) > FLOAT16_MAX
    out = np.empty(src.size, np.uint16)
    m = min(CHUNK, src.size)
    mag, sign, res = (np.empty(m, np.uint32) for _ in range(3))
    fbuf = np.empty(m, np.float32)
    for start in range(0, src.size, CHUNK):
        n = min(CHUNK, src.size - start)
        part = src[start : start + n]
        if saturate:
            np.clip(part, -FLOAT16_MAX, FLOAT16_MAX, out=fbuf[:n])
            part = fbuf[:n]
        a, sg, r, f = mag[:n], sign[:n], res[:n], fbuf[:n]
        u = part.view(np.uint32)
        np.bitwise_and(u, _SIGN_BIT, out=sg)
        np.bitwise_xor(u, sg, out=a)  # |x| bits
        np.right_shift(a, 13, out=r)
        np.bitwise_and(r, 1, out=r)  # the lowest mantissa bit kept: ties go to even
        r += a
        r += _REBIAS  # exponent 127 -> 15 bias, plus 0xfff: rounds when shifted
        np.right_shift(r, 13, out=r)
        np.add(a.view(np.float32), _DENORM_MAGIC_F, out=f)  # |x| < 2**-14: subnormal half
        sub = f.view(np.uint32)
        sub -= _DENORM_MAGIC
        np.copyto(r, sub, where=a < _HALF_NORMAL_MIN)
        np.right_shift(sg, 16, out=sg)
        r |= sg
        out[start : start + n] = r
    return out.view(np.float16).reshape(x.shape)


_SIGN_BIT = np.uint32(0x80000000)
_REBIAS = np.uint32((((15 - 127) << 23) + 0xFFF) & 0xFFFFFFFF)
_DENORM_MAGIC = np.uint32(((127 - 15) + (23 - 10) + 1) << 23)
_DENORM_MAGIC_F = _DENORM_MAGIC.view(np.float32)
_HALF_NORMAL_MIN = np.uint32(113 << 23)


# --- compiled single-pass weight kernels (numba) -------------------------------------------------
# NumPy needs >= 5 passes over a block for per-channel weights (min, max, multiply, round, cast):
# ~4x slower than one fused loop even when every pass hits L2, so it cannot reach 4x the naive
# expression on cache-resident (1M-4M element) tensors. These loops do the same float32
# arithmetic as `_fused_rows` / `quantize_scaled` (bit-identical results; tests compare them),
# one row at a time while it sits in L1. Integer max of the |w| bit patterns is the absmax (IEEE
# order = integer order for non-negative floats) and vectorises without fast-math; NaN patterns
# sort above inf, so a non-finite channel is detected from the same reduction.

# numba (with llvmlite) takes ~0.15 s to import, so it is imported when the first int8 / int16
# weight tensor is quantized, not with this module: `import tflconv` and every pass stay free of it.
USE_NUMBA = importlib.util.find_spec("numba") is not None
"""Use the compiled kernels (tests switch this off to check the NumPy paths). Cleared on first
use if numba is installed but fails to import: the NumPy paths above are complete."""

_JITTED: dict[str, Any] = {}


def _jit(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """`fn` compiled by numba (built once; numba's on-disk cache keeps the machine code across
    processes), or None when numba cannot be imported."""
    global USE_NUMBA
    compiled = _JITTED.get(fn.__name__)
    if compiled is None:
        try:
            import numba  # heavy: see USE_NUMBA
        except ImportError:
            USE_NUMBA = False
            return None
        compiled = _JITTED[fn.__name__] = numba.njit(cache=True, nogil=True)(fn)
    return compiled


_ABS_MASK = 0x7FFFFFFF
_INF_BITS = 0x7F800000


def _rows_nb(bits, out, scales, qmax, floor):  # pragma: no cover - compiled
    c, b = bits.shape
    one = np.float32(1.0)
    for r in range(c):
        m = np.uint32(0)
        for j in range(b):
            v = bits[r, j] & np.uint32(_ABS_MASK)
            m = v if v > m else m
        if m >= np.uint32(_INF_BITS):  # inf or NaN channel: zeros, as the NumPy path
            scales[r] = np.float32(np.inf) if m == np.uint32(_INF_BITS) else np.float32(np.nan)
            for j in range(b):
                out[r, j] = 0
            continue
        tmp = np.empty(1, np.uint32)
        tmp[0] = m
        absmax = max(tmp.view(np.float32)[0], floor)
        s = absmax / qmax
        scales[r] = s
        inv = one / s
        x = bits[r].view(np.float32)
        for j in range(b):
            out[r, j] = np.int32(np.rint(x[j] * inv))


def _col_absmax_nb(bits):  # pragma: no cover - compiled
    a, n = bits.shape
    acc = np.zeros(n, np.uint32)
    for r in range(a):
        for j in range(n):
            v = bits[r, j] & np.uint32(_ABS_MASK)
            acc[j] = v if v > acc[j] else acc[j]
    return acc


def _scale_cols_nb(x, inv, out):  # pragma: no cover - compiled
    a, n = x.shape
    for r in range(a):
        for j in range(n):
            out[r, j] = np.int32(np.rint(x[r, j] * inv[j]))


# --- low-bit and blockwise weights (weight-only / dynamic-range recipes) ----------------------

NARROW_QMAX = {"i8": 127, "i4": 7}
"""Symmetric narrow range of weights: [-qmax, qmax], zero point 0."""


def quantize_weights_narrow(
    w: np.ndarray, axis: int | None, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric narrow-range int8 / int4 weights: (q as int8 values, float32 scales), scale_c =
    max|w_c| / qmax per channel along `axis` (per tensor when None). int8 is
    `quantize_weights_symmetric`; int4 values are in [-7, 7] (the writer packs them)."""
    if dtype == "i8":
        return quantize_weights_symmetric(w, axis, "i8")
    qmax = NARROW_QMAX[dtype]
    w = np.asarray(w, dtype=np.float32, order="C")
    lo, hi = channel_minmax(w, axis)
    absmax = np.maximum(np.maximum(np.abs(lo), np.abs(hi)), NEAR_ZERO / 2)
    scales = (absmax / qmax).astype(np.float32)
    a, c, b = _acb(w.shape, axis if w.ndim else None)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.rint(w.reshape(a, c, b) / scales.reshape(1, c, 1))
    q = np.nan_to_num(q, nan=0.0, posinf=0.0, neginf=0.0)
    q = np.clip(q, -qmax, qmax).astype(np.int8).reshape(w.shape)
    _zero_nonfinite(q, scales, a, c, b)
    return q, scales


def quantize_blockwise(
    w: np.ndarray, block_size: int, dtype: str = "i4"
) -> tuple[np.ndarray, np.ndarray]:
    """Blockwise symmetric weights of a 2-D [out, in] matrix: one float16 scale per
    `block_size` consecutive input elements of each row (`scales` [out, in / block_size]),
    scale = max|w_block| / qmax rounded to float16 first, so q * scale is what the kernel
    computes."""
    qmax = NARROW_QMAX[dtype]
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    blocks = w.reshape(rows, cols // block_size, block_size)
    absmax = np.abs(blocks).max(axis=2)
    scales = np.maximum(absmax / qmax, np.float32(2.0**-24)).astype(np.float16)
    with np.errstate(invalid="ignore"):
        q = np.rint(blocks / scales.astype(np.float32)[:, :, None])
    q = np.nan_to_num(q, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(q, -qmax, qmax).astype(np.int8).reshape(rows, cols), scales


def dequantize_blockwise(q: np.ndarray, scales: np.ndarray, block_size: int) -> np.ndarray:
    """float32 values of blockwise weights (the float model a blockwise model approximates)."""
    rows, cols = q.shape
    blocks = q.reshape(rows, cols // block_size, block_size).astype(np.float32)
    return (blocks * scales.astype(np.float32)[:, :, None]).reshape(rows, cols)
