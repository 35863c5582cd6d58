"""Post-training quantization: the `calibrate` and `quantize` passes and their kernels.

calibrate.py     float model -> LiteRT over the representative dataset -> ranges on the IR
quantize_pass.py the `quantize` pass (dynamic, float16, int8, int16x8; keep-float; IO types)
full_integer.py  int8 / 16x8 parameters, same-scale propagation, the rewrite
weights.py       dynamic-range and float16 weights
io_types.py      int8 / uint8 / int16 model inputs and outputs
ops.py           which ops have integer kernels and their constraints
kernels.py       the numeric kernels (scales, weight/bias quantization, fp16, min/max)
dataset.py       representative datasets (generators, lists, .npz, .npy folders)
"""

from . import calibrate, quantize_pass  # noqa: F401  (registers the passes)
