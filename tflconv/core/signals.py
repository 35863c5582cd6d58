"""Interrupts for the command line: SIGINT/SIGTERM end a run within ~2 s with exit 130/143, one
line on stderr, no output or temporary file left behind.

    restore = signals.install()      # the CLI, first thing (before the heavy imports)
    ...
    signals.check()                  # between passes, before an output is renamed into place

Three layers, because one is not enough in a process that runs TensorFlow:
1. the Python handler raises `Interrupted` (a `KeyboardInterrupt`) in the main thread;
2. library code sometimes swallows that exception (or runs on in C++ and finishes its work), so
   the signal is also remembered, and `check()` re-raises it at the points that matter: between
   passes and before an output file is renamed into place;
3. a watchdog thread woken through `signal.set_wakeup_fd` (it runs even while the main thread
   is inside C++ code that released the GIL) ends the process with `os._exit` after a grace
   period, removing the temporary files `write_atomic` registered and printing the one line.

Only `install()` changes process state; without it (library use, tests calling `cli.main`
with arguments) `check()` is a no-op and Ctrl-C is Python's plain `KeyboardInterrupt`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

GRACE_SECONDS = 1.5
"""How long the main thread gets to unwind cleanly before the watchdog ends the process."""

_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}

_received: int | None = None
_temp_files: set[str] = set()
_lock = threading.Lock()
_reported = False
_stderr_fd = -1


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM arrived; `exit_code` is 128 + the signal number (130, 143)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(f"interrupted ({_NAMES.get(signum, signum)})")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


def exit_code(exc: BaseException) -> int:
    """The exit status for an interrupt: 143 for SIGTERM, 130 for SIGINT / KeyboardInterrupt."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def message(exc: BaseException) -> str:
    """The one line the CLI prints for an interrupt."""
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    return f"tflconv: interrupted ({_NAMES.get(signum, signum)}); no output written"


def check() -> None:
    """Raise `Interrupted` when a signal arrived since `install()`: the KeyboardInterrupt the
    handler raised may have been swallowed by library code that then carried on."""
    if _received is not None:
        raise Interrupted(_received)


def pending() -> int | None:
    """The signal received since `install()`, if any."""
    return _received


def track(path: str | os.PathLike) -> None:
    """Remove `path` if the watchdog has to end the process (a temporary file in progress)."""
    with _lock:
        _temp_files.add(os.fspath(path))


def untrack(path: str | os.PathLike) -> None:
    with _lock:
        _temp_files.discard(os.fspath(path))


def report_once(line: str, stream: object = None) -> None:
    """Print the interrupt line once, whichever of main thread and watchdog gets there first."""
    global _reported
    with _lock:
        if _reported:
            return
        _reported = True
    data = (line + "\n").encode()
    if stream is None and _stderr_fd >= 0:
        with contextlib.suppress(OSError):
            os.write(_stderr_fd, data)  # the real stderr, even inside quiet_tensorflow
        return
    with contextlib.suppress(Exception):
        out = stream if stream is not None else sys.stderr
        out.write(line + "\n")  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]


def _handler(signum: int, frame: object) -> None:
    global _received
    if _received is not None:  # a second signal: the user means it, stop now
        _hard_exit(signum)
    _received = signum
    raise Interrupted(signum)


def _hard_exit(signum: int) -> None:
    with _lock:
        files = list(_temp_files)
    for name in files:
        with contextlib.suppress(OSError):
            Path(name).unlink()
    report_once(message(Interrupted(signum)))
    os._exit(128 + int(signum))


def _watchdog(read_fd: int, cancelled: threading.Event, grace: float) -> None:
    try:
        _watch(read_fd, cancelled, grace)
    finally:
        with contextlib.suppress(OSError):
            os.close(read_fd)


def _watch(read_fd: int, cancelled: threading.Event, grace: float) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)  # blocks without the GIL
        except OSError:
            return
        if not data or cancelled.is_set():
            return
        signums = [b for b in data if b in _NAMES]
        if not signums:
            continue
        if cancelled.wait(grace):  # the main thread finished in time
            return
        _hard_exit(signums[0])


def install(grace: float = GRACE_SECONDS) -> Callable[[], None]:
    """Handle SIGINT/SIGTERM as described above (main thread only; elsewhere a no-op).
    Returns a function that restores the previous handlers; after a signal the watchdog stays
    armed, so the process still ends within the grace period."""
    global _received, _reported, _stderr_fd
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _received, _reported = None, False
    # A signal ignored at start stays ignored (a background job of a non-interactive shell
    # ignores SIGINT; `nohup`), as POSIX programs do.
    old = {s: signal.getsignal(s) for s in _NAMES if signal.getsignal(s) is not signal.SIG_IGN}
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # a platform where the wakeup fd must be a socket: no watchdog
        old_wakeup = -1
        os.close(write_fd)
        write_fd = -1
    with contextlib.suppress(OSError):
        _stderr_fd = os.dup(2)
    cancelled = threading.Event()
    thread = threading.Thread(
        target=_watchdog, args=(read_fd, cancelled, grace), name="tflconv-signals", daemon=True
    )
    thread.start()  # without a wakeup fd it sees EOF at once and returns
    for s in old:  # last: from here on a signal raises Interrupted
        signal.signal(s, _handler)

    def restore() -> None:
        global _stderr_fd
        if _received is not None:
            return  # keep the watchdog armed: the process is on its way out
        cancelled.set()
        signal.set_wakeup_fd(old_wakeup)
        for s, handler in old.items():
            signal.signal(s, handler)
        if write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(write_fd)  # wakes the watchdog: it sees EOF and returns
        if _stderr_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(_stderr_fd)
            _stderr_fd = -1

    return restore
