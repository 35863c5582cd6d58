"""`tflconv analyze` memory: the arena estimate (LiteRT's planner replayed on tensor lifetimes)
against what the LiteRT interpreter allocates for models converted with tflconv, and the
largest live tensors at the peak."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import models  # noqa: E402
from e2e_util import convert_and_compare  # noqa: E402

from tflconv.tools.analyze_graph import read_graph  # noqa: E402
from tflconv.tools.analyze_memory import measure_arena, memory, plan  # noqa: E402

TOLERANCE = 0.05
"""Kernel temporaries other than CONV_2D's im2col are not modelled (MEAN, BATCH_MATMUL and
LSTM keep small scratch tensors), so the estimate may differ by a few percent."""


def _convert(model, batch=1):
    rng = np.random.default_rng(0)
    shape = [batch] + [int(d) for d in model.inputs[0].shape[1:]]
    x = rng.standard_normal(shape).astype(np.float32)
    return convert_and_compare(model, [x], atol=1e-4, rtol=1e-3)


def _cnn():
    inp = keras.Input((24, 24, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = keras.layers.Conv2D(8, 1)(x)
    x = keras.layers.Add()([x, y])
    x = keras.layers.DepthwiseConv2D(3, strides=2)(x)
    x = keras.layers.Conv2D(16, 3, strides=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(4)(x))


def _branches():
    inp = keras.Input((16, 16, 4), batch_size=1)
    a = keras.layers.Conv2D(6, 1, activation="relu")(inp)
    b = keras.layers.Conv2D(6, 3, padding="same")(inp)
    c = keras.layers.MaxPooling2D(1)(inp)
    x = keras.layers.Concatenate()([a, b, c])
    x = keras.layers.Reshape((16 * 16, 16))(x)
    x = keras.layers.Dense(8)(x)
    return keras.Model(inp, keras.layers.Softmax()(x))


def _mlp():
    inp = keras.Input((64,), batch_size=4)
    x = keras.layers.Dense(256, activation="relu")(inp)
    x = keras.layers.Dense(128, activation="tanh")(x)
    x = keras.layers.Dense(256)(x)
    return keras.Model(inp, keras.layers.Dense(10)(x))


MODELS = {
    "cnn": _cnn,
    "branches": _branches,
    "mlp": _mlp,
    "transformer": lambda: models.transformer_block(seq_len=16, dim=32, heads=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_arena_estimate_matches_the_interpreter(name):
    data = _convert(MODELS[name]())
    graph = read_graph(data)
    estimate = plan(graph.subgraphs[0])["arena_bytes"]
    sg = graph.subgraphs[0]
    measured = measure_arena(data, {i: sg.tensors[i].shape for i in sg.inputs})["arena_bytes"]
    assert measured > 0
    assert abs(estimate - measured) <= TOLERANCE * measured, (estimate, measured)


def test_arena_follows_the_input_shape():
    inp = keras.Input((32,), batch_size=None)
    x = keras.layers.Dense(128, activation="relu")(inp)
    data = _convert(keras.Model(inp, keras.layers.Dense(64)(x)), batch=2)
    small = memory(read_graph(data, {"#0": [1, 32]}))
    big = memory(read_graph(data, {"#0": [8, 32]}))
    for m in (small, big):
        est = m["subgraphs"][0]["arena_bytes"]
        assert abs(est - m["measured"]["arena_bytes"]) <= TOLERANCE * est
    assert big["subgraphs"][0]["arena_bytes"] > 6 * small["subgraphs"][0]["arena_bytes"]


def test_largest_live_tensors_at_the_peak():
    data = _convert(_mlp())
    p = memory(read_graph(data))["subgraphs"][0]
    largest = p["largest_live"]
    # at the 256 -> 128 layer: its 4x256 input and 4x128 output live together
    assert largest[0]["bytes"] == 4 * 256 * 4
    assert largest[0]["shape"] == [4, 256]
    assert p["peak_live_bytes"] >= sum(t["bytes"] for t in largest)
    assert p["peak_live_bytes"] <= p["arena_bytes"] + 64 * len(largest)
    assert p["peak_at"]["op"] == "FULLY_CONNECTED"


def test_im2col_scratch_is_counted_for_3x3_convolutions():
    inp = keras.Input((20, 20, 3), batch_size=1)
    data = _convert(keras.Model(inp, keras.layers.Conv2D(4, 3, padding="same")(inp)))
    p = plan(read_graph(data).subgraphs[0])
    assert p["scratch_bytes"] == 20 * 20 * 3 * 3 * 3 * 4
    without = plan(read_graph(data).subgraphs[0], with_scratch=False)
    assert without["arena_bytes"] == (20 * 20 * 3 + 20 * 20 * 4) * 4


def test_reshape_shares_its_input_buffer():
    inp = keras.Input((8, 8, 4), batch_size=1)
    x = keras.layers.Conv2D(4, 1)(inp)
    x = keras.layers.Reshape((64, 4))(x)
    x = keras.layers.Dense(4)(x)
    data = _convert(keras.Model(inp, x))
    p = plan(read_graph(data).subgraphs[0])
    assert p["in_place"] >= 1
    sg = read_graph(data).subgraphs[0]
    measured = measure_arena(data, {i: sg.tensors[i].shape for i in sg.inputs})["arena_bytes"]
    assert p["arena_bytes"] == measured


def test_shape_computations_stay_out_of_the_arena():
    """Multiples computed from a dynamic batch (SHAPE, STRIDED_SLICE, PACK -> TILE): LiteRT
    computes SHAPE once into a persistent buffer and sizes TILE's output only at invoke (a
    dynamic tensor on the heap); the estimate must leave both out of the arena."""

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 6, 4], tf.float32)])
        def f(self, x):
            y = tf.tile(tf.nn.relu(x), tf.stack([1, tf.shape(x)[0], 1]))
            return tf.nn.softmax(y * 2.0)

    from e2e_util import run_litert

    from tflconv.api.converter import convert

    fn = M().f.get_concrete_function()
    data = convert(fn)
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(run_litert(data, [x])[0], fn(tf.constant(x)).numpy(), rtol=1e-5)
    ops = {op.name for op in read_graph(data).subgraphs[0].ops}
    assert {"SHAPE", "TILE"} <= ops
    for batch in (1, 5):
        m = memory(read_graph(data, {"#0": [batch, 6, 4]}))
        assert m["subgraphs"][0]["arena_bytes"] == m["measured"]["arena_bytes"]


@pytest.mark.parametrize("calibrated", [True, False], ids=["int8", "dynamic_range"])
def test_quantized_models_match_the_interpreter(calibrated):
    """Full-integer and dynamic-range (hybrid kernels) models from the official converter."""
    inp = keras.Input((20, 20, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3)(x)
    x = keras.layers.Conv2D(8, 1)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, keras.layers.Dense(4)(x)))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if calibrated:
        rng = np.random.default_rng(0)
        conv.representative_dataset = lambda: (
            [rng.standard_normal((1, 20, 20, 3)).astype(np.float32)] for _ in range(4)
        )
    m = memory(read_graph(conv.convert()))
    est, measured = m["subgraphs"][0]["arena_bytes"], m["measured"]["arena_bytes"]
    assert abs(est - measured) <= TOLERANCE * measured, (est, measured)
