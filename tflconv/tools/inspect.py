"""What a .tflite file holds, from any converter: `tflconv inspect MODEL.tflite`.

    from tflconv.tools.inspect import inspect_model, format_report
    report = inspect_model(open("model.tflite", "rb").read())   # plain JSON-able dict
    print(format_report(report))

The report is built from the FlatBuffer tables directly (not through the IR reader), so it also
describes models the reader refuses (sparse tensors, unknown ops): file layout, signatures, each
subgraph's inputs and outputs (shape, shape_signature with -1 for dynamic dims, dtype,
quantization), an operator histogram with versions, weight sizes and the largest constant
tensors, every metadata entry decoded (min_runtime_version, CONVERSION_METADATA,
TFLITE_METADATA, text entries) and the associated files appended after the model.
"""

from __future__ import annotations

import json
import mmap
from typing import Any

import numpy as np

from tflconv.tflite.generated import conversion_metadata as cm
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.metadata import TFLITE_METADATA, MetadataError, metadata_to_dict
from tflconv.tflite.reader import read_associated_files
from tflconv.tflite.writer import FILE_IDENTIFIER

_TYPE_NAMES = {v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
_MODEL_TYPES = {v: k for k, v in vars(cm.ModelType).items() if not k.startswith("_")}
_MODES = {v: k for k, v in vars(cm.ModelOptimizationMode).items() if not k.startswith("_")}
MAX_QUANT_VALUES = 8
"""Per-channel scales/zero points beyond this many are summarised."""


class InspectError(ValueError):
    """The bytes are not a readable .tflite model."""


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _ints(values: Any) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def _model(data: bytes) -> fb.ModelT:
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise InspectError(
            f"not a .tflite model: expected the file identifier {FILE_IDENTIFIER!r} at bytes "
            f"4..7, found {bytes(data[4:8])!r}"
        )
    try:
        return fb.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # noqa: BLE001 (any decoding failure means a corrupt file)
        raise InspectError(f"corrupt .tflite FlatBuffer: {type(e).__name__}: {e}") from e


def _buffer_size(model: fb.ModelT, index: int) -> int:
    buffers = model.buffers or []
    if not 0 <= index < len(buffers):
        return 0
    b = buffers[index]
    if b.data is not None:
        return len(b.data)
    return int(b.size) if b.offset > 1 else 0


def _buffer_bytes(model: fb.ModelT, data: bytes, index: int) -> bytes:
    b = (model.buffers or [])[index]
    if b.data is not None:
        return bytes(b.data)
    if b.offset > 1:
        return bytes(data[b.offset : b.offset + b.size])
    return b""


def _quantization(q: Any) -> dict[str, Any] | None:
    if q is None:
        return None
    scale = [float(np.float32(s)) for s in (q.scale if q.scale is not None else ())]
    zero_point = _ints(q.zeroPoint)
    out: dict[str, Any] = {}
    if scale:
        out["scale"] = scale
        out["zero_point"] = zero_point
        if len(scale) > 1 or q.quantizedDimension:
            out["quantized_dimension"] = int(q.quantizedDimension)
    if q.min is not None and len(q.min):
        out["min"] = [float(x) for x in q.min]
        out["max"] = [float(x) for x in q.max] if q.max is not None else []
    if q.detailsType:
        out["details"] = int(q.detailsType)
    return out or None


def _tensor(model: fb.ModelT, sg: fb.SubGraphT, index: int, where: str) -> dict[str, Any]:
    tensors = sg.tensors or []
    if not 0 <= index < len(tensors):  # a corrupt file: say which index, never IndexError
        raise InspectError(f"{where} names tensor {index}, but there are {len(tensors)}")
    t = tensors[index]
    shape = _ints(t.shape) if (t.shape is not None or t.hasRank) else None
    out: dict[str, Any] = {
        "index": index,
        "name": _str(t.name),
        "dtype": _TYPE_NAMES.get(int(t.type), str(t.type)),
        "shape": shape,
    }
    if t.shapeSignature is not None and len(t.shapeSignature):
        out["shape_signature"] = _ints(t.shapeSignature)
    quant = _quantization(t.quantization)
    if quant:
        out["quantization"] = quant
    if t.sparsity is not None:
        out["sparse"] = True
    if t.isVariable:
        out["variable"] = True
    return out


def _operators(model: fb.ModelT) -> list[dict[str, Any]]:
    codes = []
    for oc in model.operatorCodes or ():
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if code == fb.BuiltinOperator.CUSTOM:
            name = f"CUSTOM({_str(oc.customCode)})"
        else:
            name = _OP_NAMES.get(code, f"BUILTIN_{code}")
        codes.append((name, int(oc.version)))
    counts: dict[tuple[str, int], int] = {}
    for sg in model.subgraphs or ():
        for op in sg.operators or ():
            key = codes[op.opcodeIndex] if 0 <= op.opcodeIndex < len(codes) else ("?", 0)
            counts[key] = counts.get(key, 0) + 1
    rows = [{"op": k[0], "version": k[1], "count": n} for k, n in counts.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["op"]))


