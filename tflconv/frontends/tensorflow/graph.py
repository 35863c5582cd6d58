"""Walks TensorFlow FuncGraphs and builds tf-dialect `Function`s.

One `GraphImporter` fills one `Module`. The entry graph of each signature becomes an entry
function; `PartitionedCall`/`StatefulPartitionedCall` bodies are inlined (re-traced from their
FunctionDef with the call site's shapes when those are more static); `While`/`If`/`Case`
bodies become separate functions referenced by `SymbolRef`.

Captured variables never become IR values: a captured resource handle is a `Resource` marker
that flows through calls and control-flow operands; `ReadVariableOp` of a marker becomes an
`arith.constant` of the variable's current value, and control-flow operands that carry only a
marker are dropped from the op and from its body functions' signatures. A variable the model
writes becomes a resource variable instead (`tf.VarHandleOp` / `tf.ReadVariableOp` /
`tf.AssignVariableOp`, variables.py); a table the function creates and fills is a
`tables.LocalTable` marker.

The walk imports the ops the outputs depend on through data edges, plus the ops that write a
resource (variable assignments, table imports, and calls or control flow whose bodies do),
which a graph reaches through control dependencies only; a graph with such writes is imported
in its creation order, which respects both kinds of edges (reads after the writes before them).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2, types_pb2

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.location import LazySourceLine, Location, SourceLine
from tflconv.core.types import TensorType

from ..base import FrontendError
from . import attrs as cv
from . import (
    refine,  # result shapes TF could not infer at graph building (refine.py)
    tables,  # captured hash tables (tables.py)
    variables,  # variables the model writes (variables.py)
)
from .bindings import (
    CALL_OPS,
    CASE_OPS,
    FORWARDING_OPS,
    IF_OPS,
    V1_CONTROL_FLOW,
    WHILE_OPS,
    GraphSource,
    LazyConstant,
    Resource,
    Scope,
)
from .library import regenerate_graph

_WRITES = variables.WRITE_PREFIXES + tuple(tables.MUTATING_OPS)


Binding = Any  # Value | Resource | LazyConstant | tables.LocalTable
RESOURCES = (Resource, tables.LocalTable)
"""Bindings that are resources, not IR values (dropped from control-flow operands)."""


class GraphImporter:
    """Builds tf-dialect functions from TF graphs into `module`."""

    def __init__(
        self,
        module: Module,
        *,
        use_tracebacks: bool,
        debug_info: cv.SavedDebugInfo | None = None,
    ) -> None:
        self.module = module
        self.use_tracebacks = use_tracebacks
        self.debug_info = debug_info
        self.locator = cv.SourceLocator()
        self._function_names = {f.name for f in module.functions}
        self._bodies: dict[tuple, Function] = {}
        self._new_bodies: list[Function] = []
        self._specialized: dict[tuple, Any] = {}
        self._stateful_types: dict[str, bool] = {}
        self._writing_ops: dict[int, list[Any]] = {}
        self._writing_functions: dict[str, bool] = {}
        self.resource_state: dict[str, Any] = {}
        """Per-import state of tables.py ("tables") and variables.py ("variables")."""

    # --- entry points ----------------------------------------------------------------------

    def import_entry(
        self, fn: Function, source: GraphSource, bindings: list[Binding], outputs: list[Any]
    ) -> None:
        """Fill `fn` (already in the module) from `source.graph`; `bindings` align with the
        graph's inputs (signature args and captures), `outputs` are the graph tensors to return."""
        scope = Scope(fn)
        variables.scan_entry(self, source, bindings)
        results = self._walk(scope, source, bindings, outputs)
        fn.set_outputs([self._value(scope, r, "output of @" + fn.name) for r in results])

    def finish(self) -> None:
        """Append the control-flow body functions after the entry functions."""
        for fn in self._new_bodies:
            self.module.add_function(fn)
        self._new_bodies = []
        variables.finish(self)  # constant reads of variables another signature writes
        tables.add_initializer(self)  # hash-table contents, imported once (tables.py)

    def reserve_name(self, name: str) -> str:
        base, i = name, 1
        while name in self._function_names:
            name = f"{base}_{i}"
            i += 1
        self._function_names.add(name)
        return name

    # --- the walk ----------------------------------------------------------------------------

    def _walk(
        self, scope: Scope, source: GraphSource, bindings: list[Binding], outputs: list[Any]
    ) -> list[Binding]:
        graph = source.graph
        inputs = {t.op.name: i for i, t in enumerate(graph.inputs)}
        env: dict[str, list[Binding]] = {}
        for op, op_inputs in _data_ops(outputs, set(inputs), self._writes_in(source)):
            op_type = op.type
            index = inputs.get(op.name)
            if index is not None and index < len(bindings):
                # A function input, whatever op produces it: a PlaceholderWithDefault named in
                # input_arrays (or a TF1 signature input) is an input, not its default value.
                if len(op.outputs) != 1:
                    raise FrontendError(
                        f"{_where(source, op)}: an output of this {len(op.outputs)}-output op "
                        "is named as an input; name a single-output node (e.g. a Placeholder)"
                    )
                env[op.name] = [bindings[index]]
                continue
            if op_type == "Placeholder":
                raise FrontendError(
                    f"{_where(source, op)}: placeholder {op.name!r} is not an input of the "
                    "function; list it in input_arrays (GraphDef) or feed it as an argument"
                )
            ins = [env[t.op.name][t.value_index] for t in op_inputs]
            if op_type in FORWARDING_OPS:
                env[op.name] = ins if op_type == "IdentityN" else ins[:1]
            elif op_type == "Const":
                env[op.name] = [self._const(scope, source, op)]
            elif op_type == "ReadVariableOp" and isinstance(ins[0], Resource):
                env[op.name] = [self._read_variable(scope, source, op, ins[0])]
            elif op_type == "ResourceGather" and isinstance(ins[0], Resource):
                env[op.name] = [self._resource_gather(scope, source, op, ins)]
            elif op_type in variables.ASSIGN_OPS and ins and isinstance(ins[0], Resource | Value):
                env[op.name] = self._assign(scope, source, op, ins)
            elif op_type == "HashTableV2" and not op.inputs:
                env[op.name] = [tables.LocalTable(op)]
            elif op_type == "LookupTableImportV2" and isinstance(ins[0], tables.LocalTable):
                env[op.name] = tables.import_local(self, scope, source, op, ins)
            elif op_type == "LookupTableImportV2" and isinstance(ins[0], Resource):
                env[op.name] = tables.import_captured(self, scope, source, op, ins)
            elif op_type in tables.MUTATING_OPS and isinstance(ins[0], Resource):
                tables.refuse_write(source, op)
            elif op_type in tables.TABLE_OPS and isinstance(ins[0], RESOURCES):
                env[op.name] = tables.import_table_op(self, scope, source, op, ins)
            elif op_type in CALL_OPS or graph._is_function(op_type):
                env[op.name] = self._inline_call(scope, source, op, ins)
            elif op_type in WHILE_OPS:
                env[op.name] = self._while(scope, source, op, ins)
            elif op_type in IF_OPS or op_type in CASE_OPS:
                env[op.name] = self._if_or_case(scope, source, op, ins)
            elif op_type in V1_CONTROL_FLOW:
                raise FrontendError(
                    f"{_where(source, op)}: TF1 control flow op {op_type} is not supported; "
                    "export the model with TF2 control flow (tf.function, "
                    "tf.compat.v1.enable_control_flow_v2()) or as a SavedModel"
                )
            else:
                env[op.name] = list(self._generic(scope, source, op, ins).results)
        return [env[t.op.name][t.value_index] for t in outputs]

    def _writes_in(self, source: GraphSource) -> list[Any]:
        """The graph's ops that write a resource, directly or in a body they call."""
        graph = source.graph
        ops = self._writing_ops.get(id(graph))
        if ops is None:
            ops = [op for op in graph.get_operations() if self._writes(source, op)]
            self._writing_ops[id(graph)] = ops
        return ops

    def _writes(self, source: GraphSource, op: Any) -> bool:
        if op.type.startswith(_WRITES):
            return True
        for name in _called_functions(source, op):
            known = self._writing_functions.get(name)
            if known is None:
                self._writing_functions[name] = False  # recursion guard
                try:
                    callee = self._function_graph(source, self._callee(source, name, op.name))
                except FrontendError:  # reported where the walk needs the function, if it does
                    continue
                body = GraphSource(callee, name)
                known = any(self._writes(body, o) for o in callee.get_operations())
                self._writing_functions[name] = known
            if known:
                return True
        return False

    # --- values ------------------------------------------------------------------------------

    def _value(self, scope: Scope, binding: Binding, where: str) -> Value:
        if isinstance(binding, Value):
            return binding
        if isinstance(binding, LazyConstant):
            value = scope.captured.get(id(binding))
            if value is None:
                op = constant(
                    binding.array,
                    Location.name(binding.name),
                    scope.unique(binding.name),
                    TensorType(tuple(binding.array.shape), binding.dtype),
                )
                value = scope.append(op).result
                scope.captured[id(binding)] = value
            return value
        raise FrontendError(
            f"{where}: uses the resource {binding.name!r} as a value; only reading and "
            "assigning variables and looking up tables are supported"
        )

    def _location(self, source: GraphSource, op: Any) -> Location:
        line: SourceLine | LazySourceLine | None = None
        if self.use_tracebacks:
            traced = op if source.original_ops is None else source.original_ops.get(op.name)
            if traced is not None:
                # Not a method: the location would keep the importer (and its module) alive.
                line = LazySourceLine(functools.partial(_source_line, self.locator, traced))
        elif self.debug_info is not None:
            line = self.debug_info.lookup(op.name, source.function_name)
        return Location.name(op.name, line)

    def _type_of(self, source: GraphSource, tensor: Any, where: str) -> TensorType:
        """The IR type of a graph tensor (merged with the originally traced one, if any)."""
        t = cv.tensor_type(tensor, where)
        if source.original_ops is not None:
            original = source.original_ops.get(tensor.op.name)
            if original is not None and tensor.value_index < len(original.outputs):
                merged = _merge(tensor.shape, original.outputs[tensor.value_index].shape)
                if merged.rank is not None:
                    t = t.with_shape(tuple(merged.as_list()))
        return t

    def _result_names(self, scope: Scope, op: Any, count: int) -> list[str]:
        return [scope.unique(cv.value_name(op.name, i)) for i in range(count)]

    def _is_stateful(self, op: Any) -> bool:
        stateful = self._stateful_types.get(op.type)
        if stateful is None:
            try:
                stateful = bool(op.op_def.is_stateful)
            except Exception:  # noqa: BLE001 - ops without a registered OpDef
                stateful = False
            self._stateful_types[op.type] = stateful
        return stateful

    # --- op kinds ------------------------------------------------------------------------------

    def _const(self, scope: Scope, source: GraphSource, op: Any) -> Value:
        node_def = op.node_def
        array = cv.tensor_array(node_def.attr["value"].tensor)
        dtype = cv.dtype_name(node_def.attr["dtype"].type, _where(source, op))
        new = constant(
            array,
            self._location(source, op),
            scope.unique(op.name),
            TensorType(tuple(int(d) for d in array.shape), dtype),
        )
        return scope.append(new).result

    def _read_variable(self, scope: Scope, source: GraphSource, op: Any, res: Resource) -> Value:
        var = variables.mutable(self, res)
        if var is not None:  # written by the model: a real read at this point
            where = _where(source, op)
            t = self._type_of(source, op.outputs[0], where)
            return variables.read(self, scope, var, t, self._location(source, op), op.name)
        dtype_enum = op.outputs[0].dtype.as_datatype_enum  # the `dtype` attr, 6x cheaper
        key = (id(res), dtype_enum)
        value = scope.captured.get(key)  # one constant per variable and function
        if value is None:
            array = res.read(dtype_enum, _where(source, op))
            new = constant(
                array,
                self._location(source, op),
                scope.unique(op.name),
                TensorType(tuple(int(d) for d in array.shape), cv.dtype_name(dtype_enum)),
            )
            value = scope.append(new).result
            scope.captured[key] = value
            variables.note_constant_read(self, scope, new, res)
        return value

    def _assign(
        self, scope: Scope, source: GraphSource, op: Any, ins: list[Binding]
    ) -> list[Binding]:
        """Assign(Add|Sub)VariableOp of a captured or in-function variable."""
        where = _where(source, op)
        resource = ins[0]
        var = variables.mutable(self, resource) if isinstance(resource, Resource) else None
        if isinstance(resource, Resource) and var is None:
            raise FrontendError(f"{where}: writes a captured variable the import did not expect")
        handle = resource if isinstance(resource, Value) else None
        value = self._value(scope, ins[1], where)
        loc = self._location(source, op)
        variables.write(self, scope, source, op, handle, var, value, loc)
        return []

    def _generic(
        self,
        scope: Scope,
        source: GraphSource,
        op: Any,
        ins: list[Binding],
        node_def: Any = None,
        op_type: str | None = None,
        result_types: list[TensorType] | None = None,
        extra_attrs: dict[str, Any] | None = None,
    ) -> Operation:
        where = _where(source, op)
        node_def = op.node_def if node_def is None else node_def
        operands = [self._value(scope, b, where) for b in ins]
        if result_types is None:
            result_types = [self._type_of(source, t, where) for t in op.outputs]
            if refine.needs_refinement(op, operands, result_types):
                result_types = refine.refined_types(op, operands, result_types)
        attrs = cv.convert_attrs(node_def)
        if extra_attrs:
            attrs.update(extra_attrs)
        explicit = extra_attrs is not None and "_stateful" in extra_attrs
        if not explicit and self._is_stateful(op):
            attrs["_stateful"] = True
        attrs["_node_def"] = cv.flex_node_def(node_def, len(operands), op.name)
        new = Operation(
            "tf." + (op_type or op.type),
            operands,
            result_types,
            attrs,
            location=self._location(source, op),
            result_names=self._result_names(scope, op, len(result_types)),
        )
        return scope.append(new)

    def _resource_gather(
        self, scope: Scope, source: GraphSource, op: Any, ins: list[Binding]
    ) -> Value:
        """ResourceGather(var, indices) -> GatherV2(read(var), indices, axis=0), as TF's
        DecomposeResourceOps does."""
        node_def = op.node_def
        attrs = node_def.attr
        location = self._location(source, op)
        var = variables.mutable(self, ins[0])
        if var is not None:
            t = TensorType(tuple(int(d) for d in var.initial.shape), var.dtype)
            params_value = variables.read(self, scope, var, t, location, op.name + "/params")
        else:
            array = ins[0].read(attrs["dtype"].type, _where(source, op))
            params = constant(array, location, scope.unique(op.name + "/params"))
            scope.append(params)
            variables.note_constant_read(self, scope, params, ins[0])
            params_value = params.result
        axis = constant(np.array(0, np.int32), location, scope.unique(op.name + "/axis"))
        scope.append(axis)
        gather_def = cv.make_node_def(
            "GatherV2",
            {
                "Tparams": attr_value_pb2.AttrValue(type=attrs["dtype"].type),
                "Tindices": attrs["Tindices"],
                "Taxis": attr_value_pb2.AttrValue(type=types_pb2.DT_INT32),
                "batch_dims": attrs["batch_dims"],
            },
        )
        new = self._generic(
            scope,
            source,
            op,
            [params_value, ins[1], axis.result],
            node_def=gather_def,
            op_type="GatherV2",
            extra_attrs={"_stateful": False},
        )
        _drop_false_stateful(new)
        return new.result

    # --- functions -----------------------------------------------------------------------------

    def _callee(self, source: GraphSource, name: str, where: str) -> Any:
        fn = source.graph._get_function(name)
        if fn is None:
            raise FrontendError(f"{where}: function {name!r} is not in the graph's library")
        return fn

    def _inline_call(
        self, scope: Scope, source: GraphSource, op: Any, ins: list[Binding]
    ) -> list[Binding]:
        where = _where(source, op)
        name = op.get_attr("f").name if op.type in CALL_OPS else op.type
        callee = self._callee(source, name, where)
        shapes = [_value_shape(b) for b in ins]
        body = self._specialize(source, callee, shapes)
        if len(body.graph.inputs) != len(ins) or len(body.graph.outputs) != len(op.outputs):
            raise FrontendError(f"{where}: call to {name!r} does not match its signature")
        return self._walk(scope, body, ins, list(body.graph.outputs))

    def _function_graph(self, source: GraphSource, callee: Any) -> Any:
        """The FuncGraph of a library function (legacy `_DefinedFunction`s from
        `import_graph_def` only carry a FunctionDef: build a graph from it)."""
        graph = getattr(callee, "graph", None)
        if graph is not None:
            return graph
        key = ("library", cv.as_str(callee.name))
        if key not in self._specialized:
            children = list(source.graph._functions.values())
            try:
                self._specialized[key] = regenerate_graph(callee.definition, children, None)
            except Exception as e:  # noqa: BLE001 - TF raises many error types
                raise FrontendError(
                    f"cannot import function {key[1]!r}: {str(e).strip().splitlines()[0]}"
                ) from None
        return self._specialized[key]

    def _specialize(self, source: GraphSource, callee: Any, shapes: list[Any]) -> GraphSource:
        """The callee's graph; re-built from its FunctionDef when `shapes` (what the call site
        knows, None: nothing) are more static than the inputs it was traced with, so that TF's
        shape inference sees them. Types then merge both graphs' shapes (the rebuilt graph
        loses e.g. variable shapes carried by resource handles)."""
        graph = self._function_graph(source, callee)
        name = cv.as_str(callee.name)
        given: list[Any] = []
        refine = False
        for shape, placeholder in zip(shapes, graph.inputs):
            if placeholder.dtype in (tf.resource, tf.variant):
                given.append(None if placeholder.dtype == tf.resource else placeholder.shape)
            elif shape is None:
                given.append(placeholder.shape)
            else:
                refine = refine or _more_static(shape, placeholder.shape)
                given.append(_merge(shape, placeholder.shape))
        if not refine:
            return GraphSource(graph, name)
        key = (name, tuple(str(s) for s in given))
        if key not in self._specialized:
            children = list(graph._functions.values())
            try:
                self._specialized[key] = regenerate_graph(
                    callee.definition, children, given, list(graph.inputs)
                )
            except Exception:  # noqa: BLE001 - fall back to the graph as traced
                self._specialized[key] = None
        new_graph = self._specialized[key]
        if new_graph is None:
            return GraphSource(graph, name)
        return GraphSource(new_graph, name, {o.name: o for o in graph.get_operations()})

    def _body(
        self,
        source: GraphSource,
        name: str,
        bound: list[Resource | None],
        shapes: list[Any],
        passthrough: bool,
        where: str,
    ) -> Function:
        """A control-flow body as a separate function. Inputs bound to resources are dropped;
        with `passthrough` (while bodies) the matching outputs must return them unchanged.
        `shapes` are the input shapes the op guarantees (None: unknown)."""
        callee = self._callee(source, name, where)
        body_source = self._specialize(source, callee, shapes)
        graph = body_source.graph
        key = (
            name,
            tuple(id(b) if b is not None else None for b in bound),
            passthrough,
            id(graph),
        )
        fn = self._bodies.get(key)
        if fn is not None:
            return fn
        if len(graph.inputs) != len(bound):
            raise FrontendError(f"{where}: body {name!r} does not match the op's operands")
        kept = [i for i, b in enumerate(bound) if b is None]
        fn = Function(
            self.reserve_name(name),
            [self._type_of(body_source, graph.inputs[i], where) for i in kept],
            [graph.inputs[i].op.name for i in kept],
        )
        self._bodies[key] = fn
        self._new_bodies.append(fn)
        bindings: list[Binding] = list(bound)
        for arg, i in zip(fn.args, kept):
            bindings[i] = arg
        scope = Scope(fn)
        results = self._walk(scope, body_source, bindings, list(graph.outputs))
        outputs = []
        for i, result in enumerate(results):
            if passthrough and i < len(bound) and bound[i] is not None:
                if result is not bound[i]:
                    raise FrontendError(
                        f"{where}: loop body {name!r} changes the resource loop variable "
                        f"{bound[i].name!r}; only read-only variables are supported"
                    )
                continue
            outputs.append(self._value(scope, result, f"output {i} of {name!r}"))
        fn.set_outputs(outputs)
        return fn

    def _while(
        self, scope: Scope, source: GraphSource, op: Any, ins: list[Binding]
    ) -> list[Binding]:
        where = _where(source, op)
        node_def = op.node_def
        bound = [b if isinstance(b, RESOURCES) else None for b in ins]
        kept = [i for i, b in enumerate(bound) if b is None]
        # Loop-variable shapes valid in every iteration (TF's shape invariants).
        shapes: list[Any] = [None] * len(ins)
        if "output_shapes" in node_def.attr:
            declared = node_def.attr["output_shapes"].list.shape
            if len(declared) == len(ins):
                shapes = [tf.TensorShape(s) for s in declared]
        cond = self._body(source, node_def.attr["cond"].func.name, bound, shapes, False, where)
        body = self._body(source, node_def.attr["body"].func.name, bound, shapes, True, where)
        node_def.attr["cond"].func.name = cond.name
        node_def.attr["body"].func.name = body.name
        _keep_list(node_def, "T", kept)
        _keep_list(node_def, "output_shapes", kept)
        _drop_index_attrs(node_def, len(kept))
        new = self._generic(
            scope,
            source,
            op,
            [ins[i] for i in kept],
            node_def=node_def,
            result_types=[self._type_of(source, op.outputs[i], where) for i in kept],
            extra_attrs={"_stateful": _any_stateful([cond, body])},
        )
        _drop_false_stateful(new)
        results: list[Binding] = list(bound)
        for result, i in zip(new.results, kept):
            results[i] = result
        return results

    def _if_or_case(
        self, scope: Scope, source: GraphSource, op: Any, ins: list[Binding]
    ) -> list[Binding]:
        where = _where(source, op)
        node_def = op.node_def
        args = ins[1:]
        bound = [b if isinstance(b, RESOURCES) else None for b in args]
        kept = [i for i, b in enumerate(bound) if b is None]
        if op.type in IF_OPS:
            keys = ["then_branch", "else_branch"]
            names = [node_def.attr[k].func.name for k in keys]
        else:
            names = [f.name for f in node_def.attr["branches"].list.func]
        shapes = [_value_shape(b) for b in args]
        branches = [self._body(source, name, bound, shapes, False, where) for name in names]
        if op.type in IF_OPS:
            for key, fn in zip(keys, branches):
                node_def.attr[key].func.name = fn.name
        else:
            for f, fn in zip(node_def.attr["branches"].list.func, branches):
                f.name = fn.name
        _keep_list(node_def, "Tin", kept)
        _drop_index_attrs(node_def, None)
        new = self._generic(
            scope,
            source,
            op,
            [ins[0]] + [args[i] for i in kept],
            node_def=node_def,
            extra_attrs={"_stateful": _any_stateful(branches)},
        )
        _drop_false_stateful(new)
        return list(new.results)


