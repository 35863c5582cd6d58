"""Models the README's accuracy tables list, converted with tflconv, run in LiteRT and compared
with Keras (not only counted): the transformer block (tests/models.py and the benchmark's size),
multi-head attention in its Keras forms (self / cross attention, masks, causal mask, attention
scores, dynamic batch), LSTM/GRU with a dynamic batch, the int8 transformer against the float
model, and (slow) the keras.applications CNNs of the benchmark table."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from tests import models  # noqa: E402
from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


def _keras(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


def _run_by_name(tflite: bytes, model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run the serving signature feeding each Keras input by its name (the converted model
    orders its inputs by name, as SavedModel signatures do)."""
    from ai_edge_litert.interpreter import Interpreter

    if len(inputs) == 1:
        return run_litert(tflite, inputs)
    interp = Interpreter(model_content=tflite, num_threads=1)
    (key,) = interp.get_signature_list()
    runner = interp.get_signature_runner(key)
    names = [t.name.split(":")[0] for t in model.inputs]
    out = runner(**dict(zip(names, inputs)))
    return [out[k] for k in interp.get_signature_list()[key]["outputs"]]


def _compare(model, inputs, *, atol=1e-5, rtol=1e-4, tflite=None) -> bytes:
    """Convert (unless given), run in LiteRT, compare every output with Keras."""
    tflite = tflite if tflite is not None else convert(model)
    got = _run_by_name(tflite, model, inputs)
    want = _keras(model, inputs)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"output {i}: LiteRT {g.shape}, Keras {w.shape}"
        np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=f"output {i}")
    return tflite


# --- transformer block --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3])
def test_transformer_block_matches_keras(batch):
    model = models.transformer_block(seed=0)
    tflite = convert(model)
    for seed in (1, 2):
        (x,) = models.random_inputs([(None, 6, 8)], seed=seed, batch=batch)
        _compare(model, [x], tflite=tflite)
    ops = op_histogram(tflite)
    assert ops.get("tfl.softmax", 0) == 1 and "tfl.fully_connected" in ops


def test_transformer_block_benchmark_size_matches_keras():
    """The configuration of benchmarks/compare_official.py (seq 32, dim 64, 4 heads)."""
    model = models.transformer_block(seed=3, seq_len=32, dim=64, heads=4)
    (x,) = models.random_inputs([(None, 32, 64)], seed=4, batch=2)
    _compare(model, [x], atol=2e-5)


def test_transformer_block_int8_stays_close_to_float():
    """The int8 table's row: the quantized transformer against the float Keras model. The
    bound is relative to the output's spread (LayerNorm output, std ~1): an int8 model that
    lost an axis or a scale is off by O(1), a correct one by a few percent."""
    import tflconv

    model = models.transformer_block(seed=0, seq_len=8, dim=16, heads=2)
    samples = [models.random_inputs([(1, 8, 16)], seed=10 + k) for k in range(8)]
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    tflite = conv.convert()
    assert "tfl.quantize" in op_histogram(tflite) or "tfl.dequantize" in op_histogram(tflite)
    errors, spread = [], []
    for k in range(4):
        x = models.random_inputs([(1, 8, 16)], seed=100 + k)
        (got,) = run_litert(tflite, x)
        (want,) = _keras(model, x)
        errors.append((got - want).ravel())
        spread.append(want.ravel())
    rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    assert rmse < 0.1 * float(np.std(np.concatenate(spread))), rmse


# --- multi-head attention -----------------------------------------------------------------------


def _mha_self(heads=2, key_dim=4, seq=5, dim=8, **call):
    keras.utils.set_random_seed(heads * 10 + key_dim)
    inputs = keras.Input((seq, dim), name="x")
    mha = layers.MultiHeadAttention(heads, key_dim, name="mha")
    return keras.Model(inputs, mha(inputs, inputs, **call))


def test_mha_self_attention_matches_keras():
    model = _mha_self()
    for batch in (1, 2):
        (x,) = models.random_inputs([(None, 5, 8)], seed=batch, batch=batch)
        _compare(model, [x])


def test_mha_causal_mask_matches_keras():
    model = _mha_self(heads=3, key_dim=2, seq=6, use_causal_mask=True)
    (x,) = models.random_inputs([(None, 6, 8)], seed=5, batch=2)
    _compare(model, [x])


def test_mha_cross_attention_with_value_dim_and_output_shape():
    """Query and key/value of different lengths and widths, value_dim != key_dim, a projected
    output size, and the attention scores as a second output."""
    keras.utils.set_random_seed(7)
    query = keras.Input((4, 6), name="query")
    value = keras.Input((7, 5), name="value")
    key = keras.Input((7, 3), name="key")
    mha = layers.MultiHeadAttention(2, key_dim=3, value_dim=5, output_shape=9, name="mha")
    out, scores = mha(query, value, key, return_attention_scores=True)
    model = keras.Model([query, value, key], [out, scores])
    inputs = models.random_inputs([(None, 4, 6), (None, 7, 5), (None, 7, 3)], seed=8, batch=2)
    _compare(model, inputs)


def test_mha_with_padding_mask_input():
    keras.utils.set_random_seed(9)
    x = keras.Input((5, 8), name="x")
    mask = keras.Input((5, 5), name="mask", dtype="int32")
    out = layers.MultiHeadAttention(2, 4, name="mha")(x, x, attention_mask=mask)
    model = keras.Model([x, mask], out)
    (xs,) = models.random_inputs([(None, 5, 8)], seed=10, batch=2)
    rng = np.random.default_rng(11)
    masks = (rng.uniform(size=(2, 5, 5)) > 0.3).astype(np.int32)
    masks[:, :, 0] = 1  # every query attends to something
    _compare(model, [xs, masks])


def test_mha_inside_keras_encoder_stack():
    """Two stacked blocks with GELU feed-forwards (the BERT-style layer)."""
    keras.utils.set_random_seed(12)
    inputs = keras.Input((6, 16), name="tokens")
    x = inputs
    for i in range(2):
        attn = layers.MultiHeadAttention(4, 4, name=f"mha{i}")(x, x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"ln{i}a")(x + attn)
        ffn = layers.Dense(32, activation="gelu", name=f"ffn{i}a")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"ln{i}b")(
            x + layers.Dense(16, name=f"ffn{i}b")(ffn)
        )
    model = keras.Model(inputs, x)
    (xs,) = models.random_inputs([(None, 6, 16)], seed=13, batch=2)
    _compare(model, [xs], atol=2e-5)


# --- recurrent (the LSTM / GRU rows) --------------------------------------------------------------


def test_lstm_gru_dynamic_batch_matches_keras():
    model = models.lstm_gru(seed=0)
    tflite = convert(model)
    for batch in (1, 3):
        (x,) = models.random_inputs([(None, 5, 3)], seed=batch, batch=batch)
        _compare(model, [x], tflite=tflite)


# --- the CNN rows (slow: full-size keras.applications) --------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["MobileNetV2", "ResNet50", "EfficientNetB0", "DenseNet121"])
def test_applications_match_keras(name):
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(224, 224, 3))
    (x,) = models.random_inputs([(1, 224, 224, 3)], seed=1)
    _compare(model, [x], atol=1e-4, rtol=1e-3)
