"""The conversion driver: frontend -> pass pipeline -> FlatBuffer writer."""

from __future__ import annotations

from typing import Any

DEFAULT_PIPELINE = "canonicalize,legalize-tf,canonicalize,fuse,simplify-tfl,dce,check-tflite-legal"


def convert(model: Any, *, pipeline: str = DEFAULT_PIPELINE, **load_options: Any) -> bytes:
    """Convert a TF/Keras model (anything `frontends.tensorflow.load_model` takes) to .tflite bytes."""
    from tflconv import passes  # noqa: F401  (registers every pass)
    from tflconv.core.passes import PassContext, PassManager
    from tflconv.frontends.tensorflow import load_model
    from tflconv.schema.writer import write_flatbuffer

    imported = load_model(model, **load_options)
    PassManager.from_pipeline(pipeline).run(imported.module, PassContext())
    return write_flatbuffer(imported.module)
