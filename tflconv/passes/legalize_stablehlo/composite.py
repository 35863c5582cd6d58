"""Multi-op StableHLO idioms recognised before op-by-op legalization (the conversion visits
producers first, so a pattern spanning several ops must see them while they are still
stablehlo.*): JAX's softmax, sigmoid, float mod and mean -> tfl.softmax, tfl.logistic,
tfl.floor_mod, tfl.mean."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant, constant_value
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


class FuseMean(RewritePattern):
    """stablehlo.divide(reduce(x, 0){add, dims}, n = the reduced element count) (jnp.mean) ->
    tfl.mean(x, dims)"""

    root = "stablehlo.divide"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        total, count = op.operands
        red = total.defining_op
        if red is None or red.name != "stablehlo.reduce" or red.num_operands != 2:
            return rw.fail("the dividend is not a reduce")
        if body_combiner(red) != "stablehlo.add" or splat_value(red.operands[1]) != 0:
            return rw.fail("the dividend is not a sum")
        x = red.operands[0]
        dims = ints(red, "dimensions")
        sizes = [x.type.shape[d] for d in dims] if x.type.shape is not None else [None]
        if not dims or None in sizes or not x.type.is_float:
            return rw.fail("a float sum over static dims is needed")
        if splat_value(_through_broadcasts(count)) != float(np.prod(sizes)):
            return rw.fail("the divisor is not the number of summed elements")
        if total.type != op.result.type:
            return rw.fail("the divisor broadcasts the sum")
        if why := kernel_dtype_reason("tfl.mean", x):
            return rw.fail(why)
        axes = rw.insert(constant(np.asarray(dims, np.int32), op.location)).result
        rw.replace_with_new(op, "tfl.mean", [x, axes], {"keep_dims": False})
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


def _compare(value: Value, direction: str) -> Operation | None:
    op = value.defining_op
    if op is None or op.name != "stablehlo.compare":
        return None
    return op if str(op.attributes.get("comparison_direction", "")).upper() == direction else None


def _is_zero(value: Value) -> bool:
    return splat_value(_through_broadcasts(value)) == 0


def _same(a: Value, b: Value) -> bool:
    """The same value, or equal constants (canonicalize folds each use of a divisor apart)."""
    if a is b:
        return True
    x, y = constant_value(a), constant_value(b)
    return x is not None and y is not None and x.shape == y.shape and bool(np.array_equal(x, y))


def _sign_test(value: Value) -> Value | bool | None:
    """v for `v < 0` (through broadcasts), a bool for a folded (constant) test, else None."""
    value = _through_broadcasts(value)
    cmp = _compare(value, "LT")
    if cmp is not None and _is_zero(cmp.operands[1]):
        return _through_broadcasts(cmp.operands[0])
    folded = splat_value(value)
    return bool(folded) if isinstance(folded, bool) else None


class FuseFloorMod(RewritePattern):
    """select((r < 0) != (y < 0) and r != 0, r + y, r), r = stablehlo.remainder(x, y) (jnp.mod /
    `%` on floats) -> tfl.floor_mod(x, y) (FLOOR_MOD computes exactly this from fmod)"""

    root = "stablehlo.select"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        pred, plus, r = op.operands
        rem = r.defining_op
        if rem is None or rem.name != "stablehlo.remainder":
            return rw.fail("not a select over a remainder")
        x, y = rem.operands
        root = _through_broadcasts  # JAX broadcasts the divisor separately for each use
        add = plus.defining_op
        if add is None or add.name != "stablehlo.add":
            return rw.fail("the other choice is not remainder + divisor")
        a0, a1 = (root(v) for v in add.operands)
        if not ((a0 is r and _same(a1, root(y))) or (a1 is r and _same(a0, root(y)))):
            return rw.fail("the other choice is not remainder + divisor")
        both = pred.defining_op
        if both is None or both.name != "stablehlo.and":
            return rw.fail("the predicate is not a conjunction")
        found_nonzero = found_signs = False
        for term in both.operands:
            ne = _compare(term, "NE")
            if ne is None:
                return rw.fail("the predicate is not JAX's floor-mod test")
            a, b = ne.operands
            if a is r and _is_zero(b):
                found_nonzero = True
                continue
            divisor = splat_value(root(y))
            signs = {_sign_test(a), _sign_test(b)}
            if (r in signs and any(_same(v, root(y)) for v in signs if isinstance(v, Value))) or (
                divisor is not None and signs == {r, bool(divisor < 0)}
            ):  # canonicalize folds the sign test of a constant divisor
                found_signs = True
        if not (found_nonzero and found_signs):
            return rw.fail("the predicate is not JAX's floor-mod test")
        if not x.type.is_float or x.type != op.result.type or y.type != x.type:
            return rw.fail("only same-shape float floor-mod is fused")
        if why := kernel_dtype_reason("tfl.floor_mod", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.floor_mod", [x, y])
        return None


PATTERNS: list[RewritePattern] = [FuseSoftmax(), FuseLogistic(), FuseFloorMod(), FuseMean()]
