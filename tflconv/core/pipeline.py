"""Pipeline strings: parse `a,b{opt=1 other=x},c` into pass objects and print them back.

Grammar (MLIR's options syntax, xDSL's flat form):

    pipeline := element ("," element)*
    element  := name ["{" option (" " option)* "}"]     name: a pass or a named pipeline
    option   := key ["=" value]                          key: kebab-case (snake_case accepted)
    value    := bare | "quoted" | "[" [value ("," value)*] "]"

- bool: `true`/`false` (`1`/`0` too); a key without `=` means true.
- int, float: Python literals (`inf`, `nan` for floats).
- str: bare when it only has letters, digits and `_ . - + / : @`; otherwise double-quoted with
  `\\"` and `\\\\` escapes.
- tuples: `[a,b,c]` (each element bare or quoted). Inside braces a bare `a,b,c` is accepted too,
  since options are separated by spaces, not commas; the canonical form prints brackets.
- `X | None`: `none` is None (a str option holding the text "none" prints it quoted).
- `Literal[...]` choices and `enum.Enum` members (by name).

The canonical form (`format_pipeline`) lists, in field order, only the options that differ from
their defaults, so `format(parse(format(parse(s)))) == format(parse(s))` and a canonical string
prints back unchanged. Named pipelines (`register_pipeline`) expand in place.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .pass_options import format_pass, pass_options
from .passes import PASSES, Pass, all_passes, get_pass, plugin_errors
from .rewrite import unknown_pattern_names


def check_pattern_options(known: Iterable[str], options: dict[str, Sequence[str]]) -> None:
    """A pass's pattern-name options (`enable-patterns`, `disable-patterns`: option -> names):
    `PipelineError` naming the unknown ones with "did you mean" (a typo there would otherwise
    silently enable or disable nothing)."""
    known = list(known)
    for option, names in options.items():
        problem = unknown_pattern_names(names, known) if names else None
        if problem:
            raise PipelineError(f"{option}: {problem}")


class PipelineError(ValueError):
    """A malformed pipeline string: unknown pass or option, bad value, syntax error."""


@dataclass(frozen=True)
class NamedPipeline:
    name: str
    text: str
    summary: str = ""


PIPELINES: dict[str, NamedPipeline] = {}
"""Named pipelines (`default`, `cleanup`, ...) by name; they expand inside pipeline strings."""


def register_pipeline(name: str, text: str, summary: str = "") -> NamedPipeline:
    """Register `name` as shorthand for the pipeline `text` (checked when first used)."""
    if name in PASSES:
        raise ValueError(f"pipeline name {name!r} is already a pass name")
    _Parser(text).parse()  # syntax only: the passes may register later
    named = NamedPipeline(name, text, summary)
    PIPELINES[name] = named
    return named


def format_pipeline(passes: typing.Iterable[Pass]) -> str:
    """The canonical pipeline string of `passes` (named pipelines appear expanded)."""
    return ",".join(format_pass(p) for p in passes)


# --- parsing -------------------------------------------------------------------------------


@dataclass
class _Raw:
    """An option value as written: a scalar text (bare or quoted) or a bracketed list."""

    text: str | None = None
    quoted: bool = False
    items: list[_Raw] | None = None
    col: int = 0


@dataclass
class _Element:
    name: str
    col: int
    options: list[tuple[str, _Raw | None, int]]  # key, value (None: key only), column


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, msg: str, col: int | None = None) -> PipelineError:
        return PipelineError(_with_caret(msg, self.text, self.i if col is None else col))

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def ident(self, what: str) -> str:
        m = re.compile(r"[A-Za-z_][\w\-.]*").match(self.text, self.i)
        if not m:
            found = repr(self.peek()) if self.peek() else "end of pipeline"
            raise self.error(f"expected {what}, found {found}")
        self.i = m.end()
        return m.group()

    def parse(self) -> list[_Element]:
        elements: list[_Element] = []
        self.skip_ws()
        if not self.peek():
            return elements
        while True:
            self.skip_ws()
            col = self.i
            name = self.ident("a pass name")
            self.skip_ws()
            options = self.options() if self.peek() == "{" else []
            elements.append(_Element(name, col, options))
            self.skip_ws()
            if not self.peek():
                return elements
            if self.peek() != ",":
                raise self.error(f"expected ',' between passes, found {self.peek()!r}")
            self.i += 1

    def options(self) -> list[tuple[str, _Raw | None, int]]:
        self.i += 1  # '{'
        out: list[tuple[str, _Raw | None, int]] = []
        while True:
            self.skip_ws()
            if self.peek() == "}":
                self.i += 1
                return out
            if not self.peek():
                raise self.error("unterminated '{' (missing '}')")
            col = self.i
            key = self.ident("an option name")
            value = None
            if self.peek() == "=":
                self.i += 1
                value = self.value(top=True)
            out.append((key, value, col))
            if self.peek() and not self.peek().isspace() and self.peek() != "}":
                raise self.error(f"expected ' ' or '}}' after option {key!r}")

    def value(self, top: bool) -> _Raw:
        col = self.i
        c = self.peek()
        if c == '"':
            return _Raw(self.quoted(), quoted=True, col=col)
        if c == "[":
            self.i += 1
            items: list[_Raw] = []
            self.skip_ws()
            if self.peek() == "]":
                self.i += 1
                return _Raw(items=items, col=col)
            while True:
                self.skip_ws()
                items.append(self.value(top=False))
                self.skip_ws()
                if self.peek() == "]":
                    self.i += 1
                    return _Raw(items=items, col=col)
                if self.peek() != ",":
                    raise self.error("expected ',' or ']' in a list value")
                self.i += 1
        # Bare: up to whitespace or '}' (at top level commas belong to the value: `ops=a,b`).
        stops = " \t\n}" if top else " \t\n},]"
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in stops:
            if self.text[self.i] in '"[{':
                raise self.error(f"unexpected {self.text[self.i]!r} in a bare value; quote it")
            self.i += 1
        return _Raw(self.text[start : self.i], col=col)

    def quoted(self) -> str:
        start = self.i
        self.i += 1
        out = []
        while self.i < len(self.text):
            c = self.text[self.i]
            if c == "\\" and self.i + 1 < len(self.text):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        raise self.error("unterminated string", start)


def _with_caret(msg: str, text: str, col: int) -> str:
    return f"{msg}\n  {text}\n  {' ' * col}^"


def parse_pipeline(text: str) -> list[Pass]:
    """The passes of a pipeline string, named pipelines expanded; raises `PipelineError`."""
    return _expand(text, ())


def _expand(text: str, stack: tuple[str, ...]) -> list[Pass]:
    parser = _Parser(text)
    passes: list[Pass] = []
    for element in parser.parse():
        if element.name in PIPELINES:
            if element.options:
                raise parser.error(f"named pipeline {element.name!r} takes no options", element.col)
            if element.name in stack:
                chain = " -> ".join((*stack, element.name))
                raise parser.error(f"named pipeline cycle: {chain}", element.col)
            try:
                passes.extend(_expand(PIPELINES[element.name].text, (*stack, element.name)))
            except PipelineError as e:
                raise PipelineError(f"in named pipeline {element.name!r}: {e}") from None
            continue
        cls = get_pass(element.name)
        if cls is None:
            raise parser.error(_unknown_pass(element.name), element.col)
        passes.append(_instantiate(cls, element, parser))
    return passes


def _unknown_pass(name: str) -> str:
    known = sorted(set(all_passes()) | set(PIPELINES))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    msg = f"unknown pass {name!r}{hint}"
    errors = plugin_errors()
    if errors:
        msg += " (plugins that failed to load: " + "; ".join(errors) + ")"
    return msg


def _instantiate(cls: type[Pass], element: _Element, parser: _Parser) -> Pass:
    infos = {info.key: info for info in pass_options(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw, col in element.options:
        info = infos.get(key) or infos.get(key.replace("_", "-"))
        if info is None:
            close = difflib.get_close_matches(key, list(infos), n=3, cutoff=0.6)
            if close:
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?"
            else:
                hint = f"; it has {', '.join(infos) or 'no options'}"
            raise parser.error(f"pass {cls.name!r} has no option {key!r}{hint}", col)
        if info.field in kwargs:
            raise parser.error(f"option {key!r} of pass {cls.name!r} is given twice", col)
        try:
            kwargs[info.field] = (
                True if raw is None and _accepts_bool(info.type) else _convert(raw, info.type)
            )
        except (ValueError, TypeError) as e:
            written = "no value" if raw is None else repr(_raw_text(raw))
            raise parser.error(
                f"bad value {written} for option {key!r} of pass {cls.name!r}: "
                f"expected {info.type_name} ({e})",
                col,
            ) from None
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise parser.error(f"pass {cls.name!r} rejected its options: {e}", element.col) from None


def _raw_text(raw: _Raw) -> str:
    if raw.items is not None:
        return "[" + ",".join(_raw_text(r) for r in raw.items) + "]"
    return raw.text or ""


def _accepts_bool(tp: Any) -> bool:
    return tp is bool or (
        typing.get_origin(tp) in (typing.Union, types.UnionType) and bool in typing.get_args(tp)
    )


def _convert(raw: _Raw | None, tp: Any) -> Any:
    if raw is None:
        raise ValueError("a value is required")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and raw.text == "none" and not raw.quoted:
            return None
        others = [a for a in args if a is not type(None)]
        errors = []
        for alt in others:
            try:
                return _convert(raw, alt)
            except (ValueError, TypeError) as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors))
    if origin is tuple:
        if raw.items is not None:
            items = raw.items
        elif raw.quoted:
            raise ValueError("a list is written [a,b,c]")
        else:
            items = [_Raw(t) for t in raw.text.split(",")] if raw.text else []
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(item, args[0]) for item in items)
        if args and len(items) != len(args):
            raise ValueError(f"needs {len(args)} values, got {len(items)}")
        return (
            tuple(_convert(item, a) for item, a in zip(items, args))
            if args
            else tuple(_convert(item, str) for item in items)
        )
    if raw.items is not None:
        raise ValueError("a list is not allowed here")
    text = raw.text or ""
    if origin is Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        raise ValueError(f"one of {', '.join(str(a) for a in args)}")
    if tp is bool:
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValueError("true or false")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            return int(text, 0)
    if tp is float:
        return float(text)
    if tp is str:
        return text
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp[text]
        except KeyError:
            raise ValueError(f"one of {', '.join(m.name for m in tp)}") from None
    raise TypeError(f"unsupported option type {tp!r}")
