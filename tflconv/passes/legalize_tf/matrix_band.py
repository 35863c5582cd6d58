"""Legalization patterns: `MatrixBandPart` (tf.linalg.band_part), the op behind causal and
sliding-window attention masks.

The official converter lowers it in TF (lower_tf.td `LowerMatrixBandPartOp`) to
`SelectV2(offset <= lo' and offset >= -up', x, ZerosLike(x))` with `offset = i - j` from two
RANGEs and `lo' = lo < 0 ? m : lo` (`up'` likewise), then folds what is constant. Here the same
select is built directly: with constant bounds and known matrix dims the mask is a NumPy
constant (one SELECT_V2 in the model); a negative (unbounded) constant bound drops its compare;
only runtime bounds keep the official LESS + SELECT_V2 per bound.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import DTYPES, TensorType
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from .common import const, create_tfl, int_list
from .math import explicit_broadcast, needs_explicit_broadcast
from .tensor_util import dim_size, iota, np_int, tfl_shape

INT32_MAX = int(np.iinfo(np.int32).max)

Bound = int | Value | None
"""A band bound: None (unbounded), a constant, or a runtime 0-D value already made non-negative."""


def _bound(rw: PatternRewriter, v: Value, x: Value, axis: int, size: int | None) -> Bound:
    """The bound `v` on `x`'s dim `axis` (None when it keeps everything)."""
    ints = int_list(v)
    if ints is not None and len(ints) == 1:
        b = ints[0]
        if b < 0 or b >= INT32_MAX or (size is not None and b >= size - 1):
            return None
        return b
    # Runtime bound: negative means the whole dim, as in the official Select(b < 0, dim, b).
    dtype = v.type.dtype
    zero = const(rw, np.asarray(0, dtype=np_int(dtype)))
    negative = create_tfl(rw, "less", [v, zero], [TensorType((), "i1")]).result
    dim = dim_size(rw, x, axis, dtype)
    return create_tfl(rw, "select_v2", [negative, dim, v], [TensorType((), dtype)]).result


def _runtime_mask(
    rw: PatternRewriter, x: Value, lo: Bound, up: Bound, dtype: str, m: int | None, n: int | None
) -> Value:
    """in_band[i, j] = (i - j <= lo) and (i - j >= -up), from RANGEs over the matrix dims."""
    off_t = TensorType((m, n), dtype)
    if m is not None and n is not None:
        offset = const(rw, np.arange(m)[:, None] - np.arange(n)[None, :], dtype=np_int(dtype))
    else:
        if m is not None:
            rows = const(rw, np.arange(m, dtype=np_int(dtype)).reshape(m, 1))
        else:
            column = const(rw, np.asarray([-1, 1], dtype=np.int32))
            rows_t = TensorType((m, 1), dtype)
            rows = create_tfl(rw, "reshape", [iota(rw, x, -2, dtype), column], [rows_t])
            rows = rows.result
        cols = iota(rw, x, -1, dtype)
        offset = create_tfl(
            rw, "sub", [rows, cols], [off_t], fused_activation_function="NONE"
        ).result
    mask_t = TensorType((m, n), "i1")
    conds: list[Value] = []
    if lo is not None:
        bound = lo if isinstance(lo, Value) else const(rw, np.asarray(lo, dtype=np_int(dtype)))
        conds.append(create_tfl(rw, "less_equal", [offset, bound], [mask_t]).result)
    if up is not None:
        if isinstance(up, Value):
            neg_up = create_tfl(rw, "neg", [up], [up.type]).result
        else:
            neg_up = const(rw, np.asarray(-up, dtype=np_int(dtype)))
        conds.append(create_tfl(rw, "greater_equal", [offset, neg_up], [mask_t]).result)
    if len(conds) == 1:
        return conds[0]
    return create_tfl(rw, "logical_and", conds, [mask_t]).result


class LegalizeMatrixBandPart(RewritePattern):
    """tf.MatrixBandPart(x, lo, up) -> tfl.select_v2(in_band, x, 0) with in_band[i, j] =
    (lo < 0 or i - j <= lo) and (up < 0 or j - i <= up); a NumPy mask when the bounds and the
    matrix dims are constant; x itself when both bounds keep everything"""

    root = "tf.MatrixBandPart"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, lo_v, up_v = op.operands
        rank = x.type.rank
        if rank is not None and rank < 2:
            return rw.fail("MatrixBandPart needs an input of rank >= 2")
        dtype = x.type.dtype
        if x.type.is_quantized:
            return rw.fail(f"tfl.select_v2 does not copy quantized {dtype} elements")
        if why := kernel_dtype_reason("tfl.select_v2", x, 1):
            return rw.fail(why)
        m, n = x.type.shape[-2:] if rank is not None else (None, None)  # type: ignore[index]
        lo = _bound(rw, lo_v, x, -2, m)
        up = _bound(rw, up_v, x, -1, n)
        if lo is None and up is None:
            rw.replace(op, x)
            return None
        runtime = [b for b in (lo, up) if isinstance(b, Value)]
        if not runtime and m is not None and n is not None:
            offset = np.arange(m)[:, None] - np.arange(n)[None, :]
            in_band = np.ones((m, n), dtype=bool)
            if lo is not None:
                in_band &= offset <= lo  # type: ignore[operator]
            if up is not None:
                in_band &= offset >= -up  # type: ignore[operator]
            mask = const(rw, in_band)
        else:
            index_type = runtime[0].type.dtype if runtime else "i32"
            mask = _runtime_mask(rw, x, lo, up, index_type, m, n)
        if rank is None:
            # Any rank: the mask and the zeros at x's own shape (SELECT_V2 broadcasts up to 5-D)
            mask = create_tfl(
                rw, "broadcast_to", [mask, tfl_shape(rw, x)], [TensorType(None, "i1")]
            ).result
            zeros = create_tfl(rw, "zeros_like", [x], [x.type]).result
            rw.replace_with_new(op, "tfl.select_v2", [mask, x, zeros])
            return None
        zero = const(rw, np.zeros((), dtype=DTYPES[dtype]))
        operands = [mask, x, zero]
        if needs_explicit_broadcast(operands, 5):
            broadcast = explicit_broadcast(rw, operands)
            if broadcast is None:
                return rw.fail("cannot broadcast the mask to the input")
            operands = broadcast
        rw.replace_with_new(op, "tfl.select_v2", operands)
        return None


PATTERNS: list[RewritePattern] = [LegalizeMatrixBandPart()]
