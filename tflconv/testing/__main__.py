"""`python -m tflconv.testing [--pass-plugin FILE|MODULE]... PATH...`: run FileCheck fixture files
(directories searched for `*.mlir`); prints one line per failing case and a summary; exit code 1
when any case fails."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import tflconv.passes  # noqa: F401  (the built-in passes, as `tflconv opt` has them)
from tflconv.core.plugins import PluginError, load_pass_plugin

from .filecheck import collect, run_case


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tflconv.testing", description=__doc__)
    p.add_argument("paths", nargs="+", type=Path, help="fixture files or directories")
    p.add_argument(
        "--pass-plugin",
        "--load-pass",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="import a file or module that registers passes first",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="name every case")
    args = p.parse_args(argv)

    try:
        for spec in args.pass_plugin:
            load_pass_plugin(spec)
    except PluginError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    cases = collect(args.paths)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            try:
                run_case(case, Path(tmp) / "reproducer.mlir")
            except AssertionError as e:
                failed += 1
                print(f"FAIL {case.id}\n{e}\n")
            else:
                if args.verbose:
                    print(f"ok   {case.id}")
    print(f"{len(cases) - failed} passed, {failed} failed ({len(cases)} cases)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
