"""The quantization debugger: per-layer errors of the int8 model against the float model,
suggestions fed back as keep-float, reports (table, CSV, JSON, SVG) and the CLI."""

from __future__ import annotations

import csv
import json
import math
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv import cli  # noqa: E402
from tflconv.tools.quant_debug import ROUNDING_ONLY, QuantizationDebugger, compare_models  # noqa: E402

SHAPE = (1, 6, 6, 3)


def _model():
    import keras

    keras.utils.set_random_seed(1)
    i = keras.Input(SHAPE[1:], batch_size=1, name="pixels")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(i)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(6, activation="tanh", name="hidden")(x)
    return keras.Model(i, keras.layers.Dense(3, name="logits")(x))


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    return [[rng.uniform(-1, 1, SHAPE).astype(np.float32)] for _ in range(5)]


@pytest.fixture(scope="module")
def debugger(model, samples):
    return QuantizationDebugger(model, iter(samples))  # a one-shot iterator is kept


@pytest.fixture(scope="module")
def report(debugger):
    return debugger.run()


def test_every_quantized_layer_is_compared(report):
    ops = sorted(e.op for e in report.layers)
    assert ops == ["CONV_2D", "FULLY_CONNECTED", "FULLY_CONNECTED", "MEAN", "TANH"]
    assert report.samples == 5
    for e in report.layers:
        assert e.scale and e.elements > 0 and 0 <= e.rmse <= e.max_abs_error
        # rounding alone is ~0.289 steps; accumulated error stays within a few steps here
        assert 0.05 < e.rmse_over_scale < 5
    ratios = [e.rmse_over_scale for e in report.layers]
    assert ratios == sorted(ratios, reverse=True)  # worst first
    assert report.outputs[0].rmse > 0


def test_metrics_match_a_direct_computation(debugger, report, samples):
    """Recompute the last layer's RMSE from both models' outputs."""
    from ai_edge_litert.interpreter import Interpreter

    logits = next(e for e in report.layers if e.tensor == report.outputs[0].tensor)
    diffs = []
    float_it = Interpreter(model_content=debugger.float_tflite)
    quant_it = Interpreter(model_content=debugger.quantize())
    for it in (float_it, quant_it):
        it.allocate_tensors()
    for (x,) in samples:
        outs = []
        for it in (float_it, quant_it):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
        diffs.append((outs[1] - outs[0]).ravel())
    rmse = math.sqrt(float(np.mean(np.concatenate(diffs) ** 2)))
    assert logits.rmse == pytest.approx(rmse, rel=1e-4)
    assert report.outputs[0].rmse == pytest.approx(rmse, rel=1e-4)


def test_suggestions_fed_back_keep_layers_float(debugger, report):
    report.threshold = ROUNDING_ONLY  # suggest everything beyond pure rounding error
    suggested = report.suggestions()
    assert suggested and suggested[0] == report.layers[0].tensor
    selective = debugger.run(keep_float=suggested)
    kept = {e.tensor: e for e in selective.layers}
    for name in suggested:
        assert kept[name].scale is None  # computed in float now
    assert selective.keep_float == tuple(suggested)
    # Mixed precision is not always better on 5 samples; keeping everything float is exact.
    assert selective.outputs[0].rmse <= 1.1 * report.outputs[0].rmse
    everything = debugger.run(keep_float=[e.tensor for e in report.layers])
    assert everything.outputs[0].rmse < 1e-6


def test_reports_are_written(report, tmp_path):
    report.write_csv(tmp_path / "r.csv")
    report.write_json(tmp_path / "r.json")
    report.write_svg(tmp_path / "r.svg")
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["tensor"] for r in rows] == [e.tensor for e in report.layers]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["samples"] == 5 and len(data["layers"]) == len(report.layers)
    svg = ET.parse(tmp_path / "r.svg").getroot()
    assert svg.tag.endswith("svg")
    bars = [el for el in svg.iter() if el.tag.endswith("rect") and el.find("{*}title") is not None]
    assert len(bars) == len(report.layers)
    text = report.table(top=2)
    assert "rmse/scale" in text and "more" in text


def test_compare_models_accepts_a_path(debugger, samples, tmp_path):
    np.savez(tmp_path / "d.npz", pixels=np.stack([s[0] for s in samples]))
    r = compare_models(debugger.float_tflite, debugger.quantize(), str(tmp_path / "d.npz"))
    assert r.samples == 5 and len(r.layers) == 5


def test_cli(model, samples, tmp_path, capsys):
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "calib.npz", pixels=np.stack([s[0] for s in samples]))
    argv = ["debug-quant", str(tmp_path / "m.keras"), "--representative-data"]
    argv += [str(tmp_path / "calib.npz"), "--threshold", "0.2", "--apply"]
    argv += ["--svg", str(tmp_path / "e.svg"), "-o", str(tmp_path / "sel.tflite")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "rmse/scale" in out and "suggested: --keep-float" in out and "->" in out
    assert (tmp_path / "e.svg").exists() and (tmp_path / "sel.tflite").stat().st_size > 0
    assert (
        cli.main(["debug-quant", str(tmp_path / "m.keras"), "--representative-data", "no.npz"]) == 2
    )
    assert "no such file" in capsys.readouterr().err
