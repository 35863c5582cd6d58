"""Facts about TFLite kernels other than their element types: one declaration per fact, read by
fusion, legalization and quantization (the element types per kernel are `tfl_kernels.KERNELS`).

    from tflconv.dialects.tfl_traits import AFFINE, FUSED_ACTIVATION_OPS, SAME_SCALE
    AFFINE["tfl.conv_2d"].weight           # 1: the filter operand
    AFFINE["tfl.conv_2d"].axis             # 0: output channels are the filter's first axis
    "tfl.add" in FUSED_ACTIVATION_OPS      # True: the ADD kernel clamps with its activation
    FIXED_OUTPUT["tfl.logistic"]["i8"]     # (1/256, -128): the kernel's fixed output scale

Sources: the MLIR tfl dialect's quantization traits (`tflite/converter/ir/tfl_ops.td`:
`AffineQuantizedOpInterface` with `TFL_AffineOpCoefficient<axis, weight>`,
`SameOperandsAndResultsScale`, `FixedOutputRangeInterface`, `DynamicRangeQuantizedOpInterface`,
`TFL_AFAttr:$fused_activation_function`), `tools/optimize/operator_property.cc` (16x8 kernels),
and the LiteRT kernels (`tflite/kernels/*.cc`: which Prepare/Eval paths take int8 / int16 and
which apply `params->activation`). tests/test_tfl_traits.py checks every entry against the tfl
op declarations (op names, operand indices, option fields); the quantization and fusion suites
check the behaviour they drive in the LiteRT interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tfl import options_table


def _has_option(op: str, field: str) -> bool:
    """Whether the op's options table (tflite.fbs) has `field`."""
    table = options_table(op)
    return table is not None and any(f.name == field for f in table.fields)


def _words(text: str) -> frozenset[str]:
    """Builtin names written as space-separated words -> tfl op names."""
    return frozenset("tfl." + w.lower() for w in text.split())


# --- Affine ops ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    """An op computing `weights (x) input + bias` with one output channel per weights slice."""

    input: int
    """The activation operand the weights multiply."""
    weight: int
    """The weights operand."""
    bias: int
    """The (optional) bias operand."""
    axis: int
    """The output-channel axis of the weights (per-channel quantization, channel scaling)."""
    layout: str
    """The weights layout, for messages and docs."""
    patch: str | None = None
    """What the weights multiply per output element, for bias correction: "window" (a
    (kh, kw, C) input window), "channels" (the input's last axis), None (not corrected)."""


AFFINE: dict[str, Affine] = {
    "tfl.conv_2d": Affine(input=0, weight=1, bias=2, axis=0, layout="OHWI", patch="window"),
    "tfl.depthwise_conv_2d": Affine(
        input=0, weight=1, bias=2, axis=3, layout="1HW(C*M)", patch="window"
    ),
    "tfl.fully_connected": Affine(input=0, weight=1, bias=2, axis=0, layout="OI", patch="channels"),
    "tfl.transpose_conv": Affine(input=2, weight=1, bias=3, axis=0, layout="OHWI"),
    "tfl.conv_3d": Affine(input=0, weight=1, bias=2, axis=4, layout="DHWIO"),
    "tfl.conv_3d_transpose": Affine(input=2, weight=1, bias=3, axis=3, layout="DHWOI"),
}
"""Affine ops (`AffineQuantizedOpInterface`: `TFL_AffineOpCoefficient<axis, weight>` and
`GetAffineOperandIndex`/`GetBiasOperandIndex` in tfl_ops.td; conv_3d / conv_3d_transpose are
float-only there but fold scales and biases the same way)."""


# --- Fused activations ----------------------------------------------------------------------

ACTIVATION_FUNCTIONS: dict[str, str] = {
    "tfl.relu": "RELU",
    "tfl.relu6": "RELU6",
    "tfl.relu_n1_to_1": "RELU_N1_TO_1",
}
"""Activation op -> its `ActivationFunctionType` member (relu_0_to_1 has no fused form; TANH and
SIGN_BIT exist in the enum but no kernel applies them)."""

FUSED_ACTIVATION_OPS = frozenset(
    {
        "tfl.conv_2d",
        "tfl.depthwise_conv_2d",
        "tfl.fully_connected",
        "tfl.conv_3d",
        "tfl.transpose_conv",
        "tfl.conv_3d_transpose",
        "tfl.add",
        "tfl.sub",
        "tfl.mul",
        "tfl.div",
        "tfl.average_pool_2d",
        "tfl.max_pool_2d",
    }
)
"""Ops whose float kernel applies its `fused_activation_function` option (the kernels clamp with
`CalculateActivationRange(params->activation, ...)`).

tfl.concatenation has the option too, but the LiteRT 2.3 kernel silently ignores it (verified:
relu(concat(a, b)) fused that way returns negative values), so it is not here."""


# --- Quantized kernels ----------------------------------------------------------------------

