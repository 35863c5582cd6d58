"""The JAX / StableHLO frontend behind the `frontends.base` seam (registered as "jax").

    model = load_model(fn, example_args=(x,))              # a JAX function (Flax closures too)
    model = load_model(fn, example_args=(x,), dynamic_batch=True)
    model = load_model(exported)                           # a jax.export.Exported
    model = load_model("model.mlir")                       # StableHLO text
    model = load_model("model.mlirbc")                     # portable artifact / MLIR bytecode
    model = load_model("exported.bin")                     # exported.serialize() bytes
    model.run_source("serving_default", [x])               # run the JAX function

JAX and jaxlib are imported lazily (importing this module is cheap and TensorFlow-free): the
MLIR walk lives in `mlir_import.py`, attributes in `attrs.py`, locations in `locations.py`, the
source kinds in `sources.py`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import FrontendError, ImportedModel, register_frontend
from .spec import JaxFunctions

__all__ = ["FRONTEND", "FrontendError", "JaxFrontend", "load_model"]

FILE_SUFFIXES = (".mlir", ".mlirbc", ".bin")
"""StableHLO text, bytecode, and `jax.export` serialized `Exported` files (`exported.bin`)."""
# Module name prefixes of the classes of JAX objects (checked without importing JAX).
_JAX_MODULES = ("jax.", "jaxlib.", "flax.")
_OPTIONS = ("example_args", "input_names", "dynamic_batch", "signature_key")


def load_model(
    source: Any,
    *,
    example_args: Sequence[Any] | None = None,
    input_names: Sequence[str] | None = None,
    dynamic_batch: bool = False,
    signature_key: str | None = None,
) -> ImportedModel:
    """Import a JAX function (with `example_args`), a `jax.export.Exported`, or a StableHLO
    file into stablehlo-dialect IR. `input_names`: one per flattened input (default: JAX's
    argument names); `dynamic_batch`: the leading dim of every input of a function becomes
    symbolic; `signature_key` (default "serving_default"). Raises `FrontendError` when the
    source cannot be read."""
    # JAX loads only here, when a JAX model is imported.
    from . import sources

    return sources.load(
        source,
        example_args=example_args,
        input_names=input_names,
        dynamic_batch=dynamic_batch,
        signature_key=signature_key,
    )


def _is_jax_object(obj: Any) -> bool:
    return any(
        (getattr(c, "__module__", "") or "").startswith(_JAX_MODULES) for c in type(obj).__mro__
    )


def _is_tflconv_ir_text(path: str) -> bool:
    return path.endswith(".tflconv.mlir")


MLIR_BYTECODE_MAGIC = b"ML\xefR"


def _holds_mlir_bytecode(path: str) -> bool:
    """Whether a `.bin` file embeds MLIR bytecode (a serialized `Exported` does; its FlatBuffer
    has no file identifier), so other `.bin` files still reach the TensorFlow frontend."""
    import mmap  # stdlib; only for .bin paths

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(MLIR_BYTECODE_MAGIC) >= 0
    except (OSError, ValueError):  # missing or empty: not ours
        return False


class JaxFrontend:
    """JAX functions with example args, `jax.export.Exported` objects, StableHLO text (.mlir),
    bytecode (.mlirbc) and serialized `Exported` files."""

    name: ClassVar[str] = "jax"
    kinds: ClassVar[str] = (
        "a JAX function with example_args, a jax.export.Exported, a StableHLO .mlir/.mlirbc "
        "file or a serialized Exported (.bin)"
    )

    def accepts(self, source: Any, **options: Any) -> bool:
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source).lower()
            if path.endswith(".bin"):
                return _holds_mlir_bytecode(os.fspath(source))
            return path.endswith(FILE_SUFFIXES) and not _is_tflconv_ir_text(path)
        if isinstance(source, JaxFunctions):
            return True
        if "example_args" in options and callable(source):
            return True
        return _is_jax_object(source) and type(source).__name__ == "Exported"

    def load(self, source: Any, **options: Any) -> ImportedModel:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise FrontendError(
                f"the jax frontend takes no option {', '.join(unknown)} (it takes "
                f"{', '.join(_OPTIONS)})"
            )
        return load_model(source, **options)


FRONTEND = register_frontend(JaxFrontend())
