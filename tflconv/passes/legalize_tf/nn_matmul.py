"""Matrix products: tf.MatMul / BatchMatMul{,V2,V3} / Einsum -> tfl.fully_connected or
tfl.batch_matmul (Einsum: see einsum.py).

A constant right-hand side becomes FULLY_CONNECTED weights in [out, in] layout (transposed once
with numpy); anything else becomes BATCH_MATMUL, as the official converter does.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, constant_value, create_tfl, no_value
from .einsum import LegalizeEinsum
from .nn_util import transpose


def fully_connected(
    rw: PatternRewriter, x: Value, weights: Value, out: TensorType, keep_num_dims: bool
) -> Value:
    """tfl.fully_connected(x, weights[out,in], none)."""
    return create_tfl(
        rw,
        "fully_connected",
        [x, weights, no_value(rw)],
        [out],
        fused_activation_function="NONE",
        weights_format="DEFAULT",
        keep_num_dims=keep_num_dims,
        asymmetric_quantize_inputs=False,
    ).result


def batch_matmul(
    rw: PatternRewriter, x: Value, y: Value, out: TensorType, adj_x: bool, adj_y: bool
) -> Value:
    return create_tfl(
        rw,
        "batch_matmul",
        [x, y],
        [out],
        adj_x=adj_x,
        adj_y=adj_y,
        asymmetric_quantize_inputs=False,
    ).result


class LegalizeMatMul(RewritePattern):
    """tf.MatMul(a, b[K,N]){transpose_a,transpose_b} -> tfl.fully_connected(a, b[N,K], none)"""

    root = "tf.MatMul"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        a, b = op.operands
        if a.type.rank != 2 or b.type.rank != 2:
            return rw.fail("tf.MatMul needs rank-2 operands")
        if not a.type.is_float:
            return rw.fail(f"only float MatMul is legalized here (input is {a.type.dtype})")
        if op.attributes.get("transpose_a", False):
            a = transpose(rw, a, (1, 0))
        if not op.attributes.get("transpose_b", False):
            b = transpose(rw, b, (1, 0))
        rw.replace(op, fully_connected(rw, a, b, op.result.type, keep_num_dims=False))


class LegalizeBatchMatMul(RewritePattern):
    """tf.BatchMatMul{,V2,V3}(x, const w[K,N]) -> tfl.fully_connected(x, w[N,K]){keep_num_dims};
    otherwise -> tfl.batch_matmul(x, y){adj_x, adj_y}"""

    root = ("tf.BatchMatMul", "tf.BatchMatMulV2", "tf.BatchMatMulV3")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        if not x.type.is_float or not y.type.is_float:
            return rw.fail("only float batch matmuls are legalized here")
        if x.type.rank is None or y.type.rank is None or x.type.rank < 2 or y.type.rank < 2:
            return rw.fail("batch matmul needs ranked operands of rank >= 2")
        adj_x = bool(op.attributes.get("adj_x", False))
        adj_y = bool(op.attributes.get("adj_y", False))
        w = constant_value(y)
        if w is not None and not adj_x and _fc_compatible(x, w):
            w2 = w.reshape(w.shape[-2:])
            weights = w2 if adj_y else w2.T
            value = const(rw, weights)  # a view when transposed: copied once, by the writer
            rw.replace(op, fully_connected(rw, x, value, op.result.type, keep_num_dims=True))
            return
        rw.replace(op, batch_matmul(rw, x, y, op.result.type, adj_x, adj_y))


def _fc_compatible(x: Value, w: np.ndarray) -> bool:
    """A constant RHS acts as FC weights when its batch dims are all 1 and do not raise the
    output rank above the input's."""
    return w.ndim <= x.type.rank and all(d == 1 for d in w.shape[:-2])  # type: ignore[operator]


PATTERNS: list[RewritePattern] = [
    LegalizeMatMul(),
    LegalizeBatchMatMul(),
    LegalizeEinsum(),
]
