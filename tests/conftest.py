"""Suite-wide options: `slow` tests run only with `--slow` (kept out of CI's time budget).

Hypothesis: its example database lives in the system temp dir, never in the checkout; with
CI=true the `ci` profile runs derandomized (the same examples every run, no flaky CI); the
`mutation` profile (benchmarks/mutation.py) runs few, fixed examples. HYPOTHESIS_PROFILE=NAME
picks a profile explicitly.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / "tflconv-hypothesis"
HYPOTHESIS_DB = HYPOTHESIS_HOME / "examples"


def _hypothesis_profiles() -> str | None:
    try:
        from hypothesis import settings
        from hypothesis.configuration import set_hypothesis_home_dir
        from hypothesis.database import DirectoryBasedExampleDatabase
    except ImportError:  # hypothesis is a dev extra; tests that need it importorskip it
        return None
    set_hypothesis_home_dir(str(HYPOTHESIS_HOME))  # its caches (constants, charmaps) too
    database = DirectoryBasedExampleDatabase(str(HYPOTHESIS_DB))
    settings.register_profile("default", database=database)
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.register_profile("mutation", derandomize=True, database=None, max_examples=20)
    name = os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "default"
    )
    settings.load_profile(name)
    return name


HYPOTHESIS_PROFILE = _hypothesis_profiles()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: minutes-long; run with --slow (not in CI)")


def pytest_report_header(config: pytest.Config) -> str | None:
    if HYPOTHESIS_PROFILE is None:
        return None
    return f"hypothesis profile: {HYPOTHESIS_PROFILE} (database: {HYPOTHESIS_DB})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
