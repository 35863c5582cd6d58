"""tflconv: a TensorFlow -> LiteRT (.tflite) converter with an open IR and pass manager.

    import tflconv
    tflite = tflconv.convert("model.keras", "model.tflite")       # short form

    converter = tflconv.TFLiteConverter.from_keras_model(model)  # drop-in for tf.lite's
    tflite = converter.convert()

Importing tflconv does not import TensorFlow; the frontend loads it when a model is converted.
"""

from __future__ import annotations

from typing import Any

from .api.converter import (
    DEFAULT_PIPELINE,
    ConversionResult,
    ConverterError,
    OpsSet,
    Optimize,
    TargetSpec,
    TFLiteConverter,
    convert,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PIPELINE",
    "ConversionResult",
    "ConverterError",
    "Optimize",
    "OpsSet",
    "TFLiteConverter",
    "TargetSpec",
    "__version__",
    "convert",
    "load_model",
    "parse_module",
    "print_module",
    "read_flatbuffer",
    "write_flatbuffer",
]

# Helpers re-exported lazily so `import tflconv` stays cheap (and free of TensorFlow).
_LAZY = {
    "load_model": ("tflconv.frontends.tensorflow", "load_model"),
    "print_module": ("tflconv.core.printer", "print_module"),
    "parse_module": ("tflconv.core.parser", "parse_module"),
    "read_flatbuffer": ("tflconv.tflite.reader", "read_flatbuffer"),
    "write_flatbuffer": ("tflconv.tflite.writer", "write_flatbuffer"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'tflconv' has no attribute {name!r}")
