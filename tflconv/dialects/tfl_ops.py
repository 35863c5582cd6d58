"""Facts about TFLite builtins that the schema does not spell out, plus the schema's option tables.

`dialects/tfl.py` turns these into op declarations. Everything per-op lives in the small tables
below; the options tables and their fields come from `tflite/tflite.fbs` itself (parsed here,
because only the .fbs keeps the snake_case field names and the enum type of each field), and
so do the enums and unions: declaring the ops does not import the 20k-line generated schema
module (~0.15 s), which only the reader and writer need.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tflconv.core.ir import REQUIRED


def _words(text: str) -> tuple[str, ...]:
    """Op-name lists are written as space-separated strings to keep the tables short."""
    return tuple(text.split())


FBS_PATH = Path(__file__).resolve().parent.parent / "tflite" / "tflite.fbs"

# BuiltinOperator -> options table, where the name is not simply CamelCase(op) + "Options".
# Checked against tensorflow/lite/core/api/flatbuffer_conversions.cc (`builtin_options_as_X`
# per op) and LiteRT's tflite/converter/flatbuffer_operator.cc.
OPTIONS_OVERRIDES: dict[str, str | None] = {
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "RANDOM_STANDARD_NORMAL": "RandomOptions",
    "RANDOM_UNIFORM": "RandomOptions",
    "MULTINOMIAL": "RandomOptions",
}

# Operand and result names (MLIR tfl dialect names, tflite/converter/ir/tfl_ops.td) for the
# common ops. "x?" = optional (an absent one is a `tfl.no_value` operand), "x*" = variadic.
# Ops not listed get ("inputs*",) -> ("outputs*",).
_BINARY = ("lhs", "rhs")
_UNARY = ("input",)
OPERANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{
        op: (_BINARY, ("output",))
        for op in _words(
            "ADD SUB MUL DIV MAXIMUM MINIMUM POW SQUARED_DIFFERENCE FLOOR_DIV FLOOR_MOD LESS "
            "LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL LOGICAL_AND LOGICAL_OR ATAN2 "
            "BITWISE_XOR RIGHT_SHIFT"
        )
    },
    **{
        op: (_UNARY, ("output",))
        for op in _words(
            "ABS RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LOGISTIC TANH EXP LOG SQRT RSQRT SQUARE NEG "
            "SIN COS FLOOR CEIL ROUND ELU HARD_SWISH GELU SIGN LOGICAL_NOT ZEROS_LIKE LEAKY_RELU "
            "SOFTMAX LOG_SOFTMAX L2_NORMALIZATION CAST QUANTIZE DEQUANTIZE "
            "LOCAL_RESPONSE_NORMALIZATION AVERAGE_POOL_2D MAX_POOL_2D L2_POOL_2D SQUEEZE SHAPE "
            "RANK SPACE_TO_DEPTH DEPTH_TO_SPACE WHERE BUCKETIZE MATRIX_DIAG FAKE_QUANT DENSIFY "
            "REAL IMAG COMPLEX_ABS BITCAST"
        )
    },
    **{
        op: (("input", "axes"), ("output",))
        for op in _words("MEAN SUM REDUCE_PROD REDUCE_MAX REDUCE_MIN REDUCE_ANY REDUCE_ALL")
    },
    "CONV_2D": (("input", "filter", "bias?"), ("output",)),
    "DEPTHWISE_CONV_2D": (("input", "filter", "bias?"), ("output",)),
    "RFFT2D": (("input", "fft_length"), ("output",)),
    "CONV_3D": (("input", "filter", "bias?"), ("output",)),
    "CONV_3D_TRANSPOSE": (("output_shape", "filter", "input", "bias?"), ("output",)),
    "TRANSPOSE_CONV": (("output_shape", "weights", "input", "bias?"), ("output",)),
    "FULLY_CONNECTED": (("input", "filter", "bias?"), ("output",)),
    "BATCH_MATMUL": (("x", "y"), ("output",)),
    "PRELU": (("input", "alpha"), ("output",)),
    "RESHAPE": (("input", "shape?"), ("output",)),
    "EXPAND_DIMS": (("input", "dim"), ("output",)),
    "TRANSPOSE": (("input", "perm"), ("output",)),
    "CONCATENATION": (("values*",), ("output",)),
    "PACK": (("values*",), ("output",)),
    "UNPACK": (("input",), ("outputs*",)),
    "SPLIT": (("split_dim", "value"), ("outputs*",)),
    "SPLIT_V": (("value", "size_splits", "split_dim"), ("outputs*",)),
    "PAD": (("input", "padding"), ("output",)),
    "PADV2": (("input", "padding", "constant_values"), ("output",)),
    "MIRROR_PAD": (("input", "pad"), ("output",)),
    "GATHER": (("params", "indices"), ("output",)),
    "GATHER_ND": (("params", "indices"), ("output",)),
    "SCATTER_ND": (("indices", "updates", "shape"), ("output",)),
    "STRIDED_SLICE": (("input", "begin", "end", "strides"), ("output",)),
    "SLICE": (("input", "begin", "size"), ("output",)),
    "TILE": (("input", "multiples"), ("output",)),
    "BROADCAST_TO": (("input", "shape"), ("output",)),
    "BROADCAST_ARGS": (("s0", "s1"), ("output",)),
    "FILL": (("dims", "input"), ("output",)),
    "RANGE": (("start", "limit", "delta"), ("output",)),
    "ONE_HOT": (("indices", "depth", "on_value", "off_value"), ("output",)),
    "ARG_MAX": (("input", "dim"), ("output",)),
    "ARG_MIN": (("input", "dim"), ("output",)),
    "TOPK_V2": (("input", "k"), ("values", "indices")),
    "UNIQUE": (("input",), ("output", "idx")),
    "SELECT": (("condition", "x", "y"), ("output",)),
    "SELECT_V2": (("condition", "x", "y"), ("output",)),
    "CUMSUM": (("input", "axis"), ("output",)),
    "REVERSE_V2": (("input", "axis"), ("output",)),
    "RESIZE_BILINEAR": (("input", "size"), ("output",)),
    "RESIZE_NEAREST_NEIGHBOR": (("input", "size"), ("output",)),
    "SPACE_TO_BATCH_ND": (("input", "block_shape", "paddings"), ("output",)),
    "BATCH_TO_SPACE_ND": (("input", "block_shape", "indices"), ("output",)),
    "EMBEDDING_LOOKUP": (("lookup", "value"), ("output",)),
    "ADD_N": (("inputs*",), ("sum",)),
    "DYNAMIC_UPDATE_SLICE": (("operand", "update", "start_indices"), ("output",)),
    "MATRIX_SET_DIAG": (("input", "diagonal"), ("output",)),
    "SEGMENT_SUM": (("input", "segment_ids"), ("output",)),
    "WHILE": (("input*",), ("output*",)),
    "IF": (("cond", "input*"), ("output*",)),
    "CALL_ONCE": ((), ()),
    "VAR_HANDLE": ((), ("resource_handle",)),
    "READ_VARIABLE": (("resource_id",), ("result",)),
    "ASSIGN_VARIABLE": (("resource_id", "value"), ()),
}

# Ops with side effects or hidden state: never removed when unused, never merged by CSE.
# (VAR/HASHTABLE resource ops, random ops, subgraph calls, ops updating variable tensors.)
STATEFUL = frozenset(
    _words(
        "ASSIGN_VARIABLE VAR_HANDLE READ_VARIABLE CALL_ONCE CALL WHILE IF RANDOM_STANDARD_NORMAL "
        "RANDOM_UNIFORM MULTINOMIAL HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE "
        "HASHTABLE_LOOKUP DELEGATE LSTM UNIDIRECTIONAL_SEQUENCE_LSTM BIDIRECTIONAL_SEQUENCE_LSTM "
        "RNN UNIDIRECTIONAL_SEQUENCE_RNN BIDIRECTIONAL_SEQUENCE_RNN SVDF STABLEHLO_CUSTOM_CALL "
        "STABLEHLO_RNG_BIT_GENERATOR STABLEHLO_WHILE STABLEHLO_CASE STABLEHLO_COMPOSITE"
    )
)
COMMUTATIVE_OPS = frozenset(
    _words("ADD MUL MAXIMUM MINIMUM EQUAL NOT_EQUAL LOGICAL_AND LOGICAL_OR SQUARED_DIFFERENCE")
)
ELEMENTWISE_OPS = frozenset(
    _words(
        "ADD SUB MUL DIV MAXIMUM MINIMUM POW SQUARED_DIFFERENCE FLOOR_DIV FLOOR_MOD LESS "
        "LESS_EQUAL GREATER GREATER_EQUAL EQUAL NOT_EQUAL LOGICAL_AND LOGICAL_OR LOGICAL_NOT ABS "
        "RELU RELU6 RELU_N1_TO_1 RELU_0_TO_1 LOGISTIC TANH EXP LOG SQRT RSQRT SQUARE NEG SIN COS "
        "FLOOR CEIL ROUND ELU HARD_SWISH GELU SIGN LEAKY_RELU CAST ATAN2"
    )
)


# --- the schema's options tables -----------------------------------------------------------

_SCALARS: dict[str, str] = {
    # fbs scalar type -> numpy dtype name (for vectors) / kind
    "bool": "bool",
    "byte": "int8",
    "int8": "int8",
    "ubyte": "uint8",
    "uint8": "uint8",
    "short": "int16",
    "int16": "int16",
    "ushort": "uint16",
    "uint16": "uint16",
    "int": "int32",
    "int32": "int32",
    "uint": "uint32",
    "uint32": "uint32",
    "long": "int64",
    "int64": "int64",
    "ulong": "uint64",
    "uint64": "uint64",
    "float": "float32",
    "float32": "float32",
    "double": "float64",
    "float64": "float64",
}
_SUBGRAPH_LISTS = frozenset({"branch_subgraph_indices", "called_computations"})


@dataclass(frozen=True)
class OptionField:
    """One field of a builtin options table.

    kind: "bool" | "int" | "float" | "string" | "enum" | "vector" | "bytes" | "enum_vector" |
    "subgraph" | "subgraph_vector". `type` is the .fbs type (element type for vectors):
    "int", "Padding", "long", ...; `attr` the camelCase slot of the generated `<Table>T` class.
    """

    name: str
    attr: str
    kind: str
    type: str
    default: Any

    @property
    def numpy_dtype(self) -> str:
        """The numpy dtype of a vector's elements (enum vectors: their underlying int)."""
        return _SCALARS.get(self.type, "int32")


