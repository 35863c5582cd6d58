"""The IR: a mutable SSA graph with use lists.

Module -> Function (a subgraph: entry block arguments are its inputs, `func.return` its outputs)
-> Block -> Operation. Values know their users, so replacing and erasing cost O(uses).
Ops live in an intrusive doubly linked list per block: inserting and erasing are O(1), and
iterating a block while erasing the current op is safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .location import UNKNOWN, Location
from .types import SymbolRef, TensorType

if TYPE_CHECKING:
    from .opdef import OpDef

OPDEFS: dict[str, OpDef] = {}
"""The op registry, by op name: `opdef.declare_op` fills it. It lives here, beside the
`Operation` that looks itself up in it, so that the IR does not import the module that
builds on the IR."""


class IRError(Exception):
    """Misuse of the IR API (erasing a value that still has users, ...)."""


class Use:
    """Operand `index` of `op` reads a value."""

    __slots__ = ("op", "index")

    def __init__(self, op: Operation, index: int) -> None:
        self.op = op
        self.index = index

    def __repr__(self) -> str:
        return f"Use({self.op.name}, {self.index})"


class Value:
    """An SSA value: the result of an op or an argument of a block."""

    __slots__ = ("type", "name_hint", "_uses")

    def __init__(self, type: TensorType, name_hint: str | None = None) -> None:
        self.type = type
        self.name_hint = name_hint
        self._uses: dict[Use, None] = {}

    @property
    def uses(self) -> list[Use]:
        return list(self._uses)

    @property
    def num_uses(self) -> int:
        return len(self._uses)

    @property
    def users(self) -> list[Operation]:
        """The ops that read this value, each once, in use order."""
        return list(dict.fromkeys(use.op for use in self._uses))

    def has_one_use(self) -> bool:
        return len(self._uses) == 1

    @property
    def owner(self) -> Operation | Block:
        raise NotImplementedError

    @property
    def defining_op(self) -> Operation | None:
        """The op producing this value, None for block arguments."""
        return None

    def replace_all_uses_with(self, new: Value) -> None:
        if new is self:
            return
        for use in list(self._uses):
            use.op.set_operand(use.index, new)

    def replace_uses_where(self, new: Value, keep: Any) -> None:
        """Replace the uses for which `keep(use)` is False."""
        for use in list(self._uses):
            if not keep(use):
                use.op.set_operand(use.index, new)


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: TensorType, op: Operation, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op

    @property
    def defining_op(self) -> Operation:
        return self.op

    def __repr__(self) -> str:
        return f"<OpResult {self.name_hint or ''} #{self.index} of {self.op.name}: {self.type}>"


class BlockArgument(Value):
    __slots__ = ("block", "index")

    def __init__(self, type: TensorType, block: Block, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index

    @property
    def owner(self) -> Block:
        return self.block

    def __repr__(self) -> str:
        return f"<BlockArgument {self.name_hint or ''} #{self.index}: {self.type}>"


class Operation:
    """One op: `name` ("tf.Conv2D", "tfl.conv_2d"), operands, results, attributes, regions.

    Attributes are plain Python values (bool, int, float, str, bytes, lists), numpy arrays
    (constants, shared not copied), `TypeAttr`, `SymbolRef` and `TensorType`.
    Ops declared in the op registry (`opdef.OPDEFS`) also get named accessors: for
    `tfl.conv_2d`, `op.filter` is its second operand and `op.padding` its attribute.
    """

    __slots__ = (
        "name",
        "_operands",
        "_uses_held",
        "results",
        "attributes",
        "regions",
        "location",
        "parent",
        "_prev",
        "_next",
    )

    def __init__(
        self,
        name: str,
        operands: Sequence[Value] = (),
        result_types: Sequence[TensorType] = (),
        attributes: dict[str, Any] | None = None,
        regions: Sequence[Region] = (),
        location: Location = UNKNOWN,
        result_names: Sequence[str | None] | None = None,
    ) -> None:
        self.name = name
        self._operands: list[Value] = []
        self._uses_held: list[Use] = []
        names = result_names or [None] * len(result_types)
        self.results = [
            OpResult(t, self, i, n) for i, (t, n) in enumerate(zip(result_types, names))
        ]
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.regions: list[Region] = []
        self.location = location
        self.parent: Block | None = None
        self._prev: Operation | None = None
        self._next: Operation | None = None
        for value in operands:
            self._append_operand(value)
        for region in regions:
            self.add_region(region)

    # --- operands ------------------------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    @property
    def num_operands(self) -> int:
        return len(self._operands)

    def _append_operand(self, value: Value) -> None:
        if not isinstance(value, Value):
            raise IRError(f"operand of {self.name} must be a Value, got {type(value).__name__}")
        use = Use(self, len(self._operands))
        self._operands.append(value)
        self._uses_held.append(use)
        value._uses[use] = None

    def set_operand(self, index: int, value: Value) -> None:
        old = self._operands[index]
        if old is value:
            return
        use = self._uses_held[index]
        del old._uses[use]
        self._operands[index] = value
        value._uses[use] = None

    def set_operands(self, values: Sequence[Value]) -> None:
        """Replace the whole operand list."""
        self.drop_operands()
        for value in values:
            self._append_operand(value)

    def drop_operands(self) -> None:
        for value, use in zip(self._operands, self._uses_held):
            del value._uses[use]
        self._operands = []
        self._uses_held = []

    # --- results ---------------------------------------------------------------------------
    @property
    def result(self) -> OpResult:
        """The single result; raises when the op has zero or several."""
        if len(self.results) != 1:
            raise IRError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def result_types(self) -> list[TensorType]:
        return [r.type for r in self.results]

    def has_users(self) -> bool:
        return any(r._uses for r in self.results)

    # --- regions ---------------------------------------------------------------------------
    def add_region(self, region: Region) -> Region:
        if region.parent is not None:
            raise IRError("region already belongs to an op")
        region.parent = self
        self.regions.append(region)
        return region

    # --- declared-op helpers ---------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def opdef(self) -> OpDef | None:
        return OPDEFS.get(self.name)

    def __getattr__(self, key: str) -> Any:
        # Named operand / attribute access for declared ops (only reached for unknown slots).
        if key.startswith("_"):
            raise AttributeError(key)
        opdef = self.opdef
        if opdef is not None:
            found, value = opdef.lookup(self, key)
            if found:
                return value
        raise AttributeError(f"{self.name} has no operand or attribute {key!r}")

    def attr(self, key: str, default: Any = None) -> Any:
        """The attribute value, else the declared default, else `default`."""
        if key in self.attributes:
            return self.attributes[key]
        opdef = self.opdef
        if opdef is not None and key in opdef.attributes:
            declared = opdef.attributes[key]
            if declared is not REQUIRED:
                return declared
        return default

    # --- position in the block --------------------------------------------------------------
    @property
    def next_op(self) -> Operation | None:
        return self._next

    @property
    def prev_op(self) -> Operation | None:
        return self._prev

    @property
    def function(self) -> Function | None:
        """The function this op is (transitively) inside."""
        block = self.parent
        while block is not None:
            region = block.parent
            if region is None:
                return None
            owner = region.parent
            if isinstance(owner, Function):
                return owner
            block = owner.parent if owner is not None else None
        return None

    def detach(self) -> Operation:
        """Unlink from the block, keeping operands and uses."""
        if self.parent is None:
            return self
        self.parent._unlink(self)
        return self

    def erase(self) -> None:
        """Remove this op; its results must have no users left."""
        for r in self.results:
            if r._uses:
                users = ", ".join(sorted({u.op.name for u in r._uses}))
                raise IRError(
                    f"cannot erase {self.name}: result #{r.index} is still used by {users}"
                )
        self.detach()
        self._drop_all_references()

    def _drop_all_references(self) -> None:
        self.drop_operands()
        for region in self.regions:
            for block in region.blocks:
                for op in list(block.ops):
                    op._drop_all_references()

    def walk(self) -> Iterator[Operation]:
        """This op, then the ops of its regions, in pre-order."""
        yield self
        for region in self.regions:
            for block in region.blocks:
                yield from block.walk()

    def clone(self, mapping: dict[Value, Value] | None = None) -> Operation:
        """A copy with operands remapped through `mapping` (results are added to it)."""
        mapping = {} if mapping is None else mapping
        op = Operation(
            self.name,
            [mapping.get(v, v) for v in self._operands],
            [r.type for r in self.results],
            dict(self.attributes),
            [region.clone(mapping) for region in self.regions],
            self.location,
            [r.name_hint for r in self.results],
        )
        for old, new in zip(self.results, op.results):
            mapping[old] = new
        return op

    def __repr__(self) -> str:
        return f"<Operation {self.name} at {self.location}>"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""Marks a declared attribute that has no default."""


