"""`tflconv metadata add | show | remove`: TFLite model metadata on an existing .tflite file.

    tflconv metadata add model.tflite -o out.tflite --name "Flowers" --author me \\
        --input-image RGB --input-normalization 127.5:127.5 --input-range 0:255 \\
        --labels labels.txt --output-range 0:1
    tflconv metadata add model.tflite -o out.tflite --from-json spec.json
    tflconv metadata show out.tflite            # the JSON spec form (feed it back with --from-json)

The --input-* / --output-* flags describe the first input and the first output; describe more
with --from-json (flags given with it override the spec). Only the metadata changes; the output
is written atomically and -o is required (it may name the input to update it in place).

Exit codes (docs/cli.md): 0 done, 2 bad or corrupt model, spec or flags, or an output that cannot
be written; 3 internal error; 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .common import EXIT_OK, CLIError, check_tflite, common_flags, output_error
from .inspect import extract_files


def add_metadata_parser(subparsers: Any) -> argparse.ArgumentParser:

    p = subparsers.add_parser(
        "metadata",
        help="add, show or remove TFLite model metadata (TFLITE_METADATA, associated files)",
        description=__doc__.split("\n\n")[0],
    )
    sub = p.add_subparsers(dest="metadata_command", metavar="<add|show|remove>", required=True)

    add = sub.add_parser(
        "add",
        parents=[common_flags()],
        help="attach metadata (replacing any) and pack associated files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("model", metavar="MODEL", help="the .tflite file")
    add.add_argument("-o", "--output", required=True, help="the .tflite to write")
    add.add_argument("--from-json", metavar="SPEC", help="a JSON metadata spec (docs/metadata.md)")
    model = add.add_argument_group("model")
    for flag in ("name", "description", "version", "author", "license"):
        model.add_argument(f"--{flag}")
    model.add_argument(
        "--associated-file",
        action="append",
        default=[],
        metavar="FILE[:TYPE]",
        help="a model-level file (TYPE e.g. DESCRIPTIONS, VOCABULARY); repeatable",
    )
    inp = add.add_argument_group("first input")
    inp.add_argument("--input-name")
    inp.add_argument("--input-description")
    inp.add_argument("--input-image", metavar="COLOR_SPACE", help="image content: RGB or GRAYSCALE")
    inp.add_argument("--input-audio", metavar="RATE[:CHANNELS]", help="audio content")
    inp.add_argument("--input-feature", action="store_true", help="plain feature content")
    inp.add_argument(
        "--input-normalization",
        metavar="MEAN:STD",
        help="(x - mean) / std; comma lists per channel, e.g. 127.5:127.5",
    )
    inp.add_argument("--input-range", metavar="MIN:MAX", help="range of the input values")
    out = add.add_argument_group("first output")
    out.add_argument("--output-name")
    out.add_argument("--output-description")
    out.add_argument(
        "--labels", action="append", default=[], metavar="FILE", help="label file; repeatable"
    )
    out.add_argument("--output-range", metavar="MIN:MAX", help="range of the output values")
    out.add_argument("--score-threshold", type=float, metavar="X")
    add.set_defaults(run=run_add)

    show = sub.add_parser(
        "show", parents=[common_flags()], help="print the metadata as a JSON spec"
    )
    show.add_argument("model", metavar="MODEL")
    show.add_argument(
        "--extract-files", metavar="DIR", help="also write the associated files into DIR"
    )
    show.set_defaults(run=run_show)

    remove = sub.add_parser(
        "remove", parents=[common_flags()], help="drop TFLITE_METADATA and the associated files"
    )
    remove.add_argument("model", metavar="MODEL")
    remove.add_argument("-o", "--output", required=True)
    remove.set_defaults(run=run_remove)
    return p


def _read(path: str) -> bytes:

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None
    check_tflite(data, path)  # never add to, show or strip a corrupt model
    return data


def _write(path: str, data: bytes) -> None:
    from tflconv.core.io import write_atomic

    try:
        write_atomic(path, data)
    except OSError as e:
        raise CLIError(output_error(path, e)) from None


def _floats(text: str, flag: str) -> float | list[float]:

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"{flag}: expected numbers, got {text!r}") from None
    if not values:
        raise CLIError(f"{flag}: expected numbers, got {text!r}")
    return values[0] if len(values) == 1 else values


def _pair(text: str | None, flag: str) -> tuple[Any, Any] | None:

    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 2:
        raise CLIError(f"{flag}: expected A:B, got {text!r}")
    return _floats(parts[0], flag), _floats(parts[1], flag)


def _content(args: argparse.Namespace) -> Any:
    from tflconv.tflite.metadata import AudioContent, FeatureContent, ImageContent

    given = [x for x in (args.input_image, args.input_audio, args.input_feature or None) if x]
    if len(given) > 1:
        raise CLIError("give one of --input-image, --input-audio, --input-feature")
    if args.input_image:
        return ImageContent(args.input_image.upper())
    if args.input_audio:
        rate, _, channels = args.input_audio.partition(":")
        try:
            return AudioContent(int(rate), int(channels or 1))
        except ValueError:
            raise CLIError(
                f"--input-audio: expected RATE[:CHANNELS], got {args.input_audio!r}"
            ) from None
    if args.input_feature:
        return FeatureContent()
    return None


def build_info(args: argparse.Namespace, inputs: list[str], outputs: list[str]) -> Any:
    """The ModelInfo of the flags (over --from-json's spec), one entry per model input/output."""
    from tflconv.tflite.metadata import ASSOCIATED_FILE_TYPES, AssociatedFile, ModelInfo, TensorInfo

    info = ModelInfo.from_json(args.from_json) if args.from_json else ModelInfo()
    for flag in ("name", "description", "version", "author", "license"):
        if getattr(args, flag) is not None:
            setattr(info, flag, getattr(args, flag))
    for spec in args.associated_file:
        path, _, kind = spec.rpartition(":")
        if not path or kind.upper() not in ASSOCIATED_FILE_TYPES:
            path, kind = spec, "UNKNOWN"  # no type suffix (or a ':' in the path)
        info.associated_files.append(AssociatedFile(path, type=kind.upper()))

    ins = info.inputs or [TensorInfo(name=n) for n in inputs]
    outs = info.outputs or [TensorInfo(name=n) for n in outputs]
    if ins:
        first = ins[0]
        changes: dict[str, Any] = {}
        if args.input_name is not None:
            changes["name"] = args.input_name
        if args.input_description is not None:
            changes["description"] = args.input_description
        content = _content(args)
        if content is not None:
            changes["content"] = content
        norm = _pair(args.input_normalization, "--input-normalization")
        if norm is not None:
            changes["normalization"] = norm
        value_range = _pair(args.input_range, "--input-range")
        if value_range is not None:
            changes["value_range"] = value_range
        ins[0] = replace(first, **changes)
    if outs:
        first = outs[0]
        changes = {}
        if args.output_name is not None:
            changes["name"] = args.output_name
        if args.output_description is not None:
            changes["description"] = args.output_description
        if args.labels:
            changes["label_files"] = [
                *first.label_files,
                *(AssociatedFile(p, type="TENSOR_AXIS_LABELS") for p in args.labels),
            ]
        value_range = _pair(args.output_range, "--output-range")
        if value_range is not None:
            changes["value_range"] = value_range
        if args.score_threshold is not None:
            changes["score_threshold"] = args.score_threshold
        outs[0] = replace(first, **changes)
    elif args.labels:
        raise CLIError("--labels: the model has no outputs")
    info.inputs, info.outputs = ins, outs
    return info


def run_add(args: argparse.Namespace) -> int:
    from tflconv.tflite.metadata import MetadataError, _model_t, add_metadata, model_io_names

    data = _read(args.model)
    try:
        inputs, outputs = model_io_names(_model_t(data))
        info = build_info(args, inputs, outputs)
        result = add_metadata(data, info)
    except MetadataError as e:
        raise CLIError(str(e)) from None
    _write(args.output, result)
    files = len(info.files())
    print(
        f"wrote {args.output}: TFLITE_METADATA for {len(info.inputs)} input(s), "
        f"{len(info.outputs)} output(s), {files} associated file(s); {len(result)} bytes"
    )
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    from tflconv.tflite.metadata import MetadataError, associated_files, read_model_metadata

    data = _read(args.model)
    try:
        info = read_model_metadata(data)
    except MetadataError as e:
        raise CLIError(f"{args.model}: {e}") from None
    if info is None:
        raise CLIError(f"{args.model} has no TFLITE_METADATA")
    spec = info.to_dict()
    if info.min_parser_version:
        spec = {**spec, "min_parser_version": info.min_parser_version}
    sys.stdout.write(json.dumps(spec, indent=2) + "\n")
    if args.extract_files:
        extract_files(associated_files(data), args.extract_files)
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    from tflconv.tflite.metadata import MetadataError, remove_metadata

    data = _read(args.model)
    try:
        result = remove_metadata(data)
    except MetadataError as e:
        raise CLIError(f"{args.model}: {e}") from None
    _write(args.output, result)
    print(f"wrote {args.output} without TFLITE_METADATA ({len(result)} bytes)")
    return EXIT_OK