@dataclass(frozen=True)
class OptionsTable:
    name: str
    union: int  # 1: builtin_options, 2: builtin_options_2
    union_type: int  # the member's value in BuiltinOptions / BuiltinOptions2
    fields: tuple[OptionField, ...]

    def field(self, name: str) -> OptionField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def enum_members(enum_type: str) -> dict[str, int]:
    """Member name -> value of a schema enum or union ("Padding" -> {"SAME": 0, "VALID": 1}),
    as in the generated class `fb.Padding`."""
    return dict(schema_enums()[enum_type])


_ENUM_RE = re.compile(r"\b(enum|union)\s+(\w+)\s*(?::\s*\w+\s*)?\{([^}]*)\}")


@functools.cache
def schema_enums(text: str | None = None) -> dict[str, dict[str, int]]:
    """Every enum and union of tflite.fbs: name -> {member: value} in declaration order, numbered
    as flatc does (an implicit value is the previous one + 1; a union starts with NONE = 0).
    Deprecated members stay, as in the generated code. test_schema compares with the classes."""
    text = _strip_comments(FBS_PATH.read_text() if text is None else text)
    enums: dict[str, dict[str, int]] = {}
    for kind, name, body in _ENUM_RE.findall(text):
        members = {"NONE": 0} if kind == "union" else {}
        value = len(members)
        for part in body.split(","):
            part = re.sub(r"\([^)]*\)", "", part).strip()  # attributes: `(deprecated)`
            if not part:
                continue
            key, eq, explicit = part.partition("=")
            if eq:
                value = int(explicit.strip(), 0)
            members[key.strip()] = value
            value += 1
        enums[name] = members
    return enums


