"""Legalization patterns: TF hash tables -> the HASHTABLE builtins, as the official
`LegalizeHashTablesPass` (tflite/converter/transforms/legalize_hashtables.cc) does:

    tf.HashTableV2(){shared_name, key_dtype, value_dtype}
        -> tfl.hashtable(){table_id = int32 hash(shared_name), key_dtype, value_dtype} : tensor<1x!tf.resource>
    tf.LookupTableFindV2(t, keys, default)  -> tfl.hashtable_find(t, keys, default)
    tf.LookupTableImportV2(t, keys, values) -> tfl.hashtable_import(t, keys, values)
    tf.LookupTableSizeV2(t)                 -> tfl.hashtable_size(t) (: tensor<1xi64>, reshaped
                                                to TF's scalar)

plus `InsertCallOnceOpFromSessionInitializerPass`: every entry function starts with
`tfl.call_once{init_subgraph_index = @init}` for each function marked `session_initializer`
(the frontend's table initializer, see frontends/tensorflow/tables.py), so the interpreter fills
the tables once before the first lookup.

Tables live in the interpreter's resource map under `table_id`, shared by all subgraphs:
the initializer's HASHTABLE and the signatures' HASHTABLE ops name the same table through the
same `shared_name`. The kernels (tflite/kernels/hashtable*.cc) only map string -> int64 and
int64 -> string; other tables, and tables read by ops without a kernel (export, insert, ...),
are refused with the reason, as the official pass leaves them to Flex.
"""

from __future__ import annotations

import zlib

import numpy as np

from tflconv.core.ir import Operation, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import SymbolRef, TensorType, TypeAttr

from .common import const

INITIALIZER_ATTR = "session_initializer"
SUPPORTED = frozenset({("string", "i64"), ("i64", "string")})
"""(key, value) element types of the TFLite static hash table (static_hashtable.cc)."""
TENSOR_TYPE_NAMES = {"string": "STRING", "i64": "INT64"}
TABLE_USERS = frozenset(
    {
        "tf.LookupTableFindV2",
        "tf.LookupTableImportV2",
        "tf.LookupTableSizeV2",
        "tfl.hashtable_find",
        "tfl.hashtable_import",
        "tfl.hashtable_size",
    }
)
RESOURCE_1 = TensorType((1,), "resource")


def table_id(shared_name: str) -> int:
    """The table's id in the interpreter's resource map: a stable int32 hash of its name
    (the official converter takes llvm::hash_value, which is not stable across builds)."""
    h = zlib.crc32(shared_name.encode("utf-8"))
    return h - (1 << 32) if h >= 1 << 31 else h


def _dtype(attr: object) -> str:
    return attr.dtype if isinstance(attr, TypeAttr) else str(attr)


def _is_table(value: object) -> bool:
    op = getattr(value, "defining_op", None)
    return op is not None and op.name == "tfl.hashtable"


class LegalizeHashTable(RewritePattern):
    """tf.HashTableV2(){shared_name, key_dtype, value_dtype} -> tfl.hashtable(){table_id, key_dtype, value_dtype}"""

    root = "tf.HashTableV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        key, value = _dtype(op.attr("key_dtype")), _dtype(op.attr("value_dtype"))
        if (key, value) not in SUPPORTED:
            return rw.fail(
                f"TFLite's HASHTABLE kernels map string -> int64 or int64 -> string; this "
                f"table maps {key} -> {value}"
            )
        for use in op.result.uses:
            if use.op.name not in TABLE_USERS:
                return rw.fail(f"the table is read by {use.op.name}, which has no TFLite kernel")
        name = op.attr("shared_name")
        if not name:
            return rw.fail("the table has no shared_name, so subgraphs cannot share it")
        for use in op.result.uses:
            if use.op.name == "tf.LookupTableImportV2" and _import_refusal(use.op):
                return rw.fail(f"the table is filled by {_import_refusal(use.op)}")
        if table_id(str(name)) not in _imported_tables(op):
            # An empty TFLite table answers every lookup with the default; TF would refuse
            # to read an uninitialized table.
            return rw.fail(
                f"nothing fills table {name!r} (no LookupTableImportV2 of it in the module, "
                "e.g. a frozen graph without its table initializer)"
            )
        rw.replace_with_new(
            op,
            "tfl.hashtable",
            [],
            {
                "table_id": table_id(str(name)),
                "key_dtype": TENSOR_TYPE_NAMES[key],
                "value_dtype": TENSOR_TYPE_NAMES[value],
            },
            result_types=[RESOURCE_1],
        )


