"""Quantization across WHILE / IF boundaries: which values must share one scale, and with
which range.

A loop-carried value is one tensor in LiteRT seen from five places: the WHILE operand, the cond
and body arguments, the body result and the WHILE result (an IF: its operand and both branches'
arguments; its result and both branches' results). LiteRT's WHILE / IF kernels copy tensors of
any type without requantizing, so all five must have the same parameters. `loop_boundary` groups
them (union-find over the callee arguments and control-flow results: a function run by two ops
joins their groups), takes the union of the members' calibrated ranges (constants count with
their own min/max) and writes that range on every member's type. A group fed by a fixed-range
result (the tanh / logistic state of a SimpleRNN or GRU, directly or through a reshape) takes
that op's required parameters instead, when the union range fits in them: the body then returns
the op's result as it is, with no requantize per iteration.

`prepare-quantize` then gives each group one set of parameters: the arguments and control-flow
results are fixed to them, and a value reaching a WHILE / IF operand or a body / branch result
with other parameters (or in float) gets a (re)quantize there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.types import SymbolRef
from tflconv.dialects.tfl_traits import FIXED_OUTPUT, SAME_SCALE

from . import kernels
from .calibrate_loops import CONTROL_FLOW
from .common import QP, calibrated_range, const_array, is_float, with_range

Slot = tuple[Operation, int]
"""An operand of a control-flow op or of a callee's func.return."""
Spec = tuple[float, float] | QP
"""What a carried group's parameters come from: its union range, or given parameters."""


@dataclass
class LoopBoundary:
    fixed: dict[Value, Spec] = field(default_factory=dict)
    """Callee arguments and control-flow results: their parameters come from this range."""
    uses: dict[Slot, Spec] = field(default_factory=dict)
    """Operands that must carry the parameters of this range (WHILE / IF operands, callee
    results)."""
    float_slots: dict[Operation, str] = field(default_factory=dict)
    """Control-flow ops that still carry float values, and why."""

    def fixed_in(self, fn: Function) -> dict[Value, Spec]:
        values = set(fn.args) | {r for op in fn.ops for r in op.results}
        return {v: r for v, r in self.fixed.items() if v in values}

    def uses_in(self, fn: Function) -> dict[Slot, Spec]:
        ops = set(fn.ops)
        return {s: r for s, r in self.uses.items() if s[0] in ops}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Value, Value] = {}

    def find(self, v: Value) -> Value:
        self.parent.setdefault(v, v)
        while self.parent[v] is not v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def union(self, values: list[Value]) -> None:
        root = self.find(values[0])
        for v in values[1:]:
            other = self.find(v)
            if other is not root:
                self.parent[other] = root


def _function(module: Module, op: Operation, key: str) -> Function | None:
    ref = op.attributes.get(key)
    if not isinstance(ref, SymbolRef):
        return None
    try:
        return module.function(ref.name)
    except KeyError:
        return None


_Carried = tuple[list[Value], list[Value], list[Slot], list[Value]]


def _slots(module: Module, op: Operation) -> list[_Carried] | None:
    """Each carried tensor of a WHILE / IF: its values, those defined by the boundary (callee
    arguments, the op's result), the operand slots that pass it on, and the values calibration
    must have seen (all but a cond's arguments, which see nothing the body does not, and the
    op's results, which may be unused)."""
    a, b = (_function(module, op, key) for key in CONTROL_FLOW[op.name])
    if a is None or b is None:
        return None
    out = []
    if op.name == "tfl.while":
        cond, body = a, b
        ret = body.return_op
        for i, (x, r) in enumerate(zip(op.operands, op.results)):
            if i >= len(cond.args) or i >= len(body.args) or i >= ret.num_operands:
                return None
            fixed = [cond.args[i], body.args[i], r]
            seen = [x, body.args[i], ret.operands[i]]
            out.append(([x, ret.operands[i], *fixed], fixed, [(op, i), (ret, i)], seen))
        return out
    then, els = a, b
    for i, x in enumerate(op.operands[1:]):
        if i >= len(then.args) or i >= len(els.args):
            return None
        fixed = [then.args[i], els.args[i]]
        out.append(([x, *fixed], fixed, [(op, i + 1)], [x, *fixed]))
    rets = (then.return_op, els.return_op)
    for j, r in enumerate(op.results):
        if any(j >= ret.num_operands for ret in rets):
            return None
        returned = [ret.operands[j] for ret in rets]
        out.append(([r, *returned], [r], [(ret, j) for ret in rets], returned))
    return out


