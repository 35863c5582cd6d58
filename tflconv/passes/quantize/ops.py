"""What each TFLite op needs to run quantized: the op tables of the quantize pass.

Sources: `ir/tfl_ops.td` traits (SameOperandsAndResultsScale, FixedOutputRangeInterface,
AffineQuantizedOpInterface, DynamicRangeQuantizedOpInterface), `tools/optimize/
operator_property.cc` (16x8), and what TF 2.21's converter produced for one small model per op
(tests/test_quantize.py compares with it).

- `FIXED_OUTPUT`: result (scale, zero point) the kernels require, per activation type.
- `SAME_SCALE`: every float operand and result shares one scale (the kernel copies bytes).
- `FREE`: int8 kernels with their own output scale.
- `AFFINE`: ops with a weight operand (per-channel axis) and a bias operand (index), the only
  ops whose constants are quantized as weights; the others' float constants are quantized
  per tensor like activations.
- `INT16_OPS`: ops with 16x8 kernels (activations int16, weights int8).
- `DYNAMIC_RANGE`: ops with hybrid kernels (float activations, int8 weights).
"""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset("tfl." + w.lower() for w in text.split())


FIXED_OUTPUT: dict[str, dict[str, tuple[float, int]]] = {
    "tfl.softmax": {"i8": (1 / 256, -128), "i16": (1 / 32768, 0)},
    "tfl.logistic": {"i8": (1 / 256, -128), "i16": (1 / 32768, 0)},
    "tfl.tanh": {"i8": (1 / 128, 0), "i16": (1 / 32768, 0)},
    "tfl.log_softmax": {"i8": (16 / 256, 127)},
    "tfl.l2_normalization": {"i8": (1 / 128, 0)},
}

SAME_SCALE = _words(
    """CONCATENATION RESHAPE TRANSPOSE SQUEEZE EXPAND_DIMS MAX_POOL_2D AVERAGE_POOL_2D PAD PADV2
    MIRROR_PAD SLICE STRIDED_SLICE GATHER GATHER_ND SPLIT SPLIT_V PACK UNPACK MAXIMUM MINIMUM
    RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR SPACE_TO_DEPTH DEPTH_TO_SPACE SPACE_TO_BATCH_ND
    BATCH_TO_SPACE_ND TILE BROADCAST_TO SELECT SELECT_V2 TOPK_V2 REDUCE_MAX REDUCE_MIN"""
)

FREE = _words(
    """CONV_2D DEPTHWISE_CONV_2D FULLY_CONNECTED TRANSPOSE_CONV ADD SUB MUL MEAN SUM REDUCE_PROD
    RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU HARD_SWISH GELU EXP SQRT RSQRT ABS
    SQUARED_DIFFERENCE BATCH_MATMUL REVERSE_V2 ARG_MAX ARG_MIN LESS LESS_EQUAL GREATER
    GREATER_EQUAL EQUAL NOT_EQUAL QUANTIZE DEQUANTIZE"""
)
"""Ops with int8 kernels whose output scale is their own (comparisons/arg_max: int results)."""

INT8_OPS = FREE | SAME_SCALE | frozenset(FIXED_OUTPUT)

INT16_OPS = _words(
    """CONV_2D DEPTHWISE_CONV_2D FULLY_CONNECTED TRANSPOSE_CONV ADD SUB MUL MEAN SUM RELU RELU6
    LEAKY_RELU PRELU HARD_SWISH ABS RSQRT BATCH_MATMUL SOFTMAX LOGISTIC TANH CONCATENATION RESHAPE
    TRANSPOSE SQUEEZE EXPAND_DIMS MAX_POOL_2D AVERAGE_POOL_2D PAD PADV2 SLICE STRIDED_SLICE GATHER
    SPLIT SPLIT_V PACK UNPACK MAXIMUM MINIMUM RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
    SPACE_TO_DEPTH DEPTH_TO_SPACE REDUCE_MAX REDUCE_MIN SELECT SELECT_V2 ARG_MAX ARG_MIN LESS
    LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL QUANTIZE DEQUANTIZE"""
)


@dataclass(frozen=True)
class Affine:
    """An op with a weight operand quantized per channel along `axis` and an optional bias."""

    input: int
    weight: int
    axis: int
    bias: int | None


AFFINE: dict[str, Affine] = {
    "tfl.conv_2d": Affine(input=0, weight=1, axis=0, bias=2),
    "tfl.depthwise_conv_2d": Affine(input=0, weight=1, axis=3, bias=2),
    "tfl.fully_connected": Affine(input=0, weight=1, axis=0, bias=2),
    "tfl.transpose_conv": Affine(input=2, weight=1, axis=0, bias=3),
}

BIAS_TYPE_ATTR = frozenset({"tfl.conv_2d", "tfl.fully_connected", "tfl.transpose_conv"})
"""Ops whose options carry `quantized_bias_type` (INT64 for 16x8 biases)."""


@dataclass(frozen=True)
class Hybrid:
    """A dynamic-range op: its weight operand, the per-channel axis (None: per tensor) and
    whether its options take `asymmetric_quantize_inputs`."""

    weight: int
    axis: int | None
    asymmetric_inputs: bool


DYNAMIC_RANGE: dict[str, Hybrid] = {
    "tfl.conv_2d": Hybrid(1, 0, False),
    "tfl.depthwise_conv_2d": Hybrid(1, 3, False),
    "tfl.fully_connected": Hybrid(1, 0, True),
    "tfl.batch_matmul": Hybrid(1, None, True),
}

MIN_WEIGHT_ELEMENTS = 1024
"""Dynamic range: smaller weights stay float (`minimum_elements_for_weights`)."""


def prefer_result_scale(float_operands: int) -> bool:
    """Same-scale ops with several float operands (concat, maximum, pack, select with a constant)
    take the result's scale and push it back to their producers (`PreferResultScale`)."""
    return float_operands > 1