class Block:
    """Arguments and an ordered list of ops (intrusive linked list)."""

    __slots__ = ("args", "parent", "_first", "_last", "_len")

    def __init__(self, arg_types: Sequence[TensorType] = (), arg_names: Sequence[str | None] = ()):
        names = list(arg_names) + [None] * (len(arg_types) - len(arg_names))
        self.args: list[BlockArgument] = [
            BlockArgument(t, self, i, n) for i, (t, n) in enumerate(zip(arg_types, names))
        ]
        self.parent: Region | None = None
        self._first: Operation | None = None
        self._last: Operation | None = None
        self._len = 0

    def add_arg(self, type: TensorType, name: str | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.args), name)
        self.args.append(arg)
        return arg

    def erase_arg(self, index: int) -> None:
        arg = self.args[index]
        if arg._uses:
            raise IRError(f"cannot erase block argument #{index}: it still has users")
        del self.args[index]
        for i, a in enumerate(self.args):
            a.index = i

    @property
    def ops(self) -> Iterator[Operation]:
        """The ops in order; the current op may be erased or moved while iterating."""
        op = self._first
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def __len__(self) -> int:
        return self._len

    @property
    def first_op(self) -> Operation | None:
        return self._first

    @property
    def last_op(self) -> Operation | None:
        return self._last

    @property
    def terminator(self) -> Operation | None:
        return self._last

    def walk(self) -> Iterator[Operation]:
        for op in self.ops:
            yield from op.walk()

    def append(self, op: Operation) -> Operation:
        return self._link(op, self._last, None)

    def insert_before(self, op: Operation, anchor: Operation) -> Operation:
        if anchor.parent is not self:
            raise IRError("anchor op is not in this block")
        return self._link(op, anchor._prev, anchor)

    def insert_after(self, op: Operation, anchor: Operation) -> Operation:
        if anchor.parent is not self:
            raise IRError("anchor op is not in this block")
        return self._link(op, anchor, anchor._next)

    def _link(self, op: Operation, prev: Operation | None, nxt: Operation | None) -> Operation:
        if op.parent is not None:
            raise IRError(f"{op.name} is already in a block; detach it first")
        op.parent = self
        op._prev, op._next = prev, nxt
        if prev is None:
            self._first = op
        else:
            prev._next = op
        if nxt is None:
            self._last = op
        else:
            nxt._prev = op
        self._len += 1
        return op

    def _unlink(self, op: Operation) -> None:
        if op._prev is None:
            self._first = op._next
        else:
            op._prev._next = op._next
        if op._next is None:
            self._last = op._prev
        else:
            op._next._prev = op._prev
        op._prev = op._next = None
        op.parent = None
        self._len -= 1

    def clone(self, mapping: dict[Value, Value]) -> Block:
        block = Block([a.type for a in self.args], [a.name_hint for a in self.args])
        for old, new in zip(self.args, block.args):
            mapping[old] = new
        for op in self.ops:
            block.append(op.clone(mapping))
        return block


