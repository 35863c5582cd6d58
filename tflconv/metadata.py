"""TFLite model metadata (the tflite-support standard): what the inputs and outputs mean.

    from tflconv.metadata import ModelInfo, TensorInfo, ImageContent, AssociatedFile, add_metadata

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
(tflconv/schema/metadata_schema.fbs, file identifier "M001", `min_parser_version` computed from
the fields used) is the data of a buffer named by the metadata entry "TFLITE_METADATA" (an
existing entry is replaced); the associated files are stored in a ZIP archive appended after the
FlatBuffer, each under the base name its `AssociatedFile.name` gives.

Two ways in: `add_metadata(tflite_bytes, info)` edits an existing model from any converter
(only its metadata changes), and `attach_to_module(module, info)` puts the same entry and files
into `module.attributes` ("metadata", "associated_files") for `write_flatbuffer`, which is how
`TFLiteConverter.metadata` works and how metadata survives read -> passes -> write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from tflconv.schema.generated import metadata_schema as mfb
from tflconv.schema.generated import tflite_schema as fb

TFLITE_METADATA = "TFLITE_METADATA"
"""The model metadata entry whose buffer holds the metadata FlatBuffer."""
FILE_IDENTIFIER = b"M001"
BASE_PARSER_VERSION = (1, 0, 0)


class MetadataError(ValueError):
    """Metadata that cannot be written or read (the message says which field and why)."""


def _names(cls: type) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


ASSOCIATED_FILE_TYPES = _names(mfb.AssociatedFileType)
COLOR_SPACES = _names(mfb.ColorSpaceType)
BOUNDING_BOX_TYPES = _names(mfb.BoundingBoxType)
COORDINATE_TYPES = _names(mfb.CoordinateType)
SCORE_TRANSFORMATIONS = _names(mfb.ScoreTransformationType)


def _enum(kind: dict[str, int], value: Any, what: str) -> int:
    if isinstance(value, str) and value.upper() in kind:
        return kind[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in kind.values():
        return value
    raise MetadataError(f"{what}: {value!r} is not one of {', '.join(kind)}")


def _enum_name(kind: dict[str, int], value: int) -> str:
    for name, v in kind.items():
        if v == value:
            return name
    return str(value)


# --- the API -------------------------------------------------------------------------------------


@dataclass
class AssociatedFile:
    """A file packed into the model. `path` is where to read it (its base name is the name
    stored in the metadata and in the ZIP archive); `data` overrides reading the path."""

    path: str
    description: str = ""
    type: str = "UNKNOWN"
    """UNKNOWN, DESCRIPTIONS, TENSOR_AXIS_LABELS, TENSOR_VALUE_LABELS,
    TENSOR_AXIS_SCORE_CALIBRATION, VOCABULARY or SCANN_INDEX_FILE."""
    locale: str = ""
    version: str = ""
    data: bytes | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass
class FeatureContent:
    """A plain feature tensor."""


@dataclass
class ImageContent:
    color_space: str = "RGB"
    """RGB, GRAYSCALE or UNKNOWN."""
    default_size: tuple[int, int] | None = None
    """(width, height) to use when the tensor's spatial dims are dynamic."""


@dataclass
class AudioContent:
    sample_rate: int = 0
    channels: int = 1


@dataclass
class BoundingBoxContent:
    index: list[int] = field(default_factory=list)
    type: str = "BOUNDARIES"
    """BOUNDARIES (left, top, right, bottom), UPPER_LEFT, CENTER or UNKNOWN."""
    coordinate_type: str = "RATIO"
    """RATIO (floats in [0, 1]) or PIXEL."""


Content = FeatureContent | ImageContent | AudioContent | BoundingBoxContent
_CONTENT_KINDS: dict[str, type] = {
    "feature": FeatureContent,
    "image": ImageContent,
    "audio": AudioContent,
    "bounding_box": BoundingBoxContent,
}


@dataclass
class ScoreCalibration:
    """Sigmoid score calibration; `file` holds one `scale,slope,offset[,min_score]` line per
    output index."""

    file: AssociatedFile
    transformation: str = "IDENTITY"
    """IDENTITY, LOG or INVERSE_LOGISTIC."""
    default_score: float = 0.0


Range = tuple[float, float] | tuple[list[float], list[float]]


