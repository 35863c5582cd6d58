"""The textual form of the IR (MLIR generic syntax): the printer. `parser.py` reads it back.

    module attributes {tfl.description = "x"} {
      func.func @main(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>) attributes {entry = true} {
        %w = "arith.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
        %r = "tf.Relu"(%x) {T = f32} : (tensor<?x4xf32>) -> tensor<?x4xf32> loc("n"("m.py":12:0))
        "func.return"(%r) : (tensor<?x4xf32>) -> ()
      }
    }

Guarantees: printing is deterministic, and `print_module(parse_module(text)) == text` for any
text this printer made. Syntax choices beyond MLIR's generic form:

Types: `tensor<1x?x4xf32>`, `tensor<*xf32>` (unranked), `tensor<f32>` (rank 0), `none` (the type
of `tfl.no_value`), `tensor<!tf.string>` / `!tf.resource` / `!tf.variant`.
Quantization (the storage type is the tensor's dtype; the expressed type is always printed f32):
  per-tensor      `!quant.uniform<i8:f32, 0.5:-3>`              (scale:zero_point)
  per-axis        `!quant.uniform<i8:f32:0, {0.1:0, 0.2:0}>`    (:axis, {scale:zp, ...})
  with ranges     `!quant.uniform<i8:f32, 0.5:-3, range {-1.0:1.0}>`  (min:max per entry)
  ranges only     `!quant.calibrated<f32<-1.0:1.0>>`, per-axis `!quant.calibrated<f32:0, {-1.0:1.0, ...}>`
Floats print as Python `repr` (exact; `1e-05` becomes `1.0e-05` so floats always carry a `.`).
Attributes (dicts sorted by key): `true`, `3`, `0.1`, `inf`, `nan`, `"s"` (escapes `\\n \\t \\" \\\\`
and `\\XX`), bytes `x"0a1b"`, lists `[a, b]` (tuples too), `{a = 1}`, None `unit`, TypeAttr `f32`,
TensorType `tensor<...>`, SymbolRef `@name`, numpy scalars as the Python scalar,
arrays `dense<[[1.0, 2.0]]> : tensor<1x2xf32>` (splat `dense<0.0> : tensor<4xf32>`; complex
elements `(re, im)`; string elements are bytes, printed as quoted strings).
Large data:
  arrays with more than `large_limit` elements print as `dense_resource<NAME> : tensor<...>`.
  With `elide_large=True` the data is left out; the parser makes an `ElidedArray` placeholder.
  With `elide_large=False` the text ends with a resource section holding the raw little-endian
  bytes: `{-# dialect_resources: { builtin: { NAME: "0x0000803f..." } } #-}`; a placeholder
  without data is written there as `NAME: "__elided__"`. String arrays are always inline.
  bytes longer than 64 print as `bytes_resource<NAME, LENGTH>` when eliding (parsed back as an
  `ElidedBytes` placeholder), else inline as `x"..."`.
  NAME is the result value's name (`%w` -> `w`, other attributes `w.key`), unique in the module.
Value names: `%<name_hint>` sanitized to [A-Za-z0-9_.$-] (a leading digit gets a `_` unless the
name is all digits), made unique per function with `_1`, `_2`...; unnamed values get `%0`, `%1`...
Entry blocks of op regions always print their label (`^bb0:`), so an empty block stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import Block, Function, Module, Operation, OpResult, Region, Value
from .location import Location
from .types import NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType, TypeAttr

BYTES_LIMIT = 64
"""bytes attributes longer than this are elided like large arrays."""

NAMES_SECTION = "tflconv_names"
"""Section of exact value names the printed (sanitized) ones stand for (`tensor_names` mode)."""

ELIDED_MARKER = "__elided__"
"""Resource-section value of a resource whose data the text does not carry."""


# --- placeholders for data left out of the text -------------------------------------------------


class MissingDataError(ValueError):
    """A pass or the writer needed the values of a constant the text did not carry."""

    def __init__(self, name: str | None, what: str = "its values") -> None:
        self.resource_name = name
        super().__init__(
            f"constant 'dense_resource<{name}>' has no data, but {what} are needed: the IR was "
            "read from text printed without its weights (an elided dump or --print-large-"
            "constants off); re-create it with its weights (dumps carry them by default)"
        )


# Roots (the 0-d fill arrays) of every placeholder: views numpy makes of a placeholder
# (`np.asarray`, `.T`, slicing) keep them as their base, so they are recognised too.
_PLACEHOLDER_ROOTS: dict[int, tuple[np.ndarray, str]] = {}


class ElidedArray(np.ndarray):
    """A constant whose data the text left out (`dense_resource<NAME>`): the right shape and dtype
    but no data (a read-only broadcast of one element, NaN for floats, nothing allocated). Prints back as the same
    `dense_resource<NAME>`; views and casts of it (reshape, astype) stay placeholders. Reading its
    values (arithmetic, numpy functions, `tobytes`, elements) raises `MissingDataError` naming it,
    so a missing weight is never mistaken for zeros."""

    resource_name: str | None

    def __array_finalize__(self, obj: Any) -> None:
        self.resource_name = getattr(obj, "resource_name", None)

    def _missing(self, what: str = "its values") -> MissingDataError:
        return MissingDataError(self.resource_name, what)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise self._missing(f"its values (for numpy.{ufunc.__name__})")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func in _SHAPE_ONLY:
            return super().__array_function__(func, types, args, kwargs)
        raise self._missing(f"its values (for numpy.{func.__name__})")

    def __getitem__(self, index: Any) -> Any:
        out = super().__getitem__(index)
        if not isinstance(out, ElidedArray):
            raise self._missing("its elements")
        return out

    def __iter__(self) -> Any:
        raise self._missing("its elements")

    def tobytes(self, order: Any = "C") -> bytes:
        raise self._missing("its bytes")

    def tolist(self) -> Any:
        raise self._missing("its elements")

    def item(self, *args: Any) -> Any:
        raise self._missing("its elements")

    def __bool__(self) -> bool:
        raise self._missing("its truth value")

    def __float__(self) -> float:
        raise self._missing("its value")

    def __int__(self) -> int:
        raise self._missing("its value")

    def __index__(self) -> int:
        raise self._missing("its value")


_SHAPE_ONLY = frozenset({np.shape, np.ndim, np.size, np.result_type})


def elided_array(name: str, shape: tuple[int, ...], dtype: np.dtype) -> ElidedArray:
    kind = np.dtype(dtype).kind
    if kind == "O":
        fill = np.array(b"", dtype=object)
    elif kind in "fc":  # NaN, not 0: should code slip past the guards, the damage shows
        fill = np.full((), np.nan, dtype)
    else:
        fill = np.zeros((), dtype)
    _PLACEHOLDER_ROOTS[id(fill)] = (fill, name)
    array = np.broadcast_to(fill, shape).view(ElidedArray)
    array.resource_name = name
    return array


def placeholder_name(value: Any) -> str | None:
    """The resource name of a placeholder (or of a view numpy made of one), else None."""
    if isinstance(value, ElidedBytes):
        return value.resource_name
    if not isinstance(value, np.ndarray):
        return None
    if isinstance(value, ElidedArray) and value.resource_name is not None:
        return value.resource_name
    base = value.base
    for _ in range(8):  # views of views: short chains
        if base is None or not isinstance(base, np.ndarray):
            return None
        entry = _PLACEHOLDER_ROOTS.get(id(base))
        if entry is not None and entry[0] is base:
            return entry[1]
        base = base.base
    return None


class ElidedBytes(bytes):
    """A bytes attribute the text left out (`bytes_resource<NAME, LEN>`): LEN zero bytes."""

    resource_name: str

    def __new__(cls, name: str, length: int) -> ElidedBytes:
        obj = super().__new__(cls, length)
        obj.resource_name = name
        return obj


def is_elided(value: Any) -> bool:
    """True for placeholders of data the text did not carry (and numpy views of them)."""
    return placeholder_name(value) is not None


def check_data(module: Any) -> None:
    """Raise `MissingDataError` naming the first constant whose data the text did not carry
    (the writer needs every value; call this before writing a parsed module)."""
    for op in module.walk():
        for value in op.attributes.values():
            name = placeholder_name(value)
            if name is not None:
                raise MissingDataError(name, f"its values (to write {op.name})")


# --- lexical helpers shared with the parser ------------------------------------------------------

_BARE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*", re.ASCII)
_SYMBOL_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$.-]*", re.ASCII)
_VALUE_NAME = re.compile(r"[A-Za-z0-9_.$-]+", re.ASCII)
_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.$-]", re.ASCII)
_RESOURCE_BAD = re.compile(r"[^A-Za-z0-9_.$]", re.ASCII)
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\\x7f\ud800-\udfff]')

_ESCAPE_TABLE: dict[int, str] = {c: f"\\{c:02X}" for c in range(0x20)}
_ESCAPE_TABLE.update({0x7F: "\\7F", ord('"'): '\\"', ord("\\"): "\\\\", 10: "\\n", 9: "\\t"})
for _c in range(0xD800, 0xE000):  # lone surrogates: their surrogatepass UTF-8 bytes
    _ESCAPE_TABLE[_c] = "".join(f"\\{b:02X}" for b in chr(_c).encode("utf-8", "surrogatepass"))


def quote(text: str) -> str:
    """A double-quoted string literal (control chars, quotes and backslashes escaped)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return '"' + text + '"'
    return '"' + text.translate(_ESCAPE_TABLE) + '"'


