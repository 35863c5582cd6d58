"""Elementwise StableHLO ops -> TFL: unary and binary math, comparisons, logic, select, clamp,
convert. Explicit broadcasts (`broadcast_in_dim`, legalized to `tfl.broadcast_to` first) are
dropped where the TFL kernel broadcasts by itself (official: legalize_hlo.cc elementwise
patterns + the TFL optimizer's broadcast folding).
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_accepts, kernel_dtype_reason
from tflconv.dialects.tfl_traits import FUSED_ACTIVATION_OPS

from ..cleanup.fold_kernels import array_bits, fold_allowed
from ..legalize_tf.common import const, create_tfl, scalar_const
from .util import NONE_ACT, implicit_broadcast, splat_value, text

# stablehlo op -> (tfl op, highest rank the kernel broadcasts; None: any, 0: equal shapes only).
# The limits are the TF path's (legalize_tf/math.py BINARY): measured against LiteRT.
BINARY: dict[str, tuple[str, int | None]] = {
    "stablehlo.add": ("add", 6),
    "stablehlo.subtract": ("sub", 6),
    "stablehlo.multiply": ("mul", 6),
    "stablehlo.divide": ("div", 6),
    "stablehlo.maximum": ("maximum", 5),
    "stablehlo.minimum": ("minimum", 5),
    "stablehlo.power": ("pow", 4),
    "stablehlo.atan2": ("atan2", 0),
}

# Bool-only logic; integer bitwise and/or have no TFL builtin.
LOGICAL: dict[str, tuple[str, int | None]] = {
    "stablehlo.and": ("logical_and", None),
    "stablehlo.or": ("logical_or", None),
    "stablehlo.xor": ("not_equal", 4),  # a != b is xor on booleans
}

UNARY: dict[str, str] = {
    "stablehlo.abs": "abs",
    "stablehlo.negate": "neg",
    "stablehlo.exponential": "exp",
    "stablehlo.log": "log",
    "stablehlo.tanh": "tanh",
    "stablehlo.logistic": "logistic",
    "stablehlo.rsqrt": "rsqrt",
    "stablehlo.sqrt": "sqrt",
    "stablehlo.floor": "floor",
    "stablehlo.ceil": "ceil",
    "stablehlo.round_nearest_even": "round",  # ROUND rounds half to even
    "stablehlo.sign": "sign",
    "stablehlo.cosine": "cos",
    "stablehlo.sine": "sin",
}

COMPARE: dict[str, str] = {
    "EQ": "equal",
    "NE": "not_equal",
    "GE": "greater_equal",
    "GT": "greater",
    "LE": "less_equal",
    "LT": "less",
}


def _binary(
    rw: PatternRewriter, tfl_name: str, operands: list[Value], out, max_rank: int | None
) -> Value:
    """tfl.<tfl_name> on `operands` with explicit broadcasts dropped where the kernel
    broadcasts itself."""
    operands = implicit_broadcast(rw, operands, out, max_rank)
    attrs = dict(NONE_ACT) if "tfl." + tfl_name in FUSED_ACTIVATION_OPS else {}
    return create_tfl(rw, tfl_name, operands, [out], **attrs).result


_IDENTITIES = {"stablehlo.add": 0, "stablehlo.subtract": 0, "stablehlo.multiply": 1}


def _identity_operand(op: Operation, rw: PatternRewriter) -> Value | None:
    """x for x + 0, x - 0, x * 1 (a zero-initialized Flax bias, seen through its broadcast),
    when x already has the result type; else None."""
    unit = _IDENTITIES.get(op.name)
    if unit is None:
        return None
    x, y = implicit_broadcast(rw, list(op.operands), op.result.type, None)
    candidates = [(x, y), (y, x)] if op.name != "stablehlo.subtract" else [(x, y)]
    for keep, other in candidates:
        if keep.type == op.result.type and splat_value(other) == unit:
            return keep
    return None


class LegalizeBinary(RewritePattern):
    """stablehlo.add(x, y) -> tfl.add(x, y) (subtract, multiply, divide, maximum, minimum,
    power, atan2 likewise); a broadcast operand becomes the kernel's own broadcasting"""

    root = tuple(BINARY)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        tfl_name, max_rank = BINARY[op.name]
        x, y = op.operands
        if why := kernel_dtype_reason("tfl." + tfl_name, x):
            return rw.fail(why)
        if op.name == "stablehlo.power" and x.type.is_int:
            # StableHLO defines negative integer exponents (0 or +-1); POW's i32 kernel does not.
            return rw.fail("integer power is not legalized (negative exponents differ)")
        if (same := _identity_operand(op, rw)) is not None:
            rw.replace(op, same)
            return None
        rw.replace(op, _binary(rw, tfl_name, [x, y], op.result.type, max_rank))
        return None


