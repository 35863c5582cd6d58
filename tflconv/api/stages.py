"""The conversion's stages, each turning its component's exceptions into one `ConverterError`
(with the phase, a one-line message and the details): import, pipeline, metadata, export.
`TFLiteConverter` (api/converter.py) strings them together; `tools/analyze` imports alone."""

from __future__ import annotations

import os
from typing import Any

from tflconv.api.errors import ConverterError
from tflconv.api.files import refuse_tflite_source
from tflconv.frontends.base import FrontendError, ImportedModel, load_source


def import_source(
    source: Any, options: dict[str, Any], frontend: str | None = None
) -> ImportedModel:
    """Import `source` with the named frontend, or the registered one that accepts it."""
    if isinstance(source, str | os.PathLike) and not os.path.exists(source):
        raise ConverterError(f"no such file or directory: {os.fspath(source)}", phase="load")
    refuse_tflite_source(source)
    try:
        return load_source(source, frontend, **options)
    except FrontendError as err:
        raise ConverterError(
            str(err) or type(err).__name__, phase="load", details=str(err)
        ) from err
    except Exception as err:
        # TensorFlow/Keras raise all sorts of errors on corrupt or unexpected inputs; name the
        # model and the original error in one line, keep the traceback in `details`.
        what = os.fspath(source) if isinstance(source, str | os.PathLike) else type(source).__name__
        raise ConverterError(
            f"cannot load {what}: {type(err).__name__}: {err}",
            phase="load",
            details=_traceback(err),
        ) from err


def refuse_resource_variables(module: Any) -> None:
    """experimental_enable_resource_variables=False: a model that assigns variables cannot
    convert (as the official converter's "mutable variables are not supported")."""
    writes = sorted(
        {
            str(op.location)
            for op in module.walk()
            if op.name in ("tf.AssignVariableOp", "tfl.assign_variable")
            and not (op.function and op.function.attributes.get("session_initializer"))
        }
    )
    if writes:
        raise ConverterError(
            "the model assigns variables (" + ", ".join(writes[:3]) + "), which needs TFLite "
            "resource variables: set experimental_enable_resource_variables=True",
            phase="options",
        )


def run_pipeline(module: Any, options: dict[str, Any]) -> Any:
    """Run the pass pipeline on `module` in place, with the requested instruments; return the
    PassManager (its `records` hold per-pass times)."""
    from tflconv import passes  # noqa: F401  (registers every pass)
    from tflconv.core import instrument
    from tflconv.core.pass_manager import PassFailure, PassManager
    from tflconv.core.passes import PassContext
    from tflconv.passes.compat.check_tflite_legal import UnsupportedOpsError
    from tflconv.tflite.runtime import litert_runner

    stream = options["stream"]
    instruments: list[Any] = []
    if options["print_ir_after_all"] or options["print_ir_after"] or options["print_ir_before"]:
        instruments.append(
            instrument.PrintIR(
                before=set(options["print_ir_before"]),
                after=set(options["print_ir_after"]),
                after_all=options["print_ir_after_all"],
                stream=stream,
            )
        )
    if options["dump_dir"] is not None:
        instruments.append(instrument.DumpDir(options["dump_dir"]))
    if options["time_passes"]:
        instruments.append(instrument.TimePasses(stream=stream))
    instruments += options["instruments"]
    try:
        pm = PassManager.from_pipeline(
            options["pipeline"],
            instruments=instruments,
            verify_each=options["verify_each"],
            reproducer=options["reproducer"],
        )
    except Exception as err:  # a bad pipeline string: unknown pass, bad option
        raise ConverterError(f"bad pipeline: {err}", phase="pipeline", details=str(err)) from err
    try:
        pm.run(module, PassContext(data=options.get("data") or {}, runner=litert_runner))
    except PassFailure as err:
        cause = err.__cause__
        if isinstance(cause, UnsupportedOpsError):
            raise ConverterError(
                _one_line_unsupported(cause),
                phase="pipeline",
                details=str(cause),
                report=cause.report,
            ) from err
        raise ConverterError(str(err), phase="pipeline", details=_traceback(err)) from err
    except UnsupportedOpsError as err:
        raise ConverterError(
            _one_line_unsupported(err), phase="pipeline", details=str(err), report=err.report
        ) from err
    return pm


def _traceback(err: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(err))


def _one_line_unsupported(err: Any) -> str:
    return err.report.summary()


def attach_metadata(module: Any, info: Any) -> None:
    from tflconv.tflite.metadata import MetadataError, attach_to_module

    try:
        attach_to_module(module, info)
    except MetadataError as err:
        raise ConverterError(f"model metadata: {err}", phase="export") from err


def write_tflite(module: Any, buffer_offset: bool = False) -> bytes:
    """The .tflite of `module` (its CONVERSION_METADATA from `module.attributes`); weights after
    the FlatBuffer (`Buffer.offset`) when forced, or when the model needs it (> 2 GB)."""
    from tflconv.tflite.writer import write_flatbuffer

    try:
        return write_flatbuffer(module, buffer_offset=True if buffer_offset else None)
    except Exception as err:
        raise ConverterError(f"writing the FlatBuffer failed: {err}", phase="export") from err
