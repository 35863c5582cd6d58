"""`tflconv convert`: a TF/Keras model -> .tflite, with tflite_convert's flags plus the pass
manager's instrumentation and `--verify` (run the result in LiteRT and compare with TF).

Exit codes: 0 converted (and verified), 1 `--verify` found outputs beyond tolerance,
2 bad input (missing path, corrupt model, bad signature, unconvertible op, bad --verify-inputs,
an output path that cannot be written): one error line on stderr and no output file;
3 internal error; 130/143 interrupted (handled by `tflconv.cli.main`). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tflconv.api.converter import (
    DEFAULT_PIPELINE,
    ConversionResult,
    ConverterError,
    TFLiteConverter,
)
from tflconv.api.files import check_output_path
from tflconv.api.quiet import quiet_tensorflow
from tflconv.core import signals

from .common import (
    add_instrument_arguments,
    add_pass_plugin_argument,
    instruments_from_args,
    load_pass_plugins,
)

EXIT_OK, EXIT_VERIFY_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

DESCRIPTION = """\
Convert a TensorFlow model to a LiteRT (.tflite) FlatBuffer.

The model is a positional MODEL (kind detected: SavedModel directory, .keras/.h5 file, frozen
.pb GraphDef) or one of tflite_convert's flags --saved_model_dir / --keras_model_file /
--graph_def_file. TensorFlow's log output is silenced unless -v is given.
"""

EPILOG = """\
examples:
  tflconv convert examples/cnn.keras -o out/cnn.tflite --verify --dump-dir out/dumps
  tflconv convert --saved_model_dir sm/ --saved_model_signature_key serving_default -o m.tflite
  tflconv convert --graph_def_file g.pb --input_arrays x --output_arrays y --input_shapes 1,8 -o g.tflite
  tflconv convert m.keras -o m.tflite --time-passes --print-ir-after legalize-tf
