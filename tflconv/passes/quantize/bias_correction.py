"""Bias correction: undo the mean shift that int8 weight rounding puts on an affine op's output.

Rounding the weights of a conv / depthwise conv / fully-connected op to int8 changes its output
by `(W_q - W) . x`. The part of that error which is the same for every output position,
`(W_q - W) . E[x]`, is a per-channel offset: it does not average out over a layer, and the
activations of the next layers inherit it. Calibration already runs the float model over the
representative dataset, so it also records E[x] as each op sees it (the mean input *patch*, so
zero padding and strides are accounted for), and quantization subtracts the offset from the
float bias before quantizing it (Nagel et al., "Data-Free Quantization Through Weight
Equalization and Bias Correction", 2019, §4.2, with empirical input means).

It is the pass `bias-correction`, between `prepare-quantize` (which decides what runs in
integer and its parameters) and `quantize` (which quantizes the corrected float biases); the
conversion pipeline runs it unless `bias_correction=False` (then the biases are quantized as the
official recipe does). The mean patches come from `calibrate` as each op's `quant.input_mean`
attribute (a declared discardable attribute: in the IR, so dumps replay exactly; never written);
an op without one is left as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Function, Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import TensorType
from tflconv.dialects.tfl_traits import AFFINE, INT8_AFFINE

from . import kernels
from .common import INPUT_MEAN, const_array, is_float, new_constant, value_name

ADDED_BIAS_MIN_SHIFT = 0.25
"""Bias correction adds a bias to a bias-less op only if some channel's shift reaches this many
output quantization steps: a shift of 0.25 steps already adds 75 % of the rounding noise's
variance (1/12 step^2) to that channel, smaller ones matter little, and a per-channel int32
bias costs 16 bytes a channel with its parameters. Measured trade-off: at 0.5 steps ConvNeXt-T
int8 is 0.6 % bigger than the official file instead of 1.7 %, but Xception loses its whole
gain (RMSE 3.14e-3 vs 2.84e-3 here, 3.13e-3 official)."""

CORRECTED = frozenset(op for op, affine in AFFINE.items() if affine.patch is not None)
"""The affine ops whose input patch layout `PatchMean` and `output_shift` know."""


def _window(size: int, k: int, stride: int, dilation: int, same: bool) -> tuple[int, int, int]:
    """(output size, padding before, padding after) of one spatial axis, as TFLite computes it."""
    extent = (k - 1) * dilation + 1
    if same:
        out = -(-size // stride)
        total = max((out - 1) * stride + extent - size, 0)
        return out, total // 2, total - total // 2
    return max((size - extent) // stride + 1, 0), 0, 0


class PatchMean:
    """Running mean of the input an affine op multiplies with its weights.

    conv_2d / depthwise_conv_2d: the mean (kh, kw, C) patch over the batch and every output
    position (zero padding included); fully_connected: the mean of the last axis (C,).

    `result` sets each element within its sampling noise to 0 (`denoise`): a mean within the
    noise of a few calibration samples would "correct" a shift that is not there."""

    __slots__ = (
        "op_name", "kernel", "stride", "dilation", "same", "total", "count",
        "channel_sum", "channel_squares", "pixels",
    )  # fmt: skip

    def __init__(self, op: Operation, weight_shape: tuple[int, ...]) -> None:
        self.op_name = op.name
        a = op.attributes
        self.kernel = (
            (weight_shape[1], weight_shape[2]) if AFFINE[op.name].patch == "window" else None
        )
        self.stride = (int(a.get("stride_h", 1)), int(a.get("stride_w", 1)))
        self.dilation = (int(a.get("dilation_h_factor", 1)), int(a.get("dilation_w_factor", 1)))
        self.same = a.get("padding") == "SAME"
        self.total: np.ndarray | None = None
        self.count = 0
        self.channel_sum: np.ndarray | None = None
        """Per input channel: sum and sum of squares over every element seen (`pixels`)."""
        self.channel_squares: np.ndarray | None = None
        self.pixels = 0

    def update_mean(self, mean: np.ndarray, n: int) -> None:
        """Add `n` inputs known only by their mean (a loop's instrumented sums): no channel
        statistics, so `result` cannot tell noise from shift and keeps the mean as measured."""
        if n == 0 or not np.all(np.isfinite(mean)):
            return
        mean = np.asarray(mean, np.float64)
        self.total = mean * n if self.total is None else self.total + mean * n
        self.count += n

    def update(self, x: np.ndarray) -> None:
        if self.kernel is None:
            flat = x.reshape(-1, x.shape[-1])
            mean, n = flat.mean(axis=0, dtype=np.float64), flat.shape[0]
        else:
            mean, n = self._patch(x)
        if n == 0 or not np.all(np.isfinite(mean)):
            return
        self.total = mean * n if self.total is None else self.total + mean * n
        self.count += n
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        sums, squares = flat.sum(axis=0), np.einsum("ij,ij->j", flat, flat)
        if self.channel_sum is None or self.channel_squares is None:
            self.channel_sum, self.channel_squares = sums, squares
        else:
            self.channel_sum += sums
            self.channel_squares += squares
        self.pixels += flat.shape[0]

    def _patch(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        batch, h, w, c = x.shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation  # type: ignore[misc]
        oh, top, bottom = _window(h, kh, sh, dh, self.same)
        ow, left, right = _window(w, kw, sw, dw, self.same)
        if oh == 0 or ow == 0 or batch == 0:
            return np.zeros((kh, kw, c)), 0
        # Window sums of the batch-summed image: an integral image for stride 1 (any kernel
        # size at ~3 passes over the image), strided slices otherwise.
        image = x.sum(axis=0, dtype=np.float64)
        if top or bottom or left or right:
            image = np.pad(image, ((top, bottom), (left, right), (0, 0)))
        sums = np.empty((kh, kw, c), np.float64)
        if sh == sw == 1:
            integral = np.zeros((image.shape[0] + 1, image.shape[1] + 1, c))
            np.cumsum(image, axis=0, out=integral[1:, 1:])
            np.cumsum(integral[1:, 1:], axis=1, out=integral[1:, 1:])
            for i in range(kh):
                for j in range(kw):
                    r, q = i * dh, j * dw
                    sums[i, j] = (
                        integral[r + oh, q + ow]
                        - integral[r, q + ow]
                        - integral[r + oh, q]
                        + integral[r, q]
                    )
        else:
            for i in range(kh):
                for j in range(kw):
                    rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
                    cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                    sums[i, j] = image[rows, cols].sum(axis=(0, 1))
        n = batch * oh * ow
        return sums / n, n

    def raw(self) -> np.ndarray | None:
        """The mean patch as measured (float64), None before any data."""
        if self.total is None or self.count == 0:
            return None
        return self.total / self.count

    def result(self) -> np.ndarray | None:
        """The mean patch without the elements its sampling noise explains (`denoise`)."""
        mean = self.raw()
        if mean is None:
            return None
        if self.channel_sum is not None and self.channel_squares is not None and self.pixels:
            channel_mean = self.channel_sum / self.pixels
            variance = np.maximum(self.channel_squares / self.pixels - channel_mean**2, 0.0)
            mean = denoise(mean, variance / self.count)
        return mean.astype(np.float32)


def denoise(mean: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """`mean` with every element within one standard error of 0 set to 0 (`noise`: the
    squared standard error of each element, broadcast over the last axis); the others are
    kept as they are.

    The standard error of a patch element is its input channel's standard deviation over
    sqrt(patches seen) (elements taken as independent). Why: DINOv2's patch embedding (an 8x8
    stride-8 conv on zero-mean images) saw 256 patches in 8 calibration samples; its raw means
    were noise of ~1/16 around 0, and correcting their "shift" made the int8 model 1.3 %
    worse. Measured alternatives (RMSE vs float, DeiT / DINOv2 small, EfficientNetB0): raw
    means 9.854e-2 / 9.396e-2 / 1.271e-2; this rule 9.858e-2 / 9.344e-2 / 1.241e-2; shrinking
    every element by m * max(0, 1 - SE^2 / m^2) (positive-part James-Stein) 9.893e-2 /
    9.254e-2 / 1.295e-2, which costs the CNNs their real but noisy means."""
    return np.where(mean * mean > noise, mean, 0.0)


def output_shift(
    op_name: str, weights: np.ndarray, dequantized: np.ndarray, input_mean: np.ndarray
) -> np.ndarray | None:
    """E[(W_q - W) . x] per output channel, or None if the mean does not fit the weights."""
    dw = dequantized.astype(np.float64) - weights.astype(np.float64)
    m = input_mean.astype(np.float64)
    if op_name == "tfl.fully_connected":
        if dw.ndim != 2 or m.shape != (dw.shape[1],):
            return None
        return dw @ m
    if op_name == "tfl.conv_2d":
        # weights (O, kh, kw, I); grouped convolutions repeat the (kh, kw, I) patch per group.
        if dw.ndim != 4 or m.ndim != 3 or m.shape[:2] != dw.shape[1:3]:
            return None
        groups, rem = divmod(m.shape[2], dw.shape[3])
        if rem or dw.shape[0] % groups:
            return None
        per_group = dw.shape[0] // groups
        shift = np.empty(dw.shape[0])
        for g in range(groups):
            rows = slice(g * per_group, (g + 1) * per_group)
            patch = m[:, :, g * dw.shape[3] : (g + 1) * dw.shape[3]]
            shift[rows] = np.einsum("okhi,khi->o", dw[rows], patch)
        return shift
    if op_name == "tfl.depthwise_conv_2d":
        # weights (1, kh, kw, C * multiplier); output channel c reads input channel c // mult.
        if dw.ndim != 4 or m.ndim != 3 or m.shape[:2] != dw.shape[1:3] or m.shape[2] == 0:
            return None
        mult, rem = divmod(dw.shape[3], m.shape[2])
        if rem:
            return None
        return np.einsum("khc,khc->c", dw[0], np.repeat(m, mult, axis=2))
    return None


def corrected_bias(
    op_name: str,
    bias: np.ndarray | None,
    weights: np.ndarray,
    dequantized: np.ndarray,
    input_mean: np.ndarray,
) -> np.ndarray | None:
    """The float bias minus the weight-rounding shift (None: no correction applies)."""
    shift = output_shift(op_name, weights, dequantized, input_mean)
    if shift is None:
        return None
    base = np.zeros(shift.shape) if bias is None else np.asarray(bias, np.float64).reshape(-1)
    if base.shape != shift.shape or not all(math.isfinite(s) for s in shift):
        return None
    return (base - shift).astype(np.float32)


def _scale(t: TensorType) -> float | None:
    q = t.quant
    if t.dtype not in ("i8", "i16") or q is None or len(q.scale) != 1:
        return None
    return float(q.scale[0])


@register_pass
@dataclass(frozen=True)
class BiasCorrection(Pass):
    """Subtract the weight-rounding shift (W_q - W) . E[x] from the float bias of each affine
    op prepare-quantize chose (E[x] from calibration); a bias-less op gets a bias when the
    shift reaches a quarter of an output step. Runs before `quantize`."""

    name: ClassVar[str] = "bias-correction"
    per_channel: bool = True
    """The weight quantization `quantize` will apply (per channel or per tensor)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        corrected = 0
        for fn in module.functions:
            for op in list(fn.ops):
                mean = op.attributes.pop(INPUT_MEAN, None)
                if mean is not None and self._correct(fn, op, np.asarray(mean)):
                    corrected += 1
        ctx.stats["biases corrected"] += corrected
        return corrected > 0

    def _correct(self, fn: Function, op: Operation, mean: np.ndarray) -> bool:
        aff = INT8_AFFINE.get(op.name)
        if aff is None or aff.bias is None or aff.bias >= op.num_operands:
            return False
        if _scale(op.operands[aff.input].type) is None:
            return False  # not chosen by prepare-quantize: the op stays float
        w = op.operands[aff.weight]
        weights = const_array(w)
        if weights is None or not is_float(w):
            return False
        axis = aff.axis if self.per_channel else None
        q, scales = kernels.quantize_weights_symmetric(np.asarray(weights), axis, "i8")
        step = np.asarray(tuple(float(s) for s in scales))
        dequantized = kernels.dequantize(q, step, 0, axis)
        bias = op.operands[aff.bias]
        if bias.type.dtype == "none":
            fixed = corrected_bias(op.name, None, weights, dequantized, mean)
            out = _scale(op.results[0].type) if op.results else None
            if fixed is None or out is None or not fixed.size:
                return False
            if float(np.abs(fixed).max()) < ADDED_BIAS_MIN_SHIFT * out:
                return False
            name, loc, anchor = value_name(op.results[0], "/bias"), op.location, op
        else:
            arr = const_array(bias)
            if arr is None or not is_float(bias):
                return False
            fixed = corrected_bias(op.name, arr, weights, dequantized, mean)
            if fixed is None:
                return False
            anchor = bias.defining_op
            assert anchor is not None
            name, loc = bias.name_hint, anchor.location
        new = new_constant(anchor, fixed, TensorType(fixed.shape, "f32"), name, loc)
        op.set_operand(aff.bias, new)
        return True
