"""IR (tfl dialect) -> .tflite FlatBuffer bytes.

    data = write_flatbuffer(module, conversion_metadata={"tensorflow_version": "2.21.0"})
    write_flatbuffer_file(module, "model.tflite")   # streamed to the file (large models)

Layout choices (see docs/schema.md):
- one subgraph per function in module order (the first is `main`); entry functions (attribute
  `entry`; the first function when none has it) get SignatureDefs;
- buffer 0 is the empty sentinel and every non-constant tensor uses it (the schema allows it and
  LiteRT loads it; the official exporter gives each activation its own empty buffer instead);
- constants get data buffers, de-duplicated by content (not for constants a function returns),
  each starting at a 16-byte aligned file offset (`Buffer.data` is `force_align: 16`); models
  near or over 2 GB (or with `buffer_offset=True`) keep the data after the FlatBuffer
  (`Buffer.offset`/`size`, see `buffers.py` and docs/file_format.md);
- op versions and `min_runtime_version` follow the official rules (`versions.py`);
- metadata: `min_runtime_version`, `tflconv_version`, `module.attributes["metadata"]` entries,
  then `CONVERSION_METADATA`;
- `module.attributes["associated_files"]` (name -> bytes, the files of TFLite model metadata)
  are packed into a ZIP archive appended after the FlatBuffer, as tflite-support does.
The same module always gives the same bytes; weights are copied once into the builder (no
per-element Python), or not at all in the offset layout when streamed to a file.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, BinaryIO

import flatbuffers
import numpy as np

from tflconv.core import io as file_io
from tflconv.core.ir import REQUIRED, RETURN, Function, Module, Operation, Value
from tflconv.core.location import MAX_TENSOR_NAME_PARTS
from tflconv.core.opdef import OPDEFS
from tflconv.core.types import NO_VALUE_TYPE, SymbolRef, TensorType, TypeAttr
from tflconv.dialects import tfl
from tflconv.dialects.tfl_ops import OptionField, OptionsTable, enum_members
from tflconv.tflite import versions
from tflconv.tflite.buffers import (  # noqa: F401  (re-exported: the writer's public names)
    BUFFER_ALIGNMENT,
    BUFFER_LOCATION,
    BUFFER_LOCATION_VALUE,
    FILE_IDENTIFIER,
    BufferTable,
    PackedModel,
    WriteError,
    as_bytes,
    constant_bytes,
    data_nbytes,
    encode_strings,
    needs_buffer_offset,
    pack_int4,
    pack_layout,
    pack_model,
)
from tflconv.tflite.generated import conversion_metadata as cm
from tflconv.tflite.generated import tflite_schema as fb

SCHEMA_VERSION = 3
DEFAULT_DESCRIPTION = "tflconv Converted."
MIN_RUNTIME_VERSION = "min_runtime_version"
CONVERSION_METADATA = "CONVERSION_METADATA"
TFLCONV_VERSION = "tflconv_version"
RESERVED_METADATA = frozenset(
    {MIN_RUNTIME_VERSION, CONVERSION_METADATA, TFLCONV_VERSION, BUFFER_LOCATION}
)
INTERMEDIATES = "_intermediates"
"""Private op attribute: [(name, TensorType)] of an op's intermediate tensors (quantized LSTMs)."""

# IR element type -> TFLite TensorType.
TENSOR_TYPES: dict[str, int] = {
    "f32": fb.TensorType.FLOAT32,
    "f16": fb.TensorType.FLOAT16,
    "i32": fb.TensorType.INT32,
    "ui8": fb.TensorType.UINT8,
    "i64": fb.TensorType.INT64,
    "string": fb.TensorType.STRING,
    "i1": fb.TensorType.BOOL,
    "i16": fb.TensorType.INT16,
    "complex64": fb.TensorType.COMPLEX64,
    "i8": fb.TensorType.INT8,
    "f64": fb.TensorType.FLOAT64,
    "complex128": fb.TensorType.COMPLEX128,
    "ui64": fb.TensorType.UINT64,
    "resource": fb.TensorType.RESOURCE,
    "variant": fb.TensorType.VARIANT,
    "ui32": fb.TensorType.UINT32,
    "ui16": fb.TensorType.UINT16,
    "i4": fb.TensorType.INT4,
    "bf16": fb.TensorType.BFLOAT16,
}
_TENSOR_TYPE_NAMES = {v: k for k, v in enum_members("TensorType").items()}

