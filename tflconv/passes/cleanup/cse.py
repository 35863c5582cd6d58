"""cse: merge side-effect-free ops that compute the same thing from the same operands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tflconv.core.arrays import flat_elements, same_bits
from tflconv.core.ir import Block, Module, Operation
from tflconv.core.location import fuse
from tflconv.core.opdef import COMMUTATIVE, has_trait, is_pure
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.printer import is_elided
from tflconv.core.rewrite import PatternRewriter

_SMALL_ARRAY_BYTES = 256
_SAMPLES = 32


def _array_key(a: np.ndarray) -> tuple:
    """A cheap hash key: exact bytes for small arrays, a strided sample for big ones (equal
    keys are confirmed with `_attr_equal`, so a coarse key only costs a comparison)."""
    if is_elided(a):  # a placeholder for data the text left out: only its name tells
        return ("elided", a.resource_name, a.dtype.str, a.shape)
    if a.dtype == object:
        return ("obj", a.shape, tuple(str(x) for x in a.ravel()[:_SAMPLES]))
    if a.nbytes <= _SMALL_ARRAY_BYTES:
        return (a.dtype.str, a.shape, a.tobytes())
    step = max(1, a.size // _SAMPLES)
    sample = flat_elements(a, np.append(np.arange(0, a.size, step)[:_SAMPLES], a.size - 1))
    return (a.dtype.str, a.shape, sample.tobytes())


def _attr_key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("nd", _array_key(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_attr_key(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _attr_key(v)) for k, v in value.items())))
    if isinstance(value, float) and value != value:
        return ("nan",)  # NaN != NaN would never find itself
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return (type(value).__name__, value)


def _attr_equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if is_elided(a) or is_elided(b):
            return is_elided(a) and is_elided(b) and a.resource_name == b.resource_name
        if a.dtype == object:
            return bool(np.array_equal(a, b))
        return same_bits(a, b)  # bitwise: -0.0 and 0.0 are different constants
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_attr_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_attr_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def _key(op: Operation) -> tuple:
    operands = tuple(id(v) for v in op.operands)
    if len(operands) == 2 and has_trait(op, COMMUTATIVE):
        operands = tuple(sorted(operands))
    attrs = tuple(sorted((k, _attr_key(v)) for k, v in op.attributes.items() if k[:1] != "_"))
    return (op.name, operands, attrs, tuple(r.type for r in op.results))


def _same(a: Operation, b: Operation) -> bool:
    keys = [k for k in a.attributes if k[:1] != "_"]
    return len(keys) == sum(1 for k in b.attributes if k[:1] != "_") and all(
        k in b.attributes and _attr_equal(a.attributes[k], b.attributes[k]) for k in keys
    )


class _Scope:
    """Known ops by key; nested regions see their parents' ops (they dominate them)."""

    def __init__(self, parent: _Scope | None = None) -> None:
        self.parent = parent
        self.table: dict[tuple, list[Operation]] = {}

    def find(self, key: tuple, op: Operation) -> Operation | None:
        scope: _Scope | None = self
        while scope is not None:
            for candidate in scope.table.get(key, ()):
                if _same(candidate, op):
                    return candidate
            scope = scope.parent
        return None


def _cse_block(block: Block, scope: _Scope, rw: PatternRewriter) -> int:
    merged = 0
    for op in block.ops:
        if op.regions:
            for region in op.regions:
                for inner in region.blocks:
                    merged += _cse_block(inner, _Scope(scope), rw)
            continue  # ops with regions are not merged
        if not op.results or not is_pure(op):
            continue
        key = _key(op)
        existing = scope.find(key, op)
        if existing is None:
            scope.table.setdefault(key, []).append(op)
            continue
        if existing.location != op.location:
            with rw.modify(existing):
                existing.location = fuse([existing.location, op.location])
        rw.replace(op, existing.results)
        merged += 1
    return merged


@register_pass
@dataclass(frozen=True)
class CommonSubexpressionElimination(Pass):
    """Merge side-effect-free ops with equal name, operands, attributes and result types
    (constants with equal values included); the survivor gets the fused location.

    Attributes whose name starts with `_` (`_node_def`, TF's `_output_shapes`) describe where
    an op came from, not what it computes, so they do not keep ops apart."""

    name: ClassVar[str] = "cse"

    def run(self, module: Module, ctx: PassContext) -> bool:
        rw = PatternRewriter(ctx.listener)
        merged = sum(_cse_block(fn.block, _Scope(), rw) for fn in module.functions)
        if merged:
            ctx.stats["ops merged"] += merged
        return merged > 0
