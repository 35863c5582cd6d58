"""SIGINT/SIGTERM end `tflconv` with exit 130/143, one line on stderr and no output or temporary
file (docs/cli.md), at several points of a real conversion run in a subprocess: start-up imports,
between passes (after library code swallowed the KeyboardInterrupt) and inside a pass that never
gives the main thread back (the watchdog thread ends the process).

The child is `python -c DRIVER`: it registers a test pass `test-stall` that announces itself on
stderr and then ignores KeyboardInterrupt, and runs `tflconv.cli.main()` as the program does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cnn.keras"

DRIVER = """
import dataclasses, sys, time
from tflconv.core.passes import Pass, register_pass

@register_pass
@dataclasses.dataclass(frozen=True)
class Stall(Pass):
    \"\"\"Announce itself, then keep working through KeyboardInterrupt (as some libraries do).\"\"\"
    name = "test-stall"
    forever: bool = False

    def run(self, module, ctx):
        sys.stderr.write("STALLING\\n")
        sys.stderr.flush()
        swallowed = 0
        while self.forever or not swallowed:
            try:
                time.sleep(0.02)
            except KeyboardInterrupt:
                swallowed += 1
        return False

from tflconv.cli import main
sys.exit(main())
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *argv],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _wait_for_handlers(proc: subprocess.Popen) -> None:
    """Until the child has installed its SIGTERM handler (`core.signals.install`), read from
    /proc: the bit is set only by tflconv, Python alone catches SIGINT but not SIGTERM."""
    status = Path(f"/proc/{proc.pid}/status")
    if not status.exists():
        pytest.skip("needs Linux /proc to see when the child installed its handlers")
    bit = 1 << (signal.SIGTERM - 1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        caught = next(
            (
                line.split()[1]
                for line in status.read_text().splitlines()
                if line.startswith("SigCgt")
            ),
            "0",
        )
        if int(caught, 16) & bit:
            return
        time.sleep(0.002)
    pytest.fail("the child never installed its signal handlers")


def _wait_for_line(proc: subprocess.Popen, text: str) -> list[str]:
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if text in line:
            return lines
    pytest.fail(f"the child ended without printing {text!r}: {''.join(lines)}")


def _finish(proc: subprocess.Popen, earlier: list[str] | None = None) -> tuple[int, list[str]]:
    out, err = proc.communicate(timeout=120)
    lines = [line.rstrip("\n") for line in (earlier or [])] + err.splitlines()
    return proc.returncode, [line for line in lines if line.startswith("tflconv")] + [
        line for line in lines if "Traceback" in line
    ]


def _no_files_left(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no output and no temporary file"


@pytest.fixture
def model() -> str:
    if not EXAMPLE.exists():
        pytest.skip("examples/cnn.keras is missing")
    pytest.importorskip("tensorflow")
    return str(EXAMPLE)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_start_up_imports(tmp_path, model, sig, code):
    proc = _start(tmp_path, "convert", model, "-o", "out.tflite")
    _wait_for_handlers(proc)  # then the subcommand modules and TensorFlow are still loading
    proc.send_signal(sig)
    status, lines = _finish(proc)
    assert status == code
    assert lines == [f"tflconv: interrupted ({sig.name}); no output written"]
    _no_files_left(tmp_path)


def test_a_swallowed_interrupt_stops_the_conversion_at_the_next_pass(tmp_path, model):
    proc = _start(
        tmp_path, "convert", model, "-o", "out.tflite", "--pass-pipeline", "default,test-stall,dce"
    )
    earlier = _wait_for_line(proc, "STALLING")  # inside a pass, after loading the model
    proc.send_signal(signal.SIGINT)  # the pass swallows it and returns: dce must not run
    status, lines = _finish(proc, earlier)
    assert status == 130
    assert lines == ["tflconv: interrupted (SIGINT); no output written"]
    _no_files_left(tmp_path)


@pytest.mark.slow  # a second and third TensorFlow conversion in a subprocess
def test_a_swallowed_interrupt_in_the_last_pass_writes_no_output(tmp_path, model):
    proc = _start(
        tmp_path, "convert", model, "-o", "out.tflite", "--pass-pipeline", "default,test-stall"
    )
    earlier = _wait_for_line(proc, "STALLING")
    proc.send_signal(signal.SIGINT)  # caught again before the output is renamed into place
    status, lines = _finish(proc, earlier)
    assert status == 130
    assert lines == ["tflconv: interrupted (SIGINT); no output written"]
    _no_files_left(tmp_path)


@pytest.mark.slow  # a second and third TensorFlow conversion in a subprocess
def test_a_pass_that_never_returns_is_ended_by_the_watchdog(tmp_path, model):
    proc = _start(
        tmp_path,
        "convert", model, "-o", "out.tflite",
        "--pass-pipeline", "default,test-stall{forever=true}",
    )  # fmt: skip
    earlier = _wait_for_line(proc, "STALLING")
    proc.send_signal(signal.SIGTERM)
    status, lines = _finish(proc, earlier)  # communicate() has a timeout: no hang
    assert status == 143
    assert lines == ["tflconv: interrupted (SIGTERM); no output written"]
    _no_files_left(tmp_path)


def test_an_interrupt_ignored_at_start_stays_ignored(tmp_path):
    # A background job of a non-interactive shell starts with SIGINT ignored: keep it so.
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from tflconv.core import signals\n"
        "restore = signals.install()\n"
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n"
        "assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL\n"
        "restore()\n"
        "assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_check_is_a_no_op_without_install():
    from tflconv.core import signals

    assert signals.pending() is None
    signals.check()
    assert signals.exit_code(KeyboardInterrupt()) == 130
    assert signals.exit_code(signals.Interrupted(signal.SIGTERM)) == 143