def quote_bytes(data: bytes) -> str:
    """A string literal holding arbitrary bytes (non-ASCII bytes as `\\XX`)."""
    if data.isascii():
        return quote(data.decode("ascii"))
    return (
        '"'
        + "".join(
            chr(c) if 0x20 <= c < 0x7F and c not in (0x22, 0x5C) else f"\\{c:02X}" for c in data
        )
        + '"'
    )


def format_float(x: float) -> str:
    """Exact and always recognisable as a float: repr, with `.0` added before an exponent."""
    s = repr(float(x))
    if "." in s or "n" in s:  # 'inf' and 'nan' contain an n
        return s
    e = s.find("e")
    return s + ".0" if e < 0 else s[:e] + ".0" + s[e:]


def symbol_text(name: str) -> str:
    return "@" + name if _SYMBOL_ID.fullmatch(name) else "@" + quote(name)


def key_text(key: str) -> str:
    return key if _BARE_ID.fullmatch(key) else quote(key)


def sanitize_name(hint: str | None) -> str | None:
    """The printable form of a value name hint (None: print a number)."""
    if not hint:
        return None
    if _VALUE_NAME.fullmatch(hint) is None:
        hint = _VALUE_BAD.sub("_", hint)
    if hint[0].isdigit() and not hint.isdigit():
        hint = "_" + hint
    return hint


