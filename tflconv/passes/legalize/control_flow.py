"""Legalization patterns: control_flow family."""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
