"""Declaring ops: named operands and results, attributes with defaults, traits, a verifier,
a constant folder, and for TFLite ops the builtin code and options table.

Ops nobody declared stay generic: they keep their name, attributes and types, print and parse,
and are treated by their dialect's defaults (see `Dialect`).

    declare_op(OpDef(
        "tfl.leaky_relu", operands=("input",), results=("output",),
        attributes={"alpha": 0.2}, traits={PURE, SAME_OPERANDS_AND_RESULT_TYPE},
        builtin_code=98, options="LeakyReluOptions",
    ))

Operand specs: "name" (exactly one), "name?" (optional: may be absent at the end), "name*"
(variadic: takes the rest). The same for results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .ir import OPDEFS, REQUIRED, Operation

# Traits.
PURE = "Pure"  # no side effects: removable when unused, mergeable by CSE
COMMUTATIVE = "Commutative"
ELEMENTWISE = "Elementwise"
SAME_OPERANDS_AND_RESULT_TYPE = "SameOperandsAndResultType"
CONSTANT_LIKE = "ConstantLike"
TERMINATOR = "Terminator"

Folder = Callable[[Operation, list["np.ndarray | None"]], "list[np.ndarray] | None"]
"""Given the op and its operands' constant values (None where not constant), return the
result arrays when the op folds, else None."""

Verifier = Callable[[Operation], "str | None"]
"""Return an error message when the op is malformed, else None."""


@dataclass
class OpDef:
    name: str
    operands: tuple[str, ...] = ()
    results: tuple[str, ...] = ("output",)
    attributes: dict[str, Any] = field(default_factory=dict)
    """Attribute name -> default value (`REQUIRED` when it must be present)."""
    traits: frozenset[str] | set[str] = frozenset()
    verify: Verifier | None = None
    fold: Folder | None = None
    summary: str = ""
    builtin_code: int | None = None
    """TFLite BuiltinOperator value (tfl ops only)."""
    options: str | None = None
    """TFLite BuiltinOptions table name, e.g. "Conv2DOptions"; attributes are its fields."""
    options_union: int = 1
    """1 for `builtin_options`, 2 for `builtin_options_2` (StableHLO-era ops)."""

    def __post_init__(self) -> None:
        self.traits = frozenset(self.traits)
        self._operand_slots = _slots(self.operands)
        self._result_slots = _slots(self.results)

    def has_trait(self, trait: str) -> bool:
        return trait in self.traits

    def operand(self, op: Operation, name: str) -> Any:
        """The operand named `name` (a Value, None if an absent optional, a tuple if variadic)."""
        found, value = _lookup_slot(self._operand_slots, op.operands, name)
        if not found:
            raise KeyError(f"{self.name} declares no operand {name!r}")
        return value

    def lookup(self, op: Operation, key: str) -> tuple[bool, Any]:
        found, value = _lookup_slot(self._operand_slots, op.operands, key)
        if found:
            return True, value
        found, value = _lookup_slot(self._result_slots, op.results, key)
        if found:
            return True, value
        if key in self.attributes:
            if key in op.attributes:
                return True, op.attributes[key]
            default = self.attributes[key]
            return (default is not REQUIRED), default
        return False, None

    def check_arity(self, op: Operation) -> str | None:
        """An error message when the op's operand/result counts do not fit the declaration."""
        for kind, slots, count in (
            ("operands", self._operand_slots, op.num_operands),
            ("results", self._result_slots, len(op.results)),
        ):
            fixed = sum(1 for _, k in slots if k == "")
            optional = sum(1 for _, k in slots if k == "?")
            variadic = any(k == "*" for _, k in slots)
            if count < fixed or (not variadic and count > fixed + optional):
                want = f"{fixed}" if not optional and not variadic else f"at least {fixed}"
                if optional and not variadic:
                    want = f"{fixed} to {fixed + optional}"
                return f"expects {want} {kind}, has {count}"
        for key, default in self.attributes.items():
            if default is REQUIRED and key not in op.attributes:
                return f"needs attribute {key!r}"
        return None