def recovered_name(printed: str, k: int, op_name: str, location: Location) -> str:
    """The name hint the parser gives result `k` printed as `%printed`. Printing maps characters
    SSA names cannot hold to `_` (`conv/Relu` -> `%conv_Relu`); when the name is the sanitized
    form of the tensor name the writer derives from the op (its location's node names, else
    the op name; `:k` for result k), that exact name comes back, since the writer names tensors
    after hints (it prints the same, so text stays stable)."""
    base = location.tensor_name() or op_name
    for candidate in (base, f"{base}:{k}") if k else (base,):
        if sanitize_name(candidate) == printed:
            return candidate
    return printed


# --- types and locations -------------------------------------------------------------------------

_SPECIAL_DTYPES = {"string": "!tf.string", "resource": "!tf.resource", "variant": "!tf.variant"}


def _ranges(q: QuantParams) -> str:
    if len(q.min) != len(q.max):
        raise ValueError(f"quantization ranges differ in length: min {q.min}, max {q.max}")
    return ", ".join(f"{format_float(lo)}:{format_float(hi)}" for lo, hi in zip(q.min, q.max))


def quant_text(dtype: str, q: QuantParams) -> str:
    axis = "" if q.axis is None else f":{int(q.axis)}"
    if not q.scale and q.min:
        if q.axis is None and len(q.min) == 1:
            return f"!quant.calibrated<{dtype}<{_ranges(q)}>>"
        return f"!quant.calibrated<{dtype}{axis}, {{{_ranges(q)}}}>"
    scales = ", ".join(f"{format_float(s)}:{int(z)}" for s, z in zip(q.scale, q.zero_point))
    body = scales if q.axis is None and len(q.scale) == 1 else "{" + scales + "}"
    ranges = f", range {{{_ranges(q)}}}" if q.min or q.max else ""
    return f"!quant.uniform<{dtype}:f32{axis}, {body}{ranges}>"


