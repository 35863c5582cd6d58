"""TF -> TFL legalization patterns, one module per op family. Each module exposes `PATTERNS`."""
