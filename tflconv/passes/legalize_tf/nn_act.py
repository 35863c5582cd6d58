"""Activations, softmax, bias-add, batch norm, padding, resizing, LRN: tf -> tfl."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern, one_to_one
from tflconv.core.types import numpy_dtype
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from . import elementwise_lowered
from .common import const, constant_value, create_tfl, scalar_const
from .nn_expr import erase_dead, match_gelu, products_above
from .nn_util import data_format, pad_to_i32, reshape, text


def _float_only(op: Operation, tfl_name: str) -> str | None:
    """Why `op` cannot become `tfl_name` (None when it can): the decompositions here are float
    math, and the kernel table says which float types the kernel runs on (f64: none)."""
    x = op.operands[0]
    if not x.type.is_float:
        return f"{op.name} is legalized for float inputs only (got {x.type.dtype})"
    return kernel_dtype_reason(tfl_name, x)


_ACTIVATIONS = {
    "tf.Relu": "tfl.relu",
    "tf.Relu6": "tfl.relu6",
    "tf.Elu": "tfl.elu",
    "tf.Sigmoid": "tfl.logistic",
    "tf.LogSoftmax": "tfl.log_softmax",
}

ACTIVATIONS = one_to_one(
    _ACTIVATIONS,
    check=lambda op: _float_only(op, _ACTIVATIONS[op.name]),
    name="LegalizeActivationsOneToOne",
)
"""tf.Relu/Relu6/Elu/Sigmoid/LogSoftmax(x) -> tfl.relu/relu6/elu/logistic/log_softmax(x)"""


class LegalizeReluInt(RewritePattern):
    """tf.Relu(x: integer) -> tfl.maximum(x, 0)  (the official LegalizeReluI32/I64: RELU has no
    integer kernel, MAXIMUM does; likewise for i8/i16/ui8, which MAXIMUM also runs on)"""

    root = "tf.Relu"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        dtype = x.type.dtype
        if x.type.is_quantized or not x.type.is_int:
            return rw.fail(f"integer relu is lowered for plain integers (got {dtype})")
        if why := kernel_dtype_reason("tfl.maximum", x):
            return rw.fail(why)
        zero = const(rw, np.zeros((), dtype=numpy_dtype(dtype)))
        rw.replace(op, create_tfl(rw, "maximum", [x, zero], [op.result.type]).result)


class LegalizeLeakyRelu(RewritePattern):
    """tf.LeakyRelu(x){alpha} -> tfl.leaky_relu(x){alpha}"""

    root = "tf.LeakyRelu"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _float_only(op, "tfl.leaky_relu"):
            return rw.fail(reason)
        alpha = float(op.attributes.get("alpha", 0.2))
        rw.replace_with_new(op, "tfl.leaky_relu", [op.operands[0]], {"alpha": alpha})


class LegalizeSoftmax(RewritePattern):
    """tf.Softmax(x) -> tfl.softmax(x){beta=1.0}"""

    root = "tf.Softmax"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _float_only(op, "tfl.softmax"):
            return rw.fail(reason)
        rw.replace_with_new(op, "tfl.softmax", [op.operands[0]], {"beta": 1.0})


def _binary(rw: PatternRewriter, name: str, a: Value, b: Value, out=None) -> Value:
    return create_tfl(rw, name, [a, b], [out or a.type], fused_activation_function="NONE").result


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class LegalizeSelu(RewritePattern):
    """tf.Selu(x) -> tfl.minimum(tfl.mul(e, scale), tfl.mul(e, scale*alpha)) with e = tfl.elu(x)

    (elu(x) is x for x > 0 and exp(x)-1 below, so the smaller of the two scalings picks the
    right branch: 4 ops where a select-based decomposition takes 6.)"""

    root = "tf.Selu"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _float_only(op, "tfl.elu"):
            return rw.fail(reason)
        x = op.operands[0]
        e = create_tfl(rw, "elu", [x], [x.type]).result
        pos = _binary(rw, "mul", e, scalar_const(rw, SELU_SCALE, x.type.dtype))
        neg = _binary(rw, "mul", e, scalar_const(rw, SELU_SCALE * SELU_ALPHA, x.type.dtype))
        rw.replace(op, create_tfl(rw, "minimum", [pos, neg], [x.type]).result)


class LegalizeSoftplus(RewritePattern):
    """tf.Softplus(x) -> tfl.log(tfl.add(tfl.exp(x), 1))  (the official decomposition)"""

    root = "tf.Softplus"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _float_only(op, "tfl.exp") or _float_only(op, "tfl.log"):
            return rw.fail(reason)
        x = op.operands[0]
        e = create_tfl(rw, "exp", [x], [x.type]).result
        s = _binary(rw, "add", e, scalar_const(rw, 1.0, x.type.dtype))
        rw.replace(op, create_tfl(rw, "log", [s], [x.type]).result)


class LegalizeGeluExpression(RewritePattern):
    """0.5*x*erfc(-x/sqrt2) | 0.5*x*(1+erf(x/sqrt2)) | 0.5*x*(1+tanh(..)) -> tfl.gelu(x)

    Rooted at the Erfc/Erf/Tanh inside (TFLite has no erf, so the erf forms must match here);
    a Tanh that is not part of a GELU becomes tfl.tanh."""

    root = ("tf.Erfc", "tf.Erf", "tf.Tanh")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        # The GELU product may be a factor of a bigger one (GeGLU: gelu(x) * gate): try each
        # product on the way up, innermost first.
        found = None
        for top in products_above(op.result):
            found = match_gelu(top)
            if found is not None:
                break
        if found is None:
            if op.name == "tf.Tanh" and not _float_only(op, "tfl.tanh"):
                rw.replace_with_new(op, "tfl.tanh", [op.operands[0]])
                return None
            return rw.fail(f"{op.name} is not part of a GELU expression (TFLite has no erf)")
        x, approximate, ops = found
        gelu = create_tfl(rw, "gelu", [x], [x.type], approximate=approximate)
        rw.replace(top, gelu.result)
        erase_dead(rw, [op, *ops])


class LegalizeBiasAdd(RewritePattern):
    """tf.BiasAdd(x, b){NHWC} -> tfl.add(x, b); NCHW -> tfl.add(x, reshape(b, [C,1,1]))"""

    root = "tf.BiasAdd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, b = op.operands
        if why := kernel_dtype_reason("tfl.add", x):
            return rw.fail(why)
        fmt = data_format(op)
        if fmt.startswith("NC") and fmt != "NC":
            if x.type.rank is None or b.type.shape is None or b.type.shape[0] is None:
                return rw.fail("NCHW bias-add needs a ranked input and a static bias")
            b = reshape(rw, b, [b.type.shape[0]] + [1] * (x.type.rank - 2))
        rw.replace(op, _binary(rw, "add", x, b, op.result.type))


class LegalizeFusedBatchNorm(RewritePattern):
    """tf.FusedBatchNorm{,V2,V3}(x, scale, offset, mean, var){is_training=false} ->
    tfl.add(tfl.mul(x, m), offset - mean*m) with m = scale*rsqrt(var+eps) folded;
    is_training=true -> batch mean/variance via tfl.mean"""

    root = ("tf.FusedBatchNorm", "tf.FusedBatchNormV2", "tf.FusedBatchNormV3")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, scale, offset, mean, var = op.operands[:5]
        if not x.type.is_float or x.type.rank is None:
            return rw.fail("batch norm needs a ranked float input")
        if why := kernel_dtype_reason("tfl.mul", x) or kernel_dtype_reason("tfl.add", x):
            return rw.fail(why)
        fmt = data_format(op)
        rank = x.type.rank
        if fmt in ("NHWC", "NDHWC") or rank < 3:
            axis = rank - 1
        elif fmt in ("NCHW", "NCDHW"):
            axis = 1
        else:
            return rw.fail(f"data_format {fmt} is not supported")
        eps = float(op.attributes.get("epsilon", 1e-3))
        training = bool(op.attributes.get("is_training", False))
        extra = [r for r in op.results[1:] if r.num_uses]
        if training:
            if any(r.index != 1 for r in extra):
                return rw.fail("training batch norm: only the batch mean output may be used")
            if axis != rank - 1:
                return rw.fail("training batch norm is legalized for channels-last only")
            return self._training(op, rw, x, scale, offset, eps, rank)
        if extra:
            return rw.fail("batch norm statistics outputs are used")
        consts = [constant_value(v) for v in (scale, offset, mean, var)]
        shape = [1] * rank
        shape[axis] = -1
        if all(c is not None for c in consts):
            s, o, m, v = (np.asarray(c, dtype=np.float64) for c in consts)
            mult = s / np.sqrt(v + eps)
            shift = o - m * mult
            dt = numpy_dtype(x.type.dtype)
            mult_v = const(rw, mult.astype(dt).reshape(shape if axis != rank - 1 else [-1]))
            shift_v = const(rw, shift.astype(dt).reshape(shape if axis != rank - 1 else [-1]))
        else:
            if axis != rank - 1:
                return rw.fail("NCHW batch norm needs constant statistics")
            t = var.type
            eps_v = scalar_const(rw, eps, x.type.dtype)
            inv = create_tfl(rw, "rsqrt", [_binary(rw, "add", var, eps_v, t)], [t]).result
            mult_v = _binary(rw, "mul", inv, scale, t)
            shift_v = _binary(rw, "sub", offset, _binary(rw, "mul", mean, mult_v, t), t)
        y = _binary(rw, "add", _binary(rw, "mul", x, mult_v), shift_v)
        rw.replace(op, [y] + [None] * (len(op.results) - 1))

    def _training(self, op, rw, x, scale, offset, eps, rank) -> None:
        axes = const(rw, np.arange(rank - 1, dtype=np.int32))
        c = x.type.shape[-1]  # type: ignore[index]
        stat_type = x.type.with_shape((c,))
        mean = create_tfl(rw, "mean", [x, axes], [stat_type], keep_dims=False).result
        centered = _binary(rw, "sub", x, mean)
        sq = create_tfl(rw, "square", [centered], [x.type]).result
        var = create_tfl(rw, "mean", [sq, axes], [stat_type], keep_dims=False).result
        inv = create_tfl(
            rw, "rsqrt", [_binary(rw, "add", var, scalar_const(rw, eps, x.type.dtype))], [stat_type]
        )
        mult = _binary(rw, "mul", inv.result, scale, stat_type)
        y = _binary(rw, "add", _binary(rw, "mul", centered, mult), offset)
        rw.replace(op, [y, mean] + [None] * (len(op.results) - 2))


class LegalizePad(RewritePattern):
    """tf.Pad/PadV2/MirrorPad(x, paddings[, c]) -> tfl.pad/padv2/mirror_pad (int32 paddings)"""

    root = ("tf.Pad", "tf.PadV2", "tf.MirrorPad")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, paddings = op.operands[:2]
        attrs = {}
        if op.name == "tf.MirrorPad":
            mode = text(op.attributes.get("mode", "REFLECT")).upper()
            if mode not in ("REFLECT", "SYMMETRIC"):
                return rw.fail(f"mirror pad mode {mode!r} is not supported")
            attrs["mode"] = mode
        name = {"tf.Pad": "tfl.pad", "tf.PadV2": "tfl.padv2", "tf.MirrorPad": "tfl.mirror_pad"}
        if why := kernel_dtype_reason(name[op.name], x):
            return rw.fail(why)
        operands = [x, pad_to_i32(rw, paddings), *op.operands[2:]]
        rw.replace_with_new(op, name[op.name], operands, attrs)


class LegalizeResize(RewritePattern):
    """tf.ResizeBilinear/ResizeNearestNeighbor(x, size){align_corners, half_pixel_centers} ->
    tfl.resize_bilinear/resize_nearest_neighbor. TF's ResizeBilinear returns float32 for every
    input type and interpolates the input converted to float: a non-float32 input is cast
    first (the official leaves an int32 one to Flex)."""

    root = ("tf.ResizeBilinear", "tf.ResizeNearestNeighbor")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, size = op.operands
        if x.type.rank != 4:
            return rw.fail("resize needs a rank-4 NHWC input")
        name = (
            "tfl.resize_bilinear"
            if op.name == "tf.ResizeBilinear"
            else ("tfl.resize_nearest_neighbor")
        )
        if op.name == "tf.ResizeBilinear" and x.type.dtype != "f32":
            if op.result.type.dtype != "f32":
                return rw.fail(f"ResizeBilinear result type {op.result.type.dtype}")
            x = create_tfl(rw, "cast", [x], [x.type.with_dtype("f32")]).result
        if why := kernel_dtype_reason(name, x):
            return rw.fail(why)
        attrs = {
            "align_corners": bool(op.attributes.get("align_corners", False)),
            "half_pixel_centers": bool(op.attributes.get("half_pixel_centers", False)),
        }
        rw.replace_with_new(op, name, [x, pad_to_i32(rw, size)], attrs)


class LegalizeLRN(RewritePattern):
    """tf.LRN(x){depth_radius, bias, alpha, beta} -> tfl.local_response_normalization"""

    root = "tf.LRN"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _float_only(op, "tfl.local_response_normalization"):
            return rw.fail(reason)
        attrs = {
            "radius": int(op.attributes.get("depth_radius", 5)),
            "bias": float(op.attributes.get("bias", 1.0)),
            "alpha": float(op.attributes.get("alpha", 1.0)),
            "beta": float(op.attributes.get("beta", 0.5)),
        }
        rw.replace_with_new(op, "tfl.local_response_normalization", [op.operands[0]], attrs)


PATTERNS: list[RewritePattern] = [
    ACTIVATIONS,
    LegalizeReluInt(),
    LegalizeLeakyRelu(),
    LegalizeSoftmax(),
    LegalizeSelu(),
    LegalizeSoftplus(),
    LegalizeGeluExpression(),
    LegalizeBiasAdd(),
    LegalizeFusedBatchNorm(),
    LegalizePad(),
    LegalizeResize(),
    LegalizeLRN(),
    *elementwise_lowered.PATTERNS,
]
