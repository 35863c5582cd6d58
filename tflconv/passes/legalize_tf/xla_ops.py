"""The XLA ops TF graphs carry (tf2xla / jax2tf output), as the official converter handles them:
prepare_tf's ConvertTf2XlaOps takes XlaConvV2 / XlaGather through HLO back to TF convolutions
and gathers, legalize_patterns.td maps XlaDynamicUpdateSlice to DYNAMIC_UPDATE_SLICE and
prepare_patterns.td drops XlaSharding:

    XlaConvV2 (2-D, any layout) -> Transpose -> Conv2D{EXPLICIT padding, dilations} -> Transpose
    XlaGather (gather_nd form)  -> GatherNd
    XlaDynamicUpdateSlice       -> tfl.dynamic_update_slice
    XlaSharding(x)              -> x

The dimension numbers are serialized XLA protos; `_proto_ints` reads their integer fields.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern

from .common import const, constant_value, create_tfl
from .lower_tf import tf_op
from .nn_util import i32


class RemoveXlaSharding(RewritePattern):
    """tf.XlaSharding(x) -> x  (a placement hint; prepare_patterns.td RemoveXlaSharding)"""

    root = "tf.XlaSharding"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (x,) = op.operands
        if x.type != op.result.type:
            return rw.fail("XlaSharding changes the type")
        rw.replace(op, x)
        return None


def _proto_ints(data: bytes) -> dict[int, list[int]]:
    """The integer fields of a serialized protobuf message (varints and packed varints), by
    field number: enough for XLA's ConvolutionDimensionNumbers attribute."""

    def varint(i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = data[i]
            value |= (byte & 0x7F) << shift
            i, shift = i + 1, shift + 7
            if not byte & 0x80:
                return value, i

    fields: dict[int, list[int]] = {}
    i = 0
    while i < len(data):
        key, i = varint(i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
            fields.setdefault(number, []).append(value)
        elif wire == 2:
            length, i = varint(i)
            end = i + length
            while i < end:
                value, i = varint(i)
                fields.setdefault(number, []).append(value)
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return fields


def _conv_dims(attr: Any) -> tuple[int, int, list[int], int, int, list[int], int, int, list[int]]:
    """(in batch, in feature, in spatial, kernel in, kernel out, kernel spatial, out batch,
    out feature, out spatial) of an XLA ConvolutionDimensionNumbers attribute."""
    data = attr if isinstance(attr, bytes) else str(attr).encode("utf-8")
    f = _proto_ints(data)

    def one(n: int) -> int:
        return f.get(n, [0])[0]

    return (one(7), one(8), f.get(11, []), one(3), one(4), f.get(6, []), one(9), one(10),
            f.get(12, []))  # fmt: skip


class LowerXlaConvV2(RewritePattern):
    """tf.XlaConvV2(lhs, rhs, strides, padding, lhs_dilation = 1, rhs_dilation, groups) with 2
    spatial dims -> tf.Transpose(lhs) -> tf.Conv2D{NHWC, EXPLICIT padding, dilations} ->
    tf.Transpose  (the form prepare_tf's ConvertTf2XlaOps reaches through HLO; grouped convs
    keep the filter's Cin/groups input channels, as TF's grouped Conv2D does)"""

    root = "tf.XlaConvV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        lhs, rhs, strides, padding, lhs_dil, rhs_dil, groups = op.operands
        if lhs.type.dtype != "f32" or rhs.type.dtype != "f32" or op.result.type.dtype != "f32":
            return rw.fail("XlaConvV2 is lowered for f32")
        if int(op.attr("batch_group_count", 1)) != 1:
            return rw.fail("batch_group_count > 1 has no builtin form")
        consts = [constant_value(v) for v in (strides, padding, lhs_dil, rhs_dil, groups)]
        if any(c is None for c in consts):
            return rw.fail("strides, padding, dilations and feature groups must be constant")
        strides_v, pads, lhs_d, rhs_d, _ = (np.asarray(c).astype(np.int64) for c in consts)
        try:
            ib, iff, isp, kin, kout, ksp, ob, of, osp = _conv_dims(op.attr("dimension_numbers"))
        except (ValueError, IndexError):
            return rw.fail("dimension_numbers cannot be read")
        if len(isp) != 2 or len(ksp) != 2 or len(osp) != 2 or lhs.type.rank != 4:
            return rw.fail("only 2-D convolutions (2 spatial dims) are lowered")
        if (lhs_d != 1).any():
            return rw.fail("lhs_dilation (a transposed convolution) is not lowered")
        pads = pads.reshape(2, 2)
        if (pads < 0).any():
            return rw.fail("negative padding is not lowered")
        w = constant_value(rhs)
        if w is None:
            return rw.fail("the filter is not constant")
        filt = const(rw, np.transpose(w, [*ksp, kin, kout]))  # a view: copied once, by the writer
        to_nhwc = [ib, *isp, iff]
        x = lhs
        if to_nhwc != [0, 1, 2, 3]:
            shape = None if lhs.type.shape is None else tuple(lhs.type.shape[p] for p in to_nhwc)
            x = tf_op(rw, "Transpose", [lhs, i32(rw, to_nhwc)], lhs.type.with_shape(shape))
        out_nhwc = self._nhwc_shape(x.type.shape, filt.type.shape, strides_v, pads, rhs_d)
        explicit = [0, 0, *(int(p) for p in pads.reshape(-1)), 0, 0]
        conv = tf_op(
            rw, "Conv2D", [x, filt], op.result.type.with_shape(out_nhwc),
            strides=[1, *map(int, strides_v), 1], dilations=[1, *map(int, rhs_d), 1],
            padding="EXPLICIT" if any(explicit) else "VALID",
            explicit_paddings=explicit if any(explicit) else [], data_format="NHWC",
        )  # fmt: skip
        # Output dim d holds NHWC axis back[d].
        back = [0] * 4
        for axis, dim in zip(range(4), [ob, *osp, of]):
            back[dim] = axis
        result = conv
        if back != [0, 1, 2, 3]:
            shape = None if out_nhwc is None else tuple(out_nhwc[a] for a in back)
            result = tf_op(rw, "Transpose", [conv, i32(rw, back)], op.result.type.with_shape(shape))
        rw.replace(op, result)
        return None

    @staticmethod
    def _nhwc_shape(x, w, strides, pads, dil) -> tuple[int | None, ...] | None:
        if x is None or w is None:
            return None
        dims: list[int | None] = [x[0]]
        for i in range(2):
            if x[1 + i] is None:
                dims.append(None)
                continue
            extent = (int(w[i]) - 1) * int(dil[i]) + 1
            size = int(x[1 + i]) + int(pads[i].sum()) - extent
            dims.append(size // int(strides[i]) + 1 if size >= 0 else 0)
        return (*dims, int(w[3]))


class LowerXlaGather(RewritePattern):
    """tf.XlaGather(x, idx, sizes) in gather_nd form -> tf.GatherNd(x, idx): the first k dims
    collapsed and indexed in order (start_index_map = collapsed = [0..k)), whole slices of the
    rest, offset dims after the index batch dims (what jax2tf emits for `x[idx]`)"""

    root = "tf.XlaGather"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, idx, sizes = op.operands
        sizes_v = constant_value(sizes)
        xs, ishape = x.type.shape, idx.type.shape
        if sizes_v is None or xs is None or ishape is None or any(d is None for d in xs):
            return rw.fail("slice sizes must be constant and the operand shape static")
        attr = op.attr("dimension_numbers")
        try:
            f = _proto_ints(attr if isinstance(attr, bytes) else str(attr).encode("utf-8"))
        except (ValueError, IndexError):
            return rw.fail("dimension_numbers cannot be read")
        offset, collapsed, start_map = f.get(1, []), f.get(2, []), f.get(3, [])
        vector_dim = f.get(4, [0])[0]
        if f.get(5) or f.get(6):
            return rw.fail("batching dims are not lowered")
        if vector_dim == len(ishape):  # an implicit trailing index dim of 1
            ishape = (*ishape, 1)
            idx = tf_op(rw, "ExpandDims", [idx, i32(rw, -1)], idx.type.with_shape(ishape))
        elif vector_dim != len(ishape) - 1:
            return rw.fail("the index vector dim is not the last one")
        k = ishape[-1]
        if k is None:
            return rw.fail("the index vector length is not static")
        n, batch = len(xs), len(ishape) - 1
        want_sizes = [1] * k + list(xs[k:])
        if list(start_map) != list(range(k)) or list(collapsed) != list(range(k)):
            return rw.fail("not a gather_nd form (start_index_map / collapsed dims)")
        if [int(v) for v in np.asarray(sizes_v).reshape(-1)] != want_sizes:
            return rw.fail("slices are not whole rows of the trailing dims")
        if list(offset) != list(range(batch, batch + n - k)):
            return rw.fail("offset dims do not follow the index batch dims")
        rw.replace(op, tf_op(rw, "GatherNd", [x, idx], op.result.type))
        return None


class LegalizeXlaDynamicUpdateSlice(RewritePattern):
    """tf.XlaDynamicUpdateSlice(x, update, starts) -> tfl.dynamic_update_slice(x, update,
    starts: i32)"""

    root = "tf.XlaDynamicUpdateSlice"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, update, starts = op.operands
        if starts.type.dtype not in ("i32", "i64"):
            return rw.fail(f"start indices of type {starts.type.dtype}")
        arr = constant_value(starts)
        if arr is not None:
            starts = i32(rw, arr)
        rw.replace(
            op, create_tfl(rw, "dynamic_update_slice", [x, update, starts], [op.result.type])
        )
        return None


PATTERNS: list[RewritePattern] = [
    RemoveXlaSharding(),
    LowerXlaConvV2(),
    LowerXlaGather(),
    LegalizeXlaDynamicUpdateSlice(),
]
