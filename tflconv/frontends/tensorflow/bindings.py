"""What the graph walk binds TF tensors to besides IR values, and the op kinds it treats
specially: shared by the walk (graph.py), the variables it tracks (variables.py), the tables
(tables.py) and the source loaders (sources.py), so none of them imports another for these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorflow.python.ops import gen_resource_variable_ops

from tflconv.core.ir import Function, Operation, Value

from ..base import FrontendError

# Ops that only forward their inputs: dropped on import (data edges only).
FORWARDING_OPS = frozenset({"Identity", "IdentityN", "StopGradient", "Snapshot", "NoOp"})
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
WHILE_OPS = frozenset({"While", "StatelessWhile"})
IF_OPS = frozenset({"If", "StatelessIf"})
CASE_OPS = frozenset({"Case", "StatelessCase"})
# Op types (prefixes) that write a resource given as their first input.
V1_CONTROL_FLOW = frozenset(
    {
        "Switch",
        "Merge",
        "Enter",
        "Exit",
        "NextIteration",
        "LoopCond",
        "RefSwitch",
        "RefMerge",
        "RefEnter",
        "RefExit",
        "RefNextIteration",
    }
)


class Resource:
    """A captured resource handle (a variable): not an IR value, read as a constant."""

    __slots__ = ("handle", "name", "_values")

    def __init__(self, handle: Any, name: str) -> None:
        self.handle = handle
        self.name = name
        self._values: dict[int, np.ndarray] = {}

    def read(self, dtype: int, where: str) -> np.ndarray:
        value = self._values.get(dtype)
        if value is None:
            try:
                tensor = gen_resource_variable_ops.read_variable_op(self.handle, dtype)
            except Exception as e:  # noqa: BLE001 - TF raises many types; report one line
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise FrontendError(f"{where}: cannot read captured variable: {msg}") from None
            value = np.asarray(tensor)  # shares the tensor's buffer, no copy
            value.flags.writeable = False
            self._values[dtype] = value
        return value


class LazyConstant:
    """A captured non-resource tensor: becomes an `arith.constant` where it is used."""

    __slots__ = ("array", "name", "dtype")

    def __init__(self, array: np.ndarray, name: str, dtype: str) -> None:
        self.array = array
        self.name = name
        self.dtype = dtype


@dataclass
class GraphSource:
    """A graph to walk, with where its ops' source lines come from."""

    graph: Any  # tf FuncGraph
    function_name: str  # for SavedModel debug info
    original_ops: dict[str, Any] | None = None
    """For a graph rebuilt with more static input shapes: the ops of the graph as first
    traced, by node name (their Python tracebacks and shapes still apply)."""


class Scope:
    """The function being built: its block, used SSA names, materialized captures."""

    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.block = fn.block
        self.names: set[str] = {a.name_hint for a in fn.args if a.name_hint}
        self.captured: dict[int, Value] = {}

    def unique(self, name: str) -> str:
        if name not in self.names:
            self.names.add(name)
            return name
        i = 1
        while f"{name}_{i}" in self.names:
            i += 1
        unique = f"{name}_{i}"
        self.names.add(unique)
        return unique

    def append(self, op: Operation) -> Operation:
        return self.block.append(op)
