"""Calibration inside WHILE bodies and IF branches: an instrumented copy of the module carries
each body tensor's running min and max out of the loop, so one LiteRT run per sample gives the
ranges over every iteration (nested loops and conditionals included).

LiteRT's `experimental_preserve_all_tensors` keeps a subgraph's tensors only as they were after
its last execution, so reading a loop body's tensors directly would calibrate on the last
iteration only. Instead, `instrument` builds a calibration-only copy in which

- every tracked float tensor t of a body / branch gets `reshape(t, [-1]) -> reduce_min /
  reduce_max over axis 0` ([1] each), concatenated into one [N] vector of minima and one of
  maxima per function execution (nested WHILE / IF results appended);
- a WHILE carries two extra values, the running minima and maxima (started at +inf / -inf in
  the caller; the body returns `minimum(carried, this iteration's)` and `maximum(...)`; cond
  takes and ignores them), which come out as two extra WHILE results;
- an IF returns its taken branch's vectors, +inf / -inf in the other branch's slots;
- the main function returns the concatenated vectors of its WHILE / IF ops as two extra outputs.

Slots still at +inf / -inf after a run (a loop that ran zero times, a branch not taken) have no
values for that sample. The original module is never changed. A WHILE's cond, and a function
referenced by more than one control-flow op, are not instrumented (their tensors get no range
and their float ops stay float).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.location import Location
from tflconv.core.passes import ModelRunner
from tflconv.core.types import SymbolRef, TensorType

from .common import CONSTANT

CONTROL_FLOW = {
    "tfl.while": ("cond_subgraph_index", "body_subgraph_index"),
    "tfl.if": ("then_subgraph_index", "else_subgraph_index"),
}
"""Control-flow ops and the attributes naming their functions (calibrated by `instrument`)."""

_F32 = TensorType((1,), "f32")
_LOC = Location.name("calibration")


def callees(op: Operation) -> list[str]:
    """The names of the functions a WHILE / IF op runs (cond, body / then, else)."""
    out = []
    for key in CONTROL_FLOW.get(op.name, ()):
        ref = op.attributes.get(key)
        if isinstance(ref, SymbolRef):
            out.append(ref.name)
    return out


def has_control_flow(module: Module) -> bool:
    return any(op.name in CONTROL_FLOW for op in module.walk())


def trackable(v: Value) -> bool:
    """A float activation calibrate gives a range (not a constant)."""
    return v.type.dtype == "f32" and (v.defining_op is None or v.defining_op.name != CONSTANT)


@dataclass
class _Stats:
    """A function execution's minima / maxima vectors ([N] each) and the original values of
    their N slots."""

    keys: list[Value]
    lo: Value
    hi: Value


@dataclass
class LoopProbe:
    """The instrumented copy (`module`), the copy of each original value (`mapping`), and the
    main function's extra outputs: minima / maxima over the run of the original values `keys`."""

    module: Module
    mapping: dict[Value, Value]
    keys: list[Value] = field(default_factory=list)
    lo: Value | None = None
    hi: Value | None = None


