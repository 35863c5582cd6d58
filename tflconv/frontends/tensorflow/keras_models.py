"""Keras models -> a traced `ConcreteFunction` (the one `serving_default` signature).

Two Keras families, told apart by their classes (neither is imported unless its model or file
is in play):

- Keras 3 (`keras`): traced as `model.__call__(..., training=False)` with the model's own input
  structure (dicts, nesting), as Keras' `model.export` does.
- Keras 2 (`tf_keras`, what `tf.keras` is under `TF_USE_LEGACY_KERAS=1`): traced with tf-keras'
  own `saving_utils.trace_model_call`, the default signature `tf.saved_model.save` writes and
  the official converter converts: input names from the Keras inputs, outputs a dict keyed by
  the output layer names.

Files: `.keras` archives and `.h5` files record the Keras version that wrote them; Keras 2 files
load with tf-keras when it is installed, everything else with Keras 3, always in safe mode.
"""

from __future__ import annotations

import functools
import json
import sys
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from ..base import FrontendError
from .attrs import short_tracebacks
from .errors import message_line, trace_failure

# --- which Keras -------------------------------------------------------------------------------


def is_keras_model(obj: Any) -> bool:
    return is_keras3_model(obj) or is_tf_keras_model(obj)


def is_keras3_model(obj: Any) -> bool:
    if "keras" not in sys.modules:
        return False
    import keras

    return isinstance(obj, keras.Model)


def is_tf_keras_model(obj: Any) -> bool:
    """A tf-keras (Keras 2) model; tf-keras is loaded if such a model exists."""
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras is not None and isinstance(obj, tf_keras.Model)


def file_keras_version(path: str, kind: str) -> str | None:
    """The Keras version that wrote a `.keras` (metadata.json) or `.h5` (root attribute)."""
    try:
        if kind == "keras":
            with zipfile.ZipFile(path) as archive:
                return str(json.loads(archive.read("metadata.json"))["keras_version"])
        import h5py

        with h5py.File(path, "r") as f:
            version = f.attrs.get("keras_version")
    except Exception:  # noqa: BLE001 - unreadable metadata: let the loader report the file
        return None
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    return None if version is None else str(version)


def _tf_keras_available() -> bool:
    try:
        import tf_keras  # noqa: F401
    except ImportError:
        return False
    return True


# --- files -------------------------------------------------------------------------------------


def load_keras_file(path: str, legacy: bool = False) -> Any:
    """A `.keras` (legacy=False) or `.h5` model, with Keras 2 (tf-keras) when a Keras 2.x
    wrote it and tf-keras is installed, else Keras 3; Lambda layers need the caller's consent."""
    what = "legacy HDF5 Keras model" if legacy else "Keras model file"
    kind = "h5" if legacy else "keras"
    if not legacy and not zipfile.is_zipfile(path):
        raise FrontendError(f"{what} {path!r} is not a .keras zip archive (corrupt file?)")
    version = file_keras_version(path, kind)
    keras2 = version is not None and version.startswith("2.") and _tf_keras_available()
    package = "tf_keras" if keras2 else "keras"
    try:
        if keras2:
            return _load_tf_keras(path)
        import keras

        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - Keras raises many error types for bad files
        text = str(e)
        if "safe_mode" in text or "unsafe_deserialization" in text:
            raise FrontendError(
                f"{what} {path!r} contains Python code (e.g. a Lambda layer) that Keras only "
                "loads with safe_mode=False; if you trust the file, load it yourself with "
                f"{package}.models.load_model({path!r}, safe_mode=False) and pass the model "
                "object"
            ) from None
        if "custom_objects" in text or "Could not locate" in text or "Unknown layer" in text:
            raise FrontendError(
                f"{what} {path!r} uses custom classes: load it yourself with "
                f"{package}.models.load_model(path, custom_objects={{...}}) and pass the "
                f"model object ({message_line(e)})"
            ) from None
        raise FrontendError(f"cannot read {what} {path!r}: {message_line(e)}") from None


def _load_tf_keras(path: str) -> Any:
    import tf_keras
    from tf_keras.src.saving import serialization_lib

    # tf-keras applies safe_mode to .keras archives only; its HDF5 loader would unmarshal a
    # Lambda's bytecode unless safe mode is in scope.
    with serialization_lib.SafeModeScope(True):
        return tf_keras.models.load_model(path, compile=False, safe_mode=True)


# --- tracing -----------------------------------------------------------------------------------

