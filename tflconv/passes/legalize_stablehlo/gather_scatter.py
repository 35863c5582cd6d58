"""stablehlo.gather -> tfl.gather / tfl.gather_nd (official: legalize_hlo_conversions/
gather.cc). Start indices are clamped into range first, as StableHLO clamps them (LiteRT's
kernels would fail on an out-of-range index instead)."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..legalize_tf.common import const, create_tfl
from .util import ints, reshape


def _clamped(rw: PatternRewriter, indices: Value, upper: list[int]) -> Value:
    """indices clamped to [0, upper] (upper per component of the last axis; one value for a
    scalar index) -- numpy for constants, tfl.maximum / tfl.minimum otherwise."""
    dtype = np.dtype("int64" if indices.type.dtype == "i64" else "int32")
    bound = np.asarray(upper[0] if len(upper) == 1 else upper, dtype=dtype)
    arr = constant_value(indices)
    if arr is not None:
        return const(rw, np.clip(np.asarray(arr), 0, bound).astype(dtype))
    zero = const(rw, np.asarray(0, dtype=dtype))
    low = create_tfl(rw, "maximum", [indices, zero], [indices.type]).result
    return create_tfl(rw, "minimum", [low, const(rw, bound)], [indices.type]).result


class LegalizeGather(RewritePattern):
    """stablehlo.gather(x, idx){collapsed = start_index_map = [a], full slices} ->
    tfl.gather(x, clamp(idx), axis = a); leading collapsed dims [0..k) -> tfl.gather_nd"""

    root = "stablehlo.gather"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, idx = op.operands
        out = op.result.type
        shape, ishape = x.type.shape, idx.type.shape
        if shape is None or ishape is None or out.shape is None or None in shape:
            return rw.fail("operand must be static and indices ranked")
        if ints(op, "operand_batching_dims") or ints(op, "start_indices_batching_dims"):
            return rw.fail("batching dims are not legalized")
        if idx.type.dtype not in ("i32", "i64"):
            return rw.fail(f"indices of type {idx.type.dtype} are not legalized")
        ivd = int(op.attributes.get("index_vector_dim", len(ishape)))
        if ivd == len(ishape):
            ishape = (*ishape, 1)
            if not _one_unknown(ishape):
                return rw.fail("indices have several unknown dims")
            idx = reshape(rw, idx, ishape)
        elif ivd != len(ishape) - 1:
            return rw.fail("index_vector_dim is not the last dim of the indices")
        smap = ints(op, "start_index_map")
        collapsed = ints(op, "collapsed_slice_dims")
        sizes = ints(op, "slice_sizes")
        offset = ints(op, "offset_dims")
        k = len(smap)
        batch = len(ishape) - 1
        if ishape[-1] != k or sorted(collapsed) != collapsed or smap != collapsed:
            return rw.fail("start_index_map differs from collapsed_slice_dims")
        if any(sizes[d] != 1 for d in collapsed) or any(
            sizes[d] != shape[d] for d in range(len(shape)) if d not in collapsed
        ):
            return rw.fail("slices are not whole (only single-index gathers are legalized)")
        upper = [shape[d] - 1 for d in smap]
        if k == 1:
            (a,) = smap
            rest = len(shape) - 1 - a
            want = list(range(a)) + list(range(a + batch, a + batch + rest))
            if offset != want:
                return rw.fail("offset_dims do not follow tfl.gather's layout")
            if why := kernel_dtype_reason("tfl.gather", x):
                return rw.fail(why)
            flat = reshape(rw, idx, ishape[:-1]) if _one_unknown(ishape[:-1]) else None
            if flat is None:
                return rw.fail("indices have several unknown dims")
            index = _clamped(rw, flat, upper)
            rw.replace_with_new(op, "tfl.gather", [x, index], {"axis": a, "batch_dims": 0})
            return None
        if collapsed != list(range(k)):
            return rw.fail("collapsed dims are not the leading dims (gather_nd's layout)")
        if offset != list(range(batch, batch + len(shape) - k)):
            return rw.fail("offset_dims are not trailing (gather_nd's layout)")
        if why := kernel_dtype_reason("tfl.gather_nd", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.gather_nd", [x, _clamped(rw, idx, upper)])
        return None


def _one_unknown(shape) -> bool:
    return sum(d is None for d in shape) <= 1


PATTERNS: list[RewritePattern] = [LegalizeGather()]
