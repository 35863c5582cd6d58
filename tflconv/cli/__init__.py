"""`tflconv <command>`: the command line.

One module per subcommand (`convert`, `opt`, `inspect`, `metadata`, `analyze`, `debug_quant`),
each with an `add_<cmd>_parser(subparsers)` that declares the arguments and sets `run=` to the
function doing the work (`run(args) -> int`, the exit code). Add a command by writing such a
module and appending its `add_<cmd>_parser` to `COMMANDS`. What the subcommands share (`CLIError`,
exit codes, the pass-manager debugging flags) is in `common.py`. Nothing else imports this package.

Exit codes: 0 success, 1 a failure while processing (a pass failed: a reproducer was written),
2 bad input or usage (unreadable file, IR syntax error, unknown pass or option).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .analyze import add_analyze_parser
from .common import EXIT_FAILURE, EXIT_USAGE, CLIError, report_error
from .convert import add_convert_parser
from .debug_quant import add_debug_quant_parser
from .inspect import add_inspect_parser
from .metadata import add_metadata_parser
from .opt import add_opt_parser

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_convert_parser,
    add_opt_parser,
    add_inspect_parser,
    add_metadata_parser,
    add_analyze_parser,
    add_debug_quant_parser,
]
"""The `add_<cmd>_parser` functions; each registers one subcommand."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tflconv", description="TensorFlow -> TFLite converter and IR tools"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for add in COMMANDS:
        add(subparsers)
    return parser


def _normalize(argv: Sequence[str]) -> list[str]:
    # `--trace-patterns` takes an optional value only in `=` form, so a following positional
    # (the input file) is never swallowed as the pattern name.
    return ["--trace-patterns=" if a == "--trace-patterns" else a for a in argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(_normalize(sys.argv[1:] if argv is None else argv))
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except CLIError as e:
        report_error(str(e), args, e)
        return e.code
    except Exception as e:  # an internal error: one line, the traceback with --debug
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"tflconv: internal error: {type(e).__name__}: {e} (rerun with --debug)\n")
        return EXIT_FAILURE
