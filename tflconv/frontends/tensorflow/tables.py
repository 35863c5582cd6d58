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
  contents (exported from the table, sorted by key) as constants;
- every entry function starts with `tfl.call_once` of it (the official converter's
  InsertCallOnceOpFromSessionInitializerPass; here so that every pipeline has it).

Tables the kernels do not take (they map string -> int64 and int64 -> string only) are
stored in a form they do: int32 keys or values widened to int64 (casts around the lookup), or,
for other pairs, tables mapping each key to its position (string keys: string -> int64;
integer keys: int64 -> decimal string of the position -> int64) and the value gathered from a
constant, with the default appended as one more row for missing keys.

`passes/legalize_tf/hashtable.py` turns these into the HASHTABLE builtins and inserts CALL_ONCE.
Tables written by the model itself (`LookupTableInsertV2`, ...) are refused: the TFLite
kernels are static tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import gen_lookup_ops

from tflconv.core.ir import Function, Operation, Value, constant, constant_value
from tflconv.core.location import Location
from tflconv.core.types import SymbolRef, TensorType, TypeAttr, numpy_dtype

from ..base import FrontendError
from . import attrs as cv
from . import variables
from .bindings import GraphSource, Scope

if TYPE_CHECKING:
    from .graph import GraphImporter

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


KERNEL_PAIRS = frozenset({("string", "i64"), ("i64", "string")})
"""(key, value) element types of TFLite's static hash table (static_hashtable.cc)."""
WIDENED = {"i32": "i64"}
"""Element types stored widened in a kernel table (exact: every int32 is an int64)."""
INDEXED_VALUES = frozenset({"f32", "f16", "i32", "i64", "i1", "string"})
"""Value types of other tables, looked up through an index table and gathered."""


@dataclass
class Store:
    """One table of the converted model (a TFLite kernel key/value pair)."""

    shared_name: str
    key_dtype: str
    value_dtype: str
    keys: np.ndarray
    values: np.ndarray


@dataclass
class Table:
    """One captured TF table: its dtypes, contents and how the model stores it.

    direct: one kernel table (int32 keys or values widened to int64); index: a table mapping
    each key to its position (string keys: string -> int64; integer keys: int64 -> string of
    the position, then string -> int64), the value gathered from a constant."""

    key_dtype: str
    value_dtype: str
    keys: np.ndarray
    values: np.ndarray
    stores: list[Store]
    mode: str  # "direct" | "index"
    handle: Any  # keeps the TF resource alive while the module is built
    where: str


@dataclass
class _Tables:
    by_handle: dict[int, Table] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    checked_graphs: set[int] = field(default_factory=set)


def _state(importer: GraphImporter) -> _Tables:
    return importer.resource_state.setdefault("tables", _Tables())


def import_table_op(
    importer: GraphImporter, scope: Scope, source: GraphSource, op: Any, ins: list[Any]
) -> list[Value]:
    """Import `op` (a TABLE_OPS op whose input 0 is a captured `Resource`) against
    `tf.HashTableV2` values in place of the handle."""
    resource = ins[0]
    where = f"{source.graph.name}/{op.name}"
    state = _state(importer)
    if isinstance(resource, LocalTable):
        if resource.table is None:
            raise FrontendError(
                f"{where}: {op.type} of a table the function has not filled yet (TF fails: "
                "table not initialized)"
            )
        table = resource.table
    else:
        _refuse_writes(state, source, where)
        table = state.by_handle.get(id(resource.handle))
        if table is None:
            table = _read_table(state, resource, _op_dtypes(op), where)
            state.by_handle[id(resource.handle)] = table
    handles = [_handle(scope, resource, store) for store in table.stores]
    plain = table.mode == "direct" and (table.key_dtype, table.value_dtype) in KERNEL_PAIRS
    if plain or op.type == "LookupTableSizeV2":  # every first store holds all the keys
        return list(importer._generic(scope, source, op, [handles[0], *ins[1:]]).results)
    if op.type != "LookupTableFindV2":
        raise FrontendError(
            f"{where}: {op.type} of a {table.key_dtype} -> {table.value_dtype} table is not "
            "supported (the model stores it in another form)"
        )
    return [_FindBuilder(importer, scope, source, op, where).build(table, handles, ins)]