FIXED_OUTPUT: dict[str, dict[str, tuple[float, int]]] = {
    "tfl.softmax": {"i8": (1 / 256, -128), "i16": (1 / 32768, 0)},
    "tfl.logistic": {"i8": (1 / 256, -128), "i16": (1 / 32768, 0)},
    "tfl.tanh": {"i8": (1 / 128, 0), "i16": (1 / 32768, 0)},
    "tfl.log_softmax": {"i8": (16 / 256, 127)},
    "tfl.l2_normalization": {"i8": (1 / 128, 0)},
}
"""Result (scale, zero point) the quantized kernel requires, per activation type
(`FixedOutputRangeInterface` / `TFL_FixedResultScale` in tfl_ops.td; the kernels' Prepare
checks `output->params` against exactly these)."""

SAME_SCALE = _words(
    """CONCATENATION RESHAPE TRANSPOSE SQUEEZE EXPAND_DIMS MAX_POOL_2D AVERAGE_POOL_2D PAD PADV2
    MIRROR_PAD SLICE STRIDED_SLICE GATHER GATHER_ND SPLIT SPLIT_V PACK UNPACK MAXIMUM MINIMUM
    RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR SPACE_TO_DEPTH DEPTH_TO_SPACE SPACE_TO_BATCH_ND
    BATCH_TO_SPACE_ND TILE BROADCAST_TO SELECT SELECT_V2 TOPK_V2 REDUCE_MAX REDUCE_MIN"""
)
"""Every float operand and result shares one scale: the quantized kernel copies or compares
bytes (`SameOperandsAndResultsScale` in tfl_ops.td)."""

FREE_SCALE = _words(
    """CONV_2D DEPTHWISE_CONV_2D FULLY_CONNECTED TRANSPOSE_CONV ADD SUB MUL MEAN SUM REDUCE_PROD
    RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LEAKY_RELU PRELU HARD_SWISH GELU EXP LOG DIV SQRT RSQRT
    ABS SQUARED_DIFFERENCE BATCH_MATMUL REVERSE_V2 ARG_MAX ARG_MIN LESS LESS_EQUAL GREATER
    GREATER_EQUAL EQUAL NOT_EQUAL SHAPE QUANTIZE DEQUANTIZE"""
)
"""Ops with int8 kernels whose output scale is their own (comparisons / arg_max / shape: int
results)."""

INT8_OPS = FREE_SCALE | SAME_SCALE | frozenset(FIXED_OUTPUT)
"""Ops with int8 kernels (activations and weights int8)."""

INT16_OPS = _words(
    """CONV_2D DEPTHWISE_CONV_2D FULLY_CONNECTED TRANSPOSE_CONV ADD SUB MUL MEAN SUM RELU RELU6
    LEAKY_RELU PRELU HARD_SWISH ABS RSQRT BATCH_MATMUL SOFTMAX LOGISTIC TANH CONCATENATION RESHAPE
    TRANSPOSE SQUEEZE EXPAND_DIMS MAX_POOL_2D AVERAGE_POOL_2D PAD PADV2 SLICE STRIDED_SLICE GATHER
    SPLIT SPLIT_V PACK UNPACK MAXIMUM MINIMUM RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
    SPACE_TO_DEPTH DEPTH_TO_SPACE REDUCE_MAX REDUCE_MIN SELECT SELECT_V2 ARG_MAX ARG_MIN LESS
    LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL QUANTIZE DEQUANTIZE EXP LOG MIRROR_PAD
    SPACE_TO_BATCH_ND BATCH_TO_SPACE_ND SHAPE"""
)
"""Ops with 16x8 kernels: activations int16, weights int8 (operator_property.cc and the kernels'
kTfLiteInt16 paths)."""

INT8_AFFINE: dict[str, Affine] = {k: v for k, v in AFFINE.items() if k in INT8_OPS}
"""The affine ops with int8 kernels: the only ops whose constants are quantized as weights."""

BIAS_TYPE_OPTION = frozenset(op for op in INT8_AFFINE if _has_option(op, "quantized_bias_type"))
"""Ops whose options carry `quantized_bias_type` (INT64 for 16x8 biases; read from the schema)."""


@dataclass(frozen=True)
class Hybrid:
    """A dynamic-range op: its weight operand, the per-channel axis (None: per tensor) and
    whether its options take `asymmetric_quantize_inputs`."""

    weight: int
    axis: int | None
    asymmetric_inputs: bool


def _hybrid(op: str, weight: int | None = None) -> Hybrid:
    """A hybrid kernel: an affine op's weights are quantized per output channel, another op's
    `weight` operand per tensor; `asymmetric_inputs` is read from the schema."""
    asymmetric = _has_option(op, "asymmetric_quantize_inputs")
    if weight is None:
        return Hybrid(AFFINE[op].weight, AFFINE[op].axis, asymmetric)
    return Hybrid(weight, None, asymmetric)


DYNAMIC_RANGE: dict[str, Hybrid] = {
    "tfl.conv_2d": _hybrid("tfl.conv_2d"),
    "tfl.depthwise_conv_2d": _hybrid("tfl.depthwise_conv_2d"),
    "tfl.fully_connected": _hybrid("tfl.fully_connected"),
    "tfl.batch_matmul": _hybrid("tfl.batch_matmul", weight=1),
}
"""Ops with hybrid kernels: float activations, int8 weights (`DynamicRangeQuantizedOpInterface`
in tfl_ops.td; the kernels' `kTfLiteInt8` filter paths)."""
