"""Post-training quantization as a chain of passes (docs/quantization.md):

    int8 / 16x8   calibrate -> prepare-quantize -> bias-correction -> quantize -> modify-io-types
    dynamic range quantize-dynamic-range
    float16       quantize-float16

calibrate.py       float model -> LiteRT over the representative dataset -> ranges on the types
prepare.py         which ops run in integer; activation parameters, quantize/dequantize ops
bias_correction.py the weight-rounding shift removed from the float biases
quantize_pass.py   the constants: int8 weights, int32/int64 biases; integer-only check
io_types.py        int8 / uint8 / int16 model inputs and outputs
weights.py         the weight-only recipes (dynamic range, float16)
ops.py             quantization choices that are not kernel facts
kernels.py         the numeric kernels (scales, weight/bias quantization, fp16, min/max)
dataset.py         representative datasets (generators, lists, .npz, .npy folders)
"""

from . import (  # noqa: F401  (registers the passes)
    bias_correction,
    calibrate,
    fake_quant_ranges,
    io_types,
    lstm,
    prepare,
    quantize_pass,
    weights,
)
