"""Model Explorer (`pip install ai-edge-model-explorer`, extra `tflconv[explorer]`): graphs of
dumps, .tflite files and IR text, debug-quant's error overlay, and starting the viewer.

- `graphs_for(path)`: the graphs of a `.tflite` file, an IR text file (`.mlir`) or a dump
  directory (its `*.graph.json` files, else its `.mlir` dumps), as (name, graph JSON dict) pairs;
- `quant_error_node_data(report, tflite)`: `debug-quant`'s per-layer RMSE / scale as Model
  Explorer node data (a heat map: green at rounding level, red above the threshold) on the
  quantized model's graph;
- `view(path, ...)`: start the viewer on them (the package's own server, in a browser tab).

The graph JSON itself is `tflconv.core.graph_json` (no dependency): dumps write it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tflconv.core.graph_json import module_graphs
from tflconv.core.ir import Module
from tflconv.core.parser import parse_module
from tflconv.tflite.reader import read_flatbuffer

# Error colours (RMSE / scale): rounding alone is ~0.29; debug-quant's default threshold is 0.7.
HEATMAP = [
    {"value": 0.35, "bgColor": "#a1d99b"},
    {"value": 0.7, "bgColor": "#fee08b"},
    {"value": 1.5, "bgColor": "#fc8d59"},
    {"value": 1e30, "bgColor": "#d73027"},
]


def module_of(path: Path) -> Module:
    """The IR of a `.tflite` file or an IR text file."""
    data = path.read_bytes()
    if data[4:8] == b"TFL3":
        return read_flatbuffer(data)
    return parse_module(data.decode("utf-8"), str(path))


def graphs_for(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(name, `{"graphs": [...]}`) for a model file, an IR text file or a dump directory."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.graph.json"))
        if files:
            return [(f.name.removesuffix(".graph.json"), json.loads(f.read_text())) for f in files]
        return [(f.stem, module_graphs(module_of(f))) for f in sorted(path.glob("*.mlir"))]
    if path.name.endswith(".graph.json"):
        return [(path.name.removesuffix(".graph.json"), json.loads(path.read_text()))]
    return [(path.name, module_graphs(module_of(path)))]


def quant_error_node_data(report: Any, tflite: bytes) -> dict[str, Any]:
    """Model Explorer node data (`{graph_id: {"results": ..., "thresholds": ...}}`) of a
    `DebugReport`: each quantized tensor's RMSE / scale on the op that produces it (matched by
    tensor name, as the graph's outputs carry `tensor_name`)."""
    module = read_flatbuffer(tflite)
    results = {}
    for e in [*report.layers, *report.outputs]:
        value = e.rmse_over_scale
        if isinstance(value, float) and math.isfinite(value):
            results[e.tensor] = {"value": round(value, 6)}
    return {
        fn.name: {
            "name": "quantization error (RMSE / scale)",
            "results": results,
            "thresholds": HEATMAP,
        }
        for fn in module.functions
    }


def write_quant_debug_graph(report: Any, tflite: bytes, directory: str | Path) -> list[Path]:
    """`debug-quant --model-explorer DIR`: the quantized model's graph and the error overlay."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    graph = directory / "quantized.graph.json"
    graph.write_text(json.dumps(module_graphs(read_flatbuffer(tflite)), indent=1))
    data = directory / "quantization_error.node_data.json"
    data.write_text(json.dumps(quant_error_node_data(report, tflite), indent=1))
    return [graph, data]


def view(
    paths: list[str | Path],
    *,
    node_data: list[str | Path] = (),  # type: ignore[assignment]
    host: str = "localhost",
    port: int = 8080,
    open_browser: bool = True,
) -> None:
    """Start Model Explorer on the graphs of `paths` (see `graphs_for`), with node data files
    (`*.node_data.json`) as overlays. Blocks until the server stops (Ctrl-C); the page that
    shows the graphs is `http://HOST:PORT/?data=` + `viewer_config(...).to_url_param_value()`."""
    model_explorer = _model_explorer()
    model_explorer.visualize_from_config(
        viewer_config(paths, node_data), host=host, port=port, no_open_in_browser=not open_browser
    )


def viewer_config(paths: list[str | Path], node_data: list[str | Path] = ()) -> Any:  # type: ignore[assignment]
    """The Model Explorer config holding the graphs of `paths` and the node data overlays."""
    config = _model_explorer().config()
    for path in paths:
        for name, graphs in graphs_for(path):
            index = len(config.graphs_list)
            config.graphs_list.append(json.dumps(graphs))
            config.model_sources.append({"url": f"graphs://{name}/{index}"})
    for data in node_data:
        config.add_node_data_from_path(str(Path(data).resolve()))
    return config


def _model_explorer() -> Any:
    try:
        import model_explorer  # optional extra: heavy (Flask), only to serve the viewer
    except ImportError as e:
        raise RuntimeError(
            "the viewer needs Model Explorer: pip install ai-edge-model-explorer "
            "(or tflconv[explorer])"
        ) from e
    return model_explorer
