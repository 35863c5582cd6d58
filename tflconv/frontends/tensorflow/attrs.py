"""TF → IR value conversions: dtypes, shapes, attributes, NodeDefs and source locations.

Imported only from the TF frontend (it imports TensorFlow).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2, node_def_pb2, types_pb2
from tensorflow.python.util import tf_stack

from tflconv.core.location import SourceLine
from tflconv.core.types import SymbolRef, TensorType, TypeAttr

from ..base import FrontendError

# TF DataType enum -> our element-type name.
DTYPE_NAMES: dict[int, str] = {
    types_pb2.DT_FLOAT: "f32",
    types_pb2.DT_HALF: "f16",
    types_pb2.DT_BFLOAT16: "bf16",
    types_pb2.DT_DOUBLE: "f64",
    types_pb2.DT_INT4: "i4",
    types_pb2.DT_INT8: "i8",
    types_pb2.DT_INT16: "i16",
    types_pb2.DT_INT32: "i32",
    types_pb2.DT_INT64: "i64",
    types_pb2.DT_UINT8: "ui8",
    types_pb2.DT_UINT16: "ui16",
    types_pb2.DT_UINT32: "ui32",
    types_pb2.DT_UINT64: "ui64",
    types_pb2.DT_BOOL: "i1",
    types_pb2.DT_STRING: "string",
    types_pb2.DT_RESOURCE: "resource",
    types_pb2.DT_VARIANT: "variant",
    types_pb2.DT_COMPLEX64: "complex64",
    types_pb2.DT_COMPLEX128: "complex128",
}
_REF_OFFSET = 100  # DT_FLOAT_REF = DT_FLOAT + 100, ...
# TF's 8-bit quantized types hold plain integers (their range travels in separate tensors, as
# for tf.Dequantize): tensors of them are typed by their storage; `T` attributes keep the TF name.
_QUANTIZED_STORAGE: dict[int, str] = {types_pb2.DT_QINT8: "i8", types_pb2.DT_QUINT8: "ui8"}


def dtype_name(enum: int, where: str = "") -> str:
    """Our element-type name of a TF DataType enum value."""
    base = enum if enum < _REF_OFFSET else enum - _REF_OFFSET
    name = DTYPE_NAMES.get(base) or _QUANTIZED_STORAGE.get(base)
    if name is None:
        tf_name = types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else enum
        raise FrontendError(f"{where}: TF dtype {tf_name} has no TFLite tensor type")
    return name


def tensor_type(t: tf.Tensor, where: str = "") -> TensorType:
    """The IR type of a graph tensor, from TF's own shape inference."""
    shape = t.shape  # built anew by each access
    dims = shape.as_list() if shape.rank is not None else None
    return TensorType(
        None if dims is None else tuple(dims), dtype_name(t.dtype.as_datatype_enum, where)
    )


def _shape_attr(shape: Any) -> list[int | None] | None:
    if shape.unknown_rank:
        return None
    return [None if d.size < 0 else int(d.size) for d in shape.dim]


def _type_attr(enum: int) -> TypeAttr:
    name = DTYPE_NAMES.get(enum if enum < _REF_OFFSET else enum - _REF_OFFSET)
    if name is None:  # quantized TF types etc.: keep TF's lower-case name
        name = types_pb2.DataType.Name(enum)[3:].lower()
    return TypeAttr(name)


def _ndarray(proto: Any) -> np.ndarray:
    """A TensorProto's array; quantized types (numpy records of one field) as their storage."""
    arr = tf.make_ndarray(proto)
    if arr.dtype.names is not None and len(arr.dtype.names) == 1:
        arr = arr.view(arr.dtype.fields[arr.dtype.names[0]][0])
    return arr


def _string(value: bytes) -> str | bytes:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def convert_attr(av: attr_value_pb2.AttrValue) -> Any:
    """One TF AttrValue as an IR attribute value (see /work/contracts.md, tf dialect)."""
    kind = av.WhichOneof("value")
    if kind == "s":
        return _string(av.s)
    if kind == "i":
        return int(av.i)
    if kind == "f":
        return float(av.f)
    if kind == "b":
        return bool(av.b)
    if kind == "type":
        return _type_attr(av.type)
    if kind == "shape":
        return _shape_attr(av.shape)
    if kind == "tensor":
        return _ndarray(av.tensor)
    if kind == "func":
        return SymbolRef(av.func.name)
    if kind == "placeholder":
        return av.placeholder
    if kind == "list":
        lst = av.list
        if lst.s:
            return [_string(s) for s in lst.s]
        if lst.i:
            return [int(i) for i in lst.i]
        if lst.f:
            return [float(f) for f in lst.f]
        if lst.b:
            return [bool(b) for b in lst.b]
        if lst.type:
            return [_type_attr(t) for t in lst.type]
        if lst.shape:
            return [_shape_attr(s) for s in lst.shape]
        if lst.tensor:
            return [_ndarray(t) for t in lst.tensor]
        if lst.func:
            return [SymbolRef(f.name) for f in lst.func]
        return []
    return None


