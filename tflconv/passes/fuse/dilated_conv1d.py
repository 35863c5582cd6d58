"""Dilated 1-D convolutions (Keras Conv1D with dilation_rate > 1, causal TCN / WaveNet stacks):
TF writes them as space_to_batch_nd on the time axis, ExpandDims, conv_2d, Squeeze,
batch_to_space_nd. The official converter's dilated-conv fusion sees through the expand /
squeeze pair; this is the 1-D form of structure.FuseDilatedConv.

    batch_to_space_nd(reshape(conv_2d(reshape(space_to_batch_nd(x, [b], p), [n', 1, w', c])),
                      [n', w'', f]), [b], crops)
        -> reshape(conv_2d(reshape(x, [n, 1, w, c])){dilation_w_factor=b}, [n, w_out, f])
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location

from .structure import FuseDilatedConv, _same_equivalent, dilation_constants, plain_inner_conv
from .util import new_const, users_reason


def _single_use_producer(op: Operation, index: int, name: str) -> Operation | str:
    v = op.operands[index]
    d = v.defining_op
    if d is None or d.name != name:
        return f"{op.name} input is not a {name}"
    if reason := users_reason(v, name.removeprefix("tfl.")):
        return reason
    return d


class FuseDilatedConv1D(RewritePattern):
    """batch_to_space_nd(reshape(conv_2d(reshape(space_to_batch_nd(x, [b], p)))), [b], c) ->
    reshape(conv_2d(reshape(x)){dilation_w_factor=b})  (+ tfl.pad when neither VALID nor SAME)"""

    root = "tfl.batch_to_space_nd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        chain: list[Operation] = []
        cur = op
        for index, name in ((0, "tfl.reshape"), (0, "tfl.conv_2d"), (0, "tfl.reshape")):
            found = _single_use_producer(cur, index, name)
            if isinstance(found, str):
                return rw.fail(found)
            chain.append(found)
            cur = found
        squeeze, conv, expand = chain
        s2b = _single_use_producer(expand, 0, "tfl.space_to_batch_nd")
        if isinstance(s2b, str):
            return rw.fail(s2b)
        found = dilation_constants(op, s2b, 1)
        if isinstance(found, str):
            return rw.fail(found)
        block, crops, paddings = found
        x = s2b.operands[0]
        xs, es, cs = x.type.shape, expand.result.type.shape, conv.result.type.shape
        out = op.result.type.shape
        if xs is None or es is None or cs is None or out is None or None in xs or None in out:
            return rw.fail("shapes are not static")
        if len(xs) != 3 or len(es) != 4 or es[1] != 1 or tuple(es) != (es[0], 1, *squeeze_in(s2b)):
            return rw.fail("the reshape before the conv is not an ExpandDims at axis 1")
        if tuple(squeeze.result.type.shape or ()) != (cs[0], cs[2], cs[3]) or cs[1] != 1:
            return rw.fail("the reshape after the conv is not a Squeeze of axis 1")
        reason = plain_inner_conv(conv)
        if reason:
            return rw.fail(reason)
        wshape = conv.operands[1].type.shape
        if wshape is None or wshape[1] != 1:
            return rw.fail("the filter is not 1 high")
        crops = np.asarray(crops, dtype=np.int64).reshape(2)
        paddings = np.asarray(paddings, dtype=np.int64).reshape(2)
        if crops[0]:
            return rw.fail("batch_to_space crops the start of the time axis")
        pads = np.array([paddings[0], paddings[1] - crops[1]])
        if (pads < 0).any():
            return rw.fail("crops exceed the paddings")
        rate = int(block[0])
        n, w, c = xs
        x4 = rw.create(
            "tfl.reshape",
            [x, new_const(rw, np.array([n, 1, w, c], np.int32), op)],
            [x.type.with_shape((n, 1, w, c))],
        ).result
        full = np.zeros((4, 2), dtype=np.int64)
        full[2] = pads
        if not pads.any():
            padding = "VALID"
        elif _same_equivalent(x4, full, (1, wshape[2]), (1, 1), (1, rate)) is None:
            padding = "SAME"
        else:
            padding = "VALID"
            x4 = FuseDilatedConv._pad(rw, x4, full)
        new = conv.clone()
        new.set_operand(0, x4)
        new.results[0].type = conv.result.type.with_shape((n, 1, out[1], out[2]))
        new.attributes.update(padding=padding, dilation_h_factor=1, dilation_w_factor=rate)
        new.location = fused_location([op, squeeze, conv, expand, s2b])
        rw.insert(new, before=op)
        result = rw.create(
            "tfl.reshape",
            [new.result, new_const(rw, np.array(out, np.int32), op)],
            [op.result.type],
        ).result
        rw.replace(op, result)
        for dead in (squeeze, conv, expand, s2b):
            rw.erase(dead)


def squeeze_in(s2b: Operation) -> tuple[int | None, ...]:
    """The (time, channels) dims of space_to_batch_nd's output."""
    shape = s2b.result.type.shape or (None, None, None)
    return tuple(shape[1:])


PATTERNS: list[RewritePattern] = [FuseDilatedConv1D()]
