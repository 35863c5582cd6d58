"""End to end: Keras 3 recurrent layers with a dynamic batch, converted by tflconv and run in
LiteRT at batch 1 and batch 3, compared with TensorFlow.

Keras 3 (TF backend) traces an RNN layer as a `tf.While` over TensorLists (the input sequence
unstacked, the outputs written per step); `lower-tensor-lists` turns the lists into tensors and
the loop into `tfl.while`. The official converter rejects these lists when the batch is dynamic
("requires element_shape to be static"); the LSTM->GRU test logs what it does.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402
from tflconv.passes import DEFAULT_PIPELINE  # noqa: E402

# These tests keep the loop form (tests/test_fused_recurrent.py tests the fused LSTM).
LOOP_PIPELINE = DEFAULT_PIPELINE.replace("fuse-recurrent,", "")

log = logging.getLogger(__name__)

T, F = 5, 3
ATOL, RTOL = 1e-5, 1e-4  # state is carried over the steps; float32 rounding stays below this


def _inputs(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + batch).standard_normal((batch, T, F)).astype(np.float32)


def _model(*layers) -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((T, F)), *layers])


def _check(model: keras.Model, expect_loops: int) -> dict[str, int]:
    """Convert once (compared at batch 1 by convert_and_compare), then rerun at batch 3."""
    tflite = convert_and_compare(model, [_inputs(1)], atol=ATOL, rtol=RTOL, pipeline=LOOP_PIPELINE)
    x3 = _inputs(3)
    (got,) = run_litert(tflite, [x3])
    np.testing.assert_allclose(got, model(x3).numpy(), atol=ATOL, rtol=RTOL)
    hist = op_histogram(tflite)
    assert hist.get("tfl.while", 0) == expect_loops, hist
    assert not any(k.startswith("tfl.custom") for k in hist), hist
    return hist


@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm(return_sequences):
    _check(_model(keras.layers.LSTM(4, return_sequences=return_sequences)), expect_loops=1)


def test_gru():
    _check(_model(keras.layers.GRU(4)), expect_loops=1)


def test_simple_rnn_sequences():
    _check(_model(keras.layers.SimpleRNN(4, return_sequences=True)), expect_loops=1)


def test_bidirectional_lstm():
    _check(
        _model(keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))),
        expect_loops=2,
    )


def test_lstm_unrolled_has_no_loop():
    _check(_model(keras.layers.LSTM(4, unroll=True)), expect_loops=0)


def test_stacked_lstm_gru_where_the_official_converter_fails():
    model = _model(keras.layers.LSTM(4, return_sequences=True), keras.layers.GRU(3))
    _check(model, expect_loops=2)
    try:
        tf.lite.TFLiteConverter.from_keras_model(model).convert()
        log.warning("official converter: LSTM->GRU with dynamic batch converted")
    except Exception as err:  # noqa: BLE001 - we only log what the official converter does
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        log.warning("official converter fails on LSTM->GRU: %s", first[:300])
