"""Quantized fused LSTMs (`calibrate-lstm`, `quantize-lstm`, the LSTM in
`quantize-dynamic-range`): Keras 3 LSTM variants that `fuse-recurrent` turns into
UNIDIRECTIONAL_SEQUENCE_LSTM, converted in int8 (LiteRT's 8x8_16 integer kernel) and dynamic
range (the hybrid kernel). Each model is read back (the LSTM's operand types, its 5
intermediates), run in LiteRT with and without XNNPACK on two consecutive invokes of one
interpreter (the same output: the state is reset in the graph), and compared with Keras; its
error is bounded by that of the same model quantized with the LSTM kept float. Against the
official converter: a tf-keras LSTM at batch 1 in int8 through tf.lite.TFLiteConverter, whose
LSTM must get the same types and scales.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tflconv.core.types import NO_VALUE_TYPE  # noqa: E402
from tflconv.passes.quantize.lstm import (  # noqa: E402
    BIASES,
    CELL_STATE,
    OUTPUT_STATE,
    WEIGHTS,
    cell_scale,
)

T, F, U = 12, 16, 64  # U * F = 1024: the dynamic-range weight threshold, as the official's
LSTM_OP = "tfl.unidirectional_sequence_lstm"
INTERMEDIATES = "_intermediates"
KINDS = ["last", "sequences", "backwards", "bidirectional", "dynamic_batch"]


def _model(kind: str, units: int = U, activation: str = "tanh") -> Any:
    keras.utils.set_random_seed(1)
    batch = None if kind == "dynamic_batch" else 1
    inp = keras.Input((T, F), batch_size=batch)
    lstm = keras.layers.LSTM(
        units,
        activation=activation,
        return_sequences=kind == "sequences",
        go_backwards=kind == "backwards",
    )
    y = keras.layers.Bidirectional(lstm)(inp) if kind == "bidirectional" else lstm(inp)
    y = keras.layers.Dense(4)(y)
    return keras.Model(inp, y)


def _samples(kind: str, n: int = 16) -> list[np.ndarray]:
    batch = 2 if kind == "dynamic_batch" else 1
    rng = np.random.default_rng(0)
    return [rng.standard_normal((batch, T, F)).astype(np.float32) for _ in range(n)]


def _test_input(kind: str) -> np.ndarray:
    samples = _samples(kind)
    if kind == "dynamic_batch":  # another batch than calibration's: the state follows it
        return np.concatenate([samples[0], samples[1][:1]])
    return samples[0]


def _convert(model: Any, mode: str, kind: str = "last", **options: Any) -> bytes:
    import tflconv

    c = tflconv.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tflconv.Optimize.DEFAULT]
    if mode in ("int8", "int16x8"):
        c.representative_dataset = _samples(kind)
    if mode == "int16x8":
        c.target_spec.supported_ops = [
            tflconv.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tflconv.OpsSet.TFLITE_BUILTINS,
        ]
    for k, v in options.items():
        setattr(c, k, v)
    return c.convert()


def _invoke_twice(tflite: bytes, x: np.ndarray, xnnpack: bool) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=kind)
    (inp,) = interp.get_input_details()
    interp.resize_tensor_input(inp["index"], list(x.shape))
    interp.allocate_tensors()
    outs = []
    for _ in range(2):
        q = inp["quantization"]
        interp.set_tensor(
            inp["index"],
            x if inp["dtype"] == np.float32 else np.round(x / q[0] + q[1]).astype(inp["dtype"]),
        )
        interp.invoke()
        out = interp.get_output_details()[0]
        y = interp.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] != np.float32:
            y = (y - out["quantization"][1]) * out["quantization"][0]
        outs.append(y)
    return outs


def _lstms(tflite: bytes) -> list[Any]:
    from tflconv.tflite.reader import read_flatbuffer

    return [op for op in read_flatbuffer(tflite).walk() if op.name == LSTM_OP]


def _check_runs(tflite: bytes, x: np.ndarray, expected: np.ndarray) -> float:
    """Max |error| vs Keras; XNNPACK on and off agree, and each gives one output twice."""
    errors = []
    for xnnpack in (True, False):
        first, second = _invoke_twice(tflite, x, xnnpack)
        np.testing.assert_array_equal(first, second, err_msg=f"xnnpack={xnnpack}: 2nd invoke")
        errors.append(float(np.abs(first - expected).max()))
    assert errors[0] == pytest.approx(errors[1], abs=1e-6)
    return errors[0]


def _assert_integer_lstm(op: Any) -> None:
    ins = op.operands
    assert ins[0].type.dtype == "i8" and op.results[0].type.dtype == "i8"
    for i in WEIGHTS:
        assert ins[i].type.dtype == "i8" and len(ins[i].type.quant.scale) == 1
        assert ins[i].type.quant.zero_point == (0,)
    for i, w in zip(BIASES, WEIGHTS[:4]):  # input scale x input-to-gate weight scale
        assert ins[i].type.dtype == "i32"
        want = ins[0].type.quant.scale[0] * ins[w].type.quant.scale[0]
        assert ins[i].type.quant.scale[0] == pytest.approx(want, rel=1e-6)
    out_q = op.results[0].type.quant
    assert ins[OUTPUT_STATE].type.dtype == "i8" and ins[OUTPUT_STATE].type.quant == out_q
    cell = ins[CELL_STATE].type
    assert cell.dtype == "i16" and cell.quant.zero_point == (0,)
    log2 = np.log2(cell.quant.scale[0] * 32768)
    assert log2 == int(log2) and 0 <= log2 <= 6  # a power of two the kernel's tanh takes
    scratch = op.attributes[INTERMEDIATES]
    assert len(scratch) == 5 and scratch[4][1].quant == out_q


@pytest.mark.parametrize("kind", KINDS)
def test_int8(kind: str) -> None:
    model = _model(kind)
    x = _test_input(kind)
    expected = np.asarray(model(x))
    tflite = _convert(model, "int8", kind)
    lstms = _lstms(tflite)
    assert len(lstms) == (2 if kind == "bidirectional" else 1)
    for op in lstms:
        _assert_integer_lstm(op)
    error = _check_runs(tflite, x, expected)
    float_lstm = _convert(model, "int8", kind, keep_float=[LSTM_OP])
    assert all(op.operands[1].type.dtype == "f32" for op in _lstms(float_lstm))
    float_error = _check_runs(float_lstm, x, expected)
    assert len(tflite) < 0.5 * len(float_lstm)
    scale = float(np.abs(expected).max())
    print(f"{kind}: int8 LSTM error {error:.2e}, float LSTM {float_error:.2e}, |y| {scale:.2f}")
    assert error <= max(3 * float_error, 0.02 * scale)


@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_range(kind: str) -> None:
    model = _model(kind)
    x = _test_input(kind)
    expected = np.asarray(model(x))
    tflite = _convert(model, "dynamic")
    for op in _lstms(tflite):
        assert op.operands[0].type.dtype == "f32" and op.results[0].type.dtype == "f32"
        assert all(op.operands[i].type.dtype == "i8" for i in WEIGHTS)
        assert all(len(op.operands[i].type.quant.scale) == 1 for i in WEIGHTS)
        assert all(op.operands[i].type.dtype == "f32" for i in BIASES)
        assert op.attributes["asymmetric_quantize_inputs"] is True
    error = _check_runs(tflite, x, expected)
    print(f"{kind}: dynamic-range LSTM error {error:.2e}, |y| {np.abs(expected).max():.2f}")
    assert error <= 0.01 * float(np.abs(expected).max())


def test_int8_from_a_one_shot_iterator() -> None:
    """calibrate-lstm reads the representative dataset before calibrate: an iterator is kept
    for calibrate (as a list), not exhausted."""
    model = _model("last", units=8)
    tflite = _convert(model, "int8", representative_dataset=iter(_samples("last")))
    _assert_integer_lstm(_lstms(tflite)[0])


def test_dynamic_range_small_lstm_stays_float() -> None:
    """All or nothing: a 16 x 8 input matrix (< 1024 elements) keeps every weight float."""
    model = _model("last", units=8)
    tflite = _convert(model, "dynamic")
    (op,) = _lstms(tflite)
    assert all(op.operands[i].type.dtype == "f32" for i in WEIGHTS)
    x = _test_input("last")
    assert _check_runs(tflite, x, np.asarray(model(x))) < 1e-4


def test_int8_relu_lstm_stays_float() -> None:
    """The integer kernel always applies tanh: a relu LSTM keeps float weights in int8 models
    (and still matches); in dynamic range its hybrid kernel takes the relu."""
    model = _model("last", activation="relu")
    x = _test_input("last")
    expected = np.asarray(model(x))
    tflite = _convert(model, "int8")
    (op,) = _lstms(tflite)
    assert op.operands[1].type.dtype == "f32"
    assert _check_runs(tflite, x, expected) <= 0.05 * float(np.abs(expected).max())
    hybrid = _convert(model, "dynamic")
    (op,) = _lstms(hybrid)
    assert op.operands[1].type.dtype == "i8"
    assert _check_runs(hybrid, x, expected) <= 0.01 * float(np.abs(expected).max())


def test_int16x8_lstm_stays_float() -> None:
    """LiteRT's UNIDIRECTIONAL_SEQUENCE_LSTM has no 16x8 path: the LSTM stays float."""
    model = _model("last")
    x = _test_input("last")
    expected = np.asarray(model(x))
    tflite = _convert(model, "int16x8")
    (op,) = _lstms(tflite)
    assert op.operands[1].type.dtype == "f32"
    assert _check_runs(tflite, x, expected) <= 0.01 * float(np.abs(expected).max())


