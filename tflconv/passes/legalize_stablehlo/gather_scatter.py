"""stablehlo.gather -> tfl.gather / tfl.gather_nd (official: legalize_hlo_conversions/
gather.cc). Start indices are clamped into range first, as StableHLO clamps them (LiteRT's
kernels would fail or read out of bounds instead)."""

from __future__ import annotations

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
