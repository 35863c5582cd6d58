"""Captured variables the model writes -> TF resource-variable ops + the session initializer.

Read-only captured variables stay constants (their value at import time). A variable that some
function of the model assigns (`AssignVariableOp`, `AssignAddVariableOp`,
`AssignSubVariableOp`) becomes a resource variable, as the official converter does with
`experimental_enable_resource_variables=True`:

- every function using it gets one `tf.VarHandleOp {shared_name}` and reads it with
  `tf.ReadVariableOp` at each read's place; AssignAdd/AssignSub are decomposed into read,
  `AddV2` / `Sub` and `tf.AssignVariableOp` (TF's DecomposeResourceOps does the same);
- the session-initializer function (shared with hash tables, see tables.py) assigns the
  variable's value at import time, called once by `tfl.call_once` at the start of every entry.

Which variables are written is found before a signature is walked (`scan_entry`), through
calls and control-flow bodies, so that every read of such a variable in that signature is a
real read. A signature imported earlier that only reads a variable another signature writes
got constants: `finish` turns those into reads. Other writes (optimizer `ResourceApply*`,
`ResourceScatter*`, ...) are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from tflconv.core.ir import Function, Operation, Value, constant
from tflconv.core.location import Location
from tflconv.core.types import TensorType, TypeAttr

from ..base import FrontendError
from . import attrs as cv
from .bindings import CALL_OPS, CASE_OPS, IF_OPS, WHILE_OPS, GraphSource, Resource, Scope

if TYPE_CHECKING:
    from .graph import GraphImporter

ASSIGN_OPS = frozenset({"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"})
WRITE_PREFIXES = (
    "AssignVariableOp",
    "AssignAddVariableOp",
    "AssignSubVariableOp",
    "ResourceApply",
    "ResourceScatter",
    "ResourceSparseApply",
    "ResourceStridedSliceAssign",
)
"""Op types (prefixes) that write the resource variable given as their first input."""
SUPPORTED_DTYPES = frozenset(
    {"f32", "f64", "i1", "i8", "ui8", "i32", "i64", "complex64", "complex128"}
)
"""Element types of TFLite resource variables (the official variables_utils.cc)."""
_FORWARDING = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient"})


@dataclass
class Variable:
    """A captured variable the model writes."""

    resource: Any  # the Resource (keeps the TF handle alive)
    shared_name: str
    dtype: str
    initial: np.ndarray


@dataclass
class _Variables:
    mutable: dict[int, Variable] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    constant_reads: list[tuple[Function, Operation, int]] = field(default_factory=list)
    scanned: set[tuple] = field(default_factory=set)


def _state(importer: GraphImporter) -> _Variables:
    return importer.resource_state.setdefault("variables", _Variables())


def key(resource: Resource) -> int:
    return id(resource.handle)


# --- finding the written variables --------------------------------------------------------------


def scan_entry(importer: GraphImporter, source: GraphSource, bindings: list[Any]) -> None:
    """Mark every captured variable the graph (with its callees and bodies) writes."""
    bound = {t.op.name: b for t, b in zip(source.graph.inputs, bindings) if isinstance(b, Resource)}
    if bound:
        _scan(importer, source, bound)


def _scan(importer: GraphImporter, source: GraphSource, bound: dict[str, Any]) -> None:
    state = _state(importer)
    graph = source.graph
    token = (id(graph), tuple(sorted((n, id(r)) for n, r in bound.items())))
    if token in state.scanned:
        return
    state.scanned.add(token)
    for op in graph.get_operations():
        op_type = op.type
        if op_type.startswith(WRITE_PREFIXES):
            if op.inputs:
                resource = bound.get(_source_name(op.inputs[0]))
                if resource is not None:
                    _mark(state, resource, op, _where(source, op))
            continue
        is_call = op_type in CALL_OPS or graph._is_function(op_type)
        if not (is_call or op_type in WHILE_OPS or op_type in IF_OPS or op_type in CASE_OPS):
            continue  # only writes and the ops running a function can write a variable
        resources = [
            bound.get(_source_name(t)) if t.dtype == tf.resource else None for t in op.inputs
        ]
        if not any(r is not None for r in resources):
            continue
        node_def = op.node_def
        if is_call:
            name = op.get_attr("f").name if op_type in CALL_OPS else op_type
            calls = [(name, resources)]
        elif op_type in WHILE_OPS:
            calls = [(node_def.attr[k].func.name, resources) for k in ("cond", "body")]
        elif op_type in IF_OPS:
            keys = ("then_branch", "else_branch")
            calls = [(node_def.attr[k].func.name, resources[1:]) for k in keys]
        else:
            calls = [(f.name, resources[1:]) for f in node_def.attr["branches"].list.func]
        where = _where(source, op)
        for name, args in calls:
            callee = importer._function_graph(source, importer._callee(source, name, where))
            inner = {p.op.name: r for p, r in zip(callee.inputs, args) if r is not None}
            _scan(importer, GraphSource(callee, name), inner)


def _where(source: GraphSource, op: Any) -> str:
    return f"node {op.name!r} ({op.type}) in {source.function_name}"


def _source_name(tensor: Any) -> str:
    """The op a resource tensor comes from, through Identity ops."""
    while tensor.op.type in _FORWARDING and tensor.op.inputs:
        index = tensor.value_index if tensor.op.type == "IdentityN" else 0
        tensor = tensor.op.inputs[index]
    return tensor.op.name


def _mark(state: _Variables, resource: Any, op: Any, where: str) -> None:
    if op.type not in ASSIGN_OPS:
        raise FrontendError(
            f"{where} writes a captured variable; TFLite resource variables support "
            "AssignVariableOp, AssignAddVariableOp and AssignSubVariableOp (assign, "
            "assign_add, assign_sub), not training updates or scatters"
        )
    if key(resource) in state.mutable:
        return
    dtype_enum = op.get_attr("dtype").as_datatype_enum
    dtype = cv.dtype_name(dtype_enum, where)
    if dtype not in SUPPORTED_DTYPES:
        raise FrontendError(
            f"{where} writes a {dtype} variable; TFLite resource variables hold "
            f"{', '.join(sorted(SUPPORTED_DTYPES))}"
        )
    initial = resource.read(dtype_enum, where)
    name = _unique(state, _variable_name(resource))
    state.mutable[key(resource)] = Variable(resource, name, dtype, initial)


def _variable_name(resource: Any) -> str:
    """The variable's name (`tf.Variable(name=...)`), from its handle."""
    match = re.search(r'name="([^"]*)"', repr(resource.handle))
    name = match.group(1) if match else ""
    name = re.sub(r"/\d+$", "", name) or resource.name
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