class _FindBuilder:
    """LookupTableFindV2 of a widened or indexed table, as TF ops."""

    def __init__(
        self, importer: GraphImporter, scope: Scope, source: GraphSource, op: Any, where: str
    ) -> None:
        self.importer, self.scope, self.op, self.where = importer, scope, op, where
        self.loc = importer._location(source, op)
        self.out_type = importer._type_of(source, op.outputs[0], where)

    def emit(self, name: str, operands: list[Value], t: TensorType, **attrs: Any) -> Value:
        result = self.scope.unique(f"{self.op.name}/{name}")
        new = Operation(
            "tf." + name, operands, [t], attrs, location=self.loc, result_names=[result]
        )
        return self.scope.append(new).result

    def const(self, array: np.ndarray, dtype: str, name: str) -> Value:
        new = constant(array, self.loc, self.scope.unique(f"{self.op.name}/{name}"))
        new.results[0].type = _type(array, dtype)
        return self.scope.append(new).result

    def cast(self, v: Value, dtype: str) -> Value:
        t = v.type.with_dtype(dtype)
        return self.emit("Cast", [v], t, SrcT=TypeAttr(v.type.dtype), DstT=TypeAttr(dtype))

    def find(self, handle: Value, keys: Value, default: Value, value_dtype: str) -> Value:
        t = keys.type.with_dtype(value_dtype)
        return self.emit(
            "LookupTableFindV2",
            [handle, keys, default],
            t,
            Tin=TypeAttr(keys.type.dtype),
            Tout=TypeAttr(value_dtype),
            _stateful=True,
        )

    def build(self, table: Table, handles: list[Value], ins: list[Any]) -> Value:
        keys = self.importer._value(self.scope, ins[1], self.where)
        default = self.importer._value(self.scope, ins[2], self.where)
        if keys.type.dtype in WIDENED:
            keys = self.cast(keys, WIDENED[keys.type.dtype])
        if table.mode == "direct":
            store = table.stores[0]
            if default.type.dtype != store.value_dtype:
                default = self.cast(default, store.value_dtype)
            found = self.find(handles[0], keys, default, store.value_dtype)
            if found.type.dtype == self.out_type.dtype:
                return found
            return self.cast(found, self.out_type.dtype)
        minus1 = self.const(np.array(-1, np.int64), "i64", "missing")
        if table.key_dtype == "string":
            index = self.find(handles[0], keys, minus1, "i64")
        else:
            empty = self.const(np.array(b"", object), "string", "missing_key")
            text = self.find(handles[0], keys, empty, "string")
            index = self.find(handles[1], text, minus1, "i64")
        return self.gather(table, index, default)

    def gather(self, table: Table, index: Value, default: Value) -> Value:
        """values[index], the default where index is -1."""
        n = len(table.keys)
        i64 = index.type
        zero = self.const(np.array(0, np.int64), "i64", "zero")
        found = self.emit("GreaterEqual", [index, zero], i64.with_dtype("i1"), T=TypeAttr("i64"))
        default_value = constant_value(default)
        axis = self.const(np.array(0, np.int32), "i32", "axis")
        gather_attrs = {
            "Tparams": TypeAttr(table.value_dtype),
            "Tindices": TypeAttr("i64"),
            "Taxis": TypeAttr("i32"),
            "batch_dims": 0,
        }
        if default_value is not None and np.size(default_value) == 1:
            # Constant default: one more row, read for missing keys (works for strings too,
            # which no TFLite select takes).
            extended = np.concatenate([table.values, np.reshape(default_value, (1,))])
            params = self.const(extended.astype(table.values.dtype), table.value_dtype, "values")
            last = self.const(np.array(n, np.int64), "i64", "default_row")
            row = self.emit("SelectV2", [found, index, last], i64, T=TypeAttr("i64"))
            return self.emit("GatherV2", [params, row, axis], self.out_type, **gather_attrs)
        if table.value_dtype == "string" or n == 0:
            raise FrontendError(
                f"{self.where}: a lookup with a computed default value in a table of "
                f"{table.value_dtype} values is not supported"
            )
        params = self.const(table.values, table.value_dtype, "values")
        safe = self.emit("Maximum", [index, zero], i64, T=TypeAttr("i64"))
        values = self.emit("GatherV2", [params, safe, axis], self.out_type, **gather_attrs)
        attrs = {"T": TypeAttr(table.value_dtype)}
        return self.emit("SelectV2", [found, values, default], self.out_type, **attrs)


