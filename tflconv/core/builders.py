"""Public helpers for writing patterns: constants, result types derived from operands, the
current location. A pattern written with them needs no private helper of tflconv:

    from tflconv.core.builders import broadcast_type, constant, location, result_type

    class FoldScale(RewritePattern):
        '''tf.Mul(x, c) -> tf.Mul(x, 2c)  (an example)'''
        root = "tf.Mul"

        def match_and_rewrite(self, op, rw):
            c = constant_array(op.operands[1])
            if c is None:
                return rw.fail("the scale is not a constant")
            two_c = constant(rw, c * 2)
            out = result_type(op.operands[0], dtype=op.result.type.dtype)
            rw.replace(op, rw.create("tf.Mul", [op.operands[0], two_c], [out], dict(op.attributes)))

`location(rw)` is where ops made by the current rewrite go (the matched op's location; the
rewriter's `create` uses it by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Operation, Value, constant_value
from .ir import constant as constant_op
from .location import UNKNOWN, Location
from .rewrite import PatternRewriter
from .types import DTYPES, TensorType, dtype_from_numpy

__all__ = ["broadcast_type", "constant", "constant_array", "location", "result_type"]


def location(rw: PatternRewriter) -> Location:
    """The location of the op being rewritten (UNKNOWN outside a rewrite)."""
    return rw.current.location if rw.current is not None else UNKNOWN


def constant(
    rw: PatternRewriter,
    array: Any,
    *,
    dtype: Any = None,
    name: str | None = None,
    type: TensorType | None = None,
    before: Operation | None = None,
) -> Value:
    """Insert an `arith.constant` holding `array` (a numpy array or anything `np.asarray`
    takes, cast to `dtype` when given) before the op being rewritten, at its location; returns
    the constant's value. `type` overrides the array's own type (e.g. quantization)."""
    data = np.asarray(array, dtype=dtype)
    op = constant_op(data, location(rw), name=name, type=type)
    rw.insert(op, before)
    return op.results[0]


def constant_array(value: Value) -> np.ndarray | None:
    """The array behind a value defined by a constant, else None."""
    return constant_value(value)


def result_type(
    like: Value | TensorType,
    *,
    shape: tuple[int | None, ...] | None | type[Ellipsis] = ...,
    dtype: Any = None,
    keep_quant: bool = False,
) -> TensorType:
    """The type of `like` (a value or type) with `shape` and/or `dtype` replaced (a numpy dtype
    or our name: "f32", np.int8, ...). Quantization is dropped unless `keep_quant`."""
    t = like.type if isinstance(like, Value) else like
    new_shape = t.shape if shape is ... else shape
    if dtype is None:
        new_dtype = t.dtype
    elif isinstance(dtype, str) and dtype in DTYPES:
        new_dtype = dtype
    else:
        new_dtype = dtype_from_numpy(np.dtype(dtype))
    quant = t.quant if keep_quant and new_dtype == t.dtype else None
    return TensorType(None if new_shape is None else tuple(new_shape), new_dtype, quant)


def broadcast_type(*operands: Value | TensorType, dtype: Any = None) -> TensorType:
    """The result type of an elementwise op on `operands` (numpy broadcasting; a dynamic dim
    stays dynamic unless the other side is a known dim > 1; unranked if any is unranked)."""
    types = [v.type if isinstance(v, Value) else v for v in operands]
    if not types:
        raise ValueError("broadcast_type needs at least one operand")
    shape: tuple[int | None, ...] | None = ()
    for t in types:
        if t.shape is None or shape is None:
            shape = None
            continue
        joined = broadcast_shapes(shape, t.shape)
        if joined is None:
            raise ValueError(f"shapes {list(shape)} and {list(t.shape)} do not broadcast")
        shape = joined
    return result_type(types[0], shape=shape, dtype=dtype)


def broadcast_shapes(
    a: tuple[int | None, ...], b: tuple[int | None, ...]
) -> tuple[int | None, ...] | None:
    """NumPy broadcasting of two shapes with None for unknown dims; None if incompatible."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out: list[int | None] = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x is None or y is None:
            out.append(y if x is None else x)
        else:
            return None
    return tuple(out)
