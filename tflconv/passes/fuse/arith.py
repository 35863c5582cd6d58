"""Arithmetic TF writes out with more or slower ops than TFLite needs (RMS norms' `1 / sqrt(x)`
and `pow(x, 2)`)."""

from __future__ import annotations

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.passes.legalize_tf.nn_expr import scalar

from .util import absorb, act, users_reason


class ReciprocalSqrtToRsqrt(RewritePattern):
    """tfl.div(1, tfl.sqrt(x)) -> tfl.rsqrt(x)  (Keras' reciprocal of a square root: Gemma's,
    T5's and Llama's RMS norms)"""

    root = "tfl.div"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        one, root = op.operands
        if scalar(one) != 1.0 or act(op) != "NONE":
            return rw.fail("not 1 / y without a fused activation")
        sqrt = root.defining_op
        if sqrt is None or sqrt.name != "tfl.sqrt":
            return rw.fail("divisor is not a tfl.sqrt")
        if reason := users_reason(root, "sqrt"):
            return rw.fail(reason)
        if not root.type.is_float or root.type != op.result.type:
            return rw.fail("1 / sqrt(x) changes the type (broadcasts)")
        rsqrt = rw.create("tfl.rsqrt", [sqrt.operands[0]], [root.type], location=sqrt.location)
        absorb(rw, rsqrt, op)
        rw.erase(sqrt)


POWERS = {2.0: "tfl.square", 0.5: "tfl.sqrt", -0.5: "tfl.rsqrt"}


class PowToElementwise(RewritePattern):
    """tfl.pow(x, 2 | 0.5 | -0.5) -> tfl.square / tfl.sqrt / tfl.rsqrt(x)  (Llama's RMS norm
    squares with pow; the dedicated kernels are exact for these exponents and faster)"""

    root = "tfl.pow"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, e = op.operands
        k = scalar(e)
        if k is None or k not in POWERS:
            return rw.fail("exponent is not a scalar 2, 0.5 or -0.5")
        if not x.type.is_float or x.type != op.result.type:
            return rw.fail("pow broadcasts x or is not float")
        rw.replace(op, rw.create(POWERS[k], [x], [x.type]).result)


PATTERNS: list[RewritePattern] = [ReciprocalSqrtToRsqrt(), PowToElementwise()]