CONVERSION_METADATA_KEYS = frozenset(
    {
        "tensorflow_version",
        "api_version",
        "model_type",
        "model_hash",
        "allow_custom_ops",
        "enable_select_tf_ops",
        "force_select_tf_ops",
        "model_optimization_modes",
    }
)


def write_flatbuffer(
    module: Module,
    *,
    conversion_metadata: dict[str, Any] | None = None,
    description: str | None = None,
    buffer_offset: bool | None = None,
) -> bytes:
    """Serialize a module of tfl ops to .tflite bytes.

    `conversion_metadata` (flat dict, keys in `CONVERSION_METADATA_KEYS`; `{}` for all
    defaults) fills the CONVERSION_METADATA entry; when None, `module.attributes
    ["conversion_metadata"]` (kept by the reader) is used, and without that the entry is left
    out (TF's `exclude_conversion_metadata`). `model_hash` is computed unless given.
    `description` defaults to `module.attributes["description"]`, else "tflconv Converted.".
    `buffer_offset`: True stores constant data after the FlatBuffer (`Buffer.offset`/`size`,
    LiteRT's layout for models over 2 GB), False never, None (default) when the model needs it
    (estimated size over 2 GB - 512 MB, the official rule). For large models prefer
    `write_flatbuffer_file`, which streams the data instead of assembling the bytes.
    """
    packed = serialize(
        module,
        conversion_metadata=conversion_metadata,
        description=description,
        buffer_offset=buffer_offset,
    )
    data = packed.to_bytes()
    del packed
    files = module.attributes.get("associated_files")
    if files:
        data = append_associated_files(data, files)
    return data


def write_flatbuffer_file(
    module: Module,
    path: str | os.PathLike,
    *,
    conversion_metadata: dict[str, Any] | None = None,
    description: str | None = None,
    buffer_offset: bool | None = None,
) -> int:
    """`write_flatbuffer` into the file `path` (atomically: a temporary file, then a rename);
    returns the file size. The constant data is written from the IR's arrays in chunks, so the
    whole file is never held in memory (in the offset layout not even once)."""
    packed = serialize(
        module,
        conversion_metadata=conversion_metadata,
        description=description,
        buffer_offset=buffer_offset,
    )
    files = module.attributes.get("associated_files")
    with file_io.atomic_file(path) as f:
        packed.write_to(f)
        if files:
            _write_zip(f, files)
        return f.tell()


def serialize(
    module: Module,
    *,
    conversion_metadata: dict[str, Any] | None = None,
    description: str | None = None,
    buffer_offset: bool | None = None,
) -> PackedModel:
    """The model as a `PackedModel` (FlatBuffer + data placed after it), without associated
    files; arguments as for `write_flatbuffer`."""
    if description is None:
        description = module.attributes.get("description", DEFAULT_DESCRIPTION)
    if conversion_metadata is None:
        conversion_metadata = module.attributes.get("conversion_metadata")
    return _Writer(module).write(conversion_metadata, description, buffer_offset)


def append_associated_files(data: bytes, files: Mapping[str, bytes]) -> bytes:
    """`data` followed by a ZIP archive of `files` (name -> contents), byte for byte what
    tflite-support's MetadataPopulator writes (Python zipfile appending to the model: stored
    entries, offsets from the start of the file), with a fixed timestamp so the output is
    deterministic. FlatBuffer readers ignore the trailing archive; metadata readers find the
    files by `AssociatedFile.name`."""
    out = io.BytesIO()
    out.write(data)
    _write_zip(out, files)
    return out.getvalue()


def _write_zip(out: BinaryIO, files: Mapping[str, bytes]) -> None:
    # Mode "w" at the end of the model writes the same bytes as mode "a" on a non-ZIP file, but
    # never mistakes a ZIP signature inside the FlatBuffer for an archive to append to.
    with zipfile.ZipFile(out, "w") as zf:
        for name, contents in files.items():
            if not isinstance(contents, bytes | bytearray | memoryview):
                raise WriteError(
                    f"associated file {name!r} must be bytes, got {type(contents).__name__}"
                )
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, bytes(contents))


