"""Calibration inside WHILE bodies and IF branches: an instrumented copy of the module carries
each body tensor's running min and max out of the loop, so one LiteRT run per sample gives the
ranges over every iteration (nested loops and conditionals included).

LiteRT's `experimental_preserve_all_tensors` keeps a subgraph's tensors only as they were after
its last execution, so reading a loop body's tensors directly would calibrate on the last
iteration only. Instead, `instrument` builds a calibration-only copy in which

- every tracked float tensor t of a body / branch gets `reshape(t, [-1]) -> reduce_min /
  reduce_max over axis 0` ([1] each), concatenated into one [N] vector of minima and one of
  maxima per function execution (nested WHILE / IF results appended);
- a WHILE carries the running minima and maxima as extra values (started at +inf / -inf in
  the caller; the body returns `minimum(carried, this iteration's)` and `maximum(...)`; cond
  takes and ignores them), which come out as extra WHILE results;
- an IF returns its taken branch's vectors, +inf / -inf in the other branch's slots;
- each fully-connected op with a static input gets the sum of its input rows and their count
  (a third vector, combined with `add`, zeros where nothing ran): bias correction's mean input;
- the main function returns the concatenated vectors of its WHILE / IF ops as extra outputs.

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
from tflconv.dialects.tfl_traits import AFFINE

from .bias_correction import CORRECTED
from .common import CONSTANT, const_array

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


CHANNELS = {
    "min": ("tfl.minimum", np.inf),
    "max": ("tfl.maximum", -np.inf),
    "sum": ("tfl.add", 0.0),
}
"""The statistics vectors a function execution yields: how two executions combine, and the
value of a slot nothing wrote (a loop not run, a branch not taken)."""


@dataclass
class _Stats:
    """A function execution's statistics vectors: minima and maxima ([N] each) of the original
    values `keys`; and, for each fully-connected op in `means` with input width C, C + 1 slots
    of the "sum" vector: the sum of its input rows and their count (bias correction's mean
    input)."""

    keys: list[Value]
    means: list[tuple[Operation, int]]
    vec: dict[str, Value]

    def size(self, channel: str) -> int:
        if channel == "sum":
            return sum(c + 1 for _, c in self.means)
        return len(self.keys)


@dataclass
class LoopProbe:
    """The instrumented copy (`module`), the copy of each original value (`mapping`), and the
    main function's extra outputs (`vec`, by channel): minima / maxima over the run of the
    original values `keys`, input sums and row counts of the original ops `means`."""

    module: Module
    mapping: dict[Value, Value]
    keys: list[Value] = field(default_factory=list)
    means: list[tuple[Operation, int]] = field(default_factory=list)
    vec: dict[str, Value] = field(default_factory=dict)


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
    def _row_sum(self, anchor: Operation, op: Operation) -> tuple[Value, int] | None:
        """[C + 1]: the sum of a fully-connected op's input rows and their number, if its input
        is static and its weights constant (as `calibrate` records for the main function)."""
        if op.name not in CORRECTED or op.num_operands < 2 or AFFINE[op.name].patch != "channels":
            return None
        x = op.operands[0]
        n = x.type.num_elements
        if not trackable(x) or const_array(op.operands[1]) is None or not n or not x.type.shape:
            return None
        c = x.type.shape[-1]
        assert c is not None  # static: num_elements is known
        shape = self._const(anchor, np.array([-1, c], np.int32))
        rows = self._before(anchor, "tfl.reshape", [x, shape], (n // c, c))
        axes = self._const(anchor, np.array([0], np.int32))
        total = self._before(anchor, "tfl.sum", [rows, axes], (c,), {"keep_dims": False})
        count = self._const(anchor, np.array([n // c], np.float32))
        attrs = {"axis": 0, "fused_activation_function": "NONE"}
        return self._before(anchor, "tfl.concatenation", [total, count], (c + 1,), attrs), c

    def _local(self, fn: Function) -> _Stats | None:
        """Instrument the control flow inside `fn`, then build the stats of one execution of
        `fn`: its own tracked tensors and its control-flow ops' results."""
        ret = fn.return_op
        keys: list[Value] = []
        means: list[tuple[Operation, int]] = []
        pieces: dict[str, list[Value]] = {ch: [] for ch in CHANNELS}
        flat: dict[Value, Value] = {}
        for op in list(fn.ops):
            if op.name in CONTROL_FLOW:
                nested = self._control(op)
                if nested is not None:
                    keys += nested.keys
                    means += nested.means
                    for ch, v in nested.vec.items():
                        pieces[ch].append(v)
        # after the nested ops: they were replaced by ops with more results
        own = [
            v
            for v in (*fn.args, *(r for op in fn.ops for r in op.results))
            if trackable(v) and v in self.original and self.original[v] not in self.skip
        ]
        for v in own:
            keys.append(self.original[v])
            pieces["min"].append(self._reduce(ret, v, flat, "min"))
            pieces["max"].append(self._reduce(ret, v, flat, "max"))
        for op in list(fn.ops):
            original = self.original.get(op.results[0]) if op.results else None
            row_sum = self._row_sum(ret, op) if original is not None else None
            if row_sum is not None:
                means.append((original.defining_op, row_sum[1]))  # type: ignore[arg-type]
                pieces["sum"].append(row_sum[0])
        stats = _Stats(keys, means, {})
        for ch, parts in pieces.items():
            if parts:
                stats.vec[ch] = self._concat(ret, parts, stats.size(ch))
        return stats if stats.vec else None

    def _control(self, op: Operation) -> _Stats | None:
        """Give a WHILE / IF (in a function already cloned) extra results: the statistics of
        its functions' tensors over this execution of the op."""
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
        ret = body.return_op
        outs, starts, types = [], [], []
        for ch, v in stats.vec.items():
            combine, identity = CHANNELS[ch]
            n = stats.size(ch)
            vec = TensorType((n,), "f32")
            cond.block.add_arg(vec, f"calibration_{ch}")
            acc = body.block.add_arg(vec, f"calibration_{ch}")
            outs.append(self._before(ret, combine, [acc, v], (n,)))
            starts.append(self._fill(op, n, identity))
            types.append(vec)
        body.set_outputs([*ret.operands, *outs])
        new = self._replace(op, [*op.operands, *starts], types)
        extra = new.results[len(new.results) - len(types) :]
        return _Stats(stats.keys, stats.means, dict(zip(stats.vec, extra)))

    def _if(self, op: Operation, then: Function, els: Function) -> _Stats | None:
        s_then, s_else = self._local(then), self._local(els)
        if s_then is None and s_else is None:
            return None
        keys = (s_then.keys if s_then else []) + (s_else.keys if s_else else [])
        means = (s_then.means if s_then else []) + (s_else.means if s_else else [])
        merged = _Stats(keys, means, {})
        channels = [ch for ch in CHANNELS if merged.size(ch)]
        for fn, stats, other in ((then, s_then, s_else), (els, s_else, s_then)):
            ret = fn.return_op
            outs = []
            for ch in channels:
                identity = CHANNELS[ch][1]
                mine = stats.size(ch) if stats else 0
                theirs = other.size(ch) if other else 0
                parts = [stats.vec[ch]] if mine else []
                if theirs:  # the other branch's slots: after ours in then, before in else
                    filler = self._fill(ret, theirs, identity)
                    parts = [*parts, filler] if fn is then else [filler, *parts]
                outs.append(self._concat(ret, parts, mine + theirs))
            fn.set_outputs([*ret.operands, *outs])
        types = [TensorType((merged.size(ch),), "f32") for ch in channels]
        new = self._replace(op, list(op.operands), types)
        extra = new.results[len(new.results) - len(types) :]
        merged.vec = dict(zip(channels, extra))
        return merged

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
        pieces: dict[str, list[Value]] = {ch: [] for ch in CHANNELS}
        ret = main.return_op
        for op in list(main.ops):
            if op.name in CONTROL_FLOW:
                stats = self._control(op)
                if stats is not None:
                    probe.keys += stats.keys
                    probe.means += stats.means
                    for ch, v in stats.vec.items():
                        pieces[ch].append(v)
        total = _Stats(probe.keys, probe.means, {})
        for ch, parts in pieces.items():
            if parts:
                probe.vec[ch] = self._concat(ret, parts, total.size(ch))
        if probe.vec:
            main.set_outputs([*ret.operands, *probe.vec.values()])
            names = main.attributes.get("output_names")
            if names:
                extra = [f"calibration_{ch}" for ch in probe.vec]
                main.attributes["output_names"] = [*names, *extra]
        return probe


