"""A Pass class named directly by an entry point (no @register_pass needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.passes import Pass, PassContext


@dataclass(frozen=True)
class TagFunctions(Pass):
    """Set a function attribute on every function (a plugin example)."""

    name: ClassVar[str] = "example-tag"
    key: str = "tagged"
    """Attribute name to set to true."""

    def run(self, module, ctx: PassContext) -> bool:
        for fn in module.functions:
            fn.attributes[self.key] = True
        return bool(module.functions)
