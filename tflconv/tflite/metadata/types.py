"""The dataclasses of TFLite model metadata (`tflconv.tflite.metadata` re-exports them) and
their JSON spec form (`ModelInfo.to_dict` / `from_dict` / `from_json`).

`ModelInfo` describes a model: name, description, version, author, license, one `TensorInfo` per
input and output of the main subgraph, and model-level `AssociatedFile`s. Enum-valued fields hold
member names of metadata_schema.fbs ("RGB", "TENSOR_AXIS_LABELS", "LOG").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tflconv.tflite.generated import metadata_schema as mfb

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
        return info_to_dict(self)

    @classmethod
    def from_dict(
        cls, spec: Mapping[str, Any], base_dir: str | os.PathLike | None = None
    ) -> ModelInfo:
        """Parse the JSON spec form; relative file paths are resolved against `base_dir`."""
        return info_from_dict(spec, base_dir)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ModelInfo:
        """Load a JSON spec file (file paths relative to its directory)."""
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise MetadataError(f"cannot read metadata spec {os.fspath(path)}: {e}") from e
        return cls.from_dict(spec, Path(path).parent)


# ---------------------------------------------------------------------------------------------
# The JSON spec form of `ModelInfo` (`tflconv metadata add --from-json`,
# `tflconv convert --metadata`, `tflconv metadata show`).
#
#     {
#       "name": "flower classifier", "version": "1", "author": "me", "license": "Apache-2.0",
#       "description": "Identifies five kinds of flowers.",
#       "inputs": [{"name": "image", "content": {"kind": "image", "color_space": "RGB"},
#                   "normalization": {"mean": 127.5, "std": 127.5}, "value_range": [0, 255]}],
#       "outputs": [{"name": "probability", "labels": "labels.txt", "value_range": [0, 1]}],
#       "associated_files": [{"path": "README.txt", "type": "DESCRIPTIONS"}]
#     }
#
# A file is a path string or {"path", "description", "type", "locale", "version"}; relative paths
# are resolved against the spec's directory. `content` is a kind name ("feature", "image",
# "audio", "bounding_box") or an object with "kind" and that kind's fields. Unknown keys are
# errors (they are typos, and a typo must not silently drop metadata).

MODEL_KEYS = ("name", "description", "version", "author", "license")
FILE_KEYS = ("path", "description", "type", "locale", "version")


def _check_keys(spec: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(spec, Mapping):
        raise MetadataError(f"{where}: expected an object, got {spec!r}")
    unknown = [k for k in spec if k not in allowed]
    if unknown:
        raise MetadataError(f"{where}: unknown keys {unknown}; allowed: {', '.join(allowed)}")


def _file(spec: Any, base_dir: Path | None, where: str, type: str = "UNKNOWN") -> AssociatedFile:
    if isinstance(spec, str):
        spec = {"path": spec}
    _check_keys(spec, FILE_KEYS, where)
    if not spec.get("path"):
        raise MetadataError(f"{where}: a file needs a 'path'")
    path = str(spec["path"])
    if base_dir is not None and not os.path.isabs(path):
        path = str(base_dir / path)
    values = {k: str(spec[k]) for k in FILE_KEYS[1:] if spec.get(k) is not None}
    values.setdefault("type", type)
    return AssociatedFile(path, **values)


def _files(spec: Any, base_dir: Path | None, where: str, type: str = "UNKNOWN") -> list:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    return [_file(s, base_dir, f"{where}[{i}]", type) for i, s in enumerate(items)]


def _content(spec: Any, where: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping) or spec.get("kind") not in _CONTENT_KINDS:
        raise MetadataError(
            f"{where}: content needs a kind, one of {', '.join(_CONTENT_KINDS)}; got {spec!r}"
        )
    cls = _CONTENT_KINDS[spec["kind"]]
    names = tuple(f.name for f in fields(cls))
    _check_keys(spec, ("kind", *names), where)
    values = {k: v for k, v in spec.items() if k != "kind"}
    if "default_size" in values and values["default_size"] is not None:
        values["default_size"] = tuple(int(v) for v in values["default_size"])
    return cls(**values)


def _pair(spec: Any, keys: tuple[str, str], where: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        _check_keys(spec, keys, where)
        if any(k not in spec for k in keys):
            raise MetadataError(f"{where}: needs both {keys[0]!r} and {keys[1]!r}")
        return (spec[keys[0]], spec[keys[1]])
    if isinstance(spec, list | tuple) and len(spec) == 2:
        return tuple(spec)
    raise MetadataError(f"{where}: expected [{keys[0]}, {keys[1]}] or an object, got {spec!r}")


TENSOR_KEYS = (
    "name",
    "description",
    "content",
    "normalization",
    "value_range",
    "labels",
    "label_files",
    "score_calibration",
    "score_threshold",
    "dimension_names",
    "content_range",
    "associated_files",
)


def _tensor(spec: Any, base_dir: Path | None, where: str) -> TensorInfo:
    if isinstance(spec, str):
        spec = {"name": spec}
    _check_keys(spec, TENSOR_KEYS, where)
    t = TensorInfo(name=str(spec.get("name") or ""), description=str(spec.get("description") or ""))
    t.content = _content(spec.get("content"), f"{where}.content")
    t.normalization = _pair(spec.get("normalization"), ("mean", "std"), f"{where}.normalization")
    t.value_range = _pair(spec.get("value_range"), ("min", "max"), f"{where}.value_range")
    t.label_files = _files(spec.get("labels"), base_dir, f"{where}.labels", "TENSOR_AXIS_LABELS")
    t.label_files += _files(
        spec.get("label_files"), base_dir, f"{where}.label_files", "TENSOR_AXIS_LABELS"
    )
    sc = spec.get("score_calibration")
    if sc is not None:
        _check_keys(sc, ("file", "transformation", "default_score"), f"{where}.score_calibration")
        if "file" not in sc:
            raise MetadataError(f"{where}.score_calibration: needs a 'file'")
        t.score_calibration = ScoreCalibration(
            _file(
                sc["file"],
                base_dir,
                f"{where}.score_calibration.file",
                "TENSOR_AXIS_SCORE_CALIBRATION",
            ),
            str(sc.get("transformation", "IDENTITY")),
            float(sc.get("default_score", 0.0)),
        )
    if spec.get("score_threshold") is not None:
        t.score_threshold = float(spec["score_threshold"])
    t.dimension_names = [str(n) for n in spec.get("dimension_names") or ()]
    if spec.get("content_range") is not None:
        lo, hi = _pair(spec["content_range"], ("min", "max"), f"{where}.content_range")
        t.content_range = (int(lo), int(hi))
    t.associated_files = _files(spec.get("associated_files"), base_dir, f"{where}.associated_files")
    return t


def info_from_dict(spec: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> ModelInfo:
    """Parse the JSON spec form into a ModelInfo."""
    # min_parser_version is accepted (what `tflconv metadata show` prints) and recomputed.
    allowed = (*MODEL_KEYS, "inputs", "outputs", "associated_files", "min_parser_version")
    _check_keys(spec, allowed, "metadata spec")
    base = Path(base_dir) if base_dir is not None else None
    info = ModelInfo(**{k: str(spec[k]) for k in MODEL_KEYS if spec.get(k) is not None})
    for side in ("inputs", "outputs"):
        items = spec.get(side) or []
        if not isinstance(items, list):
            raise MetadataError(f"metadata spec: {side!r} must be a list")
        setattr(info, side, [_tensor(s, base, f"{side}[{i}]") for i, s in enumerate(items)])
    info.associated_files = _files(spec.get("associated_files"), base, "associated_files")
    return info


# --- ModelInfo -> dict -------------------------------------------------------------------------


def _file_dict(f: AssociatedFile, default_type: str = "UNKNOWN") -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path}
    for key in FILE_KEYS[1:]:
        value = getattr(f, key)
        if value and not (key == "type" and value == default_type):
            out[key] = value
    return out


def _content_dict(c: Any) -> Any:
    kind = next(k for k, cls in _CONTENT_KINDS.items() if isinstance(c, cls))
    if isinstance(c, FeatureContent):
        return kind
    values = {f.name: getattr(c, f.name) for f in fields(c)}
    if isinstance(c, ImageContent):
        if c.default_size is None:
            del values["default_size"]
        else:
            values["default_size"] = list(c.default_size)
    if isinstance(c, BoundingBoxContent) and not c.index:
        del values["index"]
    return {"kind": kind, **values}


def _tensor_dict(t: TensorInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.name:
        out["name"] = t.name
    if t.description:
        out["description"] = t.description
    if t.content is not None:
        out["content"] = _content_dict(t.content)
    if t.normalization is not None:
        out["normalization"] = {"mean": t.normalization[0], "std": t.normalization[1]}
    if t.value_range is not None:
        out["value_range"] = list(t.value_range)
    if t.label_files:
        out["label_files"] = [_file_dict(f, "TENSOR_AXIS_LABELS") for f in t.label_files]
    if t.score_calibration is not None:
        sc = t.score_calibration
        out["score_calibration"] = {
            "file": _file_dict(sc.file, "TENSOR_AXIS_SCORE_CALIBRATION"),
            "transformation": sc.transformation,
            "default_score": sc.default_score,
        }
    if t.score_threshold is not None:
        out["score_threshold"] = t.score_threshold
    if t.dimension_names:
        out["dimension_names"] = list(t.dimension_names)
    if t.content_range is not None:
        out["content_range"] = list(t.content_range)
    if t.associated_files:
        out["associated_files"] = [_file_dict(f) for f in t.associated_files]
    return out


def info_to_dict(info: ModelInfo) -> dict[str, Any]:
    """The JSON spec form of a ModelInfo (empty fields left out)."""
    out: dict[str, Any] = {k: getattr(info, k) for k in MODEL_KEYS if getattr(info, k)}
    if info.inputs:
        out["inputs"] = [_tensor_dict(t) for t in info.inputs]
    if info.outputs:
        out["outputs"] = [_tensor_dict(t) for t in info.outputs]
    if info.associated_files:
        out["associated_files"] = [_file_dict(f) for f in info.associated_files]
    return out