def instrument(module: Module, skip: Collection[Value] = ()) -> LoopProbe:
    """The calibration-only copy of `module` whose main function also returns the minima and
    maxima over each run of the float tensors inside its WHILE / IF functions (not `skip`)."""
    return _Instrumenter(module, skip).run()


class ProbeRun:
    """A `ModelRun` of the instrumented copy, read through the original module's values;
    `loop_ranges()` gives the (min, max) of each loop tensor over the last run, `loop_means()`
    the mean input of each fully-connected op inside a loop."""

    def __init__(self, probe: LoopProbe, runner: ModelRunner, watch: Collection[Value]) -> None:
        self.probe = probe
        watched = [probe.mapping[v] for v in watch if v in probe.mapping]
        self.model = runner(probe.module, [*watched, *probe.vec.values()])

    def run(self, inputs: Sequence[np.ndarray]) -> bool:
        return self.model.run(inputs)

    def tensor(self, value: Value) -> np.ndarray | None:
        copy = self.probe.mapping.get(value)
        return None if copy is None else self.model.tensor(copy)

    def _vec(self, channel: str) -> np.ndarray | None:
        v = self.probe.vec.get(channel)
        return None if v is None else self.model.tensor(v)

    def loop_ranges(self) -> list[tuple[Value, float, float]]:
        """(original value, min, max) of each loop tensor that took values in the last run."""
        lo, hi = self._vec("min"), self._vec("max")
        if lo is None or hi is None:
            return []
        out = []
        for key, a, b in zip(self.probe.keys, lo.tolist(), hi.tolist()):
            if a <= b or (np.isnan(a) or np.isnan(b)):  # +inf / -inf: no values this run
                out.append((key, a, b))
        return out

    def loop_means(self) -> list[tuple[Operation, np.ndarray, int]]:
        """(original op, mean input row, rows) of each loop fully-connected op that ran."""
        sums = self._vec("sum")
        if sums is None:
            return []
        out, at = [], 0
        for op, c in self.probe.means:
            total, rows = sums[at : at + c].astype(np.float64), int(sums[at + c])
            at += c + 1
            if rows > 0:
                out.append((op, total / rows, rows))
        return out