def print_type(t: TensorType) -> str:
    """`tensor<1x?x4xf32>`, `tensor<*xf32>`, `tensor<f32>`, `none` (NO_VALUE_TYPE)."""
    if t.shape is None and t.dtype == "none" and t.quant is None:
        return "none"
    if t.quant is not None:
        elem = quant_text(t.dtype, t.quant)
    else:
        elem = _SPECIAL_DTYPES.get(t.dtype, t.dtype)
    if t.shape is None:
        return f"tensor<*x{elem}>"
    dims = "".join(("?" if d is None else str(int(d))) + "x" for d in t.shape)
    return f"tensor<{dims}{elem}>"


def print_location(loc: Location) -> str:
    """`loc("name")`, `loc("name"("file.py":12:0))`, `loc(fused["a", "b"])`; '' when unknown."""
    entries = loc.entries
    if not entries:
        return ""
    parts = [
        quote(name) + (f"({quote(src.file)}:{int(src.line)}:0)" if src is not None else "")
        for name, src in entries
    ]
    if len(parts) == 1:
        return f"loc({parts[0]})"
    return "loc(fused[" + ", ".join(parts) + "])"


# --- the printer -------------------------------------------------------------------------------


def _nest(items: list[str], shape: tuple[int, ...]) -> str:
    """Nested `[...]` text of row-major element strings."""
    if not shape:
        return items[0]
    if not items:  # a zero-sized dimension somewhere: keep the nesting of the leading dims
        return _nest_empty(shape)
    for dim in reversed(shape[1:]):
        items = ["[" + ", ".join(items[i : i + dim]) + "]" for i in range(0, len(items), dim)]
    return "[" + ", ".join(items) + "]"


def _nest_empty(shape: tuple[int, ...]) -> str:
    if not shape or shape[0] == 0:
        return "[]"
    return "[" + ", ".join([_nest_empty(shape[1:])] * shape[0]) + "]"


def _elements(array: np.ndarray) -> list[str]:
    kind = array.dtype.kind
    flat = array.reshape(-1).tolist()
    if kind == "f":
        return [format_float(x) for x in flat]
    if kind == "b":
        return ["true" if x else "false" for x in flat]
    if kind in "iu":
        return [str(x) for x in flat]
    if kind == "c":
        return [f"({format_float(z.real)}, {format_float(z.imag)})" for z in flat]
    return [
        quote_bytes(x if isinstance(x, bytes) else str(x).encode("utf-8", "surrogatepass"))
        for x in flat
    ]


def _is_bitwise_splat(array: np.ndarray) -> bool:
    flat = array.reshape(-1)
    if array.dtype == object:
        first = flat[0]
        return all(type(x) is type(first) and x == first for x in flat)
    # Cheap rejections first: real weights rarely pass these.
    if flat[0:1].tobytes() != flat[-1:].tobytes():
        return False
    rows = np.ascontiguousarray(flat).view(np.uint8).reshape(flat.size, flat.dtype.itemsize)
    return bool((rows == rows[0]).all())


