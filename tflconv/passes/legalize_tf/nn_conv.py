"""Convolutions and pooling: tf.Conv2D / DepthwiseConv2dNative / Conv2DBackpropInput / Conv3D /
Conv3DBackpropInputV2 / MaxPool / AvgPool -> tfl.

Weight layouts are converted once here with numpy (filters are constants): Conv2D HWIO -> OHWI,
depthwise HWCM -> [1,H,W,C*M], transpose conv [kh,kw,Cout,Cin] -> [Cout,kh,kw,Cin]; a
non-constant filter gets a tfl.transpose / tfl.reshape instead. NCHW ops are wrapped in
transposes to NHWC, which is the only layout TFLite kernels take.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from .common import constant_value, create_tfl, no_value
from .nn_util import (
    NCHW_FROM_NHWC,
    NHWC_FROM_NCHW,
    data_format,
    i32,
    ints,
    pad_to_i32,
    permuted_type,
    reshape,
    text,
    transpose,
    zeros,
)


def _to_nhwc(rw: PatternRewriter, op: Operation, x: Value) -> Value:
    """The input in NHWC: NCHW inputs get a transpose (callers check the format first)."""
    return transpose(rw, x, NHWC_FROM_NCHW) if data_format(op) == "NCHW" else x


def _nhwc_list(op: Operation, key: str, default: list[int]) -> list[int]:
    """A 4-element stride/ksize/dilation list in NHWC order."""
    values = ints(op.attributes.get(key)) or default
    if data_format(op) == "NCHW":
        values = [values[i] for i in NHWC_FROM_NCHW]
    return values


def _explicit_pads(op: Operation) -> np.ndarray | None:
    """EXPLICIT paddings as an NHWC [4,2] array; None when batch/channel are padded."""
    flat = ints(op.attributes.get("explicit_paddings"))
    if len(flat) != 8:
        return None
    pads = np.asarray(flat, dtype=np.int32).reshape(4, 2)
    if data_format(op) == "NCHW":
        pads = pads[list(NHWC_FROM_NCHW)]
    if pads[0].any() or pads[3].any():
        return None
    return pads


def _pad(rw: PatternRewriter, x: Value, pads: np.ndarray) -> Value:
    shape = x.type.shape
    out = None
    if shape is not None:
        out = tuple(
            None if d is None else d + int(pads[i, 0]) + int(pads[i, 1])
            for i, d in enumerate(shape)
        )
    return create_tfl(rw, "pad", [x, i32(rw, pads)], [x.type.with_shape(out)]).result


def _nchw_space_to_batch(op: Operation) -> Operation | None:
    """The tf.SpaceToBatchND over (C, H, W) feeding an NCHW conv (TF's NCHW dilated conv)."""
    s2b = op.operands[0].defining_op
    if data_format(op) != "NCHW" or s2b is None or s2b.name != "tf.SpaceToBatchND":
        return None
    block = constant_value(s2b.operands[1])
    return s2b if block is not None and block.shape == (3,) else None


def _dtype_reason(tfl_name: str, x: Value, operand: int = 0) -> str | None:
    """Why `x` cannot be the input of `tfl_name`: integer convolutions need quantized filters
    (the quantizer's business), and the kernel table says which float types run (f64: none)."""
    if not x.type.is_float:
        return f"only float convolutions are legalized here (input is {x.type.dtype})"
    return kernel_dtype_reason(tfl_name, x, operand)


def _conv_common(
    op: Operation, rw: PatternRewriter, tfl_name: str
) -> tuple[Value, dict, str | None]:
    """Input in NHWC (padded if EXPLICIT) and the shared conv attributes, or a reason."""
    x = op.operands[0]
    if _nchw_space_to_batch(op) is not None:
        # tfl.space_to_batch_nd cannot run a (C, H, W) block: the pair must fold into the conv.
        return x, {}, "input is an NCHW space_to_batch over (C, H, W): left for the dilation fold"
    if x.type.rank != 4 or op.operands[1].type.rank != 4:
        return x, {}, "conv needs rank-4 input and filter"
    if why := _dtype_reason(tfl_name, x):
        return x, {}, why
    fmt = data_format(op)
    if fmt not in ("NHWC", "NCHW"):
        return x, {}, f"data_format {fmt} is not supported"
    strides = _nhwc_list(op, "strides", [1, 1, 1, 1])
    dilations = _nhwc_list(op, "dilations", [1, 1, 1, 1])
    if strides[0] != 1 or strides[3] != 1 or dilations[0] != 1 or dilations[3] != 1:
        return x, {}, "strides/dilations along batch or channels are not supported"
    padding = text(op.attributes.get("padding"))
    pads = None
    if padding == "EXPLICIT":
        pads = _explicit_pads(op)
        if pads is None:
            return x, {}, "explicit padding of batch or channels is not supported"
    elif padding not in ("SAME", "VALID"):
        return x, {}, f"padding {padding!r} is not supported"
    x = _to_nhwc(rw, op, x)
    if pads is not None:
        x = _pad(rw, x, pads) if pads.any() else x
        padding = "VALID"
    attrs = {
        "padding": padding,
        "stride_h": strides[1],
        "stride_w": strides[2],
        "dilation_h_factor": dilations[1],
        "dilation_w_factor": dilations[2],
        "fused_activation_function": "NONE",
    }
    return x, attrs, None


def _finish(rw: PatternRewriter, op: Operation, result: Value) -> None:
    if data_format(op) == "NCHW":
        result = transpose(rw, result, NCHW_FROM_NHWC)
    rw.replace(op, result)


def _out_type(op: Operation):
    t = op.result.type
    return permuted_type(t, NHWC_FROM_NCHW) if data_format(op) == "NCHW" else t


def _only_user(value: Value) -> Operation | None:
    users = list(value.users)
    return users[0] if len(users) == 1 else None


class FuseSpaceToBatchConvNCHW(RewritePattern):
    """tf.BatchToSpaceND(conv{NCHW,VALID}(tf.SpaceToBatchND(x, [1,bh,bw], p)), [1,bh,bw], c)
    -> conv{NCHW}(x){dilations=[1,1,bh,bw], EXPLICIT p - c}  (TF's NCHW dilated conv)

    TF writes an NCHW dilated conv with a 3-D block over (C, H, W), which tfl.space_to_batch_nd
    cannot run (it takes exactly the two spatial dims); the official's dilated-conv rewrite
    (prepare_tf's ConvertTFDilatedConvOp) likewise folds the pair into the conv's dilation.
    NHWC pairs are fused after legalization (fuse/structure.py FuseDilatedConv)."""

    root = ("tf.Conv2D", "tf.DepthwiseConv2dNative")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        s2b = _nchw_space_to_batch(op)
        if s2b is None:
            return rw.fail("not an NCHW conv fed by a tf.SpaceToBatchND over (C, H, W)")
        b2s = _only_user(op.result)
        if b2s is None or b2s.name != "tf.BatchToSpaceND":
            return rw.fail("conv output does not only feed a tf.BatchToSpaceND")
        if _only_user(s2b.result) is not op:
            return rw.fail("space_to_batch output has other users")
        if text(op.attributes.get("padding")) != "VALID":
            return rw.fail("inner conv is not VALID")
        steps = ints(op.attributes.get("strides")) + ints(op.attributes.get("dilations"))
        if any(v != 1 for v in steps):
            return rw.fail("inner conv is strided or dilated")
        block, block2 = constant_value(s2b.operands[1]), constant_value(b2s.operands[1])
        pads, crops = constant_value(s2b.operands[2]), constant_value(b2s.operands[2])
        if any(a is None for a in (block, block2, pads, crops)):
            return rw.fail("block shape, paddings or crops are not constant")
        if block.shape != (3,) or not np.array_equal(block, block2) or block[0] != 1:
            return rw.fail("blocks are not the same [1, bh, bw]")
        pads = np.asarray(pads, dtype=np.int64).reshape(3, 2)
        crops = np.asarray(crops, dtype=np.int64).reshape(3, 2)
        if pads[0].any() or crops[0].any() or crops[1:, 0].any():
            return rw.fail("channels are padded/cropped or a spatial start is cropped")
        after = pads[1:, 1] - crops[1:, 1]
        if (after < 0).any():
            return rw.fail("crops exceed the paddings")
        explicit = [0, 0, 0, 0, *(int(v) for pair in zip(pads[1:, 0], after) for v in pair)]
        new = op.clone()
        new.set_operand(0, s2b.operands[0])
        new.results[0].type = b2s.result.type
        new.attributes.update(
            dilations=[1, 1, int(block[1]), int(block[2])],
            padding="EXPLICIT" if any(explicit) else "VALID",
            explicit_paddings=explicit if any(explicit) else [],
        )
        rw.insert(new, before=op)
        rw.replace(b2s, new.result)
        rw.erase(op)
        rw.erase(s2b)


class LegalizeConv2D(RewritePattern):
    """tf.Conv2D(x, w[kh,kw,Ci,Co]) -> tfl.conv_2d(x, w[Co,kh,kw,Ci], zeros[Co])"""

    root = "tf.Conv2D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        w = op.operands[1]
        wshape = w.type.shape
        if wshape is None or len(wshape) != 4 or wshape[3] is None or wshape[2] is None:
            return rw.fail("conv filter needs a static rank-4 shape")
        xshape = op.operands[0].type.shape
        in_channels = None
        if xshape is not None and len(xshape) == 4:
            in_channels = xshape[3] if data_format(op) == "NHWC" else xshape[1]
        if in_channels is not None and in_channels % wshape[2] != 0:
            return rw.fail(
                f"input channels {in_channels} are not a multiple of filter channels {wshape[2]}"
            )
        x, attrs, reason = _conv_common(op, rw, "tfl.conv_2d")
        if reason:
            return rw.fail(reason)
        filt = transpose(rw, w, (3, 0, 1, 2))
        bias = zeros(rw, wshape[3], w.type.dtype)
        conv = create_tfl(rw, "conv_2d", [x, filt, bias], [_out_type(op)], **attrs)
        _finish(rw, op, conv.result)


class LegalizeDepthwiseConv2D(RewritePattern):
    """tf.DepthwiseConv2dNative(x, w[kh,kw,C,M]) -> tfl.depthwise_conv_2d(x, w[1,kh,kw,C*M],
    zeros[C*M]){depth_multiplier=M}"""

    root = "tf.DepthwiseConv2dNative"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        w = op.operands[1]
        wshape = w.type.shape
        if wshape is None or len(wshape) != 4 or not w.type.is_static:
            return rw.fail("depthwise filter needs a static rank-4 shape")
        x, attrs, reason = _conv_common(op, rw, "tfl.depthwise_conv_2d")
        if reason:
            return rw.fail(reason)
        kh, kw, c, m = wshape
        filt = reshape(rw, w, [1, kh, kw, c * m])
        bias = zeros(rw, c * m, w.type.dtype)
        conv = create_tfl(
            rw, "depthwise_conv_2d", [x, filt, bias], [_out_type(op)], depth_multiplier=m, **attrs
        )
        _finish(rw, op, conv.result)


def _sizes_nhwc(rw: PatternRewriter, op: Operation, sizes: Value) -> Value:
    """The output-shape operand as int32 in NHWC order (NCHW sizes are permuted: with numpy
    when constant, with a tfl.gather otherwise)."""
    sizes = pad_to_i32(rw, sizes)
    if data_format(op) != "NCHW":
        return sizes
    arr = constant_value(sizes)
    if arr is not None:
        return i32(rw, arr[list(NHWC_FROM_NCHW)])
    out = sizes.type.with_shape((4,))
    return create_tfl(rw, "gather", [sizes, i32(rw, NHWC_FROM_NCHW)], [out], axis=0).result


class LegalizeConv2DBackpropInput(RewritePattern):
    """tf.Conv2DBackpropInput(sizes, w[kh,kw,Co,Ci], x) -> tfl.transpose_conv(sizes,
    w[Co,kh,kw,Ci], x, none)  (NCHW: transposes around it, as the official layout pass does)"""

    root = "tf.Conv2DBackpropInput"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        sizes, w, x = op.operands
        fmt = data_format(op)
        if fmt not in ("NHWC", "NCHW"):
            return rw.fail(f"data_format {fmt} is not supported")
        if w.type.rank != 4 or x.type.rank != 4:
            return rw.fail("transpose conv needs rank-4 input and filter")
        if why := _dtype_reason("tfl.transpose_conv", x, 2):
            return rw.fail(why)
        strides = _nhwc_list(op, "strides", [1, 1, 1, 1])
        dilations = _nhwc_list(op, "dilations", [1, 1, 1, 1])
        if any(d != 1 for d in dilations):
            return rw.fail("tfl.transpose_conv has no dilation")
        if strides[0] != 1 or strides[3] != 1:
            return rw.fail("strides along batch or channels are not supported")
        padding = text(op.attributes.get("padding"))
        if padding not in ("SAME", "VALID"):
            return rw.fail(f"transpose conv padding {padding!r} is not supported")
        filt = transpose(rw, w, (2, 0, 1, 3))
        conv = create_tfl(
            rw,
            "transpose_conv",
            [_sizes_nhwc(rw, op, sizes), filt, _to_nhwc(rw, op, x), no_value(rw)],
            [_out_type(op)],
            padding=padding,
            stride_h=strides[1],
            stride_w=strides[2],
            fused_activation_function="NONE",
        )
        _finish(rw, op, conv.result)


def _conv3d_attrs(op: Operation) -> tuple[dict, str | None]:
    if text(op.attributes.get("data_format", "NDHWC")) != "NDHWC":
        return {}, "3-D convolutions are legalized for NDHWC only"
    strides = ints(op.attributes.get("strides")) or [1] * 5
    dilations = ints(op.attributes.get("dilations")) or [1] * 5
    if strides[0] != 1 or strides[4] != 1 or dilations[0] != 1 or dilations[4] != 1:
        return {}, "strides/dilations along batch or channels are not supported"
    padding = text(op.attributes.get("padding"))
    if padding not in ("SAME", "VALID"):
        return {}, f"padding {padding!r} is not supported"
    return {
        "padding": padding,
        "stride_d": strides[1],
        "stride_h": strides[2],
        "stride_w": strides[3],
        "dilation_d_factor": dilations[1],
        "dilation_h_factor": dilations[2],
        "dilation_w_factor": dilations[3],
        "fused_activation_function": "NONE",
    }, None


class LegalizeConv3D(RewritePattern):
    """tf.Conv3D(x, w[DHWIO]) -> tfl.conv_3d(x, w[DHWIO], none)"""

    root = "tf.Conv3D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, w = op.operands
        if x.type.rank != 5 or w.type.rank != 5:
            return rw.fail("conv 3-D needs rank-5 input and filter")
        if why := _dtype_reason("tfl.conv_3d", x):
            return rw.fail(why)
        attrs, reason = _conv3d_attrs(op)
        if reason:
            return rw.fail(reason)
        conv = create_tfl(rw, "conv_3d", [x, w, no_value(rw)], [op.result.type], **attrs)
        rw.replace(op, conv.result)


class LegalizeConv3DBackpropInputV2(RewritePattern):
    """tf.Conv3DBackpropInputV2(sizes, w[DHWOI], x) -> tfl.conv_3d_transpose(sizes, w, x, none)"""

    root = "tf.Conv3DBackpropInputV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        sizes, w, x = op.operands
        if x.type.rank != 5 or w.type.rank != 5:
            return rw.fail("conv 3-D transpose needs rank-5 input and filter")
        if why := _dtype_reason("tfl.conv_3d_transpose", x, 2):
            return rw.fail(why)
        attrs, reason = _conv3d_attrs(op)
        if reason:
            return rw.fail(reason)
        conv = create_tfl(
            rw,
            "conv_3d_transpose",
            [pad_to_i32(rw, sizes), w, x, no_value(rw)],
            [op.result.type],
            **attrs,
        )
        rw.replace(op, conv.result)


class LegalizePool2D(RewritePattern):
    """tf.MaxPool/AvgPool(x){ksize,strides,padding} -> tfl.max_pool_2d/average_pool_2d"""

    root = ("tf.MaxPool", "tf.AvgPool")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.rank != 4:
            return rw.fail("pooling needs a rank-4 input")
        name = "max_pool_2d" if op.name == "tf.MaxPool" else "average_pool_2d"
        if why := kernel_dtype_reason("tfl." + name, x):
            return rw.fail(why)
        fmt = data_format(op)
        if fmt not in ("NHWC", "NCHW"):
            return rw.fail(f"data_format {fmt} is not supported")
        ksize = _nhwc_list(op, "ksize", [])
        strides = _nhwc_list(op, "strides", [])
        if len(ksize) != 4 or len(strides) != 4:
            return rw.fail("ksize/strides must be attributes with 4 entries")
        if ksize[0] != 1 or ksize[3] != 1 or strides[0] != 1 or strides[3] != 1:
            return rw.fail("pooling across batch or channels is not supported")
        padding = text(op.attributes.get("padding"))
        if padding not in ("SAME", "VALID"):
            return rw.fail(f"pool padding {padding!r} is not supported")
        x = _to_nhwc(rw, op, x)
        pool = create_tfl(
            rw,
            name,
            [x],
            [_out_type(op)],
            padding=padding,
            stride_h=strides[1],
            stride_w=strides[2],
            filter_height=ksize[1],
            filter_width=ksize[2],
            fused_activation_function="NONE",
        )
        _finish(rw, op, pool.result)


PATTERNS: list[RewritePattern] = [
    LegalizeConv2D(),
    LegalizeDepthwiseConv2D(),
    FuseSpaceToBatchConvNCHW(),
    LegalizeConv2DBackpropInput(),
    LegalizeConv3D(),
    LegalizeConv3DBackpropInputV2(),
    LegalizePool2D(),
]
