"""Weight-only recipes, each its own pass:

quantize-dynamic-range                int8 weights, float activations (hybrid kernels)
quantize-dynamic-range{per-channel=false min-elements=16 keep-float=[dense_1]}
quantize-dynamic-range{bits=4}        int4 per-channel weights (hybrid kernels)
quantize-dynamic-range{bits=4 granularity=block block-size=32}   blockwise int4 (XNNPACK)
quantize-dynamic-range{bits=4 weight-only=true}                  int4 + DEQUANTIZE, float ops
quantize-dynamic-range{recipe=recipe.json}                       a scheme per op (recipe.py)
quantize-float16                      float16 weights + dequantize
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import TensorType

from . import kernels
from .common import (
    CONSTANT,
    NameMatcher,
    QuantizeError,
    check_unused,
    derived_location,
    erase_dead,
    new_constant,
    summary,
    value_name,
)
from .ops import MIN_WEIGHT_ELEMENTS
from .recipe import Recipe, WeightScheme, load_recipe
from .weight_schemes import WeightsReport, candidate_ops, mark_float16, quantize_weights

RECIPE_KEY = "quantization_recipe"
"""ctx.data key of a Python `Recipe` for quantize-dynamic-range (a file goes in `recipe=`)."""


def dynamic_range(
    module: Module,
    keep_float: NameMatcher,
    per_channel: bool = True,
    min_elements: int = MIN_WEIGHT_ELEMENTS,
) -> WeightsReport:
    """int8 symmetric weights (per channel on the op's quantized dimension) for ops with hybrid
    kernels; activations stay float and the kernels quantize them on the fly
    (`asymmetric_quantize_inputs=true` where the options have it). Embedding tables (constant
    GATHER params) become int8 with a DEQUANTIZE of the gathered rows, as in the official
    converter. Weights with fewer than `min_elements` elements stay float."""
    scheme = WeightScheme("int8", "channel" if per_channel else "tensor")
    recipe = Recipe(default=scheme).with_float(tuple(keep_float.patterns))
    return quantize_weights(module, recipe, min_elements)


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
        mark_float16(module)
    return report


@register_pass
@dataclass(frozen=True)
class QuantizeDynamicRange(Pass):
    """Dynamic-range quantization: int8 (or int4, blockwise int4) weights for the ops with
    hybrid kernels, float activations quantized on the fly by the kernels; embedding tables as
    int8 GATHER + DEQUANTIZE; `weight-only=true`: integer weights + DEQUANTIZE, float ops.
    A recipe (`recipe=FILE`, or a Python `Recipe` in the context) picks a scheme per op."""

    name: ClassVar[str] = "quantize-dynamic-range"
    keep_float: tuple[str, ...] = ()
    """Ops to keep in float: names or regexes on TF node names / tensor names / op types."""
    per_channel: bool = True
    """Per-channel weights for conv / depthwise / fully-connected (off: per tensor)."""
    min_elements: int = MIN_WEIGHT_ELEMENTS
    """Weights with fewer elements stay float (the official `minimum_elements_for_weights`)."""
    bits: int = 8
    """Weight bits of the default scheme: 8 or 4 (int4: two values per byte)."""
    granularity: str = ""
    """channel, tensor or block (blockwise int4, float16 scales; XNNPACK runs it fast);
    empty: channel unless per-channel=false."""
    block_size: int = 0
    """Elements per block (a multiple of 32) with granularity=block."""
    weight_only: bool = False
    """Integer weights + DEQUANTIZE instead of hybrid kernels (the ops stay float)."""
    recipe: str = ""
    """A JSON / TOML recipe file: a scheme per op by op type and name regex (it brings its own
    default; the scheme options above apply without a recipe)."""

    def default_scheme(self) -> WeightScheme:
        if self.bits not in (4, 8):
            raise QuantizeError(f"quantize-dynamic-range: bits must be 4 or 8, not {self.bits}")
        gran = self.granularity or ("channel" if self.per_channel else "tensor")
        return WeightScheme(
            f"int{self.bits}",
            gran,
            self.block_size,
            "weight-only" if self.weight_only else "dynamic",
        )

    def build_recipe(self, ctx: PassContext) -> Recipe:
        """The recipe file / context recipe (else the options' scheme for every op), without
        keep-float."""
        default = self.default_scheme()
        given = ctx.data.get(RECIPE_KEY)
        if self.recipe:
            given = load_recipe(self.recipe)
        if given is None:
            return Recipe(default=default)
        if default != WeightScheme():
            raise QuantizeError(
                "quantize-dynamic-range: give the scheme options (bits, granularity, block-size, "
                "weight-only, per-channel) or a recipe, not both: a recipe sets its own default"
            )
        return load_recipe(given)

    def run(self, module: Module, ctx: PassContext) -> bool:
        recipe = self.build_recipe(ctx)
        check_unused(NameMatcher(self.keep_float), module)
        recipe.check(candidate_ops(module))
        report = quantize_weights(module, recipe.with_float(self.keep_float), self.min_elements)
        done = summary(ctx, "dynamic")
        done.quantized += len(report.quantized)
        done.float_ops.update(report.skipped)
        ctx.stats["ops quantized"] += len(report.quantized)
        ctx.stats["ops left float"] += len(report.skipped)
        for scheme, n in report.schemes.items():
            ctx.stats[f"ops with {scheme} weights"] += n
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