@dataclass
class TensorInfo:
    """One input or output of the main subgraph."""

    name: str = ""
    description: str = ""
    content: Content | None = None
    normalization: Range | None = None
    """(mean, std), scalars or per-channel lists: the input is (x - mean) / std."""
    value_range: Range | None = None
    """(min, max) of the values (the standard's `stats`), scalars or per-channel lists."""
    label_files: list[AssociatedFile] = field(default_factory=list)
    """Labels of the content axis (type TENSOR_AXIS_LABELS unless another type is given)."""
    score_calibration: ScoreCalibration | None = None
    score_threshold: float | None = None
    dimension_names: list[str] = field(default_factory=list)
    content_range: tuple[int, int] | None = None
    """The dimensions (inclusive) the content spans; None: all but the batch axis."""
    associated_files: list[AssociatedFile] = field(default_factory=list)


@dataclass
class ModelInfo:
    """The model's metadata: who made it, under which license, what goes in and comes out."""

    name: str = ""
    description: str = ""
    version: str = ""
    author: str = ""
    license: str = ""
    inputs: list[TensorInfo] = field(default_factory=list)
    """One per input of the main subgraph, in order (none: names from the model)."""
    outputs: list[TensorInfo] = field(default_factory=list)
    associated_files: list[AssociatedFile] = field(default_factory=list)
    min_parser_version: str = ""
    """Set when read; always recomputed when written."""

    def files(self) -> list[AssociatedFile]:
        """Every associated file referenced anywhere, in metadata order."""
        out = list(self.associated_files)
        for t in (*self.inputs, *self.outputs):
            out += t.label_files
            if t.score_calibration is not None:
                out.append(t.score_calibration.file)
            out += t.associated_files
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON spec form (`tflconv metadata add --from-json`), empty fields left out."""
        from tflconv.metadata_spec import info_to_dict

        return info_to_dict(self)

    @classmethod
    def from_dict(
        cls, spec: Mapping[str, Any], base_dir: str | os.PathLike | None = None
    ) -> ModelInfo:
        """Parse the JSON spec form; relative file paths are resolved against `base_dir`."""
        from tflconv.metadata_spec import info_from_dict

        return info_from_dict(spec, base_dir)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ModelInfo:
        """Load a JSON spec file (file paths relative to its directory)."""
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise MetadataError(f"cannot read metadata spec {os.fspath(path)}: {e}") from e
        return cls.from_dict(spec, Path(path).parent)


# --- ModelInfo -> FlatBuffer ------------------------------------------------------------------


def _floats(value: Any, what: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=np.float32)).reshape(-1)
    except (TypeError, ValueError) as e:
        raise MetadataError(f"{what}: expected numbers, got {value!r}") from e
    if not arr.size:
        raise MetadataError(f"{what}: empty")
    return arr


def _pair(value: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(value, Mapping):
        keys = ("mean", "std") if "mean" in value else ("min", "max")
        value = (value.get(keys[0]), value.get(keys[1]))
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise MetadataError(f"{what}: expected a pair, got {value!r}")
    return _floats(value[0], what), _floats(value[1], what)


def _text(value: str) -> str | None:
    return value or None  # absent rather than empty: smaller, and reads back the same


def _file_t(f: AssociatedFile, default_type: str = "UNKNOWN") -> mfb.AssociatedFileT:
    if not f.name:
        raise MetadataError(f"associated file {f.path!r} has no file name")
    t = mfb.AssociatedFileT()
    t.name = f.name
    t.description = _text(f.description)
    kind = f.type if f.type != "UNKNOWN" else default_type
    t.type = _enum(ASSOCIATED_FILE_TYPES, kind, f"associated file {f.name!r} type")
    t.locale = _text(f.locale)
    t.version = _text(f.version)
    return t


def _content_t(info: TensorInfo, where: str) -> mfb.ContentT | None:
    c = info.content
    if c is None and info.content_range is None:
        return None
    out = mfb.ContentT()
    if c is None or isinstance(c, FeatureContent):
        out.contentPropertiesType = mfb.ContentProperties.FeatureProperties
        out.contentProperties = mfb.FeaturePropertiesT()
    elif isinstance(c, ImageContent):
        props = mfb.ImagePropertiesT()
        props.colorSpace = _enum(COLOR_SPACES, c.color_space, f"{where} color_space")
        if c.default_size is not None:
            props.defaultSize = mfb.ImageSizeT()
            props.defaultSize.width, props.defaultSize.height = (int(v) for v in c.default_size)
        out.contentPropertiesType = mfb.ContentProperties.ImageProperties
        out.contentProperties = props
    elif isinstance(c, AudioContent):
        props = mfb.AudioPropertiesT()
        props.sampleRate, props.channels = int(c.sample_rate), int(c.channels)
        out.contentPropertiesType = mfb.ContentProperties.AudioProperties
        out.contentProperties = props
    elif isinstance(c, BoundingBoxContent):
        props = mfb.BoundingBoxPropertiesT()
        props.index = [int(i) for i in c.index] or None
        props.type = _enum(BOUNDING_BOX_TYPES, c.type, f"{where} bounding box type")
        props.coordinateType = _enum(COORDINATE_TYPES, c.coordinate_type, f"{where} coordinates")
        out.contentPropertiesType = mfb.ContentProperties.BoundingBoxProperties
        out.contentProperties = props
    else:
        raise MetadataError(f"{where}: unknown content {c!r}")
    if info.content_range is not None:
        out.range = mfb.ValueRangeT()
        out.range.min, out.range.max = (int(v) for v in info.content_range)
    return out


def _process_unit(kind: int, options: Any) -> mfb.ProcessUnitT:
    unit = mfb.ProcessUnitT()
    unit.optionsType, unit.options = kind, options
    return unit


def _tensor_t(info: TensorInfo, where: str) -> mfb.TensorMetadataT:
    t = mfb.TensorMetadataT()
    t.name = _text(info.name)
    t.description = _text(info.description)
    t.dimensionNames = list(info.dimension_names) or None
    t.content = _content_t(info, where)
    units = []
    if info.normalization is not None:
        norm = mfb.NormalizationOptionsT()
        norm.mean, norm.std = _pair(info.normalization, f"{where} normalization")
        if np.any(norm.std == 0):
            raise MetadataError(f"{where} normalization: std must not be 0")
        units.append(_process_unit(mfb.ProcessUnitOptions.NormalizationOptions, norm))
    if info.score_calibration is not None:
        sc = mfb.ScoreCalibrationOptionsT()
        sc.scoreTransformation = _enum(
            SCORE_TRANSFORMATIONS,
            info.score_calibration.transformation,
            f"{where} score calibration transformation",
        )
        sc.defaultScore = float(info.score_calibration.default_score)
        units.append(_process_unit(mfb.ProcessUnitOptions.ScoreCalibrationOptions, sc))
    if info.score_threshold is not None:
        th = mfb.ScoreThresholdingOptionsT()
        th.globalScoreThreshold = float(info.score_threshold)
        units.append(_process_unit(mfb.ProcessUnitOptions.ScoreThresholdingOptions, th))
    t.processUnits = units or None
    if info.value_range is not None:
        t.stats = mfb.StatsT()
        t.stats.min, t.stats.max = _pair(info.value_range, f"{where} value_range")
    files = [_file_t(f, "TENSOR_AXIS_LABELS") for f in info.label_files]
    if info.score_calibration is not None:
        files.append(_file_t(info.score_calibration.file, "TENSOR_AXIS_SCORE_CALIBRATION"))
    files += [_file_t(f) for f in info.associated_files]
    t.associatedFiles = files or None
    return t


def metadata_table(info: ModelInfo) -> mfb.ModelMetadataT:
    """The `ModelMetadataT` object of `info` (min_parser_version filled in)."""
    meta = mfb.ModelMetadataT()
    meta.name = _text(info.name)
    meta.description = _text(info.description)
    meta.version = _text(info.version)
    meta.author = _text(info.author)
    meta.license = _text(info.license)
    sg = mfb.SubGraphMetadataT()
    sg.inputTensorMetadata = [_tensor_t(t, f"input {i}") for i, t in enumerate(info.inputs)]
    sg.outputTensorMetadata = [_tensor_t(t, f"output {i}") for i, t in enumerate(info.outputs)]
    meta.subgraphMetadata = [sg]
    meta.associatedFiles = [_file_t(f) for f in info.associated_files] or None
    meta.minParserVersion = min_parser_version(meta)
    return meta


def to_flatbuffer(info: ModelInfo) -> bytes:
    """The metadata FlatBuffer (file identifier "M001") of `info`."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(metadata_table(info).Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


