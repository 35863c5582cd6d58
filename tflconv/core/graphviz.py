"""Graphviz DOT text of a module: one node per op, edges labelled with tensor shapes, one cluster
per function (and per region), colours by dialect, highlighted ops outlined in red.

Plain text, no dependency; `render_svg` runs the `dot` program when it is installed.
The output is deterministic: node ids follow the walk order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .graph_json import graphs_json
from .io import write_atomic
from .ir import Block, BlockArgument, Function, Module, Operation, Value
from .types import SymbolRef, TensorType, TypeAttr

# Fill colours by dialect (FxGraphDrawer-style colouring by opcode family).
DIALECT_COLORS = {
    "tf": "#fdd0a2",  # orange
    "tfl": "#c6dbef",  # blue
    "arith": "#e0e0e0",  # grey
    "quant": "#c7e9c0",  # green
}
CUSTOM_COLOR = "#d0d0d0"
MAX_ATTRS = 4
"""Other attributes shown besides the semantic ones (always shown)."""

# Attributes that say what an op computes: shown first and always, whatever MAX_ATTRS says.
SEMANTIC_ATTRS = (
    "padding", "strides", "stride_h", "stride_w", "stride_d", "dilations", "dilation_h_factor",
    "dilation_w_factor", "fused_activation_function", "ksize", "filter_height", "filter_width",
    "depth_multiplier", "data_format", "axis", "axes", "keep_dims", "keepdims", "transpose_a",
    "transpose_b", "adj_x", "adj_y", "alpha", "beta", "perm", "new_axis_mask", "shrink_axis_mask",
    "begin_mask", "end_mask", "ellipsis_mask", "keep_num_dims", "out_type", "DstT",
)  # fmt: skip
NOISE_ATTRS = frozenset({"T", "Tidx", "Tshape", "Tpaddings", "Tperm", "Taxis", "Tindices"})
CONSTANT_OPS = frozenset({"arith.constant", "tfl.pseudo_const", "tf.Const", "tfl.no_value"})


def short_type(t: TensorType) -> str:
    """`1x?x4xf32`, `f32` for scalars, `*xf32` unranked, `!q` suffix when quantized."""
    if t.shape is None:
        text = f"*x{t.dtype}"
    elif not t.shape:
        text = t.dtype
    else:
        text = "x".join("?" if d is None else str(d) for d in t.shape) + "x" + t.dtype
    return text + ("!q" if t.quant is not None else "")


def _short_value(value: Any, limit: int = 24) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 4 and value.dtype != object:
            return np.array2string(value.ravel(), separator=",")
        shape = "x".join(str(d) for d in value.shape)
        return f"<{shape}x{value.dtype}>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SymbolRef):
        text = "@" + value.name
    elif isinstance(value, TypeAttr):
        text = value.dtype
    elif isinstance(value, TensorType):
        text = short_type(value)
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ",".join(_short_value(v, limit) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _style(op: Operation) -> str:
    if op.name == "tfl.custom" or op.dialect in ("flex", "custom") or op.name.startswith("tf.Flex"):
        return f'style="filled,dashed", fillcolor="{CUSTOM_COLOR}"'
    color = DIALECT_COLORS.get(op.dialect, "#ffffff")
    return f'style="filled,rounded", fillcolor="{color}"'


def _layer(op: Operation, limit: int = 40) -> str:
    """The op's layer (the scope of its TF node name), shortened from the left."""
    entries = op.location.entries
    if not entries:
        return ""
    name = entries[0][0]
    scope = name.rsplit("/", 1)[0] if "/" in name else name
    more = f" +{len(entries) - 1}" if len(entries) > 1 else ""
    return ("…" + scope[-(limit - 1) :] if len(scope) > limit else scope) + more


def _constant_text(op: Operation) -> str:
    if op.name == "tfl.no_value":
        return "none"
    value = op.attributes.get("value")
    if isinstance(value, np.ndarray):
        return _short_value(value)
    return short_type(op.results[0].type) if op.results else op.name