class _Instrumenter:
    def __init__(self, module: Module, skip: Collection[Value]) -> None:
        self.skip = skip
        self.mapping: dict[Value, Value] = {}
        self.original: dict[Value, Value] = {}
        functions = []
        for fn in module.functions:
            copy = Function(fn.name, attributes=dict(fn.attributes))
            copy.body = fn.body.clone(self.mapping)
            copy.body.parent = copy
            functions.append(copy)
        self.module = Module(functions, dict(module.attributes))
        self.original = {c: o for o, c in self.mapping.items()}
        refs = Counter(name for op in self.module.walk() for name in callees(op))
        # A function run by several ops (or several times by one: cond == body) would get
        # extra values once per caller: leave such control flow uninstrumented.
        self.shared = {name for name, n in refs.items() if n > 1}
        self.done: set[str] = set()

    # --- building blocks ------------------------------------------------------------------------
    @staticmethod
    def _before(anchor: Operation, name: str, operands: Sequence[Value], shape, attrs=None):
        op = Operation(name, operands, [TensorType(shape, "f32")], attrs or {}, location=_LOC)
        anchor.parent.insert_before(op, anchor)  # type: ignore[union-attr]
        return op.result

    def _const(self, anchor: Operation, array: np.ndarray) -> Value:
        op = constant(array, _LOC)
        anchor.parent.insert_before(op, anchor)  # type: ignore[union-attr]
        return op.result

    def _fill(self, anchor: Operation, n: int, value: float) -> Value:
        return self._const(anchor, np.full((n,), value, np.float32))

    def _concat(self, anchor: Operation, parts: list[Value], n: int) -> Value:
        if len(parts) == 1:
            return parts[0]
        attrs = {"axis": 0, "fused_activation_function": "NONE"}
        return self._before(anchor, "tfl.concatenation", parts, (n,), attrs)

    def _reduce(self, anchor: Operation, v: Value, flat: dict[Value, Value], kind: str) -> Value:
        if v not in flat:
            shape = self._const(anchor, np.array([-1], np.int32))
            flat[v] = self._before(anchor, "tfl.reshape", [v, shape], (v.type.num_elements,))
        axes = self._const(anchor, np.array([0], np.int32))
        return self._before(
            anchor, f"tfl.reduce_{kind}", [flat[v], axes], (1,), {"keep_dims": True}
        )

    # --- functions ------------------------------------------------------------------------------
    def _local(self, fn: Function) -> _Stats | None:
        """Instrument the control flow inside `fn`, then build the stats of one execution of
        `fn`: its own tracked tensors and its control-flow ops' results."""
        ret = fn.return_op
        keys: list[Value] = []
        los: list[Value] = []
        his: list[Value] = []
        flat: dict[Value, Value] = {}
        for op in list(fn.ops):
            if op.name in CONTROL_FLOW:
                nested = self._control(op)
                if nested is not None:
                    keys += nested.keys
                    los.append(nested.lo)
                    his.append(nested.hi)
        # after the nested ops: they were replaced by ops with more results
        own = [
            v
            for v in (*fn.args, *(r for op in fn.ops for r in op.results))
            if trackable(v) and v in self.original and self.original[v] not in self.skip
        ]
        for v in own:
            keys.append(self.original[v])
            los.append(self._reduce(ret, v, flat, "min"))
            his.append(self._reduce(ret, v, flat, "max"))
        if not keys:
            return None
        n = len(keys)
        return _Stats(keys, self._concat(ret, los, n), self._concat(ret, his, n))

    def _control(self, op: Operation) -> _Stats | None:
        """Give a WHILE / IF (in a function already cloned) two extra results: the minima and
        maxima of its functions' tensors over this execution of the op."""
        names = callees(op)
        if len(names) != 2 or any(n in self.shared or n in self.done for n in names):
            return None
        self.done.update(names)
        a, b = (self.module.function(n) for n in names)
        if op.name == "tfl.while":
            return self._while(op, cond=a, body=b)
        return self._if(op, a, b)

    def _while(self, op: Operation, cond: Function, body: Function) -> _Stats | None:
        # the cond is not instrumented: its arguments see nothing the body does not, and it
        # can return nothing but its predicate
        stats = self._local(body)
        if stats is None:
            return None
        n = len(stats.keys)
        vec = TensorType((n,), "f32")
        for fn in (cond, body):
            fn.block.add_arg(vec, "calibration_min")
            fn.block.add_arg(vec, "calibration_max")
        acc_lo, acc_hi = body.args[-2], body.args[-1]
        ret = body.return_op
        lo = self._before(ret, "tfl.minimum", [acc_lo, stats.lo], (n,))
        hi = self._before(ret, "tfl.maximum", [acc_hi, stats.hi], (n,))
        body.set_outputs([*ret.operands, lo, hi])
        start_lo, start_hi = self._fill(op, n, np.inf), self._fill(op, n, -np.inf)
        new = self._replace(op, [*op.operands, start_lo, start_hi], [vec, vec])
        return _Stats(stats.keys, new.results[-2], new.results[-1])

    def _if(self, op: Operation, then: Function, els: Function) -> _Stats | None:
        s_then, s_else = self._local(then), self._local(els)
        if s_then is None and s_else is None:
            return None
        n_then = len(s_then.keys) if s_then else 0
        n_else = len(s_else.keys) if s_else else 0
        n = n_then + n_else
        for fn, stats, before, after in ((then, s_then, 0, n_else), (els, s_else, n_then, 0)):
            ret = fn.return_op
            los, his = [], []
            if before:
                los.append(self._fill(ret, before, np.inf))
                his.append(self._fill(ret, before, -np.inf))
            if stats is not None:
                los.append(stats.lo)
                his.append(stats.hi)
            if after:
                los.append(self._fill(ret, after, np.inf))
                his.append(self._fill(ret, after, -np.inf))
            fn.set_outputs([*ret.operands, self._concat(ret, los, n), self._concat(ret, his, n)])
        vec = TensorType((n,), "f32")
        new = self._replace(op, list(op.operands), [vec, vec])
        keys = (s_then.keys if s_then else []) + (s_else.keys if s_else else [])
        return _Stats(keys, new.results[-2], new.results[-1])

    def _replace(self, op: Operation, operands: list[Value], extra: list[TensorType]) -> Operation:
        """`op` with more operands and results (the old results' uses move to the new op)."""
        new = Operation(
            op.name,
            operands,
            [*(r.type for r in op.results), *extra],
            dict(op.attributes),
            location=op.location,
            result_names=[*(r.name_hint for r in op.results), *(None for _ in extra)],
        )
        op.parent.insert_before(new, op)  # type: ignore[union-attr]
        for old, value in zip(op.results, new.results):
            old.replace_all_uses_with(value)
            original = self.original.pop(old, None)
            if original is not None:
                self.mapping[original] = value
                self.original[value] = original
        op.erase()
        return new

    def run(self) -> LoopProbe:
        main = self.module.functions[0]
        probe = LoopProbe(self.module, self.mapping)
        keys: list[Value] = []
        los: list[Value] = []
        his: list[Value] = []
        ret = main.return_op
        for op in list(main.ops):
            if op.name in CONTROL_FLOW:
                stats = self._control(op)
                if stats is not None:
                    keys += stats.keys
                    los.append(stats.lo)
                    his.append(stats.hi)
        if keys:
            n = len(keys)
            probe.keys, probe.lo, probe.hi = (
                keys,
                self._concat(ret, los, n),
                self._concat(ret, his, n),
            )
            main.set_outputs([*ret.operands, probe.lo, probe.hi])
            names = main.attributes.get("output_names")
            if names:
                main.attributes["output_names"] = [*names, "calibration_min", "calibration_max"]
        return probe


