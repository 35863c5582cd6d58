""".tflite FlatBuffer bytes -> IR (tfl dialect).

    module = read_flatbuffer(open("model.tflite", "rb").read())
    module = read_flatbuffer_file("model.tflite")     # memory-mapped: large models, no copy

- each subgraph becomes a function (same name); SignatureDefs become function attributes
  (`entry`, `signature_key`, `input_names`, `output_names`);
- builtin ops become `tfl.<name>` with their options as attributes (enum member names, lists,
  `SymbolRef` for subgraph indices); custom and Flex ops become `tfl.custom`;
- tensors with data become `arith.constant` ops holding read-only numpy views of the input
  bytes (no copy; strings, int4 and buffers outside the FlatBuffer are decoded/copied);
- absent optional inputs (-1) become one `tfl.no_value` per function;
- quantization becomes `TensorType.quant`, `shape_signature` -1 dims become None;
- tensor names become value names and (split on ";", the official fused-name separator)
  op locations;
- metadata entries go to `module.attributes["metadata"]` (name -> bytes), except those the
  writer recomputes (`min_runtime_version`, `tflconv_version`, `buffer_location`);
  CONVERSION_METADATA is parsed into `module.attributes["conversion_metadata"]` (without the
  model hash, which describes the old structure) so a rewrite keeps TF version, model type and
  options; the description goes to `module.attributes["description"]`;
- files in a ZIP archive appended after the FlatBuffer (the associated files of TFLite model
  metadata) go to `module.attributes["associated_files"]` (name -> bytes); the writer appends
  them again.

The file is untrusted input: every index (tensor, buffer, opcode, subgraph), vector length, enum
value, dimension and union type is checked against the file as it is read, and the module is
run through the IR verifier before it is returned. Whatever is wrong surfaces as one
`ReadError` naming the subgraph, operator or tensor, never as a raw IndexError/ValueError.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import mmap
import os
import zipfile
from typing import Any

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.location import UNKNOWN, Location
from tflconv.core.opdef import OPDEFS
from tflconv.core.types import NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType, numpy_dtype
from tflconv.core.verifier import VerifyError, verify
from tflconv.dialects import tfl
from tflconv.dialects.tfl_ops import OptionsTable, enum_members
from tflconv.tflite.generated import conversion_metadata as cm
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.writer import (
    CONVERSION_METADATA,
    FILE_IDENTIFIER,
    INTERMEDIATES,
    MIN_RUNTIME_VERSION,
    TENSOR_TYPES,
    TFLCONV_VERSION,
)

DTYPES: dict[int, str] = {v: k for k, v in TENSOR_TYPES.items()}
"""TFLite TensorType -> IR element type."""

SKIPPED_METADATA = frozenset({MIN_RUNTIME_VERSION, TFLCONV_VERSION, "buffer_location"})

_UNION_TABLES = {
    1: {v: k for k, v in vars(fb.BuiltinOptions).items() if not k.startswith("_")},
    2: {v: k for k, v in vars(fb.BuiltinOptions2).items() if not k.startswith("_")},
}


MAX_ZERO_TENSOR_BYTES = 1 << 30
"""Largest zero-filled tensor (a variable's initial value) the reader materialises: a corrupt
shape must not make it allocate terabytes."""

MAX_ASSOCIATED_BYTES = 1 << 30
"""Largest total uncompressed size of the appended archive's files (a ZIP bomb guard)."""


class ReadError(Exception):
    """The bytes are not a .tflite model this reader can represent."""


class UnsupportedModelError(ReadError):
    """A well-formed model using something the IR cannot represent (sparse tensors, custom
    quantization, an operator or tensor type newer than this schema): not a corrupt file."""


def read_flatbuffer(data: bytes | bytearray | memoryview, *, verify_ir: bool = True) -> Module:
    """Parse .tflite bytes into a Module of tfl ops (constants share the input's memory).

    Raises `ReadError` for anything malformed, including a structure the IR verifier rejects
    (wrong operand counts, bad attribute values, ...) unless `verify_ir=False`."""
    return _read(data if isinstance(data, bytes) else bytes(data), verify_ir)


def read_flatbuffer_file(path: str | os.PathLike, *, verify_ir: bool = True) -> Module:
    """`read_flatbuffer` of a .tflite file, memory-mapped instead of read: constants are
    read-only views of the mapping, so a large model costs only the pages that are touched.
    The file is closed before this returns; the mapping lives as long as the module's arrays
    (the file may be replaced or deleted meanwhile: the mapping keeps the old contents).
    Raises `OSError` when the file cannot be opened, `ReadError` as `read_flatbuffer`."""
    mapped = map_file(path)
    if not isinstance(mapped, mmap.mmap):
        return _read(mapped, verify_ir)  # an empty file: the ReadError says why
    try:
        return _read(mapped, verify_ir)
    finally:
        _release(mapped)


def map_file(path: str | os.PathLike) -> mmap.mmap | bytes:
    """The file's contents as a read-only memory map (`b""` for an empty file, which mmap
    refuses); the file itself is closed on return. Slicing gives bytes, `np.frombuffer` and
    `memoryview` give views: what `read_flatbuffer_file`, and tools reading large models
    (inspect, analyze), need instead of `Path.read_bytes()`."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _release(mapped: mmap.mmap) -> None:
    """Unmap now unless the module holds views of the mapping (then it goes with them)."""
    with contextlib.suppress(BufferError):  # exported views: constants share the mapping
        mapped.close()


def _read(buf: bytes | mmap.mmap, verify_ir: bool) -> Module:
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        found = buf[4:8] if len(buf) >= 8 else buf[:8]
        raise ReadError(
            f"not a .tflite model: expected the FlatBuffer file identifier {FILE_IDENTIFIER!r} "
            f"at bytes 4..7, found {found!r} ({len(buf)} bytes)"
        )
    try:
        model = fb.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as e:  # noqa: BLE001 (any decoding failure means a corrupt file)
        raise ReadError(f"corrupt .tflite FlatBuffer: {type(e).__name__}: {e}") from e
    if not model.subgraphs:
        raise ReadError("corrupt .tflite FlatBuffer: the model has no subgraphs")
    module = _Reader(buf, model).read()
    if verify_ir:
        try:
            verify(module)
        except VerifyError as e:
            first = e.diagnostics[0].render().split("\n")[0] if e.diagnostics else str(e)
            more = (
                f" (and {len(e.diagnostics) - 1} more problems)" if len(e.diagnostics) > 1 else ""
            )
            raise ReadError(f"invalid model structure: {' '.join(first.split())}{more}") from e
    return module


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def location_of(tensor_name: str) -> Location:
    """The official exporter names tensors after the op's (fused) location, joined with ";"."""
    if not tensor_name:
        return UNKNOWN
    return Location(tuple((part, None) for part in tensor_name.split(";") if part))


def unpack_int4(raw: np.ndarray, count: int) -> np.ndarray:
    """Inverse of `writer.pack_int4`: sign-extended int8 values, low nibble first."""
    low = (raw & 0x0F).astype(np.int8)
    high = (raw >> 4).astype(np.int8)
    both = np.empty(raw.size * 2, np.int8)
    both[0::2], both[1::2] = low, high
    return ((both[:count] ^ 8) - 8).astype(np.int8)


def decode_strings(raw: np.ndarray) -> np.ndarray:
    """TFLite string tensor bytes -> 1-D object array of bytes."""
    data = raw.tobytes()
    n = int(np.frombuffer(data, "<i4", 1)[0])
    offsets = np.frombuffer(data, "<i4", n + 1, 4)
    out = np.empty(n, dtype=object)
    out[:] = [data[offsets[i] : offsets[i + 1]] for i in range(n)]
    return out


class _Reader:
    def __init__(self, buf: bytes | mmap.mmap, model: fb.ModelT) -> None:
        self.buf = buf
        self.model = model
        self.buffers = model.buffers or []
        self.opcodes = [self._opcode(i, oc) for i, oc in enumerate(model.operatorCodes or [])]
        self.fn_names = self._function_names()

    def read(self) -> Module:
        model = self.model
        functions = [
            self._function(i, sg, self.fn_names[i]) for i, sg in enumerate(model.subgraphs or [])
        ]
        module = Module(functions)
        for sig in model.signatureDefs or []:
            self._signature(sig, functions)
        if model.description is not None:
            module.attributes["description"] = _str(model.description)
        metadata: dict[str, bytes] = {}
        for md in model.metadata or []:
            name = _str(md.name)
            data = self._buffer_bytes(md.buffer)
            if name in SKIPPED_METADATA:
                continue
            if name == CONVERSION_METADATA:
                parsed = parse_conversion_metadata(bytes(data))
                if parsed is not None:
                    module.attributes["conversion_metadata"] = parsed
                    continue
            metadata[name] = bytes(data)
        if metadata:
            module.attributes["metadata"] = metadata
        files = read_associated_files(self.buf)
        if files:
            module.attributes["associated_files"] = files
        return module

    # --- model-level ---------------------------------------------------------------------------
    def _opcode(self, i: int, oc: fb.OperatorCodeT) -> tuple[str, str | None]:
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if code == fb.BuiltinOperator.CUSTOM:
            return tfl.CUSTOM, _str(oc.customCode)
        if (
            code not in tfl.BUILTIN_NAMES
            or code == fb.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES
        ):
            raise UnsupportedModelError(
                f"operator code #{i} has builtin code {code}, unknown to this schema"
            )
        return tfl.tfl_op_name(code), None

    def _function_names(self) -> list[str]:
        names: list[str] = []
        for i, sg in enumerate(self.model.subgraphs or []):
            base = _str(sg.name) or f"subgraph_{i}"
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return names

    def _signature(self, sig: fb.SignatureDefT, functions: list[Function]) -> None:
        index = int(sig.subgraphIndex)
        if not 0 <= index < len(functions):
            raise ReadError(f"signature {_str(sig.signatureKey)!r} names subgraph {index}")
        fn = functions[index]
        if fn.attributes.get("entry"):
            return  # a second signature on the same subgraph: keep the first
        sg = self.model.subgraphs[index]
        by_tensor_in = {int(t.tensorIndex): _str(t.name) for t in sig.inputs or []}
        by_tensor_out = {int(t.tensorIndex): _str(t.name) for t in sig.outputs or []}
        tensors = sg.tensors or []
        fn.attributes["entry"] = True
        fn.attributes["signature_key"] = _str(sig.signatureKey)
        fn.attributes["input_names"] = [
            by_tensor_in.get(int(i)) or _str(tensors[int(i)].name) for i in _ints(sg.inputs)
        ]  # the subgraph inputs were checked when the function was read
        fn.attributes["output_names"] = [
            by_tensor_out.get(int(i)) or f"output_{k}" for k, i in enumerate(_ints(sg.outputs))
        ]

    # --- tensors -------------------------------------------------------------------------------
    def _tensor_type(self, t: fb.TensorT, where: str) -> TensorType:
        dtype = DTYPES.get(int(t.type))
        if dtype is None:
            name = {v: k for k, v in enum_members("TensorType").items()}.get(int(t.type))
            error = ReadError if name is None else UnsupportedModelError  # corrupt / newer
            raise error(
                f"{where}: tensor {_str(t.name)!r} has type {name or int(t.type)}, not supported"
            )
        if t.sparsity is not None:
            raise UnsupportedModelError(
                f"{where}: tensor {_str(t.name)!r} is sparse; sparse tensors are not supported"
            )
        dims = _ints(t.shape)
        if any(d < -1 for d in dims):
            raise ReadError(f"{where}: tensor {_str(t.name)!r} has shape {dims}")
        if t.shapeSignature is not None and len(t.shapeSignature):
            sig = _ints(t.shapeSignature)
            if any(d < -1 for d in sig) or (t.shape is not None and len(sig) != len(dims)):
                raise ReadError(
                    f"{where}: tensor {_str(t.name)!r} has shape_signature {sig} for shape {dims}"
                )
            shape: tuple[int | None, ...] | None = tuple(None if d < 0 else d for d in sig)
        elif t.shape is None and not t.hasRank:
            shape = None
        else:
            shape = tuple(None if d < 0 else d for d in dims)
        try:
            return TensorType(shape, dtype, self._quant(t, shape, where))
        except ValueError as e:  # QuantParams' own consistency checks
            raise ReadError(f"{where}: tensor {_str(t.name)!r}: {e}") from e

    def _quant(
        self, t: fb.TensorT, shape: tuple[int | None, ...] | None, where: str
    ) -> QuantParams | None:
        q = t.quantization
        if q is None:
            return None
        if q.detailsType == fb.QuantizationDetails.BlockwiseQuantization:
            return None  # carried by the constant op (tfl.BLOCKWISE_CONST), not the type
        if q.detailsType:
            raise UnsupportedModelError(
                f"{where}: tensor {_str(t.name)!r} uses custom/blockwise quantization details, "
                "not supported"
            )
        if q.scale is None or not len(q.scale):
            return None  # float tensor (min/max alone are calibration leftovers)
        scale = tuple(float(s) for s in q.scale)
        zp = tuple(int(z) for z in q.zeroPoint) if q.zeroPoint is not None else ()
        if len(zp) != len(scale):
            zp = zp[:1] * len(scale) if len(zp) == 1 else (0,) * len(scale)
        axis = int(q.quantizedDimension) if (len(scale) > 1 or q.quantizedDimension) else None
        if axis is not None and (axis < 0 or (shape is not None and axis >= max(len(shape), 1))):
            raise ReadError(
                f"{where}: tensor {_str(t.name)!r} is quantized along dimension {axis} of a "
                f"rank-{len(shape) if shape is not None else '?'} tensor"
            )
        mins = tuple(float(x) for x in q.min) if q.min is not None else ()
        maxs = tuple(float(x) for x in q.max) if q.max is not None else ()
        if len(mins) != len(maxs):
            raise ReadError(
                f"{where}: tensor {_str(t.name)!r} has {len(mins)} quantization min values "
                f"but {len(maxs)} max values"
            )
        return QuantParams(scale, zp, axis, mins, maxs)

    def _buffer_bytes(self, index: int) -> np.ndarray:
        """The raw bytes of buffer `index` as a uint8 view (empty when it holds none)."""
        if not 0 <= index < len(self.buffers):
            raise ReadError(f"buffer index {index} out of range ({len(self.buffers)} buffers)")
        b = self.buffers[index]
        if b.data is not None and len(b.data):
            return b.data
        if b.offset > 1:  # stored after the FlatBuffer ("buffer offset" large-model layout)
            end = int(b.offset) + int(b.size)
            if b.size < 0 or end > len(self.buf):
                raise ReadError(f"buffer {index} points past the end of the file")
            return np.frombuffer(self.buf, np.uint8, int(b.size), int(b.offset))
        return np.zeros(0, np.uint8)

    def _constant_array(self, t: fb.TensorT, type: TensorType, where: str) -> np.ndarray | None:
        """The tensor's data, or None when it has none (an activation)."""
        raw = self._buffer_bytes(int(t.buffer))
        if t.isVariable:
            raw = np.zeros(0, np.uint8)  # variable tensors start at zero
        shape = tuple(1 if d is None else d for d in type.shape or ())
        count = math.prod(shape)  # Python ints: a corrupt shape must not wrap around
        if not raw.size:
            if t.isVariable or (type.shape is not None and count == 0 and type.dtype != "string"):
                if type.dtype in ("string", "i4"):
                    raise ReadError(f"{where}: variable tensor {_str(t.name)!r} of type {type}")
                dt = np.dtype(np.uint16) if type.dtype == "bf16" else numpy_dtype(type.dtype)
                if count * dt.itemsize > MAX_ZERO_TENSOR_BYTES:
                    raise ReadError(
                        f"{where}: variable tensor {_str(t.name)!r} of type {type} would need "
                        f"{count * dt.itemsize} bytes"
                    )
                return np.zeros(shape, dtype=dt)
            return None
        if type.dtype == "string":
            return decode_strings(raw).reshape(shape)
        if type.dtype == "i4":
            return unpack_int4(raw, count).reshape(shape)
        dt = np.dtype(np.uint16) if type.dtype == "bf16" else numpy_dtype(type.dtype)
        if raw.size != count * dt.itemsize:
            raise ReadError(
                f"{where}: tensor {_str(t.name)!r} of type {type} has {raw.size} bytes of data, "
                f"expected {count * dt.itemsize}"
            )
        return raw.view(dt).reshape(shape)

    # --- subgraphs -----------------------------------------------------------------------------
    def _function(self, index: int, sg: fb.SubGraphT, name: str) -> Function:
        where = f"subgraph {index} ({name})"
        tensors = sg.tensors or []
        types = [self._tensor_type(t, f"{where}: tensor {i}") for i, t in enumerate(tensors)]
        names = [_str(t.name) for t in tensors]
        inputs = _ints(sg.inputs)
        bad = [i for i in inputs if not 0 <= i < len(tensors)]
        if bad:
            raise ReadError(
                f"{where}: the subgraph inputs name tensor {bad[0]}, but there are {len(tensors)}"
            )
        if len(set(inputs)) != len(inputs):
            raise ReadError(f"{where}: the subgraph inputs {inputs} name a tensor twice")
        fn = Function(name, [types[i] for i in inputs], [names[i] or None for i in inputs])
        values: dict[int, Value] = dict(zip(inputs, fn.args))
        no_value: list[Value] = []

        def get(i: int, user: str) -> Value:
            if i == -1:
                if not no_value:
                    op = Operation(tfl.NO_VALUE, (), [NO_VALUE_TYPE])
                    fn.block.append(op)
                    no_value.append(op.result)
                return no_value[0]
            if not 0 <= i < len(tensors):
                raise ReadError(f"{where}: {user} uses tensor {i}, but there are {len(tensors)}")
            if i in values:
                return values[i]
            t = tensors[i]
            try:
                array = self._constant_array(t, types[i], where)
            except (ValueError, IndexError) as e:  # malformed string/packed data
                raise ReadError(f"{where}: cannot decode tensor {i} ({names[i]!r}): {e}") from e
            if array is None:
                raise ReadError(
                    f"{where}: {user} reads tensor {i} ({names[i]!r}), which no earlier op "
                    "produces and which has no data"
                )
            q = t.quantization
            if q is not None and q.detailsType == fb.QuantizationDetails.BlockwiseQuantization:
                k = int(q.details.scales)
                if not 0 <= k < len(tensors):
                    raise ReadError(f"{where}: tensor {i} names scales tensor {k}, out of range")
                scales = self._constant_array(tensors[k], types[k], where)
                op = Operation(
                    tfl.BLOCKWISE_CONST,
                    (),
                    [types[i]],
                    {"value": array, "scales": scales, "block_size": int(q.details.blockSize)},
                    location=location_of(names[i]),
                    result_names=[names[i] or None],
                )
            else:
                op = constant(array, location_of(names[i]), names[i] or None, types[i])
            if t.isVariable:
                op.attributes["is_variable"] = True
            fn.block.append(op)
            values[i] = op.result
            return op.result

        for k, op in enumerate(sg.operators or []):
            new = self._operator(k, op, get, types, names, where)
            if any(tensors[j].isVariable for j in _ints(op.outputs) if 0 <= j < len(tensors)):
                new.attributes["_is_variable"] = True  # a state the op rewrites (fuse-recurrent)
            fn.block.append(new)
            for j, result in zip(_ints(op.outputs), new.results):
                if j in values:  # SSA: a tensor has one producer (or is an input/constant)
                    raise ReadError(
                        f"{where}: operator {k} ({new.name}) writes tensor {j} "
                        f"({names[j]!r}), which already has a value"
                    )
                values[j] = result
        fn.set_outputs([get(i, "the subgraph outputs") for i in _ints(sg.outputs)])
        return fn

    def _operator(
        self, k: int, op: fb.OperatorT, get: Any, types: list, names: list, where: str
    ) -> Operation:
        index = int(op.opcodeIndex)
        if not 0 <= index < len(self.opcodes):
            raise ReadError(f"{where}: operator {k} has opcode index {index} out of range")
        op_name, custom_code = self.opcodes[index]
        user = f"operator {k} ({op_name})"
        operands = [get(i, user) for i in _ints(op.inputs)]
        outputs = _ints(op.outputs)
        if any(not 0 <= j < len(types) for j in outputs):
            raise ReadError(
                f"{where}: {user} has outputs {outputs} out of range ({len(types)} tensors)"
            )
        if len(set(outputs)) != len(outputs):
            raise ReadError(f"{where}: {user} writes tensor(s) {outputs} twice")
        if op_name == tfl.CUSTOM:
            attrs: dict[str, Any] = {
                "custom_code": custom_code,
                "custom_options": self._custom_options(op),
            }
        else:
            attrs = self._options(op, op_name, f"{where}: {user}")
        if op.intermediates is not None and len(op.intermediates):
            bad = [int(i) for i in op.intermediates if int(i) >= len(types)]
            if bad:
                raise ReadError(
                    f"{where}: {user} has intermediate tensor {bad[0]} out of range "
                    f"({len(types)} tensors)"
                )
            attrs[INTERMEDIATES] = [
                (names[int(i)], types[int(i)]) for i in op.intermediates if int(i) >= 0
            ]
        location = location_of(names[outputs[0]]) if outputs else UNKNOWN
        return Operation(
            op_name,
            operands,
            [types[j] for j in outputs],
            attrs,
            location=location,
            result_names=[names[j] or None for j in outputs],
        )

    def _custom_options(self, op: fb.OperatorT) -> bytes:
        if op.customOptions is not None and len(op.customOptions):
            return bytes(op.customOptions)
        if op.largeCustomOptionsOffset > 1:
            start, size = int(op.largeCustomOptionsOffset), int(op.largeCustomOptionsSize)
            if size < 0 or start + size > len(self.buf):
                raise ReadError(f"custom options at {start}+{size} point past the end of the file")
            return self.buf[start : start + size]
        return b""

    def _options(self, op: fb.OperatorT, op_name: str, where: str) -> dict[str, Any]:
        declared = OPDEFS[op_name].options
        attrs: dict[str, Any] = {}
        for union, kind, obj in (
            (1, op.builtinOptionsType, op.builtinOptions),
            (2, op.builtinOptions2Type, op.builtinOptions2),
        ):
            if not kind or obj is None:
                continue
            table_name = _UNION_TABLES[union].get(int(kind))
            if table_name != declared:
                raise ReadError(f"{where} carries {table_name} options; {op_name} uses {declared}")
            attrs.update(self._option_values(tfl.OPTIONS[table_name], obj, where))
        return attrs

    def _option_values(self, table: OptionsTable, obj: Any, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in table.fields:
            value = getattr(obj, f.attr)
            if value is None:
                continue  # an absent vector or string
            kind = f.kind
            if kind == "bool":
                out[f.name] = bool(value)
            elif kind == "int":
                out[f.name] = int(value)
            elif kind == "float":
                # The shortest decimal that round-trips through float32: 0.2, not 0.2000000029.
                out[f.name] = float(str(np.float32(value)))
            elif kind == "string":
                out[f.name] = _str(value)
            elif kind == "enum":
                out[f.name] = _enum_name(f.type, int(value), f"{where}: option {f.name}")
            elif kind == "enum_vector":
                out[f.name] = [
                    _enum_name(f.type, int(v), f"{where}: option {f.name}") for v in value
                ]
            elif kind == "vector":
                out[f.name] = np.asarray(value).tolist()
            elif kind == "bytes":
                out[f.name] = bytes(np.asarray(value, dtype=np.uint8))
            elif kind == "subgraph":
                out[f.name] = self._symbol(int(value), where)
            elif kind == "subgraph_vector":
                out[f.name] = [self._symbol(int(v), where) for v in value]
        return out

    def _symbol(self, index: int, where: str) -> SymbolRef:
        if not 0 <= index < len(self.fn_names):
            raise ReadError(f"{where} refers to subgraph {index}; there are {len(self.fn_names)}")
        return SymbolRef(self.fn_names[index])


def _enum_name(enum: str, value: int, where: str) -> str:
    """The member name of an enum value; a value the schema does not define is corrupt."""
    name = _enum_names(enum).get(value)
    if name is None:
        raise ReadError(f"{where} has value {value}, not a member of enum {enum}")
    return name


@functools.cache
def _enum_names(enum: str) -> dict[int, str]:
    return {v: k for k, v in enum_members(enum).items()}


def read_associated_files(data: bytes | mmap.mmap) -> dict[str, bytes]:
    """The files of a ZIP archive appended after the FlatBuffer (name -> contents, in archive
    order); {} when there is none. This is how tflite-support packs the associated files
    (labels, vocabularies) of TFLite model metadata."""
    if b"PK\x05\x06" not in data[-(1 << 16) - 22 :]:  # no end-of-archive record: no ZIP
        return {}
    try:
        # A memory map is a seekable file itself (io.BytesIO would copy the whole model).
        archive = _SeekableMap(data) if isinstance(data, mmap.mmap) else io.BytesIO(data)
        with zipfile.ZipFile(archive) as zf:
            infos = [info for info in zf.infolist() if not info.is_dir()]
            if sum(info.file_size for info in infos) > MAX_ASSOCIATED_BYTES:
                return {}  # declared sizes past any real label file: a corrupt (or bomb) archive
            return {info.filename: zf.read(info) for info in infos if info.filename}
    except Exception:  # noqa: BLE001
        # zipfile raises BadZipFile, OSError, EOFError, ValueError, IndexError (an empty entry
        # name), KeyError, RuntimeError (encryption), zlib.error ... on corrupt archives. The
        # signature bytes can also occur by chance in weights near the end of a model without
        # an archive; like tflite-support, an unreadable archive counts as no archive.
        return {}


class _SeekableMap:
    """A memory map as zipfile's file object: mmap has no `seekable()` before Python 3.13."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self._mapped = mapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mapped, name)

    def seekable(self) -> bool:
        return True


def _ints(values: Any) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def parse_conversion_metadata(data: bytes) -> dict[str, Any] | None:
    """CONVERSION_METADATA bytes -> the writer's `conversion_metadata` dict (no model_hash);
    None when the bytes do not parse."""
    try:
        meta = cm.ConversionMetadataT.InitFromPackedBuf(data, 0)
    except Exception:  # noqa: BLE001 (informational entry: unreadable means absent)
        return None
    out: dict[str, Any] = {}
    model_types = {v: k for k, v in vars(cm.ModelType).items() if not k.startswith("_")}
    modes = {v: k for k, v in vars(cm.ModelOptimizationMode).items() if not k.startswith("_")}
    env = meta.environment
    if env is not None:
        if env.tensorflowVersion is not None:
            out["tensorflow_version"] = _str(env.tensorflowVersion)
        out["api_version"] = int(env.apiVersion)
        out["model_type"] = model_types.get(int(env.modelType), int(env.modelType))
    opts = meta.options
    if opts is not None:
        out["allow_custom_ops"] = bool(opts.allowCustomOps)
        out["enable_select_tf_ops"] = bool(opts.enableSelectTfOps)
        out["force_select_tf_ops"] = bool(opts.forceSelectTfOps)
        out["model_optimization_modes"] = [
            modes.get(int(m), int(m)) for m in _ints(opts.modelOptimizationModes)
        ]
    return out
