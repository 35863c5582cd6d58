"""Activation rules: fusing relu-like ops into their producer's fused_activation_function, and
recognising activations TF writes out as arithmetic (clamps, hard-swish, tanh-GELU, L2 norm)."""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_traits import ACTIVATION_FUNCTIONS, FUSED_ACTIVATION_OPS
from tflconv.passes.legalize_tf.nn_expr import (
    Expr,
    close,
    erase_dead,
    known_constant,
    match_gelu,
    plain,
    products_above,
    scalar,
)

from .util import LAYOUT_OPS, absorb, act, new_const, short, users_reason


class FuseActivation(RewritePattern):
    """tfl.relu/relu6/relu_n1_to_1(p(..){act=NONE}) -> p(..){act=RELU/RELU6/RELU_N1_TO_1}
    (also across single-use reshapes/transposes between them: the activation is elementwise)"""

    root = tuple(ACTIVATION_FUNCTIONS)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        layouts: list[Operation] = []
        while x.defining_op is not None and x.defining_op.name in LAYOUT_OPS and x.num_uses == 1:
            layouts.append(x.defining_op)
            x = x.defining_op.operands[0]
        producer = x.defining_op
        if producer is None or producer.name not in FUSED_ACTIVATION_OPS:
            what = "an argument" if producer is None else producer.name
            return rw.fail(f"input is {what}, which takes no fused activation")
        what = short(producer)
        if reason := users_reason(x, what):
            return rw.fail(reason)
        if act(producer) != "NONE":
            return rw.fail(f"{what} already has fused activation {act(producer)}")
        if not x.type.is_float or x.type.dtype != op.result.type.dtype:
            return rw.fail("fused activations are applied to float ops of the same type only")
        if not layouts:
            absorb(rw, producer, op, ACTIVATION_FUNCTIONS[op.name])
            return None
        with rw.modify(producer):
            producer.attributes["fused_activation_function"] = ACTIVATION_FUNCTIONS[op.name]
        absorb(rw, layouts[0], op)


CLAMPS = {(-1.0, 1.0): "tfl.relu_n1_to_1", (0.0, 1.0): "tfl.relu_0_to_1", (0.0, 6.0): "tfl.relu6"}


class ClampToRelu(RewritePattern):
    """tfl.minimum(tfl.maximum(x, lo), hi) | tfl.maximum(tfl.minimum(x, hi), lo) ->
    tfl.relu_n1_to_1 / relu_0_to_1 / relu6 for (lo, hi) = (-1, 1) / (0, 1) / (0, 6);
    tfl.maximum(x, 0) -> tfl.relu(x)"""

    root = ("tfl.minimum", "tfl.maximum")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        bound, v = _scalar_and_other(op)
        if bound is None:
            return rw.fail(f"{op.name} has no scalar constant bound")
        if not v.type.is_float or v.type != op.result.type:
            return rw.fail("clamp changes the type")
        inner = v.defining_op
        other = "tfl.maximum" if op.name == "tfl.minimum" else "tfl.minimum"
        if inner is not None and inner.name == other and v.num_uses == 1:
            inner_bound, x = _scalar_and_other(inner)
            if inner_bound is not None and x.type == v.type:
                lo, hi = (inner_bound, bound) if op.name == "tfl.minimum" else (bound, inner_bound)
                name = CLAMPS.get((lo, hi))
                if name is not None:
                    rw.replace_with_new(op, name, [x])
                    return None
        if op.name == "tfl.maximum" and bound == 0.0:
            rw.replace_with_new(op, "tfl.relu", [v])
            return None
        return rw.fail(f"bounds of {op.name} are not a relu clamp")


def _scalar_and_other(op: Operation) -> tuple[float | None, Value]:
    a, b = op.operands
    if scalar(b) is not None:
        return scalar(b), a
    if scalar(a) is not None:
        return scalar(a), b
    return None, a