# --- helpers -------------------------------------------------------------------------------


def _called_functions(source: GraphSource, op: Any) -> list[str]:
    """The library functions a call or control-flow op runs."""
    if op.type in CALL_OPS:
        return [op.get_attr("f").name]
    if op.type in WHILE_OPS:
        return [op.get_attr("cond").name, op.get_attr("body").name]
    if op.type in IF_OPS:
        return [op.get_attr("then_branch").name, op.get_attr("else_branch").name]
    if op.type in CASE_OPS:
        return [f.name for f in op.get_attr("branches")]
    if source.graph._is_function(op.type):
        return [op.type]
    return []


def _data_ops(
    outputs: list[Any], inputs: set[str] = frozenset(), effects: list[Any] = ()
) -> list[tuple[Any, list[Any]]]:
    """The ops the outputs and the `effects` ops depend on through data edges, in topological
    order, each with its input tensors (TF builds that list anew on each access); the walk
    stops at the ops named in `inputs` (the function's inputs). With effects, in the graph's
    creation order (which also respects control edges: a read after the write it depends
    on)."""
    order: list[tuple[Any, list[Any]]] = []
    state: dict[str, bool] = {}  # False: on the stack, True: emitted
    stack: list[tuple[Any, list[Any] | None]] = [(op, None) for op in reversed(effects)]
    stack += [(t.op, None) for t in reversed(outputs)]
    while stack:
        op, op_inputs = stack.pop()
        if op_inputs is not None:  # its inputs are done
            state[op.name] = True
            order.append((op, op_inputs))
            continue
        if op.name in state:
            continue
        state[op.name] = False
        op_inputs = list(op.inputs)
        stack.append((op, op_inputs))
        if op.name in inputs:
            continue
        for t in reversed(op_inputs):
            if t.op.name not in state:
                stack.append((t.op, None))
    if effects:
        position = {op.name: i for i, op in enumerate(effects[0].graph.get_operations())}
        order.sort(key=lambda entry: position[entry[0].name])
    return order


