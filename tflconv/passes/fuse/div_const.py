"""Division by a constant as multiplication by its reciprocal, as the official converter does
(grappler's `ConstantFolding::ReduceDivToReciprocalMul` runs before the TFLite passes:
`Div(x, c)` -> `Mul(x, Reciprocal(c))`, then `Reciprocal(c)` folds).

Why it matters: LiteRT has no int8 DIV kernel, so a division left in the graph stays float
between a dequantize and a quantize in full-integer models (the `/ 6` of a hard sigmoid gate in
MobileNetV3-style squeeze-excite blocks), while MUL runs in int8 and its constant operand
quantizes like any other. In float models x * (1/c) differs from x / c by at most one rounding
of 1/c (exact for powers of two); the official float models carry the same MUL.

The rule runs in fuse's affine phase, after the rules that fold a division into a conv's
weights or recognise hard-swish / rsqrt / L2 normalisation from it, so those keep their exact
float arithmetic.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, constant
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType
from tflconv.passes.legalize_tf.nn_expr import known_constant

from .util import act


class DivByConstantToMul(RewritePattern):
    """tfl.div(x, c){act} -> tfl.mul(x, 1/c){act}  (float constant c without zeros, whose
    reciprocal is a normal float)"""

    root = "tfl.div"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, divisor = op.operands
        c = known_constant(divisor)
        if c is None:
            return rw.fail("divisor is not a constant")
        if known_constant(x) is not None:
            return rw.fail("both operands are constant (left to constant folding)")
        if c.dtype.kind != "f" or not x.type.is_float or x.type.dtype != op.result.type.dtype:
            return rw.fail("integer division (x / c truncates; no reciprocal)")
        if x.type.is_quantized or op.result.type.is_quantized:
            return rw.fail("quantized division (the scales were chosen for DIV)")
        if not np.all(np.isfinite(c)) or np.any(c == 0):
            return rw.fail("divisor has zeros or non-finite values (x / 0 is not x * inf)")
        info = np.finfo(c.dtype)
        with np.errstate(over="ignore"):
            recip = (c.dtype.type(1) / c).astype(c.dtype)
        if not np.all(np.isfinite(recip)) or np.any(np.abs(recip) < info.tiny):
            return rw.fail("1 / c overflows or is subnormal (the product would differ)")
        # not util.new_const: its ascontiguousarray would make a 0-d divisor 1-d
        recip = np.asarray(recip, c.dtype).reshape(c.shape)
        recip_v = rw.insert(
            constant(recip, op.location, None, TensorType.of(recip)), before=op
        ).result
        mul = rw.create(
            "tfl.mul",
            [x, recip_v],
            [op.result.type],
            {"fused_activation_function": act(op)},
            location=op.location,
        )
        if op.result.name_hint:
            mul.result.name_hint = op.result.name_hint
        rw.replace(op, mul.result)
        return None


PATTERNS: list[RewritePattern] = [DivByConstantToMul()]
