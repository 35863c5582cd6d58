"""The "write a pass and test it with a fixture" example of docs/core.md, run exactly as
written there: the Python block is executed (registering the pass) and the fixture block runs
through the fixture harness (`tflconv opt` + FileCheck)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from test_fixtures import load_cases, run_case

import tflconv.passes  # noqa: F401  (registers the built-in passes, and the tf dialect)

DOC = Path(__file__).parent.parent / "docs" / "core.md"


def _block(marker: str, lang: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example: {marker} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert m, f"docs/core.md has no `<!-- example: {marker} -->` {lang} block"
    return m.group(1)


def test_example_pass_is_short():
    code = _block("pass", "python")
    body = [
        ln
        for ln in code.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("#", "from", "import"))
    ]
    assert len(body) <= 20  # "a pass in about ten lines" (plus its pattern)


@pytest.fixture(scope="module")
def example_pass():
    # A real module, as if the user had written `my_passes.py`; compiled without this file's
    # `from __future__ import annotations`.
    module = types.ModuleType("docs_core_example")
    sys.modules[module.__name__] = module
    exec(compile(_block("pass", "python"), str(DOC), "exec", dont_inherit=True), module.__dict__)
    return module


def test_example_fixture_passes(example_pass, tmp_path):
    fixture = tmp_path / "remove_double_neg.mlir"
    fixture.write_text(_block("fixture", "mlir"), encoding="utf-8")
    cases = load_cases(fixture)
    assert len(cases) == 2
    for case in cases:
        run_case(case, tmp_path / "reproducer.mlir")
