"""TFLite model metadata (the tflite-support standard): what the inputs and outputs mean.

    from tflconv.tflite.metadata import ModelInfo, TensorInfo, ImageContent, AssociatedFile, add_metadata

    info = ModelInfo(
        name="flower classifier", version="1", author="me", license="Apache-2.0",
        inputs=[TensorInfo("image", content=ImageContent("RGB"), normalization=(127.5, 127.5),
                           value_range=(0, 255))],
        outputs=[TensorInfo("probability", label_files=[AssociatedFile("labels.txt")],
                            value_range=(0, 1))],
    )
    tflite = add_metadata(tflite, info)             # files are read from their paths
    read_model_metadata(tflite)                     # -> ModelInfo (files' data included)
    associated_files(tflite)                        # -> {"labels.txt": b"daisy\\n..."}

Storage, as tflite-support's MetadataPopulator does it: a `ModelMetadata` FlatBuffer
(tflconv/tflite/metadata_schema.fbs, file identifier "M001", `min_parser_version` computed from
the fields used) is the data of a buffer named by the metadata entry "TFLITE_METADATA" (an
existing entry is replaced); the associated files are stored in a ZIP archive appended after the
FlatBuffer, each under the base name its `AssociatedFile.name` gives.

Two ways in: `add_metadata(tflite_bytes, info)` edits an existing model from any converter
(only its metadata changes), and `attach_to_module(module, info)` puts the same entry and files
into `module.attributes` ("metadata", "associated_files") for `write_flatbuffer`, which is how
`TFLiteConverter.metadata` works and how metadata survives read -> passes -> write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.metadata.flatbuffer import (
    from_flatbuffer,
    metadata_table,
    metadata_to_dict,
    min_parser_version,
    parse_table,
    to_flatbuffer,
)
from tflconv.tflite.metadata.types import (
    ASSOCIATED_FILE_TYPES,
    BOUNDING_BOX_TYPES,
    COLOR_SPACES,
    COORDINATE_TYPES,
    FILE_IDENTIFIER,
    SCORE_TRANSFORMATIONS,
    TFLITE_METADATA,
    AssociatedFile,
    AudioContent,
    BoundingBoxContent,
    Content,
    FeatureContent,
    ImageContent,
    MetadataError,
    ModelInfo,
    ScoreCalibration,
    TensorInfo,
)
from tflconv.tflite.reader import read_associated_files
from tflconv.tflite.writer import FILE_IDENTIFIER as TFL3
from tflconv.tflite.writer import WriteError, append_associated_files, pack_model

__all__ = [
    "ASSOCIATED_FILE_TYPES",
    "BOUNDING_BOX_TYPES",
    "COLOR_SPACES",
    "COORDINATE_TYPES",
    "FILE_IDENTIFIER",
    "SCORE_TRANSFORMATIONS",
    "TFLITE_METADATA",
    "AssociatedFile",
    "AudioContent",
    "BoundingBoxContent",
    "Content",
    "FeatureContent",
    "ImageContent",
    "MetadataError",
    "ModelInfo",
    "ScoreCalibration",
    "TensorInfo",
    "add_metadata",
    "as_model_info",
    "associated_files",
    "attach_to_module",
    "collect_files",
    "from_flatbuffer",
    "metadata_entries",
    "metadata_table",
    "metadata_to_dict",
    "min_parser_version",
    "model_io_names",
    "parse_table",
    "read_model_metadata",
    "remove_metadata",
    "to_flatbuffer",
]


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


# --- models ----------------------------------------------------------------------------------


def _complete(info: ModelInfo, inputs: list[str], outputs: list[str]) -> ModelInfo:
    """Check the tensor counts against the model's main subgraph (the standard requires one
    entry per input and output); describe unlisted tensors by name only; name unnamed ones."""
    sides = {}
    for kind, given, names in (("inputs", info.inputs, inputs), ("outputs", info.outputs, outputs)):
        if given and len(given) != len(names):
            raise MetadataError(
                f"the metadata describes {len(given)} {kind}, but the model's main subgraph has "
                f"{len(names)} ({', '.join(names) or 'none'}); give one entry per {kind[:-1]}, "
                "in order"
            )
        sides[kind] = [replace(t, name=t.name or n) for t, n in zip(given, names)] or [
            TensorInfo(name=n) for n in names
        ]
    return replace(info, **sides)


def collect_files(
    info: ModelInfo,
    supplied: Mapping[str, bytes] | None = None,
    packed: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """name -> contents of every file `info` references: `AssociatedFile.data`, else
    `supplied[name]`, else the file at `AssociatedFile.path`, else `packed[name]` (already in
    the model). Refuses missing files, two different files with one name, and supplied files
    the metadata does not name."""
    supplied = dict(supplied or {})
    packed = packed or {}
    out: dict[str, bytes] = {}
    for f in info.files():
        name = f.name
        if f.data is not None:
            data = bytes(f.data)
        elif name in supplied:
            data = bytes(supplied[name])
        elif f.path and os.path.isfile(f.path):
            data = Path(f.path).read_bytes()
        elif name in packed:
            data = bytes(packed[name])
        else:
            raise MetadataError(
                f"associated file {name!r}: no data (no file at {f.path!r}, not supplied, and "
                "not packed in the model)"
            )
        if name in out and out[name] != data:
            raise MetadataError(f"two different associated files are named {name!r}")
        out[name] = data
    extra = sorted(set(supplied) - set(out))
    if extra:
        raise MetadataError(f"files {extra} are not named by any AssociatedFile of the metadata")
    return out


def as_model_info(spec: ModelInfo | Mapping[str, Any] | str | os.PathLike) -> ModelInfo:
    """A ModelInfo, a JSON spec dict, or the path of a JSON spec file -> ModelInfo."""
    if isinstance(spec, ModelInfo):
        return spec
    if isinstance(spec, Mapping):
        return ModelInfo.from_dict(spec)
    if isinstance(spec, str | os.PathLike):
        return ModelInfo.from_json(spec)
    raise MetadataError(f"expected a ModelInfo, a dict or a JSON file path, got {spec!r}")


def _model_t(tflite: bytes) -> fb.ModelT:
    if len(tflite) < 8 or tflite[4:8] != TFL3:
        raise MetadataError(f"not a .tflite model (file identifier {bytes(tflite[4:8])!r})")
    try:
        return fb.ModelT.InitFromPackedBuf(tflite, 0)
    except Exception as e:  # noqa: BLE001
        raise MetadataError(f"corrupt .tflite FlatBuffer: {type(e).__name__}: {e}") from e


def model_io_names(model: fb.ModelT) -> tuple[list[str], list[str]]:
    """Input and output names of subgraph 0: its SignatureDef's names, else tensor names."""
    sg = model.subgraphs[0] if model.subgraphs else None
    if sg is None:
        raise MetadataError("the model has no subgraph")
    sig_names: dict[int, str] = {}
    for sig in model.signatureDefs or ():
        if sig.subgraphIndex == 0:
            for m in (*(sig.inputs or ()), *(sig.outputs or ())):
                sig_names[int(m.tensorIndex)] = _str(m.name)
            break
    tensors = sg.tensors or []

    def names(indices: Any) -> list[str]:
        idx = [] if indices is None else [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < len(tensors)]
        if bad:  # a corrupt file: name the index rather than fail with IndexError
            raise MetadataError(
                f"corrupt .tflite: subgraph 0 names tensor {bad[0]}, but has {len(tensors)}"
            )
        return [sig_names.get(i) or _str(tensors[i].name) for i in idx]

    return names(sg.inputs), names(sg.outputs)


