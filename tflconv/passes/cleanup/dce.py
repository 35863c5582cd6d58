"""dce: erase ops whose results nobody reads and that have no side effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Module, Operation
from tflconv.core.opdef import TERMINATOR, has_trait, is_pure
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter


def _is_dead(op: Operation) -> bool:
    # Ops without results are kept: region terminators of undeclared ops (tf.Yield) look so.
    return bool(op.results) and not op.has_users() and is_pure(op) and not has_trait(op, TERMINATOR)


def erase_dead_ops(module: Module, rw: PatternRewriter) -> int:
    """Erase unused pure ops, their newly unused producers too; returns how many went.

    Ops are visited in reverse walk order, so users come before their producers and one sweep
    settles a chain; producers already visited are pushed again when they become dead."""
    stack = list(module.walk())
    erased: set[Operation] = set()
    while stack:
        op = stack.pop()
        if op in erased or op.parent is None or not _is_dead(op):
            continue
        producers = [v.defining_op for v in op.operands if v.defining_op is not None]
        erased.update(op.walk())
        rw.erase(op)
        stack.extend(p for p in producers if p not in erased)
    return len(erased)


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Erase unused side-effect-free ops (iteratively: chains of dead ops go at once)."""

    name: ClassVar[str] = "dce"

    def run(self, module: Module, ctx: PassContext) -> bool:
        n = erase_dead_ops(module, PatternRewriter(ctx.listener))
        if n:
            ctx.stats["ops erased"] += n
        return n > 0
