"""The textual form of the IR: types, attribute values, dense data and locations.

Split out of `parser.py` (house rule: files under ~800 lines, split by concept). This is the
"value" half of the parser: everything that can appear inside an attribute dictionary or a
type signature, plus the `{-# dialect_resources ... #-}` section that backs `dense_resource`.
`AttributeParser` is a base class of the structural `parser._Parser`; it keeps the caches
and resource bookkeeping those values need (`types`, `resource_refs`, `resource_owners`,
`blobs`), while `parser.py` keeps modules, functions, ops, regions and blocks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .lexer import TokenStream, _unescape
from .location import UNKNOWN, Location, SourceLine
from .printer import (
    ELIDED_MARKER,
    NAMES_SECTION,
    ElidedArray,
    ElidedBytes,
    elided_array,
    print_type,
)
from .resources import FILE_PREFIX, BlobError, read_blob
from .types import DTYPES, NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType, TypeAttr

# TF's quantized dtypes exist only as type attributes (their tensors carry the storage type).
TF_QUANTIZED_DTYPES = frozenset({"qint8", "quint8", "qint16", "quint16", "qint32"})
TYPE_ATTR_NAMES = frozenset(DTYPES) | TF_QUANTIZED_DTYPES

# Fast path for `key = <simple scalar>` entries of an attribute dictionary.
_ATTR_ENTRY = re.compile(
    r'([A-Za-z_][A-Za-z0-9_$.]*) = (?:"([^"\\\n]*)"|([-+]?[0-9]+)|([-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?)'
    r"|([A-Za-z_][A-Za-z0-9_]*)|\[((?:[-+]?[0-9]+(?:, [-+]?[0-9]+)*)?)\]"
    r'|\[("[^"\\\n]*"(?:, "[^"\\\n]*")*)\])(?:(, )(?=[A-Za-z_"])|(?=\}))'
).match

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


# --- attribute values ----------------------------------------------------------------------

_CONSTANTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "unit": None,
    "inf": float("inf"),
    "nan": float("nan"),
}
_MISSING = object()


class AttributeParser(TokenStream):
    """Parses types, attribute values, dense/resource data and locations (see module doc)."""

    def __init__(self, text: str, filename: str, first_line: int) -> None:
        self.types: dict[str, TensorType] = {}
        self.resource_refs: list[tuple[str, int, ElidedArray]] = []
        self.resource_owners: list[dict[str, Any]] = []
        self.blobs: dict[str, tuple[str, int]] | None = None
        self.name_table: dict[str, tuple[str, int]] = {}
        super().__init__(text, filename, first_line)

    # --- types -------------------------------------------------------------------------------
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
                            value = TypeAttr(ident) if ident in TYPE_ATTR_NAMES else _MISSING
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
            if tok in TYPE_ATTR_NAMES:
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
        except (OverflowError, ValueError, MemoryError) as e:
            self.error(f"dense data does not fit {print_type(t)}: {e or 'out of memory'}", type_pos)

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
        t, dt, type_pos = self.static_type()
        try:
            array = elided_array(name, t.shape, dt)  # type: ignore[arg-type]
        except (ValueError, MemoryError) as e:
            self.error(
                f"dense_resource does not fit {print_type(t)}: {e or 'out of memory'}", type_pos
            )
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
                names = section == NAMES_SECTION
                self.advance()
                self.expect(":")
                self.expect("{")
                while self.tok != "}":
                    name_pos = self.pos
                    name = self.name_token("a resource name")
                    self.expect(":")
                    if self.kind != "string":
                        self.error(f"expected a quoted hex blob, found {self.found()}")
                    if names:
                        self.name_table[name] = (self.string(), self.pos)
                    elif keep:
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
            if blob.startswith(FILE_PREFIX):
                data = self.external_blob(name, blob, blob_pos)
            else:
                if not blob.startswith("0x"):
                    self.error(
                        f"resource '{name}' must be a hex string starting with 0x (or a "
                        "file:PATH:OFFSET:SIZE reference)",
                        blob_pos,
                    )
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

    def external_blob(self, name: str, ref: str, pos: int) -> bytearray:
        """The bytes of a `file:` reference, relative to the directory of the parsed file."""
        named = self.filename not in ("<input>", "-", "<stdin>") and not self.filename.startswith(
            "<"
        )
        base = Path(self.filename).parent if named else Path.cwd()
        try:
            return bytearray(read_blob(ref, base))
        except BlobError as e:
            self.error(f"resource '{name}': {e}", pos)


def _replace(container: dict[str, Any] | list[Any], real: dict[int, np.ndarray]) -> None:
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in list(items):
        if isinstance(value, ElidedArray):
            found = real.get(id(value))
            if found is not None:
                container[key] = found  # type: ignore[index]
        elif isinstance(value, (dict, list)):
            _replace(value, real)