"""


def add_convert_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `convert` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "convert",
        help="convert a TF/Keras model to .tflite",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    p.set_defaults(func=run_convert, run=run_convert)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("input (tflite_convert compatible)")
    src.add_argument("model", nargs="?", metavar="MODEL", help="model path, kind auto-detected")
    src.add_argument("--saved_model_dir", "--saved-model-dir", metavar="DIR")
    src.add_argument("--keras_model_file", "--keras-model-file", metavar="FILE")
    src.add_argument("--graph_def_file", "--graph-def-file", metavar="FILE")
    src.add_argument(
        "--saved_model_tag_set",
        "--saved-model-tag-set",
        metavar="TAGS",
        help="comma-separated MetaGraphDef tags (default: serve)",
    )
    src.add_argument(
        "--saved_model_signature_key",
        "--saved-model-signature-key",
        metavar="KEY",
        help="signature(s) to convert, comma-separated (default: all)",
    )
    src.add_argument("--input_arrays", "--input-arrays", metavar="NAMES", help="comma-separated")
    src.add_argument("--output_arrays", "--output-arrays", metavar="NAMES", help="comma-separated")
    src.add_argument(
        "--input_shapes",
        "--input-shapes",
        metavar="SHAPES",
        help="shapes of --input_arrays, colon-separated, dims comma-separated ('1,224,224,3:1,10'; "
        "'?' or -1 for a dynamic dim)",
    )
    for flag in ("--experimental_new_converter", "--experimental_new_quantizer"):
        src.add_argument(
            flag,
            nargs="?",
            const="true",
            metavar="BOOL",
            help="accepted for tflite_convert compatibility (tflconv has one converter and one "
            "quantizer); ignored",
        )
    src.add_argument(
        "--enable_v1_converter",
        action="store_true",
        help="tflite_convert's TF1 mode: tflconv reads TF1 frozen graphs and SavedModels "
        "directly, so the flag is refused with what to pass instead",
    )

    out = p.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output_file",
        "--output-file",
        dest="output_file",
        metavar="FILE",
        help="the .tflite to write (default: <model name>.tflite in the current directory)",
    )
    out.add_argument(
        "--exclude-conversion-metadata",
        action="store_true",
        help="do not embed CONVERSION_METADATA",
    )
    out.add_argument(
        "--metadata",
        metavar="SPEC.json",
        help="embed TFLite model metadata from a JSON spec (docs/metadata.md)",
    )

    from tflconv.api.compat import add_compat_arguments

    add_compat_arguments(p)
    from tflconv.cli.quantize_flags import add_quantize_arguments

    add_quantize_arguments(p)

    pm = p.add_argument_group("pass manager (as in `tflconv opt`)")
    pm.add_argument("--pass-pipeline", default=DEFAULT_PIPELINE, metavar="PIPELINE")
    add_pass_plugin_argument(pm)
    pm.add_argument(
        "--print-pipeline",
        action="store_true",
        help="print the pipeline the flags produce (a --pass-pipeline value) and exit without "
        "converting",
    )

    add_instrument_arguments(pm)
    # Conversion defaults differ from `opt`: verifying after every pass costs time on big
    # models, and a reproducer file is written only when asked for.
    p.set_defaults(verify_each=False, reproducer=None)
    pm.add_argument(
        "--debug", action="store_true", help="on failure, print the full report and traceback"
    )

    ver = p.add_argument_group("verification")
    ver.add_argument(
        "--verify",
        action="store_true",
        help="run the .tflite in LiteRT and the model in TF on the same inputs and compare",
    )
    ver.add_argument("--verify-inputs", metavar="NPZ", help="inputs by name (default: random)")
    ver.add_argument("--verify-seed", type=int, default=0, metavar="N")
    ver.add_argument("--verify-atol", type=float, default=1e-4, metavar="X")
    ver.add_argument("--verify-rtol", type=float, default=1e-3, metavar="X")
    ver.add_argument(
        "--verify-samples", type=int, default=8, metavar="N", help="quantized models: inputs"
    )
    ver.add_argument(
        "--verify-scale-tol",
        type=float,
        default=8.0,
        metavar="X",
        help="quantized models: max error allowed, in steps of the output's quantization scale",
    )

    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's own log output")


# ---------------------------------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    """Run `tflconv convert` with parsed arguments; returns the exit code."""
    err = sys.stderr
    try:
        if args.enable_v1_converter:
            raise ConverterError(
                "--enable_v1_converter: not needed — tflconv converts TF1 models directly: a "
                "frozen graph with --graph_def_file F --input_arrays A --output_arrays B, a TF1 "
                "SavedModel with --saved_model_dir D (--saved_model_tag_set, "
                "--saved_model_signature_key); drop the flag",
                phase="options",
            )
        source, kind, load_options = _source(args)
        output = Path(args.output_file) if args.output_file else _default_output(source)
        check_output_path(output, source)
        if args.verify_inputs and not os.path.isfile(args.verify_inputs):
            raise ConverterError(f"no such file: {args.verify_inputs}", phase="options")
        if args.print_pipeline:
            print(_converter(args, source, kind, load_options).conversion_pipeline())
            return EXIT_OK
        if err.isatty() and not os.environ.get("CI"):  # a large model loads for seconds
            print(f"tflconv: loading {source} ...", file=err, flush=True)
        verification = None
        if not args.verify:  # streamed straight to the output file
            result = _convert(args, source, kind, load_options, output)
        else:  # streamed to a temporary file, renamed to the output once verification ran
            with _pending_output(output) as pending:
                result = _convert(args, source, kind, load_options, pending)
                with quiet_tensorflow(enabled=not args.verbose):
                    verification = _verify(args, result)
    except ConverterError as e:
        print(f"tflconv: error: {e}", file=err)
        if e.report is not None:  # unconvertible ops: the report is the error itself
            print(e.report.render(header=False), file=err)
        elif args.debug and e.details:  # the original traceback
            print(e.details, file=err)
        _report_json(args, error=e)
        return EXIT_BAD_INPUT
    except OSError as e:  # writing the output (its path was checked before converting)
        print(f"tflconv: error: cannot write {output}: {e.strerror or e}", file=err)
        return EXIT_BAD_INPUT
    except Exception as e:  # a bug in tflconv: say so in one line, details with --debug
        msg = " ".join(str(e).split())
        if args.debug:
            import traceback

            traceback.print_exc()
        hint = "" if args.debug else " (rerun with --debug for the traceback)"
        print(f"tflconv: internal error: {type(e).__name__}: {msg}{hint}", file=err)
        return EXIT_INTERNAL

    _report_json(args, output=str(output), module=result.module)
    print(_summary(source, output, result))
    from tflconv.api.compat import runtime_needs

    for line in runtime_needs(result.module):
        print(line)
    if verification is not None:
        ok, lines = verification
        print("\n".join(lines))
        if not ok:
            print(f"tflconv: error: --verify failed (output kept at {output})", file=err)
            return EXIT_VERIFY_FAILED
    return EXIT_OK


def _source(args: argparse.Namespace) -> tuple[str, str | None, dict[str, Any]]:
    """(model path, model type or None to auto-detect, load options) from the flags."""
    given = [
        (args.model, None),
        (args.saved_model_dir, "TF_SAVED_MODEL"),
        (args.keras_model_file, "KERAS_MODEL"),
        (args.graph_def_file, "TF_GRAPH_DEF"),
    ]
    given = [(path, kind) for path, kind in given if path]
    if len(given) != 1:
        raise ConverterError(
            "give exactly one model: MODEL, --saved_model_dir, --keras_model_file or "
            "--graph_def_file" + (f" (got {len(given)})" if given else ""),
            phase="options",
        )
    path, kind = given[0]
    if not os.path.exists(path):
        raise ConverterError(f"no such file or directory: {path}", phase="load")
    options: dict[str, Any] = {}
    if args.saved_model_tag_set:
        options["tags"] = set(_split(args.saved_model_tag_set))
    if args.saved_model_signature_key:
        options["signature_keys"] = _split(args.saved_model_signature_key)
    if args.input_arrays:
        options["input_arrays"] = _split(args.input_arrays)
    if args.output_arrays:
        options["output_arrays"] = _split(args.output_arrays)
    if args.input_shapes:
        options["input_shapes"] = _parse_shapes(args.input_shapes, options.get("input_arrays"))
    return path, kind, options


def _split(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _parse_shapes(text: str, names: list[str] | None) -> dict[str, list[int | None]] | list:
    """'1,224,224,3:1,10' -> {name: [1, 224, 224, 3], ...} (a list if no --input_arrays)."""
    shapes: list[list[int | None]] = []
    for part in text.split(":"):
        dims: list[int | None] = []
        for d in _split(part):
            if d in ("?", "-1", "None"):
                dims.append(None)
            elif d.isdigit():
                dims.append(int(d))
            else:
                raise ConverterError(f"--input_shapes: bad dimension {d!r} in {text!r}")
        shapes.append(dims)
    if names is None:
        return shapes
    if len(names) != len(shapes):
        raise ConverterError(
            f"--input_shapes has {len(shapes)} shape(s) for {len(names)} --input_arrays",
            phase="options",
        )
    return dict(zip(names, shapes))


def _default_output(source: str) -> Path:
    stem = Path(os.path.normpath(source)).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return Path(f"{stem or 'model'}.tflite")


def _convert(
    args: argparse.Namespace,
    source: str,
    kind: str | None,
    load_options: dict[str, Any],
    output: Path,
) -> ConversionResult:
    """Convert, streaming the .tflite to `output` (not assembled in memory)."""
    return _converter(args, source, kind, load_options).convert_with_report(output)


@contextlib.contextmanager
def _pending_output(output: Path) -> Iterator[Path]:
    """A temporary path next to `output`, renamed to it when the block ends without an error
    (a failed --verify keeps the output) and removed otherwise, like `write_atomic`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tflite", dir=output.parent)
    os.close(fd)
    signals.track(tmp)
    try:
        yield Path(tmp)
        signals.check()
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        signals.untrack(tmp)


