"""Quantization choices that are not kernel facts: the minimum weight size of dynamic range and
how same-scale ops pick their scale.

The kernel facts the quantize passes read (affine ops and their weight axes, same-scale and
fixed-output ops, which ops have int8 / 16x8 / hybrid kernels) live in
`tflconv.dialects.tfl_traits`, the one table fusion and legalization read too.
"""

from __future__ import annotations

MIN_WEIGHT_ELEMENTS = 1024
"""Dynamic range: smaller weights stay float (`minimum_elements_for_weights`)."""


def prefer_result_scale(float_operands: int) -> bool:
    """Same-scale ops with several float operands (concat, maximum, pack, select with a constant)
    take the result's scale and push it back to their producers (`PreferResultScale`)."""
    return float_operands > 1
