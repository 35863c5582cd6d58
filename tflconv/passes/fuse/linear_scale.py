"""A scalar scale folded back through a subgraph that is linear in one affine op's output (the
attention scale of LLMs, applied to the scores after rotary embeddings: scores * c =
batch_matmul(rope(fc(x)), k) * c = batch_matmul(rope(fc_c(x)), k) with fc_c's weights and bias
scaled by c)."""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_traits import AFFINE
from tflconv.passes.legalize_tf.nn_expr import known_constant

from .affine import scale_affine
from .util import absorb, act, bias_array, const_operand, same_shape

LAYOUT = {
    "tfl.reshape",
    "tfl.transpose",
    "tfl.expand_dims",
    "tfl.squeeze",
    "tfl.tile",
    "tfl.strided_slice",
    "tfl.slice",
    "tfl.neg",
}
"""Ops linear in their first operand (the others are shapes / indices)."""
MAX_DEPTH = 24
SHAPE_ONLY = {"tfl.shape", "tfl.rank"}


class _Cone:
    """The ops between an affine op's output and a value that is linear in it."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []
        self.producer: Operation | None = None

    def linear(self, v: Value, depth: int = 0) -> bool:
        """Whether `v` is a linear function of the (single) affine producer's output."""
        op = v.defining_op
        if op is None or depth > MAX_DEPTH or known_constant(v) is not None:
            return False
        if op.name in AFFINE:
            if self.producer is not None and self.producer is not op:
                return False
            if act(op) != "NONE" or not _float_weights(op):
                return False
            self.producer = op
            return True
        if op.name in LAYOUT or op.name == "tfl.split" or op.name == "tfl.batch_matmul":
            pass
        elif op.name in ("tfl.mul", "tfl.add", "tfl.sub", "tfl.pack", "tfl.concatenation"):
            if act(op) != "NONE" and op.name != "tfl.pack":
                return False
        else:
            return False
        self._add(op)
        if op.name in LAYOUT:
            return self.linear(op.operands[0], depth + 1)
        if op.name == "tfl.split":  # (axis, value)
            return self.linear(op.operands[1], depth + 1)
        if op.name in ("tfl.add", "tfl.sub", "tfl.pack", "tfl.concatenation"):
            return all(self.linear(x, depth + 1) for x in op.operands)
        # mul / batch_matmul: linear in one operand, the other independent of the producer.
        for i in (0, 1):
            probe = _Cone()
            probe.producer = self.producer
            if probe.linear(op.operands[i], depth + 1) and not _depends_on(
                op.operands[1 - i], probe.producer
            ):
                self.producer = probe.producer
                for o in probe.ops:
                    self._add(o)
                return True
        return False

    def _add(self, op: Operation) -> None:
        if op not in self.ops:
            self.ops.append(op)

    def closed(self, root: Operation) -> bool:
        """Every value of the cone (and the producer's output) is used inside it, by root, or
        only for its shape."""
        inside = {id(o) for o in self.ops} | {id(root)}
        assert self.producer is not None
        for op in [*self.ops, self.producer]:
            for r in op.results:
                if any(id(u) not in inside and u.name not in SHAPE_ONLY for u in r.users):
                    return False
        return True


def _float_weights(op: Operation) -> bool:
    affine = AFFINE[op.name]
    w_index, axis = affine.weight, affine.axis
    w = known_constant(op.operands[w_index])
    return (
        w is not None and w.dtype.kind == "f" and bias_array(op, w.shape[axis], w.dtype) is not None
    )


def _depends_on(v: Value, target: Operation | None, budget: int = 400) -> bool:
    """Whether `v`'s values depend on `target`'s (True when the walk runs out of budget);
    shapes read with tfl.shape do not count."""
    if target is None:
        return True
    seen: set[int] = set()
    stack = [v]
    while stack:
        x = stack.pop()
        op = x.defining_op
        if op is None or id(op) in seen:
            continue
        if op is target:
            return True
        seen.add(id(op))
        if op.name in SHAPE_ONLY:
            continue  # reads only the shape, which a scale does not change
        if len(seen) > budget:
            return True
        stack.extend(op.operands)
    return False


class FuseScaleThroughLinear(RewritePattern):
    """tfl.mul(L(affine(x, w, b)), c) -> L(affine(x, w*c, b*c))  where c is a scalar constant
    and L is linear in the affine output (layout ops, neg, split/pack/concatenation, sums of
    such paths, products with values independent of it: rotary embeddings, batch_matmul with
    the keys) and nothing else uses its intermediate values"""

    root = ("tfl.mul", "tfl.div")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        found = const_operand(op)
        if found is None or (op.name == "tfl.div" and found[2] != 1):
            return rw.fail(f"{op.name} needs one constant operand (on the right for div)")
        v, c, _ = found
        if c.size != 1 or c.dtype.kind != "f" or act(op) != "NONE":
            return rw.fail("only a scalar float scale without activation folds")
        if not v.type.is_float or not same_shape(op.result.type, v.type):
            return rw.fail(f"{op.name} changes the type of its input")
        d = v.defining_op
        if d is None or d.name in AFFINE:
            return rw.fail("input is an affine op (FuseMulIntoAffine handles it)")
        cone = _Cone()
        if not cone.linear(v) or cone.producer is None:
            return rw.fail("input is not linear in a single affine op's output")
        if not cone.closed(op):
            return rw.fail("a value between the affine op and the scale has other users")
        k = float(c.reshape(()))
        if op.name == "tfl.div":
            if k == 0.0:
                return rw.fail("division by zero does not fold")
            k = 1.0 / k
        scale_affine(rw, cone.producer, k)
        assert d is not None
        absorb(rw, d, op)


PATTERNS: list[RewritePattern] = [FuseScaleThroughLinear()]
