"""The tfl dialect: every TFLite builtin op, declared from the schema without per-op code.

For each `BuiltinOperator` member NAME: op "tfl." + NAME.lower(), its `builtin_code`, its options
table (`options`), and one attribute per field of that table (snake_case as in tflite.fbs) with
the schema default (enum fields hold member names: "SAME", "RELU6"; vectors are lists, absent
vectors default to None; subgraph-index fields hold a `SymbolRef` and are required).
Special ops: `tfl.custom` (custom_code, custom_options) and `tfl.no_value` (absent operand).

    from tflconv.dialects import tfl
    tfl.tfl_op_name("CONV_2D")              # "tfl.conv_2d"
    tfl.builtin_options_of("tfl.conv_2d")   # "Conv2DOptions"
    tfl.enum_names("padding")               # ("SAME", "VALID")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tflconv.core.ir import Operation
from tflconv.core.opdef import (
    COMMUTATIVE,
    ELEMENTWISE,
    OPDEFS,
    PURE,
    Dialect,
    OpDef,
    Verifier,
    declare_dialect,
    declare_op,
    is_discardable,
)
from tflconv.core.types import NO_VALUE_TYPE, SymbolRef, TypeAttr

from .tfl_ops import (
    COMMUTATIVE_OPS,
    ELEMENTWISE_OPS,
    OPERANDS,
    STATEFUL,
    OptionField,
    OptionsTable,
    enum_members,
    options_table_for,
    parse_options_tables,
    schema_enums,
)

CUSTOM = "tfl.custom"
NO_VALUE = "tfl.no_value"
BLOCKWISE_CONST = "tfl.pseudo_blockwise_const"
"""A blockwise-quantized constant (as MLIR's `tfl.pseudo_qconst`: a constant whose quantization
the type cannot say): attributes `value` (int4 values), `scales` (float16, [out, in /
block_size]) and `block_size`. The writer stores an INT4 tensor with `BlockwiseQuantization`
details and the scales as a FLOAT16 tensor of its own; the reader reads it back."""

OPTIONS: dict[str, OptionsTable] = parse_options_tables()
"""Options table name -> its fields (only tables of the BuiltinOptions/BuiltinOptions2 unions)."""

_OPERATORS = schema_enums()["BuiltinOperator"]  # as fb.BuiltinOperator, read from the .fbs

BUILTIN_CODES: dict[str, int] = {
    k: v for k, v in _OPERATORS.items() if k not in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES")
}
"""BuiltinOperator name -> code, for every op declared here (CUSTOM and the placeholder excluded)."""

BUILTIN_NAMES: dict[int, str] = {v: k for k, v in _OPERATORS.items()}


def tfl_op_name(builtin: str | int) -> str:
    """The op name of a builtin: "CONV_2D" (or 3) -> "tfl.conv_2d"."""
    name = BUILTIN_NAMES[builtin] if isinstance(builtin, int) else builtin
    return "tfl." + name.lower()


def builtin_name(op_name: str) -> str:
    """The BuiltinOperator member of an op name: "tfl.conv_2d" -> "CONV_2D"."""
    return op_name.removeprefix("tfl.").upper()


def builtin_options_of(op_name: str) -> str | None:
    """The options table of a tfl op ("tfl.conv_2d" -> "Conv2DOptions"), None without options."""
    opdef = OPDEFS.get(op_name)
    return None if opdef is None else opdef.options


def options_table(op_name: str) -> OptionsTable | None:
    """The parsed options table (with typed fields) of a tfl op, None without options."""
    name = builtin_options_of(op_name)
    return None if name is None else OPTIONS[name]


def enum_names(field: str, op_name: str | None = None) -> tuple[str, ...]:
    """The strings allowed for an enum attribute.

    `field` is an enum type ("Padding") or a field name ("padding", "fused_activation_function");
    pass `op_name` when the field name alone is ambiguous across options tables.
    """
    if field in schema_enums():
        return tuple(enum_members(field))
    tables = [options_table(op_name)] if op_name else list(OPTIONS.values())
    types = {f.type for t in tables if t for f in t.fields if f.name == field and "enum" in f.kind}
    if len(types) != 1:
        where = f" of {op_name}" if op_name else ""
        raise KeyError(
            f"{field!r}{where} is not an enum field"
            if not types
            else f"{field!r} is an enum of several types ({sorted(types)}); pass op_name"
        )
    return tuple(enum_members(types.pop()))


# --- verification ----------------------------------------------------------------------------


def _check_attr(op_name: str, f: OptionField, value: Any) -> str | None:
    if f.kind == "enum":
        if f.type == "TensorType" and isinstance(value, TypeAttr):
            return None
        if value not in enum_members(f.type):
            return f"attribute {f.name}={value!r} is not one of {list(enum_members(f.type))}"
    elif f.kind == "subgraph" and not isinstance(value, SymbolRef):
        return f"attribute {f.name} must be a SymbolRef to a function, got {value!r}"
    elif f.kind == "enum_vector" and value is not None:
        bad = [v for v in value if v not in enum_members(f.type)]
        if bad:
            return f"attribute {f.name} has values {bad} not in {list(enum_members(f.type))}"
    return None


def _verify_attributes(op: Operation) -> str | None:
    """Attributes must be fields of the op's options table, with valid enum values."""
    table = options_table(op.name)
    for key, value in op.attributes.items():
        if is_discardable(key):
            continue  # `_node_def`, `quant.input_mean`, ...: never written
        f = table.field(key) if table else None
        if f is None:
            known = [x.name for x in table.fields] if table else []
            return f"unknown attribute {key!r} (the options fields are {known})"
        err = _check_attr(op.name, f, value)
        if err:
            return err
    return None


