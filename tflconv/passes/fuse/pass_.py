"""`fuse`: TFLite-level fusions after legalization (the official converter's tfl-optimize).

Four greedy phases, in order, so the result does not depend on visiting order:
1. expressions and structure: activations written as arithmetic (clamps -> relu*, hard-swish,
   tanh-GELU, L2 normalization), identity arithmetic (x+0, x*1), pad folding into SAME, dilated
   convolutions (2-D, and 1-D through ExpandDims / Squeeze: dilated_conv1d.py), a transpose of
   the last two dims into a batch matmul's adjoint flag (matmul_transpose.py), reshape -> fully_connected -> reshape (also with run-time reshape targets,
   read symbolically: shape_exprs.py), reshapes to the input's own shape, 1/sqrt -> rsqrt;
2. affine folding: constant add/sub into conv/depthwise/transpose-conv/fully_connected biases,
   constant mul/div into their weights (batch-norm folding), per-feature scale/shift before a
   fully_connected, a bias add or a scale (the attention scale) behind a channel-splitting
   reshape, a scalar scale back through a subgraph linear in one affine output (rotary
   embeddings, batch_matmul: linear_scale.py);
3. reshape motion: a binary op over two same-shape reshapes (through elementwise unary ops)
   computes before one reshape (reshape_motion.py: ConvLSTM gates);
4. activation fusion: relu/relu6/relu_n1_to_1 into the producer's fused_activation_function.

Every rule refuses when an intermediate value has other users, with the reason recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Module
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.pipeline import check_pattern_options
from tflconv.core.rewrite import PatternSet, RewritePattern, apply_greedy
from tflconv.dialects import tfl  # noqa: F401  (declares the tfl ops: purity, defaults)

from . import (
    activation,
    affine,
    arith,
    dilated_conv1d,
    div_const,
    linear_scale,
    matmul_transpose,
    reshape_motion,
    shape_exprs,
    structure,
)


def fuse_phases() -> list[tuple[str, list[RewritePattern]]]:
    """The phases of the pass: (name, patterns)."""
    return [
        (
            "expressions",
            [
                *structure.PATTERNS,
                *dilated_conv1d.PATTERNS,
                *matmul_transpose.PATTERNS,
                *shape_exprs.PATTERNS,
                *arith.PATTERNS,
                *activation.PATTERNS_EXPRESSIONS,
            ],
        ),
        (
            "affine",
            [
                *affine.PATTERNS,
                *linear_scale.PATTERNS,
                structure.RemoveIdentityArithmetic(),
                *div_const.PATTERNS,
            ],
        ),
        ("reshapes", [*reshape_motion.PATTERNS]),
        ("activations", [*activation.PATTERNS_FUSE]),
    ]


@register_pass
@dataclass(frozen=True)
class Fuse(Pass):
    """Fold constants into weights and biases, fuse activations, recognise activation
    expressions (see the module docstring for the phases)."""

    name: ClassVar[str] = "fuse"
    summary: ClassVar[str] = "fuse bias/batch-norm/activations into TFLite ops"
    disable_patterns: tuple[str, ...] = ()
    """Rules to leave out (by class name), for bisecting a bad fusion."""

    def __post_init__(self) -> None:
        if self.disable_patterns:
            known = [p.name for _, patterns in fuse_phases() for p in patterns]
            check_pattern_options(known, {"disable-patterns": self.disable_patterns})

    def run(self, module: Module, ctx: PassContext) -> bool:
        changed = False
        for _, patterns in fuse_phases():
            selected = PatternSet(patterns).filtered(None, self.disable_patterns)
            before = sum(ctx.tracer.successes.values())
            changed |= apply_greedy(module, selected, tracer=ctx.tracer, listener=ctx.listener)
            ctx.stats["fusions"] += sum(ctx.tracer.successes.values()) - before
        return changed
