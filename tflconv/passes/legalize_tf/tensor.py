"""Legalization patterns: tensor family.

Shape manipulation (reshape, squeeze, expand_dims, transpose), joining and splitting (concat,
pack, unpack, split), slicing and gathering, scatter, tile/broadcast/fill/range, select/where,
reversal, one-hot, space<->depth/batch, shape queries and the identity-like ops.
Follows the official legalize_patterns.td / legalize_tf.cc; i64 shapes, axes and perms become
i32 (constants are rewritten, other values get a tfl.cast).
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..cleanup.fold_tf import RemoveIdentityLike
from . import matrix_band, roll, scatter, strided_slice
from .common import const, constant_value, create_tfl, int_list
from .math import explicit_broadcast, needs_explicit_broadcast
from .tensor_util import (
    as_i32,
    i32_const,
    reshape,
    shape_with_wildcard,
    tfl_shape,
    tflite_type_name,
)


def _single_scalar(value: Value) -> int | None:
    ints = int_list(value)
    return ints[0] if ints is not None and len(ints) == 1 else None


# --- shape manipulation -------------------------------------------------------------------------


class LegalizeReshape(RewritePattern):
    """tf.Reshape(x, shape) -> tfl.reshape(x, shape: i32) (a constant from the result type when
    at most one dim is dynamic, so shape arithmetic disappears)"""

    root = "tf.Reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, shape = op.operands
        target = shape_with_wildcard(op.result.type.shape)
        if constant_value(shape) is None and target is not None:
            shape32 = i32_const(rw, target)
        else:
            shape32 = as_i32(rw, shape)
        rw.replace_with_new(op, "tfl.reshape", [x, shape32])
        return None


class LegalizeSqueeze(RewritePattern):
    """tf.Squeeze(x){squeeze_dims} -> tfl.reshape(x, result shape) when at most one dim is
    dynamic, else tfl.squeeze(x){squeeze_dims}"""

    root = "tf.Squeeze"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        out = reshape(rw, x, op.result.type)
        if out is not None:
            rw.replace(op, out)
            return None
        # No dims: both TF and the TFLite kernel squeeze every size-1 dim found at runtime.
        dims = [int(d) for d in op.attr("squeeze_dims", []) or []]
        rw.replace_with_new(op, "tfl.squeeze", [x], {"squeeze_dims": dims})
        return None


class LegalizeExpandDims(RewritePattern):
    """tf.ExpandDims(x, axis) -> tfl.reshape(x, result shape) when at most one dim is dynamic,
    else tfl.expand_dims(x, axis: i32)"""

    root = "tf.ExpandDims"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, axis = op.operands
        out = reshape(rw, x, op.result.type)
        if out is not None:
            rw.replace(op, out)
            return None
        rw.replace_with_new(op, "tfl.expand_dims", [x, as_i32(rw, axis)])
        return None


class LegalizeTranspose(RewritePattern):
    """tf.Transpose(x, perm) -> tfl.transpose(x, perm: i32)"""

    root = ("tf.Transpose", "tf.ConjugateTranspose")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, perm = op.operands
        if op.name == "tf.ConjugateTranspose" and x.type.dtype.startswith("complex"):
            return rw.fail("conjugating complex values has no builtin")
        rank = x.type.rank
        if rank is not None and rank > 6:
            return rw.fail(f"tfl.transpose handles up to 6-D, input is {rank}-D")
        if why := kernel_dtype_reason("tfl.transpose", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.transpose", [x, as_i32(rw, perm)])
        return None


# --- joining and splitting ------------------------------------------------------------------------


class LegalizeConcat(RewritePattern):
    """tf.ConcatV2(xs..., axis) -> tfl.concatenation(xs...){axis >= 0} (tf.Concat: axis first)"""

    root = ("tf.ConcatV2", "tf.Concat")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name == "tf.ConcatV2":
            values, axis_v = list(op.operands[:-1]), op.operands[-1]
        else:
            axis_v, values = op.operands[0], list(op.operands[1:])
        axis = _single_scalar(axis_v)
        if axis is None:
            return rw.fail("axis is not a constant")
        rank = op.result.type.rank
        if axis < 0:
            if rank is None:
                return rw.fail("negative axis with an unranked result")
            axis += rank
        if len(values) == 1 and values[0].type == op.result.type:
            rw.replace(op, values[0])
            return None
        if why := kernel_dtype_reason("tfl.concatenation", values[0]):
            return rw.fail(why)
        attrs = {"axis": axis, "fused_activation_function": "NONE"}
        rw.replace_with_new(op, "tfl.concatenation", values, attrs)
        return None


class LegalizePack(RewritePattern):
    """tf.Pack(xs...){axis} -> tfl.pack(xs...){values_count, axis >= 0}"""

    root = "tf.Pack"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if why := kernel_dtype_reason("tfl.pack", op.operands[0]):
            return rw.fail(why)
        axis = int(op.attr("axis", 0))
        rank = op.result.type.rank
        if axis < 0 and rank is not None:
            axis += rank
        attrs = {"values_count": op.num_operands, "axis": axis}
        rw.replace_with_new(op, "tfl.pack", list(op.operands), attrs)
        return None


class LegalizeUnpack(RewritePattern):
    """tf.Unpack(x){num, axis} -> tfl.unpack(x){num, axis >= 0}"""

    root = "tf.Unpack"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if why := kernel_dtype_reason("tfl.unpack", x):
            return rw.fail(why)
        axis = int(op.attr("axis", 0))
        if axis < 0 and x.type.rank is not None:
            axis += x.type.rank
        attrs = {"num": len(op.results), "axis": axis}
        rw.replace_with_new(op, "tfl.unpack", [x], attrs)
        return None


class LegalizeSplit(RewritePattern):
    """tf.Split(dim, x){num_split} -> tfl.split(dim: i32, x){num_splits}"""

    root = "tf.Split"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        dim, x = op.operands
        if why := kernel_dtype_reason("tfl.split", x, 1):
            return rw.fail(why)
        attrs = {"num_splits": len(op.results)}
        rw.replace_with_new(op, "tfl.split", [as_i32(rw, dim), x], attrs)
        return None


class LegalizeSplitV(RewritePattern):
    """tf.SplitV(x, sizes, dim){num_split} -> tfl.split_v(x, sizes: i32, dim: i32){num_splits}"""

    root = "tf.SplitV"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, sizes, dim = op.operands
        if why := kernel_dtype_reason("tfl.split_v", x):
            return rw.fail(why)
        attrs = {"num_splits": len(op.results)}
        operands = [x, as_i32(rw, sizes), as_i32(rw, dim)]
        rw.replace_with_new(op, "tfl.split_v", operands, attrs)
        return None


# --- slicing, gathering, scattering -----------------------------------------------------------------


class LegalizeSlice(RewritePattern):
    """tf.Slice(x, begin, size) -> tfl.slice(x, begin: i32, size: i32)"""

    root = "tf.Slice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, begin, size = op.operands
        if x.type.rank is not None and x.type.rank > 5:
            return rw.fail(f"tfl.slice handles up to 5-D, input is {x.type.rank}-D")
        if why := kernel_dtype_reason("tfl.slice", x):
            return rw.fail(why)
        operands = [x, as_i32(rw, begin), as_i32(rw, size)]
        rw.replace_with_new(op, "tfl.slice", operands)
        return None


class LegalizeGather(RewritePattern):
    """tf.GatherV2(params, indices, axis){batch_dims} -> tfl.gather(params, indices){axis,
    batch_dims} (tf.Gather: axis 0; tf.ResourceGather on a frozen table likewise)"""

    root = ("tf.GatherV2", "tf.Gather", "tf.ResourceGather")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        params, indices = op.operands[0], op.operands[1]
        if params.type.dtype in ("resource", "variant"):
            return rw.fail("the table is a resource variable, not a constant")
        axis = 0
        if op.name == "tf.GatherV2":
            found = _single_scalar(op.operands[2])
            if found is None:
                return rw.fail("axis is not a constant")
            axis = found
        batch_dims = int(op.attr("batch_dims", 0))
        rank, idx_rank = params.type.rank, indices.type.rank
        if axis < 0:
            if rank is None:
                return rw.fail("negative axis on an unranked table")
            axis += rank
        if batch_dims < 0:
            if idx_rank is None:
                return rw.fail("negative batch_dims with unranked indices")
            batch_dims += idx_rank
        if why := kernel_dtype_reason("tfl.gather", params) or kernel_dtype_reason(
            "tfl.gather", indices, 1
        ):
            return rw.fail(why)
        attrs = {"axis": axis, "batch_dims": batch_dims}
        rw.replace_with_new(op, "tfl.gather", [params, indices], attrs)
        return None


class LegalizeGatherNd(RewritePattern):
    """tf.GatherNd(params, indices) -> tfl.gather_nd(params, indices)"""

    root = "tf.GatherNd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        policy = op.attr("bad_indices_policy", "")
        if policy not in ("", "DEFAULT", "IGNORE", b""):
            return rw.fail(f"bad_indices_policy {policy!r}")
        params, indices = op.operands[:2]
        if why := kernel_dtype_reason("tfl.gather_nd", params) or kernel_dtype_reason(
            "tfl.gather_nd", indices, 1
        ):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.gather_nd", [params, indices])
        return None


class LegalizeScatterNd(RewritePattern):
    """tf.ScatterNd(indices, updates, shape) -> tfl.scatter_nd(indices: i32, updates, shape: i32)"""

    root = "tf.ScatterNd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        indices, updates, shape = op.operands
        if why := kernel_dtype_reason("tfl.scatter_nd", updates, 1):
            return rw.fail(why)
        operands = [as_i32(rw, indices), updates, as_i32(rw, shape)]
        rw.replace_with_new(op, "tfl.scatter_nd", operands)
        return None


# --- tile, broadcast, fill, range -------------------------------------------------------------------


class LegalizeTile(RewritePattern):
    """tf.Tile(x, multiples) -> tfl.tile(x, multiples: i32)"""

    root = "tf.Tile"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, multiples = op.operands
        if why := kernel_dtype_reason("tfl.tile", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.tile", [x, as_i32(rw, multiples)])
        return None


class LegalizeBroadcastTo(RewritePattern):
    """tf.BroadcastTo(x, shape) -> tfl.broadcast_to(x, shape: i32); x when already that shape"""

    root = "tf.BroadcastTo"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, shape = op.operands
        if x.type == op.result.type and x.type.is_static:
            rw.replace(op, x)
            return None
        if why := kernel_dtype_reason("tfl.broadcast_to", x):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.broadcast_to", [x, as_i32(rw, shape)])
        return None


class LegalizeFill(RewritePattern):
    """tf.Fill(dims, value) -> tfl.fill(dims: i32, value)"""

    root = "tf.Fill"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        dims, value = op.operands
        if why := kernel_dtype_reason("tfl.fill", value, 1):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.fill", [as_i32(rw, dims), value])
        return None


class LegalizeRange(RewritePattern):
    """tf.Range(start, limit, delta) -> tfl.range(start, limit, delta)"""

    root = "tf.Range"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        dtype = op.result.type.dtype
        if why := kernel_dtype_reason("tfl.range", op.operands[0]):
            return rw.fail(why)
        if any(v.type.dtype != dtype for v in op.operands):
            return rw.fail("start, limit and delta must share the result type")
        rw.replace_with_new(op, "tfl.range", list(op.operands))
        return None


# --- select and where ----------------------------------------------------------------------------


class LegalizeSelect(RewritePattern):
    """tf.Select(c, x, y) -> tfl.select(c, x, y); tf.SelectV2 -> tfl.select when shapes are
    equal and static, else tfl.select_v2 (explicit broadcasts past the kernel's 5-D limit)"""

    root = ("tf.Select", "tf.SelectV2")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        operands = list(op.operands)
        if why := kernel_dtype_reason("tfl.select_v2", operands[1], 1):
            return rw.fail(why)
        if op.name == "tf.Select":
            rw.replace_with_new(op, "tfl.select", operands)
            return None
        shapes = [v.type.shape for v in operands]
        if all(v.type.is_static for v in operands) and all(s == shapes[0] for s in shapes):
            rw.replace_with_new(op, "tfl.select", operands)
            return None
        if not needs_explicit_broadcast(operands, 5):
            rw.replace_with_new(op, "tfl.select_v2", operands)
            return None
        broadcast = explicit_broadcast(rw, operands)
        if broadcast is None:
            return rw.fail("operand shapes do not broadcast (or are unranked)")
        name = "tfl.select" if op.result.type.is_static else "tfl.select_v2"
        rw.replace_with_new(op, name, broadcast)
        return None


class LegalizeWhere(RewritePattern):
    """tf.Where(x) -> tfl.where(x) (coordinates of the true/non-zero elements, i64)"""

    root = "tf.Where"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands != 1:
            return rw.fail("three-operand Where is Select")
        if why := kernel_dtype_reason("tfl.where", op.operands[0]):
            return rw.fail(why)
        rw.replace_with_new(op, "tfl.where", [op.operands[0]])
        return None


# --- reversal, one-hot, layout ------------------------------------------------------------------


class LegalizeReverse(RewritePattern):
    """tf.ReverseV2(x, axes) -> tfl.reverse_v2(x, axes: i32), one per run of adjacent axes (the
    kernel only reverses contiguous axes); no axes -> x"""

    root = "tf.ReverseV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, axes = op.operands
        arr = constant_value(axes)
        if arr is not None and arr.size == 0:
            rw.replace(op, x)
            return None
        if why := kernel_dtype_reason("tfl.reverse_v2", x):
            return rw.fail(why)
        rank = x.type.rank
        if arr is None or rank is None:
            rw.replace_with_new(op, "tfl.reverse_v2", [x, as_i32(rw, axes)])
            return None
        dims = sorted({int(a) % rank for a in arr.reshape(-1)})
        runs: list[list[int]] = []
        for d in dims:
            if runs and runs[-1][-1] == d - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
        out = x
        for run in runs:
            out = create_tfl(rw, "reverse_v2", [out, i32_const(rw, run)], [op.result.type]).result
        rw.replace(op, out)
        return None


class LegalizeReverseSequence(RewritePattern):
    """tf.ReverseSequence(x, lengths){seq_dim, batch_dim} -> tfl.reverse_sequence(...)"""

    root = "tf.ReverseSequence"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if why := kernel_dtype_reason("tfl.reverse_sequence", op.operands[0]):
            return rw.fail(why)
        attrs = {"seq_dim": int(op.attr("seq_dim", 0)), "batch_dim": int(op.attr("batch_dim", 0))}
        rw.replace_with_new(op, "tfl.reverse_sequence", list(op.operands), attrs)
        return None


class LegalizeOneHot(RewritePattern):
    """tf.OneHot(indices, depth, on, off){axis} -> tfl.one_hot(indices, depth: i32, on, off){axis}"""

    root = "tf.OneHot"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        indices, depth, on, off = op.operands
        if why := kernel_dtype_reason("tfl.one_hot", on, 2):
            return rw.fail(why)
        attrs = {"axis": int(op.attr("axis", -1))}
        operands = [indices, as_i32(rw, depth), on, off]
        rw.replace_with_new(op, "tfl.one_hot", operands, attrs)
        return None


class LegalizeSpaceDepth(RewritePattern):
    """tf.SpaceToDepth(x){block_size, NHWC} -> tfl.space_to_depth(x){block_size}
    (DepthToSpace likewise)"""

    root = ("tf.SpaceToDepth", "tf.DepthToSpace")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.attr("data_format", "NHWC") not in ("NHWC", b"NHWC"):
            return rw.fail(f"data_format {op.attr('data_format')!r} is not NHWC")
        name = "tfl.space_to_depth" if op.name == "tf.SpaceToDepth" else "tfl.depth_to_space"
        if why := kernel_dtype_reason(name, op.operands[0]):
            return rw.fail(why)
        attrs = {"block_size": int(op.attr("block_size"))}
        rw.replace_with_new(op, name, [op.operands[0]], attrs)
        return None


CONVS = ("tf.Conv2D", "tf.DepthwiseConv2dNative")


def _feeds_conv(value: Value) -> bool:
    for user in value.users:
        if user.name in CONVS:
            return True
        if user.name == "tf.ExpandDims" and _feeds_conv(user.result):
            return True
    return False


def _from_conv(value: Value, depth: int = 4) -> bool:
    op = value.defining_op
    if op is None or depth == 0:
        return False
    if op.name in CONVS:
        return True
    if op.name in ("tf.BiasAdd", "tf.Squeeze", "tf.Add", "tf.AddV2"):
        return _from_conv(op.operands[0], depth - 1)
    return False


class LegalizeSpaceBatch(RewritePattern):
    """tf.SpaceToBatchND(x, block, pads) -> tfl.space_to_batch_nd(x, block: i32, pads: i32)
    (BatchToSpaceND likewise), except around a still-unconverted convolution, which the nn
    family turns into a dilated conv"""

    root = ("tf.SpaceToBatchND", "tf.BatchToSpaceND")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, block, pads = op.operands
        if op.name == "tf.SpaceToBatchND" and _feeds_conv(op.result):
            return rw.fail("feeds a tf convolution: left for the dilated-convolution fusion")
        if op.name == "tf.BatchToSpaceND" and _from_conv(x):
            return rw.fail("follows a tf convolution: left for the dilated-convolution fusion")
        name = (
            "tfl.space_to_batch_nd" if op.name == "tf.SpaceToBatchND" else "tfl.batch_to_space_nd"
        )
        rw.replace_with_new(op, name, [x, as_i32(rw, block), as_i32(rw, pads)])
        return None


# --- shape queries -------------------------------------------------------------------------------


class LegalizeShape(RewritePattern):
    """tf.Shape(x) -> tfl.shape(x){out_type} (a constant when x has a static shape);
    tf.ShapeN(xs...) -> one tfl.shape per input"""

    root = ("tf.Shape", "tf.ShapeN")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        outs: list[Value] = []
        for x, r in zip(op.operands, op.results):
            dtype = r.type.dtype
            if dtype not in ("i32", "i64"):
                return rw.fail(f"shape type {dtype} is not i32/i64")
            outs.append(tfl_shape(rw, x, dtype))
        rw.replace(op, outs)
        return None


class LegalizeRank(RewritePattern):
    """tf.Rank(x) -> tfl.rank(x) (a constant when the rank is known)"""

    root = "tf.Rank"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.rank is not None:
            rw.replace(op, const(rw, np.asarray(x.type.rank, dtype=np.int32)))
            return None
        rw.replace_with_new(op, "tfl.rank", [x])
        return None


class LegalizeSize(RewritePattern):
    """tf.Size(x) -> tfl.reduce_prod(tfl.shape(x), [0]) (a constant for a static shape)"""

    root = "tf.Size"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        dtype = op.result.type.dtype
        if dtype not in ("i32", "i64"):
            return rw.fail(f"size type {dtype} is not i32/i64")
        np_dtype = np.int32 if dtype == "i32" else np.int64
        if x.type.is_static:
            rw.replace(op, const(rw, np.asarray(x.type.num_elements, dtype=np_dtype)))
            return None
        shape = tfl_shape(rw, x, dtype)
        prod = create_tfl(
            rw, "reduce_prod", [shape, i32_const(rw, [0])], [TensorType((), dtype)], keep_dims=False
        )
        rw.replace(op, prod.result)
        return None


class LegalizeBroadcastArgs(RewritePattern):
    """tf.BroadcastArgs(s0, s1) -> tfl.broadcast_args(s0, s1)"""

    root = "tf.BroadcastArgs"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        rw.replace_with_new(op, "tfl.broadcast_args", list(op.operands))
        return None


# --- matrices and misc ---------------------------------------------------------------------------


def _is_zero_splat(value: Value) -> bool:
    arr = constant_value(value)
    return arr is not None and arr.size > 0 and not np.any(arr)


class LegalizeMatrixDiag(RewritePattern):
    """tf.MatrixDiag(d) -> tfl.matrix_diag(d); MatrixDiagV2/V3 with k=0, default rows/cols and
    zero padding likewise"""

    root = ("tf.MatrixDiag", "tf.MatrixDiagV2", "tf.MatrixDiagV3")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name != "tf.MatrixDiag":
            _, k, rows, cols, pad = op.operands
            if int_list(k) != [0] or int_list(rows) != [-1] or int_list(cols) != [-1]:
                return rw.fail("only k=0 with default num_rows/num_cols has a builtin")
            if not _is_zero_splat(pad) and constant_value(pad) is not None:
                return rw.fail("padding value is not zero")
            if constant_value(pad) is None:
                return rw.fail("padding value is not a constant")
        rw.replace_with_new(op, "tfl.matrix_diag", [op.operands[0]])
        return None


class LegalizeMatrixSetDiag(RewritePattern):
    """tf.MatrixSetDiag(x, d) -> tfl.matrix_set_diag(x, d) (V2/V3 only with k=0)"""

    root = ("tf.MatrixSetDiag", "tf.MatrixSetDiagV2", "tf.MatrixSetDiagV3")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name != "tf.MatrixSetDiag" and int_list(op.operands[2]) != [0]:
            return rw.fail("only k=0 has a builtin")
        rw.replace_with_new(op, "tfl.matrix_set_diag", list(op.operands[:2]))
        return None


class LegalizeUnique(RewritePattern):
    """tf.Unique(x){out_idx} -> tfl.unique(x){idx_out_type}"""

    root = "tf.Unique"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        idx = op.results[1].type.dtype
        if idx not in ("i32", "i64"):
            return rw.fail(f"index type {idx}")
        if why := kernel_dtype_reason("tfl.unique", op.operands[0]):
            return rw.fail(why)
        attrs = {"idx_out_type": tflite_type_name(idx)}
        rw.replace_with_new(op, "tfl.unique", [op.operands[0]], attrs)
        return None


PATTERNS: list[RewritePattern] = [
    RemoveIdentityLike(),
    LegalizeReshape(),
    LegalizeSqueeze(),
    LegalizeExpandDims(),
    LegalizeTranspose(),
    LegalizeConcat(),
    LegalizePack(),
    LegalizeUnpack(),
    LegalizeSplit(),
    LegalizeSplitV(),
    LegalizeSlice(),
    *strided_slice.PATTERNS,
    LegalizeGather(),
    LegalizeGatherNd(),
    LegalizeScatterNd(),
    LegalizeTile(),
    LegalizeBroadcastTo(),
    LegalizeFill(),
    LegalizeRange(),
    LegalizeSelect(),
    LegalizeWhere(),
    LegalizeReverse(),
    LegalizeReverseSequence(),
    LegalizeOneHot(),
    LegalizeSpaceDepth(),
    LegalizeSpaceBatch(),
    LegalizeShape(),
    LegalizeRank(),
    LegalizeSize(),
    LegalizeBroadcastArgs(),
    LegalizeMatrixDiag(),
    LegalizeMatrixSetDiag(),
    LegalizeUnique(),
    *matrix_band.PATTERNS,
    *roll.PATTERNS,
    *scatter.PATTERNS,
]
