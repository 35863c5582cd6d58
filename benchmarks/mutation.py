"""Mutation testing of the core, the .tflite reader/writer and the quantization kernels: how many
plausible one-line bugs does the test suite catch?

A small AST mutator (no third-party tool: mutmut and cosmic-ray want to own the whole test run,
this one runs a fixed, fast test subset per module). Each mutant changes one thing:

- comparison: `<` <-> `<=`, `>` <-> `>=`, `==` <-> `!=`, `is` <-> `is not`, `in` <-> `not in`;
- arithmetic: `+` <-> `-`, `*` -> `/`, `/` and `//` -> `*`, `%` -> `//`, `&` <-> `|`,
  `<<` <-> `>>` (also in `x += ...`);
- boolean: `and` <-> `or`, `not x` -> `x`, `True` <-> `False`;
- off-by-one: an int constant `n` -> `n + 1`;
- `return value` -> `return None`;
- a statement in a function body (call, assignment, `raise`, `if`, `continue`, `break`)
  -> `pass`.

Docstrings, `...`, annotations, f-string messages and lines marked `# pragma: no mutate` are not
mutated. Every mutant runs the module's test subset (`TESTS`) in a subprocess on a private copy
of the checkout (`python -m pytest -x`), with a timeout of 3x the unmutated run (at least
20 s). A mutant is killed when a test fails, survives when all pass. When the budget is
short, each module gets a random sample (`--seed`), taken round-robin so every module gets the
same share; the kill ratio is (killed + timeout) / run.

    PYTHONPATH=. python benchmarks/mutation.py --budget 1800 [--modules reader,verifier]
        [--seed 0] [--jobs 1] [--max-per-module N] [--report survivors.txt] [--list]
        [--only reader:324,347]

Prints a markdown table per module (mutants, killed, survived, timeout, kill ratio) and writes
the survivors (file:line, the mutation) to the report file.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MODULES: dict[str, str] = {
    "ir": "tflconv/core/ir.py",
    "verifier": "tflconv/core/verifier.py",
    "parser": "tflconv/core/parser.py",
    "printer": "tflconv/core/printer.py",
    "rewrite": "tflconv/core/rewrite.py",
    "passes": "tflconv/core/passes.py",
    "pipeline": "tflconv/core/pipeline.py",
    "types": "tflconv/core/types.py",
    "reader": "tflconv/tflite/reader.py",
    "writer": "tflconv/tflite/writer.py",
    "kernels": "tflconv/passes/quantize/kernels.py",
}
"""Module key -> file, relative to the repository."""

TESTS: dict[str, list[str]] = {
    "ir": ["tests/test_ir.py", "tests/test_mutation_killers.py", "tests/test_rewrite.py",
           "tests/test_verifier.py", "tests/test_verifier_branches.py", "tests/test_passes.py"],
    "verifier": ["tests/test_verifier.py", "tests/test_verifier_branches.py"],
    "parser": ["tests/test_text_errors.py", "tests/test_mutation_killers.py", "tests/test_text.py"],
    "printer": ["tests/test_text_errors.py", "tests/test_mutation_killers.py", "tests/test_text.py"],
    "rewrite": ["tests/test_rewrite.py", "tests/test_mutation_killers.py", "tests/test_passes.py"],
    "passes": ["tests/test_passes.py", "tests/test_mutation_killers.py", "tests/test_pipeline.py"],
    "pipeline": ["tests/test_pipeline.py", "tests/test_mutation_killers.py"],
    "types": ["tests/test_mutation_killers.py", "tests/test_ir.py", "tests/test_text_errors.py",
              "tests/test_verifier.py", "tests/test_text.py"],
    "reader": ["tests/test_reader_validation.py", "tests/test_hostile_inputs.py"],
    "writer": ["tests/test_writer.py", "tests/test_reader_validation.py",
               "tests/test_mutation_killers.py"],
    "kernels": ["tests/test_quant_kernels.py", "tests/test_mutation_killers.py"],
}  # fmt: skip
"""Module key -> the fast test subset (seconds) that must catch its mutants. Missing files are
skipped, so the subset can name tests that only exist on some branches."""

COPY = ("tflconv", "tests", "pyproject.toml")
"""What each worker copies (its own checkout, so mutants never touch the real one)."""


# --- mutants ------------------------------------------------------------------------------


@dataclass
class Mutant:
    module: str
    index: int  # position in the deterministic candidate order of the module
    line: int
    description: str

    def where(self) -> str:
        return f"{MODULES[self.module]}:{self.line}"


_COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BINOP_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}  # fmt: skip
_REMOVABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.Raise, ast.If, ast.Continue, ast.Break)

Apply = Callable[[], None]


def _src(node: ast.AST) -> str:
    text = ast.unparse(node).split("\n")[0]
    return text if len(text) <= 90 else text[:87] + "..."


class _Collector:
    """Walks a module in a fixed order and lists (line, description, apply) for every mutation;
    `apply` edits this tree in place. Parsing the same source twice gives the same list, so a
    mutant is identified by its index."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.out: list[tuple[int, str, Apply]] = []

    def skip_line(self, node: ast.AST) -> bool:
        line = getattr(node, "lineno", 0)
        return 0 < line <= len(self.lines) and "pragma: no mutate" in self.lines[line - 1]

    def add(self, node: ast.AST, description: str, apply: Apply) -> None:
        if not self.skip_line(node):
            self.out.append((node.lineno, description, apply))

    def visit(self, node: ast.AST, in_function: bool = False) -> None:
        if isinstance(node, (ast.JoinedStr,)):
            return  # messages
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                self.visit(d, in_function)
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                self.visit(default, in_function)
            self.visit_body(node.body, True)
            return
        if isinstance(node, ast.ClassDef):
            self.visit_body(node.body, False)
            return
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.visit(node.value, in_function)
            return
        self.mutations_of(node)
        for name, value in ast.iter_fields(node):
            if (
                name in ("body", "orelse", "finalbody")
                and isinstance(value, list)
                and value
                and isinstance(value[0], ast.stmt)
            ):
                self.visit_body(value, in_function)
                continue
            if name == "handlers":
                for h in value:
                    self.visit_body(h.body, in_function)
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item, in_function)
            elif isinstance(value, ast.AST):
                self.visit(value, in_function)

    def visit_body(self, body: list[ast.stmt], in_function: bool) -> None:
        for i, stmt in enumerate(body):
            if _is_constant(stmt) or _is_type_checking(stmt) or _is_dunder_all(stmt):
                continue
            if in_function and isinstance(stmt, _REMOVABLE):
                self.add(stmt, f"removed `{_src(stmt)}`", _replace(body, i, stmt))
            self.visit(stmt, in_function)

    def mutations_of(self, node: ast.AST) -> None:
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                swap = _COMPARE_SWAPS.get(type(op))
                if swap is not None:
                    after = copy.deepcopy(node)
                    after.ops[k] = swap()
                    self.add(node, f"`{_src(node)}` -> `{_src(after)}`", _set_op(node.ops, k, swap))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)):
            swap = _BINOP_SWAPS.get(type(node.op))
            if swap is not None:
                after = copy.deepcopy(node)
                after.op = swap()
                self.add(node, f"`{_src(node)}` -> `{_src(after)}`", _set_attr(node, "op", swap))
        elif isinstance(node, ast.BoolOp):
            swap = ast.Or if isinstance(node.op, ast.And) else ast.And
            word = "or" if swap is ast.Or else "and"
            self.add(node, f"`{_src(node)}` -> `... {word} ...`", _set_attr(node, "op", swap))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            self.add(node, f"`{_src(node)}` -> `{_src(node.operand)}`", _unwrap(node))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            self.add(node, f"`{node.value}` -> `{not node.value}`", _const(node, not node.value))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            n = node.value
            self.add(node, f"constant `{n}` -> `{n + 1}`", _const(node, n + 1))
        elif isinstance(node, ast.Return) and not _is_none(node.value):
            self.add(node, f"`{_src(node)}` -> `return None`", _set_attr(node, "value", None))


