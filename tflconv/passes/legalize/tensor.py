"""Legalization patterns: tensor family."""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
