"""Shape and data-movement StableHLO ops -> TFL: broadcast_in_dim, reshape, transpose, slice,
dynamic_slice, dynamic_update_slice, concatenate, pad, iota, reverse (official:
legalize_hlo_conversions/{slice,pad,iota,...}.cc and legalize_hlo.cc)."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..legalize_tf.common import create_tfl, scalar_const
from ..legalize_tf.tensor_util import as_i32, dim_size
from .util import NONE_ACT, i32, ints, product, reshapable, reshape, splat_value


def _aligned_shape(x: Value, dims: list[int], out_rank: int) -> tuple[int | None, ...] | None:
    """The shape `x` takes when its dims are placed at `dims` of a rank-`out_rank` result and
    leading size-1 dims are dropped (numpy broadcasting adds them back); None when `dims` are
    not increasing (a transposing broadcast)."""
    shape = x.type.shape
    if shape is None or len(dims) != len(shape) or any(b <= a for a, b in zip(dims, dims[1:])):
        return None
    aligned: list[int | None] = [1] * out_rank
    for d, size in zip(dims, shape):
        aligned[d] = size
    return tuple(aligned[dims[0] :]) if dims else ()


class LegalizeBroadcastInDim(RewritePattern):
    """stablehlo.broadcast_in_dim(x){broadcast_dimensions} -> tfl.broadcast_to(tfl.reshape(x))
    (the reshape places x's dims; consumers that broadcast themselves drop the broadcast_to)"""

    root = ("stablehlo.broadcast_in_dim", "stablehlo.dynamic_broadcast_in_dim")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        out = op.result.type
        if out.shape is None:
            return rw.fail("unranked result")
        dims = ints(op, "broadcast_dimensions")
        aligned = _aligned_shape(x, dims, len(out.shape))
        if aligned is None:
            return rw.fail("broadcast_dimensions are not increasing (a transposing broadcast)")
        if not reshapable(aligned):
            return rw.fail("operand has several unknown dims")
        src = reshape(rw, x, aligned)
        if out.is_static and product(list(aligned)) == product(list(out.shape)):
            rw.replace(op, reshape(rw, src, out.shape))  # only size-1 dims are added
            return None
        if op.name == "stablehlo.dynamic_broadcast_in_dim":
            shape_value = as_i32(rw, op.operands[1])
        elif out.is_static:
            shape_value = i32(rw, list(out.shape))
        else:
            return rw.fail("broadcast to a shape with unknown dims needs the shape operand")
        rw.replace(op, create_tfl(rw, "broadcast_to", [src, shape_value], [out]).result)
        return None


class LegalizeReshape(RewritePattern):
    """stablehlo.reshape(x) -> tfl.reshape(x, shape: i32); dynamic_reshape(x, shape) ->
    tfl.reshape(x, shape)"""

    root = ("stablehlo.reshape", "stablehlo.dynamic_reshape")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        out = op.result.type
        if op.name == "stablehlo.dynamic_reshape":
            rw.replace_with_new(op, "tfl.reshape", [x, as_i32(rw, op.operands[1])])
            return None
        if not reshapable(out.shape):
            return rw.fail("result has several unknown dims")
        if constant_value(x) is not None:  # numpy: consumers see the constant (bias shapes)
            rw.replace(op, reshape(rw, x, out.shape))  # type: ignore[arg-type]
            return None
        dims = [-1 if d is None else int(d) for d in out.shape]  # type: ignore[union-attr]
        rw.replace_with_new(op, "tfl.reshape", [x, i32(rw, dims)])
        return None


class LegalizeTranspose(RewritePattern):
    """stablehlo.transpose(x){permutation} -> tfl.transpose(x, permutation: i32)"""

    root = "stablehlo.transpose"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if why := kernel_dtype_reason("tfl.transpose", x):
            return rw.fail(why)
        perm = ints(op, "permutation")
        if x.type.rank is not None and len(perm) != x.type.rank:
            return rw.fail("permutation does not match the operand rank")
        if x.type.rank is not None and x.type.rank > 6:
            return rw.fail("TRANSPOSE takes at most 6 dims")
        rw.replace_with_new(op, "tfl.transpose", [x, i32(rw, perm)])
        return None


class LegalizeSlice(RewritePattern):
    """stablehlo.slice(x){start, limit, strides} -> tfl.slice(x, start, size) (unit strides)
    or tfl.strided_slice(x, start, limit, strides)"""

    root = "stablehlo.slice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        start, limit = ints(op, "start_indices"), ints(op, "limit_indices")
        strides = ints(op, "strides", [1] * len(start))
        if not len(start) == len(limit) == len(strides) == x.type.rank:
            return rw.fail("start/limit/strides do not match the operand rank")
        if all(s == 1 for s in strides):
            if why := kernel_dtype_reason("tfl.slice", x):
                return rw.fail(why)
            size = [b - a for a, b in zip(start, limit)]
            rw.replace_with_new(op, "tfl.slice", [x, i32(rw, start), i32(rw, size)])
            return None
        if why := kernel_dtype_reason("tfl.strided_slice", x):
            return rw.fail(why)
        rw.replace_with_new(
            op,
            "tfl.strided_slice",
            [x, i32(rw, start), i32(rw, limit), i32(rw, strides)],
            {
                "begin_mask": 0,
                "end_mask": 0,
                "ellipsis_mask": 0,
                "new_axis_mask": 0,
                "shrink_axis_mask": 0,
                "offset": False,
            },
        )
        return None


def _start_vector(
    rw: PatternRewriter, starts: list[Value], upper: list[int] | None
) -> Value | None:
    """The scalar start indices as one i32 vector, clamped to [0, upper[i]] when `upper` is
    given (StableHLO clamps dynamic_slice starts); None for non-scalar indices."""
    if any(s.type.shape != () for s in starts):
        return None
    values = [constant_value(s) for s in starts]
    if all(v is not None for v in values):
        arr = np.asarray([int(v) for v in values], dtype=np.int64)  # type: ignore[arg-type]
        if upper is not None:
            arr = np.clip(arr, 0, np.asarray(upper))
        return i32(rw, arr)
    parts = []
    for i, s in enumerate(starts):
        s = as_i32(rw, s)
        if upper is not None:
            s = create_tfl(rw, "maximum", [s, i32(rw, 0)], [s.type]).result
            s = create_tfl(rw, "minimum", [s, i32(rw, upper[i])], [s.type]).result
        parts.append(reshape(rw, s, (1,)))
    return create_tfl(
        rw,
        "concatenation",
        parts,
        [TensorType((len(parts),), "i32")],
        axis=0,
        **NONE_ACT,
    ).result


class LegalizeDynamicSlice(RewritePattern):
    """stablehlo.dynamic_slice(x, s0, s1, ...){slice_sizes} -> tfl.slice(x, clamp(concat(s)),
    slice_sizes) (starts clamped to [0, dim - size] as StableHLO does)"""

    root = "stablehlo.dynamic_slice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, *starts = op.operands
        sizes = ints(op, "slice_sizes")
        if not x.type.is_static:
            return rw.fail("operand shape is not static (clamping needs the dims)")
        if len(sizes) != x.type.rank or len(starts) != x.type.rank:
            return rw.fail("slice_sizes / start indices do not match the operand rank")
        if why := kernel_dtype_reason("tfl.slice", x):
            return rw.fail(why)
        upper = [d - s for d, s in zip(x.type.shape, sizes)]  # type: ignore[arg-type]
        begin = _start_vector(rw, starts, upper)
        if begin is None:
            return rw.fail("start indices are not scalars")
        rw.replace_with_new(op, "tfl.slice", [x, begin, i32(rw, sizes)])
        return None


class LegalizeDynamicUpdateSlice(RewritePattern):
    """stablehlo.dynamic_update_slice(x, update, s0, s1, ...) ->
    tfl.dynamic_update_slice(x, update, concat(s)) (the kernel clamps the starts as StableHLO)"""

    root = "stablehlo.dynamic_update_slice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, update, *starts = op.operands
        if why := kernel_dtype_reason("tfl.dynamic_update_slice", x):
            return rw.fail(why)
        if x.type.rank is None or len(starts) != x.type.rank:
            return rw.fail("start indices do not match the operand rank")
        begin = _start_vector(rw, starts, None)
        if begin is None:
            return rw.fail("start indices are not scalars")
        rw.replace_with_new(op, "tfl.dynamic_update_slice", [x, update, begin])
        return None


class LegalizeConcatenate(RewritePattern):
    """stablehlo.concatenate(xs...){dimension} -> tfl.concatenation(xs...){axis}"""

    root = "stablehlo.concatenate"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if why := kernel_dtype_reason("tfl.concatenation", op.operands[0]):
            return rw.fail(why)
        axis = int(op.attributes.get("dimension", 0))
        rw.replace_with_new(op, "tfl.concatenation", list(op.operands), {"axis": axis, **NONE_ACT})
        return None


class LegalizePad(RewritePattern):
    """stablehlo.pad(x, v){low, high, interior = 0} -> tfl.pad(x, [[low, high]]) (v == 0) or
    tfl.padv2(x, pads, v)"""

    root = "stablehlo.pad"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, value = op.operands
        rank = x.type.rank
        low, high = ints(op, "edge_padding_low"), ints(op, "edge_padding_high")
        interior = ints(op, "interior_padding", [0] * len(low))
        if rank is None or not len(low) == len(high) == len(interior) == rank:
            return rw.fail("padding does not match the operand rank")
        if any(interior):
            return rw.fail("interior padding has no TFL builtin")
        if any(p < 0 for p in low + high):
            return rw.fail("negative padding (a slice) is not legalized")
        pads = i32(rw, [[lo, hi] for lo, hi in zip(low, high)])
        if splat_value(value) == 0:
            if why := kernel_dtype_reason("tfl.pad", x):
                return rw.fail(why)
            rw.replace_with_new(op, "tfl.pad", [x, pads])
            return None
        if why := kernel_dtype_reason("tfl.padv2", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.padv2", [x, pads, value])
        return None


def feeds_only_reductions(value: Value) -> bool:
    """Whether every user is a stablehlo.reduce / sort (an argmax or argsort: their patterns
    read the iota)."""
    users = value.users
    return bool(users) and all(u.name in ("stablehlo.reduce", "stablehlo.sort") for u in users)


class LegalizeIota(RewritePattern):
    """stablehlo.iota(){iota_dimension = d} -> tfl.range(0, n, 1), reshaped and broadcast to
    the result shape"""

    root = "stablehlo.iota"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        out = op.result.type
        if not out.is_static:
            return rw.fail("result shape is not static")
        if feeds_only_reductions(op.result):
            return rw.fail("feeds a reduce or sort: left for the argmax / argsort pattern")
        dtype = out.dtype
        if dtype not in ("i32", "i64", "f32"):
            return rw.fail(f"tfl.range does not produce {dtype}")
        d = int(op.attributes.get("iota_dimension", 0))
        n = out.shape[d]  # type: ignore[index]
        start, limit, delta = (scalar_const(rw, v, dtype) for v in (0, n, 1))
        line = create_tfl(rw, "range", [start, limit, delta], [TensorType((n,), dtype)]).result
        rank = len(out.shape)  # type: ignore[arg-type]
        if rank == 1:
            rw.replace(op, line)
            return None
        aligned = tuple([n] + [1] * (rank - d - 1))
        src = reshape(rw, line, aligned)
        if aligned == out.shape:
            rw.replace(op, src)
            return None
        rw.replace_with_new(op, "tfl.broadcast_to", [src, i32(rw, list(out.shape))])
        return None


class LegalizeReverse(RewritePattern):
    """stablehlo.reverse(x){dimensions} -> tfl.reverse_v2(x, [d]) per reversed dim"""

    root = "stablehlo.reverse"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if why := kernel_dtype_reason("tfl.reverse_v2", x):
            return rw.fail(why)
        dims = sorted(set(ints(op, "dimensions")))
        out = x
        for d in dims:
            out = create_tfl(rw, "reverse_v2", [out, i32(rw, [d])], [x.type]).result
        rw.replace(op, out)
        return None


class LegalizeGetDimensionSize(RewritePattern):
    """stablehlo.get_dimension_size(x){dimension} -> tfl.gather(tfl.shape(x), d) (a constant
    for a static dim): the symbolic batch of a `dynamic_batch` export"""

    root = "stablehlo.get_dimension_size"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.rank is None:
            return rw.fail("unranked operand")
        if op.result.type.dtype not in ("i32", "i64"):
            return rw.fail(f"dimension size of type {op.result.type.dtype}")
        d = int(op.attributes.get("dimension", 0))
        rw.replace(op, dim_size(rw, x, d, op.result.type.dtype))
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeGetDimensionSize(),
    LegalizeBroadcastInDim(),
    LegalizeReshape(),
    LegalizeTranspose(),
    LegalizeSlice(),
    LegalizeDynamicSlice(),
    LegalizeDynamicUpdateSlice(),
    LegalizeConcatenate(),
    LegalizePad(),
    LegalizeIota(),
    LegalizeReverse(),
]