# --- min_parser_version ----------------------------------------------------------------------


def min_parser_version(meta: mfb.ModelMetadataT) -> str:
    """The oldest metadata parser that understands every field `meta` uses: the rules of
    tflite-support's `GetMinimumMetadataParserVersion` (metadata_version.cc), feature by
    feature as listed in metadata_schema.fbs; at least 1.0.0."""
    found = [BASE_PARSER_VERSION]

    def files(items: list | None) -> None:
        for f in items or ():
            if f is None:
                continue
            if f.type == mfb.AssociatedFileType.VOCABULARY:
                found.append((1, 0, 1))
            if f.type == mfb.AssociatedFileType.SCANN_INDEX_FILE:
                found.append((1, 4, 0))
            if f.version is not None:
                found.append((1, 4, 1))

    def units(items: list | None) -> None:
        for u in items or ():
            if u is None:
                continue
            if u.optionsType in (
                mfb.ProcessUnitOptions.BertTokenizerOptions,
                mfb.ProcessUnitOptions.SentencePieceTokenizerOptions,
            ):
                found.append((1, 1, 0))
            if u.optionsType == mfb.ProcessUnitOptions.RegexTokenizerOptions:
                found.append((1, 2, 1))

    def tensors(items: list | None) -> None:
        for t in items or ():
            if t is None:
                continue
            files(t.associatedFiles)
            units(t.processUnits)
            if (
                t.content is not None
                and t.content.contentPropertiesType == mfb.ContentProperties.AudioProperties
            ):
                found.append((1, 3, 0))

    for sg in meta.subgraphMetadata or ():
        tensors(sg.inputTensorMetadata)
        tensors(sg.outputTensorMetadata)
        files(sg.associatedFiles)
        # Present at all (even empty) counts, as in the official rules.
        if sg.inputProcessUnits is not None or sg.outputProcessUnits is not None:
            found.append((1, 1, 0))
            units(sg.inputProcessUnits)
            units(sg.outputProcessUnits)
        if sg.inputTensorGroups is not None or sg.outputTensorGroups is not None:
            found.append((1, 2, 0))
        if sg.customMetadata is not None:
            found.append((1, 5, 0))
    files(meta.associatedFiles)
    return ".".join(str(v) for v in max(found))


