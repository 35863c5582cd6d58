"""Legalization patterns: nn family."""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
