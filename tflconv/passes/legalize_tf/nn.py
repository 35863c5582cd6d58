"""Legalization patterns: nn family (convolutions, pooling, matrix products, activations,
normalization, padding, resizing). The patterns live in the `nn_*` modules by concept; the
official converter's TF->TF lowerings (lower_tf.py: DivNoNan, Xlogy, IsInf, L2Loss, NMS, ...)
and the XLA ops (xla_ops.py: XlaConvV2, XlaGather, ...) are registered here too, after them,
with CropAndResize (crop_and_resize.py), which the official converter refuses, and 3-D pooling
(pool3d.py) and MaxPoolWithArgmax (max_pool_argmax.py), which it makes custom ops, and
CTCGreedyDecoder (ctc.py), which it refuses."""

from tflconv.core.rewrite import RewritePattern

from . import (
    crop_and_resize,
    ctc,
    lower_tf,
    max_pool_argmax,
    nn_act,
    nn_conv,
    nn_matmul,
    pool3d,
    xla_ops,
)

PATTERNS: list[RewritePattern] = [
    *nn_conv.PATTERNS,
    *nn_matmul.PATTERNS,
    *nn_act.PATTERNS,
    *lower_tf.PATTERNS,
    *xla_ops.PATTERNS,
    *crop_and_resize.PATTERNS,
    *pool3d.PATTERNS,
    *max_pool_argmax.PATTERNS,
    *ctc.PATTERNS,
]