def _range_of(v: Value) -> tuple[float, float] | None:
    arr = const_array(v)
    if arr is not None:
        lo, hi, _ = kernels.minmax(np.asarray(arr, np.float32))
        return (float(lo), float(hi)) if lo <= hi else None
    r = calibrated_range(v)
    return r if r is not None and r[0] <= r[1] else None


def _fixed_source(v: Value, dtype: str) -> tuple[float, int] | None:
    """The required (scale, zero point) of the fixed-range op `v` comes from, through
    single-operand same-scale ops (reshape, squeeze, ...)."""
    for _ in range(16):
        op = v.defining_op
        if op is None:
            return None
        fixed = FIXED_OUTPUT.get(op.name, {}).get(dtype)
        if fixed is not None:
            return fixed
        floats = [x for x in op.operands if is_float(x) and const_array(x) is None]
        if op.name not in SAME_SCALE or len(floats) != 1:
            return None
        v = floats[0]
    return None


def _given_params(values: list[Value], r: tuple[float, float], dtype: str) -> QP | None:
    """The parameters of the fixed-range op feeding the group, if they hold its range."""
    found = {f for f in (_fixed_source(v, dtype) for v in values) if f is not None}
    if len(found) != 1:
        return None
    scale, zp = found.pop()
    info = np.iinfo(np.int8 if dtype == "i8" else np.int16)
    lo, hi = (info.min - zp) * scale, (info.max - zp) * scale
    if not (lo - scale <= r[0] and r[1] <= hi + scale):  # a saturated 1.0 rounds to hi
        return None
    return QP(float(np.float32(scale)), int(zp))


def loop_boundary(
    module: Module, dtype: str = "i8", keep_float: Callable[[Operation], bool] | None = None
) -> LoopBoundary:
    """Group the values each WHILE / IF carries, put the union of their ranges on every member
    and say which values are fixed to it and which operands must carry it. A control-flow op
    `keep_float` matches carries float values (its callees' ops may still be quantized)."""
    groups = _UnionFind()
    carried: list[tuple[Operation, _Carried]] = []
    out = LoopBoundary()
    for op in module.walk():
        if op.name not in CONTROL_FLOW:
            continue
        if keep_float is not None and keep_float(op):
            out.float_slots[op] = "kept float (keep-float)"
            continue
        slots = _slots(module, op)
        if slots is None:
            continue
        for values, fixed, uses, seen in slots:
            # only float tensors are quantized (i32 counters, bool predicates stay)
            if all(is_float(v) for v in values):
                # Only the values the boundary defines must be one tensor type (a callee run
                # by two ops joins their groups); an operand or a returned value is converted
                # at its slot if needed, so one zero constant starting both h and c of an
                # LSTM does not tie their scales.
                groups.union(fixed)
                carried.append((op, (values, fixed, uses, seen)))
    found: dict[Value, list[tuple[float, float]]] = {}
    calibrated: set[Value] = set()
    owners: dict[Value, set[Value]] = {}  # value -> the groups it is a member of
    members: dict[Value, list[Value]] = {}
    blind: set[Value] = set()  # groups with a value calibration did not see
    for _, (values, fixed, _, seen) in carried:
        root = groups.find(fixed[0])
        members.setdefault(root, []).extend(values)
        if any(_range_of(v) is None for v in seen):
            blind.add(root)
        for v in values:
            r = _range_of(v)
            if r is not None:
                found.setdefault(root, []).append(r)
                if const_array(v) is None:
                    calibrated.add(root)
            owners.setdefault(v, set()).add(root)
    # a group without any calibrated member (constants only, or no range) stays float, and so
    # does one with a value calibration did not see (a branch never taken, a loop whose body
    # was not instrumented): its range would miss what that value carries
    union = {
        root: (min(r[0] for r in rs), max(r[1] for r in rs))
        for root, rs in found.items()
        if root in calibrated and root not in blind
    }
    spec: dict[Value, Spec] = {}
    for root, r in union.items():
        given = _given_params(members[root], r, dtype)
        spec[root] = r if given is None else given
    for op, (values, fixed, uses, _) in carried:
        root = groups.find(fixed[0])
        r = union.get(root)
        if r is None:
            out.float_slots.setdefault(op, "carries a float value without calibration range")
            continue
        for v in values:
            # a value passed in two groups keeps its own range (converted at each slot)
            if const_array(v) is None and len(owners[v]) == 1:
                v.type = with_range(v.type, *r)
        for v in fixed:
            out.fixed[v] = spec[root]
        for slot in uses:
            out.uses[slot] = spec[root]
    return out
