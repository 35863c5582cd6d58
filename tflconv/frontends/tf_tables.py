"""Captured TF hash tables (`tf.lookup.StaticHashTable`, ...) -> tf.HashTableV2 + an initializer.

A SavedModel or `tf.Module` function reads its lookup tables through captured resource
handles. The official converter imports the table-creating `tf.HashTableV2` op and the
SavedModel's session initializer (`tf.LookupTableImportV2` of the initializer's constants),
legalizes them to HASHTABLE / HASHTABLE_IMPORT and calls the initializer subgraph once with
CALL_ONCE at the start of every signature (`InsertCallOnceOpFromSessionInitializerPass`).

We build the same structure from the live table, as variables are read at import time:

- each function that uses a table gets a `tf.HashTableV2` op (one per table and function,
  `shared_name` naming the table) in place of the captured handle;
- one extra function with attribute `session_initializer` holds, per table, a
  `tf.HashTableV2` with the same `shared_name` and `tf.LookupTableImportV2` of the table's
  contents (exported from the table, sorted by key) as constants.

`passes/legalize/hashtable.py` turns these into the HASHTABLE builtins and inserts CALL_ONCE.
Tables written by the model itself (`LookupTableInsertV2`, ...) are refused: the TFLite
kernels are static tables.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import gen_lookup_ops

from tflconv.core.ir import Function, Operation, Value, constant
from tflconv.core.location import Location
from tflconv.core.types import TensorType, TypeAttr

from . import tf_convert as cv
from .tensorflow import FrontendError

if TYPE_CHECKING:
    from .tf_graph import GraphImporter, GraphSource, _Scope

TABLE_OPS = frozenset({"LookupTableFindV2", "LookupTableSizeV2", "LookupTableExportV2"})
"""Ops reading a captured table handle, imported against a `tf.HashTableV2` value (the
legalizer refuses Export, which no TFLite kernel does, with the reason)."""
MUTATING_OPS = frozenset(
    {
        "LookupTableInsertV2",
        "LookupTableRemoveV2",
        "LookupTableImportV2",
        "InitializeTableV2",
        "InitializeTableFromTextFileV2",
    }
)
"""Ops that change a table: a model doing so cannot become a static TFLite table."""
INITIALIZER_NAME = "session_initializer"

# Key and value dtypes TF's table kernels register (lookup_table_op.cc); probed in this order.
_KEY_DTYPES = (tf.string, tf.int64, tf.int32)
_VALUE_DTYPES = (tf.int64, tf.string, tf.int32, tf.float32, tf.float64, tf.bool)


@dataclass
class Table:
    """One captured table: its name in the model, dtypes and contents."""

    shared_name: str
    key_dtype: str
    value_dtype: str
    keys: np.ndarray
    values: np.ndarray
    handle: Any  # keeps the TF resource alive while the module is built
    where: str


@dataclass
class _Tables:
    by_handle: dict[int, Table] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    checked_graphs: set[int] = field(default_factory=set)


_STATE: weakref.WeakKeyDictionary[Any, _Tables] = weakref.WeakKeyDictionary()


def _state(importer: GraphImporter) -> _Tables:
    state = _STATE.get(importer)
    if state is None:
        state = _STATE[importer] = _Tables()
    return state


def import_table_op(
    importer: GraphImporter, scope: _Scope, source: GraphSource, op: Any, ins: list[Any]
) -> list[Value]:
    """Import `op` (a TABLE_OPS op whose input 0 is a captured `Resource`) with a
    `tf.HashTableV2` value in place of the handle."""
    resource = ins[0]
    where = f"{source.graph.name}/{op.name}"
    state = _state(importer)
    _refuse_writes(state, source, where)
    table = state.by_handle.get(id(resource.handle))
    if table is None:
        table = _read_table(state, resource, _op_dtypes(op), where)
        state.by_handle[id(resource.handle)] = table
    key = ("hash_table", id(resource.handle))
    handle = scope.captured.get(key)  # one tf.HashTableV2 per table and function
    if handle is None:
        handle = scope.append(_hash_table_op(table, scope.unique("hash_table"))).result
        scope.captured[key] = handle
    new = importer._generic(scope, source, op, [handle, *ins[1:]])
    return list(new.results)


def add_initializer(importer: GraphImporter) -> None:
    """Append the session-initializer function that imports every table's contents."""
    state = _STATE.pop(importer, None)
    if state is None or not state.by_handle:
        return
    fn = Function(importer.reserve_name(INITIALIZER_NAME), [], [], {INITIALIZER_NAME: True})
    names: set[str] = set()

    def unique(name: str) -> str:
        base, i = name, 1
        while name in names:
            name = f"{base}_{i}"
            i += 1
        names.add(name)
        return name

    for table in state.by_handle.values():
        loc = Location.name(table.shared_name)
        handle = fn.block.append(_hash_table_op(table, unique("hash_table"))).result
        keys = fn.block.append(
            constant(table.keys, loc, unique("keys"), _type(table.keys, table.key_dtype))
        ).result
        values = fn.block.append(
            constant(table.values, loc, unique("values"), _type(table.values, table.value_dtype))
        ).result
        fn.block.append(
            Operation(
                "tf.LookupTableImportV2",
                [handle, keys, values],
                [],
                {
                    "Tin": TypeAttr(table.key_dtype),
                    "Tout": TypeAttr(table.value_dtype),
                    "_stateful": True,
                },
                location=loc,
            )
        )
    fn.set_outputs([])
    importer.module.add_function(fn)


