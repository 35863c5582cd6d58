"""`tflconv <command>`: the command line.

Each command is a pair of functions: `_add_<cmd>(subparsers)` declares its arguments and sets
`run=_run_<cmd>`; `_run_<cmd>(args) -> int` does the work. Add a command by writing the pair
and appending `_add_<cmd>` to `COMMANDS`.

Exit codes: 0 success, 1 a failure while processing (a pass failed: a reproducer was written),
2 bad input or usage (unreadable file, IR syntax error, unknown pass or option).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tflconv.core.ir import Module

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

DEFAULT_REPRODUCER = "tflconv_reproducer.mlir"


class CLIError(Exception):
    """An error reported as one message (no traceback unless --debug) with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return common


def _comma_list(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def _read_input(path: str) -> tuple[str, str]:
    """(text, name for messages); `-` reads stdin."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(encoding="utf-8"), path
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None


def _write_output(path: str | None, text: str) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    from tflconv.core.passes import write_atomic

    try:
        write_atomic(path, text)
    except OSError as e:
        raise CLIError(f"cannot write {path}: {e.strerror or e}", EXIT_FAILURE) from None


def add_instrument_arguments(p: argparse.ArgumentParser) -> None:
    """The pass-manager debugging flags (`opt` and `convert` share them): build the
    instruments with `instruments_from_args`; `--verify-each` and `--reproducer` are
    `PassManager` options."""
    p.add_argument(
        "--dump-dir", help="write the IR (.mlir) and graph (.dot, .svg) after every pass here"
    )
    p.add_argument(
        "--dot-max-nodes", type=int, default=1000, help="cut dumped graphs to this many ops"
    )
    p.add_argument("--time-passes", action="store_true", help="print a table of pass times")
    p.add_argument(
        "--verify-each",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="verify the IR after every pass (default: on)",
    )
    p.add_argument(
        "--print-ir-before", action="append", type=_comma_list, default=[], metavar="P,Q"
    )
    p.add_argument("--print-ir-after", action="append", type=_comma_list, default=[], metavar="P,Q")
    p.add_argument("--print-ir-after-all", action="store_true")
    p.add_argument(
        "--print-ir-after-change", action="store_true", help="only after passes that changed the IR"
    )
    p.add_argument(
        "--pass-statistics", action="store_true", help="op-count changes and counters per pass"
    )
    p.add_argument(
        "--trace-patterns",
        metavar="NAME",
        help="trace pattern attempts (only patterns whose name contains NAME); "
        "write --trace-patterns alone to trace all",
    )
    p.add_argument(
        "--reproducer", default=DEFAULT_REPRODUCER, metavar="PATH", help="crash reproducer path"
    )


def instruments_from_args(args: argparse.Namespace, print_options: dict[str, Any]) -> list:
    """The instruments the flags of `add_instrument_arguments` ask for."""
    from tflconv.core import instrument as ins

    out: list = []
    if args.time_passes:
        out.append(ins.TimePasses())
    before = {name for group in args.print_ir_before for name in group}
    after = {name for group in args.print_ir_after for name in group}
    _check_pass_names(before, "--print-ir-before")
    _check_pass_names(after, "--print-ir-after")
    if before or after or args.print_ir_after_all or args.print_ir_after_change:
        out.append(
            ins.PrintIR(
                before, after, args.print_ir_after_all, args.print_ir_after_change, print_options
            )
        )
    if args.dump_dir is not None:
        out.append(ins.DumpDir(args.dump_dir, print_options, max_nodes=args.dot_max_nodes))
    if args.pass_statistics:
        out.append(ins.PassStatistics())
    if args.trace_patterns is not None:
        out.append(ins.TracePatterns(args.trace_patterns or None))
    return out


def _check_pass_names(names: set[str], flag: str) -> None:
    import difflib

    from tflconv.core.passes import all_passes

    known = all_passes()
    for name in sorted(names - set(known)):
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CLIError(f"{flag}: unknown pass {name!r}{hint}")


# --- opt -------------------------------------------------------------------------------------------


def _add_opt(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "opt",
        parents=[_common()],
        help="run a pass pipeline on IR text",
        description="Parse IR text, run a pass pipeline on it, print the result. Without -p, "
        "a crash reproducer's own pipeline is replayed (else the IR is just verified and "
        "printed).",
    )
    p.add_argument("input", nargs="?", default="-", help="IR text file ('-': stdin)")
    p.add_argument("-p", "--pipeline", help='pass pipeline, e.g. "canonicalize,cse,dce"')
    p.add_argument("-o", "--output", help="output file (default: stdout); written only on success")
    p.add_argument(
        "--split-input-file", action="store_true", help="process '// -----' chunks separately"
    )
    p.add_argument(
        "--list-passes", action="store_true", help="list passes, options and named pipelines"
    )
    add_instrument_arguments(p)
    p.add_argument(
        "--print-large-constants", action="store_true", help="print large constants whole"
    )
    p.set_defaults(run=_run_opt)


def _list_passes() -> str:
    from tflconv.core.passes import all_passes
    from tflconv.core.pipeline import PIPELINES, format_value, pass_options, pass_summary

    lines = ["Passes:"]
    for name, cls in all_passes().items():
        origin = "" if cls.__module__.startswith("tflconv.") else f"  [plugin: {cls.__module__}]"
        lines.append(f"  {name:<28} {pass_summary(cls)}{origin}")
        for info in pass_options(cls):
            required = info.default is dataclasses.MISSING
            default = "(required)" if required else format_value(info.default)
            lines.append(f"      {info.key}: {info.type_name} = {default}")
            for doc_line in info.doc.splitlines():
                lines.append(f"          {doc_line}")
    lines.append("Named pipelines:")
    for name, named in sorted(PIPELINES.items()):
        lines.append(f"  {name:<28} {named.summary}")
        lines.append(f"      = {named.text}")
    if not PIPELINES:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def _chunks(text: str, split: bool) -> list[tuple[str, int]]:
    if not split:
        return [(text, 1)]
    from tflconv.core.parser import split_input_file

    return split_input_file(text)


def _run_opt(args: argparse.Namespace) -> int:
    import tflconv.passes  # noqa: F401  (registers the built-in passes)

    if args.list_passes:
        sys.stdout.write(_list_passes())
        return EXIT_OK

    from tflconv.core.parser import ParseError, parse_module
    from tflconv.core.passes import PassContext, PassFailure, PassManager, reproducer_pipeline
    from tflconv.core.pipeline import PipelineError, parse_pipeline
    from tflconv.core.printer import print_module
    from tflconv.core.verifier import VerifyError, verify

    tflite = _read_tflite(args.input)
    text, filename = ("", args.input) if tflite is not None else _read_input(args.input)
    pipeline = args.pipeline
    if pipeline is None:
        pipeline = reproducer_pipeline(text) or ""
    try:
        passes = parse_pipeline(pipeline)
    except PipelineError as e:
        raise CLIError(f"bad pipeline: {e}") from None

    print_options = {"elide_large": not args.print_large_constants}
    instruments_from_args(args, print_options)  # bad flags fail before any work
    chunks = [("", 1)] if tflite is not None else _chunks(text, args.split_input_file)
    outputs: list[str] = []
    code = EXIT_OK
    for number, (chunk, start_line) in enumerate(chunks):
        try:
            module = (
                tflite
                if tflite is not None
                else parse_module(chunk, filename, first_line=start_line)
            )
            verify(module)
        except (ParseError, VerifyError) as e:
            sys.stderr.write(f"{e}\n")  # already `file:line:col: error: ...` with a caret
            code = max(code, EXIT_USAGE)
            continue
        chunk_args = args
        if args.dump_dir is not None and len(chunks) > 1:
            chunk_args = argparse.Namespace(**vars(args))
            chunk_args.dump_dir = str(Path(args.dump_dir) / f"chunk{number}")
        pm = PassManager(
            passes,
            instruments_from_args(chunk_args, print_options),
            verify_each=args.verify_each,
            reproducer=args.reproducer,
        )
        try:
            pm.run(module, PassContext())
        except PassFailure as e:
            report = getattr(e.__cause__, "report", None)  # check-tflite-legal's report
            message = str(e) if report is None else f"{e.pass_.name}: {report.render()}"
            _error(message, args, e)
            code = max(code, EXIT_FAILURE)
            continue
        if args.output and args.output.endswith(".tflite"):
            _write_tflite(args.output, module, len(chunks))
            return code
        outputs.append(print_module(module, **print_options))
    if code != EXIT_OK:
        return code
    _write_output(args.output, "// -----\n".join(outputs))
    return EXIT_OK


def _read_tflite(path: str) -> Module | None:
    """The module of a .tflite file (recognised by its identifier), else None."""
    if path == "-" or not Path(path).is_file():
        return None
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"TFL3":
        return None
    from tflconv.schema.reader import ReadError, read_flatbuffer

    try:
        return read_flatbuffer(Path(path).read_bytes())
    except ReadError as e:
        raise CLIError(f"cannot read {path}: {e}") from None


def _write_tflite(path: str, module: Module, n_chunks: int) -> None:
    """`-o x.tflite`: write the resulting module as a .tflite file instead of IR text."""
    from tflconv.core.passes import write_atomic
    from tflconv.schema.writer import WriteError, write_flatbuffer

    if n_chunks > 1:
        raise CLIError("-o *.tflite takes one module; drop --split-input-file")
    try:
        data = write_flatbuffer(module)
    except WriteError as e:
        raise CLIError(f"cannot write {path}: {e}", EXIT_FAILURE) from None
    try:
        write_atomic(path, data)
    except OSError as e:
        raise CLIError(f"cannot write {path}: {e.strerror or e}", EXIT_FAILURE) from None


def _error(message: str, args: argparse.Namespace, exc: BaseException | None = None) -> None:
    if args.debug and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"tflconv: error: {message}\n")


# --- convert (tflconv/cli_convert.py) --------------------------------------------------------------


def _add_convert(subparsers: argparse._SubParsersAction) -> None:
    from tflconv.cli_convert import add_convert_parser  # sets run=run_convert

    add_convert_parser(subparsers)


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    from tflconv.cli_inspect import add_inspect_parser

    add_inspect_parser(subparsers)


def _add_metadata(subparsers: argparse._SubParsersAction) -> None:
    from tflconv.cli_metadata import add_metadata_parser

    add_metadata_parser(subparsers)


def _add_analyze(subparsers: argparse._SubParsersAction) -> None:
    from tflconv.cli_analyze import add_analyze_parser

    add_analyze_parser(subparsers)


def _add_debug_quant(subparsers: argparse._SubParsersAction) -> None:
    from tflconv.cli_debug_quant import add_debug_quant_parser

    add_debug_quant_parser(subparsers)


# --- entry point ----------------------------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_convert,
    _add_opt,
    _add_inspect,
    _add_metadata,
    _add_analyze,
    _add_debug_quant,
]
"""The `_add_<cmd>` functions; each registers one subcommand."""


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
        _error(str(e), args, e)
        return e.code
    except Exception as e:  # an internal error: one line, the traceback with --debug
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"tflconv: internal error: {type(e).__name__}: {e} (rerun with --debug)\n")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
