"""TF NodeDefs without TensorFlow, and the FlexBuffer `custom_options` of Flex and custom ops.

The importer keeps each TF op's serialized NodeDef in attribute `_node_def`. The passes that
turn TF ops into `tfl.custom` ops read and write it here with a minimal protobuf wire-format
codec (passes never import TensorFlow), and build the FlexBuffers the official exporter writes
(`flatbuffer_export.cc`):

- Flex op: `custom_code` "Flex" + op, options = FlexBuffer vector [String(op),
  String(serialized NodeDef)] (`CreateFlexOpCustomOptions`).
- Custom op: `custom_code` = op, options = FlexBuffer map of the NodeDef attributes, keys
  sorted, type attrs as TFLite `TensorType` ints (`CreateFlexBuilderWithNodeAttrs`).

The Python `flatbuffers.flexbuffers.Builder` lays bytes out exactly like the C++ builder, so
both are byte-identical to the official output (tests/test_select_tf_ops.py checks this).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from flatbuffers import flexbuffers

from tflconv.core.ir import Operation
from tflconv.core.types import TypeAttr

FLEX_PREFIX = "Flex"

# tensorflow/core/framework/types.proto DataType values.
TF_DTYPES: dict[str, int] = {
    "f32": 1, "f64": 2, "i32": 3, "ui8": 4, "i16": 5, "i8": 6, "string": 7, "complex64": 8,
    "i64": 9, "i1": 10, "bf16": 14, "ui16": 17, "complex128": 18, "f16": 19, "resource": 20,
    "variant": 21, "ui32": 22, "ui64": 23, "i4": 29,
}  # fmt: skip

# TfTypeToTflType (tflite/converter/utils/convert_type.cc): TF DataType -> TFLite TensorType.
# Types missing here are dropped from custom-op attribute maps, as the official exporter does.
TFL_TENSOR_TYPES: dict[int, int] = {
    10: 6,  # BOOL
    8: 8,  # COMPLEX64
    18: 11,  # COMPLEX128
    19: 1,  # FLOAT16
    1: 0,  # FLOAT32
    2: 10,  # FLOAT64
    6: 9,  # INT8
    5: 7,  # INT16
    3: 2,  # INT32
    22: 15,  # UINT32
    9: 4,  # INT64
    23: 12,  # UINT64
    7: 5,  # STRING
    4: 3,  # UINT8
    20: 13,  # RESOURCE
    21: 14,  # VARIANT
}


class NodeDefError(ValueError):
    """Bytes that are not a NodeDef, or IR attributes that cannot make one."""


# --- protobuf wire format ----------------------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise NodeDefError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise NodeDefError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any, bytes]]:
    """(field number, wire type, value, the field's raw bytes) for each field, in order.
    Length-delimited values are bytes, varints ints, fixed32/64 raw bytes."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            value = data[pos : pos + size]
            if len(value) != size:
                raise NodeDefError("truncated length-delimited field")
            pos += size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        else:
            raise NodeDefError(f"unsupported wire type {wire}")
        out.append((number, wire, value, data[start:pos]))
    return out


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_varints(data: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        values.append(value)
    return values


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are 10-byte two's complement varints
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


# --- NodeDef -----------------------------------------------------------------------------------

# NodeDef fields: name 1, op 2, input 3, device 4, attr 5, experimental_debug_info 6.
# AttrValue: list 1, s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8, placeholder 9, func 10.
# AttrValue.ListValue: s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8, func 9 (scalars packed).
_ATTR_KINDS = {2: "s", 3: "i", 4: "f", 5: "b", 6: "type", 7: "shape", 8: "tensor", 10: "func"}
_LIST_KINDS = {2: "s", 3: "i", 4: "f", 5: "b", 6: "type", 7: "shape", 8: "tensor", 9: "func"}


@dataclass
class Attr:
    """One NodeDef attribute: `kind` is s/i/f/b/type/shape/tensor/func/placeholder, or
    "list" with `list_kind` (None for an empty list). Shapes/tensors/funcs stay raw bytes."""

    kind: str
    value: Any
    list_kind: str | None = None


@dataclass
class NodeDef:
    """The parts of a NodeDef the Flex and custom encodings need; `raw` keeps every field's
    bytes so re-serializing an unchanged NodeDef gives back the same bytes."""

    op: str
    num_inputs: int
    attrs: dict[str, Attr] = field(default_factory=dict)
    raw: list[tuple[int, bytes]] = field(default_factory=list)

    def with_inputs(self, count: int) -> bytes:
        """The serialized NodeDef with `count` empty inputs (operands may have changed)."""
        out, written = bytearray(), False
        for number, raw in self.raw:
            if number == 3:
                continue
            if number > 3 and not written:
                out += _len_field(3, b"") * count
                written = True
            out += raw
        if not written:
            out += _len_field(3, b"") * count
        return bytes(out)


def parse_node_def(data: bytes) -> NodeDef:
    """Decode a serialized NodeDef (the `_node_def` attribute)."""
    op, inputs, attrs, raw = "", 0, {}, []
    for number, wire, value, field_bytes in _fields(bytes(data)):
        raw.append((number, field_bytes))
        if number == 2 and wire == 2:
            op = value.decode("utf-8")
        elif number == 3:
            inputs += 1
        elif number == 5 and wire == 2:
            key, attr = "", Attr("placeholder", None)
            for n, _, v, _ in _fields(value):
                if n == 1:
                    key = v.decode("utf-8")
                elif n == 2:
                    attr = _parse_attr(v)
            attrs[key] = attr
    if not op:
        raise NodeDefError("NodeDef has no op")
    return NodeDef(op, inputs, attrs, raw)


def _parse_attr(data: bytes) -> Attr:
    for number, _wire, value, _ in _fields(data):
        if number == 1:
            return _parse_list(value)
        kind = _ATTR_KINDS.get(number)
        if kind == "s":
            return Attr("s", bytes(value))
        if kind == "i":
            return Attr("i", _signed64(value))
        if kind == "f":
            return Attr("f", struct.unpack("<f", value)[0])
        if kind == "b":
            return Attr("b", bool(value))
        if kind == "type":
            return Attr("type", value)
        if kind is not None:
            return Attr(kind, bytes(value))
        if number == 9:
            return Attr("placeholder", value.decode("utf-8"))
    return Attr("placeholder", None)


def _parse_list(data: bytes) -> Attr:
    kind: str | None = None
    values: list[Any] = []
    for number, wire, value, _ in _fields(data):
        kind = _LIST_KINDS.get(number, kind)
        if kind == "s":
            values.append(bytes(value))
        elif kind in ("i", "b", "type"):
            items = _packed_varints(value) if wire == 2 else [value]
            if kind == "i":
                values += [_signed64(v) for v in items]
            elif kind == "b":
                values += [bool(v) for v in items]
            else:
                values += items
        elif kind == "f":
            if wire == 2:
                values += list(struct.unpack(f"<{len(value) // 4}f", value))
            else:
                values.append(struct.unpack("<f", value)[0])
        else:
            values.append(bytes(value))
    return Attr("list", values, kind)


def node_def_of(op: Operation) -> NodeDef | None:
    """The imported NodeDef of a tf op (None when it has no `_node_def`)."""
    data = op.attributes.get("_node_def")
    if not isinstance(data, bytes | bytearray) or not data:
        return None
    return parse_node_def(bytes(data))


# --- a NodeDef from IR attributes (ops that were not imported: hand-written IR, new ops) ---------


def _shape_proto(dims: list[int | None] | None) -> bytes:
    if dims is None:
        return _key(3, 0) + _varint(1)  # unknown_rank: true
    out = b""
    for d in dims:
        out += _len_field(2, _key(1, 0) + _varint(-1 if d is None else int(d)))
    return out


def _is_shape(name: str, value: list) -> bool:
    # IR shape attrs are lists of ints with None for unknown dims: indistinguishable from
    # list(int) unless a dim is unknown or the name says so.
    return any(v is None for v in value) or name.endswith(("shape", "_shape"))


def _attr_value(name: str, value: Any) -> bytes:
    """A serialized AttrValue for an IR attribute value."""
    if isinstance(value, bool):
        return _key(5, 0) + _varint(int(value))
    if isinstance(value, int):
        return _key(3, 0) + _varint(value)
    if isinstance(value, float):
        return _key(4, 5) + struct.pack("<f", value)
    if isinstance(value, str | bytes):
        return _len_field(2, value.encode("utf-8") if isinstance(value, str) else value)
    if isinstance(value, TypeAttr):
        if value.dtype not in TF_DTYPES:
            raise NodeDefError(f"attribute {name}: no TF DataType for {value.dtype}")
        return _key(6, 0) + _varint(TF_DTYPES[value.dtype])
    if value is None:
        return _len_field(7, _shape_proto(None))
    if isinstance(value, list | tuple):
        value = list(value)
        if all(isinstance(v, int) and not isinstance(v, bool) or v is None for v in value) and (
            _is_shape(name, value)
        ):
            return _len_field(7, _shape_proto(value))
        return _len_field(1, _list_value(name, value))
    raise NodeDefError(
        f"attribute {name} ({type(value).__name__}) cannot be encoded without the imported "
        "NodeDef (`_node_def`)"
    )


def _list_value(name: str, values: list) -> bytes:
    if not values:
        return b""
    if all(isinstance(v, str | bytes) for v in values):
        return b"".join(
            _len_field(2, v.encode("utf-8") if isinstance(v, str) else v) for v in values
        )
    if all(isinstance(v, bool) for v in values):
        return _len_field(5, b"".join(_varint(int(v)) for v in values))
    if all(isinstance(v, int) for v in values):
        return _len_field(3, b"".join(_varint(v) for v in values))
    if all(isinstance(v, float | int) for v in values):
        return _len_field(4, struct.pack(f"<{len(values)}f", *values))
    if all(isinstance(v, TypeAttr) for v in values):
        return _len_field(6, b"".join(_varint(TF_DTYPES[v.dtype]) for v in values))
    if all(isinstance(v, list | tuple) or v is None for v in values):
        return b"".join(_len_field(7, _shape_proto(v)) for v in values)
    raise NodeDefError(f"attribute {name}: list of mixed or unsupported values")


def synthesize_node_def(op: Operation) -> bytes:
    """A NodeDef for a tf op without `_node_def`, built from its IR attributes the way the
    importer builds them (sorted attrs, one empty input per operand, the location's first
    name as `original_node_names`). Raises `NodeDefError` for attributes it cannot encode
    (tensors, functions)."""
    op_type = op.name.removeprefix("tf.")
    out = _len_field(2, op_type.encode("utf-8"))
    out += _len_field(3, b"") * op.num_operands
    for name in sorted(op.attributes):
        if name.startswith("_"):
            continue
        entry = _len_field(1, name.encode("utf-8")) + _len_field(
            2, _attr_value(name, op.attributes[name])
        )
        out += _len_field(5, entry)
    names = op.location.names
    if names:
        out += _len_field(6, _len_field(1, names[0].encode("utf-8")))
    return out


def flex_node_def(op: Operation) -> bytes:
    """The NodeDef bytes a Flex op embeds: the imported one (inputs adjusted to the current
    operand count), else one synthesized from the IR attributes."""
    node_def = node_def_of(op)
    if node_def is None:
        return synthesize_node_def(op)
    if node_def.num_inputs == op.num_operands:
        return bytes(op.attributes["_node_def"])
    return node_def.with_inputs(op.num_operands)


# --- FlexBuffers -------------------------------------------------------------------------------


class _Builder(flexbuffers.Builder):
    def binary_string(self, data: bytes) -> None:
        # A FlexBuffer String holding arbitrary bytes, as C++ `Builder::String(std::string)`
        # writes the serialized NodeDef (the Python builder only takes UTF-8 text).
        self._WriteBlob(bytes(data), append_zero=True, type_=flexbuffers.Type.STRING)


def flex_custom_options(op_type: str, node_def: bytes) -> bytes:
    """FlexBuffer vector [String(op), String(NodeDef bytes)]: a Flex op's custom_options."""
    fbb = _Builder()
    with fbb.Vector():
        fbb.String(op_type)
        fbb.binary_string(node_def)
    return bytes(fbb.Finish())


def custom_attr_map(op: Operation) -> tuple[bytes, list[str]]:
    """The custom op's custom_options (FlexBuffer map of attributes, keys sorted) and the
    attribute names dropped because FlexBuffers cannot hold them (shapes, tensors, funcs,
    lists of those, types without a TFLite TensorType)."""
    node_def = node_def_of(op)
    if node_def is not None:
        items = dict(node_def.attrs)
    else:
        items = {k: _attr_from_ir(k, v) for k, v in op.attributes.items() if not k.startswith("_")}
    fbb = _Builder()
    dropped: list[str] = []
    with fbb.Map():
        for key in sorted(items):
            if not _add_attr(fbb, key, items[key]):
                dropped.append(key)
    return bytes(fbb.Finish()), dropped


def _attr_from_ir(name: str, value: Any) -> Attr:
    if isinstance(value, bool):
        return Attr("b", value)
    if isinstance(value, int):
        return Attr("i", value)
    if isinstance(value, float):
        return Attr("f", value)
    if isinstance(value, str):
        return Attr("s", value.encode("utf-8"))
    if isinstance(value, bytes):
        return Attr("s", value)
    if isinstance(value, TypeAttr):
        return Attr("type", TF_DTYPES.get(value.dtype, -1))
    if isinstance(value, list | tuple) and not (value and _is_shape(name, list(value))):
        values = list(value)
        for kind, check in (("s", str), ("b", bool), ("i", int), ("f", float)):
            if values and all(isinstance(v, check) for v in values):
                if kind == "i" and any(isinstance(v, bool) for v in values):
                    continue
                if kind == "s":
                    values = [v.encode("utf-8") for v in values]
                return Attr("list", values, kind)
        return Attr("list", values, None)
    return Attr("other", value)


def _add_attr(fbb: _Builder, key: str, attr: Attr) -> bool:
    """Add one attribute as the official exporter does; False when it is dropped."""
    if attr.kind == "s":
        # C++ writes the raw bytes as a String (not necessarily UTF-8).
        fbb.Key(key)
        fbb.binary_string(attr.value)
    elif attr.kind == "type":
        tfl_type = TFL_TENSOR_TYPES.get(attr.value)
        if tfl_type is None:
            return False
        fbb.Int(key, tfl_type)
    elif attr.kind == "i":
        fbb.Int(key, attr.value)
    elif attr.kind == "f":
        fbb.Float(key, attr.value)
    elif attr.kind == "b":
        fbb.Bool(key, attr.value)
    elif attr.kind == "list" and attr.list_kind in ("s", "i", "f") and attr.value:
        with fbb.TypedVector(key):
            for v in attr.value:
                if attr.list_kind == "s":
                    fbb.binary_string(v)
                elif attr.list_kind == "i":
                    fbb.Int(v)
                else:
                    fbb.Float(v)
    else:
        return False
    return True