def _is_none(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _is_constant(stmt: ast.stmt) -> bool:
    """A docstring or `...` (removing it changes nothing)."""
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _is_type_checking(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)


def _is_dunder_all(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets
    )


def _replace(body: list[ast.stmt], i: int, stmt: ast.stmt) -> Apply:
    def apply() -> None:
        body[i] = ast.copy_location(ast.Pass(), stmt)

    return apply


def _set_op(ops: list[ast.cmpop], k: int, swap: type) -> Apply:
    def apply() -> None:
        ops[k] = swap()

    return apply


def _set_attr(node: ast.AST, name: str, swap: type | None) -> Apply:
    def apply() -> None:
        setattr(node, name, swap() if swap is not None else None)

    return apply


def _unwrap(node: ast.UnaryOp) -> Apply:
    def apply() -> None:
        # `not x` -> `not not x` (x as a bool); `-x` -> `+x`
        if isinstance(node.op, ast.USub):
            node.op = ast.UAdd()
        else:
            node.operand = ast.UnaryOp(ast.Not(), node.operand)

    return apply


def _const(node: ast.Constant, value: object) -> Apply:
    def apply() -> None:
        node.value = value

    return apply


def _collect(source: str) -> tuple[ast.Module, list[tuple[int, str, Apply]]]:
    tree = ast.parse(source)
    collector = _Collector(source)
    collector.visit_body(tree.body, False)
    return tree, collector.out


def mutants(module: str) -> list[Mutant]:
    source = (REPO / MODULES[module]).read_text()
    _, found = _collect(source)
    return [Mutant(module, i, line, desc) for i, (line, desc, _) in enumerate(found)]


def mutated_source(module: str, index: int) -> str:
    source = (REPO / MODULES[module]).read_text()
    tree, found = _collect(source)
    found[index][2]()
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# --- running ------------------------------------------------------------------------------


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout
    seconds: float


@dataclass
class Stats:
    run: int = 0
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    total: int = 0
    baseline: float = 0.0
    survivors: list[Mutant] = field(default_factory=list)

    def ratio(self) -> float:
        return (self.killed + self.timeout) / self.run if self.run else float("nan")


class Worker:
    """A private copy of the checkout to put mutants into."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in COPY:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(
                    src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(src, root / name)

    def pytest(self, tests: list[str], timeout: float) -> tuple[str, float]:
        env = dict(os.environ, PYTHONPATH=str(self.root), PYTHONDONTWRITEBYTECODE="1")
        env["HYPOTHESIS_PROFILE"] = "mutation"  # see tests/conftest.py: few examples
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header"]
        cmd += ["-W", "ignore"] + tests
        start = time.monotonic()
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - start
        elapsed = time.monotonic() - start
        if proc.returncode == 0:
            return "survived", elapsed
        if proc.returncode == 5:  # no tests collected: treat as a broken setup
            raise RuntimeError(f"no tests collected by {tests}")
        return "killed", elapsed

    def run(self, mutant: Mutant, tests: list[str], timeout: float) -> Outcome:
        path = self.root / MODULES[mutant.module]
        original = path.read_text()
        path.write_text(mutated_source(mutant.module, mutant.index))
        try:
            status, seconds = self.pytest(tests, timeout)
        finally:
            path.write_text(original)
        return Outcome(mutant, status, seconds)


def tests_for(module: str) -> list[str]:
    return [t for t in TESTS[module] if (REPO / t).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds for the mutants")
    parser.add_argument("--modules", default=",".join(MODULES), help="comma-separated keys")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--max-per-module", type=int, default=0, help="0: no limit")
    parser.add_argument(
        "--report", default=str(Path(tempfile.gettempdir()) / "tflconv-mutation-survivors.txt")
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument(
        "--only", default="", help="run just these mutants: MODULE:INDEX[,INDEX...] (from --list)"
    )
    args = parser.parse_args(argv)

    keys = [k.strip() for k in args.modules.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {', '.join(MODULES)}")
    only: dict[str, set[int]] = {}
    if args.only:
        module, _, indices = args.only.partition(":")
        if module not in MODULES:
            parser.error(f"--only: unknown module {module!r}")
        keys, only[module] = [module], {int(i) for i in indices.split(",") if i}
    rng = random.Random(args.seed)
    pools: dict[str, list[Mutant]] = {}
    stats = {k: Stats() for k in keys}
    for k in keys:
        found = mutants(k)
        stats[k].total = len(found)
        if k in only:
            found = [m for m in found if m.index in only[k]]
        rng.shuffle(found)
        if args.max_per_module:
            found = found[: args.max_per_module]
        pools[k] = found
    if args.list:
        for k in keys:
            for m in sorted(pools[k], key=lambda m: m.index):
                print(f"{m.where()}  #{m.index}  {m.description}")
        return 0

    with tempfile.TemporaryDirectory(prefix="tflconv-mutation-") as tmp:
        workers: queue.Queue[Worker] = queue.Queue()
        for j in range(max(1, args.jobs)):
            workers.put(Worker(Path(tmp) / f"w{j}"))
        timeouts: dict[str, float] = {}
        probe = workers.get()
        for k in keys:
            status, seconds = probe.pytest(tests_for(k), timeout=600)
            if status != "survived":
                print(f"{k}: the unmutated test subset fails ({status}); skipped", file=sys.stderr)
                pools[k] = []
                continue
            stats[k].baseline = seconds
            timeouts[k] = max(20.0, 3 * seconds)
            print(f"{k}: {stats[k].total} mutants, tests {seconds:.1f}s", file=sys.stderr)
        workers.put(probe)

        # round-robin over modules, so a short budget samples every module alike
        order: list[Mutant] = []
        while any(pools.values()):
            for k in keys:
                if pools[k]:
                    order.append(pools[k].pop())
        deadline = time.monotonic() + args.budget
        lock = threading.Lock()
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        live = report.with_name(report.name + ".live")  # survivors as they are found
        live.write_text("")
        todo = iter(order)

        stop = threading.Event()

        def loop() -> None:
            while time.monotonic() < deadline and not stop.is_set():
                with lock:
                    mutant = next(todo, None)
                if mutant is None:
                    return
                worker = workers.get()
                try:
                    out = worker.run(mutant, tests_for(mutant.module), timeouts[mutant.module])
                finally:
                    workers.put(worker)
                with lock:
                    s = stats[mutant.module]
                    s.run += 1
                    setattr(s, out.status, getattr(s, out.status) + 1)
                    if out.status == "survived":
                        s.survivors.append(mutant)
                        with live.open("a") as f:
                            f.write(f"{mutant.where()}  #{mutant.index}  {mutant.description}\n")
                    mark = {"killed": ".", "survived": "S", "timeout": "T"}[out.status]
                    print(mark, end="", flush=True, file=sys.stderr)

        threads = [threading.Thread(target=loop) for _ in range(max(1, args.jobs))]
        for t in threads:
            t.start()
        # Ctrl-C / SIGTERM: finish the mutants under way (their files are restored), then
        # print the table of what ran.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while any(t.is_alive() for t in threads):
                time.sleep(0.5)
        except KeyboardInterrupt:
            stop.set()
            print("\ninterrupted: finishing the mutants under way", file=sys.stderr)
            for t in threads:
                t.join()
        print(file=sys.stderr)

    print(table(keys, stats))
    write_report(Path(args.report), keys, stats)
    print(f"\nsurvivors: {args.report}")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def table(keys: list[str], stats: dict[str, Stats]) -> str:
    rows = [
        "| module | mutants (of) | killed | survived | timeout | kill ratio | tests (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    all_run = all_dead = 0
    for k in keys:
        s = stats[k]
        all_run += s.run
        all_dead += s.killed + s.timeout
        rows.append(
            f"| {k} | {s.run} ({s.total}) | {s.killed} | {s.survived} | {s.timeout} "
            f"| {_pct(s.ratio())} | {s.baseline:.1f} |"
        )
    total = all_dead / all_run if all_run else float("nan")
    rows.append(f"| **all** | {all_run} | {all_dead} (killed + timeout) | | | {_pct(total)} | |")
    return "\n".join(rows)


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f} %"


def write_report(path: Path, keys: list[str], stats: dict[str, Stats]) -> None:
    lines = []
    for k in keys:
        for m in sorted(stats[k].survivors, key=lambda m: m.line):
            lines.append(f"{m.where()}  #{m.index}  {m.description}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""))


if __name__ == "__main__":
    sys.exit(main())
