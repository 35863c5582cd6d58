"""`tflconv <command>`: the command line.

One module per subcommand (`convert`, `opt`, `inspect`, `metadata`, `analyze`, `debug_quant`,
`view`),
each with an `add_<cmd>_parser(subparsers)` that declares the arguments and sets `run=` to the
function doing the work (`run(args) -> int`, the exit code). Add a command by writing such a
module and appending its name to `COMMAND_MODULES`. What the subcommands share (`CLIError`,
exit codes, the pass-manager debugging flags) is in `common.py`. Nothing else imports this package.

The subcommand modules are imported inside `main()`, after the interrupt handlers are installed:
a Ctrl-C during start-up is one line and exit 130 like any other (docs/cli.md).

Exit codes (every subcommand, docs/cli.md): 0 success; 1 a check failed (`--verify` mismatch,
a pass failed in `opt`: a reproducer was written); 2 bad input or usage (unreadable or corrupt
file, bad flag, unconvertible model, unwritable output); 3 internal error (a bug: one line,
the traceback with --debug); 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from tflconv.core import signals

from .common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, CLIError, bad_input_error, report_error

COMMAND_MODULES = ("convert", "opt", "inspect", "metadata", "analyze", "debug_quant", "view")
"""The subcommand modules of this package, in `--help` order."""


def commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """The `add_<cmd>_parser` functions; each registers one subcommand."""
    # Imported on use: they load the converter, and `main()` must install the interrupt
    # handlers before that.
    from . import analyze, convert, debug_quant, inspect, metadata, opt, view

    modules = {
        m.__name__.rsplit(".", 1)[1]: m
        for m in (analyze, convert, debug_quant, inspect, metadata, opt, view)
    }
    return [getattr(modules[name], f"add_{name}_parser") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tflconv", description="TensorFlow -> TFLite converter and IR tools"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for add in commands():
        add(subparsers)
    return parser


_NEGATIVE_VALUE_FLAGS = frozenset({"--input_shapes", "--input-shapes"})
"""Flags whose value may start with '-' (`--input_shapes -1,4`): argparse would take it for
an option."""


def _normalize(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--trace-patterns":
            # `--trace-patterns` takes an optional value only in `=` form, so a following
            # positional (the input file) is never swallowed as the pattern name.
            out.append("--trace-patterns=")
        elif a in _NEGATIVE_VALUE_FLAGS and i + 1 < len(args) and args[i + 1].startswith("-"):
            out.append(f"{a}={args[i + 1]}")
            i += 1
        else:
            out.append(a)
        i += 1
    return out


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing at exit does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code. Run as a program (`argv` None), SIGINT and
    SIGTERM are handled as docs/cli.md describes (`core.signals`)."""
    restore: Callable[[], None] = lambda: None  # noqa: E731
    args: argparse.Namespace | None = None
    try:
        if argv is None:
            restore = signals.install()  # inside the try: a signal may land while installing
        parser = build_parser()
        args = parser.parse_args(_normalize(sys.argv[1:] if argv is None else argv))
        if not hasattr(args, "run"):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        code = args.run(args)
        signals.check()  # a swallowed Ctrl-C still ends as an interrupt
        return code
    except KeyboardInterrupt as e:  # includes signals.Interrupted (SIGTERM too)
        if argv is None:  # the watchdog may print it too: once between them
            signals.report_once(signals.message(e), sys.stderr)
        else:
            sys.stderr.write(signals.message(e) + "\n")
        return signals.exit_code(e)
    except CLIError as e:
        report_error(str(e), args, e)
        return e.code
    except BrokenPipeError:  # `tflconv inspect m.tflite --ir | head`: the reader has enough
        _silence_stdout()
        return EXIT_OK
    except Exception as e:
        message = bad_input_error(e)
        if message is not None:  # a documented bad-input error that no command caught
            report_error(message, args, e)
            return EXIT_USAGE
        if args is not None and getattr(args, "debug", False):
            raise
        # A bug: one line, the traceback with --debug.
        text = " ".join(str(e).split())[:300]
        sys.stderr.write(
            f"tflconv: internal error: {type(e).__name__}: {text} (a bug: rerun with --debug "
            "for the traceback and report it)\n"
        )
        return EXIT_INTERNAL
    finally:
        restore()
