"""Multi-op StableHLO idioms recognised before op-by-op legalization (the conversion visits
producers first, so a pattern spanning several ops must see them while they are still
stablehlo.*): JAX's softmax and sigmoid -> tfl.softmax, tfl.logistic."""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from .reduce import body_combiner
from .util import ints, splat_value


def _through_broadcasts(value: Value) -> Value:
    """The value under broadcast_in_dim / reshape ops that only re-add leading-aligned
    (trailing, size-1 or broadcast) dims: the row statistic of a softmax."""
    while True:
        op = value.defining_op
        if op is None:
            return value
        src = op.operands[0] if op.operands else None
        if (
            op.name in ("stablehlo.broadcast_in_dim", "stablehlo.dynamic_broadcast_in_dim")
            and src is not None
            and src.type.rank is not None
        ):
            if ints(op, "broadcast_dimensions") != list(range(src.type.rank)):
                return value
        elif op.name == "stablehlo.reshape" and src is not None:
            s, r = src.type.shape, op.result.type.shape
            if (
                s is None
                or r is None
                or tuple(r[: len(s)]) != tuple(s)
                or any(d != 1 for d in r[len(s) :])
            ):
                return value
        else:
            return value
        value = src


def _row_reduce(value: Value, combiner: str, operand: Value) -> bool:
    """Whether `value` is reduce(operand){combiner} over the last dim."""
    op = value.defining_op
    if op is None or op.name != "stablehlo.reduce" or op.num_operands != 2:
        return False
    rank = operand.type.rank
    return (
        op.operands[0] is operand
        and rank is not None
        and ints(op, "dimensions") == [rank - 1]
        and body_combiner(op) == combiner
    )


def _row_max(value: Value, x: Value) -> bool:
    """reduce_max(x) over the last dim, or max(-inf, that) (jnp.max with initial=-inf)."""
    if _row_reduce(value, "stablehlo.maximum", x):
        return True
    op = value.defining_op
    if op is None or op.name != "stablehlo.maximum":
        return False
    a, b = op.operands
    for stat, other in ((a, b), (b, a)):
        if _row_reduce(stat, "stablehlo.maximum", x):
            src = _through_broadcasts(other)
            if splat_value(src) == float("-inf"):
                return True
    return False


class FuseSoftmax(RewritePattern):
    """stablehlo.divide(e, bcast(reduce_sum(e))), e = exp(x - bcast(reduce_max(x))), over the
    last dim -> tfl.softmax(x){beta = 1}"""

    root = "stablehlo.divide"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        e, denom = op.operands
        exp = e.defining_op
        if exp is None or exp.name != "stablehlo.exponential":
            return rw.fail("the numerator is not an exponential")
        sub = exp.operands[0].defining_op
        if sub is None or sub.name != "stablehlo.subtract":
            return rw.fail("the exponent is not x - max(x)")
        x, shift = sub.operands
        if x.type.shape is None or x.type.shape != op.result.type.shape:
            return rw.fail("x does not have the result's shape")
        if not _row_max(_through_broadcasts(shift), x):
            return rw.fail("the shift is not the row maximum of x")
        if not _row_reduce(_through_broadcasts(denom), "stablehlo.add", e):
            return rw.fail("the denominator is not the row sum of the exponential")
        if why := kernel_dtype_reason("tfl.softmax", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.softmax", [x], {"beta": 1.0})
        return None


def _is_one(value: Value) -> bool:
    return splat_value(_through_broadcasts(value)) == 1


class FuseLogistic(RewritePattern):
    """stablehlo.divide(1, stablehlo.add(1, exp(-x))) (jax.nn.sigmoid's export) ->
    tfl.logistic(x)"""

    root = "stablehlo.divide"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        one, den = op.operands
        add = den.defining_op
        if not _is_one(one) or add is None or add.name != "stablehlo.add":
            return rw.fail("not 1 / (1 + ...)")
        a, b = add.operands
        e = b if _is_one(a) else a if _is_one(b) else None
        exp = e.defining_op if e is not None else None
        if exp is None or exp.name != "stablehlo.exponential":
            return rw.fail("not 1 / (1 + exp(...))")
        neg = exp.operands[0].defining_op
        if neg is None or neg.name != "stablehlo.negate":
            return rw.fail("not 1 / (1 + exp(-x))")
        x = neg.operands[0]
        if x.type != op.result.type:
            return rw.fail("x does not have the result's type")
        if why := kernel_dtype_reason("tfl.logistic", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.logistic", [x])
        return None


PATTERNS: list[RewritePattern] = [FuseSoftmax(), FuseLogistic()]
