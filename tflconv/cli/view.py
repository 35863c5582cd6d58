"""`tflconv view DUMP_DIR|model.tflite|ir.mlir...`: open the graphs in Model Explorer (Google's
viewer for LiteRT models; `pip install ai-edge-model-explorer`), served locally."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK, CLIError, common_flags


def add_view_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "view",
        parents=[common_flags()],
        help="browse graphs in Model Explorer",
        description="Start Model Explorer on a dump directory (one graph per pass, changed ops "
        "outlined), a .tflite file or IR text; node data files (e.g. debug-quant's error "
        "overlay) are shown over them.",
    )
    p.add_argument("paths", nargs="+", help="dump directories, .tflite, .mlir or .graph.json")
    p.add_argument("--node-data", action="append", default=[], metavar="JSON")
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(run=run_view)


def run_view(args: argparse.Namespace) -> int:
    from tflconv.tools.model_explorer import view

    for path in [*args.paths, *args.node_data]:
        if not Path(path).exists():
            raise CLIError(f"no such file or directory: {path}")
    try:
        view(
            args.paths,
            node_data=args.node_data,
            host=args.host,
            port=args.port,
            open_browser=not args.no_browser,
        )
    except RuntimeError as e:
        raise CLIError(str(e)) from None
    return EXIT_OK