def test_integer_only_int8_io() -> None:
    """int8 input and output: no float op left, LSTM included."""
    model = _model("sequences")
    x = _test_input("sequences")
    expected = np.asarray(model(x))
    tflite = _convert(
        model,
        "int8",
        "sequences",
        inference_input_type=tf.int8,
        inference_output_type=tf.int8,
    )
    from tflconv.tflite.reader import read_flatbuffer

    module = read_flatbuffer(tflite)
    for op in module.walk():
        if op.dialect == "tfl" and op.name != "tfl.no_value":
            types = [v.type for v in (*op.operands, *op.results) if v.type != NO_VALUE_TYPE]
            assert all(t.dtype != "f32" for t in types), op.name
    _assert_integer_lstm(_lstms(tflite)[0])
    error = _check_runs(tflite, x, expected)
    assert error <= 0.03 * float(np.abs(expected).max())


def test_cell_scale() -> None:
    assert cell_scale(-0.3, 0.2) == 2.0**-15  # raised to 2^0: the kernel's tanh needs >= 0 bits
    assert cell_scale(-1.5, 0.2) == 2.0**-14
    assert cell_scale(0.0, 64.0) == 2.0**-9
    assert cell_scale(0.0, 65.0) is None


def test_against_official_converter() -> None:
    """A tf-keras LSTM at batch 1 in int8, converted by tf.lite.TFLiteConverter and by tflconv
    from the same model and calibration data: the fused LSTM gets the same operand types and
    the same weight, bias, state and intermediate scales; both run and match tf-keras."""
    tf_keras = pytest.importorskip("tf_keras")
    from tflconv.tflite.reader import read_flatbuffer

    tf_keras.utils.set_random_seed(1)
    inp = tf_keras.Input((T, F), batch_size=1)
    y = tf_keras.layers.Dense(4)(tf_keras.layers.LSTM(32)(inp))
    model = tf_keras.Model(inp, y)
    data = _samples("last")
    official = tf.lite.TFLiteConverter.from_keras_model(model)
    official.optimizations = [tf.lite.Optimize.DEFAULT]
    official.representative_dataset = lambda: ([d] for d in data)
    try:
        theirs = official.convert()
    except Exception as e:  # noqa: BLE001  (any failure of the official converter: skip)
        pytest.skip(f"the official converter fails: {str(e)[:200]}")
    ours = _convert(model, "int8")
    x = data[0]
    expected = np.asarray(model(x))
    (op_ours,) = _lstms(ours)
    (op_theirs,) = [op for op in read_flatbuffer(theirs).walk() if op.name == LSTM_OP]
    _assert_integer_lstm(op_ours)
    for i in (*WEIGHTS, OUTPUT_STATE, CELL_STATE):
        a, b = op_ours.operands[i].type, op_theirs.operands[i].type
        assert a.dtype == b.dtype, i
        if i in WEIGHTS or i == CELL_STATE:  # from the weights / a power of two: identical
            assert a.quant.scale == pytest.approx(b.quant.scale, rel=1e-6), i
    for i in (0, *BIASES):  # from the calibrated input range (TF and LiteRT float: close)
        a, b = op_ours.operands[i].type, op_theirs.operands[i].type
        assert a.dtype == b.dtype
        assert a.quant.scale[0] == pytest.approx(b.quant.scale[0], rel=1e-3), i
    ours_scratch = [t for _, t in op_ours.attributes[INTERMEDIATES]]
    theirs_scratch = [t for _, t in op_theirs.attributes[INTERMEDIATES]]
    assert [t.dtype for t in ours_scratch] == [t.dtype for t in theirs_scratch]
    error = _check_runs(ours, x, expected)
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=theirs, num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    theirs_error = float(
        np.abs(interp.get_tensor(interp.get_output_details()[0]["index"]) - expected).max()
    )
    print(f"int8 LSTM error: tflconv {error:.2e}, official {theirs_error:.2e}")
    assert error <= max(2 * theirs_error, 0.01 * float(np.abs(expected).max()))


