"""Keeping TensorFlow quiet while it loads and traces a model."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO


@contextlib.contextmanager
def quiet_tensorflow(enabled: bool = True) -> Iterator[TextIO]:
    """Silence TensorFlow's log flood inside the block; yields the stream our own reports
    (timings, printed IR) must use, which still reaches the user's stderr.

    TF's C++ logging writes to file descriptor 2 before absl is initialised (so
    TF_CPP_MIN_LOG_LEVEL does not stop it), Keras prints "Saved artifact at ..." listings to
    stdout, and absl/Python warnings go to sys.stderr; all three are redirected to a
    temporary file that is dropped afterwards."""
    if not enabled:
        yield sys.stderr
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Our report stream: the current sys.stderr object if it is not the process's fd 2
    # (pytest capture, notebooks), else a duplicate of fd 2 taken before redirecting.
    user_stderr = sys.stderr
    try:
        stderr_is_fd2 = user_stderr.fileno() == 2
    except (AttributeError, OSError, io.UnsupportedOperation):
        stderr_is_fd2 = False
    saved: list[int] = []
    report: TextIO = user_stderr
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            for fd in (1, 2):
                try:
                    saved.append(os.dup(fd))
                except OSError:
                    saved.append(-1)
            if stderr_is_fd2 and saved[1] >= 0:
                report = os.fdopen(os.dup(saved[1]), "w", buffering=1, closefd=True)
            for fd, old in zip((1, 2), saved):
                if old >= 0:
                    os.dup2(sink.fileno(), fd)
            text_sink = io.TextIOWrapper(sink, write_through=True, errors="replace")
            with (
                contextlib.redirect_stdout(text_sink),
                contextlib.redirect_stderr(text_sink),
                _quiet_loggers(),
            ):
                yield report
                text_sink.flush()
            text_sink.detach()
        finally:
            for fd, old in zip((1, 2), saved):
                if old >= 0:
                    os.dup2(old, fd)
                    os.close(old)
            if report is not user_stderr:
                with contextlib.suppress(Exception):
                    report.close()


@contextlib.contextmanager
def _quiet_loggers() -> Iterator[None]:
    names = ("tensorflow", "absl", "keras", "h5py")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
