"""`tflconv opt`: parse IR text (or read a .tflite file), run a pass pipeline on it, print the
result (or write a .tflite file)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    add_instrument_arguments,
    add_pass_plugin_argument,
    common_flags,
    instruments_from_args,
    load_pass_plugins,
    output_error,
    read_input,
    report_error,
    write_output,
)

if TYPE_CHECKING:
    from tflconv.core.ir import Module


def add_opt_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "opt",
        parents=[common_flags()],
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
    add_pass_plugin_argument(p)
    p.add_argument(
        "--representative-data",
        metavar="NPZ",
        help="calibration samples for the `calibrate` pass (as `convert --representative-data`;"
        " replaying a dump of an int8 conversion from before calibration needs them)",
    )
    add_instrument_arguments(p)
    p.add_argument(
        "--print-large-constants", action="store_true", help="print large constants whole"
    )
    p.set_defaults(run=_run_opt)


def _list_passes() -> str:
    from tflconv.core.pass_options import format_value, pass_options, pass_summary
    from tflconv.core.passes import all_passes
    from tflconv.core.pipeline import PIPELINES

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

    load_pass_plugins(args.pass_plugin)

    if args.list_passes:
        sys.stdout.write(_list_passes())
        return EXIT_OK

    from tflconv.core.parser import ParseError, parse_module
    from tflconv.core.pass_manager import PassFailure, PassManager, reproducer_pipeline
    from tflconv.core.passes import PassContext
    from tflconv.core.pipeline import PipelineError, parse_pipeline
    from tflconv.core.printer import MissingDataError, print_module
    from tflconv.core.verifier import VerifyError, verify

    if _same_file(args.input, args.output):
        raise CLIError(f"-o {args.output} would overwrite the input; name another output file")
    tflite = _read_tflite(args.input)
    text, filename = ("", args.input) if tflite is not None else read_input(args.input)
    pipeline = args.pipeline
    if pipeline is None:
        pipeline = reproducer_pipeline(text) or ""
    try:
        passes = parse_pipeline(pipeline)
    except PipelineError as e:
        raise CLIError(f"bad pipeline: {e}") from None

    data = {}
    if args.representative_data:
        if not Path(args.representative_data).is_file():
            raise CLIError(f"--representative-data {args.representative_data}: no such file")
        data["representative_dataset"] = args.representative_data
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
        except MemoryError as e:  # a constant whose type asks for terabytes (dense<1.0> : ...)
            raise CLIError(f"{filename}: a constant is too large to build: {e}") from None
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
            pm.run(module, PassContext(data=data, runner=_litert_runner))
        except PassFailure as e:
            report = getattr(e.__cause__, "report", None)  # check-tflite-legal's report
            message = str(e) if report is None else f"{e.pass_.name}: {report.render()}"
            if isinstance(e.__cause__, MissingDataError):
                message = f"pass '{e.pass_.name}' failed: {e.__cause__}"
            report_error(message, args, e)
            code = max(code, EXIT_FAILURE)
            continue
        if args.output and args.output.endswith(".tflite"):
            _write_tflite(args.output, module, len(chunks))
            return code
        outputs.append(print_module(module, **print_options))
    if code != EXIT_OK:
        return code
    write_output(args.output, "// -----\n".join(outputs))
    return EXIT_OK


def _litert_runner(module: Module, watch: Any) -> Any:
    """LiteRT's model runner (what `calibrate` runs), as in a conversion; loaded only when a
    pass runs the model."""
    from tflconv.tflite.runtime import litert_runner

    return litert_runner(module, watch)


def _same_file(input_path: str, output: str | None) -> bool:
    """Whether `-o` names the input file itself (never overwrite a user's input)."""
    if not output or output == "-" or input_path == "-" or not Path(input_path).exists():
        return False
    return Path(output).resolve() == Path(input_path).resolve()


def _read_tflite(path: str) -> Module | None:
    """The module of a .tflite file (recognised by its identifier), else None."""
    if path == "-" or not Path(path).is_file():
        return None
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"TFL3" and not path.lower().endswith(".tflite"):
        return None  # IR text (a corrupt .tflite gets the reader's error, not a parse error)
    from tflconv.tflite.reader import ReadError, read_flatbuffer_file

    try:
        return read_flatbuffer_file(path)
    except ReadError as e:
        raise CLIError(f"cannot read {path}: {e}") from None


def _write_tflite(path: str, module: Module, n_chunks: int) -> None:
    """`-o x.tflite`: write the resulting module as a .tflite file instead of IR text."""
    from tflconv.core.printer import MissingDataError, check_data
    from tflconv.tflite.writer import WriteError, write_flatbuffer_file

    if n_chunks > 1:
        raise CLIError("-o *.tflite takes one module; drop --split-input-file")
    try:
        check_data(module)  # a placeholder would be written as zeros
        write_flatbuffer_file(module, path)  # streamed, atomically
    except MissingDataError as e:  # as when a pass needs the values: exit 1, like pass failures
        raise CLIError(f"cannot write {path}: {e}", EXIT_FAILURE) from None
    except WriteError as e:
        raise CLIError(f"cannot write {path}: {e}") from None
    except OSError as e:
        raise CLIError(output_error(path, e)) from None