class Printer:
    """One printing session: value names per function, resource names per module, caches."""

    def __init__(
        self,
        elide_large: bool = True,
        large_limit: int = 16,
        store: Callable[[bytes], str] | None = None,
        tensor_names: bool = False,
    ) -> None:
        self.elide = elide_large
        self.store = store
        self.tensor_names = tensor_names
        self.exact_names: list[tuple[str, str]] = []  # ("FN/%printed", exact) for the section
        self.function_index = 0
        self.limit = large_limit
        self.lines: list[str] = []
        self.names: dict[Value, str] = {}  # value -> "%name"
        self.taken: set[str] = set()
        self.reserved: set[str] = set()
        self.counter = 0
        self.suffix: dict[str, int] = {}
        self._types: dict[int, str] = {}
        self._keep: list[Any] = []  # keeps cached objects alive so their ids stay unique
        self._opnames: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self.resource_names: set[str] = set()
        self._resource_suffix: dict[str, int] = {}
        self.resources: list[tuple[str, str]] = []  # (name, quoted blob) for the section
        self.owner = ""  # resource-name base of the attributes being printed
        self.owner_is_value = False

    # --- names ---------------------------------------------------------------------------
    def name_values(self, values: list[Value]) -> None:
        """Assign function-wide unique names (hints first come first served, then numbers)."""
        self.names = {}
        self.taken = set()
        self.counter = 0
        self.suffix = {}
        if self.tensor_names:
            hints = [sanitize_name(v.name_hint or _tensor_name(v)) for v in values]
        else:
            hints = [sanitize_name(v.name_hint) for v in values]
        self.reserved = {h for h in hints if h is not None}
        for value, hint in zip(values, hints):
            self._assign(value, hint)
        if self.tensor_names:
            self._note_exact_names(values)

    def _note_exact_names(self, values: list[Value]) -> None:
        """Names the parser would not get back from the printed ones (see `recovered_name`)."""
        for value in values:
            exact = value.name_hint or _tensor_name(value)
            if exact is None:
                continue
            printed = self.names[value][1:]
            if isinstance(value, OpResult):
                back = recovered_name(printed, value.index, value.op.name, value.op.location)
            else:
                back = printed
            if back != exact:
                self.exact_names.append((f"{self.function_index}/%{printed}", exact))

    def _assign(self, value: Value, hint: str | None) -> str:
        taken, reserved = self.taken, self.reserved
        if hint is not None and hint not in taken:
            name = hint
        elif hint is not None and not hint.isdigit():
            i = self.suffix.get(hint, 1)
            while f"{hint}_{i}" in reserved or f"{hint}_{i}" in taken:
                i += 1
            self.suffix[hint] = i + 1
            name = f"{hint}_{i}"
        else:
            while str(self.counter) in reserved or str(self.counter) in taken:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        taken.add(name)
        self.names[value] = text = "%" + name
        return text

    def name(self, value: Value) -> str:
        text = self.names.get(value)
        if text is None:  # a value from outside the printed scope (malformed IR): still print
            text = self._assign(value, sanitize_name(value.name_hint))
        return text

    # --- types and attributes ---------------------------------------------------------------
    def type(self, t: TensorType) -> str:
        text = self._types.get(id(t))
        if text is None:
            text = print_type(t) if isinstance(t, TensorType) else f"<<bad type {t!r}>>"
            self._types[id(t)] = text
            self._keep.append(t)
        return text

    def attr_dict(self, attrs: dict[str, Any]) -> str:
        keys = self._keys
        parts = []
        for key in sorted(attrs):
            k = keys.get(key)
            if k is None:
                k = keys[key] = key_text(key)
            parts.append(f"{k} = {self.attr(attrs[key], key)}")
        return "{" + ", ".join(parts) + "}"

    def attr(self, v: Any, key: str = "") -> str:
        t = type(v)
        if t is str:
            return quote(v)
        if t is bool:
            return "true" if v else "false"
        if t is int:
            return str(v)
        if t is float:
            return format_float(v)
        if t is list or t is tuple:
            return "[" + ", ".join([self.attr(x, key) for x in v]) + "]"
        if t is TypeAttr:
            return _SPECIAL_DTYPES.get(v.dtype, v.dtype)
        if t is SymbolRef:
            return symbol_text(v.name)
        if v is None:
            return "unit"
        if isinstance(v, np.ndarray):
            return self.array(v, key)
        if isinstance(v, bytes):
            return self.bytes(v, key)
        if isinstance(v, np.generic):  # numpy scalars print as the Python scalar
            return self.attr(v.item(), key)
        if isinstance(v, dict):
            return self.attr_dict(v)
        if isinstance(v, TensorType):
            return "tensor<*xnone>" if v == NO_VALUE_TYPE else self.type(v)
        if isinstance(v, str):
            return quote(str(v))
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join([self.attr(x, key) for x in v]) + "]"
        raise TypeError(f"cannot print attribute {key!r} of type {t.__name__}: {v!r}")

    def _resource(self, base: str) -> str:
        base = _RESOURCE_BAD.sub("_", base) or "r"
        if not (base[0].isalpha() or base[0] == "_"):
            base = "_" + base
        name = base
        if name in self.resource_names:
            i = self._resource_suffix.get(base, 1)
            while f"{base}_{i}" in self.resource_names:
                i += 1
            self._resource_suffix[base] = i + 1
            name = f"{base}_{i}"
        self.resource_names.add(name)
        return name

    def _resource_base(self, key: str) -> str:
        if self.owner_is_value and key == "value":
            return self.owner
        return f"{self.owner}.{key}" if self.owner else key

    def bytes(self, v: bytes, key: str) -> str:
        if isinstance(v, ElidedBytes):
            return f"bytes_resource<{self._resource(v.resource_name)}, {len(v)}>"
        if len(v) > BYTES_LIMIT and self.elide:
            return f"bytes_resource<{self._resource(self._resource_base(key))}, {len(v)}>"
        return f'x"{bytes(v).hex()}"'

    def array(self, a: np.ndarray, key: str) -> str:
        elided = placeholder_name(a)
        if elided is not None:
            name = self._resource(elided)
            if not self.elide:
                self.resources.append((name, quote(ELIDED_MARKER)))
            return f"dense_resource<{name}> : {self.type(TensorType.of(a))}"
        t = self.type(TensorType.of(a))
        n = a.size
        if n > self.limit:
            if _is_bitwise_splat(a):
                return f"dense<{_elements(a.reshape(-1)[:1])[0]}> : {t}"
            if a.dtype != object or self.elide:
                name = self._resource(self._resource_base(key))
                if not self.elide:
                    raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
                    blob = self.store(raw) if self.store is not None else "0x" + raw.hex()
                    self.resources.append((name, quote(blob)))
                return f"dense_resource<{name}> : {t}"
        items = _elements(a)
        if n and items.count(items[0]) == n:
            return f"dense<{items[0]}> : {t}"
        return f"dense<{_nest(items, a.shape)}> : {t}"

    # --- ops, blocks, functions ---------------------------------------------------------------
    def op(self, op: Operation, indent: str) -> None:
        name = self.name
        results = op.results
        head = indent + ", ".join([name(r) for r in results]) + " = " if results else indent
        opname = self._opnames.get(op.name)
        if opname is None:
            opname = self._opnames[op.name] = quote(op.name)
        operands = op.operands
        args = ", ".join([name(v) for v in operands])
        ty = self.type
        ins = ", ".join([ty(v.type) for v in operands])
        if len(results) == 1:
            outs = ty(results[0].type)
        else:
            outs = "(" + ", ".join([ty(r.type) for r in results]) + ")"
        attrs = ""
        if op.attributes:
            if results:
                self.owner, self.owner_is_value = self.names[results[0]][1:], True
            else:
                self.owner, self.owner_is_value = op.name, False
            attrs = " " + self.attr_dict(op.attributes)
        loc = print_location(op.location)
        tail = f"{attrs} : ({ins}) -> {outs}" + (" " + loc if loc else "")
        if not op.regions:
            self.lines.append(f"{head}{opname}({args}){tail}")
            return
        self.lines.append(f"{head}{opname}({args}) ({{")
        inner = indent + "  "
        for i, region in enumerate(op.regions):
            if i:
                self.lines.append(indent + "}, {")
            for j, block in enumerate(region.blocks):
                self.block_label(block, j, indent)
                self.block(block, inner)
        self.lines.append(f"{indent}}}){tail}")

    def block_label(self, block: Block, index: int, indent: str) -> None:
        if block.args:
            args = ", ".join(f"{self.name(a)}: {self.type(a.type)}" for a in block.args)
            self.lines.append(f"{indent}^bb{index}({args}):")
        else:
            self.lines.append(f"{indent}^bb{index}:")

    def block(self, block: Block, indent: str) -> None:
        for op in block.ops:
            self.op(op, indent)

    def function(self, fn: Function, indent: str = "  ") -> None:
        self.name_values(_values_in_order(fn.body))
        blocks = fn.body.blocks
        entry_args = blocks[0].args if blocks else []
        args = ", ".join(f"{self.name(a)}: {self.type(a.type)}" for a in entry_args)
        term = blocks[0].terminator if blocks else None
        outs = (
            [v.type for v in term.operands]
            if term is not None and term.name == "func.return"
            else []
        )
        header = f"{indent}func.func {symbol_text(fn.name)}({args}) -> ("
        header += ", ".join(self.type(t) for t in outs) + ")"
        if fn.attributes:
            self.owner, self.owner_is_value = fn.name, False
            header += " attributes " + self.attr_dict(fn.attributes)
        self.lines.append(header + " {")
        inner = indent + "  "
        for i, block in enumerate(blocks):
            if i:
                self.block_label(block, i, indent)
            self.block(block, inner)
        self.lines.append(indent + "}")

    def module(self, module: Module) -> str:
        header = "module"
        if module.attributes:
            self.owner, self.owner_is_value = "module", False
            header += " attributes " + self.attr_dict(module.attributes)
        self.lines.append(header + " {")
        for index, fn in enumerate(module.functions):
            self.function_index = index
            self.function(fn)
        self.lines.append("}")
        sections = []
        if self.resources:
            sections.append(("dialect_resources", "builtin", self.resources))
        if self.exact_names:
            names = [(quote(key), quote(exact)) for key, exact in self.exact_names]
            sections.append((NAMES_SECTION, "values", names))
        if sections:
            self.lines.append("")
            self.lines.append("{-#")
            for j, (section, group, entries) in enumerate(sections):
                self.lines.append(f"  {section}: {{")
                self.lines.append(f"    {group}: {{")
                last = len(entries) - 1
                for i, (name, blob) in enumerate(entries):
                    self.lines.append(f"      {name}: {blob}" + ("," if i < last else ""))
                self.lines.append("    }")
                self.lines.append("  }" + ("," if j < len(sections) - 1 else ""))
            self.lines.append("#-}")
        self.lines.append("")
        return "\n".join(self.lines)