# --- FlatBuffer -> ModelInfo ------------------------------------------------------------------


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _f32(x: Any) -> float:
    """A float32 field as the shortest decimal that reads back the same: 0.2, not 0.2000000029."""
    return float(str(np.float32(x)))


def _unpair(a: Any, b: Any) -> Range:
    a, b = [_f32(x) for x in np.asarray(a)], [_f32(x) for x in np.asarray(b)]
    if len(a) == 1 and len(b) == 1:
        return (a[0], b[0])
    return (a, b)


def _file(t: mfb.AssociatedFileT) -> AssociatedFile:
    return AssociatedFile(
        path=_str(t.name),
        description=_str(t.description),
        type=_enum_name(ASSOCIATED_FILE_TYPES, int(t.type)),
        locale=_str(t.locale),
        version=_str(t.version),
    )


def _content(c: mfb.ContentT | None) -> Content | None:
    if c is None:
        return None
    kind, props = c.contentPropertiesType, c.contentProperties
    if kind == mfb.ContentProperties.ImageProperties:
        size = props.defaultSize
        return ImageContent(
            _enum_name(COLOR_SPACES, int(props.colorSpace)),
            (int(size.width), int(size.height)) if size is not None else None,
        )
    if kind == mfb.ContentProperties.AudioProperties:
        return AudioContent(int(props.sampleRate), int(props.channels))
    if kind == mfb.ContentProperties.BoundingBoxProperties:
        return BoundingBoxContent(
            [int(i) for i in props.index] if props.index is not None else [],
            _enum_name(BOUNDING_BOX_TYPES, int(props.type)),
            _enum_name(COORDINATE_TYPES, int(props.coordinateType)),
        )
    return FeatureContent()


def _tensor(t: mfb.TensorMetadataT) -> TensorInfo:
    info = TensorInfo(name=_str(t.name), description=_str(t.description))
    info.dimension_names = [_str(n) for n in t.dimensionNames or ()]
    info.content = _content(t.content)
    if t.content is not None and t.content.range is not None:
        info.content_range = (int(t.content.range.min), int(t.content.range.max))
    if t.stats is not None and t.stats.min is not None and t.stats.max is not None:
        info.value_range = _unpair(t.stats.min, t.stats.max)
    calibration = None
    for u in t.processUnits or ():
        if u is None:
            continue
        if u.optionsType == mfb.ProcessUnitOptions.NormalizationOptions:
            info.normalization = _unpair(u.options.mean, u.options.std)
        elif u.optionsType == mfb.ProcessUnitOptions.ScoreCalibrationOptions:
            calibration = u.options
        elif u.optionsType == mfb.ProcessUnitOptions.ScoreThresholdingOptions:
            info.score_threshold = _f32(u.options.globalScoreThreshold)
    for f in (_file(x) for x in t.associatedFiles or () if x is not None):
        if f.type in ("TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS"):
            info.label_files.append(f)
        elif (
            f.type == "TENSOR_AXIS_SCORE_CALIBRATION"
            and calibration is not None
            and info.score_calibration is None
        ):
            info.score_calibration = ScoreCalibration(
                f,
                _enum_name(SCORE_TRANSFORMATIONS, int(calibration.scoreTransformation)),
                _f32(calibration.defaultScore),
            )
        else:
            info.associated_files.append(f)
    return info