class LegalizeIntRemainder(RewritePattern):
    """stablehlo.remainder(x: int, y) -> tfl.sub(x, tfl.mul(tfl.div(x, y), y)) (DIV truncates
    integers, so this is the remainder with the sign of the dividend, as StableHLO defines it)"""

    root = "stablehlo.remainder"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        if not x.type.is_int or x.type.is_quantized:
            return rw.fail("only integer remainder is legalized (float fmod has no builtin)")
        for name in ("tfl.div", "tfl.mul", "tfl.sub"):
            if why := kernel_dtype_reason(name, x):
                return rw.fail(why)
        out = op.result.type
        q = _binary(rw, "div", [x, y], out, 6)
        qy = _binary(rw, "mul", [q, y], out, 6)
        rw.replace(op, _binary(rw, "sub", [x, qy], out, 6))
        return None


class LegalizeLogical(RewritePattern):
    """stablehlo.and/or/xor(a: i1, b: i1) -> tfl.logical_and / logical_or / not_equal"""

    root = tuple(LOGICAL)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        if x.type.dtype != "i1":
            return rw.fail(f"bitwise {op.name[10:]} on {x.type.dtype} has no TFL builtin")
        tfl_name, max_rank = LOGICAL[op.name]
        rw.replace(op, _binary(rw, tfl_name, [x, y], op.result.type, max_rank))
        return None


class LegalizeNot(RewritePattern):
    """stablehlo.not(x: i1) -> tfl.logical_not(x)"""

    root = "stablehlo.not"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.operands[0].type.dtype != "i1":
            return rw.fail("bitwise not of integers has no TFL builtin")
        rw.replace_with_new(op, "tfl.logical_not", [op.operands[0]])
        return None


