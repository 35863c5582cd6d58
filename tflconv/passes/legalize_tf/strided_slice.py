"""tf.StridedSlice: the dense form of a slice spec (TF's BuildDenseSpec), its NumPy evaluation,
and the legalization to tfl.strided_slice.

Like the official PrepareTF, constant specs are expanded to the dense form (one begin/end/stride
per input dim, no ellipsis or new axes); new axes become a reshape (or expand_dims when the
shape is too dynamic) after the slice. Run-time specs keep their masks for the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tflconv.core.ir import Operation, TensorType
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from .common import constant_value, create_tfl
from .tensor_util import as_i32, i32_const, reshape, returned_from_subgraph

NEW_AXIS = -1
MAX_RANK = 6  # the TFLite STRIDED_SLICE kernel handles up to 6-D inputs


class SliceSpecError(ValueError):
    """The sparse spec is invalid for the input rank (several ellipses, too many dims)."""


@dataclass
class DenseSlice:
    """One begin/end/stride per input dim, masks over input dims, and how result dims map:
    `final[i]` is the input dim the i-th result dim comes from, or NEW_AXIS."""

    begin: list[int]
    end: list[int]
    strides: list[int]
    begin_mask: int
    end_mask: int
    shrink_mask: int
    final: list[int]

    @property
    def has_new_axes(self) -> bool:
        return NEW_AXIS in self.final


def dense_slice(
    rank: int,
    begin: list[int],
    end: list[int],
    strides: list[int],
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_mask: int = 0,
) -> DenseSlice:
    """Expand a (sparse) StridedSlice spec against an input of `rank` dims."""
    n = len(begin)
    if not (len(end) == len(strides) == n):
        raise SliceSpecError("begin, end and strides differ in length")
    begin, end, strides = list(begin), list(end), list(strides)
    if ellipsis_mask == 0:  # an implicit ellipsis after the last given dim
        ellipsis_mask = 1 << n
        begin.append(0)
        end.append(0)
        strides.append(1)
        n += 1
    if bin(ellipsis_mask & ((1 << n) - 1)).count("1") > 1:
        raise SliceSpecError("more than one ellipsis")
    ellipsis_at = (ellipsis_mask & -ellipsis_mask).bit_length() - 1
    new_after = sum(1 for i in range(ellipsis_at + 1, n) if new_axis_mask >> i & 1)
    out = DenseSlice([0] * rank, [0] * rank, [1] * rank, 0, 0, 0, [])
    full = 0
    for i in range(n):
        if ellipsis_mask >> i & 1:
            stop = min(rank - (n - i) + 1 + new_after, rank)
            for d in range(full, stop):
                out.begin_mask |= 1 << d
                out.end_mask |= 1 << d
                out.final.append(d)
            full = max(full, stop)
        elif new_axis_mask >> i & 1:
            out.final.append(NEW_AXIS)
        else:
            if full >= rank:
                raise SliceSpecError(f"slice spec indexes more than the {rank} input dims")
            out.begin[full], out.end[full], out.strides[full] = begin[i], end[i], strides[i]
            if strides[i] == 0:
                raise SliceSpecError("stride 0")
            if begin_mask >> i & 1:
                out.begin_mask |= 1 << full
            if end_mask >> i & 1:
                out.end_mask |= 1 << full
            if shrink_mask >> i & 1:
                out.shrink_mask |= 1 << full
            else:
                out.final.append(full)
            full += 1
    return out


def dense_slice_of(op: Operation, rank: int) -> DenseSlice | None:
    """The dense spec of a tf.StridedSlice / tfl.strided_slice with constant begin/end/strides."""
    arrays = [constant_value(v) for v in op.operands[1:4]]
    if any(a is None for a in arrays):
        return None
    begin, end, strides = ([int(x) for x in np.asarray(a).reshape(-1)] for a in arrays)  # type: ignore[union-attr]
    return dense_slice(
        rank,
        begin,
        end,
        strides,
        int(op.attr("begin_mask", 0)),
        int(op.attr("end_mask", 0)),
        int(op.attr("ellipsis_mask", 0)),
        int(op.attr("new_axis_mask", 0)),
        int(op.attr("shrink_axis_mask", 0)),
    )


def _dim_slice(spec: DenseSlice, d: int) -> slice | int:
    if spec.shrink_mask >> d & 1:
        return spec.begin[d]
    b = None if spec.begin_mask >> d & 1 else spec.begin[d]
    e = None if spec.end_mask >> d & 1 else spec.end[d]
    return slice(b, e, spec.strides[d])


def evaluate(x: np.ndarray, spec: DenseSlice) -> np.ndarray:
    """The slice of a NumPy array (NumPy's slice clamping is TF's); IndexError if a shrunk
    index is out of range."""
    # np.array (not asarray): indexing may give a scalar; keep it 0-D and x's dtype.
    y = np.array(x[tuple(_dim_slice(spec, d) for d in range(x.ndim))], dtype=x.dtype)
    if spec.has_new_axes:
        kept = iter(y.shape)
        y = y.reshape([1 if f == NEW_AXIS else next(kept) for f in spec.final])
    return y


def sliced_dims(shape: tuple[int | None, ...], spec: DenseSlice) -> list[int | None]:
    """The result dims of the dense slice before new axes are inserted (None if unknown)."""
    dims: list[int | None] = []
    for d, size in enumerate(shape):
        if spec.shrink_mask >> d & 1:
            continue
        if size is None:
            dims.append(None)
            continue
        dims.append(len(range(size)[_dim_slice(spec, d)]))  # type: ignore[index]
    return dims


class LegalizeStridedSlice(RewritePattern):
    """tf.StridedSlice(x, b, e, s){masks} -> tfl.strided_slice(x, dense b, e, s: i32){masks without
    ellipsis/new axes} [-> tfl.reshape to insert the new axes]"""

    root = "tf.StridedSlice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        result_t = op.result.type
        shape = x.type.shape
        if shape is not None and len(shape) > MAX_RANK:
            return rw.fail(f"input rank {len(shape)} exceeds the kernel's {MAX_RANK}")
        if why := kernel_dtype_reason("tfl.strided_slice", x):
            return rw.fail(why)
        spec = None
        if shape is not None:
            try:
                spec = dense_slice_of(op, len(shape))
            except SliceSpecError as e:
                return rw.fail(f"invalid slice spec: {e}")
        if spec is None:
            return self._plain(op, rw)
        dims = sliced_dims(shape, spec)  # type: ignore[arg-type]
        if result_t.shape is not None and len(result_t.shape) == len(spec.final):
            # Prefer the (possibly better inferred) result type for the kept dims.
            kept = [d for d, f in zip(result_t.shape, spec.final) if f != NEW_AXIS]
            if any(a is not None and b is not None and a != b for a, b in zip(kept, dims)):
                return rw.fail(f"slice spec gives dims {dims}, the result type says {kept}")
            dims = [a if a is not None else b for a, b in zip(kept, dims)]
        elif result_t.shape is not None:
            return rw.fail(f"slice spec gives rank {len(spec.final)}, result is {result_t}")
        sliced_t = result_t.with_shape(tuple(dims))
        operands = [
            x,
            i32_const(rw, spec.begin),
            i32_const(rw, spec.end),
            i32_const(rw, spec.strides),
        ]
        # TF ignores begin/end masks on shrunk dims; TFLite's kernel would apply them.
        attrs = {
            "begin_mask": spec.begin_mask & ~spec.shrink_mask,
            "end_mask": spec.end_mask & ~spec.shrink_mask,
            "ellipsis_mask": 0,
            "new_axis_mask": 0,
            "shrink_axis_mask": spec.shrink_mask,
            "offset": False,
        }
        if not spec.has_new_axes:
            rw.replace_with_new(op, "tfl.strided_slice", operands, attrs, [sliced_t])
            return None
        sliced = create_tfl(rw, "strided_slice", operands, [sliced_t], **attrs).result
        final_t = result_t.with_shape(tuple(_fill(dims, spec)))
        if returned_from_subgraph(op.result):
            final_t = result_t
        out = reshape(rw, sliced, final_t)
        if out is None:  # too dynamic for one reshape: insert the axes one by one
            out = sliced
            cur = list(dims)
            for pos, f in enumerate(spec.final):
                if f == NEW_AXIS:
                    cur.insert(pos, 1)
                    t = result_t.with_shape(tuple(cur))
                    out = create_tfl(rw, "expand_dims", [out, i32_const(rw, pos)], [t]).result
        rw.replace(op, out)
        return None

    def _plain(self, op: Operation, rw: PatternRewriter) -> None:
        """Non-constant begin/end/strides: the masks go to the kernel as they are (LiteRT's
        STRIDED_SLICE v6 expands an ellipsis and inserts new axes itself)."""
        attrs = {
            k: int(op.attr(k, 0))
            for k in (
                "begin_mask",
                "end_mask",
                "ellipsis_mask",
                "new_axis_mask",
                "shrink_axis_mask",
            )
        }
        result_t = op.result.type
        if attrs["ellipsis_mask"] or attrs["new_axis_mask"]:
            sparse_t = _sparse_result_type(op, attrs)
            if isinstance(sparse_t, str):
                return rw.fail(sparse_t)
            result_t = sparse_t
        operands = [op.operands[0]] + [as_i32(rw, v) for v in op.operands[1:4]]
        attrs["begin_mask"] &= ~attrs["shrink_axis_mask"]  # ignored by TF, applied by TFLite
        attrs["end_mask"] &= ~attrs["shrink_axis_mask"]
        attrs["offset"] = False  # type: ignore[assignment]
        rw.replace_with_new(op, "tfl.strided_slice", operands, attrs, [result_t])
        return None


def _sparse_result_type(op: Operation, masks: dict[str, int]) -> TensorType | str:
    """The result type of a slice with an ellipsis or new axes and run-time begin/end/strides
    (TF may leave its rank unknown): the masks fix the rank; new axes have size 1 and dims the
    ellipsis covers keep the input's size. A string says why it cannot be known."""
    shape = op.operands[0].type.shape
    n = op.operands[1].type.shape
    if shape is None or n is None or len(n) != 1 or n[0] is None:
        return "ellipsis/new-axis masks with run-time begin/end/strides need a ranked input"
    # Strides 2 tell the dims the spec names (stride 2) from those the ellipsis covers (1).
    try:
        spec = dense_slice(
            len(shape),
            [0] * n[0],
            [0] * n[0],
            [2] * n[0],
            masks["begin_mask"],
            masks["end_mask"],
            masks["ellipsis_mask"],
            masks["new_axis_mask"],
            masks["shrink_axis_mask"],
        )
    except SliceSpecError as e:
        return f"invalid slice spec: {e}"
    dims = [1 if f == NEW_AXIS else shape[f] if spec.strides[f] == 1 else None for f in spec.final]
    result_t = op.result.type
    if result_t.shape is not None:
        if len(result_t.shape) != len(dims):
            return f"slice spec gives rank {len(dims)}, result is {result_t}"
        return result_t
    return result_t.with_shape(tuple(dims))