def parse_table(data: bytes) -> mfb.ModelMetadataT:
    """The `ModelMetadataT` of a metadata FlatBuffer (checks the "M001" identifier)."""
    if len(data) < 8 or bytes(data[4:8]) != FILE_IDENTIFIER:
        raise MetadataError(
            f"not TFLite model metadata: expected the file identifier {FILE_IDENTIFIER!r}, "
            f"found {bytes(data[4:8])!r}"
        )
    try:
        return mfb.ModelMetadataT.InitFromPackedBuf(bytes(data), 0)
    except Exception as e:  # noqa: BLE001 (any decoding failure means corrupt metadata)
        raise MetadataError(f"corrupt metadata FlatBuffer: {type(e).__name__}: {e}") from e


def from_flatbuffer(data: bytes) -> ModelInfo:
    """A metadata FlatBuffer -> ModelInfo (the main subgraph's tensors; parts the dataclasses
    do not model, such as tokenizers, are left out: `metadata_to_dict` shows everything)."""
    meta = parse_table(data)
    info = ModelInfo(
        name=_str(meta.name),
        description=_str(meta.description),
        version=_str(meta.version),
        author=_str(meta.author),
        license=_str(meta.license),
        min_parser_version=_str(meta.minParserVersion),
    )
    subgraphs = meta.subgraphMetadata or []
    if subgraphs and subgraphs[0] is not None:
        info.inputs = [_tensor(t) for t in subgraphs[0].inputTensorMetadata or () if t]
        info.outputs = [_tensor(t) for t in subgraphs[0].outputTensorMetadata or () if t]
    info.associated_files = [_file(f) for f in meta.associatedFiles or () if f is not None]
    return info


# Enum-valued fields of the generated classes, for readable dumps.
_ENUM_FIELDS: dict[tuple[str, str], dict[str, int]] = {
    ("AssociatedFileT", "type"): ASSOCIATED_FILE_TYPES,
    ("ImagePropertiesT", "colorSpace"): COLOR_SPACES,
    ("BoundingBoxPropertiesT", "type"): BOUNDING_BOX_TYPES,
    ("BoundingBoxPropertiesT", "coordinateType"): COORDINATE_TYPES,
    ("ScoreCalibrationOptionsT", "scoreTransformation"): SCORE_TRANSFORMATIONS,
    ("ContentT", "contentPropertiesType"): _names(mfb.ContentProperties),
    ("ProcessUnitT", "optionsType"): _names(mfb.ProcessUnitOptions),
}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _plain(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, bytes):
        return _str(obj)
    if isinstance(obj, float | np.floating):
        return _f32(obj)  # every float of the schema is a float32
    if isinstance(obj, np.ndarray):
        return [_plain(x) for x in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    cls = type(obj).__name__
    out: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if value is None:
            continue
        kind = _ENUM_FIELDS.get((cls, key))
        out[_snake(key)] = _enum_name(kind, int(value)) if kind else _plain(value)
    return out


def metadata_to_dict(data: bytes) -> dict[str, Any]:
    """Every field of a metadata FlatBuffer as plain JSON-able values (snake_case keys as in
    the schema, enum names, absent fields left out)."""
    return _plain(parse_table(data))


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
    from tflconv.schema.writer import FILE_IDENTIFIER as TFL3

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
    from tflconv.schema.reader import read_associated_files
    from tflconv.schema.writer import WriteError, append_associated_files, pack_model

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
        model.buffers[entry.buffer] = buffer
    try:
        out = pack_model(model)
    except WriteError as e:
        raise MetadataError(str(e)) from e
    return append_associated_files(out, data) if data else out


def remove_metadata(tflite: bytes) -> bytes:
    """`tflite` without TFLITE_METADATA and without appended associated files (the entry's
    buffer is left empty so other buffer indices stay valid)."""
    from tflconv.schema.writer import WriteError, pack_model

    model = _model_t(tflite)
    keep = []
    for m in model.metadata or ():
        if _str(m.name) == TFLITE_METADATA:
            model.buffers[m.buffer] = fb.BufferT()
        else:
            keep.append(m)
    model.metadata = keep or None
    try:
        return pack_model(model)
    except WriteError as e:
        raise MetadataError(str(e)) from e


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
    from tflconv.schema.reader import read_associated_files

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
