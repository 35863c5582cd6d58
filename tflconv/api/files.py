"""The output file of a conversion: checked before any work (the writer then streams it whole or
not at all, `core.io.atomic_file`); a `.tflite` given as a source is named as such."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
