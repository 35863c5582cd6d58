"""TF -> TF lowerings the official converter applies inside LegalizeTF
(`TF::PopulateLoweringTFPatterns`: tensorflow `compiler/mlir/tensorflow/transforms/lower_tf.td`
and `lower_tf.cc`), plus the NonMaxSuppression / ApproxTopK / XlaDynamicUpdateSlice builtins of
legalize_patterns.td. Each pattern rewrites one op into TF ops the other families legalize (so
their dtype and broadcasting rules apply), as the official does:

    DivNoNan(x, y)  -> SelectV2(Equal(y, 0), 0, Div(x, y))      MulNoNan likewise with Mul
    Xdivy(x, y)     -> SelectV2(Equal(x, 0), x, Div(x, y))      Xlogy: Mul(x, Log(y)),
                                                                Xlog1py: Mul(x, Log1p(y))
    IsInf(x)        -> Equal(Abs(x), inf)                       IsNan(x) -> NotEqual(x, x)
    Rint(x)         -> Round(x)  (both round half to even)       XlaSharding(x) -> x
    L2Loss(x)       -> Sum(x * x, all axes) / 2
    Empty(shape)    -> BroadcastTo(0, shape)
    SparseMatMul    -> MatMul
    TruncateDiv(x, y) (float) -> SelectV2(Less(d, 0), Ceil(d), Floor(d)), d = Div(x, y)
    InvertPermutation(p)      -> tfl.scatter_nd(p[:, None], range(n), [n])
    DynamicStitch / ParallelDynamicStitch (constant indices) -> Gather(Concat(data), order)
    SoftmaxCrossEntropyWithLogits (+ Sparse) -> LogSoftmax, MulNoNan, Sum; Softmax - labels
    XlaConvV2 (2-D)           -> Transpose -> Conv2D{EXPLICIT, dilations} -> Transpose
    XlaGather (gather_nd form) -> GatherNd

Not lowered here (see docs/op_coverage.md): the gradient ops, tensor lists, hash tables and
the other ops being added in their own families.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, numpy_dtype

from .common import const, constant_value, create_tfl
from .nn_util import i32

_FLOATS = ("f16", "f32", "f64", "bf16")


def _tf(rw: PatternRewriter, name: str, operands: list[Value], out: TensorType, **attrs: Any):
    """A tf op the other legalization families convert next."""
    return rw.create("tf." + name, operands, [out], attrs or None).results[0]


def _scalar(rw: PatternRewriter, value: float, like: Value) -> Value:
    return const(rw, np.asarray(value, dtype=numpy_dtype(like.type.dtype)))


def _float_only(op: Operation, rw: PatternRewriter) -> bool:
    dtype = op.operands[0].type.dtype
    if dtype not in _FLOATS:
        rw.fail(f"{op.name} is lowered for floats (got {dtype})")
        return False
    return True


class LowerNoNan(RewritePattern):
    """tf.DivNoNan/MulNoNan(x, y) -> tf.SelectV2(tf.Equal(y, 0), 0, tf.Div/Mul(x, y))"""

    root = ("tf.DivNoNan", "tf.MulNoNan")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        x, y = op.operands
        out = op.result.type
        zero = _scalar(rw, 0, y)
        is_zero = _tf(
            rw, "Equal", [y, zero], y.type.with_dtype("i1"), incompatible_shape_error=True
        )
        value = _tf(rw, "Div" if op.name == "tf.DivNoNan" else "Mul", [x, y], out)
        rw.replace(op, _tf(rw, "SelectV2", [is_zero, zero, value], out))
        return None


class LowerXop(RewritePattern):
    """tf.Xdivy/Xlogy/Xlog1py(x, y) -> tf.SelectV2(tf.Equal(x, 0), x, x / y | x * log(y) |
    x * log1p(y))"""

    root = ("tf.Xdivy", "tf.Xlogy", "tf.Xlog1py")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        x, y = op.operands
        out = op.result.type
        if op.name == "tf.Xdivy":
            value = _tf(rw, "Div", [x, y], out)
        else:
            log = _tf(rw, "Log" if op.name == "tf.Xlogy" else "Log1p", [y], y.type)
            value = _tf(rw, "Mul", [x, log], out)
        is_zero = _tf(
            rw, "Equal", [x, _scalar(rw, 0, x)], x.type.with_dtype("i1"),
            incompatible_shape_error=True,
        )  # fmt: skip
        rw.replace(op, _tf(rw, "SelectV2", [is_zero, x, value], out))
        return None


class LowerIsInfIsNan(RewritePattern):
    """tf.IsInf(x) -> tf.Equal(tf.Abs(x), inf);  tf.IsNan(x) -> tf.NotEqual(x, x)"""

    root = ("tf.IsInf", "tf.IsNan")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        (x,) = op.operands
        if op.name == "tf.IsNan":
            rw.replace(
                op, _tf(rw, "NotEqual", [x, x], op.result.type, incompatible_shape_error=True)
            )
            return None
        magnitude = _tf(rw, "Abs", [x], x.type)
        inf = _scalar(rw, np.inf, x)
        rw.replace(
            op,
            _tf(rw, "Equal", [magnitude, inf], op.result.type, incompatible_shape_error=True),
        )
        return None


class RemoveXlaSharding(RewritePattern):
    """tf.XlaSharding(x) -> x  (a placement hint; prepare_patterns.td RemoveXlaSharding)"""

    root = "tf.XlaSharding"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (x,) = op.operands
        if x.type != op.result.type:
            return rw.fail("XlaSharding changes the type")
        rw.replace(op, x)
        return None


class LowerRint(RewritePattern):
    """tf.Rint(x) -> tf.Round(x)  (both round half to even)"""

    root = "tf.Rint"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        rw.replace(op, _tf(rw, "Round", [op.operands[0]], op.result.type))
        return None


class LowerL2Loss(RewritePattern):
    """tf.L2Loss(x) -> tf.Sum(x * x, all axes) / 2"""

    root = "tf.L2Loss"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (x,) = op.operands
        if not _float_only(op, rw):
            return None
        if x.type.rank is None:
            return rw.fail("L2Loss needs a ranked input")
        square = _tf(rw, "Mul", [x, x], x.type)
        axes = i32(rw, list(range(x.type.rank)))
        total = _tf(rw, "Sum", [square, axes], op.result.type, keep_dims=False)
        rw.replace(op, _tf(rw, "RealDiv", [total, _scalar(rw, 2, x)], op.result.type))
        return None


class LowerEmpty(RewritePattern):
    """tf.Empty(shape) -> tf.BroadcastTo(0, shape)  (zeros are a valid uninitialized tensor)"""

    root = "tf.Empty"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        out = op.result.type
        zero = const(rw, np.zeros((), dtype=numpy_dtype(out.dtype)))
        rw.replace(op, _tf(rw, "BroadcastTo", [zero, op.operands[0]], out))
        return None


class LowerSparseMatMul(RewritePattern):
    """tf.SparseMatMul(a, b){transpose_a, transpose_b} -> tf.MatMul(a, b) (the sparsity flags
    are hints)"""

    root = "tf.SparseMatMul"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        a, b = op.operands
        if a.type.dtype != "f32" or b.type.dtype != "f32":
            return rw.fail("SparseMatMul is lowered for f32 operands")
        attrs = {
            "transpose_a": bool(op.attr("transpose_a", False)),
            "transpose_b": bool(op.attr("transpose_b", False)),
        }
        rw.replace(op, _tf(rw, "MatMul", [a, b], op.result.type, **attrs))
        return None


class LowerFloatTruncateDiv(RewritePattern):
    """tf.TruncateDiv(x, y) on floats -> tf.SelectV2(tf.Less(d, 0), tf.Ceil(d), tf.Floor(d)),
    d = tf.RealDiv(x, y)  (rounds the quotient toward zero)"""

    root = "tf.TruncateDiv"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        x, y = op.operands
        out = op.result.type
        d = _tf(rw, "RealDiv", [x, y], out)
        negative = _tf(rw, "Less", [d, _scalar(rw, 0, x)], out.with_dtype("i1"))
        ceil, floor = _tf(rw, "Ceil", [d], out), _tf(rw, "Floor", [d], out)
        rw.replace(op, _tf(rw, "SelectV2", [negative, ceil, floor], out))
        return None


class LowerInvertPermutation(RewritePattern):
    """tf.InvertPermutation(p[n]) -> tfl.scatter_nd(reshape(p, [n, 1]), range(n), [n])"""

    root = "tf.InvertPermutation"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (p,) = op.operands
        shape = p.type.shape
        if shape is None or len(shape) != 1 or shape[0] is None:
            return rw.fail("InvertPermutation needs a static 1-D input")
        if p.type.dtype != "i32":
            return rw.fail(f"InvertPermutation is lowered for int32 (got {p.type.dtype})")
        n = int(shape[0])
        indices = create_tfl(
            rw, "reshape", [p, i32(rw, [n, 1])], [p.type.with_shape((n, 1))]
        ).result
        updates = i32(rw, np.arange(n))
        scatter = create_tfl(rw, "scatter_nd", [indices, updates, i32(rw, [n])], [op.result.type])
        rw.replace(op, scatter.result)
        return None


class LowerDynamicStitch(RewritePattern):
    """tf.DynamicStitch(indices[k] (constant), data[k]) -> tf.GatherV2(tf.ConcatV2(reshape(data,
    [-1, *item])), order, 0): output row i comes from the last data row whose index is i"""

    root = ("tf.DynamicStitch", "tf.ParallelDynamicStitch")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        k = len(op.operands) // 2
        index_values, data = op.operands[:k], op.operands[k:]
        indices = [constant_value(v) for v in index_values]
        if any(a is None for a in indices):
            return rw.fail("indices are not constant")
        out = op.result.type
        if out.shape is None or any(d is None for d in out.shape[1:]):
            return rw.fail("output item shape is not static")
        item = tuple(int(d) for d in out.shape[1:])
        flat = np.concatenate([np.asarray(a, dtype=np.int64).reshape(-1) for a in indices])
        rows = int(flat.max()) + 1 if flat.size else 0
        order = np.full(rows, -1, dtype=np.int64)
        for position, index in enumerate(flat):
            order[index] = position  # later rows win, as in TF
        if (order < 0).any():
            return rw.fail("some output rows get no data")
        pieces = []
        for array, value in zip(indices, data):
            count = int(np.asarray(array).size)
            piece_type = value.type.with_shape((count, *item))
            pieces.append(_tf(rw, "Reshape", [value, i32(rw, [count, *item])], piece_type))
        joined_type = out.with_shape((int(flat.size), *item))
        joined = (
            pieces[0]
            if len(pieces) == 1
            else _tf(rw, "ConcatV2", [*pieces, i32(rw, 0)], joined_type, N=len(pieces))
        )
        gathered = _tf(
            rw, "GatherV2", [joined, i32(rw, order), i32(rw, 0)], out.with_shape((rows, *item)),
            batch_dims=0,
        )  # fmt: skip
        rw.replace(op, gathered)
        return None


class LowerSoftmaxCrossEntropy(RewritePattern):
    """tf.SoftmaxCrossEntropyWithLogits(f, labels) -> (Sum(MulNoNan(LogSoftmax(f), -labels),
    -1), Softmax(f) - labels);  the Sparse form first makes one-hot labels, NaN rows for labels
    outside [0, classes) (lower_tf.td)"""

    root = ("tf.SoftmaxCrossEntropyWithLogits", "tf.SparseSoftmaxCrossEntropyWithLogits")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        features, labels = op.operands
        ftype = features.type
        if ftype.dtype != "f32" or ftype.rank != 2:
            return rw.fail("softmax cross entropy is lowered for rank-2 f32 logits")
        if op.name == "tf.SparseSoftmaxCrossEntropyWithLogits":
            classes = ftype.shape[1]
            if classes is None:
                return rw.fail("the number of classes is not static")
            labels = self._dense_labels(rw, labels, int(classes), ftype)
        elif labels.type.shape != ftype.shape:
            labels = _tf(rw, "BroadcastTo", [labels, i32(rw, list(ftype.shape))], ftype)
        log_probs = _tf(rw, "LogSoftmax", [features], ftype)
        negated = _tf(rw, "Neg", [labels], ftype)
        product = _tf(rw, "MulNoNan", [log_probs, negated], ftype)
        loss = _tf(rw, "Sum", [product, i32(rw, [-1])], op.results[0].type, keep_dims=False)
        probs = _tf(rw, "Softmax", [features], ftype)
        backprop = _tf(rw, "Sub", [probs, labels], op.results[1].type)
        rw.replace(op, [loss, backprop])
        return None

    @staticmethod
    def _dense_labels(rw: PatternRewriter, labels: Value, classes: int, ftype: TensorType):
        one_hot = _tf(
            rw, "OneHot",
            [labels, i32(rw, classes), _scalar_f32(rw, 1.0), _scalar_f32(rw, 0.0)], ftype,
            axis=-1,
        )  # fmt: skip
        low = const(rw, np.zeros((), dtype=numpy_dtype(labels.type.dtype)))
        high = const(rw, np.asarray(classes, dtype=numpy_dtype(labels.type.dtype)))
        bool_t = labels.type.with_dtype("i1")
        inside = _tf(
            rw, "LogicalAnd",
            [_tf(rw, "LessEqual", [low, labels], bool_t), _tf(rw, "Less", [labels, high], bool_t)],
            bool_t,
        )  # fmt: skip
        row_t = labels.type.with_dtype("f32")
        zero_or_nan = _tf(
            rw, "SelectV2", [inside, _scalar_f32(rw, 0.0), _scalar_f32(rw, np.nan)], row_t
        )
        column = _tf(
            rw, "ExpandDims", [zero_or_nan, i32(rw, -1)], row_t.with_shape((*row_t.shape, 1))
        )
        return _tf(rw, "AddV2", [one_hot, column], ftype)


def _scalar_f32(rw: PatternRewriter, value: float) -> Value:
    return const(rw, np.asarray(value, dtype=np.float32))


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
        filt = const(rw, np.ascontiguousarray(np.transpose(w, [*ksp, kin, kout])))
        to_nhwc = [ib, *isp, iff]
        x = lhs
        if to_nhwc != [0, 1, 2, 3]:
            shape = None if lhs.type.shape is None else tuple(lhs.type.shape[p] for p in to_nhwc)
            x = _tf(rw, "Transpose", [lhs, i32(rw, to_nhwc)], lhs.type.with_shape(shape))
        out_nhwc = self._nhwc_shape(x.type.shape, filt.type.shape, strides_v, pads, rhs_d)
        explicit = [0, 0, *(int(p) for p in pads.reshape(-1)), 0, 0]
        conv = _tf(
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
            result = _tf(rw, "Transpose", [conv, i32(rw, back)], op.result.type.with_shape(shape))
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
            idx = _tf(rw, "ExpandDims", [idx, i32(rw, -1)], idx.type.with_shape(ishape))
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
        rw.replace(op, _tf(rw, "GatherNd", [x, idx], op.result.type))
        return None


class LegalizeNonMaxSuppression(RewritePattern):
    """tf.NonMaxSuppressionV4/V5(boxes, scores, n, iou, score[, sigma]) ->
    tfl.non_max_suppression_v4/v5 (selected indices padded to n, + valid count); without
    pad_to_max_output_size the indices (and scores) are sliced to the valid count, which TF
    returns and the official converter does not"""

    root = ("tf.NonMaxSuppressionV4", "tf.NonMaxSuppressionV5")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        v5 = op.name == "tf.NonMaxSuppressionV5"
        boxes, scores, max_out, iou, threshold = op.operands[:5]
        if boxes.type.dtype != "f32" or scores.type.dtype != "f32":
            return rw.fail("non-max suppression is lowered for f32 boxes and scores")
        n = constant_value(max_out)
        if n is None:
            return rw.fail("max_output_size is not constant")
        n = int(np.asarray(n).reshape(()))
        operands = [boxes, scores, i32(rw, n), _f32(rw, iou), _f32(rw, threshold)]
        if v5:
            operands.append(_f32(rw, op.operands[5]))
        idx_t = TensorType((n,), "i32")
        types = [idx_t, TensorType((n,), "f32")] if v5 else [idx_t]
        types.append(TensorType((), "i32"))
        name = "non_max_suppression_v5" if v5 else "non_max_suppression_v4"
        nms = create_tfl(rw, name, operands, types)
        results = list(nms.results)
        if not op.attr("pad_to_max_output_size", False):
            valid = results[-1]
            size = create_tfl(rw, "reshape", [valid, i32(rw, [1])], [TensorType((1,), "i32")])
            for i, r in enumerate(results[:-1]):
                out_t = r.type.with_shape((None,))
                results[i] = create_tfl(rw, "slice", [r, i32(rw, [0]), size.result], [out_t]).result
        for i, (r, old) in enumerate(zip(results, op.results)):
            if old.type.dtype != r.type.dtype:
                results[i] = create_tfl(rw, "cast", [r], [old.type]).result
        rw.replace(op, results)
        return None


def _f32(rw: PatternRewriter, value: Value) -> Value:
    if value.type.dtype == "f32":
        return value
    arr = constant_value(value)
    if arr is not None:
        return const(rw, np.asarray(arr, dtype=np.float32))
    return create_tfl(rw, "cast", [value], [value.type.with_dtype("f32")]).result


class LegalizeApproxTopK(RewritePattern):
    """tf.ApproxTopK(x){k, is_max_k, reduction_dimension = last} -> tfl.topk_v2(x, k)
    (exact top-k is a valid approximate top-k)"""

    root = "tf.ApproxTopK"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (x,) = op.operands
        if not op.attr("is_max_k", True):
            return rw.fail("min-k (is_max_k=false) has no builtin")
        rank = x.type.rank
        dim = int(op.attr("reduction_dimension", -1))
        if rank is None or dim not in (-1, rank - 1):
            return rw.fail("top-k runs along the last dimension only")
        k = int(op.attr("k"))
        values, indices = op.results
        topk = create_tfl(
            rw, "topk_v2", [x, i32(rw, k)], [values.type, indices.type.with_dtype("i32")]
        )
        idx = topk.results[1]
        if indices.type.dtype != "i32":
            idx = create_tfl(rw, "cast", [idx], [indices.type]).result
        rw.replace(op, [topk.results[0], idx])
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
    LowerNoNan(),
    LowerXop(),
    LowerIsInfIsNan(),
    RemoveXlaSharding(),
    LowerRint(),
    LowerL2Loss(),
    LowerEmpty(),
    LowerSparseMatMul(),
    LowerFloatTruncateDiv(),
    LowerInvertPermutation(),
    LowerDynamicStitch(),
    LowerSoftmaxCrossEntropy(),
    LowerXlaConvV2(),
    LowerXlaGather(),
    LegalizeNonMaxSuppression(),
    LegalizeApproxTopK(),
    LegalizeXlaDynamicUpdateSlice(),
]
