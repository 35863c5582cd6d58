"""Legalization patterns: elementwise TF ops with no builtin of their own, written as the small
tfl expressions the official converter produces for them (its TF->TF lowering in lower_tf.td,
run inside legalize-tf through `PopulateLoweringTFPatterns`, and legalize_patterns.td).

IsFinite, Expm1, Softsign and the gradient ops the official converter lowers: SigmoidGrad,
TanhGrad, RsqrtGrad, SqrtGrad, SeluGrad and BiasAddGrad. (ReluGrad, Relu6Grad, EluGrad,
SoftplusGrad, ReciprocalGrad have no lowering there and stay tf.*, as with the official.)
The kernels these expand into run on float32 only: float16 operands are carried in float32
between CASTs (exact for IsFinite; the others round once at the end where TF's half kernels may
round per step), other types are refused.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from .common import const, create_tfl, scalar_const
from .nn_util import data_format

NONE_ACT = {"fused_activation_function": "NONE"}

SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALED_ALPHA = 1.7580993408473768599402175208123


def _f32_reason(op: Operation) -> str | None:
    """Why `op` cannot be lowered: its kernels (SUB, MUL, DIV, EXP, ...) run on float32 only,
    and only float16 converts to it and back without loss."""
    for v in op.operands:
        if v.type.dtype not in ("f32", "f16") or v.type.is_quantized:
            return (
                f"{op.name} is lowered for float32 only (got {v.type.dtype}): its kernels are f32"
            )
    return None


def _f32(rw: PatternRewriter, v: Value) -> Value:
    """A float16 `v` as float32 (a tfl.cast); other types unchanged."""
    if v.type.dtype != "f16":
        return v
    return create_tfl(rw, "cast", [v], [v.type.with_dtype("f32")]).result


def _operands(rw: PatternRewriter, op: Operation) -> list[Value]:
    return [_f32(rw, v) for v in op.operands]


def _f32_type(op: Operation) -> TensorType:
    """The result type of `op` with float16 computed as float32."""
    t = op.result.type
    return t.with_dtype("f32") if t.dtype == "f16" else t


def _done(rw: PatternRewriter, op: Operation, v: Value) -> None:
    """Replace `op` by `v`, cast back to float16 when that was the op's type."""
    want = op.result.type.dtype
    if v.type.dtype != want:
        v = create_tfl(rw, "cast", [v], [op.result.type]).result
    rw.replace(op, v)


def _binary(rw: PatternRewriter, name: str, a: Value, b: Value, out: TensorType) -> Value:
    attrs = NONE_ACT if name in ("add", "sub", "mul", "div") else {}
    return create_tfl(rw, name, [a, b], [out], **attrs).result


def _unary(rw: PatternRewriter, name: str, x: Value) -> Value:
    return create_tfl(rw, name, [x], [x.type]).result


class LegalizeIsFinite(RewritePattern):
    """tf.IsFinite(x) -> tfl.equal(tfl.sub(x, x), 0)  (x - x is NaN exactly for inf and NaN)"""

    root = "tf.IsFinite"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        (x,) = _operands(rw, op)
        diff = _binary(rw, "sub", x, x, x.type)
        rw.replace_with_new(op, "tfl.equal", [diff, scalar_const(rw, 0.0, "f32")])
        return None


class LegalizeExpm1(RewritePattern):
    """tf.Expm1(x) -> tfl.sub(tfl.exp(x), 1)  (the official lowering: absolute error of a float32
    ulp of 1 near x = 0, not expm1's relative accuracy there)"""

    root = "tf.Expm1"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        (x,) = _operands(rw, op)
        e = _unary(rw, "exp", x)
        _done(rw, op, _binary(rw, "sub", e, scalar_const(rw, 1.0, "f32"), x.type))
        return None


class LegalizeSoftsign(RewritePattern):
    """tf.Softsign(x) -> tfl.div(x, tfl.add(tfl.abs(x), 1))"""

    root = "tf.Softsign"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        (x,) = _operands(rw, op)
        denom = _binary(rw, "add", _unary(rw, "abs", x), scalar_const(rw, 1.0, "f32"), x.type)
        _done(rw, op, _binary(rw, "div", x, denom, x.type))
        return None