def _label(op: Operation, inline_constants: bool = True) -> str:
    lines = [op.name]
    layer = _layer(op)
    if layer:
        lines.append(f"@ {layer}")
    attrs = {k: v for k, v in op.attributes.items() if not k.startswith("_")}
    semantic = [k for k in SEMANTIC_ATTRS if k in attrs]
    others = [k for k in attrs if k not in semantic and k not in NOISE_ATTRS]
    for key in semantic + others[:MAX_ATTRS]:
        lines.append(f"{key}={_short_value(attrs[key])}")
    if len(others) > MAX_ATTRS:
        lines.append(f"(+{len(others) - MAX_ATTRS} attrs)")
    if inline_constants:
        for k, v in enumerate(op.operands):
            producer = v.defining_op
            if producer is not None and producer.name in CONSTANT_OPS:
                lines.append(f"in{k}: {_constant_text(producer)}")
    if op.results:
        lines.append(" ".join(short_type(r.type) for r in op.results))
    return "\n".join(lines)


def _cluster_id(name: str, taken: set[str]) -> str:
    base = "cluster_" + re.sub(r"\W", "_", name)
    cid, i = base, 1
    while cid in taken:
        cid, i = f"{base}_{i}", i + 1
    taken.add(cid)
    return cid


def _select(
    ops: list[Operation], highlight: set[Operation], max_nodes: int | None
) -> set[Operation]:
    """All ops, or at most `max_nodes` of them: around the highlighted ops (breadth-first over
    producers and users), else the first ones in walk order."""
    if max_nodes is None or len(ops) <= max_nodes:
        return set(ops)
    seeds = [op for op in ops if op in highlight]
    if not seeds:
        return set(ops[:max_nodes])
    present = set(ops)
    kept: set[Operation] = set()
    queue = deque(seeds)
    while queue and len(kept) < max_nodes:
        op = queue.popleft()
        if op in kept:
            continue
        kept.add(op)
        for v in op.operands:
            producer = v.defining_op
            if producer is not None and producer in present and producer not in kept:
                queue.append(producer)
        for r in op.results:
            for user in r.users:
                if user in present and user not in kept:
                    queue.append(user)
    return kept


