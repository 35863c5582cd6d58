"""A Flex-capable TFLite interpreter for tests: TensorFlow 2.18 in a second virtual environment.

TF 2.21's `tf.lite.Interpreter` and ai-edge-litert ship no Flex delegate (google-ai-edge/LiteRT
#6458), but `tensorflow-cpu==2.18.*`'s interpreter applies it automatically. The session
fixture `flex_python` creates `~/.cache/tflconv/flex-venv/` on first use (pip install, about
250 MB download, 1-3 minutes; cached for later runs, never in the checkout) and yields its Python.
Models run there through `tests/run_flex_model.py` (inputs and outputs passed as .npz files).

Environment:
- TFLCONV_FLEX_PYTHON=/path/to/python: use that interpreter (a TF with Flex) instead.
- TFLCONV_FLEX_VENV=DIR: where to create the environment (default: $XDG_CACHE_HOME or ~/.cache,
  then tflconv/flex-venv).
- TFLCONV_NO_FLEX_INSTALL=1: never install; skip when the environment is missing.

Tests using it skip with the reason when the environment cannot be created (no network, no
supported Python); everything else in the suite runs without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).with_name("run_flex_model.py")
FLEX_REQUIREMENT = "tensorflow-cpu==2.18.*"
FLEX_TF_PREFIX = "2.18."
INSTALL_TIMEOUT = 1800


def _venv_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("TFLCONV_FLEX_VENV", cache / "tflconv" / "flex-venv"))


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_flex_tf(python: Path | str) -> bool:
    try:
        proc = subprocess.run(
            [str(python), "-c", "import tensorflow as tf; print(tf.__version__)"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and proc.stdout.strip().startswith(FLEX_TF_PREFIX)


@contextlib.contextmanager
def _install_lock(venv: Path):
    """One installer at a time (pytest-xdist workers share the environment)."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.parent / (venv.name + ".lock")
    with open(lock_path, "w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no lock; the check below still avoids reinstalling
            pass
        yield


def _run(cmd: list[str]) -> str | None:
    """Run an install step; None on success, else the tail of its output."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if proc.returncode == 0:
        return None
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
    return " | ".join(tail) or f"exit code {proc.returncode}"


def ensure_flex_python() -> tuple[Path | None, str]:
    """(python with a Flex-capable TF, "") or (None, why not)."""
    given = os.environ.get("TFLCONV_FLEX_PYTHON")
    if given:
        if _has_flex_tf(given):
            return Path(given), ""
        return None, f"TFLCONV_FLEX_PYTHON={given} has no TensorFlow {FLEX_TF_PREFIX}x"
    venv = _venv_dir()
    python = _venv_python(venv)
    with _install_lock(venv):
        if python.exists() and _has_flex_tf(python):
            return python, ""
        if os.environ.get("TFLCONV_NO_FLEX_INSTALL"):
            return None, f"no Flex runtime at {venv} and TFLCONV_NO_FLEX_INSTALL is set"
        if sys.version_info >= (3, 13):
            return None, f"{FLEX_REQUIREMENT} has no wheels for Python {sys.version.split()[0]}"
        shutil.rmtree(venv, ignore_errors=True)  # a half-made environment from an earlier try
        failed = _run([sys.executable, "-m", "venv", str(venv)])
        failed = failed or _run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             FLEX_REQUIREMENT]
        )  # fmt: skip
        if failed:
            shutil.rmtree(venv, ignore_errors=True)
            return None, f"could not install {FLEX_REQUIREMENT} into {venv}: {failed}"
        if not _has_flex_tf(python):
            return None, f"{venv} was created but TensorFlow {FLEX_TF_PREFIX}x does not import"
        return python, ""


@pytest.fixture(scope="session")
def flex_python() -> Path:
    """The Python of the Flex-capable environment (created on first use; slow once)."""
    python, why = ensure_flex_python()
    if python is None:
        pytest.skip(f"Flex runtime unavailable: {why}")
    return python


def run_flex_models(
    python: Path, jobs: list[tuple[bytes, dict[str, np.ndarray] | list[np.ndarray]]]
) -> list[dict[str, np.ndarray]]:
    """Run each (.tflite bytes, inputs) in TF 2.18's interpreter (Flex delegate applied), all
    in one subprocess. Inputs are keyed by signature input name, or positional. Returns per
    model the outputs by signature output name (positional models: `output_<i>`)."""
    with tempfile.TemporaryDirectory(prefix="tflconv-flex-") as tmp:
        args = []
        for i, (tflite, inputs) in enumerate(jobs):
            model, ins, outs = (Path(tmp) / f"{i}.{ext}" for ext in ("tflite", "in.npz", "out.npz"))
            model.write_bytes(tflite)
            if isinstance(inputs, dict):
                np.savez(ins, **inputs)
            else:
                np.savez(ins, *inputs)
            args += [str(model), str(ins), str(outs)]
        proc = subprocess.run(
            [str(python), str(RUNNER), *args],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"Flex runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        results = []
        for i in range(len(jobs)):
            with np.load(Path(tmp) / f"{i}.out.npz") as data:
                results.append({k: data[k] for k in data.files})
        return results


def run_flex_model(
    python: Path, tflite: bytes, inputs: dict[str, Any] | list[Any]
) -> dict[str, np.ndarray]:
    return run_flex_models(python, [(tflite, inputs)])[0]
