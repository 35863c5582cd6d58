"""Structural rules: identity arithmetic, pad folding into SAME padding, dilated convolutions
written as space_to_batch -> conv -> batch_to_space, and reshape -> fully_connected -> reshape."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location
from tflconv.passes.legalize_tf.nn_expr import known_constant
from tflconv.passes.legalize_tf.nn_util import same_pads

from .util import act, const_operand, new_const, users_reason

CONVS = ("tfl.conv_2d", "tfl.depthwise_conv_2d")


class RemoveIdentityArithmetic(RewritePattern):
    """tfl.add(x, 0) | tfl.sub(x, 0) | tfl.mul(x, 1) | tfl.div(x, 1) -> x  (same type only)"""

    root = ("tfl.add", "tfl.sub", "tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = const_operand(op)
        if found is None:
            return rw.fail(f"{op.name} has no constant operand")
        x, c, index = found
        neutral = 0 if op.name in ("tfl.add", "tfl.sub") else 1
        if op.name in ("tfl.sub", "tfl.div") and index != 1:
            return rw.fail(f"{op.name} with the constant on the left is not an identity")
        if c.dtype == object or not np.all(c == neutral):
            return rw.fail(f"constant is not all {neutral}")
        if act(op) != "NONE":
            return rw.fail(f"{op.name} has fused activation {act(op)}")
        if x.type != op.result.type:
            return rw.fail(f"{op.name} broadcasts its input to {op.result.type.shape}")
        if x.type.is_quantized:
            return rw.fail("a quantized constant's stored zeros are not real zeros")
        rw.replace(op, x)


def _pads(v: Value) -> np.ndarray | None:
    arr = known_constant(v)
    if arr is None or arr.shape != (4, 2):
        return None
    return np.asarray(arr, dtype=np.int64)


def _same_equivalent(
    x: Value, pads: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], dil=(1, 1)
) -> str | None:
    """None when padding `x` by `pads` is exactly what SAME padding does, else why not."""
    shape = x.type.shape
    if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
        return "padded input needs static height and width"
    if pads[0].any() or pads[3].any():
        return "pad touches batch or channels"
    for i in (0, 1):
        want = same_pads(shape[1 + i], kernel[i], strides[i], dil[i])
        if tuple(int(p) for p in pads[1 + i]) != want:
            return f"padding {pads[1 + i].tolist()} is not SAME's {list(want)}"
    return None


def _absorb_pad(rw: PatternRewriter, op: Operation, pad: Operation) -> None:
    """op(pad(x)){VALID} -> op(x){SAME} once the padding is known to be SAME's."""
    with rw.modify(op):
        op.set_operand(0, pad.operands[0])
        op.attributes["padding"] = "SAME"
        op.location = fused_location([op, pad])
    rw.erase(pad)


class FoldPadIntoConv(RewritePattern):
    """conv_2d/depthwise_conv_2d(tfl.pad(x, p)){VALID} -> conv(x){SAME}  when p is exactly
    SAME's padding"""

    root = CONVS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.attr("padding") != "VALID":
            return rw.fail("conv padding is not VALID")
        pad = op.operands[0].defining_op
        if pad is None or pad.name != "tfl.pad":
            return rw.fail("conv input is not a tfl.pad")
        if reason := users_reason(op.operands[0], "pad"):
            return rw.fail(reason)
        pads = _pads(pad.operands[1])
        wshape = op.operands[1].type.shape
        if pads is None or wshape is None:
            return rw.fail("paddings or filter shape are not constant")
        strides = (int(op.attr("stride_h", 1)), int(op.attr("stride_w", 1)))
        dil = (int(op.attr("dilation_h_factor", 1)), int(op.attr("dilation_w_factor", 1)))
        x = pad.operands[0]
        if reason := _same_equivalent(x, pads, (wshape[1], wshape[2]), strides, dil):
            return rw.fail(reason)
        _absorb_pad(rw, op, pad)


NON_NEGATIVE = {"tfl.relu", "tfl.relu6", "tfl.relu_0_to_1"}


def _non_negative(v: Value) -> bool:
    op = v.defining_op
    if op is None:
        return False
    return op.name in NON_NEGATIVE or act(op) in ("RELU", "RELU6")