def _converter(
    args: argparse.Namespace,
    source: str,
    kind: str | None,
    load_options: dict[str, Any],
) -> TFLiteConverter:
    """The converter the flags configure."""

    api_version = 1 if kind == "TF_GRAPH_DEF" else 2
    conv = TFLiteConverter(
        source, model_type=kind, api_version=api_version, load_options=load_options
    )
    load_pass_plugins(args.pass_plugin)
    conv.pipeline = args.pass_pipeline
    conv.instruments = instruments_from_args(args, {})
    conv.verify_each = args.verify_each
    conv.reproducer = args.reproducer
    conv.exclude_conversion_metadata = args.exclude_conversion_metadata
    if args.metadata:  # parsed now: a bad spec fails before the model is loaded
        from tflconv.tflite.metadata import MetadataError, ModelInfo

        try:
            conv.metadata = ModelInfo.from_json(args.metadata)
        except MetadataError as e:
            raise ConverterError(f"--metadata: {e}", phase="options") from e
    conv.quiet = not args.verbose
    _configure_compat(conv, args)
    from tflconv.cli.quantize_flags import configure_quantization

    configure_quantization(conv, args)
    try:  # a bad --pass-pipeline is the user's error, reported before the model is loaded
        conv.conversion_pipeline()
    except ValueError as e:
        raise ConverterError(f"--pass-pipeline: {e}", phase="pipeline") from e
    return conv


