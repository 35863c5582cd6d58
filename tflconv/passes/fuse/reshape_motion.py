"""Reshape motion: an elementwise binary op whose two operands are reshapes of tensors of one
shape (possibly through single-use elementwise unary ops) computes on the un-reshaped tensors,
with one reshape after it instead of one per operand, as the official optimizer moves reshapes
after binary ops. ConvLSTM cells are the common case: each gate adds two 1-D convolutions
written as ExpandDims -> conv_2d -> Squeeze.

    tfl.add(tfl.reshape(a, s), tfl.reshape(b, s))                  -> tfl.reshape(tfl.add(a, b), s)
    tfl.mul(tfl.logistic(tfl.reshape(a, s)), tfl.tanh(tfl.reshape(b, s)))
                                     -> tfl.reshape(tfl.mul(tfl.logistic(a), tfl.tanh(b)), s)
"""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location

BINARY = (
    "tfl.add",
    "tfl.sub",
    "tfl.mul",
    "tfl.div",
    "tfl.maximum",
    "tfl.minimum",
    "tfl.squared_difference",
)
UNARY = (
    "tfl.logistic",
    "tfl.tanh",
    "tfl.relu",
    "tfl.relu6",
    "tfl.relu_n1_to_1",
    "tfl.abs",
    "tfl.neg",
    "tfl.exp",
    "tfl.log",
    "tfl.sqrt",
    "tfl.rsqrt",
    "tfl.square",
    "tfl.sin",
    "tfl.cos",
    "tfl.elu",
    "tfl.gelu",
    "tfl.hard_swish",
    "tfl.leaky_relu",
)
"""Elementwise one-input ops: they commute with any reshape (no axis, no broadcasting)."""


def _reshape_chain(v: Value) -> tuple[Operation, list[Operation]] | str:
    """(the reshape, the unary ops from `v` down to it) when `v` is a single-use chain of
    elementwise unary ops over a single-use tfl.reshape; else the reason it is not."""
    unary: list[Operation] = []
    while True:
        if v.num_uses != 1:
            return f"operand has {v.num_uses} users"
        d = v.defining_op
        if d is None:
            return "operand is a block argument"
        if d.name == "tfl.reshape":
            return d, unary
        if d.name not in UNARY:
            return f"operand comes from {d.name}, not a reshape"
        unary.append(d)
        v = d.operands[0]


class SinkReshapesBelowBinary(RewritePattern):
    """tfl.binary(u*(tfl.reshape(a, s)), u*(tfl.reshape(b, s))) ->
    tfl.reshape(tfl.binary(u*(a), u*(b)), s)  (a, b of one static shape; u: elementwise unary)"""

    root = BINARY

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        chains = []
        for v in op.operands[:2]:
            found = _reshape_chain(v)
            if isinstance(found, str):
                return rw.fail(found)
            chains.append(found)
        (ra, ua), (rb, ub) = chains
        a, b = ra.operands[0], rb.operands[0]
        shape = a.type.shape
        if shape is None or None in shape:
            return rw.fail("the reshaped tensor's shape is not static")
        if b.type.shape != shape:
            return rw.fail(f"reshaped tensors differ in shape: {list(shape)} and {b.type.shape}")
        out = op.result.type
        if not (ra.result.type.shape == rb.result.type.shape == out.shape):
            return rw.fail(f"{op.name} broadcasts its operands")
        if a.type.is_quantized or b.type.is_quantized or out.is_quantized:
            return rw.fail("quantized operands keep their reshapes")
        operands = []
        for reshape, unary in ((ra, ua), (rb, ub)):
            v = reshape.operands[0]
            for u in reversed(unary):  # innermost first
                new_u = u.clone()
                new_u.set_operand(0, v)
                new_u.results[0].type = u.result.type.with_shape(shape)
                rw.insert(new_u, before=op)
                v = new_u.result
            operands.append(v)
        binary = op.clone()
        binary.set_operand(0, operands[0])
        binary.set_operand(1, operands[1])
        binary.results[0].type = out.with_shape(shape)
        rw.insert(binary, before=op)
        reshape = ra.clone()
        reshape.set_operand(0, binary.result)
        reshape.results[0].type = out
        reshape.location = fused_location([ra, rb])
        rw.insert(reshape, before=op)
        rw.replace(op, reshape.result)
        for dead in [*ua, ra, *ub, rb]:  # each chain from its user down
            rw.erase(dead)


PATTERNS: list[RewritePattern] = [SinkReshapesBelowBinary()]