def _source_line(locator: cv.SourceLocator, traced: Any) -> SourceLine | None:
    return locator.from_traceback(traced.traceback)


def _where(source: GraphSource, op: Any) -> str:
    return f"node {op.name!r} ({op.type}) in {source.function_name}"


def _value_shape(binding: Binding) -> Any:
    """What a binding tells about the shape at a call site (None: nothing)."""
    if isinstance(binding, Value) and binding.type.shape is not None:
        return tf.TensorShape(binding.type.shape)
    if isinstance(binding, LazyConstant):
        return tf.TensorShape(binding.array.shape)
    return None


def _more_static(shape: Any, traced: Any) -> bool:
    if shape.rank is None:
        return False
    if traced.rank is None:
        return True
    return any(k is not None and t is None for k, t in zip(shape.as_list(), traced.as_list()))


def _merge(a: Any, b: Any) -> Any:
    """The most static shape compatible with both (the first one if they conflict)."""
    try:
        return tf.TensorShape(a).merge_with(b)
    except ValueError:
        return tf.TensorShape(a)


def _keep_list(node_def: Any, key: str, kept: list[int]) -> None:
    if key not in node_def.attr:
        return
    lst = node_def.attr[key].list
    for field in ("type", "shape"):
        values = getattr(lst, field)
        if len(values):
            items = [values[i] for i in kept if i < len(values)]
            if field == "type":
                del values[:]
                values.extend(items)
            else:
                copies = [type(v)() for v in items]
                for c, v in zip(copies, items):
                    c.CopyFrom(v)
                del values[:]
                values.extend(copies)


def _drop_index_attrs(node_def: Any, num_outputs: int | None) -> None:
    """Internal attrs that count or index operands are stale after dropping resources."""
    if "_read_only_resource_inputs" in node_def.attr:
        del node_def.attr["_read_only_resource_inputs"]
    if num_outputs is not None and "_num_original_outputs" in node_def.attr:
        node_def.attr["_num_original_outputs"].i = num_outputs


def _any_stateful(functions: list[Function]) -> bool:
    return any(op.attributes.get("_stateful") for fn in functions for op in fn.walk())


def _drop_false_stateful(op: Operation) -> None:
    if not op.attributes.get("_stateful", True):
        del op.attributes["_stateful"]