def to_dot(
    module: Module,
    highlight: Iterable[Operation] = (),
    max_nodes: int | None = None,
    removed: Counter | None = None,
    inline_constants: bool = False,
) -> str:
    """DOT text of `module`; `highlight` ops get a thick red outline; with `max_nodes` (which
    counts ops, not constants, when they are inlined), big graphs are cut around the
    highlighted ops. With `inline_constants` (dumps) constants are not nodes: each user lists
    them (`in1: <8x3x3x3xf32>`, small ones by value), and unused ones are left out. `removed` (op name ->
    count) adds a note of the ops a pass removed. Each op shows its layer (`@ scope`) and its
    semantic attributes (padding, strides, fused activation, ...) always."""
    highlight = set(highlight)
    all_ops = [
        op
        for op in module.walk()
        if op.name != "func.return" and not (inline_constants and op.name in CONSTANT_OPS)
    ]
    kept = _select(all_ops, highlight, max_nodes)
    ids: dict[int, str] = {}  # id(op or block argument) -> node id
    out = [
        "digraph module {",
        "  rankdir=TB;",
        '  node [shape=box, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    clusters: set[str] = set()
    edges: list[str] = []
    counter = [0]

    def node_id() -> str:
        counter[0] += 1
        return f"n{counter[0]}"

    def source_of(value: Value) -> str | None:
        owner = value.defining_op if not isinstance(value, BlockArgument) else value
        return ids.get(id(owner))

    def add_edges(op: Operation, target: str) -> None:
        for value in op.operands:
            src = source_of(value)
            if src is not None:
                edges.append(f'  {src} -> {target} [label="{_escape(short_type(value.type))}"];')

    def emit_block(block: Block, fn: Function, indent: str) -> None:
        for op in block.ops:
            if op.name == "func.return":
                continue
            if op not in kept:
                continue
            nid = node_id()
            ids[id(op)] = nid
            extra = ", color=red, penwidth=3" if op in highlight else ""
            label = _escape(_label(op, inline_constants))
            out.append(f'{indent}{nid} [label="{label}", {_style(op)}{extra}];')
            add_edges(op, nid)
            for r_index, region in enumerate(op.regions):
                cid = _cluster_id(f"{fn.name}_{nid}_r{r_index}", clusters)
                out.append(f"{indent}subgraph {cid} {{")
                out.append(f'{indent}  label="{_escape(op.name)} region {r_index}"; style=dashed;')
                for inner in region.blocks:
                    emit_block(inner, fn, indent + "  ")
                out.append(f"{indent}}}")

    for fn in module.functions:
        cid = _cluster_id(fn.name, clusters)
        out.append(f"  subgraph {cid} {{")
        out.append(f'    label="@{_escape(fn.name)}"; style=rounded; color="#808080";')
        for i, arg in enumerate(fn.args):
            if not any(user in kept for user in arg.users) and len(kept) != len(all_ops):
                continue
            nid = node_id()
            ids[id(arg)] = nid
            name = arg.name_hint or f"arg{i}"
            label = f"{name}\n{short_type(arg.type)}"
            out.append(
                f'    {nid} [label="{_escape(label)}", shape=ellipse, style=filled, fillcolor="#ffffcc"];'
            )
        emit_block(fn.block, fn, "    ")
        term = fn.block.terminator
        if term is not None and term.name == "func.return":
            names = fn.attributes.get("output_names") or []
            for i, value in enumerate(term.operands):
                if source_of(value) is None:
                    continue
                nid = node_id()
                name = names[i] if i < len(names) else f"output{i}"
                label = f"{name}\n{short_type(value.type)}"
                out.append(
                    f'    {nid} [label="{_escape(label)}", shape=ellipse, style=filled, fillcolor="#e5f5e0"];'
                )
                edges.append(
                    f'  {source_of(value)} -> {nid} [label="{_escape(short_type(value.type))}"];'
                )
        out.append("  }")
    if removed:
        listing = "\n".join(f"{name} x{n}" for name, n in sorted(removed.items()))
        out.append(
            f'  removed [label="{_escape("removed by this pass:" + chr(10) + listing)}", '
            'shape=note, color="#cc0000", fontcolor="#cc0000"];'
        )
    if len(kept) < len(all_ops):
        out.append(
            f'  omitted [label="{len(all_ops) - len(kept)} of {len(all_ops)} ops not shown", shape=note];'
        )
    out.extend(edges)
    out.append("}")
    return "\n".join(out) + "\n"


def render(dot_text: str, path: str | Path, fmt: str = "svg", timeout: float = 120.0) -> bool:
    """Render DOT text to a file (`fmt`: svg, png, pdf) with Graphviz's `dot`; False when it is
    not installed or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return False
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}", "-o", str(path)],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def render_svg(dot_text: str, path: str | Path, timeout: float = 120.0) -> bool:
    """Render DOT text to an SVG file; False when Graphviz's `dot` is missing or fails."""
    return render(dot_text, path, "svg", timeout)


class GraphError(Exception):
    """A graph file that cannot be written (unknown format, Graphviz missing)."""


RENDERED = (".svg", ".png", ".pdf")


def write_graph(
    module: Module, path: str | Path, *, max_nodes: int | None = None, inline_constants: bool = True
) -> None:
    """Write the graph of `module` in the format its suffix names: `.json` a Model Explorer
    graph (`graph_json.py`), `.dot`/`.gv` DOT text, `.svg`/`.png`/`.pdf` rendered by Graphviz
    (refused when `dot` is missing: never DOT text under an image's name). Raises GraphError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        write_atomic(path, graphs_json(module))
        return
    if suffix not in (".dot", ".gv", *RENDERED):
        raise GraphError(
            f"{path}: unknown graph format {suffix or '(no suffix)'!r}: use .json (Model "
            "Explorer), .dot, .svg, .png or .pdf"
        )
    dot = to_dot(module, max_nodes=max_nodes, inline_constants=inline_constants)
    if suffix in RENDERED:
        if not render(dot, path, suffix[1:]):
            raise GraphError(
                f"cannot render {path}: Graphviz `dot` is not installed or failed "
                "(write a .dot or .json file instead)"
            )
        return
    write_atomic(path, dot)
