"""Shared helpers of the fusion rules: constant operands, per-channel vectors, absorbing one op
into another (fused location and tensor name), users checks with specific reasons."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant
from tflconv.core.rewrite import PatternRewriter, fused_location
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_traits import AFFINE
from tflconv.passes.legalize_tf.nn_expr import known_constant

LAYOUT_OPS = ("tfl.reshape", "tfl.transpose")
"""Ops that only move elements: an elementwise activation or scale moves across them."""

SHORT = {
    "tfl.conv_2d": "conv",
    "tfl.depthwise_conv_2d": "depthwise conv",
    "tfl.transpose_conv": "transpose conv",
    "tfl.fully_connected": "fully_connected",
    "tfl.conv_3d": "conv 3-D",
    "tfl.conv_3d_transpose": "conv 3-D transpose",
    "tfl.add": "add",
    "tfl.sub": "sub",
    "tfl.mul": "mul",
    "tfl.div": "div",
    "tfl.average_pool_2d": "average pool",
    "tfl.max_pool_2d": "max pool",
}
"""The op names fusion reasons use ("conv output has 2 users")."""


def short(op: Operation) -> str:
    return SHORT.get(op.name, op.name)


def act(op: Operation) -> str:
    return op.attributes.get("fused_activation_function", "NONE")


def users_reason(v: Value, what: str) -> str | None:
    """A refusal when `v` feeds more than one use ("conv output has 2 users")."""
    n = v.num_uses
    if n != 1:
        return f"{what} output has {n} users"
    return None


def const_operand(op: Operation) -> tuple[Value, np.ndarray, int] | None:
    """For a binary op with exactly one constant operand: (other operand, array, its index)."""
    a, b = op.operands[:2]
    ca, cb = known_constant(a), known_constant(b)
    if cb is not None and ca is None:
        return a, cb, 1
    if ca is not None and cb is None:
        return b, ca, 0
    return None


def channel_vector(c: np.ndarray, channels: int) -> np.ndarray | None:
    """`c` as one value per output channel when it broadcasts along the last dim only."""
    if c.dtype.kind != "f":
        return None
    if c.size == 1:
        return np.full([channels], c.reshape(()), dtype=c.dtype)
    if c.size != channels or c.ndim == 0 or c.shape[-1] != channels:
        return None
    return c.reshape([channels])


def channels_of(op: Operation) -> int | None:
    affine = AFFINE[op.name]
    w_index, axis = affine.weight, affine.axis
    shape = op.operands[w_index].type.shape
    if shape is None or len(shape) <= axis:
        return None
    return shape[axis]


def bias_array(op: Operation, channels: int, dtype: np.dtype) -> np.ndarray | None:
    """The op's bias as an array (zeros when absent); None when it is not a constant."""
    b_index = AFFINE[op.name].bias
    if b_index >= op.num_operands or op.operands[b_index].type.dtype == "none":
        return np.zeros([channels], dtype=dtype)
    arr = known_constant(op.operands[b_index])
    if arr is None or arr.dtype.kind != "f":
        return None
    return arr.reshape([channels])


def new_const(
    rw: PatternRewriter, array: np.ndarray, anchor: Operation, like: Value | None = None
) -> Value:
    """A fresh constant before `anchor` (never edit a shared constant in place). Any memory
    layout: a transposed weight stays a view until the writer copies it."""
    array = np.asarray(array)
    t = TensorType.of(array)
    if like is not None and like.type.quant is not None:
        t = t.with_quant(like.type.quant)
    return rw.insert(constant(array, anchor.location, None, t), before=anchor).result


def set_bias(rw: PatternRewriter, op: Operation, bias: np.ndarray) -> None:
    """Give an affine op a constant bias (the operand is appended when it was left off)."""
    b_index = AFFINE[op.name].bias
    value = new_const(rw, bias, op)
    with rw.modify(op):
        if b_index < op.num_operands:
            op.set_operand(b_index, value)
        else:
            op.set_operands([*op.operands, value])


def absorb(
    rw: PatternRewriter, keeper: Operation, gone: Operation, fused_act: str | None = None
) -> None:
    """`keeper` now computes what `gone` computed: fuse locations and tensor names, set the
    fused activation if given, and replace `gone` with `keeper`'s result."""
    with rw.modify(keeper):
        keeper.location = fused_location([gone, keeper])
        if fused_act is not None:
            keeper.attributes["fused_activation_function"] = fused_act
    # The value now stands for `gone`'s output; the writer names the tensor after the fused
    # location (`a;b`, like the official converter), so the IR keeps short names.
    if gone.result.name_hint:
        keeper.result.name_hint = gone.result.name_hint
    rw.replace(gone, keeper.result)


def same_shape(a: TensorType, b: TensorType) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype
