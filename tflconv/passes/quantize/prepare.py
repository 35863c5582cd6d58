"""`prepare-quantize`: choose what runs in integer and give every activation its parameters
(int8 or 16x8), from the calibration ranges on the types. Constants stay float: the
`quantize` pass quantizes them once the parameters of the activations around them are known.

    calibrate -> prepare-quantize -> bias-correction -> quantize -> modify-io-types

The steps mirror the official MLIR quantizer (`prepare_quantize.cc`, `quantization_driver.cc`):

1. choose the ops to quantize: ops with integer kernels (`dialects/tfl_traits.py`) whose float
   tensors all have calibration ranges and that the user did not keep in float;
2. drop redundant ranges (`RemoveRedundantStatsOps`): the result of a single-operand
   same-scale op (pooling, reshape, ...) follows its operand (forward); the operands of any
   same-scale op whose result keeps its range follow that result, transitively (backward: a
   chain of concats behind a max pool takes the last concat's range); fixed-range results
   (softmax, logistic, tanh, ...) take the required parameters;
3. the remaining ranges give parameters (asymmetric int8 with the legacy float scale, symmetric
   int16), propagated through same-scale ops until nothing changes;
4. write them: quantized result types (`!quant.uniform<i8:f32, scale:zp>`), `tfl.quantize`
   where a float value enters a chosen op, a requantizing `tfl.quantize` where a producer's
   parameters differ from what a same-scale consumer needs, `tfl.dequantize` where an integer
   value reaches a float op or the function's results.

Every function is quantized, WHILE bodies and IF branches included: the values a WHILE / IF
carries share one range and one set of parameters (control_flow.py), so the WHILE / IF ops
carry integer tensors; the callee arguments and control-flow results are fixed to them, and a
(re)quantize precedes a WHILE / IF operand or a callee result whose parameters differ.

The calibration ranges it consumed go to `ctx.data["calibration_ranges"]` (modify-io-types
reads them); the ops left float and why to the `QuantizeSummary` in ctx.data["quantization"].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import FLOAT_DTYPES, TensorType
from tflconv.dialects.tfl_traits import FIXED_OUTPUT, INT8_AFFINE, INT8_OPS, INT16_OPS, SAME_SCALE

from . import kernels
from .calibrate_loops import CONTROL_FLOW
from .common import (
    QP,
    RANGES_KEY,
    NameMatcher,
    QuantizeError,
    calibrated_range,
    check_unused,
    const_array,
    derived_location,
    function_values,
    insert_after_def,
    is_float,
    new_constant,
    qtype,
    strip_calibration,
    summary,
    value_name,
)
from .control_flow import LoopBoundary, Spec, loop_boundary
from .fake_quant_ranges import FAKE_QUANT_VALUES
from .ops import prefer_result_scale

SKIPPED = frozenset({"tfl.quantize", "tfl.dequantize"})

VALUE_PRESERVING = frozenset(
    "tfl." + name
    for name in (
        "relu", "relu6", "relu_n1_to_1", "relu_0_to_1", "minimum", "maximum", "abs", "neg",
        "reshape", "squeeze", "expand_dims", "transpose", "slice", "strided_slice", "gather",
        "gather_nd", "concatenation", "pack", "unpack", "select", "select_v2", "pad", "padv2",
        "tile", "broadcast_to", "reverse_v2",
    )
)  # fmt: skip
"""Ops whose outputs are (selections of) their inputs' values: integer-valued inputs give
integer-valued outputs."""


def integer_cast_feeders(fn: Function) -> set[Operation]:
    """The value-preserving ops whose float results reach a float -> integer `tfl.cast` through
    value-preserving ops only: what clamps an index (FLOOR / CEIL / ROUND of a coordinate)
    before the cast. Requantized on a grid whose step does not divide 1, an integer such as 3
    comes back as 2.99 and the cast truncates it to 2 (a wrong pixel, row or token), so these
    stay float; their integer-valued inputs come from float-only kernels anyway."""
    chain: set[Operation] = set()
    stack = [
        op.operands[0].defining_op
        for op in fn.ops
        if op.name == "tfl.cast"
        and op.operands[0].type.dtype in FLOAT_DTYPES  # calibrated: a range, still float
        and op.result.type.dtype not in FLOAT_DTYPES
        and op.result.type.dtype != "i1"
    ]
    while stack:
        op = stack.pop()
        if op is None or op in chain or op.name not in VALUE_PRESERVING:
            continue
        chain.add(op)
        stack.extend(v.defining_op for v in op.operands if v.type.dtype in FLOAT_DTYPES)
    return chain


@dataclass
class PrepareReport:
    quantized: list[Operation] = field(default_factory=list)
    float_ops: dict[Operation, str] = field(default_factory=dict)
    """Ops left in float, with the reason."""
    ranges: dict[Value, tuple[float, float]] = field(default_factory=dict)
    """The calibration ranges the parameters came from (the types no longer carry them)."""


def _float_acts(values: list[Value] | tuple[Value, ...]) -> list[Value]:
    return [v for v in values if is_float(v) and const_array(v) is None and prequantized(v) is None]


def prequantized(v: Value) -> Value | None:
    """The int8 constant behind `tfl.dequantize(<int8 constant>)` (a weight whose parameters
    are given, e.g. by a FakeQuant of a quantization-aware-trained model), else None."""
    deq = v.defining_op
    if deq is None or deq.name != "tfl.dequantize":
        return None
    w = deq.operands[0]
    q = w.type.quant
    if const_array(w) is None or w.type.dtype != "i8" or q is None or not q.scale:
        return None
    return w


def _float_consts(values: list[Value] | tuple[Value, ...]) -> list[Value]:
    return [v for v in values if is_float(v) and const_array(v) is not None]


@dataclass(frozen=True)
class _OpTensors:
    """An op's float tensors, taken before the rewrite changes any type."""

    ins: tuple[Value, ...]  # float activation operands
    outs: tuple[Value, ...]  # float results
    consts: tuple[Value, ...]  # float constant operands
    prefer_result: bool  # same-scale with several float operands: the result's scale wins

    @staticmethod
    def of(op: Operation) -> _OpTensors:
        return _OpTensors(
            tuple(_float_acts(op.operands)),
            tuple(_float_acts(op.results)),
            tuple(_float_consts(op.operands)),
            prefer_result_scale(len([v for v in op.operands if is_float(v)])),
        )

    @property
    def acts(self) -> tuple[Value, ...]:
        return self.ins + self.outs


