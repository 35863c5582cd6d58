"""The IR verifier: structure, SSA dominance, types, declared-op rules, symbols. Linear time.

Checks, per module:
- function names are unique and functions point back to their module;
- parent pointers of regions, blocks, ops, results and block arguments are consistent, and use
  lists match operand lists;
- every operand is defined before its use: earlier in the same block, in an enclosing block, or
  as an argument of one of those blocks (values of nested regions do not leak out);
- every value has a `TensorType` (with consistent quantization ranges);
- a function body ends with `func.return`; terminators appear only at the end of a block and
  `func.return` only directly in a function body; `input_names`/`output_names` attributes match
  the argument/result counts;
- declared ops have the right number of operands and results and their required attributes
  (`OpDef.check_arity`), then pass their own `OpDef.verify`;
- attribute values are of printable kinds and `SymbolRef`s name functions of the module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .diagnostics import Diagnostic, VerifyError
from .ir import RETURN, Block, BlockArgument, Function, Module, Operation, OpResult, Region, Value
from .opdef import DISCARDABLE, OPDEFS, TERMINATOR
from .types import SymbolRef, TensorType, TypeAttr

__all__ = ["Diagnostic", "VerifyError", "verify", "verify_op", "module_diagnostics"]


def verify(module: Module) -> None:
    """Raise `VerifyError` listing every problem, or return None when the module is valid."""
    diagnostics = module_diagnostics(module)
    if diagnostics:
        raise VerifyError(diagnostics)


def module_diagnostics(module: Module) -> list[Diagnostic]:
    """Every problem of the module, in textual order."""
    out: list[Diagnostic] = []
    names: set[str] = set()
    for fn in module.functions:
        if fn.name in names:
            out.append(Diagnostic(None, f"redefinition of function @{fn.name}", fn.name))
        names.add(fn.name)
        if fn.module is not module:
            out.append(Diagnostic(None, "does not point back to its module", fn.name))
    for fn in module.functions:
        _verify_function(fn, names, out)
    for key, value in module.attributes.items():
        _check_attr_value(value, key, names, None, out, None)
    return out


def verify_op(op: Operation) -> list[Diagnostic]:
    """Problems of one op on its own: result types and links, use lists, attribute kinds,
    declared arity, required attributes and the op's own verifier (not its position in the
    IR, and not whether its symbols exist)."""
    out: list[Diagnostic] = []
    _check_op_local(op, out)
    for key, value in op.attributes.items():
        _check_attr_value(value, key, None, op, out, None)
    return out


# --- functions and blocks ----------------------------------------------------------------


def _verify_function(fn: Function, functions: set[str], out: list[Diagnostic]) -> None:
    body = fn.body
    if body.parent is not fn:
        out.append(Diagnostic(None, "body region does not point back to the function", fn.name))
    if not body.blocks:
        out.append(Diagnostic(None, "has no body block", fn.name))
        return
    if len(body.blocks) != 1:
        out.append(Diagnostic(None, f"body has {len(body.blocks)} blocks, expected 1", fn.name))
    for key, value in fn.attributes.items():
        _check_attr_value(value, key, functions, None, out, fn.name)
    visible: set[Value] = set()
    for block in body.blocks:
        _verify_block(block, body, fn, visible, functions, out)
    entry = body.blocks[0]
    term = entry.terminator
    if term is None or term.name != RETURN:
        found = "it is empty" if term is None else f"it ends with '{term.name}'"
        out.append(Diagnostic(None, f"body must end with '{RETURN}' ({found})", fn.name))
        return
    for key, count, what in (
        ("input_names", len(entry.args), "arguments"),
        ("output_names", term.num_operands, "results"),
    ):
        names = fn.attributes.get(key)
        if isinstance(names, (list, tuple)) and len(names) != count:
            out.append(
                Diagnostic(
                    None, f"attribute '{key}' has {len(names)} names for {count} {what}", fn.name
                )
            )


def _verify_block(
    block: Block,
    region: Region,
    fn: Function,
    visible: set[Value],
    functions: set[str],
    out: list[Diagnostic],
) -> None:
    """Check `block` with `visible` holding the values of enclosing scopes; leaves it as found."""
    if block.parent is not region:
        out.append(Diagnostic(None, "a block does not point back to its region", fn.name))
    for i, arg in enumerate(block.args):
        if arg.block is not block or arg.index != i:
            out.append(Diagnostic(None, f"block argument #{i} has a stale block/index", fn.name))
        if not isinstance(arg.type, TensorType):
            out.append(
                Diagnostic(None, f"block argument #{i} has no tensor type: {arg.type!r}", fn.name)
            )
        else:
            _check_type(arg.type, f"block argument #{i}", None, out, fn.name)
    added: list[Value] = list(block.args)
    visible.update(block.args)
    in_function_body = region is fn.body
    prev: Operation | None = None
    count = 0
    for op in block.ops:
        count += 1
        if op.parent is not block or op.prev_op is not prev:
            out.append(Diagnostic(op, "is not linked into its block consistently", fn.name))
        prev = op
        for i, value in enumerate(op.operands):
            if value not in visible:
                out.append(Diagnostic(op, _undefined(value, i, op, fn), fn.name))
        is_last = op.next_op is None
        if op.name == RETURN and not in_function_body:
            out.append(Diagnostic(op, f"'{RETURN}' may only end a function body", fn.name))
        else:
            opdef = OPDEFS.get(op.name)
            if opdef is not None and TERMINATOR in opdef.traits and not is_last:
                out.append(
                    Diagnostic(op, "is a terminator but is not the last op of its block", fn.name)
                )
        _check_op_local(op, out, fn.name)
        for key, value in op.attributes.items():
            _check_attr_value(value, key, functions, op, out, fn.name)
        for r_index, nested in enumerate(op.regions):
            if nested.parent is not op:
                out.append(
                    Diagnostic(op, f"region #{r_index} does not point back to the op", fn.name)
                )
            for nested_block in nested.blocks:
                _verify_block(nested_block, nested, fn, visible, functions, out)
        visible.update(op.results)
        added.extend(op.results)
    if count != len(block) or block.last_op is not prev:
        out.append(
            Diagnostic(None, "a block's op list is inconsistent (length or last op)", fn.name)
        )
    visible.difference_update(added)


def _undefined(value: Value, index: int, op: Operation, fn: Function) -> str:
    name = f"%{value.name_hint}" if value.name_hint else f"<{type(value).__name__}>"
    if isinstance(value, OpResult):
        owner = value.op.function
        if owner is fn:
            return f"operand #{index} ({name}) is used before its definition or outside its scope"
        if owner is None:
            return (
                f"operand #{index} ({name}) comes from an op that is not in any function (erased?)"
            )
        return f"operand #{index} ({name}) is defined in another function (@{owner.name})"
    if isinstance(value, BlockArgument):
        return f"operand #{index} ({name}) is an argument of a block that does not enclose this op"
    return f"operand #{index} ({name}) is not defined"


# --- single ops ---------------------------------------------------------------------------


def _check_op_local(op: Operation, out: list[Diagnostic], fn: str | None = None) -> None:
    for i, result in enumerate(op.results):
        if result.op is not op or result.index != i:
            out.append(Diagnostic(op, f"result #{i} has a stale owner/index", fn))
        if not isinstance(result.type, TensorType):
            out.append(Diagnostic(op, f"result #{i} has no tensor type: {result.type!r}", fn))
        else:
            _check_type(result.type, f"result #{i}", op, out, fn)
    held = op._uses_held
    for i, value in enumerate(op.operands):
        use = held[i] if i < len(held) else None
        if use is None or use.index != i or use.op is not op or use not in value._uses:
            out.append(Diagnostic(op, f"operand #{i} is missing from its value's use list", fn))
        if not isinstance(value.type, TensorType):
            out.append(Diagnostic(op, f"operand #{i} has no tensor type: {value.type!r}", fn))
    for key, value in op.attributes.items():
        spec = DISCARDABLE.get(key)
        problem = spec.check(value) if spec is not None and spec.check is not None else None
        if problem:
            out.append(Diagnostic(op, f"attribute {key}: {problem}", fn))
    opdef = OPDEFS.get(op.name)
    if opdef is None:
        return
    message = opdef.check_arity(op)
    if message is None and opdef.verify is not None:
        message = opdef.verify(op)
    if message:
        out.append(Diagnostic(op, message, fn))


def _check_type(
    t: TensorType, what: str, op: Operation | None, out: list[Diagnostic], fn: str | None
) -> None:
    q = t.quant
    if q is not None and len(q.min) != len(q.max):
        out.append(
            Diagnostic(
                op, f"{what} has {len(q.min)} quantization minimums but {len(q.max)} maximums", fn
            )
        )


_SCALARS = (bool, int, float, str, bytes, np.ndarray, np.generic, TypeAttr, TensorType)


def _check_attr_value(
    value: Any,
    key: str,
    functions: set[str] | None,
    op: Operation | None,
    out: list[Diagnostic],
    fn: str | None,
) -> None:
    """Printable kinds only; SymbolRefs must name a function (unless `functions` is None).
    Arrays are not traversed."""
    if value is None or isinstance(value, _SCALARS):
        return
    if isinstance(value, SymbolRef):
        if functions is not None and value.name not in functions:
            out.append(
                _attr_diag(op, f"attribute '{key}' refers to unknown function @{value.name}", fn)
            )
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_attr_value(item, key, functions, op, out, fn)
    elif isinstance(value, dict):
        for sub_key, item in value.items():
            if not isinstance(sub_key, str):
                out.append(
                    _attr_diag(op, f"attribute '{key}' has a non-string key {sub_key!r}", fn)
                )
            _check_attr_value(item, f"{key}.{sub_key}", functions, op, out, fn)
    else:
        out.append(
            _attr_diag(
                op, f"attribute '{key}' has unsupported value type {type(value).__name__}", fn
            )
        )


def _attr_diag(op: Operation | None, message: str, fn: str | None) -> Diagnostic:
    if op is None and fn is None:
        return Diagnostic(None, message)
    return Diagnostic(op, message, fn)
