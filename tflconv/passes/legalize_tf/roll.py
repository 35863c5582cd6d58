"""Legalization patterns: `Roll` (tf.roll).

The official converter lowers it in TF (lower_tf.cc `LowerRollOp`) only for a fully static input
with constant shift and axis: per rolled axis, two SLICEs and a CONCATENATION. That form is kept
here (other dims may be dynamic: their slice size is -1). Where the official converter fails
(a rolled dim unknown, a runtime shift or a runtime axis), each rolled axis becomes one GATHER
with indices `floor_mod(range(n) - shift, n)`, which is what rolling means.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_kernels import KERNELS

from .common import const, create_tfl, int_list
from .tensor_util import as_i32, dim_size, i32_const, iota, np_int

# Element types of the SLICE + CONCATENATION and GATHER kernels (from the kernel table).
_CONCAT_TYPES = (KERNELS["tfl.concatenation"].operand_types(0) or frozenset()) & (
    KERNELS["tfl.slice"].operand_types(0) or frozenset()
)
_GATHER_TYPES = KERNELS["tfl.gather"].operand_types(0) or frozenset()


def _roll_by_slices(rw: PatternRewriter, x: Value, axis: int, shift: int) -> Value:
    """concat(x[..., n-s:, ...], x[..., :n-s, ...]) along `axis` (0 < s < n, n known)."""
    shape = list(x.type.shape)  # type: ignore[arg-type]
    rank, n = len(shape), shape[axis]
    assert n is not None

    def piece(begin: int, size: int) -> Value:
        b = [0] * rank
        b[axis] = begin
        s = [-1] * rank
        s[axis] = size
        out = x.type.with_shape(tuple(size if d == axis else shape[d] for d in range(rank)))
        return create_tfl(rw, "slice", [x, i32_const(rw, b), i32_const(rw, s)], [out]).result

    head, tail = piece(n - shift, shift), piece(0, n - shift)
    attrs = {"axis": axis, "fused_activation_function": "NONE"}
    return create_tfl(rw, "concatenation", [head, tail], [x.type], **attrs).result


def _roll_by_gather(rw: PatternRewriter, x: Value, axis: int, shift: Value) -> Value:
    """gather(x, floor_mod(range(n) - shift, n), axis) for a 0-D i32/i64 `shift`."""
    dtype = shift.type.dtype
    n = x.type.shape[axis]  # type: ignore[index]
    positions = iota(rw, x, axis, dtype)
    moved = create_tfl(
        rw, "sub", [positions, shift], [positions.type], fused_activation_function="NONE"
    ).result
    size = dim_size(rw, x, axis, dtype)
    index = create_tfl(rw, "floor_mod", [moved, size], [TensorType((n,), dtype)]).result
    return create_tfl(rw, "gather", [x, index], [x.type], axis=axis, batch_dims=0).result


def _element(rw: PatternRewriter, v: Value, k: int) -> Value:
    """Element k of a 0-D or 1-D value, as a 0-D value."""
    if v.type.rank == 0:
        return v
    out = TensorType((), v.type.dtype)
    return create_tfl(rw, "gather", [v, i32_const(rw, k)], [out], axis=0, batch_dims=0).result


def _add(rw: PatternRewriter, a: Value | None, b: Value) -> Value:
    if a is None:
        return b
    return create_tfl(rw, "add", [a, b], [b.type], fused_activation_function="NONE").result


def _runtime_shifts(rw: PatternRewriter, shift: Value, axis: Value, rank: int) -> list[Value]:
    """The total shift of every dim, for a runtime `axis`: sum(shift where axis mod rank == d)."""
    dtype = shift.type.dtype
    k_shape = shift.type.shape
    axis32 = as_i32(rw, axis)
    wrapped = create_tfl(rw, "floor_mod", [axis32, i32_const(rw, rank)], [axis32.type]).result
    zero = const(rw, np.asarray(0, dtype=np_int(dtype)))
    out: list[Value] = []
    for d in range(rank):
        hit_t = TensorType(k_shape, "i1")
        hit = create_tfl(rw, "equal", [wrapped, i32_const(rw, d)], [hit_t]).result
        part = create_tfl(rw, "select_v2", [hit, shift, zero], [shift.type]).result
        if shift.type.rank == 1:
            part = create_tfl(
                rw, "sum", [part, i32_const(rw, [0])], [TensorType((), dtype)], keep_dims=False
            ).result
        out.append(part)
    return out


class LegalizeRoll(RewritePattern):
    """tf.Roll(x, shift, axis) -> per rolled axis tfl.concatenation(tfl.slice(x, n-s, s),
    tfl.slice(x, 0, n-s)) for a constant shift and a known dim (the official LowerRollOp), else
    tfl.gather(x, floor_mod(range(n) - s, n), axis)"""

    root = "tf.Roll"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, shift, axis = op.operands
        rank = x.type.rank
        if rank is None:
            return rw.fail("Roll needs a ranked input")
        if shift.type.rank not in (0, 1) or shift.type.shape != axis.type.shape:
            return rw.fail("shift and axis must be 0-D or 1-D of one shape")
        dtype = x.type.dtype
        if dtype not in _CONCAT_TYPES | _GATHER_TYPES or x.type.is_quantized:
            return rw.fail(f"no SLICE/CONCATENATION or GATHER kernel copies {dtype}")
        shifts, axes = int_list(shift), int_list(axis)
        if axes is not None and any(not -rank <= a < rank for a in axes):
            return rw.fail(f"axis {axes} out of range for rank {rank}")
        if rank == 0:
            rw.replace(op, x)
            return None
        # Per dim: a constant total shift (when shift and axis are constants) or a runtime one.
        const_shifts: dict[int, int] = {}
        if axes is not None and shifts is not None:
            for a, s in zip(axes, shifts):
                const_shifts[a % rank] = const_shifts.get(a % rank, 0) + s
            shape = x.type.shape
            for d in list(const_shifts):
                n = shape[d]
                if n is not None:  # whole turns vanish
                    const_shifts[d] = const_shifts[d] % n if n else 0
                if const_shifts[d] == 0:
                    del const_shifts[d]
            by_gather = dtype not in _CONCAT_TYPES or any(shape[d] is None for d in const_shifts)
        else:
            by_gather = True
        if by_gather and dtype not in _GATHER_TYPES:
            return rw.fail(f"this roll needs GATHER, which does not copy {dtype}")
        per_dim: dict[int, int | Value]
        if axes is not None and shifts is not None:
            per_dim = dict(const_shifts)
        elif axes is not None:
            runtime: dict[int, Value] = {}
            for k, a in enumerate(axes):
                prev = runtime.get(a % rank)
                runtime[a % rank] = _add(rw, prev, _element(rw, shift, k))
            per_dim = dict(runtime)
        else:
            per_dim = dict(enumerate(_runtime_shifts(rw, shift, axis, rank)))
        out = x
        for d in sorted(per_dim):
            s = per_dim[d]
            if isinstance(s, int) and x.type.shape[d] is not None and dtype in _CONCAT_TYPES:
                out = _roll_by_slices(rw, out, d, s)
                continue
            if isinstance(s, int):
                s = const(rw, np.asarray(s, dtype=np.int32 if abs(s) < 2**31 else np.int64))
            out = _roll_by_gather(rw, out, d, s)
        rw.replace(op, out)
        return None


PATTERNS: list[RewritePattern] = [LegalizeRoll()]