class LegalizeSigmoidGrad(RewritePattern):
    """tf.SigmoidGrad(y, dy) -> tfl.mul(dy, tfl.mul(y, tfl.sub(1, y)))"""

    root = "tf.SigmoidGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        y, dy = _operands(rw, op)
        one_minus = _binary(rw, "sub", scalar_const(rw, 1.0, "f32"), y, y.type)
        product = _binary(rw, "mul", y, one_minus, y.type)
        _done(rw, op, _binary(rw, "mul", dy, product, _f32_type(op)))
        return None


class LegalizeTanhGrad(RewritePattern):
    """tf.TanhGrad(y, dy) -> tfl.mul(dy, tfl.sub(1, tfl.square(y)))"""

    root = "tf.TanhGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        y, dy = _operands(rw, op)
        one_minus = _binary(
            rw, "sub", scalar_const(rw, 1.0, "f32"), _unary(rw, "square", y), y.type
        )
        _done(rw, op, _binary(rw, "mul", dy, one_minus, _f32_type(op)))
        return None


class LegalizeRsqrtGrad(RewritePattern):
    """tf.RsqrtGrad(y, dy) -> tfl.mul(y*y*y, tfl.mul(dy, -0.5))  (the official `dy / -2`, which
    its optimizer turns into the same multiplication)"""

    root = "tf.RsqrtGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        y, dy = _operands(rw, op)
        cube = _binary(rw, "mul", _binary(rw, "mul", y, y, y.type), y, y.type)
        half = _binary(rw, "mul", dy, scalar_const(rw, -0.5, "f32"), dy.type)
        _done(rw, op, _binary(rw, "mul", cube, half, _f32_type(op)))
        return None


class LegalizeSqrtGrad(RewritePattern):
    """tf.SqrtGrad(y, dy) -> tfl.div(tfl.mul(dy, 0.5), y)"""

    root = "tf.SqrtGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        y, dy = _operands(rw, op)
        half = _binary(rw, "mul", dy, scalar_const(rw, 0.5, "f32"), dy.type)
        _done(rw, op, _binary(rw, "div", half, y, _f32_type(op)))
        return None


class LegalizeSeluGrad(RewritePattern):
    """tf.SeluGrad(g, out) -> tfl.select(out < 0, g * (out + scale*alpha), g * scale)

    TF's kernel tests `outputs < 0`; the official lowering tests `outputs > 0` with the branches
    swapped, which differs at outputs == 0 (there TF gives g * scale). The TF test is used."""

    root = "tf.SeluGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _f32_reason(op):
            return rw.fail(reason)
        if op.operands[0].type.shape != op.operands[1].type.shape:
            return rw.fail("gradients and outputs have different shapes")
        g, out = _operands(rw, op)
        neg = create_tfl(
            rw, "less", [out, scalar_const(rw, 0.0, "f32")], [out.type.with_dtype("i1")]
        ).result
        shifted = _binary(rw, "add", out, scalar_const(rw, SELU_SCALED_ALPHA, "f32"), out.type)
        below = _binary(rw, "mul", g, shifted, g.type)
        above = _binary(rw, "mul", g, scalar_const(rw, SELU_SCALE, "f32"), g.type)
        name = "tfl.select" if g.type.is_static else "tfl.select_v2"
        _done(rw, op, create_tfl(rw, name, [neg, below, above], [g.type]).result)
        return None


class LegalizeBiasAddGrad(RewritePattern):
    """tf.BiasAddGrad(dy){data_format} -> tfl.sum(dy, every axis but the channel axis)"""

    root = "tf.BiasAddGrad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        dy = op.operands[0]
        if dy.type.is_quantized:
            return rw.fail("BiasAddGrad of quantized values is not lowered")
        if why := kernel_dtype_reason("tfl.sum", dy):
            return rw.fail(why)
        rank = dy.type.rank
        if rank is None or rank < 2:
            return rw.fail("BiasAddGrad needs a ranked input of rank >= 2")
        fmt = data_format(op)
        channel = 1 if fmt.startswith("NC") and fmt != "NC" else rank - 1
        axes = [d for d in range(rank) if d != channel]
        axes_v = const(rw, np.asarray(axes, dtype=np.int32))
        total = create_tfl(rw, "sum", [_f32(rw, dy), axes_v], [_f32_type(op)], keep_dims=False)
        _done(rw, op, total.result)
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeIsFinite(),
    LegalizeExpm1(),
    LegalizeSoftsign(),
    LegalizeSigmoidGrad(),
    LegalizeTanhGrad(),
    LegalizeRsqrtGrad(),
    LegalizeSqrtGrad(),
    LegalizeSeluGrad(),
    LegalizeBiasAddGrad(),
]