def convert_attrs(node_def: node_def_pb2.NodeDef) -> dict[str, Any]:
    """The IR attributes of a node: TF attrs sorted by name, TF-internal `_` attrs left out
    (they stay in `_node_def`)."""
    attrs = node_def.attr
    return {key: convert_attr(attrs[key]) for key in sorted(attrs) if not key.startswith("_")}


def flex_node_def(node_def: node_def_pb2.NodeDef, num_operands: int, node_name: str) -> bytes:
    """The NodeDef as the official converter embeds it in a Flex op: no name, one empty input
    per data operand, all attrs, the node name in `experimental_debug_info`.

    `node_def` is modified in place (callers pass a private copy)."""
    node_def.name = ""
    node_def.device = ""
    del node_def.input[:]
    node_def.input.extend([""] * num_operands)
    if "_output_shapes" in node_def.attr:
        del node_def.attr["_output_shapes"]
    node_def.ClearField("experimental_debug_info")
    node_def.experimental_debug_info.original_node_names.append(node_name)
    return _serialize_attrs_by_name(node_def)


def _serialize_attrs_by_name(node_def: node_def_pb2.NodeDef) -> bytes:
    """The NodeDef's bytes with fields in number order and attr entries sorted by name.

    The official exporter converts the op's MLIR attributes (a dictionary sorted by name)
    into the NodeDef's `attr` map and serializes it non-deterministically: a C++ protobuf Map
    iterates in hash order, seeded per map instance, so two official conversions of one
    model can write different bytes. Name order is that order before hashing, and stable.
    Python's deterministic mode is no help: upb sorts a key before its prefixes
    ("Tidx" before "T"), which is not name order. So the map entries are encoded here, each
    as protobuf writes one: field 5, length, then key (field 1) and value (field 2).
    """
    head = node_def_pb2.NodeDef()
    head.CopyFrom(node_def)
    for field in ("attr", "experimental_debug_info", "experimental_type"):
        head.ClearField(field)
    parts = [head.SerializeToString(deterministic=True)]  # fields 1-4
    attrs = node_def.attr
    for key in sorted(attrs, key=lambda k: k.encode("utf-8")):
        value = attrs[key].SerializeToString(deterministic=True)
        entry = _key_field(key) + _varint(len(value)) + value
        parts.append(b"\x2a" + _varint(len(entry)) + entry)
    if node_def.HasField("experimental_debug_info") or node_def.HasField("experimental_type"):
        tail = node_def_pb2.NodeDef()
        if node_def.HasField("experimental_debug_info"):
            tail.experimental_debug_info.CopyFrom(node_def.experimental_debug_info)
        if node_def.HasField("experimental_type"):
            tail.experimental_type.CopyFrom(node_def.experimental_type)
        parts.append(tail.SerializeToString(deterministic=True))
    return b"".join(parts)


@functools.lru_cache(maxsize=1024)
def _key_field(key: str) -> bytes:
    """A map entry's key field (1) and the tag of its value field (2)."""
    name = key.encode("utf-8")
    return b"\x0a" + _varint(len(name)) + name + b"\x12"


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL_VARINTS[n]
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_VARINTS = [bytes((n,)) for n in range(0x80)]


def make_node_def(op_type: str, attrs: dict[str, attr_value_pb2.AttrValue]) -> node_def_pb2.NodeDef:
    node_def = node_def_pb2.NodeDef(op=op_type)
    for key, value in attrs.items():
        node_def.attr[key].CopyFrom(value)
    return node_def


def as_str(name: str | bytes) -> str:
    """TF names come as str or bytes depending on the API."""
    return name.decode("utf-8") if isinstance(name, bytes) else name


def value_name(node_name: str, index: int) -> str:
    """The TF tensor name as an SSA name hint: node name for output 0, `node_i` otherwise."""
    return node_name if index == 0 else f"{node_name}_{index}"


# --- source locations ----------------------------------------------------------------------


def _package_dir(module: Any) -> str:
    return os.path.dirname(os.path.abspath(module.__file__))


class SourceLocator:
    """Finds the user's line in an op-creation traceback: the innermost frame outside
    TensorFlow, Keras, other installed packages, the Python standard library and tflconv."""

    def __init__(self) -> None:
        import keras

        # The root package is loaded before any of its modules: no import of the facade.
        tflconv = sys.modules[__name__.partition(".")[0]]
        # The interpreter's bin/ holds console scripts such as `tflconv` itself.
        scripts = os.path.dirname(os.path.abspath(sys.executable))
        roots = [
            _package_dir(tf),
            _package_dir(keras),
            _package_dir(tflconv),
            _package_dir(os),
            scripts,
        ]
        self._roots = tuple(os.path.join(r, "") for r in roots)
        self._internal: dict[str, bool] = {}

    def is_internal(self, filename: str) -> bool:
        known = self._internal.get(filename)
        if known is None:
            known = (
                "site-packages" in filename
                or "dist-packages" in filename
                or filename.startswith("<frozen")
                or os.path.abspath(filename).startswith(self._roots)
            )
            self._internal[filename] = known
        return known

    def from_traceback(self, traceback: Any) -> SourceLine | None:
        if not traceback:
            return None
        # TF's own filter drops its internal frames in C++ (4x faster than scanning them all).
        frames = traceback.get_user_frames() if hasattr(traceback, "get_user_frames") else traceback
        for i in range(len(frames) - 1, -1, -1):
            frame = frames[i]
            if not self.is_internal(frame.filename):
                return SourceLine(frame.filename, int(frame.lineno))
        return None


