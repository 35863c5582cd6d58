"""MLIR types and attributes (jaxlib's bindings) -> tflconv types and plain attribute values,
in the form of the StableHLO contract (docs/stablehlo.md):

- struct attributes (`#stablehlo.dot<...>`, `#stablehlo.conv<...>`, gather/scatter dimension
  numbers) are flattened into their fields, with the spec's names;
- enums become upper-case strings (`comparison_direction = "GE"`);
- dense arrays and dense elements of non-constant ops become (nested) int lists; the value of a
  constant is a numpy array;
- symbol references become `SymbolRef`, dictionaries dicts, unit attributes `True`.

Imported lazily by the frontend (it imports jaxlib).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo

from tflconv.core.types import SymbolRef, TensorType, numpy_dtype

from ..base import FrontendError

_ELEMENT_TYPES = {
    "f32": "f32",
    "f16": "f16",
    "bf16": "bf16",
    "f64": "f64",
    "i1": "i1",
    "i4": "i4",
    "i8": "i8",
    "i16": "i16",
    "i32": "i32",
    "i64": "i64",
    "ui8": "ui8",
    "ui16": "ui16",
    "ui32": "ui32",
    "ui64": "ui64",
    "si8": "i8",
    "si16": "i16",
    "si32": "i32",
    "si64": "i64",
    "complex<f32>": "complex64",
    "complex<f64>": "complex128",
}


def _isa(value: Any, cls: Any) -> bool:
    """`isinstance` for MLIR attributes/types: jaxlib downcasts builtin ones itself; dialect
    attributes (#stablehlo.*) come back as plain `ir.Attribute` and are checked by casting."""
    if isinstance(value, cls):
        return True
    check = getattr(cls, "isinstance", None)
    if check is not None:
        return bool(check(value))
    if type(value) in (ir.Attribute, ir.Type):
        try:
            cls(value)
        except (ValueError, TypeError):
            return False
        return True
    return False


def convert_type(t: ir.Type, where: str) -> TensorType:
    """A ranked tensor type -> TensorType (dynamic dims as None)."""
    if _isa(t, ir.RankedTensorType):
        rt = ir.RankedTensorType(t)
        shape = tuple(None if rt.is_dynamic_dim(i) else int(rt.shape[i]) for i in range(rt.rank))
        return TensorType(shape, element_type(rt.element_type, where))
    if _isa(t, ir.UnrankedTensorType):
        return TensorType(None, element_type(ir.UnrankedTensorType(t).element_type, where))
    raise FrontendError(f"{where}: type {t} is not a tensor type (tokens and tuples unsupported)")


def element_type(t: ir.Type, where: str) -> str:
    text = str(t)
    try:
        return _ELEMENT_TYPES[text]
    except KeyError:
        raise FrontendError(f"{where}: element type {text} has no tflconv equivalent") from None


# --- attribute values ------------------------------------------------------------------------

_ENUMS = (
    stablehlo.ComparisonDirectionAttr,
    stablehlo.ComparisonTypeAttr,
    stablehlo.PrecisionAttr,
    stablehlo.FftTypeAttr,
    stablehlo.TransposeAttr,
    stablehlo.RngDistributionAttr,
    stablehlo.RngAlgorithmAttr,
)


def _dense_array(attr: ir.Attribute, shaped: TensorType | None = None) -> np.ndarray:
    """The elements of a DenseElementsAttr as a numpy array of its type's shape."""
    dense = ir.DenseElementsAttr(attr)
    t = convert_type(dense.type, "constant")
    shape = tuple(d or 0 for d in (t.shape or ()))
    if t.dtype == "i1":
        if dense.is_splat:
            value = bool(ir.BoolAttr(dense.get_splat_value()).value)
            return np.full(shape, value, np.bool_)
        return np.array(dense).astype(np.bool_).reshape(shape)
    if dense.is_splat:
        one = _scalar(dense.get_splat_value(), t.dtype)
        return np.full(shape, one, dtype=one.dtype)
    if t.dtype == "bf16":
        return _bf16_as_f32(dense).reshape(shape)
    return np.array(dense, copy=True).reshape(shape)


def _bf16_as_f32(dense: ir.DenseElementsAttr) -> np.ndarray:
    """bf16 elements widened to f32 (exact; the importer converts back). jaxlib gives no buffer
    for bf16 attributes, so their text is read: `dense<"0x...">` (raw little-endian bits) or
    `dense<[1.500000e+00, 0x7FC0, ...]>` (decimal, or bits for NaN/inf)."""
    text = str(dense)
    raw = re.match(r'dense<"0x([0-9A-Fa-f]*)">', text)
    if raw is not None:
        bits = np.frombuffer(bytes.fromhex(raw.group(1)), "<u2")
    else:
        body = text[text.index("<") + 1 : text.rindex(">", 0, text.rindex(":"))]
        tokens = [tok for tok in re.split(r"[\[\],\s]+", body) if tok]
        values = []
        for tok in tokens:
            if tok.lower().startswith("0x"):
                values.append(int(tok, 16))
            else:
                f32 = np.array([float(tok)], np.float32).view(np.uint32)[0]
                values.append(int(f32) >> 16)  # bf16 values are f32s with 16 zero low bits
        bits = np.array(values, np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _scalar(attr: ir.Attribute, dtype: str) -> np.ndarray:
    if dtype == "bf16":
        return np.array(ir.FloatAttr(attr).value, np.float32)  # exact: see _dense_array
    if dtype in ("complex64", "complex128"):
        raise FrontendError("complex splat constants are not supported")
    if _isa(attr, ir.FloatAttr):
        return np.array(ir.FloatAttr(attr).value, numpy_dtype(dtype))
    value = ir.IntegerAttr(attr).value
    np_dtype = numpy_dtype(dtype)
    if np_dtype.kind == "u" and value < 0:  # unsigned values read back as signed
        value += 1 << (8 * np_dtype.itemsize)
    return np.array(value, np_dtype)


def constant_value(attr: ir.Attribute) -> np.ndarray:
    """The value of `stablehlo.constant` as a numpy array (bf16 values widened to f32)."""
    if not _isa(attr, ir.DenseElementsAttr):
        raise FrontendError(f"constant value {str(attr)[:80]} is not a dense elements attribute")
    return _dense_array(attr)


def convert_attr(attr: ir.Attribute) -> Any:
    """One attribute value -> a plain Python value (see the module docstring)."""
    for kind in _ENUMS:
        if _isa(attr, kind):
            return kind(attr).value
    if _isa(attr, ir.BoolAttr):
        return bool(ir.BoolAttr(attr).value)
    if _isa(attr, ir.IntegerAttr):
        return int(ir.IntegerAttr(attr).value)
    if _isa(attr, ir.FloatAttr):
        return float(ir.FloatAttr(attr).value)
    if _isa(attr, ir.StringAttr):
        return ir.StringAttr(attr).value
    if _isa(attr, ir.UnitAttr):
        return True
    for array_kind in (
        ir.DenseI64ArrayAttr,
        ir.DenseI32ArrayAttr,
        ir.DenseI16ArrayAttr,
        ir.DenseI8ArrayAttr,
    ):
        if _isa(attr, array_kind):
            return [int(v) for v in array_kind(attr)]
    if _isa(attr, ir.DenseBoolArrayAttr):
        return [bool(v) for v in ir.DenseBoolArrayAttr(attr)]
    for array_kind in (ir.DenseF32ArrayAttr, ir.DenseF64ArrayAttr):
        if _isa(attr, array_kind):
            return [float(v) for v in array_kind(attr)]
    if _isa(attr, ir.DenseElementsAttr):
        return _dense_array(attr).tolist()
    if _isa(attr, ir.ArrayAttr):
        return [convert_attr(a) for a in ir.ArrayAttr(attr)]
    if _isa(attr, ir.DictAttr):
        d = ir.DictAttr(attr)
        return {d[i].name: convert_attr(d[i].attr) for i in range(len(d))}
    if _isa(attr, ir.FlatSymbolRefAttr):
        return SymbolRef(ir.FlatSymbolRefAttr(attr).value)
    if _isa(attr, ir.TypeAttr):
        return str(ir.TypeAttr(attr).value)
    return str(attr)


# The dimension-number attributes as flat IR attributes: (class, fields); a field is the
# attribute's own name, or (IR name, attribute name) where the IR spells it differently.
_DIMENSION_NUMBERS: tuple[tuple[Any, tuple[str | tuple[str, str], ...]], ...] = (
    (
        stablehlo.DotDimensionNumbers,
        (
            "lhs_batching_dimensions",
            "rhs_batching_dimensions",
            "lhs_contracting_dimensions",
            "rhs_contracting_dimensions",
        ),
    ),
    (
        stablehlo.ConvDimensionNumbers,
        (
            "input_batch_dimension",
            "input_feature_dimension",
            "input_spatial_dimensions",
            "kernel_input_feature_dimension",
            "kernel_output_feature_dimension",
            "kernel_spatial_dimensions",
            "output_batch_dimension",
            "output_feature_dimension",
            "output_spatial_dimensions",
        ),
    ),
    (
        stablehlo.GatherDimensionNumbers,
        (
            "offset_dims",
            "collapsed_slice_dims",
            "operand_batching_dims",
            "start_indices_batching_dims",
            "start_index_map",
            "index_vector_dim",
        ),
    ),
    (
        stablehlo.ScatterDimensionNumbers,
        (
            "update_window_dims",
            "inserted_window_dims",
            "input_batching_dims",
            "scatter_indices_batching_dims",
            ("scatter_dims_to_operand_dims", "scattered_dims_to_operand_dims"),
            "index_vector_dim",
        ),
    ),
)


def op_attributes(op: ir.Operation) -> dict[str, Any]:
    """The attributes of a StableHLO op, struct attributes flattened into their fields."""
    out: dict[str, Any] = {}
    attrs = op.attributes
    for i in range(len(attrs)):
        named = attrs[i]
        key, attr = named.name, named.attr
        if key.startswith(("mhlo.", "jax.", "sdy.")):
            continue  # sharding / frontend bookkeeping, meaningless to a single-device model
        numbers = next((spec for spec in _DIMENSION_NUMBERS if _isa(attr, spec[0])), None)
        if numbers is not None:
            view = numbers[0](attr)
            for field in numbers[1]:
                ir_key, attr_name = field if isinstance(field, tuple) else (field, field)
                value = getattr(view, attr_name)
                out[ir_key] = int(value) if isinstance(value, int) else list(value)
        else:
            out[key] = convert_attr(attr)
    return out
