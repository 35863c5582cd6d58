"""Activation memory of a .tflite model: the arena LiteRT's planner would allocate, per
subgraph, from tensor lifetimes in execution order, and what the interpreter really allocates.

The estimate replays LiteRT's `ArenaPlanner` + `SimpleMemoryArena` (tflite/arena_planner.cc,
simple_memory_arena.cc): a tensor lives from the node that produces it (graph inputs and
variables: node 0) to its last consumer (graph outputs, and tensors nobody reads, to the end);
tensors that live the whole run are placed first, then the rest by size (largest first), each
at the best-fitting gap among the placed tensors whose lifetimes overlap, 64-byte aligned.
Kernels that run in place share a buffer like the runtime does (RESHAPE, SQUEEZE, EXPAND_DIMS,
BITCAST; ADD/SUB/MUL/DIV/SOFTMAX/DYNAMIC_UPDATE_SLICE when the input has a single use and the
same size). Kernel scratch buffers are modelled for CONV_2D (im2col), BATCH_MATMUL (transposed
operands) and reductions (`scratch`); XNNPACK keeps its own workspace instead.

The measurement builds the interpreter without delegates, allocates its tensors and reads the
address of every arena tensor (the model's activations and the kernels' temporaries): the span
they cover is the arena the runtime planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tflconv.tools.analyze_graph import Graph, Op, Subgraph

ALIGN = 64
SCALAR_BYTES = 4
MAX_SHARABLE_INPUTS = 3
INPLACE_UNMODIFIED = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "BITCAST"}
INPLACE_CHANGED = {"ADD": 2, "SUB": 2, "MUL": 2, "DIV": 2, "SOFTMAX": 1,
                   "DYNAMIC_UPDATE_SLICE": 1}  # fmt: skip
"""Ops whose LiteRT kernel may write its output over an input (`inplace_operator`), with how
many leading inputs may be shared."""
TOP = 5
REDUCTIONS = {"MEAN", "SUM", "REDUCE_PROD", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_ANY"}


@dataclass
class Buffer:
    key: str  # tensor index, or "im2col@<op>"
    name: str
    bytes: int
    first: int
    last: int | None  # None: until the end
    offset: int = 0


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _arena(sg: Subgraph, index: int, folded: set[int]) -> bool:
    t = sg.tensor(index)
    return (
        t is not None
        and not t.constant
        and not t.variable
        and index not in folded
        and index not in sg.runtime_dynamic
    )


ALWAYS_FOLDED = {"SHAPE", "RANK"}
FOLDED_ON_CONSTANTS = {"BROADCAST_ARGS", "CONCATENATION", "GATHER", "MUL", "RANGE", "RESHAPE",
                       "STRIDED_SLICE", "TILE", "SUM", "REDUCE_PROD", "REDUCE_MAX",
                       "REDUCE_MIN"}  # fmt: skip
"""Kernels that compute their output once in Prepare into a persistent read-only buffer
(`SetTensorToPersistentRo` in tflite/kernels): SHAPE and RANK always, the others when every
input is constant. Those outputs are not in the arena."""


def folded_outputs(sg: Subgraph) -> set[int]:
    """The outputs LiteRT computes in Prepare (see FOLDED_ON_CONSTANTS)."""
    folded: set[int] = set()
    for op in sg.ops:
        ins = [i for i in op.inputs if i >= 0]
        constant = all((t := sg.tensor(i)) is not None and (t.constant or i in folded) for i in ins)
        if op.name in ALWAYS_FOLDED or (op.name in FOLDED_ON_CONSTANTS and ins and constant):
            folded.update(i for i in op.outputs if i >= 0)
    return folded


def _inplace(sg: Subgraph, refcounts: list[int], folded: set[int]) -> dict[int, int]:
    shared: dict[int, int] = {}
    graph_io = set(sg.inputs)
    outputs = set(sg.outputs)

    def find(i: int) -> int:
        return shared.get(i, i)

    for op in sg.ops:
        if not op.outputs or op.name not in INPLACE_UNMODIFIED | set(INPLACE_CHANGED):
            continue
        changed = op.name not in INPLACE_UNMODIFIED
        n = INPLACE_CHANGED.get(op.name, 1)
        out = op.outputs[0]
        if out < 0 or not _arena(sg, out, folded) or out in outputs:
            continue
        chosen = -1
        for i in op.inputs[: min(n, MAX_SHARABLE_INPUTS)]:
            if i < 0 or not _arena(sg, i, folded) or i in graph_io:
                continue
            if changed:
                tin, tout = sg.tensors[i], sg.tensors[out]
                if tin.bytes != tout.bytes or tin.bytes <= SCALAR_BYTES or refcounts[i] > 1:
                    continue
            chosen = i
            break
        if chosen < 0:
            continue
        actual = find(chosen)
        if changed and refcounts[actual] > 1:
            continue
        shared[out] = actual
    return shared


def _item(t: Any) -> int:
    return max(t.bytes // max(t.elements, 1), 1)


def _im2col(sg: Subgraph, op: Op) -> int:
    """Bytes of the im2col temporary LiteRT's CONV_2D kernel allocates (conv.cc: needed
    unless the filter is 1x1 with stride 1 and no dilation)."""
    if len(op.inputs) < 2 or not op.outputs:
        return 0
    x, w, out = sg.tensor(op.inputs[0]), sg.tensor(op.inputs[1]), sg.tensor(op.outputs[0])
    if x is None or w is None or out is None or len(w.shape) != 4 or len(out.shape) != 4:
        return 0
    o = op.options
    strided = any(int(getattr(o, a, 1) or 1) != 1 for a in ("strideW", "strideH"))
    dilated = any(int(getattr(o, a, 1) or 1) != 1 for a in ("dilationWFactor", "dilationHFactor"))
    if not (strided or dilated or w.shape[1] != 1 or w.shape[2] != 1):
        return 0
    n, oh, ow, _ = out.shape
    return n * oh * ow * w.shape[1] * w.shape[2] * w.shape[3] * _item(x)


def scratch(sg: Subgraph, op: Op) -> list[tuple[str, int]]:
    """The arena temporaries a builtin kernel allocates for `op` (each lives during the op):
    CONV_2D's im2col (conv.cc), BATCH_MATMUL's transposed LHS and, for a runtime RHS, its
    transposed RHS (batch_matmul.cc), the index/axis/accumulator buffers of reductions
    (reduce.cc)."""
    if op.name == "CONV_2D":
        size = _im2col(sg, op)
        return [("im2col", size)] if size else []
    ins = [sg.tensor(i) for i in op.inputs]
    if op.name == "BATCH_MATMUL" and len(ins) > 1 and ins[0] is not None and ins[1] is not None:
        out = [("transposed lhs", ins[0].bytes)]
        if not ins[1].constant:
            out.append(("transposed rhs", ins[1].bytes))
        return out
    if op.name in REDUCTIONS and len(ins) > 1 and ins[0] is not None and ins[1] is not None:
        out = [("index", 4 * len(ins[0].shape)), ("axis", 4 * max(ins[1].elements, 1))]
        res = sg.tensor(op.outputs[0]) if op.outputs else None
        if op.name in ("MEAN", "SUM") and res is not None:
            out.append(("accumulator", 4 * res.elements))
        return out
    return []


def plan(sg: Subgraph, with_scratch: bool = True) -> dict[str, Any]:
    """Replay LiteRT's arena planner on one subgraph."""
    refcounts = [0] * len(sg.tensors)
    for i in sg.outputs + sg.variables + sg.inputs:
        if i >= 0:
            refcounts[i] += 1
    for op in sg.ops:
        for i in op.inputs:
            if i >= 0:
                refcounts[i] += 1
    folded = folded_outputs(sg)
    shared = _inplace(sg, refcounts, folded)
    counts = [0] * len(sg.tensors)
    for i in sg.outputs + sg.variables + sg.inputs:
        if i >= 0:
            counts[i] += 1
    for op in sg.ops:
        for i in op.inputs:
            if i >= 0:
                counts[shared.get(i, i)] += 1
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i in sg.inputs:
        if i >= 0 and _arena(sg, i, folded):
            first[i] = 0
    temps: list[Buffer] = []
    for n, op in enumerate(sg.ops):
        for i in op.outputs:
            if i >= 0 and _arena(sg, i, folded) and i not in first:
                first[i] = n
        for what, size in scratch(sg, op) if with_scratch else ():
            temps.append(Buffer(f"{what}@{n}", f"{op.name} #{n} {what} scratch", size, n, n))
        for i in op.inputs:
            if i < 0:
                continue
            root = shared.get(i, i)
            counts[root] -= 1
            if counts[root] == 0 and root in first and root not in last:
                last[root] = n
    buffers = [
        Buffer(str(i), sg.tensors[i].name, sg.tensors[i].bytes, f, last.get(i))
        for i, f in first.items()
        if i not in shared
    ]
    # the shared tensor's lifetime is the union: a consumer of the in-place output keeps it
    buffers += temps
    whole = [b for b in buffers if b.first == 0 and b.last is None]
    rest = sorted(
        (b for b in buffers if not (b.first == 0 and b.last is None)),
        key=lambda b: (-b.bytes, b.first),
    )
    whole.sort(key=lambda b: int(b.key) if b.key.isdigit() else 1 << 30)
    end = len(sg.ops)
    placed: list[Buffer] = []
    for b in whole + rest:
        b.offset = _best_fit(placed, b, end)
        placed.append(b)
        placed.sort(key=lambda p: p.offset)
    arena = max((b.offset + b.bytes for b in placed if b.bytes), default=0)
    return _summary(sg, placed, arena, end, shared)


