"""`tflconv analyze`: op-type classification (builtin / select / custom / unsupported) with
reasons, verdicts per target, dynamic shapes and size for TF models; ops, runtime needs,
quantization, metadata and signatures for .tflite files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import models  # noqa: E402

from tflconv.api.converter import TFLiteConverter  # noqa: E402
from tflconv.cli import main  # noqa: E402
from tflconv.tools.analyze import analyze_model, analyze_tflite, format_analysis  # noqa: E402


def _row(report, op):
    return next(r for r in report["op_types"] if r["op"] == op)


def _verdict(report, target_ops, custom=False):
    return next(
        v
        for v in report["verdicts"]
        if v["target_ops"] == list(target_ops) and v["allow_custom_ops"] == custom
    )


@pytest.fixture(scope="module")
def mixed_saved_model(tmp_path_factory):
    """Builtins, two Flex-able ops (one a refused builtin), one op only a custom op can take."""
    path = tmp_path_factory.mktemp("mixed") / "sm"

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):
            y = tf.nn.relu(x) + 1.0
            return {
                "c": tf.math.cumprod(y, axis=1),
                "e": tf.math.erf(y),
                "l": tf.math.digamma(y),
                "k": tf.boolean_mask(y, y[:, 0] > 1.5),
            }

    module = M()
    tf.saved_model.save(module, str(path), signatures=module.serve)
    return path


def test_classifies_op_types_and_gives_a_verdict_per_target(mixed_saved_model):
    report = analyze_model(str(mixed_saved_model))
    assert report["schema"] == "tflconv.analysis/1" and report["kind"] == "tf"
    relu = _row(report, "tf.Relu")
    assert (relu["count"], relu["builtin"], relu["reason"]) == (1, 1, None)
    cumprod = _row(report, "tf.Cumprod")
    assert (cumprod["select"], cumprod["custom"]) == (1, 0)
    assert cumprod["reason"] == "no TFLite builtin" and cumprod["flex_allowlisted"]
    erf = _row(report, "tf.Erf")
    assert erf["select"] == 1 and erf["reason_kind"] == "builtin_constraint"
    assert "TFLite has no erf" in erf["reason"]
    digamma = _row(report, "tf.Digamma")
    assert (digamma["select"], digamma["custom"]) == (0, 1) and not digamma["flex_allowlisted"]

    assert not _verdict(report, ["TFLITE_BUILTINS"])["converts"]
    select = _verdict(report, ["TFLITE_BUILTINS", "SELECT_TF_OPS"])
    assert not select["converts"] and select["blocking"] == ["Digamma"]
    both = _verdict(report, ["TFLITE_BUILTINS", "SELECT_TF_OPS"], True)
    assert both["converts"] and both["flex_ops"] == ["Cumprod", "Erf"]
    assert both["custom_ops"] == ["Digamma"]
    custom = _verdict(report, ["TFLITE_BUILTINS"], True)
    assert custom["converts"] and custom["custom_ops"] == ["Cumprod", "Digamma", "Erf"]

    text = format_analysis(report)
    assert (
        "TFLITE_BUILTINS, SELECT_TF_OPS + allow_custom_ops  converts (Flex: Cumprod, Erf; " in text
    )
    assert (
        f"Suggested: tflconv convert {mixed_saved_model} "
        "--target-ops=TFLITE_BUILTINS,SELECT_TF_OPS --allow-custom-ops"
    ) in text
    # The suggestion really converts.
    conv = TFLiteConverter.from_saved_model(str(mixed_saved_model))
    conv.target_spec.supported_ops = {"TFLITE_BUILTINS", "SELECT_TF_OPS"}
    conv.allow_custom_ops = True
    assert conv.convert()


def test_dynamic_shapes_and_where_they_start(mixed_saved_model):
    dyn = analyze_model(str(mixed_saved_model))["dynamic_shapes"]
    assert dyn["inputs"] == [{"name": "x", "type": "tensor<?x3xf32>"}]
    assert 0 < dyn["dynamic"] <= dyn["tensors"]

    @tf.function(input_signature=[tf.TensorSpec([4, 3], tf.float32, name="x")])
    def masked(x):
        return tf.boolean_mask(x, x[:, 0] > 0.0) * 2.0

    dyn = analyze_model([masked.get_concrete_function()])["dynamic_shapes"]
    assert dyn["inputs"] == [] and dyn["dynamic"] >= 2
    # Static shapes stop at boolean_mask's Where (its row count depends on the data).
    (first, *_) = dyn["introduced_by"]
    assert first["op"] == "tfl.where" and first["type"] == "tensor<?x1xi64>"


def test_builtin_model_size_split():
    report = analyze_model(models.small_cnn())
    assert all(r["builtin"] == r["count"] for r in report["op_types"])
    assert _verdict(report, ["TFLITE_BUILTINS"])["converts"]
    size = report["size"]
    assert size["measured"] and size["flags"]["target_ops"] == ["TFLITE_BUILTINS"]
    assert size["weights"] > 1000 and size["graph"] > 0
    assert size["bytes"] == size["weights"] + size["graph"]
    assert "Suggested: tflconv convert" in format_analysis(report)


@pytest.fixture(scope="module")
def int8_tflite():
    """An official full-integer (float I/O) model: per-channel int8 weights."""
    model = models.mlp()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: (
        [rng.standard_normal((1, 8)).astype(np.float32)] for _ in range(4)
    )
    return conv.convert()


def test_tflite_quantization_metadata_and_signatures(int8_tflite):
    report = analyze_tflite(int8_tflite)
    assert report["kind"] == "tflite"
    q = report["quantization"]
    assert q["scheme"] == "integer with float inputs/outputs"
    assert q["quantized_tensors"]["per_channel"] >= 3
    assert {"QUANTIZE", "DEQUANTIZE", "FULLY_CONNECTED"} <= {o["op"] for o in report["ops"]}
    assert "CONVERSION_METADATA" in [m["name"] for m in report["metadata"]]
    (sig,) = report["signatures"]
    assert sig["key"] == "serving_default" and sig["inputs"][0]["shape"] == [-1, 8]
    text = format_analysis(report)
    assert "Quantization: integer with float inputs/outputs" in text
    assert "builtin ops only" in text


def test_tflite_flex_model_runtime_needs(mixed_saved_model):
    conv = TFLiteConverter.from_saved_model(str(mixed_saved_model))
    conv.target_spec.supported_ops = {"TFLITE_BUILTINS", "SELECT_TF_OPS"}
    conv.allow_custom_ops = True
    report = analyze_tflite(conv.convert())
    kinds = {o["op"]: o["kind"] for o in report["ops"]}
    assert kinds["FlexCumprod"] == "flex" and kinds["Digamma"] == "custom"
    assert kinds["RELU"] == "builtin"
    assert report["runtime"]["flex_ops"] == ["FlexCumprod", "FlexErf"]
    assert report["runtime"]["custom_ops"] == ["Digamma"]
    assert report["quantization"]["scheme"] == "float"


def test_cli_text_json_and_errors(mixed_saved_model, int8_tflite, tmp_path, capsys):
    assert main(["analyze", str(mixed_saved_model), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["op"] for r in doc["op_types"]} >= {"tf.Cumprod", "tf.Digamma", "tf.Relu"}

    path = tmp_path / "m.tflite"
    path.write_bytes(int8_tflite)
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("TFLite model: ") and "Runtime needs:" in out

    assert main(["analyze", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tflconv: error: no such file or directory")
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"not a graph")
    assert main(["analyze", str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
