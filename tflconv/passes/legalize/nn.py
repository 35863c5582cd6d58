"""Legalization patterns: nn family (convolutions, pooling, matrix products, activations,
normalization, padding, resizing). The patterns live in the `nn_*` modules by concept."""

from tflconv.core.rewrite import RewritePattern

from . import nn_act, nn_conv, nn_matmul

PATTERNS: list[RewritePattern] = [*nn_conv.PATTERNS, *nn_matmul.PATTERNS, *nn_act.PATTERNS]
