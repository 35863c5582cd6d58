"""The JSON spec form of `tflconv.tools.metadata.ModelInfo` (`tflconv metadata add --from-json`,
`tflconv convert --metadata`, `tflconv metadata show`).

    {
      "name": "flower classifier", "version": "1", "author": "me", "license": "Apache-2.0",
      "description": "Identifies five kinds of flowers.",
      "inputs": [{"name": "image", "content": {"kind": "image", "color_space": "RGB"},
                  "normalization": {"mean": 127.5, "std": 127.5}, "value_range": [0, 255]}],
      "outputs": [{"name": "probability", "labels": "labels.txt", "value_range": [0, 1]}],
      "associated_files": [{"path": "README.txt", "type": "DESCRIPTIONS"}]
    }

A file is a path string or {"path", "description", "type", "locale", "version"}; relative paths
are resolved against the spec's directory. `content` is a kind name ("feature", "image",
"audio", "bounding_box") or an object with "kind" and that kind's fields. Unknown keys are
errors (they are typos, and a typo must not silently drop metadata).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from tflconv.tools.metadata.types import (
    _CONTENT_KINDS,
    AssociatedFile,
    BoundingBoxContent,
    FeatureContent,
    ImageContent,
    MetadataError,
    ModelInfo,
    ScoreCalibration,
    TensorInfo,
)

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