# --- the writer ------------------------------------------------------------------------------


def _where(op: Operation) -> str:
    fn = op.function
    inside = f" in @{fn.name}" if fn is not None else ""
    return f"{op.name} at {op.location}{inside}"


def _illegal_ops(module: Module) -> list[Operation]:
    bad = []
    for op in module.walk():
        if op.name in ("arith.constant", tfl.BLOCKWISE_CONST, RETURN, tfl.NO_VALUE, tfl.CUSTOM):
            continue
        opdef = OPDEFS.get(op.name)
        if op.dialect != "tfl" or opdef is None or opdef.builtin_code is None:
            bad.append(op)
    return bad


def _illegal_report(bad: list[Operation]) -> str:
    by_name: dict[str, list[Operation]] = {}
    for op in bad:
        by_name.setdefault(op.name, []).append(op)
    lines = [
        f"{len(bad)} op(s) are not TFLite builtins, custom ops or constants; legalization did "
        "not convert them, so they cannot be written to .tflite:"
    ]
    for name, ops in sorted(by_name.items()):
        lines.append(f"  {name} x{len(ops)}")
        lines.extend(f"      at {op.location}" for op in ops[:3])
        if len(ops) > 3:
            lines.append(f"      ... and {len(ops) - 3} more")
    return "\n".join(lines)


