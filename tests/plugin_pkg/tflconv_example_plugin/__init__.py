"""An example plugin pass: rename ops of one name to another (the module entry point)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import apply_walk, one_to_one


@register_pass
@dataclass(frozen=True)
class RenameOps(Pass):
    """Rename every `src` op to `dst` (a plugin example)."""

    name: ClassVar[str] = "example-rename"
    src: str = "test.old"
    """Op name to rename."""
    dst: str = "test.new"
    """New op name."""

    def run(self, module, ctx: PassContext) -> bool:
        changed = apply_walk(module, [one_to_one({self.src: self.dst})], ctx.tracer, ctx.listener)
        ctx.stats["renamed"] += int(changed)
        return changed
