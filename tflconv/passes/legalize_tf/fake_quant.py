"""TF fake-quantization ops -> a tfl.quantize / tfl.dequantize pair (legalize_patterns.td:
LegalizeFakeQuantToDequantizeQuantize, LegalizeFakeQuantWithMinMaxVars,
LegalizeQuantizeAndDequantizeV4), with the quantization parameters TF's kernels use, so that a
float model computes what TF computes:

    FakeQuantWithMinMaxArgs(x){min, max, num_bits, narrow_range}
    FakeQuantWithMinMaxVars(x, min, max)             (constant min/max)
    FakeQuantWithMinMaxVarsPerChannel(x, min[c], max[c])  (constant, last axis)
        -> dequantize(quantize(x: ui8, scale, nudged zero point))
       TF's Nudge (fake_quant_ops_functor.h): scale = (max - min) / (qmax - qmin),
       zero point = round(qmin - min / scale) clamped to [qmin, qmax], qmin = narrow_range,
       qmax = 2^num_bits - 1; the range becomes [(qmin - zp) scale, (qmax - zp) scale].
    QuantizeAndDequantizeV4(x, min, max){signed_input, num_bits, range_given, narrow_range, axis}
        -> dequantize(quantize(x: i8 | ui8, scale, 0))
       TF's QuantizeAndDequantizeOneScaleImpl: zero point 0, the scale of the side of the range
       that needs the larger step (quantize_and_dequantize_op.h).

TFLite's QUANTIZE clamps to its storage type only ([0, 255] / [-128, 127]); a narrower TF range
(narrow_range, num_bits < 8) gets an explicit tfl.maximum / tfl.minimum first. Both sides round
to nearest; they differ only on exact halfway ties (TF: floor(v + 0.5) or half to even, TFLite:
half away from zero), as the official lowering does.

With optimizations (a quantization-aware-trained model), `quantize/fake_quant_ranges.py` folds
these pairs into int8: activation ranges on the types, weights as int8 constants with these
scales (docs/quantization.md, "Quantization-aware-trained models").

Not lowered (the op stays with the reason): non-constant ranges, num_bits > 8 (a 9..16-bit TF
range would need int16 storage with a zero point, which LiteRT's DEQUANTIZE rejects), QuantizeAndDequantizeV4 with range_given = false
(TF takes the range from the data at run time), a per-channel axis (the official ignores
it).
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import QuantParams, TensorType

from .common import const, constant_value, create_tfl

_F32 = np.float32


def _round_half_away(v: np.ndarray) -> np.ndarray:
    """std::round: halfway cases away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + _F32(0.5))


