"""`tflconv analyze MODEL`: before converting, which ops convert to builtins, which need Select
TF ops or custom ops, and a verdict per target; for a .tflite, what it needs to run.

Exit codes: 0 analysed (whatever the verdict), 1 a requirement failed (`--max-size`,
`--max-peak-memory`, `--require-delegate`), 2 the model cannot be loaded or read (a corrupt
.tflite included) or bad flags, 3 internal error, 130/143 interrupted (docs/cli.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .common import check_tflite

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

DESCRIPTION = """\
Analyze a model before converting it (TF/Keras: SavedModel directory, .keras/.h5, frozen .pb;
JAX: a serialized Exported .bin or StableHLO .mlir/.mlirbc), or a converted .tflite.

For a TF model: every TF op type with how many occurrences become TFLite builtins and whether
the rest need Select TF ops (Flex) or custom ops (with the reasons legalization gave), a
verdict per target op set, dynamic-shape tensors and the weights/graph size split.
For a .tflite: ops and versions (builtin/Flex/custom), runtime needs, quantization, metadata,
signatures and size.

Then, for the converted model (or the .tflite): parameters and MACs/FLOPs per op, peak
activation memory (LiteRT's arena planner replayed, checked against the interpreter), which
ops the XNNPACK delegate takes (measured) and a GPU-delegate verdict per op with what to
change; with --benchmark, latency at 1 and N threads and a per-op profile. Requirements
(--max-size, --max-peak-memory, --require-delegate) that fail make the exit code 1.
"""

EPILOG = """\
examples:
  tflconv analyze saved_model/
  tflconv analyze model.keras --json > analysis.json
  tflconv analyze model.tflite
  tflconv analyze model.tflite --input-shapes "x:1,224,224,3" --benchmark
  tflconv analyze model.tflite --max-size 8MB --max-peak-memory 4MiB --require-delegate gpu
"""


def add_analyze_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "analyze",
        help="which ops convert, which need SELECT_TF_OPS / custom ops (or analyze a .tflite)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="TF/Keras/JAX model path or .tflite file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--signature-keys",
        "--saved_model_signature_key",
        dest="signature_keys",
        metavar="KEYS",
        help="SavedModel signatures to analyze, comma-separated (default: all)",
    )
    p.add_argument(
        "--select-user-tf-ops",
        metavar="OPS",
        help="TF op types your Flex runtime has kernels for (counted as Select TF ops)",
    )
    p.add_argument(
        "--input-shapes",
        metavar="SHAPES",
        help="shapes for dynamic inputs, 'name:1,224,224,3;other:1,8' (or '#0:...' by "
        "position); dynamic dims not given count as 1 (costs are then per unit)",
    )
    p.add_argument(
        "--benchmark",
        action="store_true",
        help="measure latency in LiteRT at 1 and N threads and a per-op profile",
    )
    p.add_argument("--threads", type=int, metavar="N", help="N for --benchmark (default: CPUs)")
    p.add_argument(
        "--no-evaluation",
        dest="evaluation",
        action="store_false",
        help="skip complexity, memory, delegates (only the conversion analysis)",
    )
    p.add_argument(
        "--model-explorer",
        metavar="DIR",
        help="write the analysed model's graph and cost overlays (FLOPs, and ms with "
        "--benchmark) for `tflconv view DIR/analyzed.graph.json --node-data ...`",
    )
    p.add_argument("--max-size", metavar="BYTES", help="fail (exit 1) above this file size")
    p.add_argument(
        "--max-peak-memory",
        metavar="BYTES",
        help="fail (exit 1) when the activation arena is larger (e.g. 4MB, 512KiB)",
    )
    p.add_argument(
        "--require-delegate",
        action="append",
        choices=["xnnpack", "gpu"],
        default=[],
        help="fail (exit 1) unless the delegate takes every op (repeatable)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's log output")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.set_defaults(run=run_analyze)
    return p


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def run_analyze(args: argparse.Namespace) -> int:
    from tflconv.tools.analyze import AnalyzeError, analyze_model, analyze_tflite, format_analysis
    from tflconv.tools.analyze_eval import Requirements, parse_size
    from tflconv.tools.analyze_graph import GraphError, parse_input_shapes

    path = args.model
    try:
        try:
            evaluation: dict[str, Any] = {
                "evaluation": args.evaluation,
                "input_shapes": parse_input_shapes(args.input_shapes),
                "benchmark": args.benchmark,
                "threads": args.threads,
                "requirements": Requirements(
                    parse_size(args.max_size) if args.max_size else None,
                    parse_size(args.max_peak_memory) if args.max_peak_memory else None,
                    tuple(args.require_delegate),
                ),
            }
        except GraphError as e:
            raise AnalyzeError(str(e)) from e
        if not os.path.exists(path):
            raise AnalyzeError(f"no such file or directory: {path}")
        if os.path.isfile(path) and (_is_tflite(path) or path.lower().endswith(".tflite")):
            # by suffix too: a corrupt .tflite gets the FlatBuffer reader's error, not
            # TensorFlow's "not a frozen GraphDef"
            with open(path, "rb") as f:
                data = f.read()
            check_tflite(data, path)  # a corrupt model is exit 2, not a report of garbage
            try:
                report = analyze_tflite(data, **evaluation)
            except AnalyzeError as e:
                raise AnalyzeError(f"{path}: {e}") from e
        else:
            options: dict[str, Any] = {}
            if args.signature_keys:
                options["signature_keys"] = _names(args.signature_keys)
            report = analyze_model(
                path,
                load_options=options,
                select_user_ops=tuple(_names(args.select_user_tf_ops)),
                quiet=not args.verbose,
                keep_tflite=bool(args.model_explorer),
                **evaluation,
            )
            data = report.pop("tflite", None)
    except AnalyzeError as e:
        print(f"tflconv: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ev = report.get("evaluation") or {}
    if args.model_explorer and data is not None and "complexity" in ev:
        from tflconv.tools.analyze_overlay import write_cost_overlay

        written = write_cost_overlay(ev, data, args.model_explorer)
        print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_analysis(report))
    failed = (ev.get("summary") or {}).get("failed") or []
    wanted = args.max_size or args.max_peak_memory or args.require_delegate
    if wanted and "error" in ev:
        print(f"tflconv: error: requirements not checked: {ev['error']}", file=sys.stderr)
        return EXIT_FAILED
    if failed:
        for f in failed:
            print(f"tflconv: requirement failed: {f}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _is_tflite(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"
