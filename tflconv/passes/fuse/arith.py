"""Arithmetic TF writes out with more or slower ops than TFLite needs (RMS norms' `1 / sqrt(x)`
and `pow(x, 2)`, variances' `square(x - mean)`)."""

from __future__ import annotations

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.passes.legalize_tf.math import BINARY, needs_explicit_broadcast
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


class SquareOfDifference(RewritePattern):
    """tfl.square(tfl.sub(a, b)) | tfl.square(tfl.abs(tfl.sub(a, b))) ->
    tfl.squared_difference(a, b)  (tf.math.reduce_variance / reduce_std, as the official)"""

    root = "tfl.square"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        v = op.operands[0]
        consumed = []
        d = v.defining_op
        if d is not None and d.name == "tfl.abs":  # |d|^2 = d^2 for real d
            if reason := users_reason(v, "abs"):
                return rw.fail(reason)
            consumed.append(d)
            v = d.operands[0]
            d = v.defining_op
        if d is None or d.name != "tfl.sub":
            return rw.fail("input is not a tfl.sub")
        if reason := users_reason(v, "sub"):
            return rw.fail(reason)
        if act(d) != "NONE":
            return rw.fail(f"sub has fused activation {act(d)}")
        if not op.result.type.is_float or op.result.type.quant is not None:
            return rw.fail("squared_difference is rewritten for float values only")
        if v.type != op.result.type:
            return rw.fail("the square changes the type")
        # SQUARED_DIFFERENCE broadcasts up to 4-D only (legalize writes (x - y)^2 past that).
        if needs_explicit_broadcast(list(d.operands[:2]), BINARY["tf.SquaredDifference"][1]):
            return rw.fail("squared_difference would broadcast above its kernel's rank")
        new = rw.create("tfl.squared_difference", list(d.operands[:2]), [op.result.type])
        rw.replace(op, new.result)
        for dead in [*consumed, d]:
            rw.erase(dead)


PATTERNS: list[RewritePattern] = [
    ReciprocalSqrtToRsqrt(),
    PowToElementwise(),
    SquareOfDifference(),
]