class _Writer:
    def __init__(self, module: Module) -> None:
        if not module.functions:
            raise WriteError("the module has no functions; a .tflite file needs a main subgraph")
        self.module = module
        self.fn_index = {fn.name: i for i, fn in enumerate(module.functions)}
        self.buffers = BufferTable()
        self.opcodes: dict[tuple[str, Any], int] = {}
        self.opcode_list: list[fb.OperatorCodeT] = []
        self.op_versions: list[tuple[str, int]] = []

    # --- model ---------------------------------------------------------------------------------
    def write(
        self,
        metadata_options: dict[str, Any] | None,
        description: str,
        buffer_offset: bool | None = None,
    ) -> PackedModel:
        bad = _illegal_ops(self.module)
        if bad:
            raise WriteError(_illegal_report(bad))
        entries = [fn for fn in self.module.functions if fn.attributes.get("entry")]
        if not entries:
            entries = [self.module.functions[0]]
        rename_main = (
            not any(fn.name == "main" for fn in self.module.functions) and len(entries) == 1
        )

        model = fb.ModelT()
        model.version = SCHEMA_VERSION
        model.description = description
        model.subgraphs = []
        signature_defs = []
        for fn in self.module.functions:
            name = "main" if rename_main and fn is entries[0] else fn.name
            subgraph, tensor_names = self._subgraph(fn, name)
            model.subgraphs.append(subgraph)
            if any(fn is e for e in entries):
                signature_defs.append(self._signature(fn, subgraph, tensor_names, len(entries)))
        model.operatorCodes = self.opcode_list
        model.signatureDefs = signature_defs
        model.buffers = self.buffers.buffers
        if buffer_offset is None:
            buffer_offset = needs_buffer_offset(model)
        model.metadata = self._metadata(model, metadata_options, buffer_offset)
        return pack_layout(model, buffer_offset)

    def _metadata(
        self, model: fb.ModelT, options: dict[str, Any] | None, buffer_offset: bool = False
    ) -> list[fb.MetadataT]:
        entries: list[tuple[str, bytes]] = []
        runtime = versions.min_runtime_version(self.op_versions)
        entries.append((MIN_RUNTIME_VERSION, _runtime_version_bytes(runtime)))
        if buffer_offset:  # tells LiteRT the data is outside the FlatBuffer (official order)
            entries.append((BUFFER_LOCATION, BUFFER_LOCATION_VALUE))
        entries.append((TFLCONV_VERSION, f"tflconv {_tflconv_version()}".encode()))
        extra = self.module.attributes.get("metadata") or {}
        for name, data in extra.items():
            if name in RESERVED_METADATA:
                raise WriteError(
                    f"metadata entry {name!r} is written by the writer itself; remove it from "
                    "module.attributes['metadata']"
                )
            if not isinstance(data, bytes | bytearray | np.ndarray):
                raise WriteError(
                    f"metadata entry {name!r} must be bytes, got {type(data).__name__}"
                )
            entries.append((name, bytes(data) if not isinstance(data, np.ndarray) else data))
        if options is not None:
            entry = conversion_metadata_bytes(options, model_hash(model))
            entries.append((CONVERSION_METADATA, entry))
        out = []
        for name, data in entries:
            md = fb.MetadataT()
            md.name = name
            md.buffer = self.buffers.add_metadata(data)
            out.append(md)
        return out

    # --- opcodes -------------------------------------------------------------------------------
    def _opcode(self, op: Operation) -> int:
        if op.name == tfl.CUSTOM:
            key: tuple[str, Any] = ("custom", op.attributes.get("custom_code", ""))
        else:
            key = ("builtin", op.opdef.builtin_code)  # type: ignore[union-attr]
        index = self.opcodes.get(key)
        version = 1 if op.name == tfl.CUSTOM else versions.op_version(op)
        if index is None:
            code = fb.OperatorCodeT()
            if key[0] == "custom":
                code.builtinCode = fb.BuiltinOperator.CUSTOM
                code.customCode = key[1]
            else:
                code.builtinCode = key[1]
            code.deprecatedBuiltinCode = min(
                code.builtinCode, fb.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES
            )
            code.version = version
            index = self.opcodes[key] = len(self.opcode_list)
            self.opcode_list.append(code)
        else:
            code = self.opcode_list[index]
            code.version = max(code.version, version)
        if key[0] == "builtin":
            self.op_versions.append((tfl.builtin_name(op.name), version))
        return index

    # --- subgraphs -----------------------------------------------------------------------------
    def _subgraph(self, fn: Function, name: str) -> tuple[fb.SubGraphT, list[str]]:
        sg = fb.SubGraphT()
        sg.name = name
        sg.tensors = []
        sg.operators = []
        index: dict[Value, int] = {}
        used_names: set[str] = set()
        returned = set(fn.outputs) if _has_return(fn) else set()

        def add(
            value: Value | None,
            tensor_name: str,
            buffer: int = 0,
            variable: bool = False,
            type: TensorType | None = None,
        ) -> int:
            tensor_name = _unique(tensor_name, used_names)
            sg.tensors.append(_tensor(type or value.type, tensor_name, buffer, variable, fn))  # type: ignore[union-attr]
            if value is not None:
                index[value] = len(sg.tensors) - 1
            return len(sg.tensors) - 1

        input_names = fn.attributes.get("input_names") or []
        for i, arg in enumerate(fn.args):
            default = f"arg{i}" if name == "main" else f"{fn.name}_arg{i}"
            given = input_names[i] if i < len(input_names) else None
            add(arg, given or arg.name_hint or default)
        sg.inputs = np.arange(len(fn.args), dtype=np.int32)

        for op in fn.ops:
            if op.regions:
                raise WriteError(f"{_where(op)} has regions; TFLite ops refer to subgraphs instead")
            if op.name == RETURN:
                sg.outputs = np.array([self._operand(op, v, index) for v in op.operands], np.int32)
                continue
            if op.name == tfl.NO_VALUE:
                continue  # its uses are written as -1
            if op.name in ("arith.constant", tfl.BLOCKWISE_CONST):
                value = op.result
                variable = bool(op.attributes.get("is_variable"))
                try:
                    data = constant_bytes(op.attributes["value"], value.type)
                except ValueError as e:
                    raise WriteError(f"{_where(op)}: {e}") from e
                buffer = 0 if variable else self.buffers.add(data, dedup=value not in returned)
                at = add(value, _value_name(value, op), buffer, variable)
                if op.name == tfl.BLOCKWISE_CONST:  # int4 + float16 scales in a tensor of their own
                    self._blockwise(op, sg, at, add)
                continue
            operator = self._operator(op, index, len(sg.tensors))
            sg.operators.append(operator)
            variable = bool(op.attributes.get("_is_variable"))  # fuse-recurrent's LSTM state
            for k, result in enumerate(op.results):
                add(result, _value_name(result, op, k), variable=variable)
            scratch = op.attributes.get(INTERMEDIATES)
            if scratch:  # quantized LSTMs: (name, type) of tensors only the kernel uses
                operator.intermediates = np.array(
                    [add(None, n, type=t) for n, t in scratch], dtype=np.int32
                )
        if not _has_return(fn):
            raise WriteError(f"function @{fn.name} has no func.return terminator")
        tensor_names = [t.name for t in sg.tensors]
        return sg, tensor_names

    def _operand(self, op: Operation, value: Value, index: dict[Value, int]) -> int:
        if value.type == NO_VALUE_TYPE:
            if op.name == RETURN:
                raise WriteError(f"function @{op.function.name} returns a tfl.no_value")  # type: ignore[union-attr]
            return -1
        found = index.get(value)
        if found is None:
            raise WriteError(
                f"{_where(op)} uses a value that is not defined before it in the same function "
                f"({value!r}); ops must be in execution order"
            )
        return found

    def _blockwise(self, op: Operation, sg: Any, at: int, add: Any) -> None:
        scales = np.asarray(op.attributes["scales"], np.float16)
        t = TensorType(scales.shape, "f16")
        s_at = add(
            None,
            f"{sg.tensors[at].name}_scales",
            self.buffers.add(constant_bytes(scales, t)),
            type=t,
        )
        q = fb.QuantizationParametersT()
        q.detailsType = fb.QuantizationDetails.BlockwiseQuantization
        q.details = fb.BlockwiseQuantizationT(s_at, -1, int(op.attributes["block_size"]))
        sg.tensors[at].quantization = q

    def _operator(self, op: Operation, index: dict[Value, int], first_result: int) -> fb.OperatorT:
        out = fb.OperatorT()
        out.opcodeIndex = self._opcode(op)
        out.inputs = np.array([self._operand(op, v, index) for v in op.operands], np.int32)
        # The results get the next tensor indices (the caller adds them right after this).
        out.outputs = np.arange(first_result, first_result + len(op.results), dtype=np.int32)
        if op.name == tfl.CUSTOM:
            extra = [
                k
                for k in op.attributes
                if k not in ("custom_code", "custom_options") and k[:1] != "_"
            ]
            if extra:
                raise WriteError(f"{_where(op)}: unknown attributes {extra} on a custom op")
            code = op.attributes.get("custom_code")
            if not isinstance(code, str) or not code:
                raise WriteError(f"{_where(op)}: a custom op needs a non-empty custom_code string")
            options = op.attributes.get("custom_options", b"")
            if len(options):
                out.customOptions = as_bytes(options)
            out.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
            return out
        table = tfl.options_table(op.name)
        if table is None:
            extra = [k for k in op.attributes if k[:1] != "_"]
            if extra:
                raise WriteError(
                    f"{_where(op)}: {op.name} has no builtin options, but attributes {extra}"
                )
            return out
        options = self._options(op, table)
        if options is not None:
            if table.union == 1:
                out.builtinOptionsType = table.union_type
                out.builtinOptions = options
            else:
                out.builtinOptions2Type = table.union_type
                out.builtinOptions2 = options
        return out

    def _options(self, op: Operation, table: OptionsTable) -> Any:
        """The `<Table>T` object for the op's attributes (schema defaults for missing ones)."""
        for key in op.attributes:
            if key[:1] != "_" and table.field(key) is None:
                raise WriteError(
                    f"{_where(op)}: attribute {key!r} is not a field of {table.name} "
                    f"(fields: {[f.name for f in table.fields]})"
                )
        if not table.fields:
            return None  # an empty options table carries nothing; write NONE
        obj = getattr(fb, table.name + "T")()  # the generated object-API class
        for f in table.fields:
            if f.name not in op.attributes:
                if f.default is REQUIRED:
                    raise WriteError(f"{_where(op)}: missing required attribute {f.name!r}")
                continue
            try:
                value = self._field_value(f, op.attributes[f.name])
            except (KeyError, TypeError, ValueError) as e:
                raise WriteError(f"{_where(op)}: bad value for attribute {f.name!r}: {e}") from e
            setattr(obj, f.attr, value)
        return obj

    def _field_value(self, f: OptionField, value: Any) -> Any:
        if value is None:
            if f.kind in ("vector", "bytes", "enum_vector", "subgraph_vector", "string"):
                return None
            raise ValueError("None is not allowed here")
        kind = f.kind
        if kind == "bool":
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "string":
            if not isinstance(value, str | bytes):
                raise TypeError(f"expected a string, got {type(value).__name__}")
            return value
        if kind == "enum":
            return _enum_value(f.type, value)
        if kind == "enum_vector":
            return np.array([_enum_value(f.type, v) for v in value], dtype=f.numpy_dtype)
        if kind == "vector":
            return np.asarray(value, dtype=f.numpy_dtype).reshape(-1)
        if kind == "bytes":
            return as_bytes(value)
        if kind == "subgraph":
            return self._function_index(value)
        if kind == "subgraph_vector":
            return np.array([self._function_index(v) for v in value], dtype=np.int32)
        raise TypeError(f"unsupported field kind {kind}")

    def _function_index(self, ref: Any) -> int:
        if not isinstance(ref, SymbolRef):
            raise TypeError(f"expected a SymbolRef to a function, got {ref!r}")
        if ref.name not in self.fn_index:
            raise ValueError(f"no function @{ref.name} in the module")
        return self.fn_index[ref.name]

    # --- signatures ----------------------------------------------------------------------------
    def _signature(
        self, fn: Function, sg: fb.SubGraphT, tensor_names: list[str], n_entries: int
    ) -> fb.SignatureDefT:
        sig = fb.SignatureDefT()
        key = fn.attributes.get("signature_key") or (
            "serving_default" if n_entries == 1 else fn.name
        )
        sig.signatureKey = key
        sig.subgraphIndex = self.fn_index[fn.name]
        in_names = list(fn.attributes.get("input_names") or [])
        out_names = list(fn.attributes.get("output_names") or [])
        inputs = [int(i) for i in sg.inputs]
        outputs = [int(i) for i in sg.outputs]
        if in_names and len(in_names) != len(inputs):
            raise WriteError(f"@{fn.name}: {len(in_names)} input_names for {len(inputs)} inputs")
        if out_names and len(out_names) != len(outputs):
            raise WriteError(
                f"@{fn.name}: {len(out_names)} output_names for {len(outputs)} outputs"
            )
        in_names = in_names or [tensor_names[i] for i in inputs]
        out_names = out_names or [f"output_{i}" for i in range(len(outputs))]
        for kind, names in (("input", in_names), ("output", out_names)):
            if len(set(names)) != len(names):
                raise WriteError(
                    f"@{fn.name}: signature {key!r} has duplicate {kind} names {names}"
                )
        sig.inputs = [_tensor_map(n, i) for n, i in zip(in_names, inputs)]
        sig.outputs = [_tensor_map(n, i) for n, i in zip(out_names, outputs)]
        return sig