def _best_fit(placed: list[Buffer], b: Buffer, end: int) -> int:
    if b.bytes == 0:
        return 0
    last = end if b.last is None else b.last
    best, best_fit = None, None
    current = 0
    for a in placed:
        a_last = end if a.last is None else a.last
        if a_last < b.first or a.first > last or a.bytes == 0:
            continue
        aligned = _align(current)
        if aligned + b.bytes <= a.offset and (best_fit is None or a.offset - aligned < best_fit):
            best, best_fit = aligned, a.offset - current
        current = max(current, a.offset + a.bytes)
        if best_fit == 0:
            break
    return best if best is not None else _align(current)


def _summary(
    sg: Subgraph, placed: list[Buffer], arena: int, end: int, shared: dict[int, int]
) -> dict[str, Any]:
    live_bytes = []
    for n in range(max(end, 1)):
        live_bytes.append(
            sum(b.bytes for b in placed if b.first <= n <= (end if b.last is None else b.last))
        )
    peak_node = max(range(len(live_bytes)), key=lambda n: live_bytes[n]) if live_bytes else 0
    live = [
        b for b in placed if b.first <= peak_node <= (end if b.last is None else b.last) and b.bytes
    ]
    live.sort(key=lambda b: -b.bytes)
    op = sg.ops[peak_node] if peak_node < len(sg.ops) else None
    return {
        "subgraph": sg.index,
        "name": sg.name,
        "arena_bytes": arena,
        "peak_live_bytes": max(live_bytes, default=0),
        "peak_at": (
            {"index": peak_node, "op": op.name, "location": sg.loc(op)} if op is not None else None
        ),
        "largest_live": [
            {
                "tensor": b.name,
                "bytes": b.bytes,
                "shape": sg.tensors[int(b.key)].shape if b.key.isdigit() else None,
                "offset": b.offset,
            }
            for b in live[:TOP]
        ],
        "tensors": sum(1 for b in placed if b.key.isdigit()),
        "scratch_bytes": sum(b.bytes for b in placed if not b.key.isdigit()),
        "in_place": len(shared),
    }