def camel(name: str) -> str:
    """flatc's object-API attribute name: `dilation_w_factor` -> `dilationWFactor`."""
    first, *rest = name.split("_")
    return first + "".join(p[:1].upper() + p[1:] for p in rest)


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


_TABLE_RE = re.compile(r"\btable\s+(\w+)\s*(?:\([^)]*\))?\s*\{([^}]*)\}")
_FIELD_RE = re.compile(r"^\s*(\w+)\s*:\s*(\[?\s*\w+\s*\]?)\s*(?:=\s*([\w.+-]+))?\s*(\(.*\))?\s*$")


def _parse_field(table: str, text: str, enums: set[str]) -> OptionField | None:
    m = _FIELD_RE.match(text)
    if m is None:
        raise ValueError(f"cannot parse field {text!r} of table {table} in {FBS_PATH.name}")
    name, ftype, default, attrs = m.groups()
    if attrs and "deprecated" in attrs:
        return None  # flatc generates no slot for deprecated fields
    ftype = ftype.replace(" ", "")
    is_vector = ftype.startswith("[")
    base = ftype.strip("[]")
    if name in _SUBGRAPH_LISTS:
        return OptionField(name, camel(name), "subgraph_vector", base, None)
    if name == "subgraph" or name.endswith("_subgraph_index"):
        return OptionField(name, camel(name), "subgraph", base, REQUIRED)
    if is_vector:
        if base in ("ubyte", "uint8"):
            return OptionField(name, camel(name), "bytes", base, None)
        kind = "enum_vector" if base in enums else "vector"
        return OptionField(name, camel(name), kind, base, None)
    if base == "string":
        return OptionField(name, camel(name), "string", base, "")
    if base in enums:
        members = enum_members(base)
        if default is None:
            by_value = {v: k for k, v in members.items()}
            value: Any = by_value.get(0, 0)
        else:
            value = default
        return OptionField(name, camel(name), "enum", base, value)
    if base == "bool":
        return OptionField(name, camel(name), "bool", base, default == "true")
    if base not in _SCALARS:
        raise ValueError(f"{table}.{name}: unsupported field type {ftype!r}")
    if _SCALARS[base].startswith("float"):
        return OptionField(name, camel(name), "float", base, float(default or 0.0))
    return OptionField(name, camel(name), "int", base, int(default or 0))