class FoldPadIntoMaxPool(RewritePattern):
    """max_pool_2d(pad(x, p)){VALID} -> max_pool_2d(x){SAME} when p is SAME's padding and the
    padding value never wins (padv2 with -inf / lowest, or zeros over a non-negative x)"""

    root = "tfl.max_pool_2d"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.attr("padding") != "VALID":
            return rw.fail("max pool padding is not VALID")
        pad = op.operands[0].defining_op
        if pad is None or pad.name not in ("tfl.pad", "tfl.padv2"):
            return rw.fail("max pool input is not a pad")
        if reason := users_reason(op.operands[0], "pad"):
            return rw.fail(reason)
        x = pad.operands[0]
        if pad.name == "tfl.padv2":
            fill = known_constant(pad.operands[2])
            lowest = np.finfo(np.float32).min
            if fill is None or fill.size != 1 or not float(fill.reshape(())) <= lowest:
                return rw.fail("pad value is not -inf")
        elif not _non_negative(x):
            return rw.fail("zero padding changes the max of a possibly negative input")
        pads = _pads(pad.operands[1])
        if pads is None:
            return rw.fail("paddings are not constant")
        kernel = (int(op.attr("filter_height", 1)), int(op.attr("filter_width", 1)))
        strides = (int(op.attr("stride_h", 1)), int(op.attr("stride_w", 1)))
        if reason := _same_equivalent(x, pads, kernel, strides):
            return rw.fail(reason)
        _absorb_pad(rw, op, pad)


def plain_inner_conv(conv: Operation) -> str | None:
    """Why `conv` cannot be the inner conv of a space_to_batch dilation (None: it can): it must
    be VALID, stride 1 and not dilated already."""
    strides = (conv.attr("stride_h", 1), conv.attr("stride_w", 1))
    if conv.attr("padding") != "VALID" or strides != (1, 1):
        return "inner conv is not VALID with stride 1"
    if (conv.attr("dilation_h_factor", 1), conv.attr("dilation_w_factor", 1)) != (1, 1):
        return "inner conv is already dilated"
    return None


