"""FileCheck fixtures for passes: IR text in, `tflconv opt` run on it, CHECK lines on the output.
The harness tflconv's own tests use, for anyone's passes (`python -m tflconv.testing DIR`).

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
  `// -----` lines separate cases; each case runs on its own, with id `file.mlir:<line of the
  case>`. Line numbers in messages are those of the fixture file.
- A case checks the printed output with `// CHECK...` lines (a small FileCheck, below), or
  expects a failure with `// EXPECT-ERROR: <substring of stderr>` (non-zero exit code).
- `// CHECK-STDERR: <pattern>` lines check stderr, in order (e.g. the refusal reasons that
  `--trace-patterns` prints: `// CHECK-STDERR: MyPattern failed: the operand is not a tf.Neg`).

FileCheck subset: CHECK (in order, anywhere after the previous match), CHECK-NEXT (on the
next line), CHECK-SAME (on the same line), CHECK-NOT (not between the surrounding matches),
CHECK-LABEL (splits the output into blocks first; checks stay within their block).
Patterns are substrings; `{{regex}}` embeds a regex, `[[NAME:regex]]` captures, `[[NAME]]`
reuses a capture; runs of spaces match any horizontal whitespace.

This runs `tflconv opt` in process (it is a harness for the command line, like a test suite).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tflconv import cli
from tflconv.core.parser import split_input_file

# --- FileCheck ------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"//\s*(CHECK(?:-NEXT|-NOT|-LABEL|-SAME|-STDERR)?|EXPECT-ERROR):(.*)$")


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
    stderr_checks: list[Check] = field(default_factory=list)
    root: Path | None = None  # ids are relative to it

    @property
    def id(self) -> str:
        path = self.path
        if self.root is not None:
            with contextlib.suppress(ValueError):
                path = path.relative_to(self.root)
        return f"{path}:{self.line}"


def load_cases(path: Path, root: Path | None = None) -> list[Case]:
    """The cases of one fixture file (ids relative to `root`)."""
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
        checks, errors, on_stderr = [], [], []
        for offset, line in enumerate(chunk.splitlines()):
            d = _DIRECTIVE.search(line)
            if d is None:
                continue
            if d.group(1) == "EXPECT-ERROR":
                errors.append(d.group(2).strip())
            elif d.group(1) == "CHECK-STDERR":
                on_stderr.append(Check("CHECK", d.group(2).strip(), start + offset))
            else:
                checks.append(Check(d.group(1), d.group(2).strip(), start + offset))
        text_ = "\n" * (start - 1) + chunk
        cases.append(Case(path, start, text_, args, checks, errors, on_stderr, root))
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
    """Run one case; raises AssertionError (`CheckFailure`) with the reason when it fails."""
    where = str(case.path)
    if not (case.checks or case.errors or case.stderr_checks):  # it would pass checking nothing
        raise CheckFailure(f"{where}:{case.line}: the case has no CHECK or EXPECT-ERROR lines")
    code, out, err = run_opt([*case.args, "--reproducer", str(reproducer)], case.text)
    if case.stderr_checks:
        filecheck(err, case.stderr_checks, where + " (stderr)")
    if case.errors:
        assert code != 0, f"{where}:{case.line}: expected a failure, got:\n{out}"
        for expected in case.errors:
            assert expected in err, f"{where}:{case.line}: {expected!r} not in stderr:\n{err}"
        return
    assert code == 0, f"{where}:{case.line}: tflconv opt failed (exit {code}):\n{err}"
    filecheck(out, case.checks, where)


def collect(paths: list[Path]) -> list[Case]:
    """Every case of the `.mlir` files in `paths` (directories searched recursively)."""
    cases: list[Case] = []
    for path in paths:
        files = sorted(path.rglob("*.mlir")) if path.is_dir() else [path]
        root = path if path.is_dir() else path.parent
        for f in files:
            cases.extend(load_cases(f, root))
    return cases
