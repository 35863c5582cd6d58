"""Matrix products: tf.MatMul / BatchMatMul{,V2,V3} / Einsum -> tfl.fully_connected or
tfl.batch_matmul (+ transposes and reshapes for Einsum).

A constant right-hand side becomes FULLY_CONNECTED weights in [out, in] layout (transposed once
with numpy); anything else becomes BATCH_MATMUL, as the official converter does.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, constant_value, create_tfl, no_value
from .nn_util import reshape, transpose


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
            value = const(rw, np.ascontiguousarray(weights))
            rw.replace(op, fully_connected(rw, x, value, op.result.type, keep_num_dims=True))
            return
        rw.replace(op, batch_matmul(rw, x, y, op.result.type, adj_x, adj_y))


def _fc_compatible(x: Value, w: np.ndarray) -> bool:
    """A constant RHS acts as FC weights when its batch dims are all 1 and do not raise the
    output rank above the input's."""
    return w.ndim <= x.type.rank and all(d == 1 for d in w.shape[:-2])  # type: ignore[operator]


# --- Einsum --------------------------------------------------------------------------------


def _parse_equation(eq: str) -> tuple[str, str, str] | None:
    eq = eq.replace(" ", "")
    if "->" not in eq or "." in eq:
        return None
    ins, out = eq.split("->")
    parts = ins.split(",")
    if len(parts) != 2:
        return None
    a, b = parts
    for s in (a, b, out):
        if len(set(s)) != len(s):
            return None  # a repeated letter is a diagonal/trace
    if set(out) - set(a) - set(b):
        return None
    if (set(a) - set(b) - set(out)) or (set(b) - set(a) - set(out)):
        return None  # a summed-out letter of one operand needs a reduction first
    return a, b, out


def _dims(v: Value, letters: str) -> dict[str, int | None]:
    shape = v.type.shape
    assert shape is not None
    return dict(zip(letters, shape))


def _prod(sizes: list[int | None]) -> int | None:
    n = 1
    for s in sizes:
        if s is None:
            return None
        n *= s
    return n


def _group_sizes(dims: dict[str, int | None], groups: list[str]) -> list[int | None]:
    """One size per group: the product of its letters' sizes (an empty group is a 1)."""
    return [dims[g] if len(g) == 1 else _prod([dims[c] for c in g]) for g in groups]


def _mergeable(dims: dict[str, int | None], groups: list[str]) -> bool:
    if all(len(g) == 1 for g in groups):
        return True
    return sum(1 for d in _group_sizes(dims, groups) if d is None) <= 1


def _arrange(rw: PatternRewriter, v: Value, letters: str, groups: list[str]) -> Value:
    """Transpose `v` (dims named by `letters`) to the concatenated `groups`, then merge each
    group into one dim (an empty group becomes a dim of 1). Check `_mergeable` first."""
    order = "".join(groups)
    perm = [letters.index(c) for c in order]
    if perm != list(range(len(perm))):
        v = transpose(rw, v, perm)
    if all(len(g) == 1 for g in groups):
        return v
    return reshape(rw, v, _group_sizes(_dims(v, order), groups))


def _pick_layout(letters: str, first: str, second: str, batch: str) -> bool:
    """Whether to use the adjoint layout [batch, second, first]: when the operand already lists
    its non-batch letters in that order (a batch transpose may still be needed)."""
    rest = "".join(c for c in letters if c not in batch)
    return rest == second + first and rest != first + second


class LegalizeEinsum(RewritePattern):
    """tf.Einsum(a, b){equation} -> transposes/reshapes + tfl.batch_matmul (or
    tfl.fully_connected when b is a constant and no letter is batched)"""

    root = "tf.Einsum"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if len(op.operands) != 2:
            return rw.fail("only two-operand einsum is legalized")
        eq = str(op.attributes.get("equation", ""))
        parsed = _parse_equation(eq)
        if parsed is None:
            return rw.fail(f"einsum equation {eq!r} is not a plain contraction")
        la, lb, lout = parsed
        a, b = op.operands
        if constant_value(a) is not None and constant_value(b) is None:
            a, b, la, lb = b, a, lb, la  # keep the constant on the right (FC weights)
        if a.type.rank != len(la) or b.type.rank != len(lb) or op.result.type.rank != len(lout):
            return rw.fail("einsum operand ranks do not match the equation")
        if not a.type.is_float or not b.type.is_float:
            return rw.fail("only float einsum is legalized here")
        batch = "".join(c for c in lout if c in la and c in lb)
        contract = "".join(c for c in la if c in lb and c not in lout)
        lfree = "".join(c for c in lout if c in la and c not in lb)
        rfree = "".join(c for c in lout if c in lb and c not in la)
        da, db = _dims(a, la), _dims(b, lb)
        for c in batch + contract:
            if (
                da[c] is not None
                and db[c] is not None
                and da[c] != db[c]
                and 1 not in (da[c], db[c])
            ):
                return rw.fail(f"einsum letter {c} has sizes {da[c]} and {db[c]}")
        wb = constant_value(b)
        if wb is not None and not batch and lfree and contract:
            result = self._as_fully_connected(rw, op, a, la, wb, lb, lfree, contract, rfree, lout)
        else:
            result = self._as_batch_matmul(
                rw, op, a, la, b, lb, batch, lfree, contract, rfree, lout
            )
        if result is None:
            return None
        rw.replace(op, result)

    def _as_fully_connected(self, rw, op, a, la, wb, lb, lfree, contract, rfree, lout):
        da = _dims(a, la)
        lsizes = [da[c] for c in lfree]
        groups = [*lfree, contract]
        if not _mergeable(da, groups):
            return rw.fail("einsum needs static free dims to merge the contracted ones")
        if len(rfree) != 1 and sum(1 for d in lsizes if d is None) > 1:
            return rw.fail("einsum needs at most one unknown dim to split the output")
        rdims: dict[str, int | None] = dict(zip(lb, wb.shape))
        rsizes = [rdims[c] for c in rfree]
        cp, rp = _prod([rdims[c] for c in contract]), _prod(rsizes)
        weights = np.transpose(wb, [lb.index(c) for c in rfree + contract]).reshape(rp, cp)
        x = _arrange(rw, a, la, groups)
        fc_out = op.result.type.with_shape((*lsizes, rp))
        y = fully_connected(rw, x, const(rw, np.ascontiguousarray(weights)), fc_out, True)
        return _finish(rw, y, lfree + rfree, [*lsizes, *rsizes], lout)

    def _as_batch_matmul(self, rw, op, a, la, b, lb, batch, lfree, contract, rfree, lout):
        da, db = _dims(a, la), _dims(b, lb)
        adj_x = _pick_layout(la, lfree, contract, batch)
        adj_y = _pick_layout(lb, contract, rfree, batch)
        groups_a = [*batch, *((contract, lfree) if adj_x else (lfree, contract))]
        groups_b = [*batch, *((rfree, contract) if adj_y else (contract, rfree))]
        if not _mergeable(da, groups_a) or not _mergeable(db, groups_b):
            return rw.fail("einsum needs at most one unknown dim per merged operand")
        bsizes = [da[c] if da[c] not in (None, 1) else db[c] for c in batch]
        lsizes = [da[c] for c in lfree]
        rsizes = [db[c] for c in rfree]
        split = len(lfree) != 1 or len(rfree) != 1
        if split and sum(1 for d in bsizes + lsizes + rsizes if d is None) > 1:
            return rw.fail("einsum needs at most one unknown dim to split the output")
        x = _arrange(rw, a, la, groups_a)
        y = _arrange(rw, b, lb, groups_b)
        out_shape = (*bsizes, _prod(lsizes), _prod(rsizes))
        z = batch_matmul(rw, x, y, op.result.type.with_shape(out_shape), adj_x, adj_y)
        return _finish(rw, z, batch + lfree + rfree, [*bsizes, *lsizes, *rsizes], lout)


def _finish(rw: PatternRewriter, v: Value, letters: str, sizes: list, lout: str) -> Value:
    """Split the merged free dims back (reshape) and transpose to the output letter order."""
    if list(v.type.shape or ()) != list(sizes):
        v = reshape(rw, v, sizes)
    if letters != lout:
        v = transpose(rw, v, [letters.index(c) for c in lout])
    return v


PATTERNS: list[RewritePattern] = [
    LegalizeMatMul(),
    LegalizeBatchMatMul(),
    LegalizeEinsum(),
]