def nudge(
    lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TF's Nudge in float32: (scale, zero point, nudged min, nudged max), per element."""
    lo, hi = lo.astype(_F32), hi.astype(_F32)
    qmin_f, qmax_f = _F32(qmin), _F32(qmax)
    scale = ((hi - lo) / (qmax_f - qmin_f)).astype(_F32)
    from_min = (qmin_f - lo / scale).astype(_F32)
    zp = np.where(
        from_min < qmin_f, qmin, np.where(from_min > qmax_f, qmax, _round_half_away(from_min))
    ).astype(np.int64)
    nudged_lo = ((qmin_f - zp.astype(_F32)) * scale).astype(_F32)
    nudged_hi = ((qmax_f - zp.astype(_F32)) * scale).astype(_F32)
    return scale, zp, nudged_lo, nudged_hi


def _emit_qdq(
    rw: PatternRewriter,
    op: Operation,
    x: Value,
    storage: str,
    scale: np.ndarray,
    zp: np.ndarray,
    axis: int | None,
    clamp: tuple[np.ndarray | None, np.ndarray | None],
) -> None:
    """clamp (when TF's range is narrower than the storage type), quantize, dequantize."""
    out = op.result.type
    lo, hi = clamp
    if lo is not None:
        x = create_tfl(rw, "maximum", [x, const(rw, lo)], [x.type]).result
    if hi is not None:
        x = create_tfl(rw, "minimum", [x, const(rw, hi)], [x.type]).result
    qp = QuantParams(
        tuple(float(s) for s in scale.reshape(-1)),
        tuple(int(z) for z in zp.reshape(-1)),
        axis,
    )
    q = create_tfl(rw, "quantize", [x], [out.with_dtype(storage, qp)]).result
    rw.replace(op, create_tfl(rw, "dequantize", [q], [out]).result)


def _range(op: Operation, rw: PatternRewriter) -> tuple[np.ndarray, np.ndarray] | None:
    """The constant min/max (attributes for the Args form, operands 1 and 2 otherwise)."""
    if op.name == "tf.FakeQuantWithMinMaxArgs":
        lo, hi = op.attr("min", -6.0), op.attr("max", 6.0)
    else:
        lo, hi = constant_value(op.operands[1]), constant_value(op.operands[2])
        if lo is None or hi is None:
            rw.fail("min/max are not constant (a QUANTIZE type needs a fixed range)")
            return None
    lo, hi = np.asarray(lo, _F32).reshape(-1), np.asarray(hi, _F32).reshape(-1)
    if lo.shape != hi.shape or not np.all(np.isfinite(lo)) or not np.all(np.isfinite(hi)):
        rw.fail("min/max must be finite and of one shape")
        return None
    return lo, hi


def _float_input(op: Operation, rw: PatternRewriter) -> bool:
    t = op.operands[0].type
    if t.dtype != "f32" or t.is_quantized:
        rw.fail(f"QUANTIZE takes f32 (got {t.dtype})")
        return False
    return True


def _channel_axis(t: TensorType, axis: int, channels: int, rw: PatternRewriter) -> int | None:
    rank = t.rank
    if rank is None or not -rank <= axis < rank:
        rw.fail("per-channel fake quantization needs a ranked input and an axis inside it")
        return None
    axis %= rank
    if t.shape[axis] != channels:
        rw.fail(f"per-channel ranges: {channels} values for dimension {t.shape[axis]}")
        return None
    return axis


def _broadcast(values: np.ndarray, t: TensorType, axis: int | None) -> np.ndarray:
    """Per-channel clamp bounds shaped to broadcast along `axis` (a scalar otherwise)."""
    if axis is None:
        return values.reshape(())
    shape = [1] * (t.rank or 0)
    shape[axis] = values.size
    return values.reshape(shape)


class LegalizeFakeQuant(RewritePattern):
    """tf.FakeQuantWithMinMaxArgs/Vars/VarsPerChannel(x){num_bits, narrow_range} ->
    tfl.dequantize(tfl.quantize(x: ui8, TF's nudged scale and zero point))"""

    root = (
        "tf.FakeQuantWithMinMaxArgs",
        "tf.FakeQuantWithMinMaxVars",
        "tf.FakeQuantWithMinMaxVarsPerChannel",
    )

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_input(op, rw):
            return None
        num_bits = int(op.attr("num_bits", 8))
        if not 2 <= num_bits <= 8:
            # 9..16 bits would need i16 storage with a zero point, which DEQUANTIZE rejects
            return rw.fail(f"num_bits={num_bits}: QUANTIZE stores at most 8 bits in [0, 255]")
        narrow = bool(op.attr("narrow_range", False))
        bounds = _range(op, rw)
        if bounds is None:
            return None
        lo, hi = bounds
        x = op.operands[0]
        axis = None
        if op.name == "tf.FakeQuantWithMinMaxVarsPerChannel":
            axis = _channel_axis(x.type, -1, lo.size, rw)
            if axis is None:
                return None
        elif lo.size != 1:
            return rw.fail("per-tensor fake quantization needs scalar min/max")
        if np.any(lo >= hi):
            return rw.fail("min must be below max (TF rejects the range)")
        qmin, qmax = int(narrow), (1 << num_bits) - 1
        scale, zp, nudged_lo, nudged_hi = nudge(lo, hi, qmin, qmax)
        clamp = (
            _broadcast(nudged_lo, x.type, axis) if qmin > 0 else None,
            _broadcast(nudged_hi, x.type, axis) if qmax < 255 else None,
        )
        _emit_qdq(rw, op, x, "ui8", scale, zp, axis, clamp)
        return None


def _one_scale(
    lo: np.ndarray, hi: np.ndarray, qmin: int, qmax: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """QuantizeAndDequantizeOneScaleImpl: (step, clamp min, clamp max) per element, in f32."""
    big = np.finfo(_F32).max
    with np.errstate(divide="ignore", invalid="ignore"):
        from_min = np.where(qmin * lo > 0, _F32(qmin) / lo, big).astype(_F32)
        from_max = np.where(qmax * hi > 0, _F32(qmax) / hi, big).astype(_F32)
        min_side = from_min < from_max
        step = np.where(min_side, lo / _F32(qmin), hi / _F32(qmax)).astype(_F32)
    clamp_lo = np.where(min_side, lo, (_F32(qmin) * step).astype(_F32)).astype(_F32)
    clamp_hi = np.where(min_side, (_F32(qmax) * step).astype(_F32), hi).astype(_F32)
    return step, clamp_lo, clamp_hi


class LegalizeQuantizeAndDequantizeV4(RewritePattern):
    """tf.QuantizeAndDequantizeV4(x, min, max){signed_input, num_bits, range_given = true,
    narrow_range, axis = -1} -> tfl.dequantize(tfl.quantize(x: i8 | ui8, TF's step, zero point 0))"""

    root = "tf.QuantizeAndDequantizeV4"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_input(op, rw):
            return None
        if not op.attr("range_given", False):
            return rw.fail("range_given=false: TF takes the range from the data at run time")
        num_bits = int(op.attr("num_bits", 8))
        if not 2 <= num_bits <= 8:
            return rw.fail(f"num_bits={num_bits}: QUANTIZE stores at most 8 bits")
        bounds = _range(op, rw)
        if bounds is None:
            return None
        lo, hi = bounds
        x = op.operands[0]
        if int(op.attr("axis", -1)) != -1:
            # the official ignores axis (a per-tensor type from per-channel ranges)
            return rw.fail("per-channel QuantizeAndDequantizeV4 (axis != -1) is not lowered")
        if lo.size != 1:
            return rw.fail("per-tensor quantization needs scalar min/max")
        if np.any(lo > hi):
            return rw.fail("input_min must not exceed input_max (TF rejects the range)")
        signed = bool(op.attr("signed_input", True))
        narrow = bool(op.attr("narrow_range", False))
        if signed:
            qmin = -(1 << (num_bits - 1)) + int(narrow)
            qmax = (1 << (num_bits - 1)) - 1
            storage, low, high = "i8", -128, 127
        else:
            qmin, qmax = 0, (1 << num_bits) - 1
            storage, low, high = "ui8", 0, 255
        step, clamp_lo, clamp_hi = _one_scale(lo, hi, qmin, qmax)
        if not np.all(np.isfinite(step)) or np.any(step <= 0):
            return rw.fail("the range has no nonzero side to take a step from")
        clamp = (
            clamp_lo.reshape(()) if qmin > low else None,
            clamp_hi.reshape(()) if qmax < high else None,
        )
        zp = np.zeros(step.shape, np.int64)
        _emit_qdq(rw, op, x, storage, step, zp, None, clamp)
        return None


PATTERNS: list[RewritePattern] = [LegalizeFakeQuant(), LegalizeQuantizeAndDequantizeV4()]
