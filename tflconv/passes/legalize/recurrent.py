"""Legalization patterns: recurrent family."""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