def add_metadata(
    tflite: bytes,
    info: ModelInfo | Mapping[str, Any] | str | os.PathLike,
    files: Mapping[str, bytes] | None = None,
) -> bytes:
    """`tflite` with `info` as its TFLITE_METADATA (replacing any) and exactly the files the
    metadata names appended as a ZIP. Only the metadata changes: works on models from any
    converter. `files` (name -> bytes) supplies file contents by name."""
    info = as_model_info(info)
    model = _model_t(tflite)
    info = _complete(info, *model_io_names(model))
    data = collect_files(info, files, read_associated_files(tflite))
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(to_flatbuffer(info), np.uint8)
    model.buffers = list(model.buffers or [fb.BufferT()])
    model.metadata = list(model.metadata or [])
    entry = next((m for m in model.metadata if _str(m.name) == TFLITE_METADATA), None)
    if entry is None:
        entry = fb.MetadataT()
        entry.name = TFLITE_METADATA
        entry.buffer = len(model.buffers)
        model.buffers.append(buffer)
        model.metadata.append(entry)
    else:
        _check_buffer(model, entry.buffer)
        model.buffers[entry.buffer] = buffer
    try:
        out = pack_model(model)
    except WriteError as e:
        raise MetadataError(str(e)) from e
    return append_associated_files(out, data) if data else out


