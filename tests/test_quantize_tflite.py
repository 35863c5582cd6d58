"""Quantizing an existing float .tflite from any converter (issue 15 item 6): `tflconv opt
MODEL.tflite -p <quantization chain> [--representative-data] -o OUT.tflite` reads it into tfl IR
and runs the same passes a conversion runs."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.cli import main  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402


@pytest.fixture(scope="module")
def official_float(tmp_path_factory):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 3), batch_size=1)
    y = keras.layers.Conv2D(8, 3, activation="relu")(x)
    y = keras.layers.DepthwiseConv2D(3, activation="relu")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(x, keras.layers.Dense(4)(y))
    path = tmp_path_factory.mktemp("tfl") / "official.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path, model


def _run(path, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def test_int8_from_an_official_float_tflite(official_float, tmp_path):
    path, model = official_float
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, (16, 1, 16, 16, 3)).astype(np.float32)
    calib = tmp_path / "calib.npz"
    np.savez(calib, samples[:, 0])
    out = tmp_path / "int8.tflite"
    chain = "calibrate,prepare-quantize,bias-correction,quantize"
    assert (
        main(["opt", str(path), "-p", chain, "--representative-data", str(calib), "-o", str(out)])
        == 0
    )
    fn = read_flatbuffer(out.read_bytes()).functions[0]
    conv = next(op for op in fn.ops if op.name == "tfl.conv_2d")
    assert conv.operands[0].type.dtype == "i8" and conv.operands[1].type.dtype == "i8"
    x = samples[3]
    want = np.asarray(model(x))
    got = _run(out, x)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max() + 1e-3


def test_int4_weights_from_an_official_float_tflite(official_float, tmp_path):
    path, model = official_float
    out = tmp_path / "int4.tflite"
    assert (
        main(
            [
                "opt",
                str(path),
                "-p",
                "quantize-dynamic-range{bits=4 min-elements=16}",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    fn = read_flatbuffer(out.read_bytes()).functions[0]
    fc = next(op for op in fn.ops if op.name == "tfl.conv_2d")
    assert fc.operands[1].type.dtype == "i4"
    x = np.random.default_rng(1).uniform(-1, 1, (1, 16, 16, 3)).astype(np.float32)
    want = np.asarray(model(x))
    assert np.abs(_run(out, x) - want).max() <= 0.25 * np.abs(want).max() + 1e-3