def _unique(state: _Variables, name: str) -> str:
    base, i = name, 1
    while name in state.names:
        name = f"{base}_{i}"
        i += 1
    state.names.add(name)
    return name


def mutable(importer: GraphImporter, resource: Resource) -> Variable | None:
    return _state(importer).mutable.get(key(resource))


# --- reads and writes ------------------------------------------------------------------------


def _handle_op(var: Variable, name: str) -> Operation:
    return Operation(
        "tf.VarHandleOp",
        [],
        [TensorType((), "resource")],
        {
            "container": "",
            "shared_name": var.shared_name,
            "dtype": TypeAttr(var.dtype),
            "shape": [int(d) for d in var.initial.shape],
            "_stateful": True,
        },
        location=Location.name(var.shared_name),
        result_names=[name],
    )


def _handle(scope: Scope, var: Variable) -> Value:
    """The variable's tf.VarHandleOp in the function being built (one per function)."""
    k = ("var_handle", var.shared_name)
    handle = scope.captured.get(k)
    if handle is None:
        handle = scope.append(_handle_op(var, scope.unique(var.shared_name))).result
        scope.captured[k] = handle
    return handle


def _read_op(handle: Value, t: TensorType, loc: Location, name: str) -> Operation:
    attrs = {"dtype": TypeAttr(t.dtype), "_stateful": True}
    return Operation("tf.ReadVariableOp", [handle], [t], attrs, location=loc, result_names=[name])


