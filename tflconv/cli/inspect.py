"""`tflconv inspect MODEL.tflite`: what a .tflite file holds (any converter's).

Exit codes (docs/cli.md): 0 done, 2 unreadable or corrupt model, an output that cannot be written,
or bad usage; 3 internal error; 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .common import EXIT_OK, EXIT_USAGE, CLIError, check_tflite, common_flags, output_error

EPILOG = """\
examples:
  tflconv inspect model.tflite
  tflconv inspect model.tflite --json > report.json
  tflconv inspect model.tflite --extract-files labels/ --graph model.svg
  tflconv inspect model.tflite --ir | less
"""


def add_inspect_parser(subparsers: Any) -> argparse.ArgumentParser:

    p = subparsers.add_parser(
        "inspect",
        parents=[common_flags()],
        help="describe a .tflite file: I/O, ops, weights, metadata, associated files",
        description="Describe a .tflite file from any converter: signatures, inputs and "
        "outputs (shape, shape_signature, dtype, quantization), an operator histogram with "
        "versions, weight sizes, every metadata entry decoded (min_runtime_version, "
        "CONVERSION_METADATA, TFLITE_METADATA) and the associated files.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="the .tflite file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--top", type=int, default=10, metavar="N", help="largest tensors to list")
    p.add_argument("--extract-files", metavar="DIR", help="write the associated files into DIR")
    p.add_argument(
        "--graph",
        metavar="FILE",
        help="write the graph: Model Explorer JSON (.json), Graphviz DOT (.dot), or "
        ".svg/.png/.pdf (needs Graphviz `dot`)",
    )
    p.add_argument(
        "--graph-max-nodes", type=int, default=1000, metavar="N", help="cut the graph to N ops"
    )
    p.add_argument("--ir", action="store_true", help="print the model as tflconv IR text")
    p.add_argument(
        "--print-large-constants", action="store_true", help="with --ir: print constants whole"
    )
    p.set_defaults(run=run_inspect)
    return p


def run_inspect(args: argparse.Namespace) -> int:
    from tflconv.tflite.reader import map_file, read_associated_files
    from tflconv.tools.inspect import InspectError, format_report, inspect_model

    try:
        data = map_file(args.model)  # a large model costs only the pages inspect reads
    except OSError as e:
        raise CLIError(f"cannot read {args.model}: {e.strerror or e}") from None
    try:
        report = inspect_model(data, top=args.top)
    except InspectError as e:
        raise CLIError(f"{args.model}: {e}") from None
    check_tflite(data, args.model)  # a corrupt model is exit 2, not a report of garbage
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(format_report(report, args.model))

    if args.extract_files:
        written = extract_files(read_associated_files(data), args.extract_files)
        if not args.json:
            print(f"extracted {len(written)} file(s) to {args.extract_files}")
    if args.graph or args.ir:
        module = _read_module(data, args.model)
        if args.graph:
            _write_graph(module, args.graph, args.graph_max_nodes, EXIT_USAGE)
        if args.ir:
            from tflconv.core.printer import print_module

            sys.stdout.write(print_module(module, elide_large=not args.print_large_constants))
    return EXIT_OK


def extract_files(files: dict[str, bytes], directory: str) -> list[Path]:
    """Write each file as DIR/<base name>; names that are not plain file names are refused
    (a ZIP entry named `../x` must not escape DIR)."""

    from tflconv.core.io import write_atomic

    out_dir = Path(directory)
    written = []
    for name in files:  # every name first: a refused archive writes nothing
        base = Path(name).name
        if not base or base in (".", "..") or base != name.replace("\\", "/").split("/")[-1]:
            raise CLIError(f"refusing to extract associated file {name!r}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, contents in files.items():
            path = out_dir / Path(name).name
            write_atomic(path, contents)  # an interrupt leaves no half-written file
            written.append(path)
    except OSError as e:
        raise CLIError(output_error(directory, e)) from None
    return written


def _read_module(data: bytes, name: str) -> Any:
    from tflconv.tflite.reader import ReadError, read_flatbuffer

    try:
        return read_flatbuffer(data)
    except ReadError as e:
        raise CLIError(f"{name}: cannot build the IR (needed for --graph/--ir): {e}") from None


def _write_graph(module: Any, path: str, max_nodes: int, failure: int) -> None:
    from tflconv.core.graphviz import GraphError, write_graph

    if os.path.isdir(path):  # before the suffix check: name the real problem
        raise CLIError(output_error(path, IsADirectoryError(21, "Is a directory")), failure)
    try:
        write_graph(module, path, max_nodes=max_nodes)
    except GraphError as e:
        raise CLIError(str(e), failure) from None
    except OSError as e:
        raise CLIError(output_error(path, e), failure) from None