# --- helpers -----------------------------------------------------------------------------------


def _hash_table_op(table: Table, name: str) -> Operation:
    return Operation(
        "tf.HashTableV2",
        [],
        [TensorType((), "resource")],
        {
            "container": "",
            "shared_name": table.shared_name,
            "use_node_name_sharing": False,
            "key_dtype": TypeAttr(table.key_dtype),
            "value_dtype": TypeAttr(table.value_dtype),
            "_stateful": True,
        },
        location=Location.name(table.shared_name),
        result_names=[name],
    )


def _type(array: np.ndarray, dtype: str) -> TensorType:
    return TensorType(tuple(int(d) for d in array.shape), dtype)


def _refuse_writes(state: _Tables, source: GraphSource, where: str) -> None:
    """A graph that writes a captured table: the import would drop the write (it is no data
    edge) and the TFLite tables are static, so refuse instead of converting a snapshot."""
    graph = source.graph
    if id(graph) in state.checked_graphs:
        return
    state.checked_graphs.add(id(graph))
    captured = {t.op.name for t in graph.inputs if t.dtype == tf.resource}
    for op in graph.get_operations():
        if op.type in MUTATING_OPS and op.inputs and op.inputs[0].op.name in captured:
            raise FrontendError(
                f"{graph.name}/{op.name}: {op.type} writes a captured lookup table; TFLite's "
                "HASHTABLE kernels hold static tables only (initialize the table outside the "
                "converted function, e.g. tf.lookup.StaticHashTable)"
            )


def _read_table(state: _Tables, resource: Any, hint: tuple[Any, Any] | None, where: str) -> Table:
    handle = resource.handle
    key_dtype, value_dtype = _probe_dtypes(handle, hint, where)
    try:
        keys, values = gen_lookup_ops.lookup_table_export_v2(handle, key_dtype, value_dtype)
        size = int(gen_lookup_ops.lookup_table_size_v2(handle))
    except Exception as e:  # noqa: BLE001 - TF raises many error types
        raise FrontendError(f"{where}: cannot read the captured lookup table: {e}") from None
    keys, values = np.asarray(keys.numpy()), np.asarray(values.numpy())
    if keys.ndim != 1 or values.shape != keys.shape or size != keys.shape[0]:
        # MutableDenseHashTable exports its buckets (empty slots too); tables of vectors
        # export [n, k] values: neither is a TFLite hash table.
        raise FrontendError(
            f"{where}: the captured lookup table exports keys {list(keys.shape)} and values "
            f"{list(values.shape)} for {size} entries; only tables of scalar keys and values "
            "(tf.lookup.StaticHashTable, MutableHashTable) can become TFLite hash tables"
        )
    order = np.argsort(keys, kind="stable")  # deterministic output: TF exports in hash order
    keys, values = keys[order], values[order]
    name = _unique_name(state, "hash_table")
    return Table(
        name,
        cv.dtype_name(key_dtype.as_datatype_enum),
        cv.dtype_name(value_dtype.as_datatype_enum),
        keys,
        values,
        handle,
        where,
    )


def _op_dtypes(op: Any) -> tuple[Any, Any] | None:
    """(key, value) dtypes named by the op reading the table (Find: Tin/Tout)."""
    for key_attr, value_attr in (("Tin", "Tout"), ("Tkeys", "Tvalues")):
        try:
            return tf.as_dtype(op.get_attr(key_attr)), tf.as_dtype(op.get_attr(value_attr))
        except (ValueError, TypeError):
            continue
    return None


def _probe_dtypes(handle: Any, hint: tuple[Any, Any] | None, where: str) -> tuple[Any, Any]:
    """The table's key and value dtypes. A handle does not carry them, and exporting with
    wrong ones aborts the process (a CHECK in TF), so ask LookupTableFindV2 with no keys,
    which validates both dtypes and returns an error status on a mismatch; the reading op's
    own dtypes first."""
    pairs = [(k, v) for k in _KEY_DTYPES for v in _VALUE_DTYPES]
    for key_dtype, value_dtype in ([hint] if hint else []) + pairs:
        keys = tf.zeros([0], key_dtype)
        default = tf.zeros([], value_dtype)
        try:
            gen_lookup_ops.lookup_table_find_v2(handle, keys, default)
        except Exception:  # noqa: BLE001, S112 - a mismatch is an InvalidArgumentError
            continue
        return key_dtype, value_dtype
    raise FrontendError(
        f"{where}: cannot tell the key and value types of the captured lookup table (a table "
        "of vectors, or of dtypes TF's lookup kernels do not register)"
    )


def _unique_name(state: _Tables, name: str) -> str:
    base, i = name, 1
    while name in state.names:
        name = f"{base}_{i}"
        i += 1
    state.names.add(name)
    return name