class MatchHardSwish(RewritePattern):
    """x * relu6(x + 3) / 6 (any association of mul/div) -> tfl.hard_swish(x)"""

    root = ("tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if act(op) != "NONE":
            return rw.fail("product has a fused activation")
        e = Expr()
        scale, factors = e.product(op.result, top=True)
        if len(factors) != 2 or not close(scale, 1.0 / 6.0, 1e-4):
            return rw.fail("not a product x * relu6(x+3) * 1/6")
        for x, r in (factors, factors[::-1]):
            ops = _relu6_of_x_plus_3(r, x)
            if ops is not None and x.type == op.result.type and x.type.is_float:
                rw.replace(op, rw.create("tfl.hard_swish", [x], [x.type]).result)
                erase_dead(rw, e.ops + ops)
                return None
        return rw.fail("factors are not x and relu6(x + 3)")


def _relu6_of_x_plus_3(v: Value, x: Value) -> list[Operation] | None:
    op = v.defining_op
    if op is None or v.num_uses != 1:
        return None
    ops = [op]
    if op.name == "tfl.relu6":
        inner = op.operands[0]
        add = inner.defining_op
        if add is None or inner.num_uses != 1 or not plain(add, ("tfl.add",)):
            return None
        ops.append(add)
    elif op.name == "tfl.add" and act(op) == "RELU6":
        add = op
    else:
        return None
    a, b = add.operands
    for y, c in ((a, b), (b, a)):
        if y is x and scalar(c) is not None and close(scalar(c), 3.0):  # type: ignore[arg-type]
            return ops
    return None


class MatchGeluTanh(RewritePattern):
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) -> tfl.gelu(x){approximate=true}"""

    root = "tfl.tanh"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        # The GELU product may itself be a factor of a bigger one (GeGLU: gelu(x) * gate):
        # try each product on the way up, innermost first.
        found = None
        for top in products_above(op.result):
            found = match_gelu(top)
            if found is not None:
                break
        if found is None:
            return rw.fail("tanh is not part of a GELU expression")
        x, approximate, ops = found
        rw.replace(top, rw.create("tfl.gelu", [x], [x.type], {"approximate": approximate}).result)
        erase_dead(rw, [op, *ops])


class MatchL2Normalization(RewritePattern):
    """x * rsqrt(max(sum(square(x), last axis, keep_dims), eps)) -> tfl.l2_normalization(x)"""

    root = "tfl.mul"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if act(op) != "NONE":
            return rw.fail("mul has a fused activation")
        for x, r in (op.operands, op.operands[::-1]):
            ops = _rsqrt_sum_square(r, x)
            if ops is not None and x.type == op.result.type and x.type.is_float:
                rw.replace(
                    op,
                    rw.create(
                        "tfl.l2_normalization", [x], [x.type], {"fused_activation_function": "NONE"}
                    ).result,
                )
                erase_dead(rw, ops)
                return None
        return rw.fail("not x * rsqrt(max(sum(square(x)), eps))")


def _rsqrt_sum_square(v: Value, x: Value) -> list[Operation] | None:
    e = Expr()
    rsqrt = e.take(v)
    if rsqrt is None or rsqrt.name != "tfl.rsqrt":
        return None
    inner = e.take(rsqrt.operands[0])
    if inner is not None and inner.name in ("tfl.maximum", "tfl.add"):
        eps, s = _scalar_and_other(inner)
        if eps is None or abs(eps) >= 1e-3:
            return None
        ops = [rsqrt, inner]
        total = e.take(s)
    else:
        ops = [rsqrt]
        total = inner
    if total is None or total.name != "tfl.sum" or not total.attributes.get("keep_dims", False):
        return None
    square = e.take(total.operands[0])
    if square is None or square.name != "tfl.square" or square.operands[0] is not x:
        return None
    rank = x.type.rank
    axes = known_constant(total.operands[1])
    if rank is None or axes is None or [int(a) % rank for a in axes.reshape(-1)] != [rank - 1]:
        return None
    return [*ops, total, square]


class MatchPRelu(RewritePattern):
    """relu(x) + c * relu(-x) -> tfl.prelu(x, -c);  relu(x) - a * relu(-x) -> tfl.prelu(x, a)
    (Keras PReLU)"""

    root = ("tfl.add", "tfl.sub")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if act(op) != "NONE":
            return rw.fail(f"{op.name} has a fused activation")
        pairs = [op.operands] if op.name == "tfl.sub" else [op.operands, op.operands[::-1]]
        for pos, neg in pairs:
            e = Expr()
            relu = e.take(pos)
            if relu is None or relu.name != "tfl.relu":
                continue
            x = relu.operands[0]
            found = _scaled_relu_of_neg(neg, x, e)
            if found is None or x.type != op.result.type or not x.type.is_float:
                continue
            alpha = found if op.name == "tfl.sub" else -found
            alpha_v = new_const(rw, alpha.astype(found.dtype), op)
            rw.replace(op, rw.create("tfl.prelu", [x, alpha_v], [x.type]).result)
            erase_dead(rw, [relu, *e.ops])
            return None
        return rw.fail("not relu(x) +/- c * relu(-x)")


def _scaled_relu_of_neg(v: Value, x: Value, e: Expr):
    """The constant c when `v` is c * relu(-x) (single-use intermediates), else None."""
    mul = e.take(v)
    if mul is None or not plain(mul, ("tfl.mul",)):
        return None
    for c_v, r_v in (mul.operands, mul.operands[::-1]):
        c = known_constant(c_v)
        relu = e.take(r_v)
        if c is None or c.dtype.kind != "f" or relu is None or relu.name != "tfl.relu":
            continue
        neg = e.take(relu.operands[0])
        if neg is not None and neg.name == "tfl.neg" and neg.operands[0] is x:
            e.ops.extend([mul, relu, neg])
            return c
    return None


PATTERNS_EXPRESSIONS: list[RewritePattern] = [
    ClampToRelu(),
    MatchPRelu(),
    MatchHardSwish(),
    MatchGeluTanh(),
    MatchL2Normalization(),
]
PATTERNS_FUSE: list[RewritePattern] = [FuseActivation()]
