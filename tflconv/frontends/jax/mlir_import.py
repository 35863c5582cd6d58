"""A StableHLO `ir.Module` (jaxlib's MLIR bindings) -> tflconv IR, per docs/stablehlo.md.

The walk reads the bindings directly (ops, operands, typed attributes; only locations are
read from their text, see `locations.py`):

- `stablehlo.constant` -> `arith.constant` (numpy value);
- `func.call` of a private function is inlined (recursively), so an entry function is one
  flat body; `func.return` of the entry becomes its terminator;
- `stablehlo.custom_call @shape_assertion` (jax.export's checks of symbolic dimensions) is
  dropped: TFLite has no assertions, and the dims it checks are dynamic dims of the inputs;
- `stablehlo.get_dimension_size` of a static dim becomes a constant;
- ops with regions keep them (one block per region, terminator `stablehlo.return`);
- composite decomposition functions stay functions of the module (non-entry), referenced by
  the composite's `decomposition` SymbolRef;
- every other op is `stablehlo.<name>` with its attributes in the spec's names (`attrs.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jaxlib.mlir import ir

from tflconv.core.ir import Block, Function, Module, Operation, Region, Value, constant
from tflconv.core.location import Location
from tflconv.core.opdef import is_pure
from tflconv.core.types import SymbolRef
from tflconv.dialects import stablehlo as shlo_dialect

from ..base import FrontendError
from .attrs import constant_value, convert_type, op_attributes
from .locations import convert_location, plain_name

DROPPED_CUSTOM_CALLS = frozenset({"shape_assertion"})
"""custom_call targets that only check things at run time (jax.export's shape checks)."""


def _fn_name(fn_op: ir.Operation) -> str:
    return ir.StringAttr(fn_op.attributes["sym_name"]).value


def _is_func(op: Any) -> bool:
    return op.operation.name == "func.func"


def _sanitize(name: str) -> str:
    """`params['dense']['kernel']` -> `params_dense_kernel` (a tensor / signature name)."""
    text = re.sub(r"[^A-Za-z0-9_.]+", "_", name).strip("_")
    return text or "arg"


@dataclass
class EntrySpec:
    """One exported function to import as a signature."""

    function: str  # the MLIR function name ("main")
    signature_key: str
    input_names: list[str] | None = None  # None: from the argument locations
    output_names: list[str] | None = None  # None: output_0, output_1, ...
    platform_index: int = 0
    """The value of a multi-platform export's `_platform_index` argument (CPU's index)."""


@dataclass
class _State:
    module: Module
    funcs: dict[str, ir.Operation]
    kept: dict[str, str] = field(default_factory=dict)  # MLIR name -> module function name
    inlining: list[str] = field(default_factory=list)
    call_sites: list[Location] = field(default_factory=list)  # of the calls being inlined


class StableHloImporter:
    """Imports the functions of one MLIR module into a tflconv `Module`."""

    def __init__(self, mlir_module: ir.Module, module: Module | None = None) -> None:
        self.mlir = mlir_module
        self.state = _State(
            module if module is not None else Module(),
            {
                _fn_name(op.operation): op.operation
                for op in mlir_module.body.operations
                if _is_func(op)
            },
        )
        other = [op.operation.name for op in mlir_module.body.operations if not _is_func(op)]
        if other:
            raise FrontendError(
                f"the MLIR module holds {sorted(set(other))} besides func.func: not a StableHLO "
                "program as jax.export writes it"
            )

    @property
    def module(self) -> Module:
        return self.state.module

    def public_functions(self) -> list[str]:
        out = []
        for name, op in self.state.funcs.items():
            try:
                visibility = ir.StringAttr(op.attributes["sym_visibility"]).value
            except KeyError:
                visibility = "public"
            if visibility == "public":
                out.append(name)
        return out

    # -- entries ------------------------------------------------------------------------------

    def import_entry(self, spec: EntrySpec) -> Function:
        fn_op = self.state.funcs.get(spec.function)
        if fn_op is None:
            known = ", ".join("@" + n for n in self.state.funcs)
            raise FrontendError(f"no function @{spec.function} in the StableHLO module ({known})")
        block = fn_op.regions[0].blocks[0]
        where = f"@{spec.function}"
        platform_args = _platform_index_args(fn_op)
        inputs = [a for i, a in enumerate(block.arguments) if i not in platform_args]
        arg_types = [convert_type(a.type, f"{where} argument {i}") for i, a in enumerate(inputs)]
        names = spec.input_names or self._arg_names(fn_op, platform_args)
        if len(names) != len(arg_types):
            raise FrontendError(
                f"{where} takes {len(arg_types)} inputs but {len(names)} input names were given "
                f"({names})"
            )
        if len(set(names)) != len(names):
            raise FrontendError(f"input names of {where} are not unique: {names}")
        fn = Function(
            self.module.unique_function_name(spec.signature_key),
            arg_types,
            names,
            {"entry": True, "signature_key": spec.signature_key, "input_names": list(names)},
        )
        self.module.add_function(fn)
        values: dict[Any, Value] = dict(zip(inputs, fn.args))
        for i in platform_args:
            # A multi-platform export selects its lowering by this argument: the CPU one.
            index = constant(np.array(spec.platform_index, np.int32), name="platform_index")
            fn.block.append(index)
            values[block.arguments[i]] = index.result
        outputs = self._import_ops(block, values, fn.block, where)
        fn.set_outputs(outputs)
        out_names = spec.output_names or [f"output_{i}" for i in range(len(outputs))]
        if len(out_names) != len(outputs):
            raise FrontendError(
                f"{where} has {len(outputs)} outputs but {len(out_names)} output names were given"
            )
        fn.attributes["output_names"] = list(out_names)
        _drop_dead_ops(fn.block)
        return fn

    def _arg_names(self, fn_op: ir.Operation, skip: set[int] = frozenset()) -> list[str]:
        """Argument names from their locations (`loc("x")`), following a call that passes an
        unnamed argument through (jax.export's `main` wraps `_wrapped_jax_export_main`)."""
        block = fn_op.regions[0].blocks[0]
        names: list[str | None] = [plain_name(str(a.location)) for a in block.arguments]
        if not all(names):
            for op in block.operations:
                if op.name != "func.call":
                    continue
                callee = self.state.funcs.get(ir.FlatSymbolRefAttr(op.attributes["callee"]).value)
                if callee is None:
                    continue
                callee_args = callee.regions[0].blocks[0].arguments
                for j, operand in enumerate(op.operands):
                    for i, arg in enumerate(block.arguments):
                        if names[i] is None and operand == arg:
                            names[i] = plain_name(str(callee_args[j].location))
        out: list[str] = []
        for i, name in enumerate(names):
            if i in skip:
                continue
            base = _sanitize(name) if name else f"args_{i}"
            candidate, k = base, 1
            while candidate in out:
                candidate, k = f"{base}_{k}", k + 1
            out.append(candidate)
        return out

    # -- bodies -------------------------------------------------------------------------------

    def _import_ops(
        self, block: ir.Block, values: dict[Any, Value], target: Block, where: str
    ) -> list[Value]:
        """Import the ops of `block` into `target`; returns the operands of its terminator
        (`func.return` / `stablehlo.return`), which is not imported."""
        for mop in block.operations:
            op = mop.operation
            name = op.name
            if name in ("func.return", "stablehlo.return"):
                return [self._value(values, v, where) for v in op.operands]
            if name == "func.call":
                self._inline_call(op, values, target, where)
                continue
            self._import_op(op, values, target, where)
        raise FrontendError(f"{where}: a block has no terminator")

    def _value(self, values: dict[Any, Value], v: Any, where: str) -> Value:
        try:
            return values[v]
        except KeyError:
            raise FrontendError(
                f"{where}: use of a value defined outside the importer's view"
            ) from None

    def _inline_call(
        self, op: ir.Operation, values: dict[Any, Value], target: Block, where: str
    ) -> None:
        callee = ir.FlatSymbolRefAttr(op.attributes["callee"]).value
        fn_op = self.state.funcs.get(callee)
        if fn_op is None:
            raise FrontendError(f"{where}: call of an unknown function @{callee}")
        if callee in self.state.inlining:
            raise FrontendError(f"{where}: recursive call of @{callee} cannot be inlined")
        self.state.inlining.append(callee)
        self.state.call_sites.append(self._location(op, "call"))
        body = fn_op.regions[0].blocks[0]
        inner: dict[Any, Value] = {}
        for arg, operand in zip(body.arguments, op.operands):
            inner[arg] = self._value(values, operand, where)
        outs = self._import_ops(body, inner, target, f"@{callee}")
        self.state.inlining.pop()
        self.state.call_sites.pop()
        for res, out in zip(op.results, outs):
            values[res] = out

    def _import_op(
        self, op: ir.Operation, values: dict[Any, Value], target: Block, where: str
    ) -> None:
        name = op.name
        location = self._location(op, name.split(".", 1)[-1])
        if name == "stablehlo.constant":
            array = constant_value(op.attributes["value"])
            result_type = convert_type(op.results[0].type, f"{where} {name}")
            if result_type.dtype == "bf16":
                # numpy has no bf16: an f32 constant (same values, exactly) converted to bf16.
                wide = target.append(constant(array, location, _hint(location)))
                new = Operation(
                    "stablehlo.convert", [wide.result], [result_type], location=location
                )
            else:
                new = constant(array, location, _hint(location), type=result_type)
            target.append(new)
            values[op.results[0]] = new.result
            return
        attributes = op_attributes(op)
        if name == "stablehlo.custom_call":
            target_name = attributes.get("call_target_name", "")
            if target_name in DROPPED_CUSTOM_CALLS:
                return
            if not isinstance(attributes.get("backend_config", ""), str):
                attributes["backend_config"] = str(attributes["backend_config"])
            attributes.setdefault("backend_config", "")
            attributes.setdefault("has_side_effect", False)
        operands = [self._value(values, v, where) for v in op.operands]
        result_types = [
            convert_type(r.type, f"{where} {name} result {i}") for i, r in enumerate(op.results)
        ]
        if name == "stablehlo.get_dimension_size":
            dim = attributes.get("dimension", 0)
            shape = operands[0].type.shape
            if shape is not None and shape[dim] is not None:
                dtype = result_types[0]
                new = constant(np.array(shape[dim], np.int32), location, "dimension_size", dtype)
                target.append(new)
                values[op.results[0]] = new.result
                return
        if name == "stablehlo.composite":
            decomposition = attributes.get("decomposition")
            if isinstance(decomposition, SymbolRef):
                attributes["decomposition"] = SymbolRef(self._keep_function(decomposition.name))
        shlo_dialect.fill_defaults(name, attributes, operands)
        regions = [self._import_region(r, f"{where} {name}", values) for r in op.regions]
        hint = _hint(location)
        new = Operation(
            name,
            operands,
            result_types,
            attributes,
            regions,
            location,
            [hint] * len(result_types),
        )
        target.append(new)
        for res, value in zip(op.results, new.results):
            values[res] = value

    def _location(self, op: ir.Operation, default_name: str) -> Location:
        """The op's location; inside an inlined function, a name without a Python line (JAX
        names ops of a `jit(relu)` body `max`) gets the call site's: `jit(f)/jit(relu)/max`
        at the line that called relu."""
        location = convert_location(str(op.location), default_name)
        if not self.state.call_sites or location.sources:
            return location
        site = self.state.call_sites[-1]
        if site.is_unknown:
            return location
        site_name, site_source = site.entries[0]
        inner = location.names[0] if location.names else default_name
        return Location.name(f"{site_name}/{inner}", site_source)

    def _import_region(self, region: ir.Region, where: str, outer: dict[Any, Value]) -> Region:
        blocks = list(region.blocks)
        if len(blocks) != 1:
            raise FrontendError(f"{where}: a region with {len(blocks)} blocks (expected one)")
        mblock = blocks[0]
        types = [convert_type(a.type, f"{where} block argument") for a in mblock.arguments]
        block = Block(types)
        # Region bodies may use values of the enclosing scope (StableHLO regions are not
        # isolated from above): look them up in the enclosing map.
        values = _ChainMap(dict(zip(mblock.arguments, block.args)), outer)
        outs = self._import_ops(mblock, values, block, where)
        block.append(Operation("stablehlo.return", outs, location=_terminator_location(mblock)))
        return Region([block])

    def _keep_function(self, mlir_name: str) -> str:
        """Import a private function as a (non-entry) function of the module, once."""
        kept = self.state.kept.get(mlir_name)
        if kept is not None:
            return kept
        fn_op = self.state.funcs.get(mlir_name)
        if fn_op is None:
            raise FrontendError(f"composite decomposition @{mlir_name} is not in the module")
        name = self.module.unique_function_name(mlir_name)
        self.state.kept[mlir_name] = name
        block = fn_op.regions[0].blocks[0]
        where = f"@{mlir_name}"
        types = [convert_type(a.type, f"{where} argument") for a in block.arguments]
        fn = Function(name, types, [None] * len(types))
        self.module.add_function(fn)
        values: dict[Any, Value] = dict(zip(block.arguments, fn.args))
        fn.set_outputs(self._import_ops(block, values, fn.block, where))
        return name


def _platform_index_args(fn_op: ir.Operation) -> set[int]:
    """Arguments marked `jax.global_constant = "_platform_index"` (multi-platform exports)."""
    try:
        arg_attrs = ir.ArrayAttr(fn_op.attributes["arg_attrs"])
    except KeyError:
        return set()
    out = set()
    for i, attrs in enumerate(arg_attrs):
        d = ir.DictAttr(attrs)
        try:
            marker = ir.StringAttr(d["jax.global_constant"]).value
        except KeyError:
            continue
        if marker == "_platform_index":
            out.add(i)
    return out


def _drop_dead_ops(block: Block) -> None:
    """Erase pure ops nobody uses: what computed the dropped shape assertions' operands."""
    op = block.last_op
    while op is not None:
        prev = op.prev_op
        if not op.has_users() and op.results and is_pure(op):
            op.erase()
        op = prev


class _ChainMap(dict):
    """Block-local values, falling back to the enclosing scopes'."""

    def __init__(self, local: dict[Any, Value], parent: dict[Any, Value]) -> None:
        super().__init__(local)
        self.parent = parent

    def __missing__(self, key: Any) -> Value:
        return self.parent[key]


def _terminator_location(block: ir.Block) -> Any:
    ops = list(block.operations)
    if not ops:
        return convert_location("unknown")
    return convert_location(str(ops[-1].operation.location))


def _hint(location: Any) -> str | None:
    """An SSA name from the JAX op name: `jit(f)/dot_general` -> `dot_general`."""
    names = location.names
    if not names:
        return None
    return _sanitize(names[0].rsplit("/", 1)[-1]) or None