DISABLE_ACD = "_disable_acd"
"""tf.function's switch (allowlisted in `experimental_attributes`) that skips automatic control
dependencies: the edges that order stateful ops for TF's own executor, 12-15 % of tracing a
Keras model. The import does not need them: it keeps every resource write and orders a
graph with writes by creation order, which is the program order those edges encode."""


def trace_keras_model(model: Any, path: str | None) -> Any:
    """The model's inference function as a `ConcreteFunction` (see the module docstring)."""
    where = f"Keras model {model.name!r}" + (f" from {path!r}" if path else "")
    try:
        with short_tracebacks():
            if is_tf_keras_model(model):
                return _trace_tf_keras(model, where)
            signature = keras_input_signature(model)
            call = functools.partial(model.__call__, training=False)
            function = tf.function(
                call,
                input_signature=signature,
                autograph=False,
                experimental_attributes={DISABLE_ACD: True},
            )
            return function.get_concrete_function()
    except FrontendError:
        raise
    except Exception as e:  # noqa: BLE001 - tracing runs arbitrary user code
        raise FrontendError(f"cannot trace {where}: {trace_failure(e)}") from e


def _trace_tf_keras(model: Any, where: str) -> Any:
    from tf_keras.src.saving.legacy import saving_utils

    if not isinstance(model.call, tf.types.experimental.GenericFunction) and (
        model.save_spec() is None
    ):
        raise FrontendError(
            f"{where} has never been called, so its input shapes are unknown: call it once "
            "on an input, build(input_shape) it, or build it from tf_keras.Input"
        )
    return saving_utils.trace_model_call(model)


def keras_input_signature(model: Any) -> list[Any]:
    """The input signature to trace a Keras 3 model with: the model's own input structure.

    Functional models take one positional argument with the structure they were built from
    (`model._inputs_struct`: a tensor, a list/tuple, a dict, nested), like Keras' own
    `model.export`; dict inputs are named by their keys, other inputs by their `keras.Input`
    names. (The official converter passes `model.inputs`, a flat list, which fails on
    dict-input models such as every keras-hub text backbone.) Sequential models take
    `model.inputs`; subclassed models the shapes of their first call (batch dynamic)."""
    from keras.src.models import Functional, Sequential

    if isinstance(model, (Functional, Sequential)):
        try:
            inputs = model.inputs
        except (AttributeError, ValueError):
            inputs = None
        struct = getattr(model, "_inputs_struct", None) if isinstance(model, Functional) else None
        if struct is not None:
            return [_input_specs(struct)]
        if inputs:
            signature = [_input_specs(x) for x in inputs]
            return [signature] if len(signature) > 1 else signature
    signature = _save_spec(model)
    if not signature:
        raise FrontendError(
            f"Keras model {model.name!r} has never been called, so its input shapes are "
            "unknown: call it once on an input (or build it from keras.Input) before converting"
        )
    return signature


def _input_specs(struct: Any, name: str | None = None) -> Any:
    """`TensorSpec`s for a (nested) structure of Keras tensors; dict keys name their values."""
    if isinstance(struct, Mapping):
        return {str(k): _input_specs(v, str(k)) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        specs = [_input_specs(v) for v in struct]
        return tuple(specs) if isinstance(struct, tuple) else specs
    return tf.TensorSpec(
        tuple(struct.shape), dtype=struct.dtype, name=name or getattr(struct, "name", None)
    )


def _save_spec(model: Any) -> list[Any] | None:
    """Input specs of a subclassed model from the shapes it was built with (batch dynamic),
    as Keras' `model.export` infers them (dtype: the model's `input_dtype`)."""
    shapes = getattr(model, "_build_shapes_dict", None)
    if not shapes:
        return None
    dtype = getattr(model, "input_dtype", None) or "float32"

    def is_shape(x: Any) -> bool:
        return isinstance(x, (list, tuple)) and all(
            d is None or isinstance(d, (int, np.integer)) for d in x
        )

    def specs(struct: Any, name: str | None = None) -> Any:
        if isinstance(struct, Mapping):
            return {str(k): specs(v, str(k)) for k, v in struct.items()}
        if is_shape(struct):
            return tf.TensorSpec((None,) + tuple(struct)[1:], dtype=dtype, name=name)
        if isinstance(struct, (list, tuple)):
            items = [specs(v) for v in struct]
            return tuple(items) if isinstance(struct, tuple) else items
        raise FrontendError(
            f"Keras model {model.name!r} was built with an input of unknown structure "
            f"{struct!r}; convert model.__call__ as a tf.function with an input_signature"
        )

    # One positional argument per build argument, in order, like Keras' `model.export`.
    return [specs(v) for v in shapes.values()]
