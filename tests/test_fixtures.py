"""IR-text fixtures: every `tests/fixtures/**/*.mlir` case runs through `tflconv opt`.

Fixture format:

    // RUN: -p "canonicalize,cse" --split-input-file
    // CHECK-LABEL: func.func @f
    // CHECK: "test.add"(%x, %{{.*}})
    // CHECK-NOT: "test.neg"
    module { ... }
    // -----
    // EXPECT-ERROR: pass 'canonicalize' failed
    module { ... }

- The first line holds the `tflconv opt` arguments (shell quoting). With `--split-input-file`,
  `// -----` lines separate cases; each case runs on its own and is one pytest test, with id
  `file.mlir:<line of the case>`. Line numbers in messages are those of the fixture file.
- A case checks the printed output with `// CHECK...` lines (a small FileCheck, below), or
  expects a failure with `// EXPECT-ERROR: <substring of stderr>` (non-zero exit code).

FileCheck subset: CHECK (in order, anywhere after the previous match), CHECK-NEXT (on the
next line), CHECK-SAME (on the same line), CHECK-NOT (not between the surrounding matches),
CHECK-LABEL (splits the output into blocks first; checks stay within their block).
Patterns are substrings; `{{regex}}` embeds a regex, `[[NAME:regex]]` captures, `[[NAME]]`
reuses a capture; runs of spaces match any horizontal whitespace.

The `test` dialect declared here (pure generic ops, `test.add` with a folder, a `test.neg`
canonicalization) lets fixtures exercise the generic passes without TF ops.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tflconv import cli
from tflconv.core.opdef import COMMUTATIVE, PURE, Dialect, OpDef, declare_dialect, declare_op
from tflconv.core.passes import register_canonicalization
from tflconv.core.rewrite import RewritePattern

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

# --- FileCheck ------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"//\s*(CHECK(?:-NEXT|-NOT|-LABEL|-SAME)?|EXPECT-ERROR):(.*)$")


@dataclass
class Check:
    kind: str  # CHECK, CHECK-NEXT, CHECK-NOT, CHECK-LABEL, CHECK-SAME
    pattern: str
    line: int  # in the fixture file


class CheckFailure(AssertionError):
    pass


def _compile(pattern: str, variables: dict[str, str]) -> re.Pattern:
    parts = []
    pos = 0
    token = re.compile(r"\{\{(.*?)\}\}|\[\[([A-Za-z_]\w*)(?::(.*?))?\]\]")
    for m in token.finditer(pattern):
        parts.append(_literal(pattern[pos : m.start()]))
        if m.group(1) is not None:
            parts.append(f"(?:{m.group(1)})")
        elif m.group(3) is not None:
            parts.append(f"(?P<{m.group(2)}>{m.group(3)})")
        else:
            if m.group(2) not in variables:
                raise CheckFailure(f"[[{m.group(2)}]] is used before it is captured")
            parts.append(re.escape(variables[m.group(2)]))
        pos = m.end()
    parts.append(_literal(pattern[pos:]))
    return re.compile("".join(parts))


def _literal(text: str) -> str:
    return r"[ \t]+".join(re.escape(chunk) for chunk in re.split(r"[ \t]+", text))


def _numbered(text: str) -> str:
    return "\n".join(f"{i:>4}: {line}" for i, line in enumerate(text.splitlines(), 1))


def filecheck(output: str, checks: list[Check], where: str = "") -> None:
    """Assert that `output` satisfies `checks` (FileCheck semantics, see the module doc)."""
    variables: dict[str, str] = {}

    def fail(check: Check, why: str) -> None:
        raise CheckFailure(
            f"{where}:{check.line}: {check.kind}: {check.pattern!r} {why}\n"
            f"--- output ---\n{_numbered(output)}"
        )

    def search(check: Check, start: int, end: int) -> re.Match | None:
        return _compile(check.pattern, variables).search(output, start, end)

    # Labels first: they cut the output into blocks.
    bounds: list[tuple[int, int]] = []  # (start, end) of each block
    groups: list[list[Check]] = [[]]
    pos = 0
    for check in checks:
        if check.kind == "CHECK-LABEL":
            m = search(check, pos, len(output))
            if m is None:
                fail(check, "not found")
            bounds.append((m.start(), m.end()))
            variables.update({k: v for k, v in m.groupdict().items() if v is not None})
            pos = m.end()
            groups.append([])
        else:
            groups[-1].append(check)
    starts = [0] + [end for _, end in bounds]
    ends = [start for start, _ in bounds] + [len(output)]
    # The checks before the first label may look at the whole output if there are no labels.
    for index, (group, start, end) in enumerate(zip(groups, starts, ends)):
        # After a label, CHECK-NEXT refers to the label's line.
        pos, last_line_end, nots = start, (start if index else None), []
        for check in group:
            if check.kind == "CHECK-NOT":
                nots.append(check)
                continue
            m = search(check, pos, end)
            if m is None:
                fail(check, "not found")
            between = output[pos : m.start()]
            if check.kind == "CHECK-NEXT" and (last_line_end is None or between.count("\n") != 1):
                fail(check, f"not on the line after the previous match (found at {m.group()!r})")
            if check.kind == "CHECK-SAME" and "\n" in between:
                fail(check, "not on the same line as the previous match")
            for neg in nots:
                hit = search(neg, pos, m.start())
                if hit is not None:
                    fail(neg, f"found: {hit.group()!r}")
            nots = []
            variables.update({k: v for k, v in m.groupdict().items() if v is not None})
            pos = m.end()
            last_line_end = pos
        for neg in nots:
            hit = search(neg, pos, end)
            if hit is not None:
                fail(neg, f"found: {hit.group()!r}")


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    path: Path
    line: int  # first line of the case in the file
    text: str  # padded with newlines so line numbers match the file
    args: list[str]
    checks: list[Check]
    errors: list[str]

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(FIXTURES)}:{self.line}"


def load_cases(path: Path) -> list[Case]:
    from tflconv.core.parser import split_input_file

    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text else ""
    m = re.match(r"//\s*RUN:(.*)$", first)
    if m is None:
        raise ValueError(f"{path}: the first line must be `// RUN: <tflconv opt arguments>`")
    args = shlex.split(m.group(1))
    split = "--split-input-file" in args
    args = [a for a in args if a != "--split-input-file"]
    chunks = split_input_file(text) if split else [(text, 1)]
    cases = []
    for chunk, start in chunks:
        checks, errors = [], []
        for offset, line in enumerate(chunk.splitlines()):
            d = _DIRECTIVE.search(line)
            if d is None:
                continue
            if d.group(1) == "EXPECT-ERROR":
                errors.append(d.group(2).strip())
            else:
                checks.append(Check(d.group(1), d.group(2).strip(), start + offset))
        cases.append(Case(path, start, "\n" * (start - 1) + chunk, args, checks, errors))
    return cases


def run_opt(args: list[str], stdin: str) -> tuple[int, str, str]:
    """Run `tflconv opt - <args>` in process with `stdin`; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["opt", "-", *args])
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def run_case(case: Case, reproducer: Path) -> None:
    code, out, err = run_opt([*case.args, "--reproducer", str(reproducer)], case.text)
    where = str(case.path)
    if case.errors:
        assert code != 0, f"{where}:{case.line}: expected a failure, got:\n{out}"
        for expected in case.errors:
            assert expected in err, f"{where}:{case.line}: {expected!r} not in stderr:\n{err}"
        return
    assert code == 0, f"{where}:{case.line}: tflconv opt failed (exit {code}):\n{err}"
    filecheck(out, case.checks, where)


def _all_cases() -> list[Case]:
    return [case for path in sorted(FIXTURES.rglob("*.mlir")) for case in load_cases(path)]


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
