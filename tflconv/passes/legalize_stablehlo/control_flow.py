"""stablehlo.custom_call / composite: refused with the reason (kept for the legality gate)."""

from __future__ import annotations

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern


class RefuseCustomCall(RewritePattern):
    """stablehlo.custom_call -> (refused: no TFL builtin computes an opaque target)"""

    root = ("stablehlo.custom_call", "stablehlo.composite", "stablehlo.rng_bit_generator")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name == "stablehlo.rng_bit_generator":
            return rw.fail("random bits (rng_bit_generator) have no TFL builtin")
        target = op.attributes.get("call_target_name") or op.attributes.get("name")
        return rw.fail(f"{op.name[10:]} {target!r} has no TFL builtin")


PATTERNS: list[RewritePattern] = [RefuseCustomCall()]