def _tensor_name(value: Value) -> str | None:
    """The name the FlatBuffer writer gives an op result without a name hint (its location's
    node names, else the op name; `:k` for result k), None where it ignores the hint anyway
    (result 0 of a fused op) or for block arguments."""
    if not isinstance(value, OpResult):
        return None
    op, k = value.op, value.index
    entries = op.location.entries
    if k == 0 and len(entries) > 1:
        return None
    base = op.location.tensor_name() or op.name
    return base if k == 0 else f"{base}:{k}"


def _values_in_order(region: Region) -> list[Value]:
    """Block arguments and op results of a region in textual order (nested regions included)."""
    out: list[Value] = []
    for block in region.blocks:
        out.extend(block.args)
        for op in block.ops:
            out.extend(op.results)
            for nested in op.regions:  # rare and shallow: recursion is fine
                out.extend(_values_in_order(nested))
    return out


# --- public API -------------------------------------------------------------------------------


def print_module(
    module: Module,
    *,
    elide_large: bool = True,
    large_limit: int = 16,
    store: Callable[[bytes], str] | None = None,
    tensor_names: bool = False,
) -> str:
    """The module as text. `elide_large=False` keeps every byte: in the resource section as hex,
    or, with `store` (raw little-endian bytes -> blob reference, e.g. `ResourceFile.put`), in a
    sidecar file the section refers to (`"file:weights.bin:OFFSET:SIZE"`). `tensor_names`
    names values without a hint as the .tflite writer would (after their location or op),
    so text parsed back writes the same tensor names (dumps use it; else they get numbers)."""
    return Printer(elide_large, large_limit, store, tensor_names).module(module)


def print_function(fn: Function, *, elide_large: bool = True, large_limit: int = 16) -> str:
    """One function as text (without the module wrapper)."""
    printer = Printer(elide_large, large_limit)
    printer.function(fn, indent="")
    printer.lines.append("")
    return "\n".join(printer.lines)


def print_op(op: Operation, *, elide_large: bool = True) -> str:
    """One op (with its regions) in generic form, for diagnostics. Values are named from their
    own hints (unique within the op), so names match the module text except for clashes."""
    printer = Printer(elide_large)
    values: list[Value] = list(dict.fromkeys(op.operands))
    values.extend(op.results)
    for region in op.regions:
        values.extend(_values_in_order(region))
    printer.name_values(values)
    printer.op(op, "")
    return "\n".join(printer.lines)


def print_attr(value: Any) -> str:
    """One attribute value as text (large data elided)."""
    return Printer().attr(value, "attr")