@contextlib.contextmanager
def short_tracebacks() -> Iterator[None]:
    """While a model is traced: TF records op-creation tracebacks without the frames of
    Keras, tflconv and the standard library (a filter TF applies in C++), so
    `SourceLocator.from_traceback` looks at a few frames per op instead of ~20. Only frames
    `is_internal` skips are dropped: the line it finds is the same."""
    import keras

    tflconv = sys.modules[__name__.partition(".")[0]]
    # TensorFlow's own frames are dropped by TF itself.
    roots = (_package_dir(keras), _package_dir(tflconv), _package_dir(os))
    with _FrameFilter(_internal_files(roots)):
        yield


class _FrameFilter(tf_stack.StackTraceFilter):
    """A TF stack-trace filter dropping the frames of the given files."""

    def __init__(self, filenames: frozenset[str]) -> None:
        super().__init__()
        self._filenames = filenames

    def get_filtered_filenames(self) -> frozenset[str]:
        return self._filenames | self.parent.get_filtered_filenames()


@functools.lru_cache(maxsize=4)
def _internal_files(roots: tuple[str, ...]) -> frozenset[str]:
    """Every Python file under the package roots (the names their frames carry), except in
    installed packages under them (the standard library's site-packages)."""
    files = []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages")]
            files.extend(os.path.join(folder, n) for n in names if n.endswith(".py"))
    return frozenset(files)


_FUNCTION_SUFFIX = re.compile(r"(_\d+)+$")


def function_base_name(name: str) -> str:
    """`__inference_predict_168` -> `predict`, `__inference_while_body_33_212` -> `while_body`:
    SavedModel saving and loading renumber (and prefix) function names."""
    if name.startswith("__inference_"):
        name = name[len("__inference_") :]
    return _FUNCTION_SUFFIX.sub("", name)


class SavedDebugInfo:
    """Source lines from a SavedModel's `debug/saved_model_debug_info.pb` (GraphDebugInfo).

    Keys there are `node@function` with the function names as saved; loading renumbers the
    functions, so lookups match on the function name without its numeric suffix."""

    def __init__(self, path: str, locator: SourceLocator) -> None:
        from tensorflow.core.framework import graph_debug_info_pb2

        with open(path, "rb") as f:
            self._info = graph_debug_info_pb2.GraphDebugInfo.FromString(f.read())
        self._locator = locator
        self._keys: dict[tuple[str, str], str] = {}
        names = list(self._info.name_to_trace_id) + list(self._info.traces)
        for key in names:
            node, _, function = key.partition("@")
            self._keys.setdefault((node, function_base_name(function)), key)
        self._cache: dict[str, SourceLine | None] = {}

    def lookup(self, node: str, function: str) -> SourceLine | None:
        key = self._keys.get((node, function_base_name(function)))
        if key is None:
            return None
        if key not in self._cache:
            self._cache[key] = self._resolve(key)
        return self._cache[key]

    def _resolve(self, key: str) -> SourceLine | None:
        info = self._info
        if key in info.name_to_trace_id:
            trace = info.traces_by_id[info.name_to_trace_id[key]]
            frames = [info.frames_by_id[i] for i in trace.frame_id if i in info.frames_by_id]
        else:
            frames = list(info.traces[key].file_line_cols)
        for frame in reversed(frames):  # innermost frame last
            filename = info.files[frame.file_index] if frame.file_index < len(info.files) else ""
            if filename and not self._locator.is_internal(filename):
                return SourceLine(filename, int(frame.line))
        return None


def shape_list(shape: Any) -> list[int | None] | None:
    """A TensorShape / sequence as a list with None for unknown dims (None: unknown rank)."""
    shape = tf.TensorShape(shape)
    return None if shape.rank is None else shape.as_list()


def tensor_array(tensor: Any) -> np.ndarray:
    """`tf.make_ndarray(tensor)` (a TensorProto) without its copy of packed contents: a
    read-only view of the proto's `tensor_content` bytes (one copy of a large constant
    fewer; constants are read-only in the IR anyway, as variable reads are)."""
    content = tensor.tensor_content
    if not content:
        return tf.make_ndarray(tensor)
    dtype = tf.dtypes.as_dtype(tensor.dtype).as_numpy_dtype
    shape = [d.size for d in tensor.tensor_shape.dim]
    return np.frombuffer(content, dtype=dtype).reshape(shape)


def numpy_of_eager(t: Any) -> np.ndarray:
    return np.asarray(t.numpy())
