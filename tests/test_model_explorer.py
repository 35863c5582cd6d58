"""Model Explorer graphs: every dump of a conversion as graph JSON (layers as namespaces, constants
folded into their users, changed and removed ops), debug-quant's error overlay, and the viewer
serving them (a headless-browser check runs where Playwright and Chromium are installed)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.cli import main  # noqa: E402
from tflconv.core.graph_json import CONSTANT_OPS, module_graphs  # noqa: E402
from tflconv.core.parser import parse_module  # noqa: E402
from tflconv.tools.model_explorer import graphs_for, viewer_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    pytest.importorskip("keras")
    from tests.models import small_cnn

    root = tmp_path_factory.mktemp("me")
    small_cnn(seed=0).save(root / "cnn.keras")
    code = main(["convert", str(root / "cnn.keras"), "-o", str(root / "cnn.tflite"),
                 "--dump-dir", str(root / "dumps")])  # fmt: skip
    assert code == 0
    return root / "dumps"


def _nodes(graph_file: Path) -> list[dict]:
    (graph,) = json.loads(graph_file.read_text())["graphs"]
    return graph["nodes"]


def test_every_dump_has_a_consistent_graph(dumps) -> None:
    texts = sorted(dumps.glob("*.mlir"))
    graphs = sorted(dumps.glob("*.graph.json"))
    assert [g.name.removesuffix(".graph.json") for g in graphs] == [t.stem for t in texts]
    for text, graph in zip(texts, graphs):
        module = parse_module(text.read_text(), str(text))
        ops = [op for op in module.walk() if op.name not in CONSTANT_OPS]
        ops = [op for op in ops if op.name != "func.return"]
        nodes = _nodes(graph)
        ids = {n["id"] for n in nodes}
        # One node per op (constants are folded into their users), plus inputs and outputs.
        assert sorted(n["label"] for n in nodes if n["id"].startswith("op_")) == sorted(
            op.name for op in ops
        )
        for n in nodes:
            for e in n["incomingEdges"]:
                assert e["sourceNodeId"] in ids, (graph.name, n["id"], e)


def test_graph_carries_layers_attributes_and_pass_diff(dumps) -> None:
    (legalized,) = dumps.glob("*_legalize-tf.graph.json")
    nodes = _nodes(legalized)
    conv = next(n for n in nodes if n["label"] == "tfl.conv_2d")
    attrs = {a["key"]: a["value"] for a in conv["attrs"]}
    assert conv["namespace"].startswith("small_cnn")  # the Keras layer scope
    assert attrs["padding"] == '"SAME"' and attrs["stride_h"] == "2"
    assert any(k.startswith("input 1 (") and "const tensor<8x3x3x3xf32>" in v
               for k, v in attrs.items())  # fmt: skip
    assert attrs["changed_by"] == "legalize-tf" and "location" in attrs
    assert conv.get("style", {}).get("borderColor")  # changed in this pass: outlined
    (graph,) = json.loads(legalized.read_text())["graphs"]
    assert "tf.Conv2D" in graph["groupNodeAttributes"][""]["removed_by_this_pass"]
    # Graphs load into Model Explorer's own data classes (field names match its format).
    gb = pytest.importorskip("model_explorer.graph_builder")
    for n in nodes:
        gb.GraphNode(**n)


def test_dot_dumps_fold_constants_and_show_semantics(dumps) -> None:
    (dot,) = dumps.glob("*_legalize-tf.dot")
    text = dot.read_text()
    assert "arith.constant" not in text  # folded into users as `inN:` lines
    conv = next(line for line in text.splitlines() if '"tfl.conv_2d' in line)
    assert "padding=SAME" in conv and "fused_activation_function=" in conv and "in1: <" in conv
    assert "@ small_cnn" in conv
    assert "removed by this pass" in text


def test_debug_quant_overlay_matches_the_graph(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    from tflconv.tools.model_explorer import write_quant_debug_graph
    from tflconv.tools.quant_debug import QuantizationDebugger

    keras.utils.set_random_seed(0)
    x = keras.Input((8,), name="x")
    h = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    model = keras.Model(x, keras.layers.Dense(4, name="head")(h))
    rng = np.random.default_rng(0)
    data = [rng.uniform(-1, 1, (1, 8)).astype(np.float32) for _ in range(16)]
    dbg = QuantizationDebugger(model, data)
    report = dbg.run()
    graph_file, data_file = write_quant_debug_graph(report, dbg.quantize(), tmp_path)
    (graph,) = json.loads(graph_file.read_text())["graphs"]
    names = {
        a["value"]
        for n in graph["nodes"]
        for m in n.get("outputsMetadata", [])
        for a in m["attrs"]
        if a["key"] == "tensor_name"
    }
    overlay = json.loads(data_file.read_text())[graph["id"]]
    assert overlay["results"] and set(overlay["results"]) <= names
    want = {e.tensor: e.rmse_over_scale for e in report.layers if np.isfinite(e.rmse_over_scale)}
    for tensor, value in overlay["results"].items():
        assert value["value"] == pytest.approx(want.get(tensor, value["value"]), rel=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _serve(paths: list[Path]) -> tuple[subprocess.Popen, str]:
    pytest.importorskip("model_explorer")
    port = _free_port()
    code = (
        "from tflconv.tools.model_explorer import view; "
        f"view({[str(p) for p in paths]!r}, port={port}, open_browser=False)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://localhost:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/check_health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("Model Explorer did not start")


def test_viewer_serves_the_dump_graphs(dumps) -> None:
    proc, url = _serve([dumps])
    try:
        page = urllib.request.urlopen(url + "/", timeout=10).read().decode()
        assert "<html" in page.lower()
        served = json.loads(urllib.request.urlopen(url + "/api/v1/load_graphs_json?graph_index=1",
                                                   timeout=10).read())  # fmt: skip
        expected = graphs_for(dumps)[1][1]
        assert served == expected
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _chromium_options() -> dict:
    """Debian's Chromium (CI installs it with apt: Playwright's own download is not reachable),
    with the flags a closed network and a root user need."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return {}
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    return {"executable_path": exe, "args": flags}


