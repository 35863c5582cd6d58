"""Small things users hit (issue 13): piping `inspect --ir` into `head`, tf.lite's
RepresentativeDataset wrapper, tf.lite's private `_experimental_*` knobs, `print_ir_before`, and
tflite_convert flags (`--experimental_new_quantizer`, `--enable_v1_converter`, `INT8`)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tflconv  # noqa: E402
from tflconv.cli import main  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    y = keras.layers.Flatten()(y)
    return keras.Model(x, keras.layers.Dense(3)(y))


def _samples():
    rng = np.random.default_rng(0)
    for _ in range(4):
        yield [rng.uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)]


def _weights(tflite: bytes, op: str):
    fn = read_flatbuffer(tflite).functions[0]
    return next(o.operands[1].type for o in fn.ops if o.name == op)


def test_inspect_ir_into_head_is_quiet(model, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(tflconv.TFLiteConverter.from_keras_model(model).convert())
    cmd = f"{sys.executable} -m tflconv inspect {path} --ir | head -1"
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=REPO)
    assert done.stdout.count("\n") == 1
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr


def test_tf_lite_representative_dataset_object_is_accepted(model):
    tf = pytest.importorskip("tensorflow")
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = tf.lite.RepresentativeDataset(_samples)
    assert _weights(conv.convert(), "tfl.conv_2d").dtype == "i8"


def test_private_knobs_map_or_say_what_to_use(model):
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = _samples
    conv._experimental_disable_per_channel = True
    conv._experimental_default_to_single_batch_in_tensor_list_ops = True  # nothing to change
    w = _weights(conv.convert(), "tfl.conv_2d")
    assert w.dtype == "i8" and len(w.quant.scale) == 1  # per tensor
    with pytest.raises(tflconv.ConverterError, match="lower-tensor-lists"):
        conv._experimental_lower_tensor_list_ops = False
    conv._experimental_lower_tensor_list_ops = True  # the default: fine
    with pytest.raises(AttributeError, match="no option '_experimental_bogus'"):
        conv._experimental_bogus = 1


def test_print_ir_before_is_wired(model):
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.print_ir_before = "legalize-tf"  # tf.lite spells it as a string
    stream = io.StringIO()
    conv.debug_stream = stream
    conv.convert()
    text = stream.getvalue()
    assert "IR before legalize-tf" in text and "tf.Conv2D" in text


def test_tflite_convert_flags(model, tmp_path, capsys):
    path = tmp_path / "m.keras"
    model.save(path)
    out = tmp_path / "out.tflite"
    base = ["convert", "--keras_model_file", str(path), "--output_file", str(out)]
    assert main([*base, "--experimental_new_quantizer"]) == 0 and out.exists()
    out.unlink()
    assert main([*base, "--enable_v1_converter"]) == 2
    assert "--graph_def_file" in capsys.readouterr().err and not out.exists()
    data = tmp_path / "calib.npz"
    np.savez(data, np.concatenate([s[0] for s in _samples()]))
    quantized = [*base, "--quantize", "int8", "--representative-data", str(data)]
    assert (
        main([*quantized, "--inference_input_type", "INT8", "--inference_output_type", "INT8"]) == 0
    )
    fn = read_flatbuffer(out.read_bytes()).functions[0]
    assert fn.args[0].type.dtype == "i8"


def test_debug_quant_writes_a_recipe_convert_reads(model, tmp_path, capsys):
    """debug-quant's suggestions as a recipe file: the layers it names stay float when
    `convert --recipe` uses it (threshold 0: every layer is suggested)."""
    import json

    path = tmp_path / "m.keras"
    model.save(path)
    data = tmp_path / "calib.npz"
    np.savez(data, np.concatenate([s[0] for s in _samples()]))
    recipe = tmp_path / "recipe.json"
    argv = ["debug-quant", str(path), "--representative-data", str(data), "--threshold", "0"]
    assert main([*argv, "--write-recipe", str(recipe)]) == 0
    rules = json.loads(recipe.read_text())["rules"]
    assert rules and all(r["weights"] == "float32" for r in rules)
    out = tmp_path / "out.tflite"
    convert = ["convert", str(path), "-o", str(out), "--quantize", "int8"]
    assert main([*convert, "--representative-data", str(data), "--recipe", str(recipe)]) == 0
    fn = read_flatbuffer(out.read_bytes()).functions[0]
    conv = next(op for op in fn.ops if op.name == "tfl.conv_2d")
    assert conv.operands[1].type.dtype == "f32"  # kept float by the recipe