class _FunctionQuantizer:
    def __init__(
        self,
        fn: Function,
        dtype: str,
        keep_float: NameMatcher,
        legacy_float_scale: bool = True,
        qat: bool = False,
        fake_quant: set[Value] | None = None,
        boundary: LoopBoundary | None = None,
    ) -> None:
        self.fake_quant = fake_quant
        boundary = boundary or LoopBoundary()
        self.fixed = boundary.fixed_in(fn)
        """Callee arguments and control-flow results: the parameters of their carried group."""
        self.slots = boundary.uses_in(fn)
        """Control-flow operands and callee results: the range whose parameters they carry."""
        self.float_slots = boundary.float_slots
        self.fn = fn
        self.dtype = dtype
        self.legacy_float_scale = legacy_float_scale
        self.qat = qat
        self.given: set[Value] = set()
        self.fn_values: list[Value] = []
        self.keep_float = keep_float
        self.kernels_ok = INT16_OPS if self.dtype == "i16" else INT8_OPS
        self.report = PrepareReport()
        self.ranges: dict[Value, tuple[float, float]] = {}
        self.params: dict[Value, QP] = {}
        self.inserted: set[Operation] = set()
        self.info: dict[Operation, _OpTensors] = {}
        self.index_math = integer_cast_feeders(fn)

    # --- 1. which ops ---------------------------------------------------------------------------
    def _why_float(self, op: Operation) -> str | None:
        if self.keep_float.matches(op):
            return "kept float (keep-float)"
        if op.name not in self.kernels_ok or op.name in SKIPPED:
            kind = "int16" if self.dtype == "i16" else "int8"
            return f"no {kind} kernel"
        if op.regions:
            return "has regions"
        if op in self.index_math:
            return (
                "feeds an integer cast (an index: requantized it could truncate to the one below)"
            )
        acts = _float_acts(op.operands) + _float_acts(op.results)
        if not acts and not _float_consts(op.operands):
            return "no float tensors"
        if any(v.type.dtype in ("f16", "bf16", "f64") for v in (*op.operands, *op.results)):
            return "non-f32 float tensors"
        missing = [v for v in acts if v not in self.ranges]
        fixed = op.name in FIXED_OUTPUT
        missing = [v for v in missing if not (fixed and v in op.results)]
        if missing:
            return f"no calibration range for {missing[0].name_hint or 'a tensor'}"
        aff = INT8_AFFINE.get(op.name)
        if aff is not None:
            weight = op.operands[aff.weight]
            given = prequantized(weight)
            if const_array(weight) is None and given is None:
                return "weights are not constant"
            if given is not None and not _weights_fit(given, aff.axis):
                return "given int8 weights are not per tensor or per output channel"
            if aff.bias is not None and aff.bias < op.num_operands:
                bias = op.operands[aff.bias]
                if bias.type.dtype != "none" and const_array(bias) is None:
                    return "bias is not constant"
        return None

    def choose_ops(self) -> list[Operation]:
        chosen = []
        for op in self.fn.ops:
            if op.dialect != "tfl":
                continue
            if op.name in CONTROL_FLOW:  # carries integer tensors: see `rewrite`
                if op in self.float_slots:
                    self.report.float_ops[op] = self.float_slots[op]
                continue
            why = self._why_float(op)
            if why is None:
                chosen.append(op)
                self.info[op] = _OpTensors.of(op)
            elif why != "no float tensors" and not _is_given_weight(op):
                self.report.float_ops[op] = why
        return chosen

    def _inherit_ranges(self) -> None:
        """Results of same-scale ops without a range of their own take their operands' (a QAT
        graph has FakeQuant ranges only where the training graph quantized: not behind a
        reshape or a pooling). Calibrated graphs have a range on every tensor: no change."""
        for op in self.fn.ops:
            if op.name not in SAME_SCALE:
                continue
            ins, outs = _float_acts(op.operands), _float_acts(op.results)
            if not ins or not outs or any(v in self.ranges for v in outs):
                continue
            if any(v not in self.ranges for v in ins):
                continue
            lo = min(self.ranges[v][0] for v in ins)
            hi = max(self.ranges[v][1] for v in ins)
            for v in outs:
                self.ranges[v] = (lo, hi)
        # backward: operands without a range take the result's (tfmot quantizes a concat's
        # output only)
        for op in reversed(list(self.fn.ops)):
            if op.name not in SAME_SCALE:
                continue
            ins, outs = _float_acts(op.operands), _float_acts(op.results)
            known = [self.ranges[v] for v in outs if v in self.ranges]
            if len(outs) != 1 or not known:
                continue
            for v in ins:
                if v not in self.ranges:
                    self.ranges[v] = known[0]

    # --- 2/3. parameters ------------------------------------------------------------------------
    def _from_range(self, lo: float, hi: float) -> QP:
        if self.dtype == "i16":
            s, z = kernels.symmetric_params(lo, hi, "i16")
        else:
            s, z = kernels.affine_params(lo, hi, "i8", legacy_float_scale=self.legacy_float_scale)
        return QP(float(s), int(z))

    def _spec_params(self, spec: Spec) -> QP:
        """The parameters of a carried group (control_flow.py): given, or from its range."""
        return spec if isinstance(spec, QP) else self._from_range(*spec)

    def _redundant_ranges(self, same: list[Operation]) -> set[Value]:
        """The calibrated ranges `RemoveRedundantStatsOps` drops, so that one range rules each
        same-scale chain: forward, the result of a single-operand same-scale op (pooling,
        reshape, ...) follows its operand; backward, the operands of any same-scale op whose
        result keeps its range follow that result, transitively (a DenseNet block, concat
        after concat behind a max pool, takes the range of its last concat)."""
        same_ops = set(same)
        redundant: set[Value] = set()
        # QAT: a FakeQuant behind a pooling / reshape stands (a requantize follows the op);
        # only a concat's operands and calibrated (not FakeQuant) ranges follow
        work = list(self.ranges)
        while work:
            v = work.pop()
            for use in v.uses:
                user = use.op
                if user not in same_ops or self.info[user].prefer_result:
                    continue
                for r in self.info[user].outs:
                    if self.qat and r in self.given:
                        continue
                    if r in self.ranges and r not in redundant:
                        redundant.add(r)
                        work.append(r)
        work = [v for v in self.ranges if v not in redundant]
        seen = set(work)
        while work:
            owner = work.pop().defining_op
            if owner not in same_ops:
                continue
            single = not self.info[owner].prefer_result
            for x in self.info[owner].ins:
                if self.qat and single and x in self.given:
                    continue
                if x in self.ranges:
                    redundant.add(x)
                    if x not in seen:
                        seen.add(x)
                        work.append(x)
        return redundant - self.fixed.keys()  # a carried value keeps its group's parameters

    def assign_params(self, qops: list[Operation]) -> None:
        same = [op for op in qops if op.name in SAME_SCALE]
        redundant = self._redundant_ranges(same)
        ranges = {v: r for v, r in self.ranges.items() if v not in redundant}
        members: set[Value] = set()
        for op in qops:
            members.update(self.info[op].acts)
        for v in members:
            if v in ranges:
                self.params[v] = self._from_range(*ranges[v])
        for v, spec in self.fixed.items():
            self.params[v] = self._spec_params(spec)
        for op in qops:
            fixed = FIXED_OUTPUT.get(op.name, {}).get(self.dtype)
            if fixed is not None:
                for r in self.info[op].outs:
                    self.params[r] = QP(float(np.float32(fixed[0])), fixed[1])
        self._propagate(same)
        for op in same:  # a group of constants only: take the constants' own range
            group = self.info[op].acts
            if group and not any(v in self.params for v in group):
                consts = self.info[op].consts
                if consts:
                    arr = const_array(consts[0])
                    lo, hi, _ = kernels.minmax(np.asarray(arr, np.float32))
                    self.params[group[0]] = self._from_range(lo, hi)
        self._propagate(same)

    def _group_params(self, op: Operation) -> QP | None:
        t = self.info[op]
        order = (t.outs + t.ins) if t.prefer_result else (t.ins + t.outs)
        for v in order:
            if v in self.params:
                return self.params[v]
        return None

    def _propagate(self, same: list[Operation]) -> None:
        for _ in range(2 * len(same) + 2):
            changed = False
            for op in [*same, *reversed(same)]:
                qp = self._group_params(op)
                if qp is None:
                    continue
                for v in self.info[op].acts:
                    if v not in self.params:
                        self.params[v] = qp
                        changed = True
            if not changed:
                return

    def required(self, op: Operation, v: Value) -> QP:
        """The parameters op needs on its float operand v."""
        if op.name in SAME_SCALE:
            qp = self._group_params(op)
            if qp is not None:
                return qp
        return self.params[v]

    # --- 4. activations --------------------------------------------------------------------------
    def rewrite(self, qops: list[Operation]) -> None:
        """Quantized result types, `tfl.quantize` where a float value (or an integer value with
        other parameters) enters a chosen op, `tfl.dequantize` where an integer value reaches a
        float op or the function's results. Constants stay float (the `quantize` pass)."""
        qset = set(qops)
        quantized: dict[Value, QP] = {}
        converted: dict[tuple[Value, QP], Value] = {}
        # Results first, so consumers see which values are integer.
        for op in qops:
            for r in self.info[op].outs:
                quantized[r] = self.params[r]
        for v in self.fixed:
            quantized[v] = self.params[v]
        if self.qat:
            self._requantize_after(qops, quantized)
        for op in qops:
            t = self.info[op]
            for i, v in enumerate(op.operands):
                given = prequantized(v)
                if given is not None:  # the int8 weights themselves, not their dequantize
                    op.set_operand(i, given)
                    continue
                if v in t.ins:
                    new = self._activation(op, v, quantized, converted)
                    if new is not v:
                        op.set_operand(i, new)
            for r in t.outs:
                r.type = qtype(r.type, self.dtype, quantized[r])
        for v in self.fixed:
            v.type = qtype(v.type, self.dtype, quantized[v])
        # Values a WHILE / IF passes on (its operands, a callee's results) with their group's
        # parameters.
        for (op, i), r in self.slots.items():
            v = op.operands[i]
            new = self._convert(v, self._spec_params(r), quantized, converted)
            if new is not v:
                op.set_operand(i, new)
        # Integer values read by float ops or returned: dequantize once per value.
        for v in quantized:
            float_uses = [
                u
                for u in v.uses
                if u.op not in qset
                and u.op not in self.inserted
                and (u.op, u.index) not in self.slots
            ]
            if not float_uses:
                continue
            deq = Operation(
                "tfl.dequantize",
                [v],
                [TensorType(v.type.shape, "f32")],
                location=derived_location(v, "/dequantize"),
                result_names=[value_name(v, "/dequantize")],
            )
            insert_after_def(self.fn.block, v, deq)
            for use in float_uses:
                use.op.set_operand(use.index, deq.result)
        if self.qat:
            self._keep_fake_quant(qset, quantized)
        self.report.quantized = qops

    def _keep_fake_quant(self, qset: set[Operation], quantized: dict[Value, QP]) -> None:
        """QAT: a FakeQuant range on a value that stays float, read by float ops (or
        returned), becomes a quantize/dequantize pair again: the float consumers see TF's
        fake-quantized (clipped, rounded) values, not the raw ones."""
        for v in [v for v in self.fn_values if v in self.given and v not in quantized]:
            float_uses = [u for u in v.uses if u.op not in qset and u.op not in self.inserted]
            if not float_uses or not is_float(v):
                continue
            qp = self._from_range(*self.ranges[v])
            q = Operation(
                "tfl.quantize",
                [v],
                [qtype(v.type, self.dtype, qp)],
                location=derived_location(v, "/fake_quant"),
                result_names=[value_name(v, "/fake_quant")],
            )
            deq = Operation(
                "tfl.dequantize",
                [q.result],
                [TensorType(v.type.shape, "f32")],
                location=derived_location(v, "/fake_quant_dequantize"),
                result_names=[value_name(v, "/fake_quant_dequantize")],
            )
            insert_after_def(self.fn.block, v, q)
            self.fn.block.insert_after(deq, q)
            for use in float_uses:
                use.op.set_operand(use.index, deq.result)

    def _requantize_after(self, qops: list[Operation], quantized: dict[Value, QP]) -> None:
        """QAT: a single-operand same-scale op whose result has its own FakeQuant parameters
        keeps its operand's and is followed by a requantizing tfl.quantize to them (as the
        official converter quantizes a FakeQuant behind a pooling)."""
        for op in qops:
            t = self.info[op]
            if op.name not in SAME_SCALE or t.prefer_result or len(t.ins) != 1 or len(t.outs) != 1:
                continue
            r, have, want = t.outs[0], self.params[t.ins[0]], self.params[t.outs[0]]
            if have == want:
                continue
            q = Operation(
                "tfl.quantize",
                [r],
                [qtype(r.type, self.dtype, want)],
                location=derived_location(r, "/requantize"),
                result_names=[value_name(r, "/requantize")],
            )
            insert_after_def(self.fn.block, r, q)
            for use in [u for u in r.uses if u.op is not q]:
                use.op.set_operand(use.index, q.result)
            self.inserted.add(q)
            quantized[r] = have
            quantized[q.result] = want

    def _activation(
        self,
        op: Operation,
        v: Value,
        quantized: dict[Value, QP],
        converted: dict[tuple[Value, QP], Value],
    ) -> Value:
        return self._convert(v, self.required(op, v), quantized, converted)

    def _convert(
        self,
        v: Value,
        need: QP,
        quantized: dict[Value, QP],
        converted: dict[tuple[Value, QP], Value],
    ) -> Value:
        """`v` with parameters `need`: itself, a `tfl.quantize` of it, or (a float constant
        passed to a WHILE / IF or returned by its callee) an integer constant."""
        have = quantized.get(v)
        if have is not None and have == need:
            return v
        key = (v, need)
        if key in converted:
            return converted[key]
        arr = const_array(v)
        if arr is not None and is_float(v):
            q = kernels.quantize_affine(np.asarray(arr), need.scale, need.zero_point, self.dtype)
            anchor = v.defining_op
            assert anchor is not None
            t = qtype(v.type, self.dtype, need)
            new = new_constant(anchor, q, t, v.name_hint, anchor.location)
            converted[key] = new
            return new
        # A float value entering integer code (tfl.quantize), or an integer value whose
        # parameters differ from what this consumer needs (requantizing tfl.quantize).
        suffix = "/quantize" if have is None else "/requantize"
        q = Operation(
            "tfl.quantize",
            [v],
            [qtype(v.type, self.dtype, need)],
            location=derived_location(v, suffix),
            result_names=[value_name(v, suffix)],
        )
        insert_after_def(self.fn.block, v, q)
        self.inserted.add(q)
        converted[key] = q.result
        return q.result

    # --- driver ----------------------------------------------------------------------------------
    def run(self) -> PrepareReport:
        values = function_values(self.fn)
        self.fn_values = values
        for v in values:
            r = calibrated_range(v)
            if r is not None and r[0] <= r[1]:
                self.ranges[v] = r
        strip_calibration(values)
        # QAT: the FakeQuant ranges (fake-quant-ranges' list; from IR text: every range)
        self.given = set(self.ranges) if self.fake_quant is None else set(self.fake_quant)
        self._inherit_ranges()
        self.report.ranges = self.ranges
        qops = self.choose_ops()
        self.assign_params(qops)
        # Ops whose tensors got no parameters (e.g. a same-scale chain without any range) stay
        # float; drop them and assign again until every chosen op is fully covered.
        for _ in range(len(qops) + 1):
            bad = [op for op in qops if any(v not in self.params for v in self.info[op].acts)]
            if not bad:
                break
            for op in bad:
                self.report.float_ops[op] = "no quantization parameters could be derived"
            qops = [op for op in qops if op not in bad]
            self.params = {}
            self.assign_params(qops)
        self.rewrite(qops)
        return self.report


