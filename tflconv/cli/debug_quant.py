"""`tflconv debug-quant`: per-layer quantization error of a model, and the layers to keep float.

    tflconv debug-quant model.keras --representative-data calib.npz --svg errors.svg
    tflconv debug-quant model.keras --representative-data calib.npz --apply -o model_int8.tflite

The float and the int8 (or 16x8) model run in LiteRT on the debug samples (default: the
calibration samples); each quantized tensor is compared with its float twin (RMSE, max error,
RMSE / scale) and the table lists the worst first. Layers above --threshold are suggested for
`--keep-float`; `--apply` quantizes again with them kept float and shows the effect on the
model outputs. Exit codes: 0 done, 2 bad input (missing file, unconvertible model).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from tflconv.api.converter import ConverterError
from tflconv.api.quiet import quiet_tensorflow
from tflconv.core.io import write_atomic

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_debug_quant_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "debug-quant",
        help="per-layer quantization error and layers to keep in float",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="SavedModel dir, .keras/.h5 file or frozen .pb")
    p.add_argument(
        "--representative-data",
        "--representative_data",
        dest="representative_data",
        required=True,
        metavar="NPZ|DIR",
        help="calibration samples (.npz with one array per input, first axis samples; or a "
        "directory of .npy files)",
    )
    p.add_argument(
        "--debug-data",
        metavar="NPZ|DIR",
        help="samples to compare on (default: the calibration samples)",
    )
    p.add_argument("--quantize", choices=("int8", "int16x8"), default="int8", help="recipe")
    p.add_argument(
        "--no-bias-correction",
        dest="bias_correction",
        action="store_false",
        help="quantize as the official converter does (see `tflconv convert --help`)",
    )
    p.add_argument(
        "--keep-float",
        action="append",
        default=[],
        metavar="NAMES",
        help="comma-separated layer / tensor names or regexes kept float (repeatable)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.7,
        help="suggest layers whose RMSE/scale exceeds this (rounding alone gives 0.289)",
    )
    p.add_argument("--top", type=int, default=20, help="rows of the table (0: all)")
    p.add_argument("--max-samples", type=int, metavar="N", help="compare on at most N samples")
    p.add_argument("--csv", metavar="FILE", help="write every layer's metrics as CSV")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--svg", metavar="FILE", help="write a bar chart of RMSE/scale per layer")
    p.add_argument(
        "--model-explorer",
        metavar="DIR",
        help="write the quantized model's graph and the per-layer error as a Model Explorer "
        "node-data overlay (`tflconv view DIR/quantized.graph.json --node-data "
        "DIR/quantization_error.node_data.json`)",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="quantize again keeping the suggested layers float and compare",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write the (selective, with --apply) quantized model"
    )
    p.add_argument(
        "--write-recipe",
        metavar="FILE",
        help="write the kept-float layers (--keep-float and the suggestions) as a quantization "
        "recipe (.json) for `tflconv convert --recipe FILE` / converter.quantization_recipe",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's log output")
    p.set_defaults(run=run_debug_quant)
    return p


def run_debug_quant(args: argparse.Namespace) -> int:
    from tflconv.core.pass_manager import PassFailure
    from tflconv.passes.quantize.common import QuantizeError, parse_names
    from tflconv.tools.quant_debug import QuantizationDebugger

    keep = [n for text in args.keep_float for n in parse_names(text)]
    try:
        for path in (args.model, args.representative_data, args.debug_data):
            if path is not None and not Path(path).exists():
                raise ConverterError(f"no such file or directory: {path}")
        with quiet_tensorflow(not args.verbose):
            dbg = QuantizationDebugger(
                args.model,
                args.representative_data,
                args.debug_data,
                mode=args.quantize,
                bias_correction=args.bias_correction,
                max_samples=args.max_samples,
                quiet=not args.verbose,
            )
        report = dbg.run(keep, args.threshold)
        print(report.table(top=args.top or None))
        suggested = report.suggestions()
        if suggested:
            print(f"suggested: --keep-float {shlex.quote(','.join(keep + suggested))}")
        else:
            print("suggested: nothing above the threshold")
        for path, write in ((args.csv, report.write_csv), (args.json, report.write_json)):
            if path:
                write(path)
        if args.svg:
            report.write_svg(args.svg)
        if args.model_explorer:
            from tflconv.tools.model_explorer import write_quant_debug_graph

            for path in write_quant_debug_graph(report, dbg.quantize(keep), args.model_explorer):
                print(f"wrote {path}")
        if args.write_recipe:
            from tflconv.passes.quantize.recipe import Recipe

            recipe = Recipe.keeping_float(keep + suggested, default=None)
            write_atomic(args.write_recipe, recipe.to_json() + "\n")
            print(f"wrote {args.write_recipe}")
        final_keep = keep
        if args.apply and suggested:
            final_keep = keep + suggested
            after = dbg.run(final_keep, args.threshold)
            for before_out, after_out in zip(report.outputs, after.outputs):
                print(
                    f"with --keep-float: output {after_out.tensor} rmse {before_out.rmse:.4g} -> "
                    f"{after_out.rmse:.4g}, max |err| {before_out.max_abs_error:.4g} -> "
                    f"{after_out.max_abs_error:.4g}"
                )
        if args.output:
            write_atomic(args.output, dbg.quantize(final_keep))
            print(f"wrote {args.output}")
    except (ConverterError, QuantizeError, PassFailure, ValueError, OSError) as e:
        if args.debug:
            raise
        msg = " ".join(str(e).split())
        print(f"tflconv: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK
