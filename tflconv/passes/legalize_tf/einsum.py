"""tf.Einsum -> tfl.batch_matmul / tfl.fully_connected with transposes and reshapes.

The lowering of the official converter (tensorflow/compiler/mlir/tensorflow/transforms/einsum.cc):
the operands are transposed to [batch, free, contracted] / [batch, contracted, free], their free
and contracted letters merged by reshapes, multiplied by one BATCH_MATMUL (a FULLY_CONNECTED
when the right operand is a constant and nothing is batched), and the result is split back and
transposed into the output order. Beyond it:

- ellipses (`...ij,j...->i...`, with NumPy broadcasting of the ellipsis dims) and implicit
  outputs (`ij,jk`);
- letters summed out of a single operand (`ij,k->i`): a tfl.sum first; one-operand equations
  (transposes and sums);
- dims unknown at conversion time: a reshape with two or more unknown dims gets its target at
  run time (tfl.shape + tfl.gather + tfl.concatenation), so Keras EinsumDense / MultiHeadAttention
  equations convert with dynamic batch and sequence dims;
- the operand order (and the adjoint flags) that needs the fewest transposes.

Repeated letters inside one operand (diagonals, traces) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tflconv.core.arrays import reshaped
from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, constant_value, create_tfl, no_value
from .nn_util import i32, transpose

_ELLIPSIS_LETTERS = [chr(0x3B1 + i) for i in range(24)]
"""Stand-ins for ellipsis dims (Greek letters: TF equations only use [a-zA-Z])."""

MAX_BATCH_MATMUL_RANK = 5
"""LiteRT's BATCH_MATMUL kernel takes operands of rank <= 5."""
MAX_RANK = 6
"""TRANSPOSE, SUM (and XNNPACK) take tensors of rank <= 6."""


def expand_equation(equation: str, ranks: list[int]) -> tuple[list[str], str] | str:
    """(letters per operand, output letters) with ellipses replaced by letters (right-aligned
    so they broadcast like NumPy) and an implicit output made explicit; a reason when invalid."""
    eq = equation.replace(" ", "")
    ins, arrow, out = eq.partition("->")
    parts = ins.split(",")
    if len(parts) != len(ranks):
        return f"equation {equation!r} names {len(parts)} operands, the op has {len(ranks)}"
    ell_rank = 0
    for p, r in zip(parts, ranks):
        if p.count("...") > 1 or (p.replace("...", "") and not p.replace("...", "").isalpha()):
            return f"operand term {p!r} of {equation!r} is malformed"
        if "..." in p:
            ell_rank = max(ell_rank, r - (len(p) - 3))
    ell = "".join(_ELLIPSIS_LETTERS[:ell_rank])
    letters: list[str] = []
    for p, r in zip(parts, ranks):
        if "..." in p:
            k = r - (len(p) - 3)
            if k < 0:
                return f"operand term {p!r} has more letters than the operand's rank {r}"
            p = p.replace("...", ell[ell_rank - k :])
        if len(p) != r:
            return f"operand term {p!r} does not match the operand's rank {r}"
        letters.append(p)
    if arrow:
        if out.count("...") > 1 or not out.replace("...", "").isalpha() and out.replace("...", ""):
            return f"output term {out!r} is malformed"
        out = out.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for p in letters:
            for c in p:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    if len(set(out)) != len(out):
        return f"output term of {equation!r} repeats a letter"
    if set(out) - set("".join(letters)):
        return f"output term of {equation!r} names a letter no operand has"
    return letters, out


# --- sizes and run-time shapes -----------------------------------------------------------


@dataclass
class Dims:
    """Per letter: the static size (None when unknown) and where its run-time size can be read
    (an operand value and axis)."""

    size: dict[str, int | None]
    source: dict[str, tuple[Value, int]]

    @staticmethod
    def of(operands: list[tuple[Value, str]]) -> Dims | str:
        size: dict[str, int | None] = {}
        source: dict[str, tuple[Value, int]] = {}
        for v, letters in operands:
            for axis, (c, d) in enumerate(zip(letters, v.type.shape or ())):
                if d is None and c not in source:
                    source[c] = (v, axis)
                if c not in size or size[c] == 1:
                    size[c] = d  # a 1 broadcasts against anything
                elif d not in (None, 1) and size[c] is not None and size[c] != d:
                    return f"letter {c} has sizes {size[c]} and {d}"
                elif size[c] is None and d not in (None, 1):
                    size[c] = d
        return Dims(size, source)

    def prod(self, letters: str) -> int | None:
        n = 1
        for c in letters:
            s = self.size[c]
            if s is None:
                return None
            n *= s
        return n


def _shape_entries(rw: PatternRewriter, src: Value, axes: list[int]) -> Value:
    """tfl.shape(src)[axes] (the whole shape when axes are all of them, in order)."""
    rank = src.type.rank or 0
    shape = create_tfl(rw, "shape", [src], [TensorType((rank,), "i32")], out_type="INT32")
    if axes == list(range(rank)):
        return shape.result
    out = TensorType((len(axes),), "i32")
    return create_tfl(
        rw, "gather", [shape.result, i32(rw, axes)], [out], axis=0, batch_dims=0
    ).result


def _runtime_product(rw: PatternRewriter, letters: str, dims: Dims) -> Value:
    """[prod of the letters' sizes] as a run-time i32 vector of one element."""
    static = dims.prod("".join(c for c in letters if dims.size[c] is not None)) or 1
    parts = [_shape_entries(rw, *_one(dims.source[c])) for c in letters if dims.size[c] is None]
    if static != 1:
        parts.append(i32(rw, [static]))
    vec = parts[0]
    if len(parts) > 1:
        vec = create_tfl(
            rw,
            "concatenation",
            parts,
            [TensorType((len(parts),), "i32")],
            axis=0,
            fused_activation_function="NONE",
        ).result
    out = TensorType((1,), "i32")
    return create_tfl(rw, "reduce_prod", [vec, i32(rw, [0])], [out], keep_dims=True).result


def _one(source: tuple[Value, int]) -> tuple[Value, list[int]]:
    return source[0], [source[1]]


def reshape_groups(
    rw: PatternRewriter, x: Value, current: list[str], groups: list[str], dims: Dims
) -> Value:
    """Reshape `x`, whose dim i holds the letters current[i], so that dim i holds the product
    of the letters of groups[i] (an empty group is a dim of 1). The target is a constant when
    at most one entry is unknown, else computed at run time from the shapes of the values
    that carry the unknown letters (tfl.shape + tfl.gather + tfl.concatenation)."""
    if current == groups:
        return x
    sizes = [dims.prod(g) for g in groups]
    out_t = x.type.with_shape(tuple(sizes))
    arr = constant_value(x)
    if arr is not None:
        return const(rw, np.ascontiguousarray(arr.reshape(sizes)))  # type: ignore[arg-type]
    unknown = [i for i, s in enumerate(sizes) if s is None]
    if len(unknown) <= 1:
        target = i32(rw, [-1 if s is None else s for s in sizes])
        return create_tfl(rw, "reshape", [x, target], [out_t]).result
    # The entry written -1: a product of unknown letters if there is one, else the first
    # unknown one. The others are read from shapes (a product of several: tfl.reduce_prod).
    wild = next((i for i in unknown if len(groups[i]) > 1), unknown[0])
    runs: list[tuple[Value | None, list[int]]] = []  # (None, constants) | (value, axes)
    values: list[Value] = []

    def flush() -> None:
        for src, items in runs:
            values.append(i32(rw, items) if src is None else _shape_entries(rw, src, items))
        runs.clear()

    for i, (g, s) in enumerate(zip(groups, sizes)):
        if s is not None or i == wild:
            src, item = None, -1 if i == wild else s
        elif len(g) == 1:
            src, item = dims.source[g]
        else:
            flush()
            values.append(_runtime_product(rw, g, dims))
            continue
        if runs and runs[-1][0] is src:
            runs[-1][1].append(item)  # type: ignore[arg-type]
        else:
            runs.append((src, [item]))  # type: ignore[list-item]
    flush()
    target = values[0]
    if len(values) > 1:
        target = create_tfl(
            rw,
            "concatenation",
            values,
            [TensorType((len(groups),), "i32")],
            axis=0,
            fused_activation_function="NONE",
        ).result
    return create_tfl(rw, "reshape", [x, target], [out_t]).result


# --- the lowering -------------------------------------------------------------------------


def _perm(letters: str, order: str) -> list[int]:
    return [letters.index(c) for c in order]


def _is_identity(perm: list[int]) -> bool:
    return perm == list(range(len(perm)))


def _sum_out(rw: PatternRewriter, v: Value, letters: str, keep: set[str]) -> tuple[Value, str]:
    """Sum the letters of `v` not in `keep` (tfl.sum, keep_dims=False)."""
    axes = [i for i, c in enumerate(letters) if c not in keep]
    if not axes:
        return v, letters
    rest = "".join(c for c in letters if c in keep)
    shape = tuple(d for i, d in enumerate(v.type.shape or ()) if i not in axes)
    out = create_tfl(rw, "sum", [v, i32(rw, axes)], [v.type.with_shape(shape)], keep_dims=False)
    return out.result, rest


@dataclass
class Plan:
    """One way to lower a two-operand contraction: which operand goes left, the letter groups
    and adjoint flags, and how many transposes it costs."""

    a: Value
    la: str
    b: Value
    lb: str
    batch: str
    lfree: str
    contract: str
    rfree: str
    adj_x: bool
    adj_y: bool
    fc: bool
    cost: int
    bgroups: list[str]


def _plan(a: Value, la: str, b: Value, lb: str, lout: str, fc_ok: bool) -> Plan:
    bgroups = batch_groups("".join(c for c in lout if c in la and c in lb), a, la, b, lb)
    batch = "".join(bgroups)
    lfree = "".join(c for c in lout if c in la and c not in lb)
    rfree = "".join(c for c in lout if c in lb and c not in la)
    contract = "".join(c for c in la if c in lb and c not in lout)
    fc = fc_ok and not batch and bool(contract)
    cost = 0
    if fc:
        adj_x = adj_y = False
        cost += not _is_identity(_perm(la, lfree + contract))
    else:
        adj_x = _adjoint(la, batch, lfree, contract)
        adj_y = _adjoint(lb, batch, contract, rfree)
        order_x = batch + (contract + lfree if adj_x else lfree + contract)
        order_y = batch + (rfree + contract if adj_y else contract + rfree)
        cost += not _is_identity(_perm(la, order_x))
        cost += not _is_identity(_perm(lb, order_y)) and constant_value(b) is None
    cost += batch + lfree + rfree != lout
    return Plan(a, la, b, lb, batch, lfree, contract, rfree, adj_x, adj_y, fc, cost, bgroups)


def batch_groups(batch: str, a: Value, la: str, b: Value, lb: str) -> list[str]:
    """Batch letters as BATCH_MATMUL batch dims: one each, or, beyond the kernel's rank limit,
    the ones that cannot broadcast (named letters, and ellipsis dims of one known size on
    both sides) merged into the first dim."""
    if len(batch) + 2 <= MAX_BATCH_MATMUL_RANK:
        return list(batch)

    def fixed(c: str) -> bool:
        if c not in _ELLIPSIS_LETTERS:
            return True  # TF requires named letters to match exactly
        sa, sb = _static(a, la, c), _static(b, lb, c)
        return sa is not None and sa == sb

    merged = "".join(c for c in batch if fixed(c))
    rest = [c for c in batch if not fixed(c)]
    return ([merged] if merged else []) + rest


def _adjoint(letters: str, batch: str, first: str, second: str) -> bool:
    """Whether the operand goes in as [batch, second, first] with the adjoint flag: when its
    non-batch letters already come in that order (a batch transpose may still be needed)."""
    rest = "".join(c for c in letters if c not in batch)
    return rest == second + first and rest != first + second


