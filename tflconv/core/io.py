"""Writing files safely: whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from . import signals


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` (text or bytes) to `path` through a temporary file in the same directory
    (created if missing) and a rename: readers never see half a file, and a failure leaves any
    existing file untouched."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path) as f:
        f.write(raw)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to stream into, renamed to `path` when the block ends without an error
    (as `write_atomic`): on any exception, or an interrupt, the temporary file is removed and
    `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    signals.track(tmp)  # removed even if an interrupt ends the process from another thread
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        signals.check()  # interrupted: no output, not even a complete one
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        signals.untrack(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