def test_viewer_renders_in_a_headless_browser(dumps, tmp_path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    (final,) = sorted(dumps.glob("*_check-tflite-legal.graph.json"))
    proc, url = _serve([final])
    try:
        with sync_api.sync_playwright() as p:
            try:
                browser = p.chromium.launch(**_chromium_options())
            except Exception as e:  # noqa: BLE001 - no Chromium on this machine
                pytest.skip(f"Chromium is not installed: {e}")
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            data = viewer_config([final]).to_url_param_value()
            page.goto(f"{url}/?data={data}", wait_until="networkidle")
            page.wait_for_timeout(5000)
            # TFLCONV_SCREENSHOT=docs/images/model_explorer.png keeps the picture (README).
            shot = Path(os.environ.get("TFLCONV_SCREENSHOT") or tmp_path / "model_explorer.png")
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            nodes = len(_nodes(final))  # ops, inputs and outputs
            text = page.inner_text("body")
            assert f"{nodes} nodes" in text  # the graph selector shows the loaded graph
            assert "Select Models" not in text  # not the welcome page
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_graph_of_ir_text_without_a_dump() -> None:
    text = (REPO / "tests" / "fixtures" / "cse.mlir").read_text().split("// -----")[0]
    module = parse_module(text)
    graphs = module_graphs(module)
    assert len(graphs["graphs"]) == len(module.functions)


@pytest.mark.parametrize("suffix", [".json", ".dot", ".svg", ".png", ".txt"])
def test_write_graph_writes_what_the_suffix_names(tmp_path, suffix) -> None:
    import shutil

    from tflconv.core.graphviz import GraphError, write_graph

    text = (REPO / "tests" / "fixtures" / "cse.mlir").read_text().split("// -----")[0]
    module = parse_module(text)
    path = tmp_path / f"g{suffix}"
    if suffix == ".txt" or (suffix in (".svg", ".png") and shutil.which("dot") is None):
        with pytest.raises(GraphError):
            write_graph(module, path)
        assert not path.exists()
        return
    write_graph(module, path)
    data = path.read_bytes()
    magic = {".json": b'{\n "graphs"', ".dot": b"digraph", ".png": b"\x89PNG"}
    if suffix == ".svg":
        assert b"<svg" in data[:400]
    else:
        assert data.startswith(magic[suffix])
