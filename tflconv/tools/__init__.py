"""Tools around a converted model: `analyze` (what would convert, and how), `inspect` (what a
.tflite file holds), `quant_debug` (per-layer quantization error), `metadata` (TFLite model
metadata), `op_coverage` (the op coverage table in docs/op_coverage.md). They use `tflconv.api`
and the layers below it; the CLI subcommands are thin wrappers around them."""
