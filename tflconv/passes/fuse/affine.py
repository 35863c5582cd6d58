"""Folding constant arithmetic into conv / depthwise / transpose-conv / fully_connected weights
and biases (bias-add fusion, batch-norm folding, constant scaling)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from tflconv.core.arrays import populate
from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location
from tflconv.dialects.tfl_traits import AFFINE
from tflconv.passes.legalize_tf.nn_expr import known_constant

from .util import (
    LAYOUT_OPS,
    absorb,
    act,
    bias_array,
    channel_vector,
    channels_of,
    const_operand,
    new_const,
    same_shape,
    set_bias,
    short,
    users_reason,
)


def _affine_and_const(op: Operation, rw: PatternRewriter, rhs_only: bool):
    """(producer, constant array) when `op` combines an affine op's output with a constant."""
    found = const_operand(op)
    if found is None:
        return rw.fail(f"{op.name} needs exactly one constant operand")
    x, c, index = found
    if rhs_only and index != 1:
        return rw.fail(f"{op.name} with the constant on the left does not fold")
    producer = x.defining_op
    if producer is None or producer.name not in AFFINE:
        return rw.fail(f"{op.name} input is not produced by conv/depthwise/fully_connected")
    if reason := users_reason(x, short(producer)):
        return rw.fail(reason)
    if act(producer) != "NONE":
        return rw.fail(f"{short(producer)} already has fused activation {act(producer)}")
    if not x.type.is_float:
        return rw.fail("only float ops fold constants")
    if not same_shape(op.result.type, x.type):
        return rw.fail(f"{op.name} broadcasts {short(producer)} output to another shape")
    return producer, c


class FuseBiasAdd(RewritePattern):
    """tfl.add/sub(affine(x, w, b), c) -> affine(x, w, b ± c)  (c one value per channel)"""

    root = ("tfl.add", "tfl.sub")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = _affine_and_const(op, rw, rhs_only=op.name == "tfl.sub")
        if found is None:
            return None
        producer, c = found
        channels = channels_of(producer)
        vec = channel_vector(c, channels) if channels else None
        if vec is None:
            return rw.fail(f"constant of shape {list(c.shape)} is not one value per channel")
        bias = bias_array(producer, channels, vec.dtype)  # type: ignore[arg-type]
        if bias is None:
            return rw.fail(f"{short(producer)} bias is not a float constant")
        new_bias = bias + vec if op.name == "tfl.add" else bias - vec
        set_bias(rw, producer, new_bias.astype(bias.dtype))
        absorb(rw, producer, op, act(op))


def _scale_weights(w: np.ndarray, vec: np.ndarray, axis: int, divide: bool) -> np.ndarray:
    shape = [1] * w.ndim
    shape[axis] = -1
    v = vec.reshape(shape)
    if np.result_type(w, v) != w.dtype:  # computed wider, rounded once to w's type
        return (w / v if divide else w * v).astype(w.dtype)
    out = np.empty_like(w)  # w's memory layout: a transposed weight stays one for the writer
    populate(out)
    return (np.divide if divide else np.multiply)(w, v, out=out)


def _scale_into_affine(
    rw: PatternRewriter,
    op: Operation,
    producer: Operation,
    c: np.ndarray,
    channel_vec: Callable[[int], np.ndarray | None],
) -> str | None:
    """Fold `op` (a mul or div by the constant `channel_vec(channels)` gives per output
    channel) into `producer`'s weights and bias; returns why not, changing nothing then."""
    affine = AFFINE[producer.name]
    w = known_constant(producer.operands[affine.weight])
    if w is None or w.dtype.kind != "f":
        return f"{short(producer)} weights are not a float constant"
    channels = w.shape[affine.axis]
    vec = channel_vec(channels)
    if vec is None:
        return f"constant of shape {list(c.shape)} is not one value per channel"
    divide = op.name == "tfl.div"
    if divide and not np.all(vec):
        return "division by zero does not fold"
    bias = bias_array(producer, channels, w.dtype)
    if bias is None:
        return f"{short(producer)} bias is not a float constant"
    new_w = new_const(rw, _scale_weights(w, vec, affine.axis, divide), producer)
    with rw.modify(producer):
        producer.set_operand(affine.weight, new_w)
    b = affine.bias
    if b < producer.num_operands and producer.operands[b].type.dtype != "none":
        set_bias(rw, producer, (bias / vec if divide else bias * vec).astype(bias.dtype))
    return None