def _has_return(fn: Function) -> bool:
    term = fn.block.terminator
    return term is not None and term.name == RETURN


def _tensor_map(name: str, index: int) -> fb.TensorMapT:
    t = fb.TensorMapT()
    t.name = name
    t.tensorIndex = index
    return t


def _enum_value(enum_type: str, value: Any) -> int:
    if enum_type == "TensorType" and isinstance(value, TypeAttr):
        return TENSOR_TYPES[value.dtype]
    if isinstance(value, str):
        members = enum_members(enum_type)
        if value not in members:
            raise ValueError(f"{value!r} is not one of {list(members)}")
        return members[value]
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"expected an enum member name of {enum_type}, got {value!r}")


def _value_name(value: Value, op: Operation, k: int = 0) -> str:
    if k == 0 and len(op.location.names) > 1:
        # A fused op is named after the ops it stands for; a merged constant after one of them.
        return op.location.tensor_name(1 if op.name == "arith.constant" else MAX_TENSOR_NAME_PARTS)
    if value.name_hint:
        return value.name_hint
    base = op.location.tensor_name() or op.name
    return base if k == 0 else f"{base}:{k}"


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        used.add(name)
        return name
    i = 1
    while f"{name}_{i}" in used:
        i += 1
    used.add(f"{name}_{i}")
    return f"{name}_{i}"


