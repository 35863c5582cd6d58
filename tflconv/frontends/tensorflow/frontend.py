"""TensorFlow frontend: SavedModel / Keras / .keras / .h5 / concrete functions / frozen GraphDef
-> a `Module` of tf-dialect functions.

    model = load_model("path/to/saved_model")
    print(model.module.functions[0].attributes["input_names"])
    outputs = model.run_source("serving_default", {"x": x})   # run the original in TF

`TensorFlowFrontend` (registered as "tensorflow") is this frontend behind the `frontends.base`
seam; `load_model` is its `load`.

TensorFlow and Keras are imported lazily (importing this module is cheap). The graph walk
lives in `graph.py`, attribute/dtype/location conversions in `attrs.py`, the source
kinds in `sources.py`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from tflconv.core.ir import Module

from ..base import FrontendError, ImportedModel, InputShapes, register_frontend

__all__ = [
    "FRONTEND",
    "FrontendError",
    "ImportedModel",
    "TensorFlowFrontend",
    "import_concrete_functions",
    "load_model",
]

MODEL_TYPES = ("saved_model", "keras", "concrete_functions", "graph_def")


def load_model(
    source: Any,
    *,
    signature_keys: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    input_shapes: InputShapes = None,
    input_arrays: Sequence[str] | None = None,
    output_arrays: Sequence[str] | None = None,
) -> ImportedModel:
    """Import a TF model into tf-dialect IR.

    `source`: a SavedModel directory, a `keras.Model`, a `.keras` / `.h5` file, a list of
    `tf.function`s (with input signatures) or concrete functions, or a frozen GraphDef `.pb`
    (with `input_arrays` / `output_arrays`). `input_shapes` fixes dynamic input dims, by input
    name (dict) or in input order (list). Raises `FrontendError` when the model cannot be read.
    """
    from . import sources  # imports TensorFlow: only when a TF model is loaded

    return sources.load(
        source,
        signature_keys=signature_keys,
        tags=tags,
        input_shapes=input_shapes,
        input_arrays=input_arrays,
        output_arrays=output_arrays,
    )


def import_concrete_functions(funcs: Sequence[Any], input_shapes: InputShapes = None) -> Module:
    """Lower-level: a module from concrete functions / tf.functions with input signatures."""
    return load_model(list(funcs), input_shapes=input_shapes).module


# Module name prefixes of the classes of TF / Keras objects (checked without importing TF).
_TF_MODULES = ("tensorflow.", "keras.", "tf_keras.")


def _is_tf_object(obj: Any) -> bool:
    """A Keras model, tf.function, concrete function, tf.Module, ... (by its classes' modules)."""
    return any(
        (getattr(c, "__module__", "") or "").startswith(_TF_MODULES) for c in type(obj).__mro__
    )


class TensorFlowFrontend:
    """SavedModel directories, .keras / .h5 files, frozen GraphDefs, Keras models, tf.functions
    and concrete functions (alone or in a list)."""

    name: ClassVar[str] = "tensorflow"
    kinds: ClassVar[str] = (
        "a SavedModel directory, a .keras/.h5/.pb path, a keras.Model (Keras 3 or tf-keras), "
        "a tf.function / concrete function or a list of them"
    )
    # The fallback for paths: any existing file that no other frontend claims is read as a
    # GraphDef (its error names what is wrong with the file), so it is asked last.
    priority: ClassVar[int] = -1

    def accepts(self, source: Any, **options: Any) -> bool:
        if isinstance(source, (str, os.PathLike)):
            return True
        if isinstance(source, (list, tuple)):
            # Empty, or one non-function among tf.functions: `load` names what is wrong.
            return not source or any(_is_tf_object(f) for f in source)
        return _is_tf_object(source)

    def load(self, source: Any, **options: Any) -> ImportedModel:
        return load_model(source, **options)


FRONTEND = register_frontend(TensorFlowFrontend())