class LocalTable:
    """A table the function creates itself (`HashTableV2` in the graph, filled by
    `LookupTableImportV2` of constants): not an IR value, like a captured `Resource`."""

    __slots__ = ("handle", "name", "key_dtype", "value_dtype", "table", "contents")

    def __init__(self, op: Any) -> None:
        self.handle = self  # the identity `_handle` keys the per-function HashTableV2 on
        shared = op.get_attr("shared_name")
        shared = shared.decode() if isinstance(shared, bytes) else str(shared)
        self.name = shared or op.name
        self.key_dtype = tf.as_dtype(op.get_attr("key_dtype"))
        self.value_dtype = tf.as_dtype(op.get_attr("value_dtype"))
        self.table: Table | None = None
        self.contents: tuple[np.ndarray, np.ndarray] | None = None


def import_local(
    importer: GraphImporter, scope: Scope, source: GraphSource, op: Any, ins: list[Any]
) -> list[Value]:
    """LookupTableImportV2 into a table the function creates: the table's stores imported in
    place (HASHTABLE_IMPORT in the same subgraph, as the official converter does). TFLite
    fills a table on the first import and ignores later ones; TF accepts a later import of
    the same contents and fails on other contents: so only constant contents convert."""
    where = f"{source.graph.name}/{op.name}"
    local: LocalTable = ins[0]
    keys, values = _constant_contents(importer, scope, ins, where)
    if local.table is not None:
        old_keys, old_values = local.contents
        if not (np.array_equal(old_keys, keys) and np.array_equal(old_values, values)):
            raise FrontendError(
                f"{where}: a second LookupTableImportV2 with other contents into the same "
                "table (TF fails: table already initialized with different data)"
            )
        return []
    state = _state(importer)
    table = _table(
        state, local.name, local.key_dtype, local.value_dtype, keys, values, local, where
    )
    local.table, local.contents = table, (keys, values)
    loc = importer._location(source, op)
    for store in table.stores:
        handle = _handle(scope, local, store)
        _import_store(scope.append, store, scope.unique, loc, handle)
    return []


def import_captured(
    importer: GraphImporter, scope: Scope, source: GraphSource, op: Any, ins: list[Any]
) -> list[Value]:
    """LookupTableImportV2 of constants into a captured table (a `tf.lookup.StaticHashTable`
    created inside a tf.function is lifted out of it, its initializer stays): the table holds
    these contents, imported once by the session initializer."""
    where = f"{source.graph.name}/{op.name}"
    keys, values = _constant_contents(importer, scope, ins, where)
    state = _state(importer)
    resource = ins[0]
    order = np.argsort(keys, kind="stable")
    table = state.by_handle.get(id(resource.handle))
    if table is None:
        handle = resource.handle
        key_dtype, value_dtype = tf.as_dtype(op.get_attr("Tin")), tf.as_dtype(op.get_attr("Tout"))
        try:
            size = int(gen_lookup_ops.lookup_table_size_v2(handle))
        except Exception as e:  # noqa: BLE001 - TF raises many error types
            raise FrontendError(f"{where}: cannot read the captured lookup table: {e}") from None
        if size:
            live = _read_table(state, resource, (key_dtype, value_dtype), where)
            if not _same_contents(live, keys[order], values[order]):
                raise FrontendError(
                    f"{where}: imports other contents into a table already filled (TF fails: "
                    "table already initialized with different data)"
                )
            table = live
        else:
            table = _table(state, "hash_table", key_dtype, value_dtype, keys, values, handle, where)
        state.by_handle[id(handle)] = table
    elif not _same_contents(table, keys[order], values[order]):
        raise FrontendError(
            f"{where}: imports other contents into a table already filled (TF fails: table "
            "already initialized with different data)"
        )
    return []


