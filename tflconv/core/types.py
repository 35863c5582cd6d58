"""Tensor types: shape (None for a dynamic dim), element dtype, optional quantization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Element types by their textual (MLIR) name -> numpy dtype (None: no numpy equivalent).
DTYPES: dict[str, np.dtype | None] = {
    "f32": np.dtype(np.float32),
    "f16": np.dtype(np.float16),
    "f64": np.dtype(np.float64),
    "bf16": None,
    "i1": np.dtype(np.bool_),
    "i4": np.dtype(np.int8),
    "i8": np.dtype(np.int8),
    "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "ui8": np.dtype(np.uint8),
    "ui16": np.dtype(np.uint16),
    "ui32": np.dtype(np.uint32),
    "ui64": np.dtype(np.uint64),
    "complex64": np.dtype(np.complex64),
    "complex128": np.dtype(np.complex128),
    "string": np.dtype(object),
    "resource": None,
    "variant": None,
    "none": None,  # the type of `tfl.no_value`: an absent optional operand
}

_NUMPY_TO_DTYPE = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float16): "f16",
    np.dtype(np.float64): "f64",
    np.dtype(np.bool_): "i1",
    np.dtype(np.int8): "i8",
    np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32",
    np.dtype(np.int64): "i64",
    np.dtype(np.uint8): "ui8",
    np.dtype(np.uint16): "ui16",
    np.dtype(np.uint32): "ui32",
    np.dtype(np.uint64): "ui64",
    np.dtype(np.complex64): "complex64",
    np.dtype(np.complex128): "complex128",
    np.dtype(object): "string",
}

FLOAT_DTYPES = frozenset({"f16", "bf16", "f32", "f64"})
INT_DTYPES = frozenset({"i4", "i8", "i16", "i32", "i64", "ui8", "ui16", "ui32", "ui64"})


def dtype_from_numpy(dtype: np.dtype | type) -> str:
    """The element-type name of a numpy dtype ('f32' for float32)."""
    dt = np.dtype(dtype)
    if dt.kind in ("U", "S", "O"):
        return "string"
    try:
        return _NUMPY_TO_DTYPE[dt]
    except KeyError:
        raise ValueError(f"numpy dtype {dt} has no tensor element type") from None


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype of an element-type name; raises for resource/variant/bf16."""
    dt = DTYPES.get(dtype)
    if dt is None:
        raise ValueError(f"element type {dtype!r} has no numpy equivalent")
    return dt


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point).

    Per-tensor when `axis` is None (one scale), per-axis otherwise (one scale per slice of `axis`).
    `min`/`max` hold calibration ranges when known.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.scale) != len(self.zero_point):
            raise ValueError("quantization needs as many zero points as scales")
        if self.axis is None and len(self.scale) > 1:
            raise ValueError("several scales need a quantized axis")

    @property
    def per_axis(self) -> bool:
        return self.axis is not None


@dataclass(frozen=True)
class TensorType:
    """A tensor type. `shape` is None for unranked tensors; a None dim is dynamic."""

    shape: tuple[int | None, ...] | None
    dtype: str
    quant: QuantParams | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown element type {self.dtype!r}")
        if self.shape is not None and not isinstance(self.shape, tuple):
            object.__setattr__(self, "shape", tuple(self.shape))

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES and self.quant is None

    @property
    def is_int(self) -> bool:
        return self.dtype in INT_DTYPES

    @property
    def is_quantized(self) -> bool:
        return self.quant is not None

    @property
    def num_elements(self) -> int | None:
        if not self.is_static:
            return None
        n = 1
        for d in self.shape:  # type: ignore[union-attr]
            n *= d  # type: ignore[operator]
        return n

    def with_shape(self, shape: tuple[int | None, ...] | None) -> TensorType:
        return TensorType(None if shape is None else tuple(shape), self.dtype, self.quant)

    def with_dtype(self, dtype: str, quant: QuantParams | None = None) -> TensorType:
        return TensorType(self.shape, dtype, quant)

    def with_quant(self, quant: QuantParams | None) -> TensorType:
        return TensorType(self.shape, self.dtype, quant)

    @staticmethod
    def of(array: np.ndarray) -> TensorType:
        """The static type of a numpy array."""
        return TensorType(tuple(int(d) for d in array.shape), dtype_from_numpy(array.dtype))


@dataclass(frozen=True)
class TypeAttr:
    """An attribute whose value is an element type (TF's `T`, `DstT`, ...)."""

    dtype: str


@dataclass(frozen=True)
class SymbolRef:
    """An attribute naming a function of the module (`@while_body`)."""

    name: str


NO_VALUE_TYPE = TensorType(None, "none")
"""Type of the value standing for an absent optional operand (TFLite writes input -1)."""
