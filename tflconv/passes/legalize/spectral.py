"""Legalization patterns: spectral family (real FFTs).

The one FFT builtin is RFFT2D: a real 2-D FFT over the two innermost dims of an f32 tensor,
producing complex64. Like the official converter (prepare_tf.cc `ConvertRfftToRfft2d` +
legalize_patterns.td `LegalizeRfft2d`), `tf.RFFT` becomes RFFT2D on the input with a unit dim
inserted before the last one and `fft_length` [1, n], then that dim removed again. The complex
results are read with REAL / IMAG / COMPLEX_ABS (the math family's unary table).

The RFFT2D kernel (tflite/kernels/rfft2d.cc) only computes power-of-two lengths (it checks them
when the model is prepared), so `fft_length` must be a constant whose entries are powers of two:
otherwise the op stays a tf op and the gate says why (the official converter emits the builtin
anyway and the model fails at `allocate_tensors`).
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import create_tfl, int_list
from .tensor_util import i32_const, reshape


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def fft_length_reason(op: Operation, rank: int) -> tuple[list[int] | None, str | None]:
    """The constant fft_length of an RFFT/RFFT2D op, or why the RFFT2D kernel cannot take it."""
    x, fft_length = op.operands
    if x.type.dtype != "f32" or x.type.is_quantized:
        return None, f"tfl.rfft2d runs on f32 input only, not {x.type.dtype}"
    lengths = int_list(fft_length)
    if lengths is None:
        return None, "fft_length is not a constant (the RFFT2D kernel needs known lengths)"
    if len(lengths) != rank:
        return None, f"fft_length has {len(lengths)} entries, expected {rank}"
    bad = [n for n in lengths if not _power_of_two(n)]
    if bad:
        return None, (
            f"fft_length {lengths} has entries that are not powers of two ({bad}); the RFFT2D "
            "kernel computes power-of-two lengths only"
        )
    if lengths[-1] < 2:
        return None, "an fft_length of 1 in the last dim is not computed by the RFFT2D kernel"
    return lengths, None


class LegalizeRfft2d(RewritePattern):
    """tf.RFFT2D(x: f32, fft_length) -> tfl.rfft2d(x, fft_length: i32) (constant powers of two)"""

    root = "tf.RFFT2D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.rank is not None and x.type.rank < 2:
            return rw.fail("tfl.rfft2d needs an input of rank >= 2")
        lengths, reason = fft_length_reason(op, 2)
        if reason:
            return rw.fail(reason)
        if op.result.type.dtype != "complex64":
            return rw.fail(f"tfl.rfft2d produces complex64, not {op.result.type.dtype}")
        rw.replace_with_new(op, "tfl.rfft2d", [x, i32_const(rw, lengths)])
        return None


def _insert_unit_dim(shape: tuple[int | None, ...], at: int) -> tuple[int | None, ...]:
    """`shape` with a 1 inserted before position `at` (counted from the end, like -2)."""
    pos = len(shape) + 1 + at
    return shape[:pos] + (1,) + shape[pos:]


def _expand(rw: PatternRewriter, x: Value, out_type: TensorType) -> Value:
    """x with a unit dim before its last one: a reshape when at most one dim is dynamic (the
    official converter's ExpandDims -> Reshape), else tfl.expand_dims(x, -2)."""
    out = reshape(rw, x, out_type)
    if out is not None:
        return out
    return create_tfl(rw, "expand_dims", [x, i32_const(rw, -2)], [out_type]).result


def _squeeze(rw: PatternRewriter, x: Value, out_type: TensorType) -> Value:
    """x without its unit dim before the last one (a reshape, or tfl.squeeze when dynamic)."""
    out = reshape(rw, x, out_type)
    if out is not None:
        return out
    return create_tfl(rw, "squeeze", [x], [out_type], squeeze_dims=[-2]).result


class LegalizeRfft(RewritePattern):
    """tf.RFFT(x, [n]) -> reshape(tfl.rfft2d(reshape(x, [..., 1, w]), [1, n]), [..., n/2+1])
    (ConvertRfftToRfft2d: the unit dim goes in at -2 and comes out again)"""

    root = "tf.RFFT"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        out_t = op.result.type
        if x.type.shape is None or out_t.shape is None:
            return rw.fail("unranked input or result")
        if x.type.rank == 0:
            return rw.fail("RFFT needs an input of rank >= 1")
        lengths, reason = fft_length_reason(op, 1)
        if reason:
            return rw.fail(reason)
        if out_t.dtype != "complex64":
            return rw.fail(f"tfl.rfft2d produces complex64, not {out_t.dtype}")
        wide_in = x.type.with_shape(_insert_unit_dim(x.type.shape, -2))
        wide_out = out_t.with_shape(_insert_unit_dim(out_t.shape, -2))
        expanded = _expand(rw, x, wide_in)
        fft_len = i32_const(rw, np.asarray([1, lengths[0]], dtype=np.int32))  # type: ignore[index]
        fft = create_tfl(rw, "rfft2d", [expanded, fft_len], [wide_out]).result
        rw.replace(op, _squeeze(rw, fft, out_t))
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeRfft2d(),
    LegalizeRfft(),
]
