"""`custom-ops`: TF ops -> TFLite custom ops the user implements and registers at run time.

    %y = "tf.Cumprod"(%x, %axis) {T = f32, Tidx = i32, exclusive = false, reverse = false}
      ->
    %y = "tfl.custom"(%x, %axis) {custom_code = "Cumprod", custom_options = x"..."}

`custom_options` is a FlexBuffer map of the op's TF attributes, keys sorted, type attributes as
TFLite `TensorType` ints ({'T': 0, 'Tidx': 2, 'exclusive': False, 'reverse': False}), as the
official converter writes with `allow_custom_ops` (see `flex_encoding.py`). Attributes
FlexBuffers cannot hold (shapes, tensors, functions) are dropped, as there.

Two uses:
- `custom-ops` (no `ops`): every TF op still left (after legalize-tf and select-tf-ops) becomes
  a custom op: `allow_custom_ops = True`, `--allow-custom-ops`.
- `custom-ops{ops=[Erf,model/head/*]}`: only the ops matching a pattern, run first in the
  pipeline so chosen ops stay custom even when a builtin exists: `custom_ops = [...]`,
  `--custom-ops=Erf,...`. A pattern is a glob on the TF op type (`Erf`, `tf.Erf`, `Cum*`) or
  on the TF node name (`model/head/*`).
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter

from .flex_encoding import custom_attr_map

log = logging.getLogger("tflconv")


def matches_custom_pattern(op: Operation, patterns: tuple[str, ...]) -> bool:
    """Whether a tf op is chosen by one of `patterns` (glob on op type or TF node name)."""
    op_type = op.name.removeprefix("tf.")
    for pattern in patterns:
        if fnmatch.fnmatchcase(op_type, pattern.removeprefix("tf.")):
            return True
        if any(fnmatch.fnmatchcase(name, pattern) for name in op.location.names):
            return True
    return False


@register_pass
@dataclass(frozen=True)
class CustomOps(Pass):
    """Turn TF ops into custom ops (tfl.custom, custom_code = the TF op type): all that are
    left, or only those matching `ops`."""

    name: ClassVar[str] = "custom-ops"
    ops: tuple[str, ...] = ()
    """Convert only the TF ops matching these globs (op type `Erf`/`tf.Erf`, or TF node name
    `model/head/*`); empty: every TF op left."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        rw = PatternRewriter(ctx.listener)
        changed = False
        for op in list(module.walk()):
            if op.dialect != "tf" or op.parent is None or op.regions:
                continue
            if self.ops and not matches_custom_pattern(op, self.ops):
                continue
            options, dropped = custom_attr_map(op)
            op_type = op.name.removeprefix("tf.")
            if dropped:
                log.warning(
                    "custom op %s at %s: attributes %s cannot be stored in FlexBuffers and "
                    "are left out",
                    op_type,
                    op.location,
                    ", ".join(dropped),
                )
                ctx.stats["dropped attributes"] += len(dropped)
            rw.current = op
            new = Operation(
                "tfl.custom",
                list(op.operands),
                op.result_types,
                {"custom_code": op_type, "custom_options": options},
                location=op.location,
                result_names=[r.name_hint for r in op.results],
            )
            rw.replace(op, new)
            ctx.stats["custom ops"] += 1
            changed = True
        return changed
