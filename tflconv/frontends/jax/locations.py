"""MLIR locations (as jaxlib prints them) -> tflconv `Location`: the JAX op name and the user's
Python line.

JAX writes `loc("jit(f)/dot_general"(callsite("f"("model.py":7:17 to :22) at
"<module>"("model.py":10:6 to :115))))`: a name location (the JAX op name) whose child is the
call stack, innermost frame first, already stripped of JAX-internal frames. jaxlib's Python
bindings cannot take a location apart (no accessors on `ir.Location`), so its text is parsed
here; the grammar is MLIR's: `unknown`, `"name"`, `"name"(child)`, `"file":line:col[ to ...]`,
`callsite(callee at caller)`, `fused[...]` / `fused<meta>[...]`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tflconv.core.location import UNKNOWN, Location, SourceLine


@dataclass
class _Loc:
    kind: str  # "unknown" | "name" | "file" | "callsite" | "fused"
    name: str = ""
    line: int = 0
    children: tuple[_Loc, ...] = ()


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FILE_TAIL = re.compile(r":(\d+):(\d+)(?:\s+to\s+(?:\d+)?:?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _eat(self, token: str) -> bool:
        self._skip()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def _expect(self, token: str) -> None:
        if not self._eat(token):
            raise ValueError(f"expected {token!r} at {self.pos} in {self.text!r}")

    def parse(self) -> _Loc:
        self._skip()
        if self._eat("loc("):
            loc = self.loc()
            self._expect(")")
            return loc
        return self.loc()

    def loc(self) -> _Loc:
        self._skip()
        if self._eat("unknown"):
            return _Loc("unknown")
        if self._eat("callsite("):
            callee = self.loc()
            self._expect("at")
            caller = self.loc()
            self._expect(")")
            return _Loc("callsite", children=(callee, caller))
        if self._eat("fused"):
            if self._eat("<"):  # metadata attribute: skip to the matching '>'
                depth = 1
                while depth and self.pos < len(self.text):
                    ch = self.text[self.pos]
                    depth += ch == "<"
                    depth -= ch == ">"
                    self.pos += 1
            self._expect("[")
            parts = [self.loc()]
            while self._eat(","):
                parts.append(self.loc())
            self._expect("]")
            return _Loc("fused", children=tuple(parts))
        if self._eat("loc("):  # a nested `loc(...)` wrapper
            inner = self.loc()
            self._expect(")")
            return inner
        self._skip()
        m = _STRING.match(self.text, self.pos)
        if m is None:
            raise ValueError(f"cannot read a location at {self.pos} in {self.text!r}")
        self.pos = m.end()
        text = bytes(m.group(1), "utf-8").decode("unicode_escape", errors="replace")
        tail = _FILE_TAIL.match(self.text, self.pos)
        if tail is not None:
            self.pos = tail.end()
            return _Loc("file", text, int(tail.group(1)))
        if self._eat("("):
            child = self.loc()
            self._expect(")")
            return _Loc("name", text, children=(child,))
        return _Loc("name", text)


# Frames that are not the user's: tflconv itself (it calls jax.export) and installed packages
# (Flax's layers; JAX drops its own frames already).
_TFLCONV_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIBRARY_MARKERS = ("site-packages", "dist-packages")


def _is_user_file(path: str) -> bool:
    return not (path.startswith(_TFLCONV_DIR + os.sep) or any(m in path for m in _LIBRARY_MARKERS))


def _first_file(loc: _Loc) -> SourceLine | None:
    """The innermost user frame: the first file location outside tflconv and installed
    packages, callees before callers."""
    if loc.kind == "file":
        return SourceLine(loc.name, loc.line) if _is_user_file(loc.name) else None
    for child in loc.children:
        found = _first_file(child)
        if found is not None:
            return found
    return None


def _first_name(loc: _Loc) -> str | None:
    """The outermost name (JAX's op name, `jit(f)/dot_general`)."""
    if loc.kind == "name":
        return loc.name
    if loc.kind in ("fused", "callsite"):
        for child in loc.children:
            found = _first_name(child)
            if found is not None:
                return found
    return None


def convert_location(text: str, default_name: str = "") -> Location:
    """A tflconv `Location` from MLIR location text: (JAX op name, innermost Python line).
    Unparseable text gives the default name alone (a location is never worth failing for)."""
    try:
        loc = _Parser(text).parse()
    except ValueError:
        return Location.name(default_name) if default_name else UNKNOWN
    if loc.kind == "unknown":
        return Location.name(default_name) if default_name else UNKNOWN
    name = _first_name(loc) or default_name
    source = _first_file(loc)
    if not name:
        name = source.file.rsplit("/", 1)[-1] if source else ""
    return Location.name(name, source) if name else UNKNOWN


def plain_name(text: str) -> str | None:
    """The name of a name-only location (`loc("x")`, how JAX names function arguments)."""
    try:
        loc = _Parser(text).parse()
    except ValueError:
        return None
    return loc.name if loc.kind == "name" and not loc.children else None
