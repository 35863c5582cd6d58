"""Pass instruments (MLIR's set): timing, IR printing, dump directories, statistics, pattern
tracing. Each observes a `PassManager` run through hooks that run stack-like: `before_*` in
order, `after_*` in reverse. Output goes to `stream` (default: stderr at write time).

Verification after each pass and crash reproducers are `PassManager` options, because their
failures belong to the pass (they turn into `PassFailure`).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from .graph_json import graphs_json
from .ir import Module, Operation
from .pass_manager import REPRODUCER_TAG
from .pipeline import format_pipeline
from .resources import ResourceFile
from .rewrite import RewriteListener

if TYPE_CHECKING:
    from .pass_manager import PassManager
    from .passes import Pass, PassContext


class PassInstrument:
    """Base class: override the hooks you need."""

    def before_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None: ...

    def after_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None: ...

    def before_pass(self, p: Pass, index: int, module: Module, ctx: PassContext) -> None: ...

    def after_pass(
        self, p: Pass, index: int, module: Module, ctx: PassContext, changed: bool
    ) -> None: ...

    def after_pass_failed(
        self, p: Pass, index: int, module: Module, ctx: PassContext, exc: BaseException
    ) -> None: ...


class _Output:
    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(text if text.endswith("\n") else text + "\n")


# --- timing --------------------------------------------------------------------------------------


def timing_report(pm: PassManager) -> str:
    """The pass times of the last run, in run order, with their share of the total."""
    total = pm.total_seconds
    lines = [
        "===== Pass execution timing report =====",
        f"  Total execution time: {total:.4f} s",
        f"  {'wall (s)':>10} {'%':>6}   pass",
    ]
    for rec in pm.records:
        pct = 100.0 * rec.seconds / total if total > 0 else 0.0
        lines.append(f"  {rec.seconds:>10.4f} {pct:>5.1f}%   {rec.pass_}")
    lines.append(f"  {total:>10.4f} {100.0 if total > 0 else 0.0:>5.1f}%   total")
    return "\n".join(lines)


class TimePasses(PassInstrument, _Output):
    """`--time-passes`: print the timing table after the pipeline."""

    def __init__(self, stream: TextIO | None = None) -> None:
        _Output.__init__(self, stream)

    def after_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None:
        self.write(timing_report(pm))


# --- IR printing -----------------------------------------------------------------------------------


def _print(module: Module, print_options: dict[str, Any]) -> str:
    from .printer import print_module

    return print_module(module, **print_options)


class PrintIR(PassInstrument, _Output):
    """`--print-ir-before=P,Q`, `--print-ir-after=P,Q`, `--print-ir-after-all`,
    `--print-ir-after-change` (only passes that reported a change)."""

    def __init__(
        self,
        before: set[str] | frozenset[str] = frozenset(),
        after: set[str] | frozenset[str] = frozenset(),
        after_all: bool = False,
        after_change: bool = False,
        print_options: dict[str, Any] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        _Output.__init__(self, stream)
        self.before = set(before)
        self.after = set(after)
        self.after_all = after_all
        self.after_change = after_change
        self.print_options = print_options or {}

    def before_pass(self, p: Pass, index: int, module: Module, ctx: PassContext) -> None:
        if p.name in self.before:
            self.write(f"// ----- IR before {p} -----\n" + _print(module, self.print_options))

    def after_pass(
        self, p: Pass, index: int, module: Module, ctx: PassContext, changed: bool
    ) -> None:
        wanted = self.after_all or p.name in self.after or (self.after_change and changed)
        if wanted:
            self.write(f"// ----- IR after {p} -----\n" + _print(module, self.print_options))


# --- change tracking -----------------------------------------------------------------------------


class ChangeRecorder(RewriteListener):
    """Records the ops a pass inserted or modified through its rewriter, forwarding every
    event to the listener that was installed before."""

    def __init__(self, chained: RewriteListener | None = None) -> None:
        self.chained = chained
        self.inserted: set[Operation] = set()
        self.modified: set[Operation] = set()

    def on_insert(self, op: Operation) -> None:
        self.inserted.add(op)
        if self.chained is not None:
            self.chained.on_insert(op)

    def on_erase(self, op: Operation) -> None:
        self.inserted.discard(op)
        self.modified.discard(op)
        if self.chained is not None:
            self.chained.on_erase(op)

    def on_modify(self, op: Operation) -> None:
        self.modified.add(op)
        if self.chained is not None:
            self.chained.on_modify(op)


def _attr_fingerprint(value: Any) -> Any:
    # Arrays by identity (constants are shared, never edited in place), containers recursively.
    if isinstance(value, (list, tuple)):
        return tuple(_attr_fingerprint(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _attr_fingerprint(v)) for k, v in value.items())
    if isinstance(value, np.ndarray):
        return ("array", id(value))
    return value if isinstance(value, (str, int, float, bytes, type(None))) else repr(value)


def op_fingerprint(op: Operation) -> tuple:
    """What an op looks like: name, operand identities, attributes, result types."""
    return (
        op.name,
        tuple(id(v) for v in op.operands),
        tuple((k, _attr_fingerprint(v)) for k, v in op.attributes.items()),
        tuple(r.type for r in op.results),
    )


def changed_ops(
    before: dict[Operation, tuple], module: Module, recorder: ChangeRecorder | None = None
) -> set[Operation]:
    """Ops of `module` that are new or look different from `before` (op -> fingerprint; the
    dict keeps the old ops alive so ids are not reused), plus the ops the recorder saw
    inserted. Ops the rewriter merely notified (producers of erased ops) are not counted
    unless their fingerprint changed."""
    out: set[Operation] = set()
    for op in module.walk():
        old = before.get(op)
        if old is None or old != op_fingerprint(op):
            out.add(op)
    if recorder is not None:
        out |= {op for op in recorder.inserted if op.parent is not None}
    return out


def fingerprints(module: Module) -> dict[Operation, tuple]:
    return {op: op_fingerprint(op) for op in module.walk()}


# --- dump directory ------------------------------------------------------------------------------


class DumpDir(PassInstrument):
    """`--dump-dir D`: `D/00_input.mlir` + `.dot`, then `D/NN_<pass>.mlir` + `.dot` after each
    pass (ops the pass created or changed outlined in red), `D/NN_<pass>.failed.mlir` + `.dot`
    when a pass fails, `D/pipeline.txt`, and an `.svg` next to each DOT file when Graphviz's
    `dot` program exists. With `graphs=True` (the CLI's default) also a Model Explorer graph
    `D/NN_<pass>.graph.json` (`graph_json.py`: layers as namespaces, changed ops outlined, the
    pass that last changed each op, the ops the pass removed).

    Dumps are complete: large constants go to one shared sidecar, `D/weights.bin` (each distinct
    array once, whatever the number of passes), which the texts' resource sections refer to.
    Each text starts with the rest of the pipeline as a reproducer header, so
    `tflconv opt D/NN_<pass>.mlir -o model.tflite` replays the conversion from that point.
    `weights=False` leaves the data out (`dense_resource<NAME>` placeholders that cannot be
    replayed)."""

    def __init__(
        self,
        directory: str | Path,
        print_options: dict[str, Any] | None = None,
        max_nodes: int | None = 1000,
        svg: bool = True,
        weights: bool = True,
        graphs: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.print_options = dict(print_options or {})
        self.print_options.pop("elide_large", None)
        self.weights = weights
        self.max_nodes = max_nodes
        self.svg = svg
        self._before: dict[Operation, tuple] = {}
        self._recorder: ChangeRecorder | None = None
        self._width = 2
        self._passes: list[Pass] = []
        self._store: Any = None
        self.files: list[Path] = []
        self.steps: list[DumpStep] = []
        self.graphs = graphs
        self._origin: dict[Operation, str] = {}  # op -> the pass that created or last changed it

    def _text(self, module: Module, rest: list[Pass] | None) -> str:
        options = dict(self.print_options, elide_large=not self.weights, tensor_names=True)
        if self.weights:
            options["store"] = self._store.put
        text = _print(module, options)
        if rest is None:
            return text
        head = f'{REPRODUCER_TAG} pipeline="{format_pipeline(rest)}"\n'
        head += "// tflconv dump: `tflconv opt <this file> -o model.tflite` runs the rest\n"
        return head + text

    def _dump(
        self,
        stem: str,
        module: Module,
        highlight: set[Operation],
        rest: list[Pass] | None,
        removed: Counter | None = None,
    ) -> None:
        from .graphviz import render_svg, to_dot

        text_path = self.directory / f"{stem}.mlir"
        text_path.write_text(self._text(module, rest), encoding="utf-8")
        store = self._store
        if store is not None and store.size and store.path not in self.files:
            self.files.append(store.path)
        if self.graphs:
            graph_path = self.directory / f"{stem}.graph.json"
            graph = graphs_json(module, highlight=highlight, origin=self._origin, removed=removed)
            graph_path.write_text(graph, encoding="utf-8")
            self.files.append(graph_path)
        dot = to_dot(
            module,
            highlight=highlight,
            max_nodes=self.max_nodes,
            removed=removed,
            inline_constants=True,
        )
        dot_path = self.directory / f"{stem}.dot"
        dot_path.write_text(dot, encoding="utf-8")
        self.files += [text_path, dot_path]
        self.steps.append(DumpStep(stem, text_path, len(highlight)))
        if self.svg and render_svg(dot, dot_path.with_suffix(".svg")):
            self.files.append(dot_path.with_suffix(".svg"))

    def before_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_stale_dumps()
        self._passes = list(pm.passes)
        self._width = max(2, len(str(len(pm.passes))))
        if self.weights:
            self._store = ResourceFile(self.directory / WEIGHTS_FILE)
        (self.directory / "pipeline.txt").write_text(str(pm) + "\n", encoding="utf-8")
        self._dump("0" * self._width + "_input", module, set(), self._passes)

    def _remove_stale_dumps(self) -> None:
        """Files a previous run left here: the sidecar is rewritten, so their `file:` blobs
        would point at other data (and a stale `12_quantize.mlir` would pass for this run's)."""
        for path in self.directory.iterdir():
            if path.is_file() and (_DUMP_FILE.fullmatch(path.name) or path.name == WEIGHTS_FILE):
                path.unlink()

    def before_pass(self, p: Pass, index: int, module: Module, ctx: PassContext) -> None:
        self._before = fingerprints(module)
        self._recorder = ChangeRecorder(ctx.listener)
        ctx.listener = self._recorder

    def after_pass(
        self, p: Pass, index: int, module: Module, ctx: PassContext, changed: bool
    ) -> None:
        highlight = changed_ops(self._before, module, self._recorder)
        live = set(module.walk())
        removed = Counter(op.name for op in self._before if op not in live)
        for op in highlight:
            self._origin[op] = p.name
        self._before = {}
        self._recorder = None
        rest = self._passes[index + 1 :]
        self._dump(f"{index + 1:0{self._width}d}_{p.name}", module, highlight, rest, removed)

    def after_pass_failed(
        self, p: Pass, index: int, module: Module, ctx: PassContext, exc: BaseException
    ) -> None:
        # The IR as the failing pass left it (MLIR's print-ir-after-failure), best effort:
        # a half-rewritten module may not print, and the pass's own error matters more.
        highlight = changed_ops(self._before, module, self._recorder)
        self._before = {}
        self._recorder = None
        with contextlib.suppress(Exception):
            self._dump(f"{index + 1:0{self._width}d}_{p.name}.failed", module, highlight, None)


_DUMP_FILE = re.compile(r"\d+_[A-Za-z0-9_.-]+\.(mlir|dot|svg|graph\.json)")

WEIGHTS_FILE = "weights.bin"
"""The sidecar of a dump directory's constants (see `core/resources.py`)."""


@dataclass(frozen=True)
class DumpStep:
    """One file of a dump directory: its stem (`03_legalize-tf`), text and changed-op count."""

    stem: str
    path: Path
    changed: int


# --- statistics ----------------------------------------------------------------------------------


class PassStatistics(PassInstrument, _Output):
    """`--pass-statistics`: per pass, the op counts that changed (`tf.Add -1 (1 -> 0)`) and
    the pass's own `ctx.stats` counters; printed after the pipeline (or the failure)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        _Output.__init__(self, stream)
        self._hist: dict[str, int] = {}
        self.sections: list[tuple[str, list[str]]] = []

    def before_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None:
        self.sections = []

    def before_pass(self, p: Pass, index: int, module: Module, ctx: PassContext) -> None:
        self._hist = module.op_histogram()

    def after_pass(
        self, p: Pass, index: int, module: Module, ctx: PassContext, changed: bool
    ) -> None:
        self.sections.append((str(p), self._rows(module, ctx)))

    def _rows(self, module: Module, ctx: PassContext) -> list[str]:
        after = module.op_histogram()
        rows = []
        for name in sorted(set(self._hist) | set(after)):
            a, b = self._hist.get(name, 0), after.get(name, 0)
            if a != b:
                rows.append(f"  {name:<40} {b - a:+6d} ({a} -> {b})")
        for key, n in sorted(ctx.stats.items()):
            rows.append(f"  {key:<40} {n:>6}")
        return rows

    def report(self) -> str:
        lines = ["===== Pass statistics ====="]
        for name, rows in self.sections:
            lines.append(name)
            lines.extend(rows or ["  (no change)"])
        return "\n".join(lines)

    def after_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None:
        self.write(self.report())

    def after_pass_failed(
        self, p: Pass, index: int, module: Module, ctx: PassContext, exc: BaseException
    ) -> None:
        self.sections.append((f"{p} (failed)", self._rows(module, ctx)))
        self.write(self.report())


# --- pattern tracing -----------------------------------------------------------------------------


class TracePatterns(PassInstrument, _Output):
    """`--trace-patterns[=NAME]`: after each pass, one line per pattern attempt (only patterns
    whose name contains NAME) and a table of attempts/successes per pattern in that pass."""

    def __init__(self, only: str | None = None, stream: TextIO | None = None) -> None:
        _Output.__init__(self, stream)
        self.only = only or None
        self._lines = 0
        self._attempts: Counter = Counter()
        self._successes: Counter = Counter()

    def before_pipeline(self, pm: PassManager, module: Module, ctx: PassContext) -> None:
        ctx.tracer.verbose = True
        ctx.tracer.only = self.only

    def before_pass(self, p: Pass, index: int, module: Module, ctx: PassContext) -> None:
        self._lines = len(ctx.tracer.lines)
        self._attempts = Counter(ctx.tracer.attempts)
        self._successes = Counter(ctx.tracer.successes)

    def _report(self, p: Pass, ctx: PassContext) -> None:
        tracer = ctx.tracer
        attempts = tracer.attempts - self._attempts
        successes = tracer.successes - self._successes
        out = [f"// ----- patterns in {p} -----"]
        out += tracer.lines[self._lines :]
        names = [n for n in attempts if self.only is None or self.only in n]
        if names:
            out.append(f"{'pattern':<48} {'tried':>8} {'rewrote':>8}")
            for name in sorted(names, key=lambda n: (-attempts[n], n)):
                out.append(f"{name:<48} {attempts[name]:>8} {successes[name]:>8}")
        else:
            out.append("(no pattern attempts)")
        self.write("\n".join(out))

    def after_pass(
        self, p: Pass, index: int, module: Module, ctx: PassContext, changed: bool
    ) -> None:
        self._report(p, ctx)

    def after_pass_failed(
        self, p: Pass, index: int, module: Module, ctx: PassContext, exc: BaseException
    ) -> None:
        self._report(p, ctx)
