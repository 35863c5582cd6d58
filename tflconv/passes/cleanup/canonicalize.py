"""canonicalize: registered canonicalization patterns plus constant folding, to a fixpoint.

Patterns come from `CANONICALIZATION_PATTERNS` (op name -> patterns; dialects fill it with
`register_canonicalization`). Folding uses `OpDef.fold(op, operand_arrays)`: it is called with
the constant value of each operand (None where not constant) and returns the result arrays (or
Values, to forward an operand) or None. Results become `arith.constant` ops, subject to
TensorFlow's size policy (`fold_allowed`), so folding never blows up the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Module, Operation, Value, constant, constant_value
from tflconv.core.opdef import CONSTANT_LIKE, OPDEFS
from tflconv.core.passes import (
    CANONICALIZATION_PATTERNS,
    Pass,
    PassContext,
    register_canonicalization,
    register_pass,
)
from tflconv.core.pipeline import check_pattern_options
from tflconv.core.printer import is_elided
from tflconv.core.rewrite import PatternRewriter, PatternSet, apply_greedy
from tflconv.core.types import DTYPES, TensorType

from .fold_kernels import OPERAND_BITS_LIMIT, array_bits, fold_allowed

__all__ = [
    "CANONICALIZATION_PATTERNS",
    "Canonicalize",
    "fold_allowed",
    "fold_op",
    "register_canonicalization",
]


def _type_bits(t: TensorType) -> int | None:
    n = t.num_elements
    dt = DTYPES.get(t.dtype)
    if n is None or dt is None or dt.kind == "O":
        return None
    return n * dt.itemsize * 8


def fold_op(op: Operation, rw: PatternRewriter) -> bool:
    """Fold `op` through its declared folder; True when it was replaced."""
    opdef = OPDEFS.get(op.name)
    if opdef is None or opdef.fold is None or CONSTANT_LIKE in opdef.traits:
        return False
    if op.regions or not op.results or any(r.type.quant is not None for r in op.results):
        return False
    values = [constant_value(v) for v in op.operands]
    if any(v is not None and is_elided(v) for v in values):
        return False  # placeholders of constants the text left out hold no data
    operand_bits = sum(array_bits(a) for a in values if a is not None)
    if operand_bits > OPERAND_BITS_LIMIT:
        return False
    static = [_type_bits(r.type) for r in op.results]
    if all(b is not None for b in static) and not fold_allowed(sum(static), operand_bits):
        return False  # known too big before computing anything
    folded = opdef.fold(op, values)
    if folded is None:
        return False
    if len(folded) != len(op.results):
        raise ValueError(
            f"folder of {op.name} returned {len(folded)} values for {len(op.results)} results"
        )
    arrays = [None if isinstance(f, Value) else np.asarray(f) for f in folded]
    result_bits = sum(array_bits(a) for a in arrays if a is not None)
    if not fold_allowed(result_bits, operand_bits):
        return False
    replacements: list[Value] = []
    for result, f, array in zip(op.results, folded, arrays):
        if array is None:
            replacements.append(f)
            continue
        want = DTYPES.get(result.type.dtype)
        if want is None:
            return False  # bf16, resource, ...: no numpy buffer to hold the value
        if array.dtype != want:
            array = array.astype(want)
        ty = TensorType(tuple(int(d) for d in array.shape), result.type.dtype)
        replacements.append(rw.insert(constant(array, op.location, type=ty), before=op).result)
    rw.replace(op, replacements)
    return True


@register_pass
@dataclass(frozen=True)
class Canonicalize(Pass):
    """Apply the registered canonicalization patterns and constant folding to a fixpoint
    (unused side-effect-free ops are erased on the way)."""

    name: ClassVar[str] = "canonicalize"
    max_iterations: int = 10
    """Greedy driver cap: sweeps over the module before giving up on a fixpoint."""
    fold: bool = True
    """Fold ops whose declared folder computes their results from constant operands."""
    disable_patterns: tuple[str, ...] = ()
    """Pattern names not to apply (bisecting a bad rewrite)."""

    def __post_init__(self) -> None:
        if self.disable_patterns:
            known = [p.name for ps in CANONICALIZATION_PATTERNS.values() for p in ps]
            check_pattern_options(known, {"disable-patterns": self.disable_patterns})

    def run(self, module: Module, ctx: PassContext) -> bool:
        unique = {id(p): p for ps in CANONICALIZATION_PATTERNS.values() for p in ps}
        disabled = set(self.disable_patterns)
        # PatternSet().add(list) rather than PatternSet(list): also valid when the list is empty.
        patterns = PatternSet().add([p for p in unique.values() if p.name not in disabled])

        def folder(op: Operation, rw: PatternRewriter) -> bool:
            if fold_op(op, rw):
                ctx.stats["ops folded"] += 1
                return True
            return False

        return apply_greedy(
            module,
            patterns,
            max_iterations=self.max_iterations,
            tracer=ctx.tracer,
            listener=ctx.listener,
            fold=folder if self.fold else None,
        )
