"""stablehlo.gather -> tfl.gather / tfl.gather_nd, stablehlo.scatter (JAX's `.at[].set/add`)
-> tfl.scatter_nd / tfl.dynamic_update_slice (official: legalize_hlo_conversions/gather.cc,
scatter.cc). Gather start indices are clamped into range first, as StableHLO clamps them
(LiteRT's kernels would fail on an out-of-range index instead). Scatter skips out-of-range
windows in StableHLO; SCATTER_ND fails on them at run time (an error, not a wrong result)."""

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


def _scatter_kind(op: Operation) -> str | None:
    """ "set" (the body returns the update) or "add" (the body adds the two), else None."""
    if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        return None
    block = op.regions[0].blocks[0]
    body = list(block.ops)
    if len(block.args) != 2 or not body or body[-1].name != "stablehlo.return":
        return None
    ret = body[-1]
    if len(body) == 1 and ret.operands == (block.args[1],):
        return "set"
    adds = len(body) == 2 and body[0].name == "stablehlo.add"
    if adds and ret.operands == (body[0].result,) and set(body[0].operands) == set(block.args):
        return "add"
    return None


class LegalizeScatter(RewritePattern):
    """stablehlo.scatter(x, idx[..., k], upd) ({add}) -> tfl.add(x, tfl.scatter_nd(idx, upd));
    ({set}, unique indices) -> tfl.select_v2(scatter_nd(idx, 1) != 0, scatter_nd(idx, upd), x),
    for whole-row updates of the leading k dims"""

    root = "stablehlo.scatter"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands != 3:
            return rw.fail("variadic scatter is not legalized")
        x, idx, upd = op.operands
        kind = _scatter_kind(op)
        if kind is None:
            return rw.fail("the body is neither a set nor an add")
        shape, ishape, ushape = x.type.shape, idx.type.shape, upd.type.shape
        if not (x.type.is_static and idx.type.is_static and upd.type.is_static):
            return rw.fail("scatter needs static shapes")
        if ints(op, "input_batching_dims") or ints(op, "scatter_indices_batching_dims"):
            return rw.fail("batching dims are not legalized")
        if idx.type.dtype not in ("i32", "i64"):
            return rw.fail(f"indices of type {idx.type.dtype} are not legalized")
        ivd = int(op.attributes.get("index_vector_dim", len(ishape)))  # type: ignore[arg-type]
        if ivd == len(ishape):  # type: ignore[arg-type]
            ishape = (*ishape, 1)  # type: ignore[misc]
            idx = reshape(rw, idx, ishape)
        elif ivd != len(ishape) - 1:  # type: ignore[arg-type]
            return rw.fail("index_vector_dim is not the last dim of the indices")
        k = ishape[-1]  # type: ignore[index]
        inserted = ints(op, "inserted_window_dims")
        smap = ints(op, "scatter_dims_to_operand_dims")
        window = ints(op, "update_window_dims")
        batch = len(ishape) - 1  # type: ignore[arg-type]
        rank = len(shape)  # type: ignore[arg-type]
        if smap != list(range(k)) or inserted != list(range(k)):
            return rw.fail("not a scatter of whole rows along the leading dims")
        if window != list(range(batch, batch + rank - k)):
            return rw.fail("update_window_dims are not the trailing dims")
        if tuple(ushape) != tuple(ishape[:-1]) + tuple(shape[k:]):  # type: ignore[index,arg-type]
            return rw.fail("updates are not whole rows")
        if why := kernel_dtype_reason("tfl.scatter_nd", upd, 1):
            return rw.fail(why)
        index = idx
        if kind == "set":
            unique = bool(op.attributes.get("unique_indices", False))
            arr = constant_value(idx)
            if not unique and arr is not None:
                rows = np.asarray(arr).reshape(-1, k)
                unique = len({tuple(r) for r in rows.tolist()}) == len(rows)
            if not unique and int(np.prod(ishape[:-1])) > 1:  # type: ignore[index]
                return rw.fail("set with possibly repeated indices (scatter_nd would sum them)")
        shape_v = const(rw, np.asarray(shape, dtype=np.int32))
        scattered = create_tfl(rw, "scatter_nd", [index, upd, shape_v], [x.type]).result
        if kind == "add":
            if why := kernel_dtype_reason("tfl.add", x):
                return rw.fail(why)
            rw.replace_with_new(
                op, "tfl.add", [x, scattered], {"fused_activation_function": "NONE"}
            )
            return None
        ones = const(rw, np.ones(ushape, dtype=np.float32))  # type: ignore[arg-type]
        hits = create_tfl(rw, "scatter_nd", [index, ones, shape_v], [x.type.with_dtype("f32")])
        zero = const(rw, np.asarray(0, dtype=np.float32))
        mask = create_tfl(rw, "not_equal", [hits.result, zero], [x.type.with_dtype("i1")]).result
        rw.replace_with_new(op, "tfl.select_v2", [mask, scattered, x])
        return None


class LegalizeScatterWindow(RewritePattern):
    """stablehlo.scatter(x, const start, upd){window update, set} ->
    tfl.dynamic_update_slice(x, upd, start) (a constant, in-range window: `x.at[1:3].set(v)`)"""

    root = "stablehlo.scatter"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands != 3 or _scatter_kind(op) != "set":
            return rw.fail("not a single-operand set scatter")
        x, idx, upd = op.operands
        start = constant_value(idx)
        if start is None or not (x.type.is_static and upd.type.is_static):
            return rw.fail("start indices are not constant (or shapes not static)")
        shape, ushape = x.type.shape, upd.type.shape
        if ints(op, "inserted_window_dims") or ints(op, "update_window_dims") != list(
            range(len(shape))  # type: ignore[arg-type]
        ):
            return rw.fail("not a full-rank window update")
        smap = ints(op, "scatter_dims_to_operand_dims")
        begin = [0] * len(shape)  # type: ignore[arg-type]
        flat = np.asarray(start).reshape(-1)
        if len(flat) != len(smap):
            return rw.fail("one window per scatter only")
        for d, s in zip(smap, flat):
            begin[d] = int(s)
        if any(b < 0 or b + u > n for b, u, n in zip(begin, ushape, shape)):  # type: ignore[arg-type]
            return rw.fail("window out of range (StableHLO would skip it)")
        if why := kernel_dtype_reason("tfl.dynamic_update_slice", x):
            return rw.fail(why)
        begin_v = const(rw, np.asarray(begin, dtype=np.int32))
        rw.replace_with_new(op, "tfl.dynamic_update_slice", [x, upd, begin_v])
        return None


PATTERNS: list[RewritePattern] = [LegalizeGather(), LegalizeScatter(), LegalizeScatterWindow()]
