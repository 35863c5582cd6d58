"""`quantize`: post-training quantization of a tfl-dialect module, one pass for every recipe.

    quantize{mode=dynamic}                    int8 weights, float activations (hybrid kernels)
    quantize{mode=float16}                    float16 weights + dequantize
    quantize{mode=int8}                       int8 everywhere it runs, float fallback elsewhere
    quantize{mode=int8 integer-only=true input-type=int8 output-type=int8}
    quantize{mode=int16x8}                    int16 activations, int8 weights, int64 biases
    quantize{mode=int8 keep-float=[dense_1,conv.*]}   selective: those ops stay float

int8 and int16x8 read calibration ranges from the types (run `calibrate` first, or give IR text
with `!quant.calibrated<...>` types). The summary goes to `ctx.data["quantization"]`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter

from .common import NameMatcher, QuantizeError, calibrated_range, function_values
from .full_integer import FullIntegerConfig, quantize_function
from .io_types import normalize_io_type, set_input_type, set_output_type
from .ops import MIN_WEIGHT_ELEMENTS
from .weights import dynamic_range, float16

SUMMARY_KEY = "quantization"

MODE_NAMES = {
    "dynamic": "PTQ_DYNAMIC_RANGE",
    "float16": "PTQ_FLOAT16",
    "int8": "PTQ_FULL_INTEGER",
    "int16x8": "PTQ_INT16",
}
"""Recipe -> CONVERSION_METADATA ModelOptimizationMode."""


@dataclass
class QuantizeSummary:
    mode: str
    quantized: int = 0
    float_ops: dict[Operation, str] = field(default_factory=dict)
    """Ops left in float (or weights left float) and why."""

    def float_op_lines(self) -> list[str]:
        return [f"{op.name} at {op.location}: {why}" for op, why in self.float_ops.items()]


class IntegerOnlyError(QuantizeError):
    """Integer-only quantization left float ops; `ops` lists them."""

    def __init__(self, ops: dict[Operation, str], dtype: str) -> None:
        self.ops = ops
        kinds = Counter(op.name for op in ops)
        listing = ", ".join(f"{name} x{n}" for name, n in sorted(kinds.items()))
        first = ", ".join(f"{op.name} ({_where(op)})" for op in list(ops)[:8])
        more = f", ... ({len(ops) - 8} more)" if len(ops) > 8 else ""
        super().__init__(
            f"integer-only quantization: {len(ops)} op(s) have no {dtype} kernel and would stay "
            f"float: {listing}: {first}{more}; allow float fallback (supported_ops "
            "TFLITE_BUILTINS) or keep them out of the model"
        )


def _where(op: Operation) -> str:
    names = op.location.names
    if names:
        return names[0]
    return next((r.name_hint for r in op.results if r.name_hint), "?")


@register_pass
@dataclass(frozen=True)
class Quantize(Pass):
    """Post-training quantization: dynamic range, float16, full integer (int8, 16x8) with float
    fallback or integer only, selective (keep-float), model input/output types."""

    name: ClassVar[str] = "quantize"
    mode: Literal["dynamic", "float16", "int8", "int16x8"] = "int8"
    """The recipe."""
    keep_float: tuple[str, ...] = ()
    """Ops to keep in float: names or regexes on TF node names / tensor names / op types."""
    input_type: str = "f32"
    """Model input type: f32, i8 / ui8 (int8 models), i16 (16x8 models)."""
    output_type: str = "f32"
    """Model output type (same choices as input-type)."""
    per_channel: bool = True
    """Per-channel weights for conv / depthwise / fully-connected (off: per tensor)."""
    integer_only: bool = False
    """Fail (naming each op) if any op would stay float (TFLITE_BUILTINS_INT8)."""
    min_elements: int = MIN_WEIGHT_ELEMENTS
    """dynamic: weights with fewer elements stay float."""
    bias_correction: bool = True
    """int8 / int16x8: remove the mean output shift of int8 weight rounding from each calibrated
    conv / depthwise / fully-connected bias (false: the official recipe alone)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        matcher = NameMatcher(self.keep_float)
        summary = QuantizeSummary(self.mode)
        if self.mode == "dynamic":
            report = dynamic_range(module, matcher, self.per_channel, self.min_elements)
            summary.quantized = len(report.quantized)
            summary.float_ops.update(report.skipped)
        elif self.mode == "float16":
            report = float16(module, matcher)
            summary.quantized = report.converted
        else:
            self._full_integer(module, matcher, summary)
        _check_unused(matcher, module)
        n = _erase_dead(module, ctx)
        ctx.stats["ops quantized"] += summary.quantized
        ctx.stats["ops left float"] += len(summary.float_ops)
        ctx.data[SUMMARY_KEY] = summary
        return summary.quantized > 0 or n > 0

    def _full_integer(self, module: Module, matcher: NameMatcher, summary: QuantizeSummary) -> None:
        dtype = "i16" if self.mode == "int16x8" else "i8"
        in_type = normalize_io_type(self.input_type, dtype, "input-type")
        out_type = normalize_io_type(self.output_type, dtype, "output-type")
        calibrated = [
            fn for fn in module.functions if any(calibrated_range(v) for v in function_values(fn))
        ]
        if not calibrated:
            raise QuantizeError(
                f"quantize{{mode={self.mode}}} needs calibration ranges on the float tensors: "
                "run `calibrate` first (with a representative dataset) or give calibrated IR"
            )
        cfg = FullIntegerConfig(
            activation=dtype,
            per_channel=self.per_channel,
            keep_float=matcher,
            bias_correction=self.bias_correction,
        )
        for fn in calibrated:
            report = quantize_function(fn, cfg)
            summary.quantized += len(report.quantized)
            summary.float_ops.update(report.float_ops)
            if fn is module.functions[0] or fn.attributes.get("entry"):
                set_input_type(fn, in_type, dtype, report.ranges)
                set_output_type(fn, out_type, dtype, report.ranges)
        if self.integer_only:
            leftover = _float_ops(module)
            if leftover:
                raise IntegerOnlyError(
                    {op: summary.float_ops.get(op, "float") for op in leftover},
                    "int16" if dtype == "i16" else "int8",
                )


def _float_ops(module: Module) -> list[Operation]:
    """tfl ops computing in float (quantize/dequantize only convert at the float boundaries)."""
    out = []
    for fn in module.functions:
        for op in fn.walk():
            if op.dialect != "tfl" or op.name in ("tfl.no_value", "tfl.quantize", "tfl.dequantize"):
                continue
            values = (*op.operands, *op.results)
            if any(v.type.dtype in ("f32", "f16") for v in values):
                out.append(op)
    return out


def _check_unused(matcher: NameMatcher, module: Module) -> None:
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


def _erase_dead(module: Module, ctx: PassContext) -> int:
    from tflconv.passes.cleanup.dce import erase_dead_ops

    return erase_dead_ops(module, PatternRewriter(ctx.listener))


def optimization_mode(mode: str) -> str:
    """The CONVERSION_METADATA mode name of a recipe."""
    return MODE_NAMES[mode]


def describe(summary: Any) -> str:
    return f"{summary.mode}: {summary.quantized} op(s) quantized, {len(summary.float_ops)} float"