def _same_contents(table: Table, keys: np.ndarray, values: np.ndarray) -> bool:
    return np.array_equal(table.keys, keys) and np.array_equal(table.values, values)


def _constant_contents(
    importer: GraphImporter, scope: Scope, ins: list[Any], where: str
) -> tuple[np.ndarray, np.ndarray]:
    arrays = [constant_value(importer._value(scope, v, where)) for v in ins[1:3]]
    if arrays[0] is None or arrays[1] is None:
        raise FrontendError(
            f"{where}: LookupTableImportV2 of computed keys or values: TFLite keeps the first "
            "import's contents for every later call, TF fails on a call with other contents; "
            "only constant contents can be converted"
        )
    keys, values = (np.asarray(a) for a in arrays)
    if keys.shape != values.shape:
        raise FrontendError(
            f"{where}: keys {list(keys.shape)} and values {list(values.shape)}: only tables "
            "of scalar keys and values can become TFLite hash tables"
        )
    return keys.reshape(-1), values.reshape(-1)


def add_initializer(importer: GraphImporter) -> None:
    """Append the session-initializer function: it imports every captured table's contents
    and assigns every written variable its initial value (variables.py)."""
    state = importer.resource_state.pop("tables", None)
    tables = state is not None and bool(state.by_handle)
    if not tables and not variables.pending(importer):
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

    for table in state.by_handle.values() if state is not None else ():
        for store in table.stores:
            _import_store(fn.block.append, store, unique, Location.name(store.shared_name), None)
    variables.fill_initializer(importer, fn, unique)
    fn.set_outputs([])
    importer.module.add_function(fn)
    # CALL_ONCE here rather than in a pass: every pipeline needs it (Select-TF-ops-only
    # pipelines skip legalize-tf, and a Flex table still has to be filled).
    for entry in importer.module.functions:
        first = entry.block.first_op
        if entry.attributes.get("entry") and first is not None:
            call = Operation(
                "tfl.call_once",
                [],
                [],
                {"init_subgraph_index": SymbolRef(fn.name)},
                location=Location.name(fn.name),
            )
            entry.block.insert_before(call, first)


def _import_store(
    append: Any, store: Store, unique: Any, loc: Location, handle: Value | None
) -> None:
    """HashTableV2 (unless `handle`) + constants + LookupTableImportV2 of one store."""
    if handle is None:
        handle = append(_hash_table_op(store, unique("hash_table"))).result
    keys = append(
        constant(store.keys, loc, unique("keys"), _type(store.keys, store.key_dtype))
    ).result
    values = append(
        constant(store.values, loc, unique("values"), _type(store.values, store.value_dtype))
    ).result
    append(
        Operation(
            "tf.LookupTableImportV2",
            [handle, keys, values],
            [],
            {
                "Tin": TypeAttr(store.key_dtype),
                "Tout": TypeAttr(store.value_dtype),
                "_stateful": True,
            },
            location=loc,
        )
    )


# --- helpers -----------------------------------------------------------------------------------


