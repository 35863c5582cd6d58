"""Speed of a .tflite model on this machine (`tflconv analyze --benchmark`): median latency in
LiteRT at 1 and N threads (with the default XNNPACK delegate, what an application gets), at 1
thread with the builtin kernels alone (what XNNPACK gains), and where the time goes per op.

ai_edge_litert exposes no op profiler to Python, so the per-op profile is measured by prefixes:
the main subgraph cut after op k (its operators 0..k, op k's outputs as the model outputs) runs
in the interpreter with the builtin kernels (no delegate, so ops stay separate); op k's time is
the fastest run of prefix k minus that of prefix k-1. A model with more ops than
`max_cuts` is cut into that many segments and a segment's time is split over its ops by their
FLOPs. Differences below the timer's noise can come out negative; they are reported as 0.
"""

from __future__ import annotations

import os
import time
from typing import Any

import flatbuffers
import numpy as np

from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tools.analyze_graph import Graph
from tflconv.tools.inspect import _model

FILE_IDENTIFIER = b"TFL3"


def _interpreter(data: bytes, graph: Graph, threads: int, delegate: bool) -> Any:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # heavy: only here

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(
        model_content=data, num_threads=threads, experimental_op_resolver_type=resolver
    )
    sg = graph.subgraphs[0]
    for i in sg.inputs:
        interp.resize_tensor_input(i, sg.tensors[i].shape, strict=False)
    interp.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in interp.get_input_details():
        if np.issubdtype(d["dtype"], np.floating):
            x = rng.standard_normal(d["shape"]).astype(d["dtype"])
        else:
            x = np.zeros(d["shape"], d["dtype"])
        interp.set_tensor(d["index"], x)
    return interp


def _median_ms(interp: Any, runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def _min_ms(interp: Any, runs: int) -> float:
    """The fastest of `runs` (after one warm-up): the least noisy estimate of a prefix's cost
    on a shared machine, which differences need."""
    interp.invoke()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def latency(graph: Graph, threads: list[int], runs: int = 20) -> list[dict[str, Any]]:
    out = []
    for n in threads:
        interp = _interpreter(graph.data, graph, n, delegate=True)
        out.append({"threads": n, "median_ms": round(_median_ms(interp, runs), 4), "runs": runs})
    return out


def _prefix(model: fb.ModelT, last: int) -> bytes:
    sg = model.subgraphs[0]
    ops = sg.operators
    sg.operators = ops[: last + 1]
    outputs = sg.outputs
    sg.outputs = np.array([int(i) for i in ops[last].outputs if int(i) >= 0], np.int32)
    signatures = model.signatureDefs
    model.signatureDefs = None
    try:
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())
    finally:
        sg.operators, sg.outputs, model.signatureDefs = ops, outputs, signatures


def op_profile(
    graph: Graph, flops: list[int], runs: int = 10, max_cuts: int = 48
) -> dict[str, Any]:
    """Per-op time (ms) by prefix differences, single thread, builtin kernels."""
    sg = graph.subgraphs[0]
    n = len(sg.ops)
    if not n:
        return {"ops": [], "by_op_type": [], "total_ms": 0.0}
    step = max(1, -(-n // max_cuts))
    cuts = sorted(set(list(range(step - 1, n, step)) + [n - 1]))
    model = _model(graph.data)
    times = []
    for last in cuts:
        interp = _interpreter(_prefix(model, last), graph, 1, delegate=False)
        times.append(_min_ms(interp, runs))
    per_op = [0.0] * n
    start, previous = 0, 0.0
    for last, t in zip(cuts, times, strict=True):
        segment = max(t - previous, 0.0)
        previous = max(previous, t)
        members = range(start, last + 1)
        weight = sum(flops[i] for i in members)
        for i in members:
            share = flops[i] / weight if weight else 1 / len(members)
            per_op[i] = segment * share
        start = last + 1
    by_type: dict[str, float] = {}
    for op, t in zip(sg.ops, per_op, strict=True):
        by_type[op.name] = by_type.get(op.name, 0.0) + t
    total = sum(per_op)
    ranked = sorted(range(n), key=lambda i: -per_op[i])
    return {
        "method": "prefix differences" + (f", {len(cuts)} segments" if step > 1 else ""),
        "total_ms": round(total, 4),
        "by_op_type": [
            {"op": k, "ms": round(v, 4), "share": round(v / total, 4) if total else 0.0}
            for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])
        ],
        "ops": [
            {
                "index": i,
                "op": sg.ops[i].name,
                "ms": round(per_op[i], 4),
                "location": sg.loc(sg.ops[i]),
            }  # fmt: skip
            for i in range(n)
        ],
        "top_ops": [
            {
                "index": i,
                "op": sg.ops[i].name,
                "ms": round(per_op[i], 4),
                "location": sg.loc(sg.ops[i]),
            }  # fmt: skip
            for i in ranked[:10]
        ],
    }


def benchmark(graph: Graph, flops: list[int], threads: int | None = None) -> dict[str, Any]:
    many = threads or os.cpu_count() or 1
    try:
        return {
            "latency": latency(graph, sorted({1, many})),
            "builtin_kernels_ms": round(
                _median_ms(_interpreter(graph.data, graph, 1, delegate=False), 20), 4
            ),
            "profile": op_profile(graph, flops),
        }
    except Exception as e:  # noqa: BLE001 - Flex/custom ops: LiteRT cannot run it here
        return {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"}


def format_speed(b: dict[str, Any]) -> list[str]:
    lines = ["Speed (this machine, LiteRT):"]
    if "error" in b:
        return lines + [f"  not measured: {b['error']}"]
    for r in b["latency"]:
        lines.append(
            f"  {r['threads']} thread(s): median {r['median_ms']:.3f} ms ({r['runs']} runs, "
            "default XNNPACK delegate)"
        )
    lines.append(
        f"  1 thread without delegates (builtin kernels): median {b['builtin_kernels_ms']:.3f} ms"
    )
    p = b["profile"]
    lines.append(f"  per op type (builtin kernels, 1 thread, {p['method']}):")
    for r in p["by_op_type"][:10]:
        lines.append(f"    {r['op']:<26} {r['ms']:9.3f} ms  {100 * r['share']:5.1f}%")
    return lines