def _rank(value: Any) -> int | None:
    return value.type.rank


def _dim(value: Any, i: int) -> int | None:
    shape = value.type.shape
    return None if shape is None else shape[i]


def _present(value: Any) -> bool:
    return value is not None and value.type != NO_VALUE_TYPE


def _verify_bias(op: Operation, channels: int | None) -> str | None:
    bias = op.operands[2] if op.num_operands > 2 else None
    if not _present(bias):
        return None
    if bias.type.rank not in (None, 1):
        return f"bias must be 1-D, got rank {bias.type.rank}"
    size = _dim(bias, 0) if bias.type.rank == 1 else None
    if size is not None and channels is not None and size != channels:
        return f"bias has {size} elements but the filter has {channels} output channels"
    return None


def _verify_conv_2d(op: Operation) -> str | None:
    for name, v in (("input", op.operands[0]), ("filter", op.operands[1])):
        if _rank(v) not in (None, 4):
            return f"{name} must be 4-D, got rank {_rank(v)}"
    filt = op.operands[1]
    return _verify_bias(op, _dim(filt, 0) if _rank(filt) == 4 else None)


def _verify_depthwise_conv_2d(op: Operation) -> str | None:
    for name, v in (("input", op.operands[0]), ("filter", op.operands[1])):
        if _rank(v) not in (None, 4):
            return f"{name} must be 4-D, got rank {_rank(v)}"
    filt = op.operands[1]
    if _rank(filt) == 4 and _dim(filt, 0) not in (None, 1):
        return f"filter must have shape [1, H, W, C*M], got dim 0 = {_dim(filt, 0)}"
    return _verify_bias(op, _dim(filt, 3) if _rank(filt) == 4 else None)


def _verify_fully_connected(op: Operation) -> str | None:
    filt = op.operands[1]
    if _rank(filt) not in (None, 2):
        return f"filter must be 2-D [out, in], got rank {_rank(filt)}"
    inp = op.operands[0]
    if _rank(filt) == 2 and inp.type.shape and not op.attr("keep_num_dims"):
        depth = _dim(filt, 1)
        n = inp.type.num_elements
        if depth and n is not None and n % depth:
            return f"input has {n} elements, not a multiple of the filter depth {depth}"
    return _verify_bias(op, _dim(filt, 0) if _rank(filt) == 2 else None)


