"""The dataclasses of TFLite model metadata (`tflconv.tools.metadata` re-exports them).

`ModelInfo` describes a model: name, description, version, author, license, one `TensorInfo` per
input and output of the main subgraph, and model-level `AssociatedFile`s. Enum-valued fields hold
member names of metadata_schema.fbs ("RGB", "TENSOR_AXIS_LABELS", "LOG").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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
        from tflconv.tools.metadata.spec import info_to_dict

        return info_to_dict(self)

    @classmethod
    def from_dict(
        cls, spec: Mapping[str, Any], base_dir: str | os.PathLike | None = None
    ) -> ModelInfo:
        """Parse the JSON spec form; relative file paths are resolved against `base_dir`."""
        from tflconv.tools.metadata.spec import info_from_dict

        return info_from_dict(spec, base_dir)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> ModelInfo:
        """Load a JSON spec file (file paths relative to its directory)."""
        try:
            spec = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise MetadataError(f"cannot read metadata spec {os.fspath(path)}: {e}") from e
        return cls.from_dict(spec, Path(path).parent)
