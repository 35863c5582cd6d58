"""Helpers for the nn legalization patterns: tfl.transpose / tfl.reshape builders, layout
permutations, TF attribute readers."""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.arrays import reshaped
from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import TensorType, numpy_dtype

from .common import const, constant_value, create_tfl

NHWC_FROM_NCHW = (0, 2, 3, 1)
NCHW_FROM_NHWC = (0, 3, 1, 2)


def text(value: Any) -> str:
    """A TF string attribute as str (the frontend may hand over bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def data_format(op: Operation, default: str = "NHWC") -> str:
    return text(op.attributes.get("data_format", default)) or default


def ints(value: Any) -> list[int]:
    return [int(v) for v in (value or [])]


def permute_shape(
    shape: tuple[int | None, ...] | None, perm: tuple[int, ...]
) -> tuple[int | None, ...] | None:
    if shape is None:
        return None
    return tuple(shape[p] for p in perm)


def permuted_type(t: TensorType, perm: tuple[int, ...]) -> TensorType:
    return t.with_shape(permute_shape(t.shape, perm))


def i32(rw: PatternRewriter, values: Any) -> Value:
    """An int32 constant (shapes, permutations, paddings)."""
    return const(rw, np.asarray(values, dtype=np.int32))


def transpose(rw: PatternRewriter, x: Value, perm: tuple[int, ...] | list[int]) -> Value:
    """tfl.transpose(x, perm); a constant x is transposed with numpy instead."""
    perm = tuple(int(p) for p in perm)
    arr = constant_value(x)
    if arr is not None:
        # A view: the writer copies it into the file once (`core.arrays.copy_into`).
        return const(rw, np.transpose(arr, perm))
    out = permuted_type(x.type, perm)
    return create_tfl(rw, "transpose", [x, i32(rw, perm)], [out]).result


def reshape(
    rw: PatternRewriter, x: Value, shape: list[int | None] | tuple[int | None, ...]
) -> Value:
    """tfl.reshape(x, shape) with at most one unknown dim (written -1); constants reshape
    with numpy."""
    dims = [-1 if d is None else int(d) for d in shape]
    arr = constant_value(x)
    if arr is not None:
        return const(rw, reshaped(arr, dims))
    out = x.type.with_shape(tuple(None if d == -1 else d for d in dims))
    return create_tfl(rw, "reshape", [x, i32(rw, dims)], [out]).result


def zeros(rw: PatternRewriter, n: int, dtype: str) -> Value:
    return const(rw, np.zeros([n], dtype=numpy_dtype(dtype)))


def same_pads(in_size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) padding TF's SAME uses along one spatial dim."""
    effective = (kernel - 1) * dilation + 1
    out = -(-in_size // stride)
    total = max((out - 1) * stride + effective - in_size, 0)
    return total // 2, total - total // 2


def pool_window(op: Operation, rank: int) -> tuple[list[int], list[int], str] | str:
    """(ksize, strides, padding) of a channels-last pooling op over `rank` dims, or why not:
    one entry per dim, SAME or VALID, no pooling across batch or channels."""
    ksize, strides = ints(op.attributes.get("ksize")), ints(op.attributes.get("strides"))
    padding = text(op.attributes.get("padding"))
    if len(ksize) != rank or len(strides) != rank or padding not in ("SAME", "VALID"):
        return f"ksize / strides need {rank} entries and padding SAME or VALID"
    if ksize[0] != 1 or ksize[-1] != 1 or strides[0] != 1 or strides[-1] != 1:
        return "pooling across batch or channels"
    return ksize, strides, padding


def pad_to_i32(rw: PatternRewriter, paddings: Value) -> Value:
    """A paddings / shape operand as int32 (numpy cast for constants, tfl.cast otherwise)."""
    arr = constant_value(paddings)
    if arr is not None:
        if arr.dtype == np.int32:
            return paddings
        return i32(rw, arr)
    if paddings.type.dtype == "i32":
        return paddings
    return create_tfl(rw, "cast", [paddings], [paddings.type.with_dtype("i32")]).result