def measure_arena(
    data: bytes, input_shapes: dict[int, list[int]], sg: Subgraph | None = None
) -> dict[str, Any]:
    """The arena LiteRT allocated for subgraph 0 (no delegates): the span of the addresses of
    its activations and kernel temporaries after allocate_tensors(). With `sg`, only the
    tensors the planner puts in the arena (and the kernels' temporaries) are counted."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # heavy: only here

    interp = Interpreter(
        model_content=data,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    for index, shape in input_shapes.items():
        interp.resize_tensor_input(index, shape, strict=False)
    interp.allocate_tensors()
    return _spans(interp, sg)


def _spans(interp: Any, sg: Subgraph | None) -> dict[str, Any]:
    lo, hi, count = None, 0, 0
    constant = _constant_indices(interp)
    folded = folded_outputs(sg) if sg is not None else set()
    for d in interp.get_tensor_details():
        if d["index"] in constant:
            continue
        if sg is not None and d["index"] < len(sg.tensors) and not _arena(sg, d["index"], folded):
            continue
        try:
            array = interp.tensor(d["index"])()
        except ValueError:  # no data: dynamic, or taken by a delegate
            continue
        if not array.nbytes:
            continue
        start = int(array.__array_interface__["data"][0])
        lo = start if lo is None else min(lo, start)
        hi = max(hi, start + array.nbytes)
        count += 1
    return {"arena_bytes": (hi - lo) if lo is not None else 0, "tensors": count}


def _constant_indices(interp: Any) -> set[int]:
    """Tensors backed by the model's buffers (weights): the interpreter's details do not say,
    the op list does (inputs that no op produces and that are not graph inputs)."""
    produced = {int(i) for o in interp._get_ops_details() for i in o["outputs"]}
    inputs = {int(d["index"]) for d in interp.get_input_details()}
    used = {int(i) for o in interp._get_ops_details() for i in o["inputs"] if int(i) >= 0}
    return {i for i in used if i not in produced and i not in inputs}


def memory(graph: Graph, measure: bool = True) -> dict[str, Any]:
    """The planner estimate per subgraph and, for the first, LiteRT's measured arena."""
    plans = [plan(sg) for sg in graph.subgraphs]
    out: dict[str, Any] = {"subgraphs": plans, "measured": None}
    if measure and len(graph.subgraphs) > 1:
        # WHILE/IF run their subgraphs with arenas of their own and dynamic outputs
        out["measured"] = {"error": "not measured for models with control-flow subgraphs"}
    elif measure and graph.subgraphs:
        sg = graph.subgraphs[0]
        shapes = {i: sg.tensors[i].shape for i in sg.inputs}
        try:
            out["measured"] = measure_arena(graph.data, shapes, sg)
        except Exception as e:  # noqa: BLE001 - Flex/custom ops: the estimate stands alone
            out["measured"] = {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"}
    return out


def format_memory(m: dict[str, Any], human: Any) -> list[str]:
    lines = ["Memory (activations):"]
    for p in m["subgraphs"]:
        label = f"subgraph {p['subgraph']}" + (f" ({p['name']})" if p["name"] else "")
        lines.append(
            f"  {label}: arena {human(p['arena_bytes'], 'B')} (planner estimate), peak live "
            f"{human(p['peak_live_bytes'], 'B')}"
            + (
                f", incl. {human(p['scratch_bytes'], 'B')} kernel scratch"
                if p["scratch_bytes"]
                else ""
            )  # fmt: skip
        )
        if p["peak_at"]:
            at = p["peak_at"]
            lines.append(f"    peak at #{at['index']} {at['op']} ({at['location'][:60]})")
        for t in p["largest_live"]:
            lines.append(f"    {human(t['bytes'], 'B'):>10}  {t['shape']}  {t['tensor'][:60]}")
    meas = m.get("measured")
    if meas and "arena_bytes" in meas:
        est = m["subgraphs"][0]["arena_bytes"]
        diff = (est - meas["arena_bytes"]) / max(meas["arena_bytes"], 1)
        lines.append(
            f"  LiteRT (no delegates) allocated {human(meas['arena_bytes'], 'B')} for subgraph 0 "
            f"({100 * diff:+.1f}% vs the estimate)"
        )
    elif meas and "error" in meas:
        lines.append(f"  not measured in LiteRT: {meas['error']}")
    return lines
