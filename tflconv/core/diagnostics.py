"""Errors attached to ops, rendered with the op's location and its generic form:

error: 'tfl.conv_2d' op expects 3 operands, has 2
  at model/conv (model.py:12) in @main
  see: %y = "tfl.conv_2d"(%x, %w) {...} : (...) -> tensor<1x4x4x8xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import Operation

MAX_RENDERED = 20
"""VerifyError shows this many diagnostics, then a count of the rest."""

_MAX_OP_LINES = 8


@dataclass
class Diagnostic:
    """An error about `op` (or, when `op` is None, about function `function` / the module)."""

    op: Operation | None
    message: str
    function: str | None = None

    def render(self) -> str:
        op = self.op
        if op is None:
            where = f"function @{self.function}" if self.function else "module"
            return f"error: {where}: {self.message}"
        lines = [f"error: '{op.name}' op {self.message}"]
        fn = self.function
        if fn is None:
            owner = op.function
            fn = owner.name if owner is not None else None
        lines.append(f"  at {op.location}" + (f" in @{fn}" if fn else ""))
        lines.append("  see: " + _op_text(op))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _op_text(op: Operation) -> str:
    from .printer import print_op

    try:
        text = print_op(op)
    except Exception as e:  # never hide the real error behind a printing failure
        return f"<cannot print the op: {e}>"
    lines = text.split("\n")
    if len(lines) > _MAX_OP_LINES:
        lines = lines[: _MAX_OP_LINES - 1] + [f"... ({len(lines) - _MAX_OP_LINES + 1} more lines)"]
    return "\n       ".join(lines)


class VerifyError(Exception):
    """The IR is malformed; `diagnostics` lists every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(f"{len(diagnostics)} verification error(s)")
        self.diagnostics = list(diagnostics)

    def __str__(self) -> str:
        shown = [d.render() for d in self.diagnostics[:MAX_RENDERED]]
        rest = len(self.diagnostics) - MAX_RENDERED
        if rest > 0:
            shown.append(f"... and {rest} more")
        return "\n".join(shown)
