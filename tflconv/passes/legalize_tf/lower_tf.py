"""TF -> TF lowerings the official converter applies inside LegalizeTF
(`TF::PopulateLoweringTFPatterns`: tensorflow `compiler/mlir/tensorflow/transforms/lower_tf.td`
and `lower_tf.cc`), plus the NonMaxSuppression / ApproxTopK builtins of legalize_patterns.td (the Xla* ops are in xla_ops.py). Each pattern rewrites one op into TF ops the other families legalize (so
their dtype and broadcasting rules apply), as the official does:

    DivNoNan(x, y)  -> SelectV2(Equal(y, 0), 0, Div(x, y))      MulNoNan likewise with Mul
    Xdivy(x, y)     -> SelectV2(Equal(x, 0), x, Div(x, y))      Xlogy: Mul(x, Log(y)),
                                                                Xlog1py: Mul(x, Log1p(y))
    IsInf(x)        -> Equal(Abs(x), inf)                       IsNan(x) -> NotEqual(x, x)
    Rint(x)         -> Round(x)  (both round half to even)
    L2Loss(x)       -> Sum(x * x, all axes) / 2
    Empty(shape)    -> BroadcastTo(0, shape)
    SparseMatMul    -> MatMul
    TruncateDiv(x, y) (float) -> SelectV2(Less(d, 0), Ceil(d), Floor(d)), d = Div(x, y)
    InvertPermutation(p)      -> tfl.scatter_nd(p[:, None], range(n), [n])
    DynamicStitch / ParallelDynamicStitch (constant indices) -> Gather(Concat(data), order)
    SoftmaxCrossEntropyWithLogits (+ Sparse) -> LogSoftmax, MulNoNan, Sum; Softmax - labels
    Dequantize(x: qint8|quint8){MIN_COMBINED} -> (Cast(x) + 128|0) * (max - min) / 255 + min
    Lgamma(x)       -> the Lanczos approximation (g = 7) with Euler's reflection for x < 0.5
    Segment{Mean,Max,Min,Prod}(x, ids) -> UnsortedSegment{Sum,...}(x, ids, Max(ids) + 1), the
                              mean divided by the count, empty segments 0 (the official refuses
                              these ops)

Not lowered here (see docs/op_coverage.md): the gradient ops, tensor lists, hash tables and
the other ops being added in their own families.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, TypeAttr, numpy_dtype

from .common import const, constant_value, create_tfl, scalar_const
from .nn_util import i32

_FLOATS = ("f16", "f32", "f64", "bf16")


def tf_op(rw: PatternRewriter, name: str, operands: list[Value], out: TensorType, **attrs: Any):
    """A tf op the other legalization families convert next."""
    return rw.create("tf." + name, operands, [out], attrs or None).results[0]


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
        zero = scalar_const(rw, 0, y.type.dtype)
        is_zero = tf_op(
            rw, "Equal", [y, zero], y.type.with_dtype("i1"), incompatible_shape_error=True
        )
        value = tf_op(rw, "Div" if op.name == "tf.DivNoNan" else "Mul", [x, y], out)
        rw.replace(op, tf_op(rw, "SelectV2", [is_zero, zero, value], out))
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
            value = tf_op(rw, "Div", [x, y], out)
        else:
            log = tf_op(rw, "Log" if op.name == "tf.Xlogy" else "Log1p", [y], y.type)
            value = tf_op(rw, "Mul", [x, log], out)
        is_zero = tf_op(
            rw, "Equal", [x, scalar_const(rw, 0, x.type.dtype)], x.type.with_dtype("i1"),
            incompatible_shape_error=True,
        )  # fmt: skip
        rw.replace(op, tf_op(rw, "SelectV2", [is_zero, x, value], out))
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
                op, tf_op(rw, "NotEqual", [x, x], op.result.type, incompatible_shape_error=True)
            )
            return None
        magnitude = tf_op(rw, "Abs", [x], x.type)
        inf = scalar_const(rw, np.inf, x.type.dtype)
        rw.replace(
            op,
            tf_op(rw, "Equal", [magnitude, inf], op.result.type, incompatible_shape_error=True),
        )
        return None


class LowerRint(RewritePattern):
    """tf.Rint(x) -> tf.Round(x)  (both round half to even)"""

    root = "tf.Rint"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _float_only(op, rw):
            return None
        rw.replace(op, tf_op(rw, "Round", [op.operands[0]], op.result.type))
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
        square = tf_op(rw, "Mul", [x, x], x.type)
        axes = i32(rw, list(range(x.type.rank)))
        total = tf_op(rw, "Sum", [square, axes], op.result.type, keep_dims=False)
        rw.replace(
            op, tf_op(rw, "RealDiv", [total, scalar_const(rw, 2, x.type.dtype)], op.result.type)
        )
        return None


class LowerEmpty(RewritePattern):
    """tf.Empty(shape) -> tf.BroadcastTo(0, shape)  (zeros are a valid uninitialized tensor)"""

    root = "tf.Empty"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        out = op.result.type
        zero = const(rw, np.zeros((), dtype=numpy_dtype(out.dtype)))
        rw.replace(op, tf_op(rw, "BroadcastTo", [zero, op.operands[0]], out))
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
        rw.replace(op, tf_op(rw, "MatMul", [a, b], op.result.type, **attrs))
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
        d = tf_op(rw, "RealDiv", [x, y], out)
        negative = tf_op(rw, "Less", [d, scalar_const(rw, 0, x.type.dtype)], out.with_dtype("i1"))
        ceil, floor = tf_op(rw, "Ceil", [d], out), tf_op(rw, "Floor", [d], out)
        rw.replace(op, tf_op(rw, "SelectV2", [negative, ceil, floor], out))
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
            pieces.append(tf_op(rw, "Reshape", [value, i32(rw, [count, *item])], piece_type))
        joined_type = out.with_shape((int(flat.size), *item))
        joined = (
            pieces[0]
            if len(pieces) == 1
            else tf_op(rw, "ConcatV2", [*pieces, i32(rw, 0)], joined_type, N=len(pieces))
        )
        gathered = tf_op(
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
            labels = tf_op(rw, "BroadcastTo", [labels, i32(rw, list(ftype.shape))], ftype)
        log_probs = tf_op(rw, "LogSoftmax", [features], ftype)
        negated = tf_op(rw, "Neg", [labels], ftype)
        product = tf_op(rw, "MulNoNan", [log_probs, negated], ftype)
        loss = tf_op(rw, "Sum", [product, i32(rw, [-1])], op.results[0].type, keep_dims=False)
        probs = tf_op(rw, "Softmax", [features], ftype)
        backprop = tf_op(rw, "Sub", [probs, labels], op.results[1].type)
        rw.replace(op, [loss, backprop])
        return None

    @staticmethod
    def _dense_labels(rw: PatternRewriter, labels: Value, classes: int, ftype: TensorType):
        one_hot = tf_op(
            rw, "OneHot",
            [labels, i32(rw, classes), scalar_const(rw, 1.0, "f32"), scalar_const(rw, 0.0, "f32")], ftype,
            axis=-1,
        )  # fmt: skip
        low = const(rw, np.zeros((), dtype=numpy_dtype(labels.type.dtype)))
        high = const(rw, np.asarray(classes, dtype=numpy_dtype(labels.type.dtype)))
        bool_t = labels.type.with_dtype("i1")
        inside = tf_op(
            rw, "LogicalAnd",
            [tf_op(rw, "LessEqual", [low, labels], bool_t), tf_op(rw, "Less", [labels, high], bool_t)],
            bool_t,
        )  # fmt: skip
        row_t = labels.type.with_dtype("f32")
        zero_or_nan = tf_op(
            rw,
            "SelectV2",
            [inside, scalar_const(rw, 0.0, "f32"), scalar_const(rw, np.nan, "f32")],
            row_t,
        )
        column = tf_op(
            rw, "ExpandDims", [zero_or_nan, i32(rw, -1)], row_t.with_shape((*row_t.shape, 1))
        )
        return tf_op(rw, "AddV2", [one_hot, column], ftype)


# The Lanczos approximation of lower_tf.cc (g = 7, 8 terms), as the official builds it.
_LANCZOS_GAMMA = 7.0
_LANCZOS_BASE = 0.99999999999980993227684700473478
_LANCZOS_COEFFICIENTS = (
    676.520368121885098567009190444019, -1259.13921672240287047156078755283,
    771.3234287776530788486528258894, -176.61502916214059906584551354,
    12.507343278686904814458936853, -0.13857109526572011689554707,
    9.984369578019570859563e-6, 1.50563273514931155834e-7,
)  # fmt: skip


class LowerLgamma(RewritePattern):
    """tf.Lgamma(x) -> Lanczos log-gamma of TF ops (lower_tf.cc): reflection
    log(pi) - lgamma(1 - x) - log|sin(pi frac|x|)| for x < 0.5, +inf at poles and +/-inf"""

    root = "tf.Lgamma"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        (x,) = op.operands
        dtype = x.type.dtype
        if dtype not in ("f32", "f16", "bf16"):
            return rw.fail(f"Lgamma is lowered for f32 (f16/bf16 through f32), got {dtype}")
        out = op.result.type
        ft = x.type.with_dtype("f32")
        bt = x.type.with_dtype("i1")
        if dtype != "f32":  # the approximation is not precise enough below 32 bits
            x = tf_op(rw, "Cast", [x], ft, Truncate=False)

        def c(value: float) -> Value:
            return const(rw, np.asarray(value, dtype=np.float32))

        def f(name: str, *operands: Value) -> Value:
            return tf_op(rw, name, list(operands), ft)

        one_half, one = c(0.5), c(1.0)
        gamma_plus_half = c(_LANCZOS_GAMMA + 0.5)
        need_to_reflect = tf_op(rw, "Less", [x, one_half], bt)
        z = f("SelectV2", need_to_reflect, f("Neg", x), f("Sub", x, one))
        series = c(_LANCZOS_BASE)
        for i, coefficient in enumerate(_LANCZOS_COEFFICIENTS):
            shifted = f("AddV2", f("AddV2", z, c(float(i))), one)
            series = f("AddV2", series, f("Div", c(coefficient), shifted))
        # log(t) = log(g + 0.5) + log1p(z / (g + 0.5)); the log term as (z + 1/2 - t/log t) log t
        # so that it does not overflow for large t
        t = f("AddV2", gamma_plus_half, z)
        log_t = f(
            "AddV2",
            c(np.log(_LANCZOS_GAMMA + 0.5)),
            f("Log1p", f("Div", z, gamma_plus_half)),
        )
        head = f("Mul", f("AddV2", z, f("Sub", one_half, f("Div", t, log_t))), log_t)
        log_y = f("AddV2", c((np.log(2) + np.log(np.pi)) / 2), f("AddV2", head, f("Log", series)))
        # log|sin(pi x)| through frac(|x|), folded into [0, 0.5]: exact 0 (so -inf) at integers
        abs_x = f("Abs", x)
        frac = f("Sub", abs_x, f("Floor", abs_x))
        above_half = tf_op(rw, "Greater", [frac, one_half], bt)
        reduced = f("SelectV2", above_half, f("Sub", one, frac), frac)
        denom = f("Log", f("Sin", f("Mul", c(np.pi), reduced)))
        # an infinite denominator wins (avoids -inf - inf = NaN)
        finite = tf_op(rw, "IsFinite", [denom], bt)
        reflection = f(
            "SelectV2",
            finite,
            f("Sub", f("Sub", c(np.log(np.pi)), denom), log_y),
            f("Neg", denom),
        )
        result = f("SelectV2", need_to_reflect, reflection, log_y)
        is_inf = tf_op(rw, "IsInf", [x], bt)
        result = f("SelectV2", is_inf, c(np.inf), result)
        if dtype != "f32":
            result = tf_op(rw, "Cast", [result], out, Truncate=False)
        rw.replace(op, result)
        return None


class LowerDequantize(RewritePattern):
    """tf.Dequantize(x: qint8 | quint8, min, max){MIN_COMBINED} -> (Cast(x) + half_range) *
    ((max - min) / 255) + min, half_range = 128 for qint8, 0 for quint8 (lower_tf.td)"""

    root = "tf.Dequantize"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, lo, hi = op.operands
        # T is qint8 / quint8 (tensors typed by their i8 / ui8 storage); the wider quantized
        # types have no tensor type
        storage = x.type.dtype
        if storage not in ("i8", "ui8"):
            return rw.fail(f"Dequantize is lowered for qint8/quint8 (got {storage})")
        if op.attr("mode", "MIN_COMBINED") != "MIN_COMBINED":
            return rw.fail(f"Dequantize is lowered in MIN_COMBINED mode (got {op.attr('mode')})")
        if int(op.attr("axis", -1)) != -1 or bool(op.attr("narrow_range", False)):
            return rw.fail("Dequantize is lowered per tensor without narrow_range")
        out = op.result.type
        if out.dtype != "f32" or lo.type.dtype != "f32" or hi.type.dtype != "f32":
            return rw.fail("Dequantize is lowered to f32 from f32 ranges")
        if lo.type.rank not in (0, None) and lo.type.num_elements != 1:
            return rw.fail("per-tensor Dequantize needs scalar min/max")
        scalar = lo.type
        shifted = tf_op(rw, "Cast", [x], out, Truncate=False)
        if storage == "i8":
            shifted = tf_op(rw, "AddV2", [shifted, scalar_const(rw, 128.0, "f32")], out)
        step = tf_op(
            rw, "Div", [tf_op(rw, "Sub", [hi, lo], scalar), scalar_const(rw, 255.0, "f32")], scalar
        )
        scaled = tf_op(rw, "Mul", [shifted, step], out)
        rw.replace(op, tf_op(rw, "AddV2", [scaled, lo], out))
        return None


class LegalizeNonMaxSuppression(RewritePattern):
    """tf.NonMaxSuppressionV3/V4/V5(boxes, scores, n, iou, score[, sigma]) ->
    tfl.non_max_suppression_v4/v5 (selected indices padded to n, + valid count); without
    pad_to_max_output_size (always so for V3, which `tf.image.non_max_suppression` emits) the
    indices (and scores) are sliced to the valid count, which TF returns and the official
    converter does not"""

    root = ("tf.NonMaxSuppressionV3", "tf.NonMaxSuppressionV4", "tf.NonMaxSuppressionV5")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        v5 = op.name == "tf.NonMaxSuppressionV5"
        v3 = op.name == "tf.NonMaxSuppressionV3"  # V4 without its valid-count result
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
        if v3 or not op.attr("pad_to_max_output_size", False):
            valid = results[-1]
            size = create_tfl(rw, "reshape", [valid, i32(rw, [1])], [TensorType((1,), "i32")])
            for i, r in enumerate(results[:-1]):
                out_t = r.type.with_shape((None,))
                results[i] = create_tfl(rw, "slice", [r, i32(rw, [0]), size.result], [out_t]).result
        results = results[: len(op.results)]
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


class LowerSortedSegments(RewritePattern):
    """tf.Segment{Mean,Max,Min,Prod}(x, ids) -> tf.UnsortedSegment{Sum,Max,Min,Prod}(x, ids, n),
    n = Max(ids) + 1; Mean divides the sum by Maximum(count, 1), count = UnsortedSegmentSum(
    OnesLike(ids), ids, n) reshaped over x's inner dims. An empty segment (a gap in the sorted
    ids) is 0 for Mean / Max / Min (TF's rule for the sorted ops; the unsorted Max / Min give
    the type's lowest / highest value) and 1 for Prod. The unsorted kernels take gaps, LiteRT's
    SEGMENT_SUM does not (it requires ids 0, 0, 1, 2, ... increasing by at most 1)."""

    root = ("tf.SegmentMean", "tf.SegmentMax", "tf.SegmentMin", "tf.SegmentProd")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, ids = op.operands
        out = op.result.type
        if x.type.rank is None or x.type.rank < 1 or ids.type.rank != 1:
            return rw.fail("segment ops need a ranked input and 1-D ids")
        if op.name == "tf.SegmentMean" and not _float_only(op, rw):
            return None
        id_t = ids.type.dtype
        last = tf_op(rw, "Max", [ids, i32(rw, [0])], TensorType((), id_t), keep_dims=False)
        n = tf_op(rw, "AddV2", [last, scalar_const(rw, 1, id_t)], last.type)
        kind = "Sum" if op.name == "tf.SegmentMean" else op.name[len("tf.Segment") :]
        result = tf_op(rw, "UnsortedSegment" + kind, [x, ids, n], out)
        if op.name == "tf.SegmentProd":
            rw.replace(op, result)
            return None
        segments = out.shape[0] if out.shape else None
        ones = tf_op(rw, "OnesLike", [ids], ids.type)
        count = tf_op(rw, "UnsortedSegmentSum", [ones, ids, n], TensorType((segments,), id_t))
        inner = [1] * (x.type.rank - 1)
        count_t = TensorType((segments, *inner), id_t)
        count = tf_op(rw, "Reshape", [count, i32(rw, [-1, *inner])], count_t)
        if op.name == "tf.SegmentMean":
            counted = tf_op(rw, "Cast", [count], count_t.with_dtype(out.dtype), Truncate=False)
            one = scalar_const(rw, 1, out.dtype)
            divisor = tf_op(rw, "Maximum", [counted, one], counted.type)
            result = tf_op(rw, "RealDiv", [result, divisor], out)
        else:  # Max / Min: empty segments are 0
            zero_count = scalar_const(rw, 0, id_t)
            filled = tf_op(rw, "Greater", [count, zero_count], count_t.with_dtype("i1"))
            zero = const(rw, np.zeros((), numpy_dtype(out.dtype)))
            result = tf_op(rw, "SelectV2", [filled, result, zero], out)
        rw.replace(op, result)
        return None


class LowerBroadcastGradientArgs(RewritePattern):
    """tf.BroadcastGradientArgs(s0, s1) -> for each shape, the output dims its gradient is summed
    over: TF's rule (bcast.h) is every dim where the shape, padded with leading ones to the
    longer length n, is 1 -- none when s0 and s1 are the same vector. As TF ops:

        p0 = PadV2(s0, [[n - len(s0), 0]], 1);  r0 = Reshape(Where((p0 == 1) & !same), [-1])

    (the official converter refuses the op; TF raises on shapes that do not broadcast, where
    this returns the rule's indices)."""

    root = "tf.BroadcastGradientArgs"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        s0, s1 = op.operands
        dtype = s0.type.dtype
        if s0.type.rank not in (None, 1) or s1.type.rank not in (None, 1):
            return rw.fail("the shapes must be vectors")
        if dtype not in ("i32", "i64") or s1.type.dtype != dtype:
            return rw.fail(f"shape vectors of {dtype} / {s1.type.dtype}")
        vec, flag = TensorType((1,), "i32"), TensorType((1,), "i1")
        lengths = [tf_op(rw, "Shape", [s], vec, out_type=TypeAttr("i32")) for s in (s0, s1)]
        n = tf_op(rw, "Maximum", lengths, vec)
        padded_t = TensorType((None,), dtype)
        one = scalar_const(rw, 1, dtype)
        padded = []
        for s, length in zip((s0, s1), lengths):
            before = tf_op(rw, "Sub", [n, length], vec)
            pads = tf_op(
                rw,
                "ConcatV2",
                [before, i32(rw, [0]), i32(rw, 0)],
                TensorType((2,), "i32"),
                N=2,
                Tidx=TypeAttr("i32"),
            )
            pads = tf_op(rw, "Reshape", [pads, i32(rw, [1, 2])], TensorType((1, 2), "i32"))
            padded.append(tf_op(rw, "PadV2", [s, pads, one], padded_t))
        same_length = tf_op(rw, "Equal", lengths, flag)
        equal = tf_op(rw, "Equal", padded, TensorType((None,), "i1"))
        all_equal = tf_op(rw, "All", [equal, i32(rw, [0])], flag, keep_dims=True)
        same = tf_op(rw, "LogicalAnd", [same_length, all_equal], flag)
        differ = tf_op(rw, "LogicalNot", [same], flag)
        results = []
        for p, result in zip(padded, op.results):
            is_one = tf_op(rw, "Equal", [p, one], TensorType((None,), "i1"))
            mask = tf_op(rw, "LogicalAnd", [is_one, differ], is_one.type)
            where = tf_op(rw, "Where", [mask], TensorType((None, 1), "i64"))
            index = tf_op(rw, "Reshape", [where, i32(rw, [-1])], TensorType((None,), "i64"))
            if result.type.dtype != "i64":
                index = tf_op(rw, "Cast", [index], result.type, Truncate=False)
            results.append(index)
        rw.replace(op, results)
        return None


PATTERNS: list[RewritePattern] = [
    LowerNoNan(),
    LowerXop(),
    LowerIsInfIsNan(),
    LowerRint(),
    LowerL2Loss(),
    LowerEmpty(),
    LowerSparseMatMul(),
    LowerFloatTruncateDiv(),
    LowerInvertPermutation(),
    LowerDynamicStitch(),
    LowerSoftmaxCrossEntropy(),
    LowerLgamma(),
    LowerDequantize(),
    LowerSortedSegments(),
    LowerBroadcastGradientArgs(),
    LegalizeNonMaxSuppression(),
    LegalizeApproxTopK(),
]