def remove_metadata(tflite: bytes) -> bytes:
    """`tflite` without TFLITE_METADATA and without appended associated files (the entry's
    buffer is left empty so other buffer indices stay valid)."""
    model = _model_t(tflite)
    keep = []
    for m in model.metadata or ():
        if _str(m.name) == TFLITE_METADATA:
            _check_buffer(model, m.buffer)
            model.buffers[m.buffer] = fb.BufferT()
        else:
            keep.append(m)
    model.metadata = keep or None
    try:
        return pack_model(model)
    except WriteError as e:
        raise MetadataError(str(e)) from e


def _check_buffer(model: fb.ModelT, index: int) -> None:
    count = len(model.buffers or ())
    if not 0 <= index < count:
        raise MetadataError(
            f"corrupt .tflite: the {TFLITE_METADATA} entry names buffer {index}, but there "
            f"are {count}"
        )


def attach_to_module(
    module: Any,
    info: ModelInfo | Mapping[str, Any] | str | os.PathLike,
    files: Mapping[str, bytes] | None = None,
) -> None:
    """Put `info` into `module.attributes` so `write_flatbuffer` stores it: the TFLITE_METADATA
    entry in "metadata" and the files in "associated_files" (replacing both). The module's
    first function is the main subgraph the tensor entries describe."""
    info = as_model_info(info)
    if not module.functions:
        raise MetadataError("the module has no functions")
    fn = module.functions[0]
    inputs = list(fn.attributes.get("input_names") or [])
    if len(inputs) != len(fn.args):
        inputs = [a.name_hint or f"arg{i}" for i, a in enumerate(fn.args)]
    outputs = list(fn.attributes.get("output_names") or [])
    if len(outputs) != len(fn.outputs):
        outputs = [f"output_{i}" for i in range(len(fn.outputs))]
    info = _complete(info, inputs, outputs)
    data = collect_files(info, files, module.attributes.get("associated_files"))
    entries = dict(module.attributes.get("metadata") or {})
    entries[TFLITE_METADATA] = to_flatbuffer(info)
    module.attributes["metadata"] = entries
    if data:
        module.attributes["associated_files"] = data
    else:
        module.attributes.pop("associated_files", None)


def metadata_entries(tflite: bytes) -> dict[str, bytes]:
    """Every metadata entry of a .tflite file: name -> the bytes of its buffer."""
    model = _model_t(tflite)
    out = {}
    for m in model.metadata or ():
        b = model.buffers[m.buffer] if 0 <= m.buffer < len(model.buffers or ()) else None
        if b is not None and b.data is not None:
            out[_str(m.name)] = bytes(b.data)
        elif b is not None and b.offset > 1:
            out[_str(m.name)] = bytes(tflite[b.offset : b.offset + b.size])
        else:
            out[_str(m.name)] = b""
    return out


def associated_files(tflite: bytes) -> dict[str, bytes]:
    """The files packed after the model (name -> contents); {} when there are none."""
    return read_associated_files(tflite)


def read_model_metadata(tflite: bytes) -> ModelInfo | None:
    """The model's TFLITE_METADATA as a ModelInfo (file contents in `AssociatedFile.data`
    when packed), or None when it has none."""
    data = metadata_entries(tflite).get(TFLITE_METADATA)
    if data is None:
        return None
    info = from_flatbuffer(data)
    packed = associated_files(tflite)
    for f in info.files():
        f.data = packed.get(f.name)
    return info
