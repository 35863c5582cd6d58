"""The textual form of the IR: the parser (the syntax is described in `printer.py`).

A regex-driven pull lexer and a recursive-descent parser, linear in the text size. It reads
everything the printer writes, plus `%0`-style names, `//` comments, `func.func` with or without
`attributes`, `-> T` without parentheses, and a bare list of `func.func` (wrapped in a module).
Values must be defined before they are used. Errors raise `ParseError` with the position:

    model.mlir:3:18: error: use of undefined value %y
        %r = "tf.Relu"(%y) : (tensor<f32>) -> tensor<f32>
                       ^

The parser is split by concept to keep files small: `lexer.py` holds the token stream and
`ParseError`, `parser_attrs.py` the types, attribute values, dense data and locations (the
`AttributeParser` base class), and this file the structure (module, functions, ops, regions,
blocks) and the public entry points.
"""

from __future__ import annotations

import re
from typing import Any

from .ir import Block, Function, Module, Operation, Region, Value
from .lexer import ParseError
from .location import UNKNOWN, Location, SourceLine
from .parser_attrs import AttributeParser
from .printer import print_type, recovered_name
from .types import TensorType

__all__ = ["ParseError", "parse_attr", "parse_module", "parse_type", "split_input_file"]

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


# --- the parser --------------------------------------------------------------------------------


class _Parser(AttributeParser):
    """Modules, functions, ops, regions and blocks; values come from `AttributeParser`."""

    def __init__(self, text: str, filename: str, first_line: int) -> None:
        self.values: dict[str, Value] = {}
        self.function_values: dict[str, Value] = {}  # every value of the function, by name
        self.all_function_values: list[dict[str, Value]] = []
        self.scopes: list[list[str]] = []
        self.function_names: set[str] = set()
        self.signatures: dict[str, tuple[list[TensorType], list[TensorType]]] = {}
        super().__init__(text, filename, first_line)

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
        self.restore_names()
        return module

    def restore_names(self) -> None:
        """Apply a `tflconv_names` section (exact names the printed ones stand for)."""
        for key, (exact, pos) in self.name_table.items():
            index, _, printed = key.partition("/%")
            try:
                value = self.all_function_values[int(index)][printed]
            except (ValueError, IndexError, KeyError):
                self.error(f"tflconv_names: no value {key!r}", pos)
            value.name_hint = exact

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
        self.function_values = {}
        self.all_function_values.append(self.function_values)
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
        self.function_values[name] = value
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
        hints = [recovered_name(n, k, name, location) for k, n in enumerate(result_names)]
        op = Operation(name, operands, out_types, attrs, regions, location, hints or None)
        if len(self.resource_refs) > count:
            self.resource_owners.append(op.attributes)
        for result, text, pos in zip(op.results, result_names, result_pos):
            self.define(text, result, pos)
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
