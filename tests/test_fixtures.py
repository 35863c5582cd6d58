"""IR-text fixtures: every `tests/fixtures/**/*.mlir` case runs through `tflconv opt`, one
pytest test per case, with the harness `tflconv.testing.filecheck` (the fixture format and the
FileCheck subset are documented there).

The `test` dialect declared here (pure generic ops, `test.add` with a folder, a `test.neg`
canonicalization) lets fixtures exercise the generic passes without TF ops.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tflconv.core.opdef import COMMUTATIVE, PURE, Dialect, OpDef, declare_dialect, declare_op
from tflconv.core.passes import register_canonicalization
from tflconv.core.rewrite import RewritePattern
from tflconv.testing.filecheck import (
    Case,
    Check,
    CheckFailure,
    filecheck,
    load_cases,
    run_case,
    run_opt,
)

FIXTURES = Path(__file__).parent / "fixtures"

# --- the test dialect ----------------------------------------------------------------------------


def _fold_add(op, values):
    lhs, rhs = values
    if lhs is not None and rhs is not None:
        return [lhs + rhs]
    # x + 0 -> x (a partial fold forwarding an operand)
    for const, other in ((rhs, op.operands[0]), (lhs, op.operands[1])):
        if const is not None and other.type == op.result.type and not np.any(const):
            return [other]
    return None


def _fold_broadcast(op, values):
    (x,) = values
    if x is None:
        return None
    return [np.broadcast_to(x, op.attributes["shape"]).copy()]


def _fold_explode(op, values):
    raise ZeroDivisionError("the test.explode folder always fails")


class NegNeg(RewritePattern):
    """test.neg(test.neg(x)) -> x"""

    root = "test.neg"

    def match_and_rewrite(self, op, rw):
        inner = op.operands[0].defining_op
        if inner is None or inner.name != "test.neg":
            return rw.fail("operand is not a test.neg")
        rw.replace(op, inner.operands[0])


def _register_test_dialect() -> None:
    declare_dialect(
        Dialect("test", generic_pure=lambda op: "effect" not in op.name, summary="Test ops.")
    )
    declare_op(OpDef("test.add", ("lhs", "rhs"), traits={PURE, COMMUTATIVE}, fold=_fold_add))
    declare_op(OpDef("test.broadcast", ("input",), traits={PURE}, fold=_fold_broadcast))
    declare_op(OpDef("test.explode", ("input",), traits={PURE}, fold=_fold_explode))
    if not any(isinstance(p, NegNeg) for p in _canonical_patterns("test.neg")):
        register_canonicalization("test.neg", NegNeg())


def _canonical_patterns(name: str) -> list:
    from tflconv.core.passes import CANONICALIZATION_PATTERNS

    return CANONICALIZATION_PATTERNS.get(name, [])


_register_test_dialect()

# --- the harness (tflconv.testing) -----------------------------------------------------------------
# Re-exported: tests/test_user_pass_example.py and others import them from here.
__all__ = ["Case", "Check", "CheckFailure", "filecheck", "load_cases", "run_case", "run_opt"]


def _all_cases() -> list[Case]:
    return [
        case for path in sorted(FIXTURES.rglob("*.mlir")) for case in load_cases(path, FIXTURES)
    ]


_CASES = _all_cases()


@pytest.mark.parametrize("case", _CASES, ids=[c.id for c in _CASES])
def test_fixture(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path / "reproducer.mlir")


# --- the harness itself ----------------------------------------------------------------------------


def _checks(*lines: str) -> list[Check]:
    out = []
    for i, line in enumerate(lines, 1):
        kind, pattern = line.split(":", 1)
        out.append(Check(kind, pattern.strip(), i))
    return out


OUTPUT = """\
func.func @f(%x: tensor<4xf32>) {
  %0 = "test.add"(%x, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}
func.func @g(%y: tensor<2xi8>) {
  "func.return"(%y) : (tensor<2xi8>) -> ()
}
"""


@pytest.mark.parametrize(
    "lines",
    [
        ("CHECK: @f", "CHECK-NEXT: test.add", "CHECK-SAME: tensor<4xf32>", "CHECK: @g"),
        ("CHECK-LABEL: @f", "CHECK-NOT: i8", "CHECK-LABEL: @g", "CHECK: i8"),
        ("CHECK: %[[V:[0-9]+]] = ", 'CHECK-NEXT: "func.return"(%[[V]])'),
        ('CHECK: test.add"(%x,   %x)',),
        ("CHECK: @f", "CHECK-NOT: test.neg", "CHECK: func.return"),
    ],
)
def test_filecheck_accepts(lines):
    filecheck(OUTPUT, _checks(*lines))


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        (("CHECK: @g", "CHECK: @f"), "'@f' not found"),
        (("CHECK: @f", "CHECK-NEXT: func.return"), "not on the line after"),
        (("CHECK: @f", "CHECK-SAME: test.add"), "not on the same line"),
        (("CHECK-LABEL: @f", "CHECK-NOT: func.return", "CHECK-LABEL: @g"), "found"),
        (("CHECK-LABEL: @f", "CHECK: i8", "CHECK-LABEL: @g"), "not found"),
        (
            ("CHECK: %[[V:[0-9]+]] = ", 'CHECK: "func.return"(%[[V]]', "CHECK: (%[[V]])"),
            "not found",
        ),
    ],
)
def test_filecheck_rejects(lines, why):
    with pytest.raises(CheckFailure, match=re.escape(why)):
        filecheck(OUTPUT, _checks(*lines))
