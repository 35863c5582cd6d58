"""The test suite's own rules (issue 14): hypothesis is derandomized in CI and keeps its files
out of the checkout, the Flex environment is cached outside it, and a fixture case that checks
nothing fails instead of passing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tflconv.testing.filecheck import CheckFailure, load_cases, run_case

REPO = Path(__file__).resolve().parent.parent


def test_a_fixture_case_without_checks_is_an_error(tmp_path: Path) -> None:
    fixture = tmp_path / "nothing.mlir"
    fixture.write_text(
        "// RUN: -p cse --split-input-file\n"
        "func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>) {\n"
        '  "func.return"(%x) : (tensor<4xf32>) -> ()\n'
        "}\n"
        "// -----\n"
        "func.func @g(%x: tensor<4xf32>) -> (tensor<4xf32>) {\n"
        '  "func.return"(%x) : (tensor<4xf32>) -> ()\n'
        "}\n"
        "// CHECK: func.func @g\n"
    )
    unchecked, checked = load_cases(fixture, tmp_path)
    with pytest.raises(CheckFailure, match="nothing.mlir:1: the case has no CHECK"):
        run_case(unchecked, tmp_path / "repro.mlir")
    run_case(checked, tmp_path / "repro.mlir")


def _profile(env: dict[str, str]) -> list[str]:
    code = (
        "import sys; sys.path.insert(0, 'tests'); import conftest; "
        "from hypothesis import settings; s = settings.default; "
        "print(conftest.HYPOTHESIS_PROFILE, s.derandomize, s.database is None, "
        "conftest.HYPOTHESIS_HOME)"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def test_hypothesis_is_derandomized_in_ci_and_writes_outside_the_checkout() -> None:
    pytest.importorskip("hypothesis")
    name, derandomize, no_db, home = _profile({"CI": "true"})
    assert (name, derandomize, no_db) == ("ci", "True", "True")
    name, derandomize, no_db, home = _profile({})
    assert (name, derandomize, no_db) == ("default", "False", "False")
    assert not Path(home).resolve().is_relative_to(REPO)


def test_the_flex_environment_is_cached_outside_the_checkout(monkeypatch) -> None:
    import flex_runtime

    monkeypatch.delenv("TFLCONV_FLEX_VENV", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert flex_runtime._venv_dir() == Path("/somewhere/cache/tflconv/flex-venv")
    monkeypatch.setenv("TFLCONV_FLEX_VENV", "/elsewhere")
    assert flex_runtime._venv_dir() == Path("/elsewhere")