def _configure_compat(conv: TFLiteConverter, args: argparse.Namespace) -> None:
    from tflconv.api.compat import configure, flags_from_args

    try:
        configure(conv, flags_from_args(args))
    except ValueError as e:
        raise ConverterError(f"--target-ops: {e}", phase="options") from e


def _report_json(args: argparse.Namespace, **outcome: Any) -> None:
    """--report-json: the conversion's outcome for tools (docs/compatibility.md)."""
    if not getattr(args, "report_json", None):
        return
    from tflconv.api.compat import conversion_report, flags_from_args, write_json

    try:
        flags = flags_from_args(args)
    except ValueError:
        from tflconv.api.compat import CompatFlags

        flags = CompatFlags()
    model = args.model or args.saved_model_dir or args.keras_model_file or args.graph_def_file
    try:
        write_json(args.report_json, conversion_report(flags, model=model, **outcome))
    except OSError as e:
        print(f"tflconv: warning: cannot write {args.report_json}: {e}", file=sys.stderr)


def _verify(args: argparse.Namespace, result: ConversionResult) -> tuple[bool, list[str]]:
    from tflconv.tools.verify import (
        VerifyOptions,
        check_given_shapes,
        load_inputs,
        verify_conversion,
    )

    given = load_inputs(args.verify_inputs) if args.verify_inputs else None
    if given is not None:
        check_given_shapes(result, given)
    options = VerifyOptions(
        seed=args.verify_seed,
        atol=args.verify_atol,
        rtol=args.verify_rtol,
        representative=getattr(args, "representative_data", None),
        samples=args.verify_samples,
        scale_tol=args.verify_scale_tol,
    )
    return verify_conversion(result, given, options)


def _summary(source: str, output: Path, result: ConversionResult) -> str:
    hist = result.op_histogram()
    top = ", ".join(
        f"{name.removeprefix('tfl.')} x{n}"
        for name, n in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
    )
    more = ", ..." if len(hist) > 6 else ""
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in result.phase_seconds.items())
    return (
        f"converted {source} -> {output}\n"
        f"  size {_size(result.size)}, {result.op_count} ops ({top}{more})\n"
        f"  time {result.seconds:.2f} s ({phases})"
    )


def _size(n: int) -> str:
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"
    )


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """A parser with only the `convert` subcommand (for `python -m tflconv.cli_convert` and
    tests; `tflconv.cli` registers the same subcommand alongside the others)."""
    parser = argparse.ArgumentParser(prog="tflconv")
    sub = parser.add_subparsers(dest="command", required=True)
    add_convert_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