def _hash_table_op(store: Store, name: str) -> Operation:
    return Operation(
        "tf.HashTableV2",
        [],
        [TensorType((), "resource")],
        {
            "container": "",
            "shared_name": store.shared_name,
            "use_node_name_sharing": False,
            "key_dtype": TypeAttr(store.key_dtype),
            "value_dtype": TypeAttr(store.value_dtype),
            "_stateful": True,
        },
        location=Location.name(store.shared_name),
        result_names=[name],
    )


def _handle(scope: Scope, resource: Any, store: Store) -> Value:
    """The store's tf.HashTableV2 in the function being built (one per function)."""
    key = ("hash_table", id(resource.handle), store.shared_name)
    handle = scope.captured.get(key)
    if handle is None:
        handle = scope.append(_hash_table_op(store, scope.unique("hash_table"))).result
        scope.captured[key] = handle
    return handle


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
        if op.type == "LookupTableImportV2":
            continue  # constant contents are a static table (import_captured)
        if op.type in MUTATING_OPS and op.inputs and op.inputs[0].op.name in captured:
            raise FrontendError(
                f"{graph.name}/{op.name}: {op.type} writes a captured lookup table; TFLite's "
                "HASHTABLE kernels hold static tables only (initialize the table outside the "
                "converted function, e.g. tf.lookup.StaticHashTable)"
            )


def refuse_write(source: GraphSource, op: Any) -> None:
    """A write (insert, remove, import, initialize) of a captured table: refused."""
    raise FrontendError(
        f"{source.graph.name}/{op.name}: {op.type} writes a captured lookup table; TFLite's "
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
    return _table(state, "hash_table", key_dtype, value_dtype, keys, values, handle, where)


def _table(
    state: _Tables,
    name: str,
    key_dtype: Any,
    value_dtype: Any,
    keys: np.ndarray,
    values: np.ndarray,
    handle: Any,
    where: str,
) -> Table:
    """A table of these contents, stored in a form the kernels take."""
    order = np.argsort(keys, kind="stable")  # deterministic output: TF exports in hash order
    keys, values = keys[order], values[order]
    key_dtype_name = cv.dtype_name(key_dtype.as_datatype_enum)
    value_dtype_name = cv.dtype_name(value_dtype.as_datatype_enum)
    name = _unique_name(state, name)
    state.names.add(name + "_index")  # the second table of an integer-keyed index
    mode, stores = _stores(name, key_dtype_name, value_dtype_name, keys, values, where)
    return Table(key_dtype_name, value_dtype_name, keys, values, stores, mode, handle, where)


def _stores(
    name: str, key: str, value: str, keys: np.ndarray, values: np.ndarray, where: str
) -> tuple[str, list[Store]]:
    """How the model holds a key -> value table: ("direct", [one kernel table]) or
    ("index", [tables mapping each key to its position])."""
    wide_key, wide_value = WIDENED.get(key, key), WIDENED.get(value, value)
    if (wide_key, wide_value) in KERNEL_PAIRS:
        return "direct", [
            Store(name, wide_key, wide_value, _as(keys, wide_key), _as(values, wide_value))
        ]
    if wide_key not in ("string", "i64") or value not in INDEXED_VALUES:
        raise FrontendError(
            f"{where}: a {key} -> {value} lookup table cannot be converted: TFLite's hash "
            "tables map string -> int64 or int64 -> string, and other tables are gathered "
            f"from string, int32 or int64 keys to {', '.join(sorted(INDEXED_VALUES))} values"
        )
    positions = np.arange(len(keys), dtype=np.int64)
    if wide_key == "string":
        return "index", [Store(name, "string", "i64", keys, positions)]
    text = np.array([str(i).encode() for i in positions], dtype=object).reshape(keys.shape)
    return "index", [
        Store(name, "i64", "string", _as(keys, "i64"), text),
        Store(name + "_index", "string", "i64", text, positions),
    ]


def _as(array: np.ndarray, dtype: str) -> np.ndarray:
    return array if dtype == "string" else array.astype(numpy_dtype(dtype))


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
