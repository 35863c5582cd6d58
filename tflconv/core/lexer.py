"""The textual form of the IR: tokens and error reporting, shared by the parser modules.

Split out of `parser.py` (which had grown past the ~800-line house limit) so that the
structural parser (`parser.py`: module, functions, ops, regions, blocks) and the value parser
(`parser_attrs.py`: types, attributes, dense data, locations) share one token stream and one
error format without either owning the other. `TokenStream` is a regex-driven pull lexer with
a single token of lookahead: `kind`/`tok`/`pos` describe the current token and `advance()`
moves on. Fast paths elsewhere match a whole construct with a regex at `pos`, then set `end`
and call `advance()` to resynchronise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn, TypeVar

_T = TypeVar("_T")


class ParseError(ValueError):
    """A syntax error at `line`:`col` (1-based) of `filename`."""

    def __init__(
        self, message: str, filename: str = "<input>", line: int = 1, col: int = 1, source: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.col = col
        self.source_line = source

    def __str__(self) -> str:
        caret = "".join("\t" if c == "\t" else " " for c in self.source_line[: self.col - 1])
        return (
            f"{self.filename}:{self.line}:{self.col}: error: {self.message}\n"
            f"{self.source_line}\n{caret}^"
        )


_TOKEN = re.compile(
    r"""
    (?:\s|//[^\n]*)*
    (?:
      (?P<value>%[A-Za-z0-9_.$-]+)
    | (?P<symbol>@(?:[A-Za-z0-9_.$-]+|"[^"\\\n]*(?:\\.[^"\\\n]*)*"))
    | (?P<block>\^[A-Za-z0-9_.$-]+)
    | (?P<string>"[^"\\\n]*(?:\\.[^"\\\n]*)*")
    | (?P<hex>x"[0-9A-Fa-f]*")
    | (?P<type>tensor<(?:[^<>\n]|<(?:[^<>\n]|<[^<>\n]*>)*>)*>
             |![A-Za-z_][A-Za-z0-9_.]*(?:<(?:[^<>\n]|<[^<>\n]*>)*>)?)
    | (?P<float>[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+
              |-inf(?![A-Za-z0-9_]))
    | (?P<int>[-+]?[0-9]+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<punct>->|\{-\#|\#-\}|[()\[\]{}<>,:=?*])
    | (?P<eof>\Z)
    | (?P<error>.)
    )""",
    re.X,
).match

_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{2})|(.))", re.S)
_SIMPLE_ESCAPES = {"n": b"\n", "t": b"\t", '"': b'"', "\\": b"\\", "r": b"\r"}


def _unescape(body: str) -> bytes:
    """The bytes of a string literal's body (raw characters as UTF-8, `\\XX` as one byte)."""
    out = bytearray()
    last = 0
    for m in _ESCAPE.finditer(body):
        out += body[last : m.start()].encode("utf-8", "surrogatepass")
        hexa, char = m.groups()
        if hexa is not None:
            out.append(int(hexa, 16))
        elif char in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[char]
        else:
            raise ValueError(f"unknown escape '\\{char}' in string")
        last = m.end()
    out += body[last:].encode("utf-8", "surrogatepass")
    return bytes(out)


class TokenStream:
    """The current token of `text` plus the helpers every parser method uses."""

    def __init__(self, text: str, filename: str, first_line: int) -> None:
        self.src = text
        self.filename = filename
        self.first_line = first_line
        self.end = 0
        self.kind = self.tok = ""
        self.pos = 0
        self.prev_end = 0
        self.advance()

    def advance(self) -> None:
        self.prev_end = self.end
        m = _TOKEN(self.src, self.end)
        kind = m.lastgroup
        start, self.end = m.span(kind)
        self.kind, self.pos, self.tok = kind, start, self.src[start : self.end]
        if kind == "error":
            if self.tok == '"':
                self.error("unterminated string")
            self.error(f"unexpected character {self.tok!r}")

    def error(self, message: str, pos: int | None = None) -> NoReturn:
        pos = self.pos if pos is None else pos
        src = self.src
        line_start = src.rfind("\n", 0, pos) + 1
        line_end = src.find("\n", pos)
        line = src[line_start : len(src) if line_end < 0 else line_end]
        number = self.first_line + src.count("\n", 0, pos)
        raise ParseError(message, self.filename, number, pos - line_start + 1, line)

    def found(self) -> str:
        return "end of input" if self.kind == "eof" else f"'{self.tok}'"

    def expect(self, punct: str) -> None:
        if self.tok != punct or self.kind != "punct":
            self.error(f"expected '{punct}', found {self.found()}")
        self.advance()

    def string(self) -> str:
        """The current string token's value (not consumed)."""
        body = self.tok[1:-1]
        if "\\" not in body:
            return body
        return self.unquote(body, self.pos)

    def unquote(self, body: str, pos: int) -> str:
        try:
            return _unescape(body).decode("utf-8", "surrogatepass")
        except (ValueError, UnicodeDecodeError) as e:
            self.error(f"bad string literal: {e}", pos)

    def symbol(self) -> str:
        """The current `@name` / `@"name"` token's name (not consumed)."""
        tok = self.tok
        if tok[1] != '"':
            return tok[1:]
        self.tok = tok[1:]
        try:
            return self.string()
        finally:
            self.tok = tok

    def name_token(self, what: str) -> str:
        """A resource name: bare identifier, number or quoted string (consumed)."""
        if self.kind in ("ident", "int"):
            name = self.tok
        elif self.kind == "string":
            name = self.string()
        else:
            self.error(f"expected {what}, found {self.found()}")
        self.advance()
        return name

    def comma_list(self, item: Callable[[], _T], close: str) -> list[_T]:
        """`item, item, ...` up to and including `close` (the opener is already consumed)."""
        items = []
        if self.tok != close:
            items.append(item())
            while self.tok == ",":
                self.advance()
                items.append(item())
        self.expect(close)
        return items
