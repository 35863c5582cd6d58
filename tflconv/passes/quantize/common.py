"""Helpers shared by the quantization passes: calibration ranges on types, quantized types,
constants, inserted quantize/dequantize ops, and the keep-float name matcher."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tflconv.core.ir import Block, BlockArgument, Function, Module, Operation, Value, constant
from tflconv.core.location import Location
from tflconv.core.opdef import DiscardableAttr, declare_discardable
from tflconv.core.passes import PassContext
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import QuantParams, TensorType
from tflconv.passes.cleanup.dce import erase_dead_ops

CONSTANT = "arith.constant"
SUMMARY_KEY = "quantization"
"""ctx.data key of the `QuantizeSummary` the quantization passes fill in."""
CALIBRATION_KEY = "calibration"
"""ctx.data key of calibrate's `CalibrationSummary` (samples, time, NaN tensors)."""
INPUT_MEAN = declare_discardable(
    DiscardableAttr(
        "quant.input_mean",
        "the mean input patch an affine op saw during calibration (kh x kw x C for "
        "convolutions, C for fully-connected), f32; written by calibrate, read by "
        "bias-correction, removed by quantize",
        lambda v: (
            None
            if isinstance(v, np.ndarray) and v.dtype == np.float32
            else "must be a float32 array"
        ),
    )
).name
"""The discardable attribute that carries calibration's mean input patches in the IR."""
RANGES_KEY = "calibration_ranges"
"""ctx.data key of the calibration ranges prepare-quantize consumed ({Value: (min, max)})."""


class QuantizeError(Exception):
    """Quantization cannot go on (missing calibration, ops without integer kernels, ...)."""


@dataclass(frozen=True)
class QP:
    """Per-tensor affine parameters of an activation: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int

    def quant(self) -> QuantParams:
        return QuantParams((float(self.scale),), (int(self.zero_point),))


@dataclass
class QuantizeSummary:
    """What the quantization passes did: the recipe, how many ops were quantized, and the ops
    left in float (or whose weights stayed float) with the reason."""

    mode: str
    quantized: int = 0
    float_ops: dict[Operation, str] = field(default_factory=dict)

    def float_op_lines(self) -> list[str]:
        return [f"{op.name} at {op.location}: {why}" for op, why in self.float_ops.items()]

    def describe(self) -> str:
        return f"{self.mode}: {self.quantized} op(s) quantized, {len(self.float_ops)} float"


def summary(ctx: PassContext, mode: str) -> QuantizeSummary:
    """The context's summary (a new one when the recipe changes)."""
    current = ctx.data.get(SUMMARY_KEY)
    if not isinstance(current, QuantizeSummary) or current.mode != mode:
        current = QuantizeSummary(mode)
        ctx.data[SUMMARY_KEY] = current
    return current


def check_unused(matcher: NameMatcher, module: Module) -> None:
    """A keep-float pattern that names no op at all is a typo: say so instead of ignoring it."""
    unused = matcher.unused()
    if unused:
        probe = NameMatcher(unused)
        for op in module.walk():
            probe.matches(op)
        unused = probe.unused()
    if unused:
        raise QuantizeError(
            f"keep-float: {', '.join(repr(p) for p in unused)} matched no op (patterns match TF "
            "node names, Keras layer names, tensor names or op types in full)"
        )


def erase_dead(module: Module, ctx: PassContext) -> int:
    """Erase what quantization left unused (the float constants it replaced)."""
    return erase_dead_ops(module, PatternRewriter(ctx.listener))


# --- calibration ranges carried on types -------------------------------------------------------


def calibrated_range(value: Value) -> tuple[float, float] | None:
    """The (min, max) a float value was calibrated to (`!quant.calibrated<f32<lo:hi>>`)."""
    q = value.type.quant
    if q is None or q.scale or len(q.min) != 1 or len(q.max) != 1:
        return None
    return float(q.min[0]), float(q.max[0])


def with_range(t: TensorType, lo: float, hi: float) -> TensorType:
    return t.with_quant(QuantParams((), (), None, (float(lo),), (float(hi),)))


def strip_calibration(values: Iterable[Value]) -> None:
    """Drop calibration-only quantization (no scales) from value types."""
    for v in values:
        q = v.type.quant
        if q is not None and not q.scale:
            v.type = v.type.with_quant(None)


def function_values(fn: Function) -> list[Value]:
    """Arguments and every op result of a function (nested regions included)."""
    out: list[Value] = list(fn.args)
    for op in fn.walk():
        out.extend(op.results)
    return out


def is_float(value: Value) -> bool:
    return value.type.dtype == "f32" and (value.type.quant is None or not value.type.quant.scale)


