"""Legalization patterns: math family.

Elementwise binary ops (with the kernels' broadcasting limits), comparisons and logical ops,
unary ops, casts, reductions, arg-max/min, cumulative sums, top-k and segment reductions.
Follows the official legalize_patterns.td / legalize_tf.cc. Element types are checked against
the one kernel table (dialects/tfl_kernels.py): a type no kernel takes is refused here.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.builders import broadcast_shapes
from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, numpy_dtype
from tflconv.dialects.tfl_kernels import kernel_accepts, kernel_dtype_reason
from tflconv.dialects.tfl_traits import FUSED_ACTIVATION_OPS

from .common import const, constant_value, create_tfl, scalar_const
from .tensor_util import (
    as_i32,
    broadcast_shape_value,
    broadcast_to,
    tfl_shape,
    tflite_type_name,
)

NONE_ACT = {"fused_activation_function": "NONE"}

# tf op -> (tfl op, highest rank the kernel broadcasts); whether the kernel takes a fused
# activation is `tfl_traits.FUSED_ACTIVATION_OPS`.
# Limits measured against the official converter (it inserts BROADCAST_TO past them);
# None: the kernel broadcasts at any rank; 0: the kernel needs equal shapes.
BINARY: dict[str, tuple[str, int | None]] = {
    "tf.Add": ("add", 6),
    "tf.AddV2": ("add", 6),
    "tf.Sub": ("sub", 6),
    "tf.Mul": ("mul", 6),
    "tf.RealDiv": ("div", 6),
    "tf.Div": ("div", 6),
    "tf.TruncateDiv": ("div", 6),  # integers only (checked below): DIV truncates them
    "tf.FloorDiv": ("floor_div", 4),
    "tf.FloorMod": ("floor_mod", 4),
    "tf.Maximum": ("maximum", 5),
    "tf.Minimum": ("minimum", 5),
    "tf.Pow": ("pow", 4),
    "tf.SquaredDifference": ("squared_difference", 4),
    "tf.Less": ("less", 4),
    "tf.LessEqual": ("less_equal", 4),
    "tf.Greater": ("greater", 4),
    "tf.GreaterEqual": ("greater_equal", 4),
    "tf.Equal": ("equal", 4),
    "tf.NotEqual": ("not_equal", 4),
    "tf.LogicalAnd": ("logical_and", None),
    "tf.LogicalOr": ("logical_or", None),
    "tf.Atan2": ("atan2", 0),
    "tf.BitwiseXor": ("bitwise_xor", 4),
    "tf.RightShift": ("right_shift", 4),
}


def _dtype_reason(tfl_name: str, value: Value, operand: int = 0) -> str | None:
    """Why the LiteRT kernel of tfl.<tfl_name> cannot take `value` (the one kernel table)."""
    return kernel_dtype_reason("tfl." + tfl_name, value, operand)


def needs_explicit_broadcast(values: list[Value], max_rank: int | None) -> bool:
    """Whether the operands must be broadcast with tfl.broadcast_to before a kernel that
    broadcasts only up to `max_rank` (mirrors TFL::VerifyOperandsHaveSameShapesOrBroadcastableShape)."""
    shapes = [v.type.shape for v in values]
    if any(s is None for s in shapes) or max_rank is None:
        return False  # unranked: the kernel checks at runtime
    if all(s == shapes[0] for s in shapes):
        return False  # same shape (or same symbolic shape): no broadcasting at all
    if max_rank == 0:
        return True
    return max(len(s) for s in shapes) > max_rank  # type: ignore[arg-type]


def explicit_broadcast(rw: PatternRewriter, values: list[Value]) -> list[Value] | None:
    """The operands broadcast to their common shape (None if shapes are incompatible)."""
    shape = values[0].type.shape
    for v in values[1:]:
        if shape is None or v.type.shape is None:
            return None
        shape = broadcast_shapes(shape, v.type.shape)
    if shape is None:
        return None
    shape_value = broadcast_shape_value(rw, values, shape)
    return [broadcast_to(rw, v, shape, shape_value) for v in values]


class LegalizeUint32Add(RewritePattern):
    """tf.AddV2(x: ui32, y: ui32) -> tfl.cast(tfl.add(tfl.cast(x): i32, tfl.cast(y): i32)): ui32
    (the official LowerUInt32AddV2: ADD has no ui32 kernel; wrapping addition is the same in
    i32, bit for bit)"""

    root = ("tf.AddV2", "tf.Add")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        if any(v.type.dtype != "ui32" or v.type.is_quantized for v in (x, y, op.result)):
            return rw.fail("operands are not unquantized ui32")
        if not _broadcastable("tf.AddV2", [x, y]):
            return rw.fail("operand shapes do not broadcast (or are unranked)")
        i32 = [create_tfl(rw, "cast", [v], [v.type.with_dtype("i32")]).result for v in (x, y)]
        total = _binary_op(rw, "tf.AddV2", i32, op.result.type.with_dtype("i32"))
        rw.replace_with_new(op, "tfl.cast", [total])
        return None


class LegalizeIntSquaredDifference(RewritePattern):
    """tf.SquaredDifference(x: int, y) -> tfl.mul(d, d), d = tfl.sub(x, y) where the
    SQUARED_DIFFERENCE kernel lacks the type but SUB and MUL have it (i64; as the official
    converter lowers it through TF's own (x - y) * (x - y))."""

    root = "tf.SquaredDifference"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        dtype = x.type.dtype
        if not x.type.is_int or x.type.is_quantized:
            return rw.fail("not an unquantized integer tensor")
        if kernel_accepts("tfl.squared_difference", dtype):
            return rw.fail(f"tfl.squared_difference runs on {dtype} itself")
        if not (kernel_accepts("tfl.sub", dtype) and kernel_accepts("tfl.mul", dtype)):
            return rw.fail(f"tfl.sub or tfl.mul does not run on {dtype}")
        if not _broadcastable("tf.Sub", [x, y]):
            return rw.fail("operand shapes do not broadcast (or are unranked)")
        diff = _binary_op(rw, "tf.Sub", [x, y], op.result.type)
        rw.replace_with_new(op, "tfl.mul", [diff, diff], dict(NONE_ACT))
        return None


def _broadcastable(tf_name: str, operands: list[Value]) -> bool:
    """Whether the kernel of `tf_name` can take the operands, with explicit broadcasting if
    needed (False when shapes are incompatible or unknown past the kernel's rank)."""
    if not needs_explicit_broadcast(operands, BINARY[tf_name][1]):
        return True
    shape = operands[0].type.shape
    for v in operands[1:]:
        if shape is None or v.type.shape is None:
            return False
        shape = broadcast_shapes(shape, v.type.shape)
    return shape is not None


def _binary_op(
    rw: PatternRewriter, tf_name: str, operands: list[Value], result_type: TensorType
) -> Value:
    """The tfl op of an elementwise binary tf op, broadcast explicitly past the kernel's rank
    (check `_broadcastable` first)."""
    tfl_name, max_rank = BINARY[tf_name]
    if needs_explicit_broadcast(operands, max_rank):
        broadcast = explicit_broadcast(rw, operands)
        assert broadcast is not None, "checked by _broadcastable"
        operands = broadcast
    attrs = dict(NONE_ACT) if "tfl." + tfl_name in FUSED_ACTIVATION_OPS else {}
    return create_tfl(rw, tfl_name, operands, [result_type], **attrs).result


class LegalizeBinary(RewritePattern):
    """tf.AddV2(x, y) -> tfl.add(x, y) (and the other elementwise binary ops); operands get a
    tfl.broadcast_to only when the kernel cannot broadcast them itself (ApplyExplicitBroadcasting)."""

    root = tuple(BINARY)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        tfl_name, max_rank = BINARY[op.name]
        x, y = op.operands
        reason = _dtype_reason(tfl_name, x)
        if reason:
            return rw.fail(reason)
        if op.name == "tf.TruncateDiv" and not x.type.is_int:
            return rw.fail(
                "float TruncateDiv is lowered by LowerFloatTruncateDiv, not mapped to DIV"
            )
        if (
            op.name in ("tf.Equal", "tf.NotEqual")
            and not op.attr("incompatible_shape_error", True)
            and x.type.shape is not None
            and y.type.shape is not None
            and broadcast_shapes(x.type.shape, y.type.shape) is None
        ):
            return rw.fail("incompatible shapes with incompatible_shape_error=false")
        attrs = dict(NONE_ACT) if "tfl." + tfl_name in FUSED_ACTIVATION_OPS else {}
        if not needs_explicit_broadcast([x, y], max_rank):
            rw.replace_with_new(op, "tfl." + tfl_name, [x, y], attrs)
            return None
        if (
            tfl_name == "squared_difference"
            and x.type.is_float
            and not (needs_explicit_broadcast([x, y], 6))
        ):
            # Like the official converter: (x - y)^2 keeps SUB's 6-D broadcasting.
            diff = create_tfl(rw, "sub", [x, y], [op.result.type], **NONE_ACT).result
            rw.replace_with_new(op, "tfl.square", [diff])
            return None
        operands = explicit_broadcast(rw, [x, y])
        if operands is None:
            return rw.fail("operand shapes do not broadcast (or are unranked)")
        rw.replace_with_new(op, "tfl." + tfl_name, operands, attrs)
        return None


UNARY: dict[str, str] = {
    "tf.Abs": "abs",
    "tf.Neg": "neg",
    "tf.Exp": "exp",
    "tf.Log": "log",
    "tf.Sqrt": "sqrt",
    "tf.Rsqrt": "rsqrt",
    "tf.Square": "square",
    "tf.Sin": "sin",
    "tf.Cos": "cos",
    "tf.Floor": "floor",
    "tf.Ceil": "ceil",
    "tf.Round": "round",
    "tf.Sign": "sign",
    "tf.LogicalNot": "logical_not",
    "tf.ZerosLike": "zeros_like",
    "tf.Real": "real",
    "tf.Imag": "imag",
    "tf.ComplexAbs": "complex_abs",
}


class LegalizeUnary(RewritePattern):
    """tf.Exp(x) -> tfl.exp(x) (and the other one-input elementwise ops with a builtin)."""

    root = tuple(UNARY)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        name = UNARY[op.name]
        reason = _dtype_reason(name, op.operands[0])
        if reason:
            return rw.fail(reason)
        rw.replace_with_new(op, "tfl." + name, [op.operands[0]])
        return None


class LegalizeAbsSignByCompare(RewritePattern):
    """tf.Abs(x) -> tfl.select_v2(x < 0, -x, x); tf.Sign(x) -> cast(x > 0) - cast(x < 0), for
    integer types ABS / SIGN have no kernel for (int64 relative positions in DeBERTa); floats
    are refused: the compare form loses NaN (sign) and the sign of -0.0 (abs)"""

    root = ("tf.Abs", "tf.Sign")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type != op.result.type:
            return rw.fail("result type differs from the input type")
        if not x.type.is_int:
            return rw.fail("the compare-and-select form is exact for integers only")
        if x.type.shape is None or len(x.type.shape) > 4:
            return rw.fail("comparisons against a scalar broadcast up to rank 4")
        needed = ("neg", "less", "select_v2") if op.name == "tf.Abs" else ("less", "sub")
        for name in needed:
            operand = 1 if name == "select_v2" else 0
            if reason := _dtype_reason(name, x, operand):
                return rw.fail(reason)
        if op.name == "tf.Sign" and not kernel_accepts("tfl.cast", "i1"):
            return rw.fail("CAST does not take booleans")
        zero = scalar_const(rw, 0, x.type.dtype)
        bool_t = x.type.with_dtype("i1")
        negative = create_tfl(rw, "less", [x, zero], [bool_t]).result
        if op.name == "tf.Abs":
            minus = create_tfl(rw, "neg", [x], [x.type]).result
            rw.replace(op, create_tfl(rw, "select_v2", [negative, minus, x], [x.type]).result)
            return None
        positive = create_tfl(rw, "greater", [x, zero], [bool_t]).result
        pos = create_tfl(rw, "cast", [positive], [x.type]).result
        neg = create_tfl(rw, "cast", [negative], [x.type]).result
        rw.replace(op, create_tfl(rw, "sub", [pos, neg], [x.type], **NONE_ACT).result)
        return None


class LegalizeIntegerRoundingNoop(RewritePattern):
    """tf.Round(x: int) -> x (rounding an integer does nothing)."""

    root = ("tf.Round", "tf.Floor", "tf.Ceil")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if not x.type.is_int or x.type != op.result.type:
            return rw.fail("input is not an integer tensor of the result type")
        rw.replace(op, x)
        return None


class LegalizeReciprocal(RewritePattern):
    """tf.Reciprocal(x) -> tfl.div(1, x)"""

    root = ("tf.Reciprocal", "tf.Inv")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        reason = _dtype_reason("div", x)
        if reason:
            return rw.fail(reason)
        one = scalar_const(rw, 1, x.type.dtype)
        rw.replace_with_new(op, "tfl.div", [one, x], dict(NONE_ACT))
        return None


class LegalizeLog1p(RewritePattern):
    """tf.Log1p(x: f32) -> tfl.log(tfl.add(x, 1))"""

    root = "tf.Log1p"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.dtype != "f32" or x.type.is_quantized:
            return rw.fail("only f32 Log1p has a builtin lowering")
        one = scalar_const(rw, 1.0, "f32")
        plus = create_tfl(rw, "add", [x, one], [x.type], **NONE_ACT).result
        rw.replace_with_new(op, "tfl.log", [plus])
        return None


class LegalizeOnesLike(RewritePattern):
    """tf.OnesLike(x) -> tfl.fill(tfl.shape(x), 1)"""

    root = "tf.OnesLike"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.shape is None:
            return rw.fail("unranked input")
        if x.type.dtype not in ("f32", "i32", "i64", "i1"):
            return rw.fail(f"tfl.fill does not produce {x.type.dtype}")
        dims = tfl_shape(rw, x)
        one = scalar_const(rw, 1, x.type.dtype)
        rw.replace_with_new(op, "tfl.fill", [dims, one])
        return None


class LegalizeCast(RewritePattern):
    """tf.Cast(x) -> tfl.cast(x) (bfloat16 too, as the official converter does); a cast to the
    same type -> x"""

    root = "tf.Cast"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        src, dst = x.type.dtype, op.result.type.dtype
        if src == dst and x.type.quant == op.result.type.quant:
            rw.replace(op, x)
            return None
        if not (kernel_accepts("tfl.cast", src) and kernel_accepts("tfl.cast", dst)):
            return rw.fail(f"tfl.cast does not convert {src} to {dst}")
        rw.replace_with_new(op, "tfl.cast", [x])
        return None


def bitcast_shape(
    shape: tuple[int | None, ...], src: str, dst: str
) -> tuple[int | None, ...] | None:
    """The result shape of TF's (and TFLite's) Bitcast from `src` to `dst` elements: the same
    shape for one size, a new last dim of size ratio to a smaller type, the last dim (which must
    be the ratio) dropped to a larger type. None when the input does not fit."""
    src_size, dst_size = _itemsize(src), _itemsize(dst)
    if src_size is None or dst_size is None:
        return None
    if src_size == dst_size:
        return shape
    if src_size > dst_size:
        return (*shape, src_size // dst_size)
    if not shape or shape[-1] != dst_size // src_size:
        return None
    return shape[:-1]


def _itemsize(dtype: str) -> int | None:
    if dtype == "bf16":
        return 2
    try:
        return numpy_dtype(dtype).itemsize
    except ValueError:
        return None


class LegalizeBitcast(RewritePattern):
    """tf.Bitcast(x) -> tfl.bitcast(x) between any element types with a size (f32 <-> i32,
    i32 -> i8 adds a last dim of 4, i8 x 4 -> i32 drops it), as TF defines Bitcast"""

    root = "tf.Bitcast"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        src, dst = x.type.dtype, op.result.type.dtype
        if x.type.is_quantized or op.result.type.is_quantized:
            return rw.fail("quantized bitcast")
        for dtype in (src, dst):
            if not kernel_accepts("tfl.bitcast", dtype):
                return rw.fail(f"tfl.bitcast does not take {dtype}")
        if x.type.shape is None:
            return rw.fail("unranked input")
        shape = bitcast_shape(x.type.shape, src, dst)
        if shape is None:
            return rw.fail(f"the last dim of the input must be the size ratio of {dst} to {src}")
        result_shape = op.result.type.shape
        if result_shape is not None and len(result_shape) != len(shape):
            return rw.fail(f"result rank {len(result_shape)} is not that of Bitcast ({len(shape)})")
        rw.replace_with_new(op, "tfl.bitcast", [x])
        return None


class LegalizeAddN(RewritePattern):
    """tf.AddN(xs...) -> tfl.add_n(xs...); one input -> that input"""

    root = "tf.AddN"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands == 1:
            rw.replace(op, op.operands[0])
            return None
        reason = _dtype_reason("add_n", op.operands[0])
        if reason:
            return rw.fail(reason)
        rw.replace_with_new(op, "tfl.add_n", list(op.operands))
        return None


# --- reductions -------------------------------------------------------------------------------

REDUCTIONS: dict[str, str] = {
    "tf.Sum": "sum",
    "tf.Mean": "mean",
    "tf.Max": "reduce_max",
    "tf.Min": "reduce_min",
    "tf.Prod": "reduce_prod",
    "tf.Any": "reduce_any",
    "tf.All": "reduce_all",
}


class LegalizeReduction(RewritePattern):
    """tf.Sum(x, axes){keep_dims} -> tfl.sum(x, axes: i32){keep_dims} (Mean/Max/Min/Prod/Any/All
    -> mean/reduce_max/reduce_min/reduce_prod/reduce_any/reduce_all)"""

    root = tuple(REDUCTIONS)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, axes = op.operands
        reason = _dtype_reason(REDUCTIONS[op.name], x)
        if reason:
            return rw.fail(reason)
        axes_arr = constant_value(axes)
        if axes_arr is not None:
            if axes_arr.size == 0 and x.type == op.result.type:
                rw.replace(op, x)  # reducing over no axes is the identity
                return None
            if axes_arr.dtype == np.int32 and axes_arr.ndim == 1:
                axes32 = axes
            else:
                axes32 = const(rw, np.asarray(axes_arr, dtype=np.int32).reshape(-1))
        else:
            axes32 = as_i32(rw, axes)
        keep = bool(op.attr("keep_dims", False))
        rw.replace_with_new(op, "tfl." + REDUCTIONS[op.name], [x, axes32], {"keep_dims": keep})
        return None


class LegalizeArgMinMax(RewritePattern):
    """tf.ArgMax(x, dim){output_type} -> tfl.arg_max(x, dim){output_type} (ArgMin likewise)"""

    root = ("tf.ArgMax", "tf.ArgMin")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, dim = op.operands
        out = op.result.type.dtype
        if out not in ("i32", "i64"):
            return rw.fail(f"output type {out} is not i32/i64")
        name = "arg_max" if op.name == "tf.ArgMax" else "arg_min"
        reason = _dtype_reason(name, x)
        if reason:
            return rw.fail(reason)
        rw.replace_with_new(
            op, "tfl." + name, [x, as_i32(rw, dim)], {"output_type": tflite_type_name(out)}
        )
        return None


class LegalizeCumsum(RewritePattern):
    """tf.Cumsum(x, axis){exclusive, reverse} -> tfl.cumsum(x, axis: i32){exclusive, reverse}"""

    root = "tf.Cumsum"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, axis = op.operands
        reason = _dtype_reason("cumsum", x)
        if reason:
            return rw.fail(reason)
        attrs = {
            "exclusive": bool(op.attr("exclusive", False)),
            "reverse": bool(op.attr("reverse", False)),
        }
        rw.replace_with_new(op, "tfl.cumsum", [x, as_i32(rw, axis)], attrs)
        return None


class LegalizeTopK(RewritePattern):
    """tf.TopKV2(x, k) -> tfl.topk_v2(x, k: i32) (i32 indices, cast when TF asked for i64)"""

    root = "tf.TopKV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, k = op.operands
        if why := kernel_dtype_reason("tfl.topk_v2", x):
            return rw.fail(why)
        values_t, index_t = op.results[0].type, op.results[1].type
        if index_t.dtype not in ("i32", "i64", "i16"):
            return rw.fail(f"index type {index_t.dtype} is not supported")
        i32_t = index_t.with_dtype("i32")
        topk = create_tfl(rw, "topk_v2", [x, as_i32(rw, k)], [values_t, i32_t])
        indices: Value = topk.results[1]
        if index_t.dtype != "i32":
            indices = create_tfl(rw, "cast", [indices], [index_t]).result
        rw.replace(op, [topk.results[0], indices])
        return None


class LegalizeSegmentSum(RewritePattern):
    """tf.SegmentSum(data, ids) -> tfl.segment_sum(data, ids: i32); tf.UnsortedSegment{Sum,Max,
    Min,Prod}(data, ids, n) -> tfl.unsorted_segment_*(data, ids: i32, n: i32)"""

    root = (
        "tf.SegmentSum",
        "tf.UnsortedSegmentSum",
        "tf.UnsortedSegmentMax",
        "tf.UnsortedSegmentMin",
        "tf.UnsortedSegmentProd",
    )

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        name = {
            "tf.SegmentSum": "segment_sum",
            "tf.UnsortedSegmentSum": "unsorted_segment_sum",
            "tf.UnsortedSegmentMax": "unsorted_segment_max",
            "tf.UnsortedSegmentMin": "unsorted_segment_min",
            "tf.UnsortedSegmentProd": "unsorted_segment_prod",
        }[op.name]
        if why := kernel_dtype_reason("tfl." + name, op.operands[0]):
            return rw.fail(why)
        operands = [op.operands[0]] + [as_i32(rw, v) for v in op.operands[1:]]
        rw.replace_with_new(op, "tfl." + name, operands)
        return None


class LegalizeBucketize(RewritePattern):
    """tf.Bucketize(x){boundaries} -> tfl.bucketize(x){boundaries}"""

    root = "tf.Bucketize"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        boundaries = [float(b) for b in op.attr("boundaries", [])]
        rw.replace_with_new(op, "tfl.bucketize", [op.operands[0]], {"boundaries": boundaries})
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeBinary(),
    LegalizeUint32Add(),
    LegalizeIntSquaredDifference(),
    LegalizeIntegerRoundingNoop(),
    LegalizeUnary(),
    LegalizeAbsSignByCompare(),
    LegalizeReciprocal(),
    LegalizeLog1p(),
    LegalizeOnesLike(),
    LegalizeCast(),
    LegalizeBitcast(),
    LegalizeAddN(),
    LegalizeReduction(),
    LegalizeArgMinMax(),
    LegalizeCumsum(),
    LegalizeTopK(),
    LegalizeSegmentSum(),
    LegalizeBucketize(),
]
