"""stablehlo.dot_general -> tfl.fully_connected / tfl.batch_matmul, stablehlo.convolution ->
tfl.conv_2d / tfl.depthwise_conv_2d (official: legalize_hlo_conversions/dot_general.cc, conv.cc).

dot_general: with a constant right-hand side and no batch dims the weights become
FULLY_CONNECTED's [out, in] matrix (transposed and reshaped once with numpy), as the official
converter ends up after its optimizer; otherwise BATCH_MATMUL, with the operands transposed to
[batch..., rows, contracted] / [batch..., contracted, cols] (or read through adj_x / adj_y) and
reshaped to rank batch+2, and the product reshaped back to dot_general's result layout.

convolution: any dimension numbers, by transposes to NHWC / OHWI (numpy for a constant
kernel); feature_group_count == input features with a 1-feature kernel is DEPTHWISE_CONV_2D,
other group counts are CONV_2D's grouped form. Padding is VALID, SAME (when it equals TF's
SAME padding for the static input size) or an explicit tfl.pad + VALID.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.arrays import reshaped
from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import numpy_dtype
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..legalize_tf.common import const, create_tfl, no_value
from ..legalize_tf.nn_util import same_pads
from .util import NONE_ACT, i32, ints, pairs, product, reshapable, reshape, transpose


def _free(rank: int, *used: list[int]) -> list[int]:
    taken = {d for group in used for d in group}
    return [d for d in range(rank) if d not in taken]


def _dims(v: Value, axes: list[int]) -> list[int | None]:
    return [v.type.shape[a] for a in axes]  # type: ignore[index]


class LegalizeDotGeneralFullyConnected(RewritePattern):
    """stablehlo.dot_general(x, const w){no batch dims} -> tfl.fully_connected(x', w'[N, K]),
    x' = x with its contracted dims last (and merged), the result reshaped to dot_general's"""

    root = "stablehlo.dot_general"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, w = op.operands
        out = op.result.type
        if why := _dot_reason(op):
            return rw.fail(why)
        if ints(op, "lhs_batching_dimensions") or ints(op, "rhs_batching_dimensions"):
            return rw.fail("batch dims: left for batch_matmul")
        weights = constant_value(w)
        if weights is None:
            return rw.fail("rhs is not a constant: left for batch_matmul")
        lc, rc = ints(op, "lhs_contracting_dimensions"), ints(op, "rhs_contracting_dimensions")
        if not lc:
            return rw.fail("no contracting dims (an outer product)")
        rank_x = x.type.rank
        lfree = _free(rank_x, lc)  # type: ignore[arg-type]
        rfree = _free(weights.ndim, rc)
        if not lfree:
            return rw.fail("lhs has no free dims (a vector product)")
        k = product(_dims(x, lc))
        if k is None:
            return rw.fail("contracted dims are not static")
        n = product([weights.shape[d] for d in rfree])
        mat = reshaped(np.transpose(weights, rfree + rc), (n, k))
        lhs = transpose(rw, x, lfree + lc)
        free_shape = _dims(x, lfree)
        if len(lc) > 1:
            if not reshapable(tuple(free_shape) + (k,)):
                return rw.fail("lhs has several unknown dims")
            lhs = reshape(rw, lhs, tuple(free_shape) + (k,))
        keep = len(lfree) != 1
        fc_shape = tuple(free_shape) + (n,)
        if fc_shape != out.shape and not reshapable(out.shape):
            return rw.fail("result has several unknown dims")
        fc = create_tfl(
            rw,
            "fully_connected",
            [lhs, const(rw, np.ascontiguousarray(mat)), no_value(rw)],
            [out.with_shape(fc_shape)],
            weights_format="DEFAULT",
            keep_num_dims=keep,
            asymmetric_quantize_inputs=False,
            **NONE_ACT,
        ).result
        _replace_reshaped(rw, op, fc)
        return None


def _replace_reshaped(rw: PatternRewriter, op: Operation, value: Value) -> None:
    """Replace `op` by `value`, reshaped to `op`'s result shape when it differs (the caller
    checked that shape is reshapable)."""
    shape = op.result.type.shape
    if value.type.shape != shape:
        value = reshape(rw, value, shape)  # type: ignore[arg-type]
    rw.replace(op, value)


def _dot_reason(op: Operation) -> str | None:
    x, w = op.operands
    if x.type.rank is None or w.type.rank is None:
        return "unranked operands"
    if x.type.dtype != w.type.dtype or op.result.type.dtype != x.type.dtype:
        return "mixed element types (preferred_element_type) are not legalized"
    if not x.type.is_float:
        return f"only float dot_general is legalized here (operands are {x.type.dtype})"
    return kernel_dtype_reason("tfl.batch_matmul", x)


def _operand_layout(
    rw: PatternRewriter,
    v: Value,
    batch: list[int],
    free: list[int],
    contract: list[int],
    contract_first: bool,
) -> tuple[Value, bool, str | None]:
    """`v` laid out for BATCH_MATMUL as [B..., rows, cols]: [batch, free, contract] (lhs) or
    [batch, contract, free] (rhs, `contract_first`). The flag says the matrix is read
    transposed (adj_x / adj_y), which saves a transpose when `v` already has the other order."""
    normal = batch + (contract + free if contract_first else free + contract)
    swapped = batch + (free + contract if contract_first else contract + free)
    ident = list(range(v.type.rank))  # type: ignore[arg-type]
    adj = normal != ident and swapped == ident
    order = swapped if adj else normal
    first, second = (contract, free) if contract_first != adj else (free, contract)
    shape = (
        *_dims(v, batch),
        _prod_or_one(_dims(v, first)),
        _prod_or_one(_dims(v, second)),
    )
    if not reshapable(shape):
        return v, adj, "an operand has several unknown dims"
    return reshape(rw, transpose(rw, v, order), shape), adj, None


def _prod_or_one(dims: list[int | None]) -> int | None:
    """The size of merged dims (1 for none, None when one is unknown... unless it is alone)."""
    if len(dims) == 1:
        return dims[0]
    return product(dims)


class LegalizeDotGeneralBatchMatmul(RewritePattern):
    """stablehlo.dot_general(x, y) -> tfl.reshape(tfl.batch_matmul(x'[B, M, K], y'[B, K, N])),
    the operands transposed / reshaped into place (or read with adj_x / adj_y)"""

    root = "stablehlo.dot_general"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, y = op.operands
        out = op.result.type
        if why := _dot_reason(op):
            return rw.fail(why)
        lb, rb = ints(op, "lhs_batching_dimensions"), ints(op, "rhs_batching_dimensions")
        lc, rc = ints(op, "lhs_contracting_dimensions"), ints(op, "rhs_contracting_dimensions")
        lfree = _free(x.type.rank, lb, lc)  # type: ignore[arg-type]
        rfree = _free(y.type.rank, rb, rc)  # type: ignore[arg-type]
        if len(lb) + 2 > 5:
            return rw.fail("more than 3 batch dims (BATCH_MATMUL takes rank <= 5)")
        if product(_dims(x, lc)) is None:
            return rw.fail("contracted dims are not static")
        lhs, adj_x, why = _operand_layout(rw, x, lb, lfree, lc, contract_first=False)
        if why:
            return rw.fail(why)
        rhs, adj_y, why = _operand_layout(rw, y, rb, rfree, rc, contract_first=True)
        if why:
            return rw.fail(why)
        rows = _prod_or_one(_dims(x, lfree))
        cols = _prod_or_one(_dims(y, rfree))
        bm_shape = tuple(_dims(x, lb)) + (rows, cols)
        if bm_shape != out.shape and not reshapable(out.shape):
            return rw.fail("result has several unknown dims")
        result = create_tfl(
            rw,
            "batch_matmul",
            [lhs, rhs],
            [out.with_shape(bm_shape)],
            adj_x=adj_x,
            adj_y=adj_y,
            asymmetric_quantize_inputs=False,
        ).result
        _replace_reshaped(rw, op, result)
        return None


# --- convolution -------------------------------------------------------------------------------


def _conv_reason(op: Operation) -> str | None:
    x, k = op.operands
    if x.type.rank not in (3, 4) or k.type.rank != x.type.rank:
        return "only 1-D and 2-D convolutions (rank-3/4 operands) are legalized"
    if not x.type.is_float or x.type.dtype != k.type.dtype:
        return f"only float convolutions are legalized here ({x.type.dtype}, {k.type.dtype})"
    if op.result.type.dtype != x.type.dtype:
        return "mixed element types (preferred_element_type) are not legalized"
    n = x.type.rank - 2
    if ints(op, "lhs_dilation", [1] * n) != [1] * n:
        return "lhs_dilation: left for the transposed-convolution pattern"
    if any(bool(r) for r in (op.attributes.get("window_reversal") or [])):
        return "window_reversal is not legalized"
    if int(op.attributes.get("batch_group_count", 1)) != 1:
        return "batch_group_count != 1 is not legalized"
    return None


def _padding(
    in_hw: list[int | None], kernel: list[int], strides: list[int], dilation: list[int], pads
) -> str | None:
    """ "VALID", "SAME" (the pads TF's SAME would use for the static sizes), else None."""
    if all(p == (0, 0) for p in pads):
        return "VALID"
    if all(
        d is not None and tuple(p) == same_pads(d, kk, s, dl)
        for d, kk, s, dl, p in zip(in_hw, kernel, strides, dilation, pads)
    ):
        return "SAME"
    return None


class LegalizeConvolution(RewritePattern):
    """stablehlo.convolution(x, k) -> tfl.conv_2d(x: NHWC, k: OHWI, zeros) /
    tfl.depthwise_conv_2d(x, k: [1, H, W, C*M], zeros), transposed from and to the op's
    dimension numbers (a 1-D convolution runs as a 2-D one of height 1)"""

    root = "stablehlo.convolution"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if why := _conv_reason(op):
            return rw.fail(why)
        x, k = op.operands
        a = op.attributes
        n = x.type.rank - 2  # type: ignore[operator]
        ib, ifeat = int(a["input_batch_dimension"]), int(a["input_feature_dimension"])
        isp = ints(op, "input_spatial_dimensions")
        ki, ko = int(a["kernel_input_feature_dimension"]), int(a["kernel_output_feature_dimension"])
        ksp = ints(op, "kernel_spatial_dimensions")
        ob, ofeat = int(a["output_batch_dimension"]), int(a["output_feature_dimension"])
        osp = ints(op, "output_spatial_dimensions")
        groups = int(a.get("feature_group_count", 1))
        strides = ints(op, "window_strides", [1] * n)
        dilation = ints(op, "rhs_dilation", [1] * n)
        pads = pairs(op, "padding", n)
        if pads is None or len(strides) != n or len(dilation) != n or len(isp) != n:
            return rw.fail("malformed window attributes")
        c_in = x.type.shape[ifeat]  # type: ignore[index]
        k_shape = k.type.shape
        c_out = k_shape[ko]  # type: ignore[index]
        kernel = [k_shape[d] for d in ksp]  # type: ignore[index]
        if c_in is None or c_out is None or None in kernel:
            return rw.fail("feature / kernel dims are not static")
        depthwise = groups > 1 and groups == c_in and k_shape[ki] == 1  # type: ignore[index]
        name = "depthwise_conv_2d" if depthwise else "conv_2d"
        if why := kernel_dtype_reason("tfl." + name, x):
            return rw.fail(why)
        if groups > 1 and not depthwise and (c_in % groups or c_out % groups):
            return rw.fail("feature_group_count does not divide the features")
        nhwc = transpose(rw, x, [ib, *isp, ifeat])
        filt = transpose(rw, k, [ki, *ksp, ko] if depthwise else [ko, *ksp, ki])
        out = op.result.type
        oshape = out.shape
        out_nhwc = [oshape[ob], *(oshape[d] for d in osp), oshape[ofeat]]  # type: ignore[index]
        if n == 1:  # height 1: insert the unit dim after batch
            shape = nhwc.type.shape
            if not reshapable((shape[0], 1, *shape[1:])):  # type: ignore[index]
                return rw.fail("input has several unknown dims")
            nhwc = reshape(rw, nhwc, (shape[0], 1, *shape[1:]))  # type: ignore[index]
            fshape = filt.type.shape
            filt = reshape(rw, filt, (fshape[0], 1, *fshape[1:]))  # type: ignore[index]
            kernel, strides, dilation = [1, *kernel], [1, *strides], [1, *dilation]
            pads = [(0, 0), *pads]
            out_nhwc = [out_nhwc[0], 1, *out_nhwc[1:]]
        in_hw = [nhwc.type.shape[1], nhwc.type.shape[2]]  # type: ignore[index]
        padding = _padding(in_hw, kernel, strides, dilation, pads)  # type: ignore[arg-type]
        if padding is None:
            if any(lo < 0 or hi < 0 for lo, hi in pads):
                return rw.fail("negative padding is not legalized")
            padding = "VALID"
            shape = nhwc.type.shape
            padded = (
                shape[0],  # type: ignore[index]
                *(None if d is None else d + lo + hi for d, (lo, hi) in zip(in_hw, pads)),
                shape[3],  # type: ignore[index]
            )
            pad_arr = i32(rw, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
            nhwc = create_tfl(rw, "pad", [nhwc, pad_arr], [nhwc.type.with_shape(padded)]).result
        bias = const(rw, np.zeros([c_out], dtype=numpy_dtype(x.type.dtype)))
        attrs = {
            "padding": padding,
            "stride_h": strides[0],
            "stride_w": strides[1],
            "dilation_h_factor": dilation[0],
            "dilation_w_factor": dilation[1],
            **NONE_ACT,
        }
        if depthwise:
            attrs["depth_multiplier"] = c_out // c_in
        conv_t = out.with_shape(tuple(out_nhwc))
        conv = create_tfl(rw, name, [nhwc, filt, bias], [conv_t], **attrs).result
        if n == 1:
            conv = reshape(rw, conv, (out_nhwc[0], *out_nhwc[2:]))
        perm = [0] * (n + 2)
        for source, axis in enumerate([ob, *osp, ofeat]):
            perm[axis] = source
        rw.replace(op, transpose(rw, conv, perm))
        return None


class LegalizeTransposedConvolution(RewritePattern):
    """stablehlo.convolution(x, const k){lhs_dilation = s} (a transposed convolution, e.g.
    Flax ConvTranspose) -> tfl.transpose_conv(full size, flip(k): OHWI, x, VALID, stride s),
    sliced (or zero-padded) to the op's padding: the full transposed convolution is the
    correlation of the dilated input with the flipped kernel under (k - 1, k - 1) padding"""

    root = "stablehlo.convolution"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, k = op.operands
        a = op.attributes
        if x.type.rank != 4 or k.type.rank != 4 or not x.type.is_float:
            return rw.fail("only float 2-D transposed convolutions are legalized")
        if x.type.dtype != k.type.dtype or op.result.type.dtype != x.type.dtype:
            return rw.fail("mixed element types are not legalized")
        dil = ints(op, "lhs_dilation", [1, 1])
        if dil == [1, 1]:
            return rw.fail("no lhs_dilation: a plain convolution")
        if ints(op, "window_strides", [1, 1]) != [1, 1] or ints(op, "rhs_dilation", [1, 1]) != [
            1,
            1,
        ]:
            return rw.fail("window strides or rhs_dilation with lhs_dilation")
        if int(a.get("feature_group_count", 1)) != 1 or int(a.get("batch_group_count", 1)) != 1:
            return rw.fail("grouped transposed convolutions are not legalized")
        if any(bool(r) for r in (a.get("window_reversal") or [])):
            return rw.fail("window_reversal is not legalized")
        kernel = constant_value(k)
        if kernel is None:
            return rw.fail("the kernel is not a constant")
        if not x.type.is_static or not op.result.type.is_static:
            return rw.fail("shapes are not static")
        if why := kernel_dtype_reason("tfl.transpose_conv", x):
            return rw.fail(why)
        ib, ifeat = int(a["input_batch_dimension"]), int(a["input_feature_dimension"])
        isp = ints(op, "input_spatial_dimensions")
        ki, ko = int(a["kernel_input_feature_dimension"]), int(a["kernel_output_feature_dimension"])
        ksp = ints(op, "kernel_spatial_dimensions")
        ob, ofeat = int(a["output_batch_dimension"]), int(a["output_feature_dimension"])
        osp = ints(op, "output_spatial_dimensions")
        pads = pairs(op, "padding", 2)
        if pads is None:
            return rw.fail("malformed padding")
        w = np.transpose(np.asarray(kernel), [ko, *ksp, ki])[:, ::-1, ::-1, :]  # OHWI, flipped
        nhwc = transpose(rw, x, [ib, *isp, ifeat])
        n, h, wd, _ = nhwc.type.shape  # type: ignore[misc]
        kh, kw = w.shape[1], w.shape[2]
        full = (n, (h - 1) * dil[0] + kh, (wd - 1) * dil[1] + kw, w.shape[0])
        oshape = op.result.type.shape
        want = (oshape[ob], oshape[osp[0]], oshape[osp[1]], oshape[ofeat])  # type: ignore[index]
        y = create_tfl(
            rw,
            "transpose_conv",
            [
                i32(rw, list(full)),
                const(rw, np.ascontiguousarray(w)),
                nhwc,
                const(rw, np.zeros([w.shape[0]], dtype=w.dtype)),
            ],
            [op.result.type.with_shape(full)],
            padding="VALID",
            stride_h=dil[0],
            stride_w=dil[1],
            **NONE_ACT,
        ).result
        # The op's output along each spatial dim starts at (k - 1 - lo) of the full result.
        begin, size, front, back = [0, 0, 0, 0], list(full), [0] * 4, [0] * 4
        for axis, kk, (lo, _hi) in ((1, kh, pads[0]), (2, kw, pads[1])):
            start = kk - 1 - lo
            front[axis] = max(-start, 0)
            begin[axis] = max(start, 0)
            size[axis] = min(full[axis] - begin[axis], want[axis] - front[axis])
            back[axis] = want[axis] - front[axis] - size[axis]
            if size[axis] <= 0:
                return rw.fail("the padding leaves no part of the transposed convolution")
        if begin != [0, 0, 0, 0] or size != list(full):
            sliced_t = op.result.type.with_shape(tuple(size))
            y = create_tfl(rw, "slice", [y, i32(rw, begin), i32(rw, size)], [sliced_t]).result
        if any(front) or any(back):
            pad = i32(rw, [[f, b] for f, b in zip(front, back)])
            y = create_tfl(rw, "pad", [y, pad], [op.result.type.with_shape(want)]).result
        perm = [0] * 4
        for source, axis in enumerate([ob, *osp, ofeat]):
            perm[axis] = source
        rw.replace(op, transpose(rw, y, perm))
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeDotGeneralFullyConnected(),
    LegalizeDotGeneralBatchMatmul(),
    LegalizeConvolution(),
    LegalizeTransposedConvolution(),
]
