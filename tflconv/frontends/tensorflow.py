"""TensorFlow frontend: SavedModel / Keras / .keras / .h5 / concrete functions / frozen GraphDef
-> a `Module` of tf-dialect functions.

    model = load_model("path/to/saved_model")
    print(model.module.functions[0].attributes["input_names"])
    outputs = model.run_tf("serving_default", {"x": x})   # run the original in TF

TensorFlow and Keras are imported lazily (importing this module is cheap). The graph walk
lives in `tf_graph.py`, attribute/dtype/location conversions in `tf_convert.py`, the source
kinds in `tf_sources.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.core.ir import Module

MODEL_TYPES = ("saved_model", "keras", "concrete_functions", "graph_def")

Shape = Sequence[int | None]
InputShapes = dict[str, Shape] | Sequence[Shape] | None


class FrontendError(ValueError):
    """The model cannot be imported: one line naming what, where, and how to fix it."""


@dataclass
class ImportedModel:
    """An imported model: the IR plus a way to run the original in TensorFlow."""

    module: Module
    model_type: str
    _runners: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = field(
        default_factory=dict, repr=False
    )
    _source: Any = field(default=None, repr=False)  # keeps TF objects (variables) alive

    @property
    def signature_keys(self) -> list[str]:
        return [
            f.attributes["signature_key"]
            for f in self.module.functions
            if f.attributes.get("entry")
        ]

    def function(self, signature_key: str | None = None) -> Any:
        """The entry function of a signature (the first one by default)."""
        for fn in self.module.functions:
            if fn.attributes.get("entry") and signature_key in (
                None,
                fn.attributes["signature_key"],
            ):
                return fn
        raise FrontendError(
            f"no signature {signature_key!r}; the model has {', '.join(self.signature_keys)}"
        )

    def run_tf(
        self, signature_key: str | None, inputs: dict[str, Any] | Sequence[Any]
    ) -> list[np.ndarray]:
        """Run the original TF model: `inputs` by input name, or a list in `input_names` order.
        Returns the outputs in `output_names` order."""
        fn = self.function(signature_key)
        names = fn.attributes["input_names"]
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            unknown = [n for n in inputs if n not in names]
            if missing or unknown:
                raise FrontendError(
                    f"run_tf({fn.attributes['signature_key']!r}): inputs must be {names}, "
                    f"got {sorted(inputs)}"
                )
            arrays = [inputs[n] for n in names]
        else:
            arrays = list(inputs)
            if len(arrays) != len(names):
                raise FrontendError(
                    f"run_tf({fn.attributes['signature_key']!r}): expected {len(names)} inputs "
                    f"{names}, got {len(arrays)}"
                )
        return self._runners[fn.attributes["signature_key"]](arrays)


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
    from . import tf_sources

    return tf_sources.load(
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


def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FrontendError(f"model path {path!r} does not exist")
    return path
