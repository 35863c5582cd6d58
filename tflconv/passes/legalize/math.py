"""Legalization patterns: math family."""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
