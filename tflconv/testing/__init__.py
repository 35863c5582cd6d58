"""Testing helpers for passes: the FileCheck fixture harness (`filecheck.py`) tflconv's own tests
use. `python -m tflconv.testing [--pass-plugin my_passes.py] fixtures/` runs fixture files."""

from .filecheck import Case, Check, CheckFailure, collect, filecheck, load_cases, run_case, run_opt

__all__ = [
    "Case",
    "Check",
    "CheckFailure",
    "collect",
    "filecheck",
    "load_cases",
    "run_case",
    "run_opt",
]