def _weights(model: fb.ModelT, top: int) -> dict[str, Any]:
    seen: set[int] = set()
    total = 0
    constants = []
    for si, sg in enumerate(model.subgraphs or ()):
        for ti, t in enumerate(sg.tensors or ()):
            size = _buffer_size(model, int(t.buffer))
            if not size:
                continue
            constants.append(
                {
                    "subgraph": si,
                    "index": ti,
                    "name": _str(t.name),
                    "dtype": _TYPE_NAMES.get(int(t.type), str(t.type)),
                    "shape": _ints(t.shape),
                    "bytes": size,
                }
            )
            if int(t.buffer) not in seen:
                seen.add(int(t.buffer))
                total += size
    constants.sort(key=lambda c: -c["bytes"])
    metadata_bytes = sum(_buffer_size(model, int(m.buffer)) for m in model.metadata or ())
    return {
        "buffers": len(model.buffers or ()),
        "weights_bytes": total,
        "constant_tensors": len(constants),
        "metadata_bytes": metadata_bytes,
        "largest": constants[:top],
    }


def decode_conversion_metadata(data: bytes) -> dict[str, Any] | None:
    """CONVERSION_METADATA (conversion_metadata.fbs) as a dict, including the model hash."""
    try:
        meta = cm.ConversionMetadataT.InitFromPackedBuf(data, 0)
    except Exception:  # noqa: BLE001 (unreadable: shown as raw bytes)
        return None
    out: dict[str, Any] = {}
    env = meta.environment
    if env is not None:
        out["tensorflow_version"] = _str(env.tensorflowVersion)
        out["api_version"] = int(env.apiVersion)
        out["model_type"] = _MODEL_TYPES.get(int(env.modelType), int(env.modelType))
        out["model_hash"] = int(env.modelHash)
    opts = meta.options
    if opts is not None:
        out["model_optimization_modes"] = [
            _MODES.get(m, m) for m in _ints(opts.modelOptimizationModes)
        ]
        out["allow_custom_ops"] = bool(opts.allowCustomOps)
        out["enable_select_tf_ops"] = bool(opts.enableSelectTfOps)
        out["force_select_tf_ops"] = bool(opts.forceSelectTfOps)
        if opts.sparsityBlockSizes:
            out["sparsity_block_sizes"] = [_ints(b.values) for b in opts.sparsityBlockSizes]
    return out