def _tensor(t: TensorType, name: str, buffer: int, variable: bool, fn: Function) -> fb.TensorT:
    if t.dtype not in TENSOR_TYPES:
        raise WriteError(f"@{fn.name}: value {name!r} has type {t}, which TFLite cannot store")
    out = fb.TensorT()
    out.name = name
    out.type = TENSOR_TYPES[t.dtype]
    out.buffer = buffer
    out.isVariable = variable
    if t.shape is None:
        out.hasRank = False  # no shape vector at all: the reader reads this back as unranked
    else:
        out.shape = np.array([1 if d is None else d for d in t.shape], np.int32)
        out.hasRank = True
        if not t.is_static:
            out.shapeSignature = np.array([-1 if d is None else d for d in t.shape], np.int32)
    if t.quant is not None:
        q = fb.QuantizationParametersT()
        q.scale = np.asarray(t.quant.scale, np.float32)
        q.zeroPoint = np.asarray(t.quant.zero_point, np.int64)
        q.quantizedDimension = t.quant.axis or 0
        if t.quant.min:
            q.min = np.asarray(t.quant.min, np.float32)
        if t.quant.max:
            q.max = np.asarray(t.quant.max, np.float32)
        out.quantization = q
    return out


def _runtime_version_bytes(version: str) -> bytes:
    # A 16-byte NUL-padded string; the official exporter leaves it all-NUL when too long.
    data = version.encode() if len(version) < 16 else b""
    return data.ljust(16, b"\0")