def _fill(dims: list[int | None], spec: DenseSlice) -> list[int | None]:
    """`dims` spread over the final positions (new axes get a placeholder)."""
    it = iter(dims)
    return [1 if f == NEW_AXIS else next(it) for f in spec.final]


def _full_dim(spec: DenseSlice, d: int, size: int) -> bool:
    """Dim d is taken whole (not shrunk, stride 1, from 0 to the end)."""
    if spec.shrink_mask >> d & 1 or spec.strides[d] != 1:
        return False
    starts = spec.begin_mask >> d & 1 or spec.begin[d] == 0 or spec.begin[d] <= -size
    ends = spec.end_mask >> d & 1 or spec.end[d] >= size
    return bool(starts and ends)


class LegalizeHighRankStridedSlice(RewritePattern):
    """tf.StridedSlice(x: rank > 6) -> tfl.reshape(tfl.strided_slice(tfl.reshape(x), ..))
    when merging runs of adjacent whole dims brings the rank to 6 (the kernel's limit; LiteRT
    2.3 slices 6-D inputs directly, ConvLSTM3D's [time, batch, d, h, w, c] stack included)"""

    root = "tf.StridedSlice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        shape = x.type.shape
        if shape is None or len(shape) <= MAX_RANK:
            return rw.fail(f"input rank is at most {MAX_RANK} (LegalizeStridedSlice's case)")
        if None in shape or not op.result.type.is_static:
            return rw.fail("shapes are not static")
        if why := kernel_dtype_reason("tfl.strided_slice", x):
            return rw.fail(why)
        try:
            spec = dense_slice_of(op, len(shape))
        except SliceSpecError as e:
            return rw.fail(f"invalid slice spec: {e}")
        if spec is None:
            return rw.fail("begin, end or strides are not constant")
        groups: list[list[int]] = []  # input dims, adjacent whole ones merged
        for d, size in enumerate(shape):
            whole = _full_dim(spec, d, size)
            if whole and groups and _full_dim(spec, groups[-1][-1], shape[groups[-1][-1]]):
                groups[-1].append(d)
            else:
                groups.append([d])
        if len(groups) > MAX_RANK:
            return rw.fail(f"{len(groups)} dims remain after merging whole ones (max {MAX_RANK})")
        merged = [int(np.prod([shape[d] for d in g])) for g in groups]
        begin, end, strides = [], [], []
        begin_mask = end_mask = shrink_mask = 0
        for i, g in enumerate(groups):
            d = g[0]
            if len(g) > 1 or _full_dim(spec, d, shape[d]):
                begin.append(0)
                end.append(merged[i])
                strides.append(1)
                begin_mask |= 1 << i
                end_mask |= 1 << i
                continue
            begin.append(spec.begin[d])
            end.append(spec.end[d])
            strides.append(spec.strides[d])
            begin_mask |= (spec.begin_mask >> d & 1) << i
            end_mask |= (spec.end_mask >> d & 1) << i
            shrink_mask |= (spec.shrink_mask >> d & 1) << i
        begin_mask &= ~shrink_mask
        end_mask &= ~shrink_mask
        flat = reshape(rw, x, x.type.with_shape(tuple(merged)))
        merged_spec = DenseSlice(begin, end, strides, begin_mask, end_mask, shrink_mask, [])
        dims = sliced_dims(tuple(merged), merged_spec)
        attrs = {
            "begin_mask": begin_mask,
            "end_mask": end_mask,
            "ellipsis_mask": 0,
            "new_axis_mask": 0,
            "shrink_axis_mask": shrink_mask,
            "offset": False,
        }
        operands = [flat, i32_const(rw, begin), i32_const(rw, end), i32_const(rw, strides)]
        sliced_t = op.result.type.with_shape(tuple(dims))
        sliced = create_tfl(rw, "strided_slice", operands, [sliced_t], **attrs).result
        out = reshape(rw, sliced, op.result.type)  # static type: never None
        rw.replace(op, out if out is not None else sliced)
        return None


PATTERNS: list[RewritePattern] = [LegalizeStridedSlice(), LegalizeHighRankStridedSlice()]