class LegalizeUnary(RewritePattern):
    """stablehlo.exponential(x) -> tfl.exp(x) (and the other 1:1 unary ops)"""

    root = tuple(UNARY)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        name = UNARY[op.name]
        x = op.operands[0]
        if why := kernel_dtype_reason("tfl." + name, x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl." + name, [x])
        return None


class LegalizeLogPlusOne(RewritePattern):
    """stablehlo.log_plus_one(x) -> tfl.log(tfl.add(x, 1)) (as the official converter)"""

    root = "stablehlo.log_plus_one"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.dtype != "f32" or x.type.is_quantized:
            return rw.fail("only f32 log_plus_one is legalized")
        one = scalar_const(rw, 1.0, "f32")
        plus = create_tfl(rw, "add", [x, one], [x.type], **NONE_ACT).result
        rw.replace_with_new(op, "tfl.log", [plus])
        return None


class LegalizeExpMinusOne(RewritePattern):
    """stablehlo.exponential_minus_one(x) -> tfl.sub(tfl.exp(x), 1)"""

    root = "stablehlo.exponential_minus_one"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.dtype != "f32" or x.type.is_quantized:
            return rw.fail("only f32 exponential_minus_one is legalized")
        e = create_tfl(rw, "exp", [x], [x.type]).result
        one = scalar_const(rw, 1.0, "f32")
        rw.replace_with_new(op, "tfl.sub", [e, one], dict(NONE_ACT))
        return None


class LegalizeIsFinite(RewritePattern):
    """stablehlo.is_finite(x) -> tfl.equal(tfl.sub(x, x), 0) (inf - inf and NaN - NaN are NaN,
    which equals nothing)"""

    root = "stablehlo.is_finite"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.dtype not in ("f32", "f16") or x.type.is_quantized:
            return rw.fail("only f32/f16 is_finite is legalized")
        diff = create_tfl(rw, "sub", [x, x], [x.type], **NONE_ACT).result
        zero = scalar_const(rw, 0.0, x.type.dtype)
        rw.replace_with_new(op, "tfl.equal", [diff, zero])
        return None


class LegalizeCompare(RewritePattern):
    """stablehlo.compare(x, y){comparison_direction = GT} -> tfl.greater(x, y) (EQ, NE, GE,
    LE, LT likewise)"""

    root = "stablehlo.compare"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        direction = text(op.attributes.get("comparison_direction")).upper()
        if direction not in COMPARE:
            return rw.fail(f"unknown comparison_direction {direction!r}")
        kind = text(op.attributes.get("compare_type")).upper()
        if kind == "TOTALORDER" and x.type.is_float:
            return rw.fail("TOTALORDER float comparison (NaN/-0 ordering) has no TFL builtin")
        if kind == "UNSIGNED" and x.type.dtype.startswith("i") and x.type.dtype != "i1":
            return rw.fail("UNSIGNED comparison of signed integers has no TFL builtin")
        name = COMPARE[direction]
        if why := kernel_dtype_reason("tfl." + name, x):
            return rw.fail(why)
        rw.replace(op, _binary(rw, name, [x, y], op.result.type, 4))
        return None


class LegalizeSelect(RewritePattern):
    """stablehlo.select(pred, a, b) -> tfl.select_v2(pred, a, b) (a scalar or broadcast
    predicate broadcasts in the kernel)"""

    root = "stablehlo.select"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        operands = list(op.operands)
        if why := kernel_dtype_reason("tfl.select_v2", operands[1], 1):
            return rw.fail(why)
        operands = implicit_broadcast(rw, operands, op.result.type, 5)
        rw.replace_with_new(op, "tfl.select_v2", operands)
        return None


class LegalizeClamp(RewritePattern):
    """stablehlo.clamp(lo, x, hi) -> tfl.minimum(tfl.maximum(x, lo), hi)"""

    root = "stablehlo.clamp"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        lo, x, hi = op.operands
        if why := kernel_dtype_reason("tfl.maximum", x):
            return rw.fail(why)
        out = op.result.type
        low = _binary(rw, "maximum", [x, lo], out, 5)
        rw.replace(op, _binary(rw, "minimum", [low, hi], out, 5))
        return None


class LegalizeConvert(RewritePattern):
    """stablehlo.convert(x) -> tfl.cast(x); to the same type -> x"""

    root = "stablehlo.convert"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        src, dst = x.type.dtype, op.result.type.dtype
        if x.type == op.result.type:
            rw.replace(op, x)
            return None
        if x.type.is_quantized or op.result.type.is_quantized:
            return rw.fail("quantized convert is not legalized")
        if not (kernel_accepts("tfl.cast", src) and kernel_accepts("tfl.cast", dst)):
            return rw.fail(f"tfl.cast does not convert {src} to {dst}")
        rw.replace_with_new(op, "tfl.cast", [x])
        return None


_FOLD_UNARY = {
    "stablehlo.rsqrt": lambda a: 1 / np.sqrt(a),
    "stablehlo.sqrt": np.sqrt,
    "stablehlo.exponential": np.exp,
    "stablehlo.log": np.log,
    "stablehlo.tanh": np.tanh,
    "stablehlo.logistic": lambda a: 1 / (1 + np.exp(-a)),
    "stablehlo.abs": np.abs,
    "stablehlo.negate": np.negative,
}
_FOLD_BINARY = {
    "stablehlo.add": np.add,
    "stablehlo.subtract": np.subtract,
    "stablehlo.multiply": np.multiply,
    "stablehlo.divide": np.divide,
    "stablehlo.maximum": np.maximum,
    "stablehlo.minimum": np.minimum,
}


class FoldConstantMath(RewritePattern):
    """stablehlo.rsqrt(const) / stablehlo.multiply(const, const) ... -> arith.constant (float
    math on constants, e.g. a BatchNorm's scale * rsqrt(var + eps), so `fuse` can fold it into
    the convolution; TF's size policy bounds the result)"""

    root = (*_FOLD_UNARY, *_FOLD_BINARY)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        out = op.result.type
        if not out.is_float or out.dtype not in ("f32", "f16") or not out.is_static:
            return rw.fail("only static f32/f16 results are folded")
        values = [constant_value(v) for v in op.operands]
        if any(v is None for v in values):
            return rw.fail("an operand is not a constant")
        arrays = [np.asarray(v) for v in values]
        size = int(np.prod(out.shape)) * np.dtype(out.dtype.replace("f", "float")).itemsize * 8
        if not fold_allowed(size, sum(array_bits(a) for a in arrays)):
            return rw.fail("the folded constant would be too large")
        fn = _FOLD_UNARY.get(op.name) or _FOLD_BINARY[op.name]
        with np.errstate(all="ignore"):
            result = np.asarray(fn(*arrays), dtype=arrays[0].dtype)
        rw.replace(op, const(rw, np.broadcast_to(result, out.shape).copy()))
        return None


PATTERNS: list[RewritePattern] = [
    FoldConstantMath(),
    LegalizeBinary(),
    LegalizeIntRemainder(),
    LegalizeLogical(),
    LegalizeNot(),
    LegalizeUnary(),
    LegalizeLogPlusOne(),
    LegalizeExpMinusOne(),
    LegalizeIsFinite(),
    LegalizeCompare(),
    LegalizeSelect(),
    LegalizeClamp(),
    LegalizeConvert(),
]
