"""What the `tflconv` subcommands share: `CLIError`, the exit codes, the `--debug` flag and the
pass-manager debugging flags (`add_instrument_arguments` / `instruments_from_args`), reading and
writing IR text.

Exit codes (docs/cli.md): 0 success; 1 a check failed (`--verify` mismatch, a pass failed in
`opt`: a reproducer was written); 2 bad input or usage (unreadable or corrupt file, IR syntax
error, unknown pass or option, an output path that cannot be written); 3 internal error (a bug);
130/143 interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = EXIT_USAGE
EXIT_INTERNAL = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

BAD_INPUT_ERRORS = frozenset(
    {
        "tflconv.tflite.reader.ReadError",
        "tflconv.tools.inspect.InspectError",
        "tflconv.tflite.metadata.types.MetadataError",
        "tflconv.core.lexer.ParseError",
        "tflconv.core.diagnostics.VerifyError",
        "tflconv.core.pipeline.PipelineError",
        "tflconv.api.converter.ConverterError",
        "tflconv.tools.analyze.AnalyzeError",
    }
)
"""The project's documented bad-input error classes (by qualified name, so this module imports
none of them): one escaping a command is still a one-line exit 2, never an internal error."""

DEFAULT_REPRODUCER = "tflconv_reproducer.mlir"


class CLIError(Exception):
    """An error reported as one message (no traceback unless --debug) with an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def common_flags() -> argparse.ArgumentParser:
    """The flags every subcommand takes (`parents=[common_flags()]`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return common


def comma_list(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def read_input(path: str) -> tuple[str, str]:
    """(text, name for messages); `-` reads stdin."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            return sys.stdin.read(), name
        return Path(path).read_text(encoding="utf-8"), path
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise CLIError(
            f"{name} is not UTF-8 text (byte {e.start}: {e.object[e.start : e.start + 1]!r}); "
            "IR text is UTF-8, a .tflite file starts with its 'TFL3' identifier"
        ) from None


def check_tflite(data: bytes, name: str) -> None:
    """Refuse a corrupt .tflite (the reader's checks and the IR verifier) with a one-line
    `CLIError`; a well-formed model the IR cannot represent (sparse tensors, newer ops) passes,
    since the FlatBuffer-level tools (inspect, analyze, metadata) still describe it."""
    from tflconv.tflite.reader import ReadError, UnsupportedModelError, read_flatbuffer

    try:
        read_flatbuffer(data)
    except UnsupportedModelError:
        pass
    except ReadError as e:
        raise CLIError(f"{name}: {' '.join(str(e).split())}") from None


def bad_input_error(exc: BaseException) -> str | None:
    """The one-line message of a documented bad-input error (or an OSError: a file the user
    named), else None (a bug)."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    for cls in type(exc).__mro__:
        if f"{cls.__module__}.{cls.__qualname__}" in BAD_INPUT_ERRORS:
            return " ".join(str(exc).split()) or type(exc).__name__
    return None


def write_output(path: str | None, text: str) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    from tflconv.core.io import write_atomic

    try:
        write_atomic(path, text)
    except OSError as e:
        raise CLIError(output_error(path, e)) from None


def output_error(path: str | Path, exc: OSError) -> str:
    """One line for an output path that cannot be written (a bad input: exit 2)."""
    if Path(path).is_dir():
        return f"cannot write {path}: it is a directory (name a file)"
    return f"cannot write {path}: {exc.strerror or exc}"


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
    p.add_argument("--print-ir-before", action="append", type=comma_list, default=[], metavar="P,Q")
    p.add_argument("--print-ir-after", action="append", type=comma_list, default=[], metavar="P,Q")
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
        # The command line's dumps also write Model Explorer graphs.
        out.append(
            ins.DumpDir(args.dump_dir, print_options, max_nodes=args.dot_max_nodes, graphs=True)
        )
    if args.pass_statistics:
        out.append(ins.PassStatistics())
    if args.trace_patterns is not None:
        out.append(ins.TracePatterns(args.trace_patterns or None))
    return out


def add_pass_plugin_argument(p: Any) -> None:
    """`--pass-plugin FILE.py|MODULE` (opt, convert): see `load_pass_plugins`."""
    p.add_argument(
        "--pass-plugin",
        "--load-pass",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="import a file or module that registers passes/patterns (repeatable)",
    )


def load_pass_plugins(specs: list[str]) -> None:
    """`--pass-plugin`: import each file/module (its passes register themselves); a plugin that
    cannot load is a bad input naming it."""
    from tflconv.core.plugins import PluginError, load_pass_plugin

    for spec in specs:
        try:
            load_pass_plugin(spec)
        except PluginError as e:
            raise CLIError(str(e)) from None


def _check_pass_names(names: set[str], flag: str) -> None:
    import difflib

    from tflconv.core.passes import all_passes

    known = all_passes()
    for name in sorted(names - set(known)):
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CLIError(f"{flag}: unknown pass {name!r}{hint}")


def report_error(
    message: str, args: argparse.Namespace | None, exc: BaseException | None = None
) -> None:
    if args is not None and getattr(args, "debug", False) and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"tflconv: error: {message}\n")
