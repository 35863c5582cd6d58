"""The textual form of the IR: the parser (the syntax is described in `printer.py`).

A regex-driven pull lexer and a recursive-descent parser, linear in the text size. It reads
everything the printer writes, plus `%0`-style names, `//` comments, `func.func` with or without
`attributes`, `-> T` without parentheses, and a bare list of `func.func` (wrapped in a module).
Values must be defined before they are used. Errors raise `ParseError` with the position:

    model.mlir:3:18: error: use of undefined value %y
        %r = "tf.Relu"(%y) : (tensor<f32>) -> tensor<f32>
                       ^
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import numpy as np

from .ir import Block, Function, Module, Operation, Region, Value
from .location import UNKNOWN, Location, SourceLine
from .printer import ELIDED_MARKER, ElidedArray, ElidedBytes, elided_array, print_type
from .types import DTYPES, NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType, TypeAttr

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

# Fast paths for the common shapes of an op line; anything else goes token by token.
_NAME = r"%[A-Za-z0-9_.$-]+"
_STR = r'[^"\\\n]*(?:\\.[^"\\\n]*)*'
_OP_HEAD = re.compile(
    rf'(?:((?:{_NAME}, )*{_NAME}) = )?"({_STR})"\(((?:{_NAME}, )*{_NAME})?\)'
).match
_TYPE = r"tensor<(?:[^<>\n]|<(?:[^<>\n]|<[^<>\n]*>)*>)*>"
_SIGNATURE = re.compile(
    rf":[ \t]*\([^()\n]*\)[ \t]*->[ \t]*(?:\([^()\n]*\)|{_TYPE}|none(?![\w$.]))"
).match
_ATTR_ENTRY = re.compile(
    r'([A-Za-z_][A-Za-z0-9_$.]*) = (?:"([^"\\\n]*)"|([-+]?[0-9]+)|([-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)'
    r"|([A-Za-z_][A-Za-z0-9_]*)|\[((?:[-+]?[0-9]+(?:, [-+]?[0-9]+)*)?)\]"
    r'|\[("[^"\\\n]*"(?:, "[^"\\\n]*")*)\])(?:(, )(?=[A-Za-z_"])|(?=\}))'
).match
_LOC = re.compile(rf'loc\("({_STR})"(?:\("({_STR})":([0-9]+):[0-9]+\))?\)').match


def _split_names(text: str | None, pos: int) -> tuple[list[str], list[int]]:
    """`%a, %b` -> (["a", "b"], [positions])."""
    if text is None:
        return [], []
    names, positions = [], []
    for part in text.split(", "):
        names.append(part[1:])
        positions.append(pos)
        pos += len(part) + 2
    return names, positions


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


# --- types -----------------------------------------------------------------------------------

_DTYPE_BY_TEXT = {d: d for d in DTYPES}
_DTYPE_BY_TEXT.update(
    {
        "!tf.string": "string",
        "!tf.resource": "resource",
        "!tf.variant": "variant",
        "complex<f32>": "complex64",
        "complex<f64>": "complex128",
    }
)
_TENSOR = re.compile(r"tensor<(\*x|(?:(?:[0-9]+|\?)x)*)(.*)>\Z", re.S)
_F = r"[-+]?(?:[0-9]+\.?[0-9]*(?:[eE][-+]?[0-9]+)?|inf|nan)"
_UNIFORM = re.compile(
    rf"!quant\.uniform<(\w+)(?:<-?\d+:-?\d+>)?:\w+(?::(-?\d+))?,\s*"
    rf"(?:({_F}):(-?\d+)|\{{([^{{}}]*)\}})(?:,\s*range\s*\{{([^{{}}]*)\}})?>\Z"
)
_CALIBRATED_ONE = re.compile(rf"!quant\.calibrated<(\w+)<({_F}):({_F})>>\Z")
_CALIBRATED = re.compile(r"!quant\.calibrated<(\w+)(?::(-?\d+))?,\s*\{([^{}]*)\}>\Z")


def _pairs(text: str, second: type) -> tuple[tuple[float, ...], tuple[Any, ...]]:
    firsts, seconds = [], []
    for item in text.split(","):
        if not item.strip():
            continue
        a, b = item.split(":")
        firsts.append(float(a))
        seconds.append(second(b))
    if not firsts and text.strip():
        raise ValueError(text)
    return tuple(firsts), tuple(seconds)


def _quant(text: str) -> tuple[str, QuantParams]:
    """Storage dtype and parameters of a `!quant.uniform<...>` / `!quant.calibrated<...>`."""
    m = _UNIFORM.match(text)
    if m is not None:
        dtype, axis, scale, zp, many, ranges = m.groups()
        if scale is not None:
            scales, zps = (float(scale),), (int(zp),)
        else:
            scales, zps = _pairs(many, int)
        lo, hi = _pairs(ranges, float) if ranges is not None else ((), ())
        return dtype, QuantParams(scales, zps, None if axis is None else int(axis), lo, hi)
    m = _CALIBRATED_ONE.match(text)
    if m is not None:
        return m.group(1), QuantParams((), (), None, (float(m.group(2)),), (float(m.group(3)),))
    m = _CALIBRATED.match(text)
    if m is not None:
        lo, hi = _pairs(m.group(3), float)
        axis = None if m.group(2) is None else int(m.group(2))
        return m.group(1), QuantParams((), (), axis, lo, hi)
    raise ValueError("malformed quantized type")


# --- the parser --------------------------------------------------------------------------------

_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "unit": None,
    "inf": float("inf"),
    "nan": float("nan"),
}
_MISSING = object()


class _Parser:
    def __init__(self, text: str, filename: str, first_line: int) -> None:
        self.src = text
        self.filename = filename
        self.first_line = first_line
        self.end = 0
        self.kind = self.tok = ""
        self.pos = 0
        self.values: dict[str, Value] = {}
        self.scopes: list[list[str]] = []
        self.types: dict[str, TensorType] = {}
        self.resource_refs: list[tuple[str, int, ElidedArray]] = []
        self.resource_owners: list[dict[str, Any]] = []
        self.blobs: dict[str, tuple[str, int]] | None = None
        self.function_names: set[str] = set()
        self.signatures: dict[str, tuple[list[TensorType], list[TensorType]]] = {}
        self.prev_end = 0
        self.advance()

    # --- tokens and errors ---------------------------------------------------------------------
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

    # --- module and functions ----------------------------------------------------------------
    def module(self) -> Module:
        module = Module()
        if self.tok == "module" and self.kind == "ident":
            self.advance()
            if self.kind == "symbol":
                self.advance()
            if self.tok == "attributes":
                self.advance()
                count = len(self.resource_refs)
                module.attributes = self.attr_dict()
                if len(self.resource_refs) > count:
                    self.resource_owners.append(module.attributes)
            self.expect("{")
            while self.tok != "}":
                if self.tok != "func.func":
                    self.error(f"expected 'func.func' or '}}', found {self.found()}")
                self.function(module)
            self.advance()
        elif self.tok == "func.func" or self.kind == "eof" or self.tok == "{-#":
            while self.tok == "func.func":
                self.function(module)
        else:
            self.error(f"expected 'module' or 'func.func', found {self.found()}")
        if self.tok == "{-#":
            self.resource_section()
        if self.kind != "eof":
            expected = "'func.func'" if self.tok != "}" else "end of input"
            self.error(f"expected {expected}, found {self.found()}")
        self.resolve_resources()
        return module

    def function(self, module: Module) -> None:
        self.advance()  # func.func
        if self.tok in ("private", "public", "nested") and self.kind == "ident":
            self.advance()
        if self.kind != "symbol":
            self.error(f"expected a function name like @main, found {self.found()}")
        name, name_pos = self.symbol(), self.pos
        if name in self.function_names:
            self.error(f"redefinition of function @{name}", name_pos)
        self.advance()
        self.values = {}
        self.scopes = []
        names, types, positions = self.arg_list()
        results: list[TensorType] | None = None
        results_pos = self.pos
        if self.tok == "->":
            self.advance()
            results_pos = self.pos
            results = self.result_types()
        attrs: dict[str, Any] = {}
        count = len(self.resource_refs)
        if self.tok == "attributes":
            self.advance()
            attrs = self.attr_dict()
        fn = Function(name, types, names, attrs)
        if len(self.resource_refs) > count:
            self.resource_owners.append(fn.attributes)
        for arg, pos in zip(fn.args, positions):
            self.define(arg.name_hint, arg, pos)
        if self.tok != "{":
            self.error(f"expected '{{' to open the body of @{name}, found {self.found()}")
        self.advance()
        self.block_ops(fn.block, fn.body)
        self.advance()  # '}'
        term = fn.block.terminator
        returned = [v.type for v in term.operands] if term and term.name == "func.return" else []
        if (results or []) != returned:
            self.error(
                f"@{name} declares results ({', '.join(map(print_type, results or []))}) but "
                f"func.return gives ({', '.join(map(print_type, returned))})",
                results_pos,
            )
        module.add_function(fn)
        self.function_names.add(name)

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

    def value_ref(self, what: str) -> tuple[str, int]:
        """A `%name` token: (name, position), consumed."""
        if self.kind != "value":
            self.error(f"expected {what} like %x, found {self.found()}")
        name, pos = self.tok[1:], self.pos
        self.advance()
        return name, pos

    def arg_list(self) -> tuple[list[str], list[TensorType], list[int]]:
        """`(%a: T, %b: T)` of a function or block label."""

        def arg() -> tuple[str, TensorType, int]:
            name, pos = self.value_ref("an argument")
            self.expect(":")
            return name, self.type(), pos

        self.expect("(")
        args = self.comma_list(arg, ")")
        return [a[0] for a in args], [a[1] for a in args], [a[2] for a in args]

    def define(self, name: str, value: Value, pos: int) -> None:
        if name in self.values:
            self.error(f"redefinition of value %{name}", pos)
        self.values[name] = value
        if self.scopes:
            self.scopes[-1].append(name)

    # --- blocks and regions ---------------------------------------------------------------
    def block_ops(self, block: Block | None, region: Region) -> None:
        """Ops (and further labelled blocks) up to the closing '}' (not consumed)."""
        while True:
            kind = self.kind
            if kind == "value" or kind == "string":
                if block is None:
                    block = region.add_block(Block())
                block.append(self.op())
            elif kind == "block":
                block = region.add_block(self.block_label())
            elif self.tok == "}" and kind == "punct":
                return
            else:
                self.error(f"expected an op or '}}', found {self.found()}")

    def block_label(self) -> Block:
        self.advance()  # ^bb
        names: list[str] = []
        types: list[TensorType] = []
        positions: list[int] = []
        if self.tok == "(":
            names, types, positions = self.arg_list()
        self.expect(":")
        block = Block(types, names)
        for arg, pos in zip(block.args, positions):
            self.define(arg.name_hint, arg, pos)
        return block

    def region(self) -> Region:
        self.expect("{")
        self.scopes.append([])
        region = Region()
        self.block_ops(None, region)
        self.advance()  # '}'
        for name in self.scopes.pop():
            del self.values[name]
        return region

    # --- ops ---------------------------------------------------------------------------------
    def op(self) -> Operation:
        start = self.pos
        m = _OP_HEAD(self.src, start)
        if m is not None:  # fast path: the whole `%a, %b = "name"(%x, %y)` in one match
            results_text, name, operands_text = m.groups()
            result_names, result_pos = _split_names(results_text, m.start(1))
            if "\\" in name:
                name = self.unquote(name, m.start(2))
            operand_names, operand_pos = _split_names(operands_text, m.start(3))
            values = self.values
            operands = []
            for text, pos in zip(operand_names, operand_pos):
                value = values.get(text)
                if value is None:
                    self.error(f"use of undefined value %{text}", pos)
                operands.append(value)
            self.end = m.end()
            self.advance()
        else:
            result_names, result_pos, name, operands, operand_names, operand_pos = self.op_head()
        regions: list[Region] = []
        if self.tok == "(":
            self.advance()
            regions = self.comma_list(self.region, ")")
        attrs = None
        count = len(self.resource_refs)
        if self.tok == "{":
            attrs = self.attr_dict()
        if self.tok != ":":
            self.error(f"expected ':' and the type signature of '{name}', found {self.found()}")
        m = _SIGNATURE(self.src, self.pos)
        cached = self.signatures.get(m.group()) if m is not None else None
        if cached is not None:  # fast path: signatures repeat a lot
            sig_pos = self.pos + m.group().index("(")  # type: ignore[union-attr]
            in_types, out_types = cached
            self.end = m.end()  # type: ignore[union-attr]
            self.advance()
        else:
            self.advance()
            sig_pos = self.pos
            self.expect("(")
            in_types = self.type_list()
            if self.tok != "->":
                self.error(f"expected '->' and the result types, found {self.found()}")
            self.advance()
            out_types = self.result_types()
            if m is not None and m.end() == self.prev_end:
                self.signatures[m.group()] = (in_types, out_types)
        if len(in_types) != len(operands):
            self.error(
                f"'{name}' has {len(operands)} operands but its type signature lists "
                f"{len(in_types)}",
                sig_pos,
            )
        for value, t, pos, text in zip(operands, in_types, operand_pos, operand_names):
            if value.type is not t and value.type != t:
                self.error(
                    f"operand %{text} has type "
                    f"{print_type(value.type)} but the signature says {print_type(t)}",
                    pos,
                )
        if len(result_names) != len(out_types):
            self.error(
                f"'{name}' defines {len(result_names)} result names but its type signature "
                f"lists {len(out_types)} results",
                start,
            )
        location = UNKNOWN
        if self.tok == "loc" and self.kind == "ident":
            m = _LOC(self.src, self.pos)
            if m is not None:  # fast path: `loc("name")` / `loc("name"("file":line:col))`
                node, file, line = m.groups()
                if "\\" in node:
                    node = self.unquote(node, m.start(1))
                if file is None:
                    location = Location(((node, None),))
                else:
                    if "\\" in file:
                        file = self.unquote(file, m.start(2))
                    location = Location(((node, SourceLine(file, int(line))),))
                self.end = m.end()
                self.advance()
            else:
                location = self.location()
        op = Operation(name, operands, out_types, attrs, regions, location, result_names or None)
        if len(self.resource_refs) > count:
            self.resource_owners.append(op.attributes)
        for result, pos in zip(op.results, result_pos):
            self.define(result.name_hint, result, pos)  # type: ignore[arg-type]
        return op

    def op_head(self) -> tuple[list[str], list[int], str, list[Value], list[str], list[int]]:
        """`%a, %b = "name"(%x, %y)` token by token (any spacing)."""
        results = []
        if self.kind == "value":
            results.append(self.value_ref("a result name"))
            while self.tok == ",":
                self.advance()
                results.append(self.value_ref("a result name"))
            self.expect("=")
        if self.kind != "string":
            self.error(f'expected an op name in quotes like "tf.Relu", found {self.found()}')
        name = self.string()
        self.advance()
        self.expect("(")
        refs = self.comma_list(lambda: self.value_ref("an operand"), ")")
        operands = []
        for ref, pos in refs:
            value = self.values.get(ref)
            if value is None:
                self.error(f"use of undefined value %{ref}", pos)
            operands.append(value)
        return (
            [r[0] for r in results],
            [r[1] for r in results],
            name,
            operands,
            [r[0] for r in refs],
            [r[1] for r in refs],
        )

    def type_list(self) -> list[TensorType]:
        """Types up to and including ')' (the '(' is already consumed)."""
        return self.comma_list(self.type, ")")

    def result_types(self) -> list[TensorType]:
        if self.tok == "(":
            self.advance()
            return self.type_list()
        return [self.type()]

    def type(self) -> TensorType:
        if self.kind == "type":
            t = self.types.get(self.tok)
            if t is None:
                if not self.tok.startswith("tensor<"):
                    self.error(f"expected a tensor type, found '{self.tok}'")
                t = self.types[self.tok] = self.tensor_type(self.tok, self.pos)
            self.advance()
            return t
        if self.tok == "none" and self.kind == "ident":
            self.advance()
            return NO_VALUE_TYPE
        if self.kind == "ident":
            self.error(f"unknown type '{self.tok}'")
        self.error(f"expected a type, found {self.found()}")

    def tensor_type(self, text: str, pos: int) -> TensorType:
        m = _TENSOR.match(text)
        if m is None:
            self.error(f"malformed tensor type '{text}'", pos)
        dims, elem = m.group(1), m.group(2)
        shape = (
            None
            if dims == "*x"
            else tuple(None if d == "?" else int(d) for d in dims.split("x")[:-1])
        )
        dtype = _DTYPE_BY_TEXT.get(elem)
        if dtype is not None:
            return TensorType(shape, dtype)
        if elem.startswith("!quant."):
            try:
                dtype, quant = _quant(elem)
                if dtype not in DTYPES:
                    raise ValueError(f"unknown storage type '{dtype}'")
                return TensorType(shape, dtype, quant)
            except ValueError as e:
                self.error(f"bad quantized type '{elem}': {e}", pos + m.start(2))
        self.error(f"unknown element type '{elem}'", pos + m.start(2))

    def location(self) -> Location:
        self.advance()  # loc
        self.expect("(")
        if self.tok == "unknown":
            self.advance()
            loc = UNKNOWN
        elif self.tok == "fused":
            self.advance()
            self.expect("[")
            loc = Location(tuple(self.comma_list(self.loc_entry, "]")))
        else:
            loc = Location((self.loc_entry(),))
        self.expect(")")
        return loc

    def loc_entry(self) -> tuple[str, SourceLine | None]:
        if self.kind != "string":
            self.error(f"expected a location name in quotes, found {self.found()}")
        name = self.string()
        self.advance()
        if self.tok == ":":  # a bare "file":line:col
            return "", SourceLine(name, self.line_col())
        if self.tok != "(":
            return name, None
        self.advance()
        if self.kind != "string":
            self.error(f"expected a file name in quotes, found {self.found()}")
        file = self.string()
        self.advance()
        source = SourceLine(file, self.line_col())
        self.expect(")")
        return name, source

    def line_col(self) -> int:
        self.expect(":")
        if self.kind != "int":
            self.error(f"expected a line number, found {self.found()}")
        line = int(self.tok)
        self.advance()
        self.expect(":")
        if self.kind != "int":
            self.error(f"expected a column number, found {self.found()}")
        self.advance()
        return line

    # --- attributes ------------------------------------------------------------------------
    def attr_dict(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        src = self.src
        if self.tok != "}":
            while True:
                m = _ATTR_ENTRY(src, self.pos)
                if m is not None:  # fast path: `key = <simple scalar>`
                    key, text, integer, real, ident, ints, texts, more = m.groups()
                    if text is not None:
                        value: Any = text
                    elif integer is not None:
                        value = int(integer)
                    elif real is not None:
                        value = float(real)
                    elif ints is not None:
                        value = [int(x) for x in ints.split(", ")] if ints else []
                    elif texts is not None:
                        value = texts[1:-1].split('", "')
                    else:
                        value = _CONSTANTS.get(ident, _MISSING)
                        if value is _MISSING:
                            value = TypeAttr(ident) if ident in DTYPES else _MISSING
                    if value is not _MISSING:
                        if key in out:
                            self.error(f"duplicate attribute '{key}'")
                        out[key] = value
                        self.end = m.end()
                        self.advance()
                        if more is None:
                            break
                        continue
                if self.kind == "ident":
                    key = self.tok
                elif self.kind == "string":
                    key = self.string()
                else:
                    self.error(f"expected an attribute name, found {self.found()}")
                if key in out:
                    self.error(f"duplicate attribute '{key}'")
                self.advance()
                if self.tok == "=":
                    self.advance()
                    out[key] = self.attr_value()
                else:
                    out[key] = None  # MLIR's bare unit attribute
                if self.tok != ",":
                    break
                self.advance()
        self.expect("}")
        return out

    def attr_value(self) -> Any:
        kind, tok = self.kind, self.tok
        if kind == "string":
            value = self.string()
            self.advance()
            return value
        if kind == "int":
            self.advance()
            return int(tok)
        if kind == "float":
            self.advance()
            return float(tok)
        if kind == "ident":
            value = _CONSTANTS.get(tok, _MISSING)
            if value is not _MISSING:
                self.advance()
                return value
            if tok == "dense":
                return self.dense()
            if tok == "dense_resource":
                return self.dense_resource()
            if tok == "bytes_resource":
                return self.bytes_resource()
            if tok in DTYPES:
                self.advance()
                return TypeAttr(tok)
            self.error(f"unknown attribute value '{tok}'")
        if tok == "[" and kind == "punct":
            self.advance()
            return self.comma_list(self.attr_value, "]")
        if tok == "{" and kind == "punct":
            return self.attr_dict()
        if kind == "hex":
            if (len(tok) - 3) % 2:
                self.error("bytes literal has an odd number of hex digits")
            self.advance()
            return bytes.fromhex(tok[2:-1])
        if kind == "symbol":
            name = self.symbol()
            self.advance()
            return SymbolRef(name)
        if kind == "type":
            if tok.startswith("tensor<"):
                return self.type()
            dtype = _DTYPE_BY_TEXT.get(tok)
            if dtype is None:
                self.error(f"unknown type '{tok}'")
            self.advance()
            return TypeAttr(dtype)
        self.error(f"expected an attribute value, found {self.found()}")

    def static_type(self) -> tuple[TensorType, np.dtype, int]:
        """`: tensor<...>` after dense data: the type, its numpy dtype and its position."""
        self.expect(":")
        pos = self.pos
        t = self.type()
        if not t.is_static or t.quant is not None:
            self.error(f"dense data needs a static, non-quantized type, not {print_type(t)}", pos)
        dt = DTYPES.get(t.dtype)
        if dt is None:
            self.error(f"element type {t.dtype} cannot hold constant data", pos)
        return t, dt, pos

    def dense(self) -> np.ndarray:
        pos = self.pos
        self.advance()  # dense
        self.expect("<")
        flat: list[Any] = []
        splat = self.tok != "["
        if splat:
            flat.append(self.dense_element())
        else:
            self.dense_list(flat)
        self.expect(">")
        t, dt, type_pos = self.static_type()
        shape = t.shape
        n = t.num_elements
        want = {"f": (int, float), "i": int, "u": int, "b": bool, "c": (int, float, complex)}
        ok = want.get(dt.kind, bytes)
        for x in flat:
            if not isinstance(x, ok) or (dt.kind in "iuf" and isinstance(x, bool)):
                self.error(f"element {x!r} does not fit {print_type(t)}", pos)
        if not splat and len(flat) != n:
            self.error(f"dense data has {len(flat)} elements but {print_type(t)} needs {n}", pos)
        try:
            if splat and dt.kind == "O":
                # np.full routes bytes through a fixed-width 'S' array, which drops trailing NULs.
                filled = np.empty(shape, dtype=dt)  # type: ignore[arg-type]
                filled.fill(flat[0])
                return filled
            if splat:
                return np.full(shape, flat[0], dtype=dt)  # type: ignore[arg-type]
            return np.array(flat, dtype=dt).reshape(shape)  # type: ignore[arg-type]
        except (OverflowError, ValueError) as e:
            self.error(f"dense data does not fit {print_type(t)}: {e}", type_pos)

    def dense_list(self, flat: list[Any]) -> None:
        self.advance()  # '['
        if self.tok != "]":
            while True:
                if self.tok == "[":
                    self.dense_list(flat)
                else:
                    flat.append(self.dense_element())
                if self.tok != ",":
                    break
                self.advance()
        self.expect("]")

    def dense_element(self) -> Any:
        kind, tok = self.kind, self.tok
        if kind == "int":
            value: Any = int(tok)
        elif kind == "float":
            value = float(tok)
        elif kind == "string":
            try:
                value = _unescape(tok[1:-1])
            except ValueError as e:
                self.error(str(e))
        elif kind == "ident" and tok in ("true", "false", "inf", "nan"):
            value = _CONSTANTS[tok]
        elif tok == "(":
            self.advance()
            real = self.dense_element()
            self.expect(",")
            imag = self.dense_element()
            if self.tok != ")":
                self.expect(")")
            value = complex(real, imag)
        else:
            self.error(f"expected a dense element, found {self.found()}")
        self.advance()
        return value

    def dense_resource(self) -> ElidedArray:
        pos = self.pos
        self.advance()  # dense_resource
        self.expect("<")
        name = self.name_token("a resource name")
        self.expect(">")
        t, dt, _ = self.static_type()
        array = elided_array(name, t.shape, dt)  # type: ignore[arg-type]
        self.resource_refs.append((name, pos, array))
        return array

    def bytes_resource(self) -> ElidedBytes:
        self.advance()  # bytes_resource
        self.expect("<")
        name = self.name_token("a resource name")
        self.expect(",")
        if self.kind != "int":
            self.error(f"expected the byte length, found {self.found()}")
        length = int(self.tok)
        self.advance()
        self.expect(">")
        return ElidedBytes(name, length)

    # --- the resource section ------------------------------------------------------------------
    def resource_section(self) -> None:
        self.advance()  # {-#
        self.blobs = {}
        while self.tok != "#-}":
            if self.kind != "ident":
                self.error(f"expected 'dialect_resources', found {self.found()}")
            section = self.tok
            self.advance()
            self.expect(":")
            self.expect("{")
            while self.tok != "}":
                if self.kind != "ident":
                    self.error(f"expected a dialect name, found {self.found()}")
                keep = section == "dialect_resources" and self.tok == "builtin"
                self.advance()
                self.expect(":")
                self.expect("{")
                while self.tok != "}":
                    name_pos = self.pos
                    name = self.name_token("a resource name")
                    self.expect(":")
                    if self.kind != "string":
                        self.error(f"expected a quoted hex blob, found {self.found()}")
                    if keep:
                        if name in self.blobs:
                            self.error(f"duplicate resource '{name}'", name_pos)
                        self.blobs[name] = (self.string(), self.pos)
                    self.advance()
                    if self.tok == ",":
                        self.advance()
                self.advance()
                if self.tok == ",":
                    self.advance()
            self.advance()
            if self.tok == ",":
                self.advance()
        self.advance()

    def resolve_resources(self) -> None:
        """Swap placeholders for the data of a full resource section (if the text has one)."""
        if self.blobs is None:
            return
        real: dict[int, np.ndarray] = {}
        for name, pos, placeholder in self.resource_refs:
            entry = self.blobs.get(name)
            if entry is None:
                self.error(f"use of undefined resource '{name}'", pos)
            blob, blob_pos = entry
            if blob == ELIDED_MARKER:
                continue
            dtype = placeholder.dtype
            if dtype.kind == "O":
                self.error("string tensors cannot be read from a resource blob", pos)
            if not blob.startswith("0x"):
                self.error(f"resource '{name}' must be a hex string starting with 0x", blob_pos)
            try:
                data = bytearray.fromhex(blob[2:])
            except ValueError:
                self.error(f"resource '{name}' is not valid hex", blob_pos)
            expected = placeholder.size * dtype.itemsize
            if len(data) == expected + 4:  # MLIR blobs start with a 4-byte alignment word
                del data[:4]
            if len(data) != expected:
                self.error(
                    f"resource '{name}' holds {len(data)} bytes, the type needs {expected}", pos
                )
            array = np.frombuffer(data, dtype=dtype.newbyteorder("<"))
            real[id(placeholder)] = array.astype(dtype, copy=False).reshape(placeholder.shape)
        for attrs in self.resource_owners:
            _replace(attrs, real)


def _replace(container: dict[str, Any] | list[Any], real: dict[int, np.ndarray]) -> None:
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in list(items):
        if isinstance(value, ElidedArray):
            found = real.get(id(value))
            if found is not None:
                container[key] = found  # type: ignore[index]
        elif isinstance(value, (dict, list)):
            _replace(value, real)


# --- public API -------------------------------------------------------------------------------


def parse_module(text: str, filename: str = "<input>", *, first_line: int = 1) -> Module:
    """Parse a module (or a bare list of `func.func`). `first_line` numbers error lines when
    `text` is a chunk of a larger file (see `split_input_file`)."""
    return _Parser(text, filename, first_line).module()


def parse_type(text: str) -> TensorType:
    """`tensor<...>` or `none`."""
    parser = _Parser(text, "<type>", 1)
    t = parser.type()
    if parser.kind != "eof":
        parser.error(f"unexpected {parser.found()} after the type")
    return t


def parse_attr(text: str) -> Any:
    """One attribute value, as `print_attr` writes it."""
    parser = _Parser(text, "<attribute>", 1)
    value = parser.attr_value()
    if parser.kind != "eof":
        parser.error(f"unexpected {parser.found()} after the attribute")
    if parser.resource_refs:
        parser.blobs = None
    return value


_SPLIT = re.compile(r"^[ \t]*// -----[^\n]*(?:\n|\Z)", re.M)


def split_input_file(text: str) -> list[tuple[str, int]]:
    """Split on `// -----` lines; each chunk comes with the file line it starts on."""
    chunks: list[tuple[str, int]] = []
    prev, line = 0, 1
    for m in _SPLIT.finditer(text):
        chunks.append((text[prev : m.start()], line))
        line += text.count("\n", prev, m.end())
        prev = m.end()
    chunks.append((text[prev:], line))
    return chunks
