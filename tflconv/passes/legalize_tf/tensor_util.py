"""Shape and operand helpers shared by the math and tensor legalization families."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tflconv.core.ir import Value, constant_value
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import TensorType

from .common import const, create_tfl

Shape = tuple[int | None, ...]


def num_dynamic(shape: Shape | None) -> int:
    """How many dims are unknown (a large number for unknown rank)."""
    if shape is None:
        return 1 << 30
    return sum(1 for d in shape if d is None)


def returned_from_subgraph(value: Value) -> bool:
    """Whether `value` is an output of a non-entry function (a loop body, a branch, ...), whose
    signature must keep matching its callers: such values keep their types."""
    for user in value.users:
        if user.name == "func.return":
            fn = user.function
            if fn is None or fn.attributes.get("entry"):
                continue
            if fn.module is None or fn.module.functions[0] is not fn:  # the first one is main
                return True
    return False


def shape_with_wildcard(shape: Shape | None) -> list[int] | None:
    """A reshape target for `shape`: its dims with -1 for at most one unknown dim.

    None when two or more dims are unknown, or when -1 would be ambiguous (a known zero dim)."""
    if shape is None or num_dynamic(shape) > 1:
        return None
    if num_dynamic(shape) == 1 and any(d == 0 for d in shape):
        return None
    return [-1 if d is None else int(d) for d in shape]


def as_i32(rw: PatternRewriter, value: Value) -> Value:
    """An integer operand as i32: a new constant when constant, a tfl.cast when it is an
    i64 tensor, else the value itself (TFLite kernels want i32 shapes, axes and perms)."""
    if value.type.dtype == "i32":
        return value
    arr = constant_value(value)
    if arr is not None and arr.dtype.kind in "iu":
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return value  # would overflow: keep the wide type, the kernel may accept it
        return const(rw, arr.astype(np.int32))
    if value.type.dtype in ("i64", "i16", "i8", "ui8", "ui32", "ui64", "ui16"):
        cast = create_tfl(rw, "cast", [value], [value.type.with_dtype("i32")])
        return cast.result
    return value


def i32_const(rw: PatternRewriter, values: Sequence[int] | int) -> Value:
    """An i32 constant (a vector for a sequence, a scalar for an int)."""
    return const(rw, np.asarray(values, dtype=np.int32))


def reshape(rw: PatternRewriter, x: Value, result_type: TensorType) -> Value | None:
    """A tfl.reshape of `x` to `result_type` when its shape is static enough, else None."""
    target = shape_with_wildcard(result_type.shape)
    if target is None:
        return None
    if x.type.shape == result_type.shape and num_dynamic(x.type.shape) <= 1:
        return x
    op = create_tfl(rw, "reshape", [x, i32_const(rw, target)], [result_type])
    return op.result


def tfl_shape(rw: PatternRewriter, x: Value, dtype: str = "i32") -> Value:
    """The runtime shape of `x` (a constant when static)."""
    shape = x.type.shape
    if x.type.is_static:
        return const(rw, np.asarray(shape, dtype=np.dtype("int32" if dtype == "i32" else "int64")))
    out = TensorType(None if shape is None else (len(shape),), dtype)
    return create_tfl(rw, "shape", [x], [out], out_type=_TFL_TYPE[dtype]).result


def broadcast_to(rw: PatternRewriter, x: Value, shape: Shape, shape_value: Value) -> Value:
    """x broadcast to `shape` (static facts in the type, runtime shape in `shape_value`)."""
    if x.type.shape == tuple(shape) and num_dynamic(shape) == 0:
        return x
    op = create_tfl(rw, "broadcast_to", [x, shape_value], [x.type.with_shape(tuple(shape))])
    return op.result


def broadcast_shape_value(rw: PatternRewriter, values: Sequence[Value], shape: Shape) -> Value:
    """The broadcast shape of `values` as a runtime i32 vector (a constant when static)."""
    if num_dynamic(shape) == 0:
        return i32_const(rw, list(shape))  # type: ignore[arg-type]
    result = tfl_shape(rw, values[0])
    for v in values[1:]:
        other = tfl_shape(rw, v)
        out = TensorType((len(shape),), "i32")
        result = create_tfl(rw, "broadcast_args", [result, other], [out]).result
    return result


# TFLite TensorType enum member names for our element types (ArgMax/Shape/Unique options).
_TFL_TYPE = {
    "f32": "FLOAT32",
    "f16": "FLOAT16",
    "f64": "FLOAT64",
    "i32": "INT32",
    "i64": "INT64",
    "i16": "INT16",
    "i8": "INT8",
    "ui8": "UINT8",
    "i1": "BOOL",
    "string": "STRING",
    "ui32": "UINT32",
    "ui16": "UINT16",
    "ui64": "UINT64",
    "complex64": "COMPLEX64",
}


def tflite_type_name(dtype: str) -> str:
    """The TFLite TensorType enum name of an element type ("i64" -> "INT64")."""
    return _TFL_TYPE[dtype]


def np_int(dtype: str) -> type[np.integer]:
    """The numpy integer type of an i32/i64 element type."""
    return np.int64 if dtype == "i64" else np.int32


def strided_slice(
    rw: PatternRewriter,
    x: Value,
    begin: Sequence[int],
    end: Sequence[int],
    strides: Sequence[int],
    out: TensorType,
    begin_mask: int = 0,
    end_mask: int = 0,
    shrink_axis_mask: int = 0,
) -> Value:
    """tfl.strided_slice of `x` with constant begin / end / strides (no ellipsis, no new axes)."""
    operands = [x, i32_const(rw, begin), i32_const(rw, end), i32_const(rw, strides)]
    return create_tfl(
        rw,
        "strided_slice",
        operands,
        [out],
        begin_mask=begin_mask,
        end_mask=end_mask,
        ellipsis_mask=0,
        new_axis_mask=0,
        shrink_axis_mask=shrink_axis_mask,
        offset=False,
    ).result


def dim_size(rw: PatternRewriter, x: Value, axis: int, dtype: str = "i32") -> Value:
    """Dim `axis` of `x` as a 0-D `dtype` value: a constant when known, else
    tfl.gather(tfl.shape(x), axis); for an `x` of unknown rank, `axis` counts from the end
    (negative) and the dim is sliced from the run-time shape."""
    shape = x.type.shape
    out = TensorType((), dtype)
    if shape is None:
        assert axis < 0, "an unranked value's dims are addressed from the end"
        full = tfl_shape(rw, x, dtype)
        end, end_mask = (axis + 1, 0) if axis < -1 else (0, 1)
        return strided_slice(
            rw, full, [axis], [end], [1], out, end_mask=end_mask, shrink_axis_mask=1
        )
    if shape[axis] is not None:
        return const(rw, np.asarray(shape[axis], dtype=np_int(dtype)))
    full = tfl_shape(rw, x, dtype)
    index = i32_const(rw, axis % len(shape))
    return create_tfl(rw, "gather", [full, index], [out], axis=0, batch_dims=0).result


def iota(rw: PatternRewriter, x: Value, axis: int, dtype: str = "i32") -> Value:
    """[0, 1, ..., dim `axis` of x - 1] as a 1-D `dtype` value (a constant when the dim is
    known, else a tfl.range)."""
    size = None if x.type.shape is None else x.type.shape[axis]
    if size is not None:
        return const(rw, np.arange(size, dtype=np_int(dtype)))
    zero = const(rw, np.asarray(0, dtype=np_int(dtype)))
    one = const(rw, np.asarray(1, dtype=np_int(dtype)))
    limit = dim_size(rw, x, axis, dtype)
    return create_tfl(rw, "range", [zero, limit, one], [TensorType((None,), dtype)]).result