def lower_contraction(
    rw: PatternRewriter, a: Value, la: str, b: Value, lb: str, lout: str, dims: Dims
) -> Value:
    ca, cb = constant_value(a), constant_value(b)
    plans = [_plan(a, la, b, lb, lout, cb is not None and ca is None)]
    if cb is None or ca is not None:
        plans.append(_plan(b, lb, a, la, lout, ca is not None and cb is None))
    p = min(plans, key=lambda p: (not p.fc, p.cost))
    if p.fc:
        return _as_fully_connected(rw, p, lout, dims)
    return _as_batch_matmul(rw, p, lout, dims)


def _as_fully_connected(rw: PatternRewriter, p: Plan, lout: str, dims: Dims) -> Value:
    w = constant_value(p.b)
    assert w is not None
    rp, cp = dims.prod(p.rfree), dims.prod(p.contract)
    weights = reshaped(np.transpose(w, _perm(p.lb, p.rfree + p.contract)), (rp, cp))
    x = p.a
    perm = _perm(p.la, p.lfree + p.contract)
    if not _is_identity(perm):
        x = transpose(rw, x, perm)
    # One contracted letter: FC keeps the leading dims. Several: FC flattens its input to
    # [-1, K] itself (keep_num_dims=false), which saves merging them with a reshape first.
    keep = len(p.contract) == 1 and bool(p.lfree)
    lead = [dims.size[c] for c in p.lfree] if keep else [dims.prod(p.lfree)]
    out_t = p.a.type.with_shape((*lead, rp))
    y = create_tfl(
        rw,
        "fully_connected",
        [x, const(rw, np.ascontiguousarray(weights)), no_value(rw)],
        [out_t],
        fused_activation_function="NONE",
        weights_format="DEFAULT",
        keep_num_dims=keep,
        asymmetric_quantize_inputs=False,
    ).result
    groups = [*p.lfree, p.rfree] if keep else [p.lfree, p.rfree]
    return _finish(rw, y, groups, p.lfree + p.rfree, lout, dims)


def _as_batch_matmul(rw: PatternRewriter, p: Plan, lout: str, dims: Dims) -> Value:
    xs = [p.batch, p.contract, p.lfree] if p.adj_x else [p.batch, p.lfree, p.contract]
    ys = [p.batch, p.rfree, p.contract] if p.adj_y else [p.batch, p.contract, p.rfree]
    operands = []
    for v, letters, (batch, first, second) in ((p.a, p.la, xs), (p.b, p.lb, ys)):
        perm = _perm(letters, batch + first + second)
        if not _is_identity(perm):
            v = transpose(rw, v, perm)
        # Batch letters are kept apart (BATCH_MATMUL broadcasts them: their sizes are this
        # operand's own), the others merged.
        own = Dims(dict(dims.size), dict(dims.source))
        for i, c in enumerate(batch):
            own.size[c] = v.type.shape[i]  # type: ignore[index]
            own.source[c] = (v, i)
        operands.append(
            reshape_groups(rw, v, list(batch + first + second), [*p.bgroups, first, second], own)
        )
    x, y = operands
    bsizes = []
    for i in range(len(p.bgroups)):
        sx, sy = x.type.shape[i], y.type.shape[i]  # type: ignore[index]
        bsizes.append(sy if sx == 1 else sx if sy == 1 else sx if sx is not None else sy)
    out_t = p.a.type.with_shape((*bsizes, dims.prod(p.lfree), dims.prod(p.rfree)))
    z = create_tfl(
        rw,
        "batch_matmul",
        [x, y],
        [out_t],
        adj_x=p.adj_x,
        adj_y=p.adj_y,
        asymmetric_quantize_inputs=False,
    ).result
    # Batch sizes of the result come from the product itself (they may have broadcast; merged
    # groups never do, their letters keep the operands' sizes).
    out_dims = Dims(dict(dims.size), dict(dims.source))
    for i, g in enumerate(p.bgroups):
        if len(g) == 1:
            out_dims.size[g] = bsizes[i]
            out_dims.source[g] = (z, i)
    groups = [*p.bgroups, p.lfree, p.rfree]
    return _finish(rw, z, groups, p.batch + p.lfree + p.rfree, lout, out_dims)


