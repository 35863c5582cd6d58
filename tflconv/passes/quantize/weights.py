"""Weight-only recipes, each its own pass:

quantize-dynamic-range                int8 weights, float activations (hybrid kernels)
quantize-dynamic-range{per-channel=false min-elements=16 keep-float=[dense_1]}
quantize-float16                      float16 weights + dequantize
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import QuantParams, TensorType
from tflconv.dialects.tfl_traits import DYNAMIC_RANGE

from . import kernels
from .common import (
    CONSTANT,
    NameMatcher,
    check_unused,
    const_array,
    derived_location,
    erase_dead,
    new_constant,
    summary,
    value_name,
)
from .ops import MIN_WEIGHT_ELEMENTS

REDUCED_PRECISION = "reduced_precision_support"
FP16_ACC_FP32 = b"fp16accfp32"


@dataclass
class WeightsReport:
    quantized: list[Operation] = field(default_factory=list)
    skipped: dict[Operation, str] = field(default_factory=dict)
    converted: int = 0


def dynamic_range(
    module: Module,
    keep_float: NameMatcher,
    per_channel: bool = True,
    min_elements: int = MIN_WEIGHT_ELEMENTS,
) -> WeightsReport:
    """int8 symmetric weights (per channel on the op's quantized dimension) for ops with hybrid
    kernels; activations stay float and the kernels quantize them on the fly
    (`asymmetric_quantize_inputs=true` where the options have it). Weights with fewer than
    `min_elements` elements stay float, as in the official converter."""
    report = WeightsReport()
    cache: dict[tuple[Value, int | None], Value] = {}
    for op in list(module.walk()):
        spec = DYNAMIC_RANGE.get(op.name)
        if spec is None:
            continue
        if keep_float.matches(op):
            report.skipped[op] = "kept float (keep-float)"
            continue
        w = op.operands[spec.weight]
        arr = const_array(w)
        if arr is None or w.type.dtype != "f32" or w.type.quant is not None:
            report.skipped[op] = "weights are not a float constant"
            continue
        if arr.size < min_elements:
            report.skipped[op] = f"weights have {arr.size} < {min_elements} elements"
            continue
        axis = spec.axis if per_channel else None
        key = (w, axis)
        if key not in cache:
            q, scales = kernels.quantize_weights_symmetric(np.asarray(arr), axis, "i8")
            quant = QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
            anchor = w.defining_op
            assert anchor is not None
            cache[key] = new_constant(
                anchor, q, TensorType(w.type.shape, "i8", quant), w.name_hint, anchor.location
            )
        op.set_operand(spec.weight, cache[key])
        if spec.asymmetric_inputs:
            op.attributes["asymmetric_quantize_inputs"] = True
        report.quantized.append(op)
    return report


def float16(module: Module, keep_float: NameMatcher) -> WeightsReport:
    """Every float32 constant read by an op becomes a float16 constant and a `tfl.dequantize`
    to float32 (placed right after it, so the dequantize also runs once, before its users);
    the `reduced_precision_support` metadata says "fp16accfp32" as the official converter."""
    report = WeightsReport()
    for fn in module.functions:
        for op in list(fn.walk()):
            if op.name != CONSTANT or op.result.type.dtype != "f32" or op.result.type.quant:
                continue
            users = [u for u in op.result.uses if not keep_float.matches(u.op)]
            users = [u for u in users if u.op.name != "func.return"]
            if not users:
                continue
            arr = np.asarray(op.attributes["value"])
            half = kernels.to_float16(arr)
            value = op.result
            const = new_constant(
                op, half, TensorType(value.type.shape, "f16"), value.name_hint, op.location
            )
            deq = Operation(
                "tfl.dequantize",
                [const],
                [TensorType(value.type.shape, "f32")],
                location=derived_location(value, "/dequantize"),
                result_names=[value_name(value, "/dequantize")],
            )
            op.parent.insert_before(deq, op)  # type: ignore[union-attr]
            for use in users:
                use.op.set_operand(use.index, deq.result)
            report.converted += 1
    if report.converted:
        metadata = dict(module.attributes.get("metadata") or {})
        metadata[REDUCED_PRECISION] = FP16_ACC_FP32
        module.attributes["metadata"] = metadata
    return report


@register_pass
@dataclass(frozen=True)
class QuantizeDynamicRange(Pass):
    """Dynamic-range quantization: int8 weights for the ops with hybrid kernels (per channel on
    their quantized dimension), float activations quantized on the fly by the kernels."""

    name: ClassVar[str] = "quantize-dynamic-range"
    keep_float: tuple[str, ...] = ()
    """Ops to keep in float: names or regexes on TF node names / tensor names / op types."""
    per_channel: bool = True
    """Per-channel weights for conv / depthwise / fully-connected (off: per tensor)."""
    min_elements: int = MIN_WEIGHT_ELEMENTS
    """Weights with fewer elements stay float (the official `minimum_elements_for_weights`)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        matcher = NameMatcher(self.keep_float)
        report = dynamic_range(module, matcher, self.per_channel, self.min_elements)
        check_unused(matcher, module)
        done = summary(ctx, "dynamic")
        done.quantized += len(report.quantized)
        done.float_ops.update(report.skipped)
        ctx.stats["ops quantized"] += len(report.quantized)
        ctx.stats["ops left float"] += len(report.skipped)
        return bool(report.quantized) | (erase_dead(module, ctx) > 0)


@register_pass
@dataclass(frozen=True)
class QuantizeFloat16(Pass):
    """float16 weights: every float32 constant an op reads becomes float16 + `tfl.dequantize`."""

    name: ClassVar[str] = "quantize-float16"
    keep_float: tuple[str, ...] = ()
    """Ops whose constants stay float32 (names or regexes, as in quantize-dynamic-range)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        matcher = NameMatcher(self.keep_float)
        report = float16(module, matcher)
        check_unused(matcher, module)
        summary(ctx, "float16").quantized += report.converted
        ctx.stats["ops quantized"] += report.converted
        return bool(report.converted) | (erase_dead(module, ctx) > 0)