def _imported_tables(op: Operation) -> set[int]:
    """table_ids of the tables some op of the module imports contents into."""
    fn = op.function
    module = fn.module if fn is not None else None
    if module is None:
        return set()
    ids = set()
    for user in module.walk():
        if user.name not in ("tf.LookupTableImportV2", "tfl.hashtable_import"):
            continue
        table = user.operands[0].defining_op
        if table is None:
            continue
        if table.name == "tf.HashTableV2" and table.attr("shared_name"):
            ids.add(table_id(str(table.attr("shared_name"))))
        elif table.name == "tfl.hashtable":
            ids.add(int(table.attr("table_id")))
    return ids


class CallSessionInitializer(RewritePattern):
    """tf.HashTableV2 in a module with a session initializer -> tfl.call_once(){init_subgraph_index = @init} first in every entry function"""

    root = "tf.HashTableV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        # Runs whether or not the table legalizes: Flex tables need their contents too.
        fn = op.function
        module = fn.module if fn is not None else None
        if module is None:
            return rw.fail("the op is not in a module")
        inits = [f.name for f in module.functions if f.attributes.get(INITIALIZER_ATTR)]
        if not inits:
            return rw.fail("the module has no session initializer to call")
        missing = []
        for entry in module.functions:
            if not entry.attributes.get("entry") or entry.name in inits:
                continue
            present = {
                o.attributes["init_subgraph_index"].name
                for o in entry.block.ops
                if o.name == "tfl.call_once"
            }
            first = entry.block.first_op
            missing += [(first, name) for name in inits if name not in present]
        if not missing:
            return rw.fail("every entry function already calls the session initializer once")
        for first, name in missing:
            rw.create(
                "tfl.call_once", [], [], {"init_subgraph_index": SymbolRef(name)}, before=first
            )


class LegalizeLookupTableFind(RewritePattern):
    """tf.LookupTableFindV2(t, keys, default) -> tfl.hashtable_find(t, keys, default)"""

    root = "tf.LookupTableFindV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        handle, keys, default = op.operands
        if not _is_table(handle):
            return rw.fail("the table handle is not a legalized tf.HashTableV2")
        if default.type.num_elements not in (None, 1):
            return rw.fail(
                f"default value of shape {default.type.shape}: the TFLite kernel returns the "
                "first element for every missing key, TF a whole value"
            )
        out = op.result.type
        if out.shape is None and keys.type.shape is not None:
            out = out.with_shape(keys.type.shape)
        rw.replace_with_new(op, "tfl.hashtable_find", [handle, keys, default], result_types=[out])


class LegalizeLookupTableImport(RewritePattern):
    """tf.LookupTableImportV2(t, keys, values) -> tfl.hashtable_import(t, keys, values)"""

    root = "tf.LookupTableImportV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        handle, keys, values = op.operands
        if not _is_table(handle):
            return rw.fail("the table handle is not a legalized tf.HashTableV2")
        ks, vs = keys.type.shape, values.type.shape
        if ks is None or vs is None or ks != vs:
            return rw.fail(f"keys {ks} and values {vs} must have one known shape (TFLite kernel)")
        reason = _import_refusal(op)
        if reason:
            return rw.fail(reason)
        rw.replace_with_new(op, "tfl.hashtable_import", [handle, keys, values], result_types=[])


def _import_refusal(op: Operation) -> str | None:
    """Why an import into a table cannot be HASHTABLE_IMPORT (None: it can).

    HASHTABLE_IMPORT fills a table on its first run and ignores later runs
    (static_hashtable.cc); TF re-imports the same contents as a no-op and fails on other
    contents. An import in a signature (run on every invoke, as the official converter leaves
    it) is therefore exact only for constant contents; the session initializer runs once."""
    fn = op.function
    if fn is not None and fn.attributes.get(INITIALIZER_ATTR):
        return None
    if any(constant_value(v) is None for v in op.operands[1:]):
        return (
            "an import of computed keys or values on every invoke: HASHTABLE_IMPORT keeps the "
            "first contents, TF fails on other contents"
        )
    return None


class LegalizeLookupTableSize(RewritePattern):
    """tf.LookupTableSizeV2(t) -> tfl.hashtable_size(t) : tensor<1xi64> (+ tfl.reshape to TF's scalar)"""

    root = "tf.LookupTableSizeV2"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        handle = op.operands[0]
        if not _is_table(handle):
            return rw.fail("the table handle is not a legalized tf.HashTableV2")
        size = rw.create("tfl.hashtable_size", [handle], [TensorType((1,), "i64")]).result
        if op.result.type.shape == (1,):
            return rw.replace(op, size)
        # The kernel writes [1]; TF returns a scalar (the official converter leaves the [1]).
        shape = const(rw, np.zeros((0,), np.int32))
        scalar = rw.create("tfl.reshape", [size, shape], [TensorType((), "i64")]).result
        rw.replace(op, scalar)


PATTERNS: list[RewritePattern] = [
    CallSessionInitializer(),  # first: it leaves the table to LegalizeHashTable
    LegalizeHashTable(),
    LegalizeLookupTableFind(),
    LegalizeLookupTableImport(),
    LegalizeLookupTableSize(),
]
