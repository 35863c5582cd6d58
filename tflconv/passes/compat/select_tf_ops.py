"""`select-tf-ops`: TF ops left after legalization -> Flex ops, run by TF kernels at run time.

    %y = "tf.Cumprod"(%x, %axis) {T = f32, ...}
      ->
    %y = "tfl.custom"(%x, %axis) {custom_code = "FlexCumprod", custom_options = x"..."}

An op becomes a Flex op when its type is in the Select-TF-ops allowlist (`flex_allowlist.txt`,
the official list) or in `user-ops` (`target_spec.experimental_select_user_tf_ops`), or
`allow-all` is set; `PartitionedCall` / `StatefulPartitionedCall` never are. `custom_options`
is the FlexBuffer vector [op type, NodeDef bytes] from the op's imported `_node_def`,
byte-compatible with the official converter (see `flex_encoding.py`).
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter

from .flex_encoding import FLEX_PREFIX, NodeDefError, flex_custom_options, flex_node_def

log = logging.getLogger("tflconv")

ALLOWLIST_FILE = Path(__file__).with_name("flex_allowlist.txt")

NEVER_FLEX = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
"""Calls are inlined by the frontend; the official converter never emits them as Flex ops."""


@cache
def flex_allowlist() -> frozenset[str]:
    """The TF op types the Select-TF-ops runtime has kernels for (the official allowlist)."""
    names = set()
    for line in ALLOWLIST_FILE.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return frozenset(names)


def tf_op_type(op: Operation) -> str:
    """'Cumprod' for a `tf.Cumprod` op."""
    return op.name.removeprefix("tf.")


def is_flex_allowed(op_type: str, user_ops: tuple[str, ...] = (), allow_all: bool = False) -> bool:
    """Whether a TF op type may become a Flex op: allowlisted, matching a user-added op
    (globs allowed), or `allow_all`; never a call."""
    if op_type in NEVER_FLEX:
        return False
    if allow_all or op_type in flex_allowlist():
        return True
    return any(fnmatch.fnmatchcase(op_type, p.removeprefix("tf.")) for p in user_ops)


@register_pass
@dataclass(frozen=True)
class SelectTfOps(Pass):
    """Turn TF ops in the Select-TF-ops allowlist into Flex ops (tfl.custom "Flex<Op>")."""

    name: ClassVar[str] = "select-tf-ops"
    user_ops: tuple[str, ...] = ()
    """More TF op types (globs allowed) the Flex runtime has kernels for, like
    `target_spec.experimental_select_user_tf_ops`."""
    allow_all: bool = False
    """Every TF op (calls excepted) becomes a Flex op, allowlisted or not."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        rw = PatternRewriter(ctx.listener)
        converted: dict[str, int] = {}
        for op in list(module.walk()):
            if op.dialect != "tf" or op.parent is None or op.regions:
                continue
            op_type = tf_op_type(op)
            if not is_flex_allowed(op_type, self.user_ops, self.allow_all):
                continue
            try:
                node_def = flex_node_def(op)
            except NodeDefError as e:
                # Left as a tf op: check-tflite-legal reports it with this reason.
                ctx.tracer.record(_REASON, op, False, [f"no Flex op: {e}"])
                continue
            rw.current = op
            new = Operation(
                "tfl.custom",
                list(op.operands),
                op.result_types,
                {
                    "custom_code": FLEX_PREFIX + op_type,
                    "custom_options": flex_custom_options(op_type, node_def),
                },
                location=op.location,
                result_names=[r.name_hint for r in op.results],
            )
            rw.replace(op, new)
            converted[op_type] = converted.get(op_type, 0) + 1
            ctx.stats["Flex ops"] += 1
        if converted:
            listing = ", ".join(f"{FLEX_PREFIX}{k} x{v}" for k, v in sorted(converted.items()))
            log.info(
                "the model needs the Flex delegate (Select TF ops) to run; Flex ops: %s", listing
            )
        return bool(converted)


class _Reason:
    """Stands in for a pattern in `MatchTracer.record` (which wants a name)."""

    name = "SelectTfOps"


_REASON = _Reason()
