"""keras-hub backbones (small configs, seeded random weights, nothing downloaded) through the
three routes -- `from_keras_model` (dict inputs), `from_concrete_functions`, and
`model.export()` -> `from_saved_model` -- run in LiteRT and compared with Keras.

Batch and sequence stay dynamic: each converted model is run at two different (batch, seq)
sizes. Tolerance: max |LiteRT - Keras| <= 1e-4 * max |Keras| per output.

The default run covers the most common families on one route each (plus BERT on all three);
`--slow` runs every backbone of tests/transformer_zoo.py through every route, and compares op
counts with the official converter.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("keras_hub")
pytest.importorskip("ai_edge_litert")

import transformer_zoo as zoo  # noqa: E402
from e2e_util import op_histogram  # noqa: E402

from tflconv.api.converter import TFLiteConverter  # noqa: E402

REL = 1e-4
SIZES = [(2, 8), (1, 5)]
"""(batch, sequence) pairs each converted model runs at."""


def _convert(model, route: str, tmp_path) -> bytes:
    if route == "keras":
        conv = TFLiteConverter.from_keras_model(model)
    elif route == "concrete":
        conv = TFLiteConverter.from_concrete_functions([zoo.concrete_function(model)])
    else:
        path = zoo.export_saved_model(model, str(tmp_path / "saved_model"))
        conv = TFLiteConverter.from_saved_model(path)
    return conv.convert()


def _check(name: str, route: str, tmp_path) -> dict[str, int]:
    model = zoo.build(name)
    tflite = _convert(model, route, tmp_path)
    ops = op_histogram(tflite)
    assert not [k for k in ops if not k.startswith("tfl.")], ops
    for seed, (batch, seq) in enumerate(SIZES):
        feed = zoo.inputs_for(model, seed=seed, batch=batch, seq=seq)
        expected = zoo.keras_outputs(model, feed)
        got = zoo.run_signature(tflite, feed)
        err = zoo.max_rel_error(got, expected)
        assert err <= REL, f"{name} via {route} at batch {batch}, seq {seq}: rel error {err:.2e}"
    return ops


@pytest.mark.parametrize("route", ["keras", "concrete", "saved_model"])
def test_bert_all_routes(route, tmp_path):
    ops = _check("bert", route, tmp_path)
    assert ops.get("tfl.gelu") == 2  # keras-hub BERT's exact GELU, one per layer
    assert "tfl.batch_matmul" in ops and ops.get("tfl.fully_connected", 0) >= 12


@pytest.mark.parametrize(
    "name,route",
    [
        ("gpt2", "keras"),
        ("llama", "concrete"),
        ("vit", "saved_model"),
    ],
)
def test_common_backbones(name, route, tmp_path):
    ops = _check(name, route, tmp_path)
    if name == "gpt2":
        assert ops.get("tfl.gelu") == 2  # the tanh form, recognised
        assert "tfl.tanh" not in ops and "tfl.pow" not in ops


def test_t5_static_shapes_fold_relative_position_buckets():
    """With static sequence lengths, T5's relative position buckets (range, abs, log, min,
    where over positions) are constants: nothing of them is left in the graph."""
    model = zoo.build("t5")
    specs = {t.name: tf.TensorSpec([2, 8], t.dtype, name=t.name) for t in model.inputs}
    fn = tf.function(lambda inputs: model(inputs, training=False), input_signature=[specs])
    tflite = TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    ops = op_histogram(tflite)
    assert not {"tfl.log", "tfl.abs", "tfl.range", "tfl.shape"} & set(ops), ops
    feed = zoo.inputs_for(model)
    err = zoo.max_rel_error(zoo.run_signature(tflite, feed), zoo.keras_outputs(model, feed))
    assert err <= REL


@pytest.mark.slow
@pytest.mark.parametrize("route", ["keras", "concrete", "saved_model"])
@pytest.mark.parametrize("name", list(zoo.BACKBONES))
def test_backbone_matrix(name, route, tmp_path):
    _check(name, route, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(zoo.BACKBONES))
def test_op_count_not_above_official(name, tmp_path):
    """From the same SavedModel: our op count <= the official converter's (when it converts)."""
    model = zoo.build(name)
    path = zoo.export_saved_model(model, str(tmp_path / "saved_model"))
    ours = TFLiteConverter.from_saved_model(path).convert()
    try:
        official = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    except Exception as err:  # noqa: BLE001  (the official converter fails on several)
        pytest.skip(f"the official converter fails: {str(err).splitlines()[0][:200]}")

    def count(tflite: bytes) -> int:
        return sum(v for k, v in op_histogram(tflite).items() if k != "tfl.no_value")

    assert count(ours) <= count(official)
