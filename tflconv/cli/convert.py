"""`tflconv convert`: a TF/Keras model -> .tflite, with tflite_convert's flags plus the pass
manager's instrumentation and `--verify` (run the result in LiteRT and compare with TF).

Exit codes: 0 converted (and verified), 1 `--verify` found outputs beyond tolerance,
2 bad input (missing path, corrupt model, bad signature, unconvertible op, bad --verify-inputs,
an output path that cannot be written): one error line on stderr and no output file;
3 internal error; 130/143 interrupted (handled by `tflconv.cli.main`). See docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tflconv.api.converter import (
    DEFAULT_PIPELINE,
    ConversionResult,
    ConverterError,
    TFLiteConverter,
    check_output_path,
    quiet_tensorflow,
    write_atomic,
)

from .common import add_instrument_arguments, instruments_from_args

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
    src.add_argument(
        "--experimental_new_converter",
        nargs="?",
        const="true",
        metavar="BOOL",
        help="accepted for tflite_convert compatibility; ignored",
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

    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's own log output")


# ---------------------------------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    """Run `tflconv convert` with parsed arguments; returns the exit code."""
    err = sys.stderr
    try:
        source, kind, load_options = _source(args)
        output = Path(args.output_file) if args.output_file else _default_output(source)
        check_output_path(output, source)
        if args.verify_inputs and not os.path.isfile(args.verify_inputs):
            raise ConverterError(f"no such file: {args.verify_inputs}", phase="options")
        if args.print_pipeline:
            print(_converter(args, source, kind, load_options).conversion_pipeline())
            return EXIT_OK
        result = _convert(args, source, kind, load_options)
        verification = None
        if args.verify:
            with quiet_tensorflow(enabled=not args.verbose):
                verification = _verify(args, result)
        write_atomic(output, result.tflite)
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
) -> ConversionResult:
    return _converter(args, source, kind, load_options).convert_with_report()


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
    given = load_inputs(args.verify_inputs) if args.verify_inputs else None
    if given is not None:
        check_given_shapes(result, given)
    return compare_with_tf(
        result, given, seed=args.verify_seed, atol=args.verify_atol, rtol=args.verify_rtol
    )


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
        f"  size {_size(len(result.tflite))}, {result.op_count} ops ({top}{more})\n"
        f"  time {result.seconds:.2f} s ({phases})"
    )


def _size(n: int) -> str:
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"
    )


# ---------------------------------------------------------------------------------------------
# --verify: LiteRT vs TensorFlow on the same inputs


def load_inputs(path: str) -> dict[str, Any]:
    """Arrays from an .npz: keyed by input name, `signature/name`, or positional `arr_<i>`."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as e:
        raise ConverterError(f"--verify-inputs {path}: cannot read: {e}", phase="options") from e


