"""Shape helpers of `lower-tensor-lists`: element types and shapes of lists, run-time shape
vectors, and the broadcast that sizes a list with unknown element dims on its first write."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Module, Operation, Value
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import TensorType, TypeAttr
from tflconv.dialects.tfl_kernels import kernel_accepts

from .legalize_tf.common import const, constant_value, create_tfl
from .legalize_tf.control_flow import WHILE_OPS

I32 = "i32"
PASSTHROUGH_OPS = frozenset({"tf.Identity", "tf.Snapshot", "tf.StopGradient"})
"""Ops a list value passes through unchanged."""


def elem_type(op: Operation) -> str:
    dt = op.attr("element_dtype")
    return dt.dtype if isinstance(dt, TypeAttr) else str(dt)


def shape_of(rw: PatternRewriter, v: Value) -> Value:
    rank = v.type.rank
    return create_tfl(rw, "shape", [v], [TensorType((rank,), I32)], out_type="INT32").result


def as_i32(rw: PatternRewriter, v: Value) -> Value:
    if v.type.dtype == I32:
        return v
    t = v.type.with_dtype(I32)
    return create_tfl(rw, "cast", [v], [t]).result


def to_vec1(rw: PatternRewriter, scalar: Value) -> Value:
    """A scalar i32 value as a 1-element vector."""
    shape = const(rw, np.array([1], np.int32))
    return create_tfl(rw, "reshape", [as_i32(rw, scalar), shape], [TensorType((1,), I32)]).result


def concat(rw: PatternRewriter, values: list[Value], out: TensorType, axis: int = 0) -> Value:
    return create_tfl(
        rw, "concatenation", values, [out], axis=axis, fused_activation_function="NONE"
    ).result


def expand0(rw: PatternRewriter, item: Value, leading: int | None = 1) -> Value:
    """item[None]."""
    shape = None if item.type.shape is None else (leading, *item.type.shape)
    axis = const(rw, np.array(0, np.int32))
    return create_tfl(rw, "expand_dims", [item, axis], [item.type.with_shape(shape)]).result


def element_shape(op: Operation, shape_operand: Value) -> list[int | None] | None:
    """Element dims from a constant element_shape operand (-1 -> None); None if unknown rank."""
    arr = constant_value(shape_operand)
    if arr is None:
        return None
    arr = np.asarray(arr)
    if arr.ndim == 0:  # scalar -1: unknown rank
        return None
    return [None if int(d) < 0 else int(d) for d in arr.reshape(-1)]


def infer_element_shape(result: Value, module: Module) -> list[int | None] | None:
    """Element dims from the items written into a list of unknown element rank (first
    SetItem/PushBack found, following the list into loop bodies), like the official pass."""
    seen: set[int] = set()
    stack = [result]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        for use in v.uses:
            user = use.op
            if user.name in ("tf.TensorListSetItem", "tf.TensorListPushBack"):
                item = user.operands[2 if user.name == "tf.TensorListSetItem" else 1]
                if item.type.shape is not None:
                    return list(item.type.shape)
                stack.append(user.result)
            elif user.name == "tf.TensorListScatterIntoExistingList":
                rows = user.operands[1].type.shape
                if rows is not None:
                    return list(rows[1:])
                stack.append(user.result)
            elif user.name in WHILE_OPS:
                body = module.function(user.attributes["body"].name)
                stack.append(body.args[use.index])
            elif user.name in PASSTHROUGH_OPS:
                stack.append(user.results[use.index])
            elif user.name == "tf.TensorListResize":
                stack.append(user.result)
    return None


def broadcast_list(rw: PatternRewriter, lst: Value, item_e: Value) -> Value:
    """lst broadcast so its element dims fit the expanded item `item_e` ([1, *item]); the
    list length stays (broadcasting keeps a 0 or n leading dim against the item's 1).

    Types the ZEROS_LIKE and ADD kernels take (f32, i32, i64): `lst + zeros_like(item_e)`
    (adding zero keeps every value; 2 ops). Other element types (f16, i8, ui8, i16, i1, ...,
    whose kernels refuse one of the two): `broadcast_to(lst, [len(lst), *max(shape(lst)[1:],
    shape(item))])`."""
    lt, it = lst.type, item_e.type
    if lt.rank is None or it.rank is None or lt.rank != it.rank:
        return lst  # unknown ranks: nothing to prove, the kernel checks at run time
    tail = lt.shape[1:]  # type: ignore[index]
    if all(d is not None for d in tail) and tail == it.shape[1:]:  # type: ignore[index]
        return lst
    out = lt.with_shape(broadcast_shape(lt.shape, it.shape))
    if kernel_accepts("tfl.zeros_like", lt.dtype) and kernel_accepts("tfl.add", lt.dtype):
        zeros = create_tfl(rw, "zeros_like", [item_e], [it]).result
        return create_tfl(rw, "add", [lst, zeros], [out], fused_activation_function="NONE").result
    rank = lt.rank
    ls, its = shape_of(rw, lst), shape_of(rw, item_e)
    elem = create_tfl(
        rw,
        "maximum",
        [slice1(rw, ls, 1, rank - 1), slice1(rw, its, 1, rank - 1)],
        [TensorType((rank - 1,), I32)],
    ).result
    target = concat(rw, [slice1(rw, ls, 0, 1), elem], TensorType((rank,), I32))
    return create_tfl(rw, "broadcast_to", [lst, target], [out]).result


def broadcast_shape(lshape, ishape) -> tuple[int | None, ...]:
    out: list[int | None] = [lshape[0]]
    for a, b in zip(lshape[1:], ishape[1:]):
        if a == b:
            out.append(a)
        elif a == 1 and b is not None:
            out.append(b)
        else:
            out.append(None)
    return tuple(out)


def slice1(rw: PatternRewriter, vec: Value, begin: int, size: int) -> Value:
    b = const(rw, np.array([begin], np.int32))
    s = const(rw, np.array([size], np.int32))
    return create_tfl(rw, "slice", [vec, b, s], [TensorType((size,), vec.type.dtype)]).result


def list_length(rw: PatternRewriter, lst: Value) -> Value:
    n = lst.type.shape[0] if lst.type.shape else None
    if n is not None:
        return const(rw, np.array(n, np.int32))
    shape = shape_of(rw, lst)
    zero = const(rw, np.array(0, np.int32))
    return create_tfl(rw, "gather", [shape, zero], [TensorType((), I32)], axis=0).result