def _slots(specs: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        kind = spec[-1] if spec[-1] in "?*" else ""
        out.append((spec.rstrip("?*"), kind))
    return out


def _lookup_slot(slots: list[tuple[str, str]], values: Any, key: str) -> tuple[bool, Any]:
    for i, (name, kind) in enumerate(slots):
        if name != key:
            continue
        if kind == "*":
            n_after = len(slots) - i - 1
            return True, tuple(values[i : len(values) - n_after])
        if i < len(values):
            return True, values[i]
        return True, None
    return False, None


def declare_op(opdef: OpDef) -> OpDef:
    """Register `opdef` in `OPDEFS` (every declared op by name; dialect modules call this at
    import)."""
    OPDEFS[opdef.name] = opdef
    return opdef


@dataclass(frozen=True)
class DiscardableAttr:
    """An attribute any op may carry that no file format writes: information one pass leaves
    for a later one in the IR itself (so dumps carry it and replay exactly), like MLIR's
    discardable attributes. Its name is `<namespace>.<name>`; `check` returns an error message
    for a bad value, or None."""

    name: str
    doc: str
    check: Callable[[Any], str | None] | None = None


DISCARDABLE: dict[str, DiscardableAttr] = {}


def declare_discardable(attr: DiscardableAttr) -> DiscardableAttr:
    if "." not in attr.name:
        raise ValueError(f"discardable attribute {attr.name!r} needs a namespace ('ns.name')")
    DISCARDABLE[attr.name] = attr
    return attr


def is_discardable(key: str) -> bool:
    """Private `_` annotations and declared discardable attributes: verified apart, never
    written to a .tflite."""
    return key.startswith("_") or key in DISCARDABLE


@dataclass(frozen=True)
class Dialect:
    """How a dialect treats ops it did not declare.

    `generic_pure(op)` says whether an undeclared op has no side effects (DCE may remove it
    and CSE merge it); by default undeclared ops are assumed to have side effects.
    """

    name: str
    generic_pure: Callable[[Operation], bool] = lambda op: False
    summary: str = ""


DIALECTS: dict[str, Dialect] = {}


def declare_dialect(dialect: Dialect) -> Dialect:
    DIALECTS[dialect.name] = dialect
    return dialect


def is_pure(op: Operation) -> bool:
    """True when removing the op (if unused) or merging it with an equal op is safe."""
    opdef = OPDEFS.get(op.name)
    if opdef is not None:
        return PURE in opdef.traits
    dialect = DIALECTS.get(op.dialect)
    return dialect is not None and dialect.generic_pure(op)


def has_trait(op: Operation, trait: str) -> bool:
    opdef = OPDEFS.get(op.name)
    return opdef is not None and trait in opdef.traits


# --- the builtin ops every module uses ---------------------------------------------------------


def _verify_constant(op: Operation) -> str | None:
    value = op.attributes.get("value")
    if not isinstance(value, np.ndarray):
        return "needs a numpy array attribute 'value'"
    shape = op.result.type.shape
    if shape is not None and tuple(value.shape) != tuple(shape):
        return f"value has shape {list(value.shape)} but the result type has {list(shape)}"
    return None


declare_op(
    OpDef(
        "arith.constant",
        results=("output",),
        attributes={"value": REQUIRED},
        traits={PURE, CONSTANT_LIKE},
        verify=_verify_constant,
        summary="A constant tensor (a numpy array, shared not copied).",
    )
)
declare_op(
    OpDef(
        "func.return",
        operands=("values*",),
        results=(),
        traits={TERMINATOR},
        summary="The outputs of a function.",
    )
)
declare_dialect(Dialect("arith", summary="Constants."))
declare_dialect(Dialect("func", summary="Function structure."))
