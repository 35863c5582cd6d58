"""`tflconv analyze --model-explorer DIR`: the analysed .tflite's graph and a cost overlay
(FLOPs per op, and with `--benchmark` measured milliseconds per op) as Model Explorer node
data, so the viewer colours every node by where the work and the time go:

    tflconv analyze model.tflite --benchmark --model-explorer out/
    tflconv view out/analyzed.graph.json --node-data out/flops.node_data.json

Node data are keyed by the op's output tensor name, which the graph JSON carries as
`__tensor_tag` (as debug-quant's error overlay does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tflconv.core.graph_json import module_graphs
from tflconv.tflite.reader import read_flatbuffer


def _thresholds(top: float) -> list[dict[str, Any]]:
    """Green under 1 % of the most expensive op, then yellow, orange, red at >= 50 %."""
    return [
        {"value": 0.01 * top, "bgColor": "#a1d99b"},
        {"value": 0.1 * top, "bgColor": "#fee08b"},
        {"value": 0.5 * top, "bgColor": "#fc8d59"},
        {"value": 1e30, "bgColor": "#d73027"},
    ]


def cost_node_data(evaluation: dict[str, Any], tflite: bytes) -> dict[str, dict[str, Any]]:
    """{overlay file stem: node data} for the main subgraph: "flops" always, "latency_ms"
    when the evaluation has a per-op profile."""
    graph_id = read_flatbuffer(tflite).functions[0].name
    ops = [o for o in evaluation["complexity"]["ops"] if o["subgraph"] == 0]
    flops = {o["location"]: {"value": o["flops"]} for o in ops if o["flops"]}
    top = max((v["value"] for v in flops.values()), default=1)
    out = {
        "flops": {
            graph_id: {"name": "FLOPs per op", "results": flops, "thresholds": _thresholds(top)}
        }
    }
    profile = ((evaluation.get("speed") or {}).get("profile") or {}).get("ops")
    if profile:
        ms = {p["location"]: {"value": p["ms"]} for p in profile if p["ms"] > 0}
        top_ms = max((v["value"] for v in ms.values()), default=1.0)
        out["latency_ms"] = {
            graph_id: {
                "name": "ms per op (builtin kernels, 1 thread)",
                "results": ms,
                "thresholds": _thresholds(top_ms),
            }
        }
    return out


def write_cost_overlay(
    evaluation: dict[str, Any], tflite: bytes, directory: str | Path
) -> list[Path]:
    """Write `analyzed.graph.json` and one `<name>.node_data.json` per overlay."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    graph = directory / "analyzed.graph.json"
    graph.write_text(json.dumps(module_graphs(read_flatbuffer(tflite)), indent=1))
    paths = [graph]
    for name, data in cost_node_data(evaluation, tflite).items():
        path = directory / f"{name}.node_data.json"
        path.write_text(json.dumps(data, indent=1))
        paths.append(path)
    return paths
