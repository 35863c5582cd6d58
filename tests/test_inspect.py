"""`tflconv inspect`: reports on official-converter models and on ours with metadata."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest

from tflconv.cli import main
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.metadata import (
    AssociatedFile,
    ImageContent,
    ModelInfo,
    TensorInfo,
    add_metadata,
)
from tflconv.tools.inspect import format_report, inspect_model

tf = pytest.importorskip("tensorflow")

LABELS = b"cat\ndog\nbird\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """An official float conversion (dynamic batch), an official int8 PTQ conversion, and the
    float one with our metadata and a label file."""
    tmp = tmp_path_factory.mktemp("inspect")
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((6, 6, 3), name="image")
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="softmax")(x))
    (tmp / "float.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())

    def data():
        rng = np.random.default_rng(0)
        for _ in range(4):
            yield [rng.random((1, 6, 6, 3)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = data
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (tmp / "int8.tflite").write_bytes(conv.convert())

    (tmp / "labels.txt").write_bytes(LABELS)
    info = ModelInfo(
        name="pets",
        author="tests",
        inputs=[TensorInfo(content=ImageContent("RGB"), normalization=(0, 255))],
        outputs=[TensorInfo(label_files=[AssociatedFile(str(tmp / "labels.txt"), "pet labels")])],
    )
    (tmp / "meta.tflite").write_bytes(add_metadata((tmp / "float.tflite").read_bytes(), info))
    return tmp


def test_official_float_model(models):
    data = (models / "float.tflite").read_bytes()
    report = inspect_model(data)
    assert report["file"]["bytes"] == len(data) and report["file"]["appended_bytes"] == 0
    (sig,) = report["signatures"]
    assert sig["key"] == "serving_default" and sig["inputs"][0]["name"] == "image"
    (image,) = report["subgraphs"][0]["inputs"]
    assert image["dtype"] == "float32"
    assert image["shape"] == [1, 6, 6, 3] and image["shape_signature"] == [-1, 6, 6, 3]
    assert "quantization" not in image
    # The histogram agrees with counting operators through the schema.
    model = fb.ModelT.InitFromPackedBuf(data, 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    expected = Counter(
        (
            names[model.operatorCodes[op.opcodeIndex].builtinCode],
            model.operatorCodes[op.opcodeIndex].version,
        )
        for op in model.subgraphs[0].operators
    )
    assert {(r["op"], r["version"]): r["count"] for r in report["operators"]} == expected
    assert {"op": "CONV_2D", "version": 1, "count": 2} in report["operators"]
    weights = report["weights"]
    referenced = {t.buffer for t in model.subgraphs[0].tensors}
    sizes = [len(model.buffers[b].data) for b in referenced if model.buffers[b].data is not None]
    assert weights["weights_bytes"] == sum(sizes) > 4 * (108 + 144 + 12)
    assert weights["constant_tensors"] >= len(sizes)
    assert weights["largest"][0]["shape"] == [4, 3, 3, 4] and weights["largest"][0]["bytes"] == 576
    entries = {e["name"]: e["value"] for e in report["metadata"]}
    assert entries["min_runtime_version"] == "1.6.0"
    conversion = entries["CONVERSION_METADATA"]
    assert (
        conversion["model_type"] == "KERAS_MODEL"
        and conversion["tensorflow_version"] == tf.__version__
    )
    assert conversion["model_hash"] > 0 and conversion["model_optimization_modes"] == []
    text = format_report(report, "float.tflite")
    assert "[1,6,6,3] sig [-1,6,6,3]" in text
    assert "CONV_2D v1" in text and "min_runtime_version (16 B): 1.6.0" in text
    assert "model_type: KERAS_MODEL" in text and "Associated files (0):" in text
    json.dumps(report)  # JSON-able


def test_official_int8_model(models):
    report = inspect_model((models / "int8.tflite").read_bytes())
    (image,) = report["subgraphs"][0]["inputs"]
    assert image["dtype"] == "int8"
    q = image["quantization"]
    assert len(q["scale"]) == 1 and q["scale"][0] > 0 and -128 <= q["zero_point"][0] <= 127
    per_channel = [
        c for c in report["weights"]["largest"] if c["dtype"] == "int8" and c["shape"][0] == 4
    ]
    assert per_channel  # int8 conv filters
    entries = {e["name"]: e["value"] for e in report["metadata"]}
    assert entries["CONVERSION_METADATA"]["model_optimization_modes"] == ["PTQ_FULL_INTEGER"]
    text = format_report(report)
    assert "int8" in text and "quant scale=" in text


def test_model_with_metadata_and_files(models, tmp_path, capsys):
    path = models / "meta.tflite"
    report = inspect_model(path.read_bytes())
    assert report["file"]["appended_bytes"] > len(LABELS)
    entries = {e["name"]: e["value"] for e in report["metadata"]}
    meta = entries["TFLITE_METADATA"]
    assert meta["name"] == "pets" and meta["min_parser_version"] == "1.0.0"
    tensor = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert tensor["content"]["content_properties"]["color_space"] == "RGB"
    (labels,) = report["associated_files"]
    assert labels["name"] == "labels.txt" and labels["bytes"] == len(LABELS)
    assert labels["type"] == "TENSOR_AXIS_LABELS" and labels["description"] == "pet labels"
    assert labels["used_by"] == ["output 0 (output_0)"]

    assert main(["inspect", str(path), "--extract-files", str(tmp_path / "files")]) == 0
    text = capsys.readouterr().out
    assert "TFLITE_METADATA" in text and "color_space: RGB" in text
    assert "labels.txt (13 B) TENSOR_AXIS_LABELS, pet labels [output 0 (output_0)]" in text
    assert (tmp_path / "files" / "labels.txt").read_bytes() == LABELS

    assert main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["associated_files"][0]["name"] == "labels.txt"


def test_graph_and_ir(models, tmp_path, capsys):
    path = models / "float.tflite"
    assert main(["inspect", str(path), "--graph", str(tmp_path / "g.dot"), "--ir"]) == 0
    out = capsys.readouterr().out
    assert '"tfl.conv_2d"' in out and "func.func @main" in out
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph module {") and "tfl.conv_2d" in dot
    if not shutil.which("dot"):
        pytest.skip("Graphviz `dot` is not installed: --graph g.svg is not checked")
    assert main(["inspect", str(path), "--graph", str(tmp_path / "g.svg")]) == 0
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_errors(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.tflite")]) == 2
    (tmp_path / "x.tflite").write_bytes(b"definitely not a model")
    assert main(["inspect", str(tmp_path / "x.tflite")]) == 2
    assert "not a .tflite model" in capsys.readouterr().err