def dilation_constants(
    b2s: Operation, s2b: Operation, rank: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """(block, crops, paddings) of a batch_to_space_nd undoing a space_to_batch_nd with the same
    constant `rank`-D block (a dilated conv's wrapping), or why not."""
    block, block2 = known_constant(b2s.operands[1]), known_constant(s2b.operands[1])
    crops, paddings = known_constant(b2s.operands[2]), known_constant(s2b.operands[2])
    if block is None or block2 is None or crops is None or paddings is None:
        return "block shape, paddings or crops are not constant"
    if block.shape != (rank,) or not np.array_equal(block, block2):
        return f"space_to_batch and batch_to_space blocks differ or are not {rank}-D"
    return block, crops, paddings


class FuseDilatedConv(RewritePattern):
    """batch_to_space_nd(conv(space_to_batch_nd(x, b, p)), b, c) -> conv(x){dilation=b}
    (+ tfl.pad when the padding is neither VALID nor SAME)"""

    root = "tfl.batch_to_space_nd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        conv = op.operands[0].defining_op
        if conv is None or conv.name not in CONVS:
            return rw.fail("batch_to_space input is not a conv")
        if reason := users_reason(op.operands[0], "conv"):
            return rw.fail(reason)
        s2b = conv.operands[0].defining_op
        if s2b is None or s2b.name != "tfl.space_to_batch_nd":
            return rw.fail("conv input is not a space_to_batch_nd")
        if reason := users_reason(conv.operands[0], "space_to_batch"):
            return rw.fail(reason)
        found = dilation_constants(op, s2b, 2)
        if isinstance(found, str):
            return rw.fail(found)
        block, crops, paddings = found
        reason = plain_inner_conv(conv)
        if reason:
            return rw.fail(reason)
        crops = np.asarray(crops, dtype=np.int64).reshape(2, 2)
        paddings = np.asarray(paddings, dtype=np.int64).reshape(2, 2)
        if crops[:, 0].any():
            return rw.fail("batch_to_space crops the start of a spatial dim")
        pads = np.stack([paddings[:, 0], paddings[:, 1] - crops[:, 1]], axis=1)
        if (pads < 0).any():
            return rw.fail("crops exceed the paddings")
        x = s2b.operands[0]
        full = np.zeros((4, 2), dtype=np.int64)
        full[1:3] = pads
        wshape = conv.operands[1].type.shape
        dil = (int(block[0]), int(block[1]))
        if not pads.any():
            padding = "VALID"
        elif wshape is not None and not _same_equivalent(
            x, full, (wshape[1], wshape[2]), (1, 1), dil
        ):
            padding = "SAME"
        else:
            padding = "VALID"
            x = self._pad(rw, x, full)
        new = conv.clone()
        new.set_operand(0, x)
        new.results[0].type = op.result.type
        new.attributes.update(padding=padding, dilation_h_factor=dil[0], dilation_w_factor=dil[1])
        new.location = fused_location([op, conv, s2b])
        rw.insert(new, before=op)
        rw.replace(op, new.result)
        rw.erase(conv)
        rw.erase(s2b)

    @staticmethod
    def _pad(rw: PatternRewriter, x: Value, full: np.ndarray) -> Value:
        shape = x.type.shape
        out = (
            None
            if shape is None
            else tuple(None if d is None else d + int(full[i].sum()) for i, d in enumerate(shape))
        )
        pads = new_const(rw, full.astype(np.int32), rw.current)  # type: ignore[arg-type]
        return rw.create("tfl.pad", [x, pads], [x.type.with_shape(out)]).result


def _skip_identity_transpose(v: Value) -> Value:
    op = v.defining_op
    if op is not None and op.name == "tfl.transpose":
        perm = known_constant(op.operands[1])
        if perm is not None and list(perm.reshape(-1)) == list(range(perm.size)):
            return op.operands[0]
    return v


def _same_leading(a: tuple, b: tuple) -> bool:
    """Equal dims, where an unknown dim may only face an unknown dim and at most one is unknown
    (the element count then forces them equal)."""
    if len(a) != len(b):
        return False
    unknown = 0
    for da, db in zip(a, b):
        if (da is None) != (db is None):
            return False
        if da is None:
            unknown += 1
        elif da != db:
            return False
    return unknown <= 1


class FuseReshapeFullyConnectedReshape(RewritePattern):
    """tfl.reshape(tfl.fully_connected(tfl.reshape(x, [-1, k]), w, b), x.shape[:-1] + [n]) ->
    tfl.fully_connected(x, w, b){keep_num_dims=true}  (Keras Dense / Tensordot on rank >= 3;
    the outer reshape may be a chain of single-use reshapes, e.g. Tensordot to [..., 1] then
    ExpandDims, as in tf.image.rgb_to_grayscale)"""

    root = "tfl.reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        # Only the last shape of a reshape chain matters; the inner reshapes go with the fusion.
        chain: list[Operation] = []
        fc = op.operands[0].defining_op
        while fc is not None and fc.name == "tfl.reshape" and fc.result.num_uses == 1:
            chain.append(fc)
            fc = fc.operands[0].defining_op
        if fc is None or fc.name != "tfl.fully_connected":
            return rw.fail("reshape input is not a fully_connected")
        if fc.attr("keep_num_dims", False):
            return rw.fail("fully_connected already keeps its dims")
        if reason := users_reason(fc.result, "fully_connected"):
            return rw.fail(reason)
        inner = fc.operands[0]
        consumed = list(chain)
        pre = inner.defining_op
        if pre is not None and pre.name == "tfl.reshape":
            if reason := users_reason(inner, "reshape"):
                return rw.fail(reason)
            consumed.append(pre)
            inner = _skip_identity_transpose(pre.operands[0])
        x_shape, out_shape = inner.type.shape, op.result.type.shape
        w_shape = fc.operands[1].type.shape
        if x_shape is None or out_shape is None or w_shape is None or len(x_shape) < 2:
            return rw.fail("shapes are unknown")
        if x_shape[-1] is None or x_shape[-1] != w_shape[1] or out_shape[-1] != w_shape[0]:
            return rw.fail("reshapes do not only flatten/unflatten the leading dims")
        if not _same_leading(tuple(x_shape[:-1]), tuple(out_shape[:-1])):
            return rw.fail(f"leading dims {list(x_shape[:-1])} and {list(out_shape[:-1])} differ")
        new = fc.clone()
        new.set_operand(0, inner)
        new.results[0].type = op.result.type
        new.attributes["keep_num_dims"] = True
        new.location = fused_location([op, fc, *consumed])
        rw.insert(new, before=op)
        rw.replace(op, new.result)
        for dead in consumed[: len(chain)]:  # users first: the chain, outermost first
            rw.erase(dead)
        rw.erase(fc)
        for dead in consumed[len(chain) :]:
            rw.erase(dead)


PATTERNS: list[RewritePattern] = [
    RemoveIdentityArithmetic(),
    FoldPadIntoConv(),
    FoldPadIntoMaxPool(),
    FuseDilatedConv(),
    FuseReshapeFullyConnectedReshape(),
]
