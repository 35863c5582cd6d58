"""ModelInfo <-> the metadata FlatBuffer (metadata_schema.fbs, file identifier "M001"), the
minimum parser version rules, and a plain-dict dump of every field for inspection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flatbuffers
import numpy as np

from tflconv.tflite.generated import metadata_schema as mfb
from tflconv.tflite.metadata.types import (
    ASSOCIATED_FILE_TYPES,
    BASE_PARSER_VERSION,
    BOUNDING_BOX_TYPES,
    COLOR_SPACES,
    COORDINATE_TYPES,
    FILE_IDENTIFIER,
    SCORE_TRANSFORMATIONS,
    AssociatedFile,
    AudioContent,
    BoundingBoxContent,
    Content,
    FeatureContent,
    ImageContent,
    MetadataError,
    ModelInfo,
    Range,
    ScoreCalibration,
    TensorInfo,
    _enum,
    _enum_name,
    _names,
)

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