class Region:
    """A list of blocks owned by an op (or by a function: its body)."""

    __slots__ = ("blocks", "parent")

    def __init__(self, blocks: Sequence[Block] = ()) -> None:
        self.blocks: list[Block] = []
        self.parent: Operation | Function | None = None
        for block in blocks:
            self.add_block(block)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        """The only block (TFLite subgraphs have exactly one)."""
        if len(self.blocks) != 1:
            raise IRError(f"region has {len(self.blocks)} blocks, not one")
        return self.blocks[0]

    def clone(self, mapping: dict[Value, Value]) -> Region:
        return Region([b.clone(mapping) for b in self.blocks])


RETURN = "func.return"


class Function:
    """A subgraph: inputs are the body's block arguments, outputs the operands of `func.return`.

    `attributes` keep model-level facts: `signature_key`, `input_names`, `output_names`
    (the names the SignatureDef shows), `entry` (True for functions users call).
    """

    def __init__(
        self,
        name: str,
        input_types: Sequence[TensorType] = (),
        input_names: Sequence[str | None] = (),
        attributes: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.body = Region([Block(input_types, input_names)])
        self.body.parent = self
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.module: Module | None = None

    @property
    def block(self) -> Block:
        return self.body.block

    @property
    def args(self) -> list[BlockArgument]:
        return self.block.args

    @property
    def return_op(self) -> Operation:
        term = self.block.terminator
        if term is None or term.name != RETURN:
            raise IRError(f"function @{self.name} does not end with {RETURN}")
        return term

    @property
    def outputs(self) -> tuple[Value, ...]:
        return self.return_op.operands

    @property
    def input_types(self) -> list[TensorType]:
        return [a.type for a in self.args]

    @property
    def output_types(self) -> list[TensorType]:
        return [v.type for v in self.outputs]

    def set_outputs(self, values: Sequence[Value], location: Location = UNKNOWN) -> Operation:
        """Create or update the `func.return` terminator."""
        term = self.block.terminator
        if term is not None and term.name == RETURN:
            term.set_operands(values)
            return term
        return self.block.append(Operation(RETURN, values, location=location))

    @property
    def ops(self) -> Iterator[Operation]:
        return self.block.ops

    def walk(self) -> Iterator[Operation]:
        return self.body.block.walk()

    def clone(self, name: str | None = None) -> Function:
        fn = Function(name or self.name, attributes=dict(self.attributes))
        mapping: dict[Value, Value] = {}
        fn.body = self.body.clone(mapping)
        fn.body.parent = fn
        return fn

    def __repr__(self) -> str:
        return f"<Function @{self.name}: {len(self.block)} ops>"


class Module:
    """Functions in order (the first entry function is the TFLite `main` subgraph) plus
    model-level attributes such as `metadata` (name -> bytes)."""

    def __init__(
        self, functions: Iterable[Function] = (), attributes: dict[str, Any] | None = None
    ):
        self.functions: list[Function] = []
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        for fn in functions:
            self.add_function(fn)

    def add_function(self, fn: Function) -> Function:
        if any(f.name == fn.name for f in self.functions):
            raise IRError(f"module already has a function @{fn.name}")
        fn.module = self
        self.functions.append(fn)
        return fn

    def remove_function(self, fn: Function) -> None:
        self.functions.remove(fn)
        fn.module = None

    def function(self, name: str) -> Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        known = ", ".join("@" + f.name for f in self.functions)
        raise KeyError(f"no function @{name} in the module (it has {known})")

    def unique_function_name(self, base: str) -> str:
        names = {f.name for f in self.functions}
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"

    def walk(self) -> Iterator[Operation]:
        for fn in self.functions:
            yield from fn.walk()

    def op_count(self) -> int:
        return sum(1 for _ in self.walk())

    def op_histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.walk():
            counts[op.name] = counts.get(op.name, 0) + 1
        return dict(sorted(counts.items()))

    def clone(self) -> Module:
        """A deep copy of the structure; constant arrays are shared, not copied."""
        return Module([fn.clone() for fn in self.functions], dict(self.attributes))

    def to_networkx(self) -> Any:
        """A networkx MultiDiGraph: one node per op (key: `fn/index`), one edge per value use.

        Node attributes: `op` (the Operation), `name`, `function`. Edge attributes: `value`,
        `operand` (the operand index at the user). Function arguments are nodes named
        `fn/arg<i>` with name "arg"; calls to other functions (symbol attributes) add
        edges `fn -> callee` between `@fn` nodes so call cycles show up too.
        Needs the optional `networkx` (`pip install tflconv[graph]`).
        """
        # Imported here, not at module level: networkx is an optional extra used only by this
        # method, and `core` stays stdlib + numpy (`import tflconv` must not load it).
        try:
            import networkx as nx
        except ImportError as e:
            raise ImportError(
                "Module.to_networkx() needs networkx: pip install 'tflconv[graph]'"
            ) from e

        graph = nx.MultiDiGraph()
        node_of: dict[int, str] = {}
        for fn in self.functions:
            graph.add_node(f"@{fn.name}", name="function", function=fn.name)
            for i, arg in enumerate(fn.args):
                key = f"{fn.name}/arg{i}"
                graph.add_node(key, name="arg", function=fn.name, value=arg)
                node_of[id(arg)] = key
            for i, op in enumerate(fn.walk()):
                key = f"{fn.name}/{i}"
                graph.add_node(key, op=op, name=op.name, function=fn.name)
                node_of[id(op)] = key
                for attr in op.attributes.values():
                    if isinstance(attr, SymbolRef):
                        graph.add_edge(f"@{fn.name}", f"@{attr.name}", call=op.name)
        for fn in self.functions:
            for op in fn.walk():
                for index, value in enumerate(op.operands):
                    src_owner = value.defining_op if isinstance(value, OpResult) else value
                    src = node_of.get(id(src_owner))
                    if src is not None:
                        graph.add_edge(src, node_of[id(op)], value=value, operand=index)
        return graph

    def __repr__(self) -> str:
        return f"<Module: {', '.join('@' + f.name for f in self.functions)}>"


def constant(
    array: np.ndarray,
    location: Location = UNKNOWN,
    name: str | None = None,
    type: TensorType | None = None,
) -> Operation:
    """An `arith.constant` op holding `array` (shared, not copied).

    `type` overrides the array's own type, e.g. to attach quantization parameters."""
    array = np.asarray(array)
    return Operation(
        "arith.constant",
        (),
        [type or TensorType.of(array)],
        {"value": array},
        location=location,
        result_names=[name],
    )


def constant_value(value: Value) -> np.ndarray | None:
    """The array behind a value defined by `arith.constant`, else None."""
    op = value.defining_op
    if op is not None and op.name == "arith.constant":
        return op.attributes["value"]
    return None