def _union_members(members: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in members.items() if k != "NONE"}


def parse_options_tables(text: str | None = None) -> dict[str, OptionsTable]:
    """Every table of the BuiltinOptions / BuiltinOptions2 unions, from tflite.fbs."""
    text = _strip_comments(FBS_PATH.read_text() if text is None else text)
    enums = set(re.findall(r"\benum\s+(\w+)", text))
    enums = schema_enums()
    unions = {
        1: _union_members(enums["BuiltinOptions"]),
        2: _union_members(enums["BuiltinOptions2"]),
    }
    tables: dict[str, OptionsTable] = {}
    for m in _TABLE_RE.finditer(text):
        name, body = m.group(1), m.group(2)
        union = next((u for u, members in unions.items() if name in members), None)
        if union is None:
            continue
        fields = []
        for part in body.split(";"):
            if part.strip():
                f = _parse_field(name, part.strip(), enums)
                if f is not None:
                    fields.append(f)
        tables[name] = OptionsTable(name, union, unions[union][name], tuple(fields))
    return tables


def _norm(name: str) -> str:
    return name.replace("_", "").lower()


def options_table_for(builtin: str, tables: dict[str, OptionsTable]) -> str | None:
    """The options table a builtin op uses (None: the op has no options)."""
    if builtin in OPTIONS_OVERRIDES:
        return OPTIONS_OVERRIDES[builtin]
    wanted = _norm(builtin) + "options"
    for name in tables:
        if name.lower() == wanted:
            return name
    return None
