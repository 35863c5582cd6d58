"""A transpose of the last two dims feeding a batch matmul is the matmul's adjoint flag, as the
official optimizer folds it (Keras `Attention`: `matmul(q, transpose(k))`).

    tfl.batch_matmul(x, tfl.transpose(y, [..., n-1, n-2])){adj_y} -> tfl.batch_matmul(x, y){!adj_y}
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location
from tflconv.passes.legalize_tf.nn_expr import known_constant

from .util import users_reason


def _swaps_last_two(perm: np.ndarray | None) -> bool:
    if perm is None or perm.ndim != 1 or perm.size < 2:
        return False
    n = perm.size
    want = list(range(n - 2)) + [n - 1, n - 2]
    return [int(p) for p in perm] == want


class FuseTransposeIntoBatchMatmul(RewritePattern):
    """tfl.batch_matmul(tfl.transpose(x, swap last two) | x, tfl.transpose(y, swap last two) | y)
    -> tfl.batch_matmul(x, y) with adj_x / adj_y flipped for each transposed operand"""

    root = "tfl.batch_matmul"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if any(o.type.is_quantized for o in op.operands[:2]):
            return rw.fail("quantized operands")
        found = []
        for i, flag in ((0, "adj_x"), (1, "adj_y")):
            v = op.operands[i]
            t = v.defining_op
            if t is None or t.name != "tfl.transpose":
                continue
            if users_reason(v, "transpose") is not None:
                continue
            if not _swaps_last_two(known_constant(t.operands[1])):
                continue
            found.append((i, flag, t))
        if not found:
            return rw.fail("no single-use transpose of the last two dims feeds the matmul")
        with rw.modify(op):
            for i, flag, t in found:
                op.set_operand(i, t.operands[0])
                op.attributes[flag] = not bool(op.attr(flag, False))
            op.location = fused_location([op, *(t for _, _, t in found)])
        for _, _, t in found:
            rw.erase(t)


PATTERNS: list[RewritePattern] = [FuseTransposeIntoBatchMatmul()]
