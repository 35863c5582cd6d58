"""The user-facing API: `converter.py` (`TFLiteConverter`, `convert`), `options.py` (`OpsSet`,
`Optimize`, `TargetSpec`) and `compat.py` (tflite_convert's flags -> passes and pass options).
The package root `tflconv` re-exports the public names."""
