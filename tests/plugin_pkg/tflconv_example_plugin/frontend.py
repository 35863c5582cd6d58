"""An example plugin frontend: `.toyir` files holding tflconv IR text (tf-dialect functions).

Registered through the `tflconv.frontends` entry-point group (see ../pyproject.toml). Its
sources are paths, so it is asked before the TensorFlow frontend, the fallback for paths.
"""

from __future__ import annotations

import os
from typing import Any

from tflconv.core.parser import parse_module
from tflconv.frontends.base import FrontendError, ImportedModel


def mark_entries(module: Any) -> None:
    """Every function becomes a signature named after it; arguments `arg<i>`, results
    `output_<i>` (what the TensorFlow frontend records from a SignatureDef)."""
    for fn in module.functions:
        fn.attributes.update(
            entry=True,
            signature_key="serving_default" if len(module.functions) == 1 else fn.name,
            input_names=[f"arg{i}" for i in range(len(fn.args))],
            output_names=[f"output_{i}" for i in range(len(fn.outputs))],
        )


class ToyIRFrontend:
    """Reads a `.toyir` file: IR text, no reference to run."""

    name = "example-toyir"
    kinds = "a .toyir file (tflconv IR text)"

    def accepts(self, source: Any, **options: Any) -> bool:
        return isinstance(source, str | os.PathLike) and os.fspath(source).endswith(".toyir")

    def load(self, source: Any, **options: Any) -> ImportedModel:
        if options:
            raise FrontendError(f"{self.name}: no load options, got {sorted(options)}")
        with open(source, encoding="utf-8") as f:
            module = parse_module(f.read())
        mark_entries(module)
        return ImportedModel(module, "toyir")