def check_given_shapes(result: ConversionResult, given: dict[str, Any]) -> None:
    """--verify-inputs arrays whose shape does not fit the model's input are a bad input
    (exit 2, no output), not a verification failure."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_content=result.tflite, num_threads=1)
    except Exception:  # noqa: BLE001 (compare_with_tf reports a model LiteRT cannot load)
        return
    signatures = interp.get_signature_list()
    entries = {f.attributes.get("signature_key"): f for f in result.module.functions}
    for key in signatures:
        details = interp.get_signature_runner(key).get_input_details()
        fn = entries.get(key)
        names = list(fn.attributes.get("input_names", [])) if fn is not None else []
        names = names if sorted(names) == sorted(details) else sorted(details)  # as compare_with_tf
        for i, name in enumerate(names):
            arr = _find_given(given, key, name, i, len(signatures) == 1)
            if arr is None:
                continue  # compare_with_tf names the missing array
            sig = details[name].get("shape_signature")
            want = [
                int(d) for d in (sig if sig is not None and len(sig) else details[name]["shape"])
            ]
            got = list(np.shape(arr))
            if len(got) != len(want) or any(w >= 0 and w != g for w, g in zip(want, got)):
                raise ConverterError(
                    f"--verify-inputs: array for input {name!r} of signature {key!r} has shape "
                    f"{got}, the model takes {[d if d >= 0 else None for d in want]}",
                    phase="options",
                )


def _find_given(given: dict[str, Any], key: str, name: str, index: int, single: bool) -> Any:
    try:
        return _pick(given, key, name, index, single)
    except ConverterError:
        return None


def random_input(detail: dict[str, Any], rng: Any) -> Any:
    """A seeded random array for a LiteRT input (dynamic dims get size 2)."""
    import numpy as np

    sig = detail.get("shape_signature")
    dims = list(sig) if sig is not None and len(sig) else list(detail["shape"])
    shape = [2 if d < 0 else int(d) for d in dims]
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 8, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    raise ConverterError(
        f"--verify: cannot make random inputs of type {dtype}; use --verify-inputs"
    )


def _pick(given: dict[str, Any], key: str, name: str, index: int, single: bool) -> Any:
    for candidate in (
        f"{key}/{name}",
        name if single else None,
        f"arr_{index}" if single else None,
    ):
        if candidate is not None and candidate in given:
            return given[candidate]
    raise ConverterError(
        f"--verify-inputs has no array for input {name!r} of signature {key!r} "
        f"(has {', '.join(sorted(given)) or 'nothing'})",
        phase="options",
    )


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:300]


def compare_with_tf(
    result: ConversionResult,
    given: dict[str, Any] | None,
    *,
    seed: int = 0,
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> tuple[bool, list[str]]:
    """Run every signature of the .tflite in LiteRT and the source model in TF on the same
    inputs. Returns (all outputs within atol + rtol*|expected|, report lines)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_content=result.tflite, num_threads=1)
    except Exception as e:  # e.g. Flex ops: the pip LiteRT has no TF kernels
        return False, [f"verify: LiteRT cannot load the model: {_one_line(e)}", "verify: FAILED"]
    signatures = interp.get_signature_list()
    entries = {
        fn.attributes.get("signature_key"): fn
        for fn in result.module.functions
        if fn.attributes.get("entry")
    }
    rng = np.random.default_rng(seed)
    source = "inputs from file" if given is not None else f"random inputs, seed {seed}"
    lines = [f"verify: LiteRT vs TensorFlow ({source}; atol {atol:g}, rtol {rtol:g})"]
    ok = True
    compared = 0
    for key in signatures:
        runner = interp.get_signature_runner(key)
        fn = entries.get(key)
        details = runner.get_input_details()
        names = list(fn.attributes.get("input_names", [])) if fn is not None else []
        names = names if sorted(names) == sorted(details) else sorted(details)
        out_names = list(fn.attributes.get("output_names", [])) if fn is not None else []
        inputs = {}
        for i, name in enumerate(names):
            if given is not None:
                arr = _pick(given, key, name, i, len(signatures) == 1)
                inputs[name] = np.asarray(arr).astype(details[name]["dtype"])
            else:
                inputs[name] = random_input(details[name], rng)
        try:
            got = runner(**inputs)
        except Exception as e:
            lines.append(f"  [{key}] LiteRT cannot run the model: {_one_line(e)}: FAIL")
            ok = False
            continue
        if not result.imported.has_reference:
            frontend = result.imported.frontend
            lines.append(f"  [{key}] the {frontend} frontend cannot run the source model: SKIP")
            continue
        compared += 1
        expected = result.imported.run_source(key, inputs)
        if isinstance(expected, dict):
            expected = [expected[n] for n in (out_names or sorted(expected))]
        out_names = out_names if sorted(out_names) == sorted(got) else sorted(got)
        if len(expected) != len(out_names):
            lines.append(f"  [{key}] {len(out_names)} outputs, TF has {len(expected)}: FAIL")
            ok = False
            continue
        for name, exp in zip(out_names, expected):
            g = np.asarray(got[name])
            e = np.asarray(exp)
            if g.shape != e.shape:
                lines.append(f"  [{key}] {name}: shape {g.shape} vs TF {e.shape}: FAIL")
                ok = False
                continue
            diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            max_abs = float(diff.max()) if diff.size else 0.0
            mag = np.abs(e.astype(np.float64))
            big = mag > atol
            max_rel = float((diff[big] / mag[big]).max()) if big.any() else 0.0
            passed = bool(np.all(diff <= atol + rtol * mag))
            ok &= passed
            lines.append(
                f"  [{key}] {name} {tuple(g.shape)} {g.dtype}: max abs err {max_abs:.3g}, "
                f"max rel err {max_rel:.3g}  {'ok' if passed else 'FAIL'}"
            )
    if ok and not compared:
        lines.append("verify: nothing compared (no signature could run its source model)")
    else:
        lines.append("verify: " + ("passed" if ok else "FAILED"))
    return ok, lines


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
