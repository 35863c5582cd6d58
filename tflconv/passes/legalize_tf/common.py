"""Small helpers shared by the legalization pattern families."""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation, Value, constant, constant_value
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import NO_VALUE_TYPE, TensorType, numpy_dtype

__all__ = [
    "const",
    "constant_value",
    "create_tfl",
    "no_value",
    "scalar_const",
    "static_shape",
    "int_list",
]


def const(rw: PatternRewriter, array: Any, name: str | None = None, dtype: Any = None) -> Value:
    """Insert an `arith.constant` before the op being rewritten and return its value."""
    arr = np.asarray(array, dtype=dtype)
    return rw.insert(constant(arr, rw._default_location(), name)).result


def scalar_const(rw: PatternRewriter, value: float | int | bool, dtype: str) -> Value:
    """A 0-d constant of the IR element type `dtype` (as numpy converts `value`)."""
    return const(rw, np.asarray(value, dtype=numpy_dtype(dtype)))


def no_value(rw: PatternRewriter) -> Value:
    """The value of an absent optional TFLite operand (written as input -1)."""
    return rw.create("tfl.no_value", [], [NO_VALUE_TYPE]).result


def create_tfl(
    rw: PatternRewriter,
    name: str,
    operands: list[Value],
    result_types: list[TensorType],
    **attributes: Any,
) -> Operation:
    """Insert a tfl op (name without or with the "tfl." prefix) before the current op."""
    full = name if name.startswith("tfl.") else "tfl." + name
    return rw.create(full, operands, result_types, attributes)


def static_shape(value: Value) -> tuple[int, ...] | None:
    """The shape when fully known, else None."""
    t = value.type
    return t.shape if t.is_static else None  # type: ignore[return-value]


def int_list(value: Value) -> list[int] | None:
    """The constant integer vector behind `value` (e.g. an axis or shape operand), else None."""
    arr = constant_value(value)
    if arr is None or arr.dtype.kind not in "iu":
        return None
    return [int(x) for x in np.asarray(arr).reshape(-1)]