def _is_given_weight(op: Operation) -> bool:
    """A `tfl.dequantize` of given int8 weights (not an op left float: it goes away)."""
    return op.name == "tfl.dequantize" and prequantized(op.results[0]) is not None


def _weights_fit(w: Value, axis: int) -> bool:
    q = w.type.quant
    assert q is not None
    return len(q.scale) == 1 or q.axis == axis


@register_pass
@dataclass(frozen=True)
class PrepareQuantize(Pass):
    """Choose the ops that run in integer and write the activations' parameters
    (`!quant.uniform` types, tfl.quantize / tfl.dequantize at the float boundaries) from the
    calibration ranges; constants are left to `quantize`."""

    name: ClassVar[str] = "prepare-quantize"
    activation: Literal["int8", "int16"] = "int8"
    """int8 (int8 activations) or int16 (16x8: int16 activations, int8 weights)."""
    keep_float: tuple[str, ...] = ()
    """Ops to keep in float: names or regexes on TF node names / tensor names / op types."""
    qat: bool = False
    """The ranges come from FakeQuant ops (`fake-quant-ranges`): a range behind a pooling or
    reshape stands (a requantize follows the op) instead of following the op's operand."""
    legacy_float_scale: bool = True
    """int8 scales as the Python PTQ path computes them ((float32(max) - float32(min)) / 255);
    false: in double, as `fakeQuantAttrsToType` does for FakeQuant ranges (QAT models)."""
    without_ranges: Literal["error", "float"] = "error"
    """No range anywhere: fail (a chain run on the wrong graph), or leave the model float (the
    converter's QAT plan without calibration data: FakeQuants only on weights, which fold into
    float constants, as the official converter leaves them)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        dtype = "i16" if self.activation == "int16" else "i8"
        calibrated = [
            fn for fn in module.functions if any(calibrated_range(v) for v in function_values(fn))
        ]
        if not calibrated and not any(
            v.type.is_float for fn in module.functions for v in function_values(fn)
        ):
            return False  # nothing computes in float (a bool pad): nothing to quantize
        if not calibrated and self.without_ranges == "float":
            ctx.stats["prepare-quantize: no ranges, model left float"] += 1
            return False
        if not calibrated and self.qat:
            raise QuantizeError(
                "prepare-quantize{qat=true}: no FakeQuant ranges in the graph (fake-quant-ranges "
                "found no foldable FakeQuant); give a representative dataset to calibrate it"
            )
        if not calibrated:
            raise QuantizeError(
                "prepare-quantize needs calibration ranges on the float tensors: run `calibrate` "
                "first (with a representative dataset) or give calibrated IR"
            )
        matcher = NameMatcher(self.keep_float)
        done = summary(ctx, "int16x8" if dtype == "i16" else "int8")
        ranges: dict[Value, tuple[float, float]] = {}
        # before any function drops its ranges
        boundary = loop_boundary(module, dtype, matcher.matches)
        calibrated = [
            fn for fn in module.functions if any(calibrated_range(v) for v in function_values(fn))
        ]
        for fn in calibrated:
            report = _FunctionQuantizer(
                fn,
                dtype,
                matcher,
                self.legacy_float_scale,
                self.qat,
                ctx.data.get(FAKE_QUANT_VALUES),
                boundary,
            ).run()
            done.float_ops.update(report.float_ops)
            ranges.update(report.ranges)
        check_unused(matcher, module)
        ctx.data[RANGES_KEY] = ranges
        ctx.stats["ops left float"] += len(done.float_ops)
        return True
