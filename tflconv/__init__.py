"""tflconv: a TensorFlow -> LiteRT (.tflite) converter with an open IR and pass manager.

    import tflconv
    tflite = tflconv.convert("model.keras", "model.tflite")       # short form

    converter = tflconv.TFLiteConverter.from_keras_model(model)  # drop-in for tf.lite's
    tflite = converter.convert()

A lazy facade (PEP 562): every public name is imported on first access, so `import tflconv`
loads neither TensorFlow, numba, networkx, the passes nor the generated FlatBuffer schema
(tests/test_import_cost.py checks `sys.modules`). The frontend loads TensorFlow when a model is
converted; `TFLiteConverter` / `convert` bring in the passes and the writer when first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time `__getattr__` resolves these
    from tflconv.api.converter import (
        DEFAULT_PIPELINE,
        ConversionResult,
        ConverterError,
        TFLiteConverter,
        convert,
    )
    from tflconv.api.options import OpsSet, Optimize, TargetSpec
    from tflconv.core.parser import parse_module
    from tflconv.core.printer import print_module
    from tflconv.frontends.tensorflow.frontend import load_model
    from tflconv.tflite.reader import read_flatbuffer
    from tflconv.tflite.writer import write_flatbuffer

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access, then cached in globals()).
_LAZY = {
    "DEFAULT_PIPELINE": "tflconv.api.converter",
    "ConversionResult": "tflconv.api.converter",
    "ConverterError": "tflconv.api.converter",
    "OpsSet": "tflconv.api.options",
    "Optimize": "tflconv.api.options",
    "TargetSpec": "tflconv.api.options",
    "TFLiteConverter": "tflconv.api.converter",
    "convert": "tflconv.api.converter",
    "load_model": "tflconv.frontends.tensorflow.frontend",
    "print_module": "tflconv.core.printer",
    "parse_module": "tflconv.core.parser",
    "read_flatbuffer": "tflconv.tflite.reader",
    "read_flatbuffer_file": "tflconv.tflite.reader",
    "write_flatbuffer": "tflconv.tflite.writer",
    "write_flatbuffer_file": "tflconv.tflite.writer",
    "analyze": "tflconv.tools.analyze_api",
    "Analysis": "tflconv.tools.analyze_api",
}

__all__ = [
    "Analysis",
    "DEFAULT_PIPELINE",
    "ConversionResult",
    "ConverterError",
    "Optimize",
    "OpsSet",
    "TFLiteConverter",
    "TargetSpec",
    "__version__",
    "analyze",
    "convert",
    "load_model",
    "parse_module",
    "print_module",
    "read_flatbuffer",
    "read_flatbuffer_file",
    "write_flatbuffer",
    "write_flatbuffer_file",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tflconv' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