def test_int8_with_hybrid_lstm() -> None:
    """`quantize-lstm{kernel=hybrid}`: an int8 model whose LSTM runs LiteRT's hybrid kernel
    (int8 weights, float activations between the neighbours' dequantize / quantize)."""
    model = _model("sequences")
    x = _test_input("sequences")
    expected = np.asarray(model(x))
    tflite = _convert(
        model,
        "int8",
        "sequences",
        pipeline="default,calibrate,prepare-quantize,quantize-lstm{kernel=hybrid},quantize",
    )
    (op,) = _lstms(tflite)
    assert op.operands[0].type.dtype == "f32" and op.results[0].type.dtype == "f32"
    assert all(op.operands[i].type.dtype == "i8" for i in WEIGHTS)
    assert op.attributes["asymmetric_quantize_inputs"] is True
    from tflconv.tflite.reader import read_flatbuffer

    (fc,) = [o for o in read_flatbuffer(tflite).walk() if o.name == "tfl.fully_connected"]
    assert fc.operands[0].type.dtype == "i8"  # the rest of the model is integer
    assert _check_runs(tflite, x, expected) <= 0.02 * float(np.abs(expected).max())


def test_dynamic_range_against_official_converter() -> None:
    """tf-keras LSTM(64) in dynamic range: the official converter and tflconv give the LSTM
    the same int8 per-tensor weights (same scales) and asymmetric_quantize_inputs."""
    tf_keras = pytest.importorskip("tf_keras")
    from tflconv.tflite.reader import read_flatbuffer

    tf_keras.utils.set_random_seed(1)
    inp = tf_keras.Input((T, F), batch_size=1)
    model = tf_keras.Model(inp, tf_keras.layers.Dense(4)(tf_keras.layers.LSTM(U)(inp)))
    official = tf.lite.TFLiteConverter.from_keras_model(model)
    official.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        theirs = official.convert()
    except Exception as e:  # noqa: BLE001  (any failure of the official converter: skip)
        pytest.skip(f"the official converter fails: {str(e)[:200]}")
    ours = _convert(model, "dynamic")
    (op_ours,) = _lstms(ours)
    (op_theirs,) = [op for op in read_flatbuffer(theirs).walk() if op.name == LSTM_OP]
    for i in WEIGHTS:
        a, b = op_ours.operands[i].type, op_theirs.operands[i].type
        assert a.dtype == b.dtype == "i8"
        assert a.quant.scale == pytest.approx(b.quant.scale, rel=1e-6), i
    for i in BIASES:
        assert op_ours.operands[i].type.dtype == op_theirs.operands[i].type.dtype == "f32"
    flag = "asymmetric_quantize_inputs"
    assert op_ours.attributes[flag] is op_theirs.attributes[flag] is True
    x = _samples("last")[0]
    assert _check_runs(ours, x, np.asarray(model(x))) <= 0.01 * float(np.abs(model(x)).max())