def _verify_reshape(op: Operation) -> str | None:
    if op.num_operands > 1 and _present(op.operands[1]):
        shape = op.operands[1]
        if _rank(shape) not in (None, 1):
            return f"shape operand must be 1-D, got rank {_rank(shape)}"
    src, dst = op.operands[0].type, op.results[0].type
    if src.is_static and dst.is_static and src.num_elements != dst.num_elements:
        return f"reshape of {src.num_elements} elements into {dst.num_elements}"
    return None


SPECIFIC_VERIFIERS: dict[str, Verifier] = {
    "tfl.conv_2d": _verify_conv_2d,
    "tfl.depthwise_conv_2d": _verify_depthwise_conv_2d,
    "tfl.fully_connected": _verify_fully_connected,
    "tfl.reshape": _verify_reshape,
}


def _verifier(specific: Verifier | None) -> Callable[[Operation], str | None]:
    def verify(op: Operation) -> str | None:
        return _verify_attributes(op) or (specific(op) if specific else None)

    return verify


# --- declarations ----------------------------------------------------------------------------


def _declare_builtin(name: str, code: int) -> OpDef:
    op_name = tfl_op_name(name)
    table_name = options_table_for(name, OPTIONS)
    table = OPTIONS.get(table_name) if table_name else None
    operands, results = OPERANDS.get(name, (("inputs*",), ("outputs*",)))
    traits = set()
    if name not in STATEFUL:
        traits.add(PURE)
    if name in COMMUTATIVE_OPS:
        traits.add(COMMUTATIVE)
    if name in ELEMENTWISE_OPS:
        traits.add(ELEMENTWISE)
    return declare_op(
        OpDef(
            op_name,
            operands=operands,
            results=results,
            attributes={f.name: f.default for f in table.fields} if table else {},
            traits=traits,
            verify=_verifier(SPECIFIC_VERIFIERS.get(op_name)),
            summary=f"TFLite builtin {name} ({code})",
            builtin_code=code,
            options=table_name,
            options_union=table.union if table else 1,
        )
    )


for _name, _code in BUILTIN_CODES.items():
    _declare_builtin(_name, _code)


def _verify_custom(op: Operation) -> str | None:
    code = op.attributes.get("custom_code")
    if not isinstance(code, str) or not code:
        return "needs a non-empty string attribute 'custom_code'"
    options = op.attributes.get("custom_options", b"")
    if not isinstance(options, bytes | bytearray):
        return f"custom_options must be bytes, got {type(options).__name__}"
    extra = [
        k for k in op.attributes if k not in ("custom_code", "custom_options") and k[:1] != "_"
    ]
    if extra:
        return f"unknown attributes {extra} (a custom op has custom_code and custom_options)"
    return None


declare_op(
    OpDef(
        CUSTOM,
        operands=("inputs*",),
        results=("outputs*",),
        attributes={"custom_code": "", "custom_options": b""},
        verify=_verify_custom,
        summary="A custom (or Flex: custom_code 'Flex' + TF op) op; custom_options are opaque bytes.",
        builtin_code=_OPERATORS["CUSTOM"],
    )
)


def _verify_no_value(op: Operation) -> str | None:
    if op.results[0].type != NO_VALUE_TYPE:
        return f"result must have the none type, got {op.results[0].type}"
    return None


declare_op(
    OpDef(
        NO_VALUE,
        operands=(),
        results=("output",),
        traits={PURE},
        verify=_verify_no_value,
        summary="Stands for an absent optional operand (written as tensor index -1).",
    )
)

TFL = declare_dialect(
    Dialect("tfl", generic_pure=lambda op: False, summary="TFLite builtin ops (schema-derived).")
)