def _finish(
    rw: PatternRewriter, v: Value, groups: list[str], letters: str, lout: str, dims: Dims
) -> Value:
    """Split the merged dims (`groups`) back into `letters` (reshape) and transpose to the
    output letter order."""
    split = reshape_groups(rw, v, groups, list(letters), dims)
    perm = _perm(letters, lout)
    return split if _is_identity(perm) else transpose(rw, split, perm)


class LegalizeEinsum(RewritePattern):
    """tf.Einsum(a[, b]){equation} -> tfl.sum / tfl.transpose / tfl.reshape around one
    tfl.batch_matmul (tfl.fully_connected when b is a constant and no letter is batched)"""

    root = "tf.Einsum"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        values = list(op.operands)
        if len(values) not in (1, 2):
            return rw.fail(f"einsum of {len(values)} operands (only one or two are lowered)")
        if any(v.type.rank is None for v in values) or op.result.type.rank is None:
            return rw.fail("einsum needs ranked operands")
        if not all(v.type.is_float for v in values):
            return rw.fail("only float einsum is lowered (BATCH_MATMUL/FULLY_CONNECTED kernels)")
        if max(v.type.rank for v in [*values, op.result]) > MAX_RANK:  # type: ignore[type-var]
            return rw.fail(f"einsum of rank > {MAX_RANK} (TFLite's SUM/TRANSPOSE limit)")
        eq = str(op.attributes.get("equation", ""))
        if isinstance(op.attributes.get("equation"), bytes):
            eq = op.attributes["equation"].decode()
        expanded = expand_equation(eq, [v.type.rank for v in values])  # type: ignore[misc]
        if isinstance(expanded, str):
            return rw.fail(expanded)
        letters, lout = expanded
        if len(lout) != op.result.type.rank:
            return rw.fail(f"einsum output {lout!r} does not match the result rank")
        for term in letters:
            if len(set(term)) != len(term):
                return rw.fail(f"einsum {eq!r} repeats a letter in one operand (diagonal/trace)")
        dims = Dims.of(list(zip(values, letters)))
        if isinstance(dims, str):
            return rw.fail(f"einsum {eq!r}: {dims}")
        # Letters only one operand has and the output lacks are summed out first.
        keeps = [
            set(lout).union(*(set(t) for j, t in enumerate(letters) if j != i))
            for i in range(len(letters))
        ]
        kept = ["".join(c for c in t if c in k) for t, k in zip(letters, keeps)]
        if len(kept) == 2:
            la, lb = kept
            for c in la:
                if c in lb and c not in lout:
                    sa, sb = _static(values[0], letters[0], c), _static(values[1], letters[1], c)
                    if sa is not None and sb is not None and sa != sb:
                        return rw.fail(f"contracted letter {c} has sizes {sa} and {sb}")
            batch = "".join(c for c in lout if c in la and c in lb)
            groups = batch_groups(batch, values[0], letters[0], values[1], letters[1])
            if len(groups) + 2 > MAX_BATCH_MATMUL_RANK:
                return rw.fail(f"{len(groups)} batch dims exceed BATCH_MATMUL's rank limit")
        operands = [_sum_out(rw, v, t, k) for v, t, k in zip(values, letters, keeps)]
        if len(operands) == 1:
            ((v, term),) = operands
            perm = _perm(term, lout)
            result = v if _is_identity(perm) else transpose(rw, v, perm)
        else:
            (a, la), (b, lb) = operands
            result = lower_contraction(rw, a, la, b, lb, lout, dims)
        rw.replace(op, result)


def _static(v: Value, letters: str, c: str) -> int | None:
    return (v.type.shape or ())[letters.index(c)]
