"""`check-tflite-legal`: the final gate. Every op that is not a TFLite builtin, a constant or a
function return is reported once per op type, with count, locations and why it did not convert."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass

LEGAL_DIALECTS = frozenset({"tfl", "arith", "func"})
MAX_LOCATIONS = 3


class UnsupportedOpsError(Exception):
    """Ops left that the chosen target cannot run; `ops` maps op name -> list of ops."""

    def __init__(self, ops: dict[str, list[Operation]], reasons: dict[str, str]) -> None:
        self.ops = ops
        self.reasons = reasons
        super().__init__(format_unsupported(ops, reasons))


def format_unsupported(ops: dict[str, list[Operation]], reasons: dict[str, str]) -> str:
    total = sum(len(v) for v in ops.values())
    lines = [f"{total} op(s) of {len(ops)} type(s) cannot be converted to TFLite builtins:"]
    for name, found in sorted(ops.items()):
        lines.append(
            f"  {name} x{len(found)}: {reasons.get(name, 'no TFLite builtin for this op')}"
        )
        for op in found[:MAX_LOCATIONS]:
            lines.append(f"      at {op.location}")
        if len(found) > MAX_LOCATIONS:
            lines.append(f"      ... and {len(found) - MAX_LOCATIONS} more")
    return "\n".join(lines)


@register_pass
@dataclass(frozen=True)
class CheckTfliteLegal(Pass):
    """Fail with one grouped report when ops other than TFLite builtins are left."""

    name: ClassVar[str] = "check-tflite-legal"

    def run(self, module: Module, ctx: PassContext) -> bool:
        illegal: dict[str, list[Operation]] = defaultdict(list)
        reasons: dict[str, str] = {}
        for op in module.walk():
            if op.dialect in LEGAL_DIALECTS:
                continue
            illegal[op.name].append(op)
            failures = ctx.tracer.failure_reasons(op)
            if failures and op.name not in reasons:
                reasons[op.name] = "; ".join(f"{p}: {r}" for p, r in failures[:3])
        if illegal:
            raise UnsupportedOpsError(dict(illegal), reasons)
        return False
