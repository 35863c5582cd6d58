"""`legalize-tf`: TF ops -> TFLite builtins (a partial conversion; leftovers stay tf.*)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Module
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.pipeline import check_pattern_options
from tflconv.core.rewrite import (
    ConversionTarget,
    PatternSet,
    apply_conversion,
)

from . import control_flow, fake_quant, hashtable, math, nn, spectral, tensor
from . import random as random_ops
from . import variables as resource_variables


def legalize_tf_patterns() -> PatternSet:
    """Every TF -> TFL pattern, family by family."""
    return PatternSet(
        nn.PATTERNS
        + math.PATTERNS
        + tensor.PATTERNS
        + control_flow.PATTERNS
        + spectral.PATTERNS
        + random_ops.PATTERNS
        + hashtable.PATTERNS
        + fake_quant.PATTERNS
        + resource_variables.PATTERNS
    )


def legalize_target() -> ConversionTarget:
    return ConversionTarget(legal_dialects={"tfl", "arith", "func"}, illegal_dialects={"tf"})


@register_pass
@dataclass(frozen=True)
class LegalizeTf(Pass):
    """Rewrite tf.* ops into tfl.* builtins; ops no pattern handles stay for later passes."""

    name: ClassVar[str] = "legalize-tf"
    enable_patterns: tuple[str, ...] = ()
    """Only these patterns (by name; empty: all), for bisecting a bad rewrite."""
    disable_patterns: tuple[str, ...] = ()
    """Patterns to leave out, for bisecting a bad rewrite."""

    def __post_init__(self) -> None:
        if self.enable_patterns or self.disable_patterns:
            known = [p.name for p in legalize_tf_patterns()]
            check_pattern_options(
                known,
                {
                    "enable-patterns": self.enable_patterns,
                    "disable-patterns": self.disable_patterns,
                },
            )

    def run(self, module: Module, ctx: PassContext) -> bool:
        patterns = legalize_tf_patterns().filtered(
            self.enable_patterns or None, self.disable_patterns
        )
        result = apply_conversion(
            module,
            patterns,
            legalize_target(),
            mode="partial",
            tracer=ctx.tracer,
            listener=ctx.listener,
        )
        ctx.stats["unconverted ops"] += len(result.unconverted)
        return result.changed
