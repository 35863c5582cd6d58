"""The output file of a conversion: checked before any work, then streamed whole or not at all
(`write_file`; `convert()` of a large model goes through a temporary file, `spill_path`); a
`.tflite` given as a source is named as such."""

from __future__ import annotations

import gc
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from tflconv.api.errors import ConverterError


def check_output_path(output_path: str | os.PathLike, source: Any) -> None:
    """Refuse, before any work, an output path that cannot be written (an existing directory,
    a path under a file, a directory without write permission) or that would overwrite the
    input model (the same file, or a file inside the input SavedModel directory)."""
    refuse_tflite_source(source)
    name = os.fspath(output_path)
    out = Path(output_path).absolute()
    if out.is_dir():
        raise ConverterError(f"cannot write {name}: it is a directory (name a file)", phase="write")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # write_atomic creates the missing directories
    if not parent.is_dir():
        raise ConverterError(f"cannot write {name}: {parent} is not a directory", phase="write")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConverterError(f"cannot write {name}: {parent} is not writable", phase="write")
    if not isinstance(source, str | os.PathLike):
        return
    out = out.resolve()
    src = Path(source).resolve()
    if out == src or (src.is_dir() and src in out.parents):
        raise ConverterError(f"output {name} would overwrite the input model", phase="write")


def refuse_tflite_source(source: Any) -> None:
    if isinstance(source, str | os.PathLike) and _is_tflite_file(source):
        raise ConverterError(
            f"{os.fspath(source)} is already a .tflite model, not a TensorFlow model; "
            "`tflconv inspect` describes it and `tflconv opt MODEL.tflite -p PIPELINE "
            "-o OUT.tflite` rewrites it",
            phase="load",
        )


def _is_tflite_file(path: str | os.PathLike) -> bool:
    """A .tflite model (its FlatBuffer identifier; or the suffix, for a corrupt one)."""
    if not os.path.isfile(path):
        return False
    if os.fspath(path).lower().endswith(".tflite"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def write_file(module: Any, path: str | os.PathLike, buffer_offset: bool = False) -> int:
    """The .tflite of `module` streamed into the file `path` (atomically: whole or not at
    all, `write_flatbuffer_file`); returns its size. Errors are `ConverterError`s: an OSError
    is the one line "cannot write PATH: reason"."""
    from tflconv.tflite.writer import write_flatbuffer_file  # the generated schema: on use

    try:
        return write_flatbuffer_file(module, path, buffer_offset=True if buffer_offset else None)
    except OSError as err:
        what = err.strerror or str(err)
        raise ConverterError(f"cannot write {os.fspath(path)}: {what}", phase="write") from err
    except Exception as err:
        raise ConverterError(f"writing the FlatBuffer failed: {err}", phase="export") from err


SPILL_BYTES = 256 * 2**20
"""`convert()` streams a model whose IR holds at least this many bytes of arrays of its own
(not views of the source's weights) to a temporary file and reads it back after releasing the
IR; other models are assembled in memory."""


def spills(module: Any) -> bool:
    """Whether `convert()` goes through a temporary file for this module: when the arrays the
    IR holds itself (folded or quantized weights, not views of the source model's memory such
    as transposed weights) would otherwise coexist with the returned bytes (`SPILL_BYTES`)."""
    owned: dict[int, int] = {}
    for op in module.walk():
        value = op.attributes.get("value") if op.name == "arith.constant" else None
        if not isinstance(value, np.ndarray):
            continue
        while isinstance(value.base, np.ndarray):
            value = value.base
        if value.base is None:  # its own memory, not the source's
            owned[id(value)] = value.nbytes
    return sum(owned.values()) >= SPILL_BYTES


def spill_path() -> str:
    """A new file name in the temporary directory (created only when the write succeeds)."""
    return os.path.join(tempfile.gettempdir(), f"tflconv-{os.getpid()}-{uuid.uuid4().hex}.tflite")


def release_ir(result: Any) -> None:
    """Free a `ConversionResult`'s IR, and the weight arrays only it holds (layout changes),
    before its written file is read back: the IR's use lists and parent links are reference
    cycles, which only the cycle collector frees."""
    result.module = result.imported = None
    gc.collect()
