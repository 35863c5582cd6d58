"""`legalize-stablehlo`: stablehlo.* ops -> TFLite builtins (a partial conversion; leftovers
stay stablehlo.* and `check-tflite-legal` reports them with the reason).

Follows the official StableHLO -> TFL legalization (tensorflow/compiler/mlir/lite/stablehlo/
transforms/legalize_hlo_conversions/*.cc). Ops inside the bodies of stablehlo ops (a reduce's
`stablehlo.add`, a comparator) are not converted on their own: the pattern of the op that owns
the body reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Function, Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.pipeline import check_pattern_options
from tflconv.core.rewrite import (
    ConversionTarget,
    PatternSet,
    apply_conversion,
    apply_walk,
)
from tflconv.core.types import SymbolRef
from tflconv.dialects import stablehlo  # noqa: F401  (declares stablehlo ops: purity, folders)

from . import (
    composite,
    control_flow,
    dot_conv,
    elementwise,
    gather_scatter,
    reduce,
    shape_ops,
    sort,
)

MAX_SUBGRAPH_ROUNDS = 16
"""Bound on conversion runs (each may outline one more level of nested control flow)."""


def composite_patterns() -> PatternSet:
    """Multi-op idioms (softmax), matched in one sweep before the op-by-op conversion."""
    # The average pool spans a sum window, its divisor and (count_include_pad=False) a count
    # window: matched here too, before the windows are converted one by one.
    return PatternSet([*composite.PATTERNS, reduce.LegalizeAvgPool()])


def legalize_stablehlo_patterns() -> PatternSet:
    """Every StableHLO -> TFL op pattern, family by family."""
    return PatternSet(
        reduce.PATTERNS  # first: the average-pool pattern roots at stablehlo.divide
        + elementwise.PATTERNS
        + dot_conv.PATTERNS
        + shape_ops.PATTERNS
        + gather_scatter.PATTERNS
        + sort.PATTERNS
        + control_flow.PATTERNS
    )


def in_stablehlo_body(op: Operation) -> bool:
    """Whether `op` sits in the body of a stablehlo op (a reduction or comparator body)."""
    block = op.parent
    while block is not None and block.parent is not None:
        owner = block.parent.parent
        if isinstance(owner, Function) or owner is None:
            return False
        if owner.name.startswith("stablehlo."):
            return True
        block = owner.parent
    return False


class StablehloTarget(ConversionTarget):
    """stablehlo.* is illegal, except in the bodies of stablehlo ops (their owner reads them)
    and in functions outlined during this conversion run (the next run converts them, in
    order: their ops may be queued early when a value they read is replaced)."""

    def __init__(self, functions: set[Function]) -> None:
        super().__init__(legal_dialects={"tfl", "arith", "func"}, illegal_dialects={"stablehlo"})
        self.functions = functions

    def is_illegal(self, op: Operation) -> bool:
        return (
            op.dialect == "stablehlo"
            and not in_stablehlo_body(op)
            and op.function in self.functions
        )


def legalize_target(module: Module, skip: set[Function]) -> ConversionTarget:
    return StablehloTarget(set(module.functions) - skip)


def _decompositions(module: Module) -> set[Function]:
    """The functions composites name as their decomposition (converted only when inlined)."""
    names = {
        op.attributes["decomposition"].name
        for op in module.walk()
        if op.name == "stablehlo.composite"
        and isinstance(op.attributes.get("decomposition"), SymbolRef)
    }
    return {fn for fn in module.functions if fn.name in names}


def _referenced(module: Module) -> set[str]:
    return {
        value.name
        for op in module.walk()
        for value in op.attributes.values()
        if isinstance(value, SymbolRef)
    }


@register_pass
@dataclass(frozen=True)
class LegalizeStablehlo(Pass):
    """Rewrite stablehlo.* ops into tfl.* builtins; ops no pattern handles stay for the gate."""

    name: ClassVar[str] = "legalize-stablehlo"
    enable_patterns: tuple[str, ...] = ()
    """Only these patterns (by name; empty: all), for bisecting a bad rewrite."""
    disable_patterns: tuple[str, ...] = ()
    """Patterns to leave out, for bisecting a bad rewrite."""

    def __post_init__(self) -> None:
        if self.enable_patterns or self.disable_patterns:
            known = [p.name for p in [*composite_patterns(), *legalize_stablehlo_patterns()]]
            check_pattern_options(
                known,
                {
                    "enable-patterns": self.enable_patterns,
                    "disable-patterns": self.disable_patterns,
                },
            )

    def run(self, module: Module, ctx: PassContext) -> bool:
        if not any(op.dialect == "stablehlo" for op in module.walk()):
            return False  # a TF model: nothing to do
        only, skip = self.enable_patterns or None, self.disable_patterns
        changed = apply_walk(
            module,
            composite_patterns().filtered(only, skip),
            tracer=ctx.tracer,
            listener=ctx.listener,
        )
        patterns = legalize_stablehlo_patterns().filtered(only, skip)
        decompositions = _decompositions(module)
        # Control flow moves regions into new functions, which a conversion run does not
        # walk (it takes the functions it starts with): run again while functions appear.
        for _ in range(MAX_SUBGRAPH_ROUNDS):
            count = len(module.functions)
            result = apply_conversion(
                module,
                patterns,
                legalize_target(module, decompositions),
                mode="partial",
                tracer=ctx.tracer,
                listener=ctx.listener,
            )
            changed |= result.changed
            if len(module.functions) == count:
                break
        used = _referenced(module)
        for fn in decompositions:  # inlined or mapped to a builtin: no longer a subgraph
            if fn.name not in used and not fn.attributes.get("entry"):
                module.remove_function(fn)
                changed = True
        ctx.stats["unconverted ops"] += len(result.unconverted)
        return changed
