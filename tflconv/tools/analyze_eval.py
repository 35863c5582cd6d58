"""Will the model fit and run well on the device? The evaluation part of `tflconv analyze`:
complexity, activation memory, delegates and (with `--benchmark`) speed of a converted .tflite,
a summary with the user's thresholds, and the gates that fail.

    from tflconv.tools.analyze_eval import evaluate, format_evaluation
    ev = evaluate(tflite_bytes, input_shapes={"x": [1, 224, 224, 3]}, benchmark=False)
    print("\\n".join(format_evaluation(ev)))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tflconv.tools.analyze_complexity import complexity, format_complexity, human
from tflconv.tools.analyze_delegates import delegates, format_delegates
from tflconv.tools.analyze_graph import GraphError, read_graph
from tflconv.tools.analyze_memory import format_memory, memory
from tflconv.tools.analyze_speed import benchmark as run_benchmark
from tflconv.tools.analyze_speed import format_speed

DELEGATES = ("xnnpack", "gpu")


@dataclass(frozen=True)
class Requirements:
    """Thresholds `--max-size`, `--max-peak-memory`, `--require-delegate`: a failed one is
    reported in the summary and makes the CLI exit 1."""

    max_size: int | None = None
    max_peak_memory: int | None = None
    require_delegate: tuple[str, ...] = ()


NO_REQUIREMENTS = Requirements()


def evaluate(
    data: bytes,
    *,
    input_shapes: dict[str, list[int]] | None = None,
    benchmark: bool = False,
    threads: int | None = None,
    requirements: Requirements = NO_REQUIREMENTS,
) -> dict[str, Any]:
    """Complexity, memory, delegates (and speed) of a .tflite; raises GraphError when the
    file cannot be read or `input_shapes` names no input."""
    graph = read_graph(data, input_shapes)
    comp = complexity(graph)
    mem = memory(graph)
    dels = delegates(graph)
    out: dict[str, Any] = {
        "input_shapes": {
            graph.subgraphs[0].tensors[i].name: graph.subgraphs[0].tensors[i].shape
            for i in graph.subgraphs[0].inputs
        }
        if graph.subgraphs
        else {},
        "shapes_from": graph.shapes_from,
        "complexity": comp,
        "memory": mem,
        "delegates": dels,
        "speed": None,
    }
    if graph.interpreter_error:
        out["interpreter_error"] = graph.interpreter_error
    if benchmark and graph.subgraphs:
        flops = [o["flops"] for o in comp["ops"] if o["subgraph"] == 0]
        out["speed"] = run_benchmark(graph, flops, threads)
    out["summary"] = _summary(out, len(data), requirements)
    return out


def _peak(mem: dict[str, Any]) -> int:
    return max((p["arena_bytes"] for p in mem["subgraphs"]), default=0)


def _summary(ev: dict[str, Any], size: int, req: Requirements) -> dict[str, Any]:
    x = ev["delegates"]["xnnpack"]
    g = ev["delegates"]["gpu"]
    summary: dict[str, Any] = {
        "size_bytes": size,
        "params": ev["complexity"]["params"]["total"],
        "macs": ev["complexity"]["macs"],
        "flops": ev["complexity"]["flops"],
        "peak_activation_bytes": _peak(ev["memory"]),
        "xnnpack_ops": None if "error" in x else f"{x['delegated']}/{x['ops']}",
        "gpu_compatible": bool(g.get("compatible")),
        "gpu_ops": f"{g.get('supported', 0)}/{g.get('ops', 0)}",
        "latency_ms": None,
        "failed": [],
    }
    speed = ev.get("speed")
    if speed and "latency" in speed:
        summary["latency_ms"] = {str(r["threads"]): r["median_ms"] for r in speed["latency"]}
    failed = summary["failed"]
    if req.max_size is not None and size > req.max_size:
        failed.append(f"size {human(size, 'B')} > --max-size {human(req.max_size, 'B')}")
    peak = summary["peak_activation_bytes"]
    if req.max_peak_memory is not None and peak > req.max_peak_memory:
        failed.append(
            f"peak activation memory {human(peak, 'B')} > --max-peak-memory "
            f"{human(req.max_peak_memory, 'B')}"
        )
    for name in req.require_delegate:
        if name == "xnnpack":
            if "error" in x or x["delegated"] < x["ops"]:
                left = "not measured" if "error" in x else f"{x['ops'] - x['delegated']} ops left"
                failed.append(f"--require-delegate xnnpack: {left} on the builtin kernels")
        elif name == "gpu" and not g.get("compatible"):
            failed.append(
                f"--require-delegate gpu: {g.get('ops', 0) - g.get('supported', 0)} ops the GPU "
                "delegate does not take"
                + (" (and control flow subgraphs)" if g.get("control_flow") else "")
            )
    return summary


def parse_size(text: str) -> int:
    """`12MB`, `512KiB`, `1.5G`, `1000` -> bytes (K/M/G are powers of 1000, Ki/Mi/Gi of 1024)."""
    t = text.strip().upper().removesuffix("B")
    scale = 1
    for suffix, factor in (("KI", 1 << 10), ("MI", 1 << 20), ("GI", 1 << 30), ("K", 10**3),
                           ("M", 10**6), ("G", 10**9)):  # fmt: skip
        if t.endswith(suffix):
            t, scale = t[: -len(suffix)], factor
            break
    try:
        value = float(t)
    except ValueError as e:
        raise GraphError(f"not a size: {text!r} (examples: 4MB, 512KiB, 1000000)") from e
    return int(value * scale)


def format_summary(s: dict[str, Any]) -> list[str]:
    lines = [
        "Summary:",
        f"  size {human(s['size_bytes'], 'B')}, {human(s['params'])} parameters, "
        f"{human(s['macs'])} MACs, peak activations {human(s['peak_activation_bytes'], 'B')}",
        f"  XNNPACK {(s['xnnpack_ops'] + ' ops') if s['xnnpack_ops'] else 'not measured'}; GPU "
        f"{'compatible' if s['gpu_compatible'] else 'not compatible'} ({s['gpu_ops']} ops)",
    ]
    if s["latency_ms"]:
        lines.append(
            "  latency "
            + ", ".join(f"{v:.3f} ms at {k} thread(s)" for k, v in s["latency_ms"].items())
        )
    for f in s["failed"]:
        lines.append(f"  FAILED: {f}")
    return lines


def format_evaluation(ev: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if ev.get("interpreter_error"):
        lines.append(f"(LiteRT cannot load the model here: {ev['interpreter_error']})")
    lines += format_complexity(ev["complexity"]) + [""]
    lines += format_memory(ev["memory"], human) + [""]
    lines += format_delegates(ev["delegates"]) + [""]
    if ev.get("speed"):
        lines += format_speed(ev["speed"]) + [""]
    lines += format_summary(ev["summary"])
    return lines
