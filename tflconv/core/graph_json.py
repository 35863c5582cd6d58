"""Model Explorer graphs of a module: the JSON that Google's viewer for LiteRT models
(`ai-edge-model-explorer`) loads (its `graph_builder` format, `{"graphs": [...]}`), built
without the package.

One graph per function. A node per op, with
- its namespace from the op's location (TF node / Keras layer scope: `model/block_1/conv/Conv2D`
  goes into `model/block_1/conv`), so a 500-op model collapses to its layers;
- constants folded into their users (an `input k` attribute describing the constant, its values
  when small) instead of nodes of their own, and unused constants dropped;
- every attribute (as printed in the IR text), its location (TF node names, Python file:line),
  and, for dumps, the pass that created or last changed it (`changed_by`) and a red border
  when it changed in this pass; ops a pass removed are listed on the graph
  (`removed_by_this_pass`);
- outputs carry `tensor_name` (what the .tflite writer names them) and shape, so node data
  (e.g. `debug-quant`'s per-layer error) keyed by tensor names lands on the right nodes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from .ir import BlockArgument, Function, Module, Operation, Value
from .printer import is_elided, print_attr, print_location, print_type

CONSTANT_OPS = frozenset({"arith.constant", "tfl.pseudo_const", "tfl.no_value", "tf.Const"})
CHANGED_COLOR = "#d62728"
SMALL = 8  # constants with at most this many elements show their values


def _kv(key: str, value: Any) -> dict[str, str]:
    return {"key": key, "value": str(value)}


def namespace(op: Operation) -> str:
    """The layer scope of an op: its (first) TF node name without the last component."""
    entries = op.location.entries
    if not entries:
        return ""
    name = entries[0][0]
    return name.rsplit("/", 1)[0] if "/" in name else ""


def _tensor_name(value: Value) -> str:
    if value.name_hint:
        return value.name_hint
    if isinstance(value, BlockArgument):
        return f"arg{value.index}"
    op = value.defining_op
    base = (op.location.tensor_name() if op is not None else "") or (op.name if op else "")
    index = getattr(value, "index", 0)
    return base if index == 0 else f"{base}:{index}"


def _const_text(op: Operation) -> str:
    if op.name == "tfl.no_value":
        return "none"
    value = op.attributes.get("value")
    t = print_type(op.results[0].type)
    if isinstance(value, np.ndarray) and value.size <= SMALL and not is_elided(value):
        return f"const {np.array2string(value, separator=', ', threshold=SMALL)} : {t}"
    return f"const {t}"


def function_graph(
    fn: Function,
    *,
    graph_id: str | None = None,
    highlight: set[Operation] | frozenset[Operation] = frozenset(),
    origin: dict[Operation, str] | None = None,
    removed: Counter | None = None,
) -> dict[str, Any]:
    """The Model Explorer graph (a `graph_builder.Graph` as a dict) of one function."""
    origin = origin or {}
    nodes: list[dict[str, Any]] = []
    ids: dict[int, tuple[str, str]] = {}  # id(value) -> (node id, output id)
    for i, arg in enumerate(fn.args):
        nid = f"input_{i}"
        ids[id(arg)] = (nid, "0")
        nodes.append(
            {
                "id": nid,
                "label": "Input",
                "namespace": "",
                "attrs": [_kv("name", _tensor_name(arg)), _kv("type", print_type(arg.type))],
                "incomingEdges": [],
                "outputsMetadata": [_out_meta(arg, "0")],
            }
        )
    counter = 0
    for op in _walk_ops(fn):
        if op.name in CONSTANT_OPS or op.name == "func.return":
            continue
        counter += 1
        nid = f"op_{counter}"
        for k, r in enumerate(op.results):
            ids[id(r)] = (nid, str(k))
        nodes.append(_op_node(op, nid, ids, highlight, origin))
    term = fn.body.blocks[0].terminator if fn.body.blocks else None
    if term is not None and term.name == "func.return":
        names = fn.attributes.get("output_names") or []
        for i, v in enumerate(term.operands):
            src = ids.get(id(v))
            nodes.append(
                {
                    "id": f"output_{i}",
                    "label": "Output",
                    "namespace": "",
                    "attrs": [
                        _kv("name", names[i] if i < len(names) else f"output{i}"),
                        _kv("type", print_type(v.type)),
                    ],
                    "incomingEdges": (
                        [
                            {
                                "sourceNodeId": src[0],
                                "sourceNodeOutputId": src[1],
                                "targetNodeInputId": "0",
                            }
                        ]  # fmt: skip
                        if src is not None
                        else []
                    ),
                }
            )
    graph: dict[str, Any] = {"id": graph_id or fn.name, "nodes": nodes}
    if removed:
        listing = ", ".join(f"{name} x{n}" for name, n in sorted(removed.items()))
        graph["groupNodeAttributes"] = {"": {"removed_by_this_pass": listing}}
    return graph


def _walk_ops(fn: Function) -> Iterable[Operation]:
    for block in fn.body.blocks:
        yield from block.ops  # nested regions stay inside their op (a subgraph attribute)


def _out_meta(value: Value, out_id: str) -> dict[str, Any]:
    return {
        "id": out_id,
        "attrs": [
            _kv("tensor_name", _tensor_name(value)),
            _kv("tensor_shape", print_type(value.type)),
            _kv("__tensor_tag", _tensor_name(value)),
        ],
    }


def _op_node(
    op: Operation,
    nid: str,
    ids: dict[int, tuple[str, str]],
    highlight: set[Operation] | frozenset[Operation],
    origin: dict[Operation, str],
) -> dict[str, Any]:
    attrs = []
    for key in sorted(op.attributes):
        if key.startswith("_"):
            continue
        try:
            text = print_attr(op.attributes[key])
        except TypeError:
            text = repr(op.attributes[key])
        attrs.append(_kv(key, text if len(text) <= 400 else text[:399] + "…"))
    edges = []
    inputs_meta = []
    for k, v in enumerate(op.operands):
        producer = v.defining_op
        if producer is not None and producer.name in CONSTANT_OPS:
            attrs.append(_kv(f"input {k} ({_tensor_name(v)})", _const_text(producer)))
            continue
        src = ids.get(id(v))
        if src is not None:
            edges.append(
                {"sourceNodeId": src[0], "sourceNodeOutputId": src[1], "targetNodeInputId": str(k)}
            )
            inputs_meta.append({"id": str(k), "attrs": [_kv("__tensor_tag", _tensor_name(v))]})
    loc = print_location(op.location)
    if loc:
        attrs.append(_kv("location", loc[len("loc(") : -1]))
    if op in origin:
        attrs.append(_kv("changed_by", origin[op]))
    if op.regions:
        attrs.append(_kv("regions", str(len(op.regions))))
    node: dict[str, Any] = {
        "id": nid,
        "label": op.name,
        "namespace": namespace(op),
        "attrs": attrs,
        "incomingEdges": edges,
        "inputsMetadata": inputs_meta,
        "outputsMetadata": [_out_meta(r, str(k)) for k, r in enumerate(op.results)],
    }
    if op in highlight:
        node["style"] = {"borderColor": CHANGED_COLOR, "hoveredBorderColor": CHANGED_COLOR}
    return node


def module_graphs(
    module: Module,
    *,
    highlight: Iterable[Operation] = (),
    origin: dict[Operation, str] | None = None,
    removed: Counter | None = None,
) -> dict[str, Any]:
    """`{"graphs": [...]}`: one graph per function (Model Explorer's JSON graph format)."""
    hl = set(highlight)
    return {
        "graphs": [
            function_graph(fn, highlight=hl, origin=origin, removed=removed)
            for fn in module.functions
        ]
    }


def graphs_json(module: Module, **kwargs: Any) -> str:
    """`module_graphs` as JSON text."""
    return json.dumps(module_graphs(module, **kwargs), indent=1)