def read(
    importer: GraphImporter, scope: Scope, var: Variable, t: TensorType, loc: Location, name: str
) -> Value:
    """tf.ReadVariableOp of a written variable, at this point of the function."""
    handle = _handle(scope, var)
    return scope.append(_read_op(handle, t, loc, scope.unique(name))).result


def note_constant_read(importer: GraphImporter, scope: Scope, op: Operation, resource: Any) -> None:
    """A variable read as a constant; `finish` turns it into a read if another signature
    writes the variable."""
    _state(importer).constant_reads.append((scope.fn, op, key(resource)))


def write(
    importer: GraphImporter,
    scope: Scope,
    source: GraphSource,
    op: Any,
    handle: Value | None,
    var: Variable | None,
    value: Value,
    loc: Location,
) -> None:
    """AssignVariableOp / AssignAdd / AssignSub of a captured (`var`) or in-function (`handle`)
    variable, as tf.AssignVariableOp (the add and sub decomposed)."""
    if var is not None:
        handle = _handle(scope, var)
    assert handle is not None
    if op.type != "AssignVariableOp":
        t = value.type
        current = scope.append(_read_op(handle, t, loc, scope.unique(op.name + "/read"))).result
        name = "AddV2" if op.type == "AssignAddVariableOp" else "Sub"
        value = scope.append(
            Operation(
                "tf." + name,
                [current, value],
                [t],
                {"T": TypeAttr(t.dtype)},
                location=loc,
                result_names=[scope.unique(op.name)],
            )
        ).result
    scope.append(
        Operation(
            "tf.AssignVariableOp",
            [handle, value],
            [],
            {"dtype": TypeAttr(value.type.dtype), "validate_shape": False, "_stateful": True},
            location=loc,
        )
    )


# --- after the walk ----------------------------------------------------------------------------


def finish(importer: GraphImporter) -> None:
    """Constants read from variables another signature writes become reads."""
    state = _state(importer)
    by_name: dict[int, Variable] = state.mutable
    for fn, op, k in state.constant_reads:
        var = by_name.get(k)
        if var is None or op.parent is None:
            continue
        handle = next(
            (
                o.result
                for o in fn.block.ops
                if o.name == "tf.VarHandleOp" and o.attributes.get("shared_name") == var.shared_name
            ),
            None,
        )
        if handle is None:
            new = _handle_op(var, var.shared_name)
            fn.block.insert_before(new, fn.block.first_op)
            handle = new.result
        result = op.result
        new_read = _read_op(handle, result.type, op.location, result.name_hint or var.shared_name)
        fn.block.insert_before(new_read, op)
        result.replace_all_uses_with(new_read.result)
        op.erase()
    state.constant_reads.clear()


def pending(importer: GraphImporter) -> bool:
    state = importer.resource_state.get("variables")
    return state is not None and bool(state.mutable)


def fill_initializer(importer: GraphImporter, fn: Function, unique: Any) -> None:
    """Assign every written variable its value at import time."""
    state = importer.resource_state.pop("variables", None)
    if state is None:
        return
    for var in state.mutable.values():
        loc = Location.name(var.shared_name)
        handle = fn.block.append(_handle_op(var, unique(var.shared_name))).result
        value = fn.block.append(
            constant(
                var.initial,
                loc,
                unique(var.shared_name + "/initial_value"),
                TensorType(tuple(int(d) for d in var.initial.shape), var.dtype),
            )
        ).result
        fn.block.append(
            Operation(
                "tf.AssignVariableOp",
                [handle, value],
                [],
                {"dtype": TypeAttr(var.dtype), "validate_shape": False, "_stateful": True},
                location=loc,
            )
        )
