"""Complexity of a .tflite model: parameters and weight bytes per dtype, MACs and FLOPs per op
and in total, the most expensive ops.

Counting rules (docs/analyze.md), for the shapes `analyze_graph` resolved:
- MACs (multiply-accumulates): CONV_2D = out elements x KH x KW x Cin/groups; CONV_3D = out x
  KD x KH x KW x Cin; DEPTHWISE_CONV_2D = out x KH x KW; TRANSPOSE_CONV = input elements x KH x
  KW x Cout (every input pixel is scattered through the kernel); FULLY_CONNECTED = out x K;
  BATCH_MATMUL = out x K; LSTM / UNIDIRECTIONAL_SEQUENCE_LSTM = batch x steps x 4 x units x
  (input + units) (+ projection); SVDF and EMBEDDING_LOOKUP are not counted.
- FLOPs = 2 x MACs + one per output element for a bias and for a fused activation, plus the
  non-MAC ops: one per output element for elementwise math (transcendental functions count one
  too), KH x KW per output element for pooling, one per input element for reductions, five per
  element for (LOG_)SOFTMAX (max, subtract, exp, sum, divide), four per output element for
  bilinear resize. Data movement (reshape, transpose, gather, concat, pad, ...) is 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from tflconv.tools.analyze_graph import Graph, Op, Subgraph

TOP = 10

ELEMENTWISE = {
    "ADD": 1, "SUB": 1, "MUL": 1, "DIV": 1, "MAXIMUM": 1, "MINIMUM": 1, "POW": 1,
    "SQUARED_DIFFERENCE": 2, "FLOOR_DIV": 1, "FLOOR_MOD": 1, "RELU": 1, "RELU6": 1,
    "RELU_N1_TO_1": 1, "RELU_0_TO_1": 1, "LEAKY_RELU": 1, "PRELU": 2, "LOGISTIC": 1, "TANH": 1,
    "EXP": 1, "LOG": 1, "SQRT": 1, "RSQRT": 1, "SQUARE": 1, "NEG": 1, "ABS": 1, "SIN": 1,
    "COS": 1, "HARD_SWISH": 1, "GELU": 1, "ELU": 1, "SIGN": 1, "FLOOR": 1, "CEIL": 1,
    "ROUND": 1, "LESS": 1, "LESS_EQUAL": 1, "GREATER": 1, "GREATER_EQUAL": 1, "EQUAL": 1,
    "NOT_EQUAL": 1, "SELECT": 1, "SELECT_V2": 1, "LOGICAL_AND": 1, "LOGICAL_OR": 1,
    "LOGICAL_NOT": 1, "QUANTIZE": 1, "DEQUANTIZE": 1, "CAST": 0, "ATAN2": 1, "CUMSUM": 1,
    "L2_NORMALIZATION": 3, "LOCAL_RESPONSE_NORMALIZATION": 3,
}  # fmt: skip
"""FLOPs per output element of the non-MAC elementwise ops."""

REDUCTIONS = {"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "ARG_MAX",
              "ARG_MIN", "REDUCE_ALL"}  # fmt: skip
POOLS = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"}
LSTMS = {"LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM"}


def _dims(sg: Subgraph, index: int) -> list[int]:
    t = sg.tensor(index)
    return list(t.shape) if t is not None else []


def _n(shape: list[int]) -> int:
    return int(np.prod(shape)) if shape else 1


def _act(op: Op) -> int:
    return int(getattr(op.options, "fusedActivationFunction", 0) or 0)


def op_cost(sg: Subgraph, op: Op) -> tuple[int, int]:
    """(MACs, FLOPs) of one operator."""
    name = op.name
    out = _dims(sg, op.outputs[0]) if op.outputs and op.outputs[0] >= 0 else []
    n_out = _n(out)
    ins = [_dims(sg, i) if i >= 0 else [] for i in op.inputs]
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    extra = n_out * (bool(has_bias) + (_act(op) != 0))
    macs = 0
    if name == "CONV_2D" and len(ins) > 1 and len(ins[1]) == 4:
        macs = n_out * ins[1][1] * ins[1][2] * ins[1][3]
    elif name == "CONV_3D" and len(ins) > 1 and len(ins[1]) == 5:
        macs = n_out * ins[1][0] * ins[1][1] * ins[1][2] * ins[1][3]
    elif name == "DEPTHWISE_CONV_2D" and len(ins) > 1 and len(ins[1]) == 4:
        macs = n_out * ins[1][1] * ins[1][2]
    elif name == "TRANSPOSE_CONV" and len(ins) > 2 and len(ins[1]) == 4:
        # inputs: output_shape, weights [Cout, KH, KW, Cin], input, (bias at 3)
        macs = _n(ins[2]) * ins[1][0] * ins[1][1] * ins[1][2]
        has_bias = len(op.inputs) > 3 and op.inputs[3] >= 0
        extra = n_out * (bool(has_bias) + (_act(op) != 0))
    elif name == "FULLY_CONNECTED" and len(ins) > 1 and ins[1]:
        macs = n_out * ins[1][-1]
    elif name == "BATCH_MATMUL" and len(ins) > 1 and len(ins[0]) >= 2:
        adj_x = bool(getattr(op.options, "adjX", False))
        macs = n_out * (ins[0][-2] if adj_x else ins[0][-1])
        extra = 0
    elif name in LSTMS and ins and len(ins[0]) >= 2:
        macs, extra = _lstm(op, ins)
    elif name == "SVDF" and len(ins) > 2 and ins[0]:
        # weights_feature [F, I], weights_time [F, memory]
        batch = ins[0][0]
        macs = batch * (_n(ins[1]) + _n(ins[2]))
    if macs:
        return macs, 2 * macs + extra
    if name in ELEMENTWISE:
        return 0, ELEMENTWISE[name] * n_out + (n_out if _act(op) else 0)
    if name == "ADD_N":
        return 0, max(len(op.inputs) - 1, 1) * n_out
    if name in POOLS:
        k = int(getattr(op.options, "filterWidth", 1) or 1) * int(
            getattr(op.options, "filterHeight", 1) or 1
        )
        return 0, n_out * k + (n_out if _act(op) else 0)
    if name in REDUCTIONS:
        return 0, _n(ins[0]) if ins else 0
    if name in ("SOFTMAX", "LOG_SOFTMAX"):
        return 0, 5 * n_out
    if name == "RESIZE_BILINEAR":
        return 0, 4 * n_out
    return 0, 0


def _lstm(op: Op, ins: list[list[int]]) -> tuple[int, int]:
    """LSTM inputs: 0 input, 1-4 input weights [units, in], 5-8 recurrent weights [units,
    out], 16 projection weights [out, units]."""
    x = ins[0]
    if op.name == "LSTM":
        batch, steps = _n(x[:-1]), 1
    elif bool(getattr(op.options, "timeMajor", False)):
        steps, batch = x[0], _n(x[1:-1])
    else:
        batch, steps = x[0], _n(x[1:-1])
    w_in = ins[2] if len(ins) > 2 else []  # input_to_forget (input_to_input may be omitted)
    w_rec = ins[6] if len(ins) > 6 else []
    if len(w_in) != 2 or len(w_rec) != 2:
        return 0, 0
    units = w_in[0]
    per_step = 4 * units * (w_in[1] + w_rec[1])
    if len(ins) > 16 and len(ins[16]) == 2:
        per_step += ins[16][0] * ins[16][1]
    macs = batch * steps * per_step
    # gates: 4 biases + 3 sigmoids + 2 tanh + 3 cell/state products and a sum, per unit
    extra = batch * steps * units * 13
    return macs, extra


def _params(graph: Graph) -> dict[str, Any]:
    by_dtype: dict[str, dict[str, int]] = defaultdict(
        lambda: {"tensors": 0, "params": 0, "bytes": 0}
    )
    seen: set[tuple[int, int]] = set()
    for sg in graph.subgraphs:
        for t in sg.tensors:
            if not t.constant or (sg.index, t.index) in seen:
                continue
            seen.add((sg.index, t.index))
            row = by_dtype[t.dtype]
            row["tensors"] += 1
            row["params"] += t.elements
            row["bytes"] += t.const_bytes
    total = sum(r["params"] for r in by_dtype.values())
    return {
        "total": total,
        "bytes": sum(r["bytes"] for r in by_dtype.values()),
        "by_dtype": {k: by_dtype[k] for k in sorted(by_dtype)},
    }


def complexity(graph: Graph, top: int = TOP) -> dict[str, Any]:
    """Parameters, MACs/FLOPs per op, per op type and in total, and the top ops by FLOPs."""
    ops = []
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "macs": 0, "flops": 0})
    per_subgraph = []
    for sg in graph.subgraphs:
        sg_macs = sg_flops = 0
        for op in sg.ops:
            macs, flops = op_cost(sg, op)
            sg_macs += macs
            sg_flops += flops
            row = by_type[op.name]
            row["count"] += 1
            row["macs"] += macs
            row["flops"] += flops
            out = sg.tensor(op.outputs[0]) if op.outputs else None
            ops.append(
                {
                    "subgraph": sg.index,
                    "index": op.index,
                    "op": op.name,
                    "macs": macs,
                    "flops": flops,
                    "output": out.shape if out is not None else None,
                    "location": sg.loc(op),
                }
            )
        per_subgraph.append({"subgraph": sg.index, "name": sg.name, "macs": sg_macs,
                             "flops": sg_flops})  # fmt: skip
    total_macs = sum(o["macs"] for o in ops)
    total_flops = sum(o["flops"] for o in ops)
    ranked = sorted(ops, key=lambda o: (-o["flops"], o["subgraph"], o["index"]))
    for o in ranked:
        o["share"] = round(o["flops"] / total_flops, 4) if total_flops else 0.0
    types = sorted(by_type.items(), key=lambda kv: (-kv[1]["flops"], kv[0]))
    return {
        "params": _params(graph),
        "macs": total_macs,
        "flops": total_flops,
        "subgraphs": per_subgraph,
        "by_op_type": [{"op": k, **v} for k, v in types],
        "top_ops": [o for o in ranked[:top] if o["flops"]],
        "ops": ops,
        "shapes_from": graph.shapes_from,
        "assumed_input_shapes": graph.assumed,
        "note": (
            "subgraphs of control flow (WHILE/IF bodies) are counted once"
            if len(graph.subgraphs) > 1
            else None
        ),
    }


def human(n: float, unit: str = "") -> str:
    """1.23 M, 4.56 G; bytes (unit "B") in powers of 1024 like the size report."""
    base = 1024.0 if unit == "B" else 1000.0
    for scale, suffix in ((base**3, "G"), (base**2, "M"), (base, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{int(n)} {unit}".rstrip()


def format_complexity(c: dict[str, Any]) -> list[str]:
    p = c["params"]
    lines = ["Complexity:"]
    if c["assumed_input_shapes"]:
        for a in c["assumed_input_shapes"]:
            lines.append(
                f"  input {a['input']} has dynamic dims {a['signature']}: counted at "
                f"{a['assumed']} (per unit; set --input-shapes)"
            )
    if c["shapes_from"] == "file":
        lines.append(
            "  shapes from the file (LiteRT cannot load the model here): dynamic dims count as "
            "1 and --input-shapes resizes only the inputs"
        )
    lines.append(f"  parameters: {human(p['total'])} in {human(p['bytes'], 'B')} of constants")
    for dtype, r in p["by_dtype"].items():
        lines.append(
            f"    {dtype:<8} {r['tensors']:>5} tensors  {human(r['params']):>10} values  "
            f"{human(r['bytes'], 'B'):>10}"
        )
    lines.append(f"  MACs: {human(c['macs'])}   FLOPs: {human(c['flops'])}")
    if c["by_op_type"]:
        lines.append("  by op type:")
        for r in c["by_op_type"][:TOP]:
            if r["flops"]:
                share = 100 * r["flops"] / max(c["flops"], 1)
                lines.append(
                    f"    {r['op']:<26} x{r['count']:<4} MACs {human(r['macs']):>10}  "
                    f"FLOPs {human(r['flops']):>10}  {share:5.1f}%"
                )
    if c["top_ops"]:
        lines.append("  top ops by FLOPs:")
        for o in c["top_ops"]:
            lines.append(
                f"    #{o['index']:<4} {o['op']:<20} {human(o['flops']):>10}  "
                f"{100 * o['share']:5.1f}%  -> {o['output']}  {o['location'][:60]}"
            )
    if c["note"]:
        lines.append(f"  note: {c['note']}")
    return lines