def _decode_entry(name: str, data: bytes) -> Any:
    if name == "min_runtime_version":
        return data.rstrip(b"\0").decode("ascii", errors="replace")
    if name == "CONVERSION_METADATA":
        return decode_conversion_metadata(data)
    if name == TFLITE_METADATA:
        try:
            return metadata_to_dict(data)
        except MetadataError as e:
            return {"error": str(e)}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def inspect_model(data: bytes | mmap.mmap, *, top: int = 10) -> dict[str, Any]:
    """A JSON-able description of a .tflite file (see the module docstring); `data` may be a
    memory map (`tflite.reader.map_file`)."""
    model = _model(data)
    files = read_associated_files(data)
    zip_size = _zip_size(data) if files else 0
    for sig in model.signatureDefs or ():
        if not 0 <= int(sig.subgraphIndex) < len(model.subgraphs or ()):
            raise InspectError(
                f"signature {_str(sig.signatureKey)!r} names subgraph {int(sig.subgraphIndex)}, "
                f"but there are {len(model.subgraphs or ())}"
            )
    report: dict[str, Any] = {
        "file": {
            "bytes": len(data),
            "flatbuffer_bytes": len(data) - zip_size,
            "appended_bytes": zip_size,
            "schema_version": int(model.version),
            "description": _str(model.description),
        }
    }
    subgraphs = model.subgraphs or []
    report["signatures"] = [
        {
            "key": _str(sig.signatureKey),
            "subgraph": int(sig.subgraphIndex),
            "inputs": [
                {"name": _str(m.name), "tensor": int(m.tensorIndex)} for m in sig.inputs or ()
            ],
            "outputs": [
                {"name": _str(m.name), "tensor": int(m.tensorIndex)} for m in sig.outputs or ()
            ],
        }
        for sig in model.signatureDefs or ()
    ]
    report["subgraphs"] = [
        {
            "index": i,
            "name": _str(sg.name),
            "tensors": len(sg.tensors or ()),
            "operators": len(sg.operators or ()),
            "inputs": [_tensor(model, sg, t, f"subgraph {i} inputs") for t in _ints(sg.inputs)],
            "outputs": [_tensor(model, sg, t, f"subgraph {i} outputs") for t in _ints(sg.outputs)],
        }
        for i, sg in enumerate(subgraphs)
    ]
    report["operators"] = _operators(model)
    report["weights"] = _weights(model, top)
    entries = []
    described: dict[str, dict[str, Any]] = {}
    for m in model.metadata or ():
        name = _str(m.name)
        raw = (
            _buffer_bytes(model, data, int(m.buffer))
            if 0 <= m.buffer < len(model.buffers or ())
            else b""
        )
        value = _decode_entry(name, raw)
        entries.append({"name": name, "bytes": len(raw), "value": value})
        if name == TFLITE_METADATA and isinstance(value, dict):
            described = _file_descriptions(value)
    report["metadata"] = entries
    report["associated_files"] = [
        {"name": name, "bytes": len(contents), **described.get(name, {})}
        for name, contents in files.items()
    ]
    return report


def _zip_size(data: bytes) -> int:
    """Bytes of the appended archive: from its first local file header to the end."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:  # noqa: BLE001 (read_associated_files read it; same errors, same answer)
        return 0
    offsets = [info.header_offset for info in infos if 0 <= info.header_offset < len(data)]
    return len(data) - min(offsets) if offsets else 0


def _file_descriptions(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> {type, description, used_by} of every AssociatedFile in metadata_to_dict form."""
    out: dict[str, dict[str, Any]] = {}

    def add(files: list | None, where: str) -> None:
        for f in files or ():
            entry = out.setdefault(f.get("name", ""), {"type": f.get("type", "UNKNOWN")})
            if f.get("description"):
                entry["description"] = f["description"]
            entry.setdefault("used_by", []).append(where)

    add(meta.get("associated_files"), "model")
    for si, sg in enumerate(meta.get("subgraph_metadata") or ()):
        add(sg.get("associated_files"), f"subgraph {si}")
        for side in ("input", "output"):
            for ti, t in enumerate(sg.get(f"{side}_tensor_metadata") or ()):
                add(t.get("associated_files"), f"{side} {ti} ({t.get('name', '')})")
    return out


# --- text ----------------------------------------------------------------------------------------


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1 << 20:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1 << 20):.1f} MB"