def const_array(value: Value) -> np.ndarray | None:
    op = value.defining_op
    if op is not None and op.name == CONSTANT:
        return op.attributes["value"]
    return None


# --- building ----------------------------------------------------------------------------------


def qtype(t: TensorType, dtype: str, qp: QP) -> TensorType:
    return TensorType(t.shape, dtype, qp.quant())


def insert_after_def(block: Block, value: Value, op: Operation) -> Operation:
    """Insert `op` right after the definition of `value` (at the block start for arguments)."""
    owner = value.defining_op
    if isinstance(value, BlockArgument) or owner is None:
        first = block.first_op
        return block.insert_before(op, first) if first is not None else block.append(op)
    return owner.parent.insert_after(op, owner)  # type: ignore[union-attr]


def new_constant(
    anchor: Operation, array: np.ndarray, t: TensorType, name: str | None, loc: Location
) -> Value:
    """An `arith.constant` of `array` with type `t`, inserted before `anchor`."""
    op = constant(array, loc, name, type=t)
    anchor.parent.insert_before(op, anchor)  # type: ignore[union-attr]
    return op.result


def display_name(value: Value) -> str:
    """The tensor name the writer gives `value` (its name, else its op's location names)."""
    if value.name_hint:
        return value.name_hint
    if isinstance(value, BlockArgument):
        fn = value.block.parent.parent if value.block.parent is not None else None
        names = list(getattr(fn, "attributes", {}).get("input_names") or [])
        return names[value.index] if value.index < len(names) else f"arg{value.index}"
    op = value.defining_op
    base = op.location.tensor_name() if op is not None else ""
    base = base or (op.name if op is not None else "value")
    return base if getattr(value, "index", 0) == 0 else f"{base}:{value.index}"


def value_name(value: Value, suffix: str) -> str:
    """The name of a tensor derived from `value` (`<name>/quantize`): a derived tensor never
    takes the name of the value itself, so float and quantized models match by name."""
    return f"{display_name(value)}{suffix}"


def derived_location(value: Value, suffix: str) -> Location:
    """A one-name location for an op inserted on `value` (the writer names tensors of fused
    locations after the location, so inserted ops must not borrow a fused one), keeping the
    Python source line of the value's producer."""
    op = value.defining_op
    sources = op.location.sources if op is not None else ()
    return Location.name(value_name(value, suffix), sources[0] if sources else None)


# --- keep-float matching -------------------------------------------------------------------------

_KERAS_SUFFIX = re.compile(r"_\d+\Z")


class NameMatcher:
    """Which ops stay float: each pattern is a name or a regular expression, matched in full
    against an op's location names (TF node names) and result tensor names, and against each
    '/'-separated part of them, with and without Keras's `_<n>` uniquifying suffix (so `dense`
    matches `functional_1/dense_1/MatMul`). Op types match too (`tfl.softmax`). Full tensor
    names (with '/' or ';') also match without a trailing `_<n>`, which the writer adds to
    keep tensor names unique (the debugger reports names from the .tflite)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p for p in (s.strip() for s in patterns) if p]
        self._regexes = []
        for p in self.patterns:
            try:
                self._regexes.append(re.compile(p))
            except re.error as e:
                raise QuantizeError(f"keep-float: bad pattern {p!r}: {e}") from None
        self.used: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, op: Operation) -> bool:
        if not self.patterns:
            return False
        names = [*op.location.names, *(r.name_hint for r in op.results if r.name_hint)]
        candidates: list[str] = [op.name, op.location.tensor_name()]  # the writer's tensor name
        for name in names:
            candidates.append(name)
            for part in name.replace(";", "/").split("/"):
                candidates.append(part)
                stripped = _KERAS_SUFFIX.sub("", part)
                if stripped != part:
                    candidates.append(stripped)
        for pattern, regex in zip(self.patterns, self._regexes):
            # A full tensor name from a .tflite may carry the writer's `_<n>` uniquifier.
            plain = _KERAS_SUFFIX.sub("", pattern) if "/" in pattern or ";" in pattern else None
            if any(c in (pattern, plain) or regex.fullmatch(c) for c in candidates):
                self.used.add(pattern)
                return True
        return False

    def unused(self) -> list[str]:
        return [p for p in self.patterns if p not in self.used]


def parse_names(text: str | Iterable[str] | None) -> list[str]:
    """'a,b' or ['a', 'b'] -> ['a', 'b'] (commas inside {} of a regex are kept)."""
    if text is None:
        return []
    if not isinstance(text, str):
        return [s for s in text if s]
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch in "{[("
        depth -= ch in "}])"
        cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]