class FuseMulIntoAffine(RewritePattern):
    """tfl.mul/div(affine(x, w, b), c) -> affine(x, w*c, b*c)  (c one value per channel)"""

    root = ("tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = _affine_and_const(op, rw, rhs_only=op.name == "tfl.div")
        if found is None:
            return None
        producer, c = found
        if reason := _scale_into_affine(rw, op, producer, c, partial(channel_vector, c)):
            return rw.fail(reason)
        absorb(rw, producer, op, act(op))


class FuseInputScaleIntoFullyConnected(RewritePattern):
    """tfl.fully_connected(tfl.mul(x, c), w, b) -> tfl.fully_connected(x, w*c, b)
    and tfl.fully_connected(tfl.add(x, c), w, b) -> tfl.fully_connected(x, w, b + w@c)
    (c one value per input feature)"""

    root = "tfl.fully_connected"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        pre = x.defining_op
        if pre is None or pre.name not in ("tfl.mul", "tfl.add", "tfl.sub"):
            return rw.fail("fully_connected input is not a mul/add by a constant")
        if act(pre) != "NONE":
            return rw.fail(f"{pre.name} has a fused activation")
        if reason := users_reason(x, pre.name.removeprefix("tfl.")):
            return rw.fail(reason)
        found = const_operand(pre)
        if found is None or (pre.name == "tfl.sub" and found[2] != 1):
            return rw.fail(f"{pre.name} needs one constant operand on the right")
        inner, c, _ = found
        w = known_constant(op.operands[1])
        if w is None or w.ndim != 2 or w.dtype.kind != "f":
            return rw.fail("fully_connected weights are not a 2-D float constant")
        if not same_shape(inner.type, x.type):
            return rw.fail(f"{pre.name} broadcasts its input to another shape")
        vec = channel_vector(c, w.shape[1])
        if vec is None:
            return rw.fail(f"constant of shape {list(c.shape)} is not one value per input feature")
        if pre.name == "tfl.mul":
            with rw.modify(op):
                op.set_operand(1, new_const(rw, (w * vec[None, :]).astype(w.dtype), op))
        else:
            bias = bias_array(op, w.shape[0], w.dtype)
            if bias is None:
                return rw.fail("fully_connected bias is not a float constant")
            shift = w.astype(np.float64) @ vec.astype(np.float64)
            total = bias + (shift if pre.name == "tfl.add" else -shift)
            set_bias(rw, op, total.astype(w.dtype))
        with rw.modify(op):
            op.set_operand(0, inner)
        rw.erase(pre)


class FuseInputScaleIntoConv(RewritePattern):
    """conv_2d/depthwise_conv_2d(tfl.mul(x, c), w) -> conv(x, w*c)  (c a scalar or one value
    per input channel; zero padding commutes with scaling, so SAME stays exact)"""

    root = ("tfl.conv_2d", "tfl.depthwise_conv_2d")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        pre = x.defining_op
        if pre is None or pre.name not in ("tfl.mul", "tfl.div") or act(pre) != "NONE":
            return rw.fail("conv input is not a plain mul/div by a constant")
        if reason := users_reason(x, pre.name.removeprefix("tfl.")):
            return rw.fail(reason)
        found = const_operand(pre)
        if found is None or (pre.name == "tfl.div" and found[2] != 1):
            return rw.fail(f"{pre.name} needs one constant operand (on the right for div)")
        inner, c, _ = found
        w = known_constant(op.operands[1])
        if w is None or w.dtype.kind != "f" or w.ndim != 4 or not same_shape(inner.type, x.type):
            return rw.fail("conv weights are not a float constant, or the mul broadcasts")
        cin = x.type.shape[-1] if x.type.shape else None
        vec = channel_vector(c, cin) if cin else None
        if vec is None:
            return rw.fail(f"constant of shape {list(c.shape)} is not one value per input channel")
        if pre.name == "tfl.div":
            if not np.all(vec):
                return rw.fail("division by zero does not fold")
            vec = (1.0 / vec.astype(np.float64)).astype(vec.dtype)
        if op.name == "tfl.conv_2d":
            if w.shape[3] != cin and not np.all(vec == vec[0]):
                return rw.fail("per-channel input scales of a grouped conv do not fold")
            scale = vec[: w.shape[3]] if w.shape[3] != cin else vec
            new_w = w * scale.reshape(1, 1, 1, -1)
        else:  # depthwise: output channel k reads input channel k // multiplier
            new_w = w * np.repeat(vec, w.shape[3] // cin).reshape(1, 1, 1, -1)
        with rw.modify(op):
            op.set_operand(1, new_const(rw, new_w.astype(w.dtype), op))
            op.set_operand(0, inner)
            op.location = fused_location([op, pre])
        rw.erase(pre)


def channel_vector_through(layout: Operation, c: np.ndarray, channels: int) -> np.ndarray | None:
    """`c` (added after `layout`) as one value per channel of the layout op's input, whose last
    dim holds the channels; None when `c` mixes channels with other positions."""
    if c.dtype.kind != "f":
        return None
    if c.size == 1:  # a scalar is the same for every channel, whatever the layout
        return np.full([channels], c.reshape(()), dtype=c.dtype)
    src, dst = layout.operands[0].type.shape, layout.result.type.shape
    if src is None or dst is None or src[-1] != channels:
        return None
    if layout.name == "tfl.transpose":
        perm = known_constant(layout.operands[1])
        if perm is None or c.ndim > len(dst):
            return None
        k = [int(p) for p in perm.reshape(-1)].index(len(src) - 1)
        full = c.reshape((1,) * (len(dst) - c.ndim) + c.shape)
        if any(d != 1 for i, d in enumerate(full.shape) if i != k):
            return None
        return channel_vector(full.reshape(-1), channels)
    if dst[-1] == channels:  # a reshape keeping the channel dim (squeeze, expand, flatten)
        return channel_vector(c, channels)
    # A reshape splitting the channel dim: c must cover exactly the split dims.
    core = c.reshape([1]) if c.ndim == 0 else c
    while core.ndim > 1 and core.shape[0] == 1:
        core = core.reshape(core.shape[1:])
    k = core.ndim
    if (
        core.size != channels
        or len(dst) < k
        or tuple(dst[-k:]) != tuple(core.shape)
        or tuple(src[:-1]) != tuple(dst[:-k])
    ):
        return None
    return core.reshape(-1)


def _affine_through_layout(
    op: Operation, right_only: str
) -> tuple[Operation, Operation, np.ndarray] | str:
    """`op(layout(affine(...)), c)` with plain single uses: (layout, affine, c), or why not.
    `right_only` is the op name whose constant must be the right operand (sub, div)."""
    found = const_operand(op)
    if found is None or (op.name == right_only and found[2] != 1):
        side = right_only.removeprefix("tfl.")
        return f"{op.name} needs one constant operand (on the right for {side})"
    r, c, _ = found
    layout = r.defining_op
    if layout is None or layout.name not in LAYOUT_OPS:
        return f"{op.name} input is not a reshape/transpose"
    producer = layout.operands[0].defining_op
    if producer is None or producer.name not in AFFINE:
        return f"{layout.name} input is not conv/depthwise/fully_connected"
    if reason := users_reason(r, layout.name.removeprefix("tfl.")) or users_reason(
        layout.operands[0], short(producer)
    ):
        return reason
    if act(producer) != "NONE" or act(op) != "NONE" or not r.type.is_float:
        return "fused activations or non-float types do not fold through a layout op"
    if not same_shape(op.result.type, r.type):
        return f"{op.name} broadcasts the {layout.name} output to another shape"
    return layout, producer, c


class FuseBiasAddThroughLayout(RewritePattern):
    """tfl.add/sub(layout(affine(x, w, b)), c) -> layout(affine(x, w, b ± c'))  where layout is
    a reshape or transpose that keeps each element's channel (c' = c mapped back to channels)"""

    root = ("tfl.add", "tfl.sub")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = _affine_through_layout(op, "tfl.sub")
        if isinstance(found, str):
            return rw.fail(found)
        layout, producer, c = found
        channels = channels_of(producer)
        vec = channel_vector_through(layout, c, channels) if channels else None
        if vec is None:
            return rw.fail(f"constant of shape {list(c.shape)} is not one value per channel")
        bias = bias_array(producer, channels, vec.dtype)  # type: ignore[arg-type]
        if bias is None:
            return rw.fail(f"{short(producer)} bias is not a float constant")
        new_bias = bias + vec if op.name == "tfl.add" else bias - vec
        set_bias(rw, producer, new_bias.astype(bias.dtype))
        absorb(rw, layout, op)


class FuseMulThroughLayout(RewritePattern):
    """tfl.mul/div(layout(affine(x, w, b)), c) -> layout(affine(x, w*c', b*c'))  where layout is
    a reshape or transpose that keeps each element's channel (c' = c mapped back to channels):
    the attention scale after Keras EinsumDense's head split folds into the query weights"""

    root = ("tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = _affine_through_layout(op, "tfl.div")
        if isinstance(found, str):
            return rw.fail(found)
        layout, producer, c = found
        channel_vec = partial(channel_vector_through, layout, c)
        if reason := _scale_into_affine(rw, op, producer, c, channel_vec):
            return rw.fail(reason)
        absorb(rw, layout, op)


class FuseScaleIntoMatmulOperand(RewritePattern):
    """tfl.mul(tfl.batch_matmul(x, y), c) -> tfl.batch_matmul(x', y)  (c a scalar constant; x'
    is x with c folded into the constant, or into the weights and bias of the affine op behind
    reshapes/transposes: the attention scale on the scores folds into the query projection)"""

    root = ("tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = const_operand(op)
        if found is None or (op.name == "tfl.div" and found[2] != 1):
            return rw.fail(f"{op.name} needs one constant operand (on the right for div)")
        z, c, _ = found
        mm = z.defining_op
        if mm is None or mm.name != "tfl.batch_matmul":
            return rw.fail(f"{op.name} input is not a batch_matmul")
        if c.size != 1 or c.dtype.kind != "f" or act(op) != "NONE":
            return rw.fail("only a scalar float scale without activation folds into an operand")
        if reason := users_reason(z, "batch_matmul"):
            return rw.fail(reason)
        if not same_shape(op.result.type, z.type) or not z.type.is_float:
            return rw.fail(f"{op.name} changes the batch_matmul's type")
        k = float(c.reshape(()))
        if op.name == "tfl.div":
            if k == 0.0:
                return rw.fail("division by zero does not fold")
            k = 1.0 / k
        for index in (0, 1):
            target = _scalable(mm.operands[index])
            if target is None:
                continue
            if isinstance(target, Operation):
                scale_affine(rw, target, k)
            else:
                arr = known_constant(target)
                assert arr is not None
                with rw.modify(mm):
                    mm.set_operand(index, new_const(rw, (arr * k).astype(arr.dtype), mm, target))
            absorb(rw, mm, op)
            return None
        return rw.fail("neither batch_matmul operand is a constant or a single-use affine output")


def _scalable(v: Value) -> Operation | Value | None:
    """What a scale of `v` can fold into: `v` itself when a float constant, else the affine
    op (float constant weights, no activation) behind single-use reshapes/transposes."""
    arr = known_constant(v)
    if arr is not None:
        return v if arr.dtype.kind == "f" and v.type.quant is None else None
    while v.defining_op is not None and v.defining_op.name in LAYOUT_OPS and v.num_uses == 1:
        v = v.defining_op.operands[0]
    producer = v.defining_op
    if producer is None or producer.name not in AFFINE or v.num_uses != 1:
        return None
    if act(producer) != "NONE" or not v.type.is_float:
        return None
    affine = AFFINE[producer.name]
    w_index, axis = affine.weight, affine.axis
    w = known_constant(producer.operands[w_index])
    if w is None or w.dtype.kind != "f" or bias_array(producer, w.shape[axis], w.dtype) is None:
        return None
    return producer


def scale_affine(rw: PatternRewriter, producer: Operation, k: float) -> None:
    affine = AFFINE[producer.name]
    w_index, b_index, axis = affine.weight, affine.bias, affine.axis
    w = known_constant(producer.operands[w_index])
    assert w is not None
    with rw.modify(producer):
        producer.set_operand(w_index, new_const(rw, (w * k).astype(w.dtype), producer))
    if b_index < producer.num_operands and producer.operands[b_index].type.dtype != "none":
        bias = bias_array(producer, w.shape[axis], w.dtype)
        assert bias is not None
        set_bias(rw, producer, (bias * k).astype(bias.dtype))


PATTERNS: list[RewritePattern] = [
    FuseBiasAdd(),
    FuseMulIntoAffine(),
    FuseInputScaleIntoFullyConnected(),
    FuseInputScaleIntoConv(),
    FuseBiasAddThroughLayout(),
    FuseMulThroughLayout(),
    FuseScaleIntoMatmulOperand(),
]
