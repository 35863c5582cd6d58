"""Helpers shared by the StableHLO legalization families: attribute readers, shapes, the
look-through of explicit broadcasts, scalar constants."""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.arrays import reshaped
from tflconv.core.builders import broadcast_shapes
from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import TensorType

from ..legalize_tf.common import const, create_tfl

NONE_ACT = {"fused_activation_function": "NONE"}

Shape = tuple[int | None, ...]


def ints(op: Operation, key: str, default: list[int] | None = None) -> list[int]:
    """An int-list attribute (dense arrays of the spec), `default` (or []) when absent."""
    value = op.attributes.get(key)
    if value is None:
        return list(default or [])
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.reshape(-1)]
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    return [int(v) for v in value]


def pairs(op: Operation, key: str, rank: int) -> list[tuple[int, int]] | None:
    """A padding attribute as (lo, hi) pairs: a list of pairs, a flat list or an [n, 2] array;
    absent: zeros; None when malformed."""
    value = op.attributes.get(key)
    if value is None:
        return [(0, 0)] * rank
    arr = np.asarray(value, dtype=np.int64).reshape(-1)
    if arr.size != 2 * rank:
        return None
    return [(int(arr[2 * i]), int(arr[2 * i + 1])) for i in range(rank)]


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def i32(rw: PatternRewriter, values: Any) -> Value:
    return const(rw, np.asarray(values, dtype=np.int32))


def splat_value(value: Value) -> float | int | bool | None:
    """The single value of a constant whose elements are all equal, else None."""
    arr = constant_value(value)
    if arr is None or arr.size == 0:
        return None
    flat = np.asarray(arr).reshape(-1)
    first = flat[0]
    if arr.dtype.kind == "f":
        same = bool(np.all((flat == first) | (np.isnan(flat) & np.isnan(first))))
    else:
        same = bool(np.all(flat == first))
    return first.item() if same else None


def static(value: Value) -> tuple[int, ...] | None:
    t = value.type
    return t.shape if t.is_static else None  # type: ignore[return-value]


def broadcast_source(value: Value, out_shape: Shape) -> Value:
    """What the `tfl.broadcast_to`s (and reshapes adding leading size-1 dims) feeding an
    elementwise op broadcast, as far as TFL's own (numpy) broadcasting of that source still
    gives `out_shape`; else `value` itself. StableHLO spells every broadcast out
    (`broadcast_in_dim`); TFLite kernels broadcast implicitly."""
    best = value
    while True:
        op = value.defining_op
        if op is None or op.name not in ("tfl.broadcast_to", "tfl.reshape"):
            return best
        src = op.operands[0]
        if src.type.shape is None or value.type.shape is None:
            return best
        if op.name == "tfl.reshape" and not _adds_leading_ones(src.type.shape, value.type.shape):
            return best
        if broadcast_shapes(src.type.shape, out_shape) != tuple(out_shape):
            return best
        value = best = src


def _adds_leading_ones(src: Shape, out: Shape) -> bool:
    """Whether `out` is `src` with leading size-1 dims added or dropped."""
    a, b = list(src), list(out)
    while a and a[0] == 1:
        a.pop(0)
    while b and b[0] == 1:
        b.pop(0)
    return a == b and None not in a


def implicit_broadcast(
    rw: PatternRewriter, operands: list[Value], out: TensorType, max_rank: int | None
) -> list[Value]:
    """The operands with explicit broadcasts dropped where the kernel broadcasts by itself
    (rank <= max_rank; None: any rank; 0: no broadcasting at all). Constants lose their
    leading size-1 dims (a Flax bias [1, 1, 1, C] becomes [C], the shape `fuse` folds)."""
    if out.shape is None or max_rank == 0:
        return operands
    if max_rank is not None and len(out.shape) > max_rank:
        return operands
    candidate = [broadcast_source(v, out.shape) for v in operands]
    if _broadcast_all(candidate) != tuple(out.shape):
        return operands
    trimmed = [_trim_constant(rw, v) for v in candidate]
    return trimmed if _broadcast_all(trimmed) == tuple(out.shape) else candidate


def _broadcast_all(values: list[Value]) -> Shape | None:
    shape: Shape | None = values[0].type.shape
    for v in values[1:]:
        if shape is None or v.type.shape is None:
            return None
        shape = broadcast_shapes(shape, v.type.shape)
    return shape


def _trim_constant(rw: PatternRewriter, v: Value) -> Value:
    """A constant without the leading dims along which it only repeats itself (canonicalize
    folds small broadcasts into full constants: a bias broadcast to [1, H, W, C] becomes [C]
    again, a splat a scalar), so kernels broadcast it and `fuse` can fold it."""
    arr = constant_value(v)
    if arr is None or not v.type.shape:
        return v
    small = np.asarray(arr)
    while small.ndim and (small.shape[0] == 1 or bool(np.all(small == small[:1]))):
        small = small[0]
    if small.ndim == np.ndim(arr):
        return v
    return const(rw, np.array(small))  # (ascontiguousarray would make a 0-d array 1-d)


def reshape(rw: PatternRewriter, x: Value, shape: Shape) -> Value:
    """tfl.reshape(x, shape) (at most one unknown dim); constants reshape with numpy; x itself
    when the shape is already the same."""
    if x.type.shape == tuple(shape) and sum(d is None for d in shape) <= 1:
        return x
    inner = x.defining_op
    if inner is not None and inner.name == "tfl.reshape":  # a reshape of a reshape is one
        return reshape(rw, inner.operands[0], shape)
    dims = [-1 if d is None else int(d) for d in shape]
    arr = constant_value(x)
    if arr is not None:
        return const(rw, reshaped(arr, dims))
    out = x.type.with_shape(tuple(shape))
    return create_tfl(rw, "reshape", [x, i32(rw, dims)], [out]).result


def transpose(rw: PatternRewriter, x: Value, perm: list[int] | tuple[int, ...]) -> Value:
    """tfl.transpose(x, perm) (numpy for constants; x itself for the identity)."""
    perm = [int(p) for p in perm]
    if perm == list(range(len(perm))):
        return x
    arr = constant_value(x)
    if arr is not None:
        return const(rw, np.transpose(arr, perm))  # a view: the writer copies it once
    shape = x.type.shape
    out = x.type.with_shape(None if shape is None else tuple(shape[p] for p in perm))
    return create_tfl(rw, "transpose", [x, i32(rw, perm)], [out]).result


def reshapable(shape: Shape | None) -> bool:
    """Whether a reshape to `shape` can be written (at most one unknown dim)."""
    return shape is not None and sum(d is None for d in shape) <= 1


def product(dims: list[int | None]) -> int | None:
    n = 1
    for d in dims:
        if d is None:
            return None
        n *= d
    return n