def instrument(module: Module, skip: Collection[Value] = ()) -> LoopProbe:
    """The calibration-only copy of `module` whose main function also returns the minima and
    maxima over each run of the float tensors inside its WHILE / IF functions (not `skip`)."""
    return _Instrumenter(module, skip).run()


class ProbeRun:
    """A `ModelRun` of the instrumented copy, read through the original module's values;
    `loop_ranges()` gives the (min, max) of each loop tensor over the last run."""

    def __init__(self, probe: LoopProbe, runner: ModelRunner, watch: Collection[Value]) -> None:
        self.probe = probe
        watched = [probe.mapping[v] for v in watch if v in probe.mapping]
        if probe.lo is not None and probe.hi is not None:
            watched += [probe.lo, probe.hi]
        self.model = runner(probe.module, watched)

    def run(self, inputs: Sequence[np.ndarray]) -> bool:
        return self.model.run(inputs)

    def tensor(self, value: Value) -> np.ndarray | None:
        copy = self.probe.mapping.get(value)
        return None if copy is None else self.model.tensor(copy)

    def loop_ranges(self) -> list[tuple[Value, float, float]]:
        """(original value, min, max) of each loop tensor that took values in the last run."""
        if self.probe.lo is None or self.probe.hi is None:
            return []
        lo, hi = self.model.tensor(self.probe.lo), self.model.tensor(self.probe.hi)
        if lo is None or hi is None:
            return []
        out = []
        for key, a, b in zip(self.probe.keys, lo.tolist(), hi.tolist()):
            if a <= b or (np.isnan(a) or np.isnan(b)):  # +inf / -inf: no values this run
                out.append((key, a, b))
        return out