@lru_cache(maxsize=1)
def _tflconv_version() -> str:
    try:
        from importlib.metadata import version

        return version("tflconv")
    except Exception:  # noqa: BLE001 (not installed: running from a checkout)
        return "0+unknown"


# --- CONVERSION_METADATA -------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_HASH_CONST = 0x9E3779B97F4A7800


def _hash_update(h: int, value: int) -> int:
    value &= _MASK64
    return h ^ ((value + _HASH_CONST + ((h << 10) & _MASK64) + (h >> 4)) & _MASK64)


def _hash_array(h: int, values: Sequence[int] | np.ndarray | None) -> int:
    if values is not None:
        for v in values:
            h = _hash_update(h, int(v))
    return h


def model_hash(model: Any) -> int:
    """TF's structural model hash (`tensorflow/lite/python/util.py:get_model_hash`) of a
    `ModelT`: op/tensor counts, op input/output indices, buffer sizes and tensor shapes."""
    h = 0
    for sg in model.subgraphs:
        if sg.operators is not None:
            h = _hash_update(h, len(sg.operators))
            for op in sg.operators:
                h = _hash_array(h, op.inputs)
                h = _hash_array(h, op.outputs)
        if sg.tensors is not None:
            h = _hash_update(h, len(sg.tensors))
            for t in sg.tensors:
                if t.buffer is not None:
                    data = model.buffers[t.buffer].data
                    if data is not None:
                        h = _hash_update(h, data_nbytes(data))
                h = _hash_array(h, t.shape)
        if sg.inputs is not None:
            h = _hash_update(h, len(sg.inputs))
        if sg.outputs is not None:
            h = _hash_update(h, len(sg.outputs))
    return h


def _enum(cls: type, value: Any) -> int:
    if isinstance(value, str):
        return int(getattr(cls, value))
    return int(value)


def conversion_metadata_bytes(options: dict[str, Any], computed_hash: int) -> bytes:
    """A `ConversionMetadata` FlatBuffer (conversion_metadata.fbs, no file identifier)."""
    unknown = set(options) - CONVERSION_METADATA_KEYS
    if unknown:
        raise WriteError(
            f"unknown conversion_metadata keys {sorted(unknown)}; known: {sorted(CONVERSION_METADATA_KEYS)}"
        )
    env = cm.EnvironmentT()
    if options.get("tensorflow_version"):
        env.tensorflowVersion = str(options["tensorflow_version"])
    env.apiVersion = int(options.get("api_version", 0))
    env.modelType = _enum(cm.ModelType, options.get("model_type", 0))
    env.modelHash = int(options.get("model_hash", computed_hash)) & _MASK64
    opts = cm.ConversionOptionsT()
    opts.modelOptimizationModes = [
        _enum(cm.ModelOptimizationMode, m) for m in options.get("model_optimization_modes", ())
    ]
    opts.allowCustomOps = bool(options.get("allow_custom_ops", False))
    opts.enableSelectTfOps = bool(options.get("enable_select_tf_ops", False))
    opts.forceSelectTfOps = bool(options.get("force_select_tf_ops", False))
    meta = cm.ConversionMetadataT()
    meta.environment = env
    meta.options = opts
    builder = flatbuffers.Builder(256)
    builder.Finish(meta.Pack(builder))
    return bytes(builder.Output())