def _dims(dims: list[int]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _shape(t: dict[str, Any]) -> str:
    """`[1,8,8,3]`, or with dynamic dims `[1,8,8,3] sig [-1,8,8,3]` (the stored shape and
    the shape_signature, -1 = dynamic), `*` unranked."""
    if t.get("shape") is None:
        return "*"
    text = _dims(t["shape"])
    sig = t.get("shape_signature")
    if sig and sig != t["shape"]:
        text += f" sig {_dims(sig)}"
    return text


def _quant_text(q: dict[str, Any] | None) -> str:
    if not q or "scale" not in q:
        return ""
    scale, zp = q["scale"], q["zero_point"]
    if len(scale) == 1:
        return f"  quant scale={scale[0]:.6g} zp={zp[0] if zp else 0}"
    axis = q.get("quantized_dimension", 0)
    shown = ", ".join(f"{s:.3g}" for s in scale[:3])
    return f"  quant per-channel axis={axis} ({len(scale)} scales: {shown}, ...)"


def _tensor_line(t: dict[str, Any], label: str = "") -> str:
    name = label or t["name"]
    extra = " sparse" if t.get("sparse") else ""
    return f"{name:<28} {t['dtype']:<8} {_shape(t):<24} tensor {t['index']}{extra}{_quant_text(t.get('quantization'))}"


def _render(value: Any, indent: str) -> list[str]:
    """Nested dicts/lists as indented `key: value` lines (readable metadata)."""
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v and not _is_scalar_list(v):
                lines.append(f"{indent}{k}:")
                lines.extend(_render(v, indent + "  "))
            else:
                lines.append(f"{indent}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            sub = _render(item, indent + "  ")
            if sub:
                lines.append(f"{indent}- {sub[0].strip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{indent}- {_scalar(item)}")
    return lines


def _is_scalar_list(v: Any) -> bool:
    return isinstance(v, list) and all(not isinstance(x, dict | list) for x in v)


def _scalar(v: Any) -> str:
    if isinstance(v, list):
        shown = ", ".join(_scalar(x) for x in v[:MAX_QUANT_VALUES])
        return f"[{shown}{', ...' if len(v) > MAX_QUANT_VALUES else ''}]"
    if isinstance(v, str):
        return json.dumps(v) if ("\n" in v or not v) else v
    if isinstance(v, dict):
        return "{}"
    return str(v)


def format_report(report: dict[str, Any], title: str = "model") -> str:
    """The report as text for people."""
    f = report["file"]
    lines = [
        f"{title}: {_size(f['bytes'])}"
        + (
            f" (FlatBuffer {_size(f['flatbuffer_bytes'])} + {_size(f['appended_bytes'])} "
            "of appended files)"
            if f["appended_bytes"]
            else ""
        )
        + f", schema v{f['schema_version']}, description {json.dumps(f['description'])}"
    ]
    subgraphs = report["subgraphs"]
    lines.append("")
    lines.append(f"Signatures ({len(report['signatures'])}):")
    for sig in report["signatures"]:
        sg = subgraphs[sig["subgraph"]] if 0 <= sig["subgraph"] < len(subgraphs) else None
        lines.append(
            f"  {sig['key']} -> subgraph {sig['subgraph']}" + (f" ({sg['name']})" if sg else "")
        )
        by_index = {t["index"]: t for t in (sg["inputs"] + sg["outputs"])} if sg else {}
        for side, key in (("in ", "inputs"), ("out", "outputs")):
            for m in sig[key]:
                t = by_index.get(m["tensor"])
                lines.append(
                    f"    {side} "
                    + (_tensor_line(t, m["name"]) if t else f"{m['name']} tensor {m['tensor']}")
                )
    if not report["signatures"]:
        lines.append("  (none)")
    for sg in subgraphs:
        lines.append("")
        lines.append(
            f"Subgraph {sg['index']} ({sg['name'] or 'unnamed'}): {sg['tensors']} tensors, "
            f"{sg['operators']} operators"
        )
        for side in ("inputs", "outputs"):
            lines.append(f"  {side}:")
            lines.extend(f"    {_tensor_line(t)}" for t in sg[side])
    ops = report["operators"]
    lines.append("")
    lines.append(f"Operators ({sum(r['count'] for r in ops)} in {len(ops)} kinds):")
    lines.extend(f"  {r['op'] + ' v' + str(r['version']):<36} x{r['count']}" for r in ops)
    w = report["weights"]
    lines.append("")
    lines.append(
        f"Weights: {_size(w['weights_bytes'])} in {w['constant_tensors']} constant tensors "
        f"({w['buffers']} buffers; metadata {_size(w['metadata_bytes'])})"
    )
    for c in w["largest"]:
        shape = "[" + ",".join(str(d) for d in c["shape"]) + "]"
        lines.append(f"  {_size(c['bytes']):>10}  {c['dtype']:<8} {shape:<18} {c['name']}")
    lines.append("")
    lines.append(f"Metadata ({len(report['metadata'])} entries):")
    for e in report["metadata"]:
        value = e["value"]
        head = f"  {e['name']} ({_size(e['bytes'])})"
        if isinstance(value, dict):
            lines.append(head + ":")
            lines.extend(_render(value, "    "))
        elif value is not None:
            text = value if len(value) <= 200 else value[:200] + "..."
            lines.append(f"{head}: {text or json.dumps(text)}")
        else:
            lines.append(head + ": <binary>")
    files = report["associated_files"]
    lines.append("")
    lines.append(f"Associated files ({len(files)}):")
    for a in files:
        about = ", ".join(x for x in (a.get("type"), a.get("description")) if x)
        used = "; ".join(a.get("used_by", []))
        lines.append(
            f"  {a['name']} ({_size(a['bytes'])})"
            + (f" {about}" if about else "")
            + (f" [{used}]" if used else "")
        )
    return "\n".join(lines) + "\n"
