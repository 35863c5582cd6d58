"""What bias correction costs in file size: biases it adds to bias-less layers share a buffer
when identical, are skipped when the shift stays under a quarter of the output step
(bias_correction.ADDED_BIAS_MIN_SHIFT), and the writer stores each distinct small vector once
(buffers.SharingBuilder: the per-channel zero points of every bias and weight). Models from
Keras, int8 with calibration, run in LiteRT against the float model."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert.interpreter")

from tflconv.tflite import buffers  # noqa: E402
from tflconv.tflite.generated import tflite_schema as fb  # noqa: E402


def _int8(model: Any, samples: list[list[np.ndarray]], bias_correction: bool = True) -> bytes:
    import tflconv

    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    conv.bias_correction = bias_correction
    return conv.convert()


def _run(tflite: bytes, inputs: list[np.ndarray], xnnpack: bool = True) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _ops(tflite: bytes, code: int) -> list[tuple[Any, Any]]:
    """(model, operator) of every op with builtin `code` in the main subgraph."""
    model = fb.Model.GetRootAs(tflite, 0)
    sg = model.Subgraphs(0)
    out = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        c = model.OperatorCodes(op.OpcodeIndex())
        if max(c.BuiltinCode(), c.DeprecatedBuiltinCode()) == code:
            out.append((sg, op))
    return out


def _bias_buffers(tflite: bytes, code: int) -> list[int | None]:
    """The bias buffer of each op with builtin `code` (None: no bias)."""
    out: list[int | None] = []
    for sg, op in _ops(tflite, code):
        bias = op.Inputs(2) if op.InputsLength() > 2 else -1
        out.append(None if bias < 0 else sg.Tensors(bias).Buffer())
    return out


def _twin_branches(units: int) -> Any:
    """One bias-less Dense applied to two inputs: two FULLY_CONNECTED ops with one weight
    matrix; given the same calibration data on both inputs, their added biases are equal."""
    keras.utils.set_random_seed(0)
    a, b = keras.Input((16,), name="a"), keras.Input((16,), name="b")
    dense = keras.layers.Dense(units, use_bias=False)
    return keras.Model([a, b], [dense(a), dense(b)])


@pytest.mark.parametrize("units", [8, 24])
def test_identical_added_biases_share_a_buffer(units: int) -> None:
    model = _twin_branches(units)
    rng = np.random.default_rng(1)
    # Positive inputs: E[x] far from 0, so rounding the weights shifts every output.
    samples = []
    for _ in range(8):
        x = rng.uniform(0.5, 1.5, (1, 16)).astype(np.float32)
        samples.append([x, x])
    tflite = _int8(model, samples)
    biases = _bias_buffers(tflite, fb.BuiltinOperator.FULLY_CONNECTED)
    assert len(biases) == 2 and None not in biases, biases  # correction added both biases
    assert biases[0] == biases[1], biases  # ... and they share one buffer
    x = rng.uniform(0.5, 1.5, (1, 16)).astype(np.float32)
    want = [np.asarray(y) for y in model([x, x])]
    got = _run(tflite, [x, x])
    for g, w in zip(sorted(got, key=lambda t: t.sum()), sorted(want, key=lambda t: t.sum())):
        np.testing.assert_allclose(g, w, atol=0.05 * float(np.abs(w).max()))


@pytest.mark.parametrize(
    "offset,adds_bias", [(0.0, False), (3.0, True)], ids=["zero-mean", "mean-3"]
)
def test_a_bias_is_added_only_when_the_shift_reaches_a_quarter_step(
    offset: float, adds_bias: bool
) -> None:
    """Zero-mean inputs (the samples come in +x / -x pairs): E[x] = 0, no shift, no bias
    added; inputs around 3: a shift of several output steps, a bias."""
    keras.utils.set_random_seed(2)
    i = keras.Input((32,))
    model = keras.Model(i, keras.layers.Dense(16, use_bias=False)(i))
    rng = np.random.default_rng(3)
    samples = []
    for _ in range(4):
        x = rng.standard_normal((1, 32)).astype(np.float32)
        samples += [[offset + x], [offset - x]]
    tflite = _int8(model, samples)
    (bias,) = _bias_buffers(tflite, fb.BuiltinOperator.FULLY_CONNECTED)
    assert (bias is not None) == adds_bias
    plain = _int8(model, samples, bias_correction=False)
    assert _bias_buffers(plain, fb.BuiltinOperator.FULLY_CONNECTED) == [None]
    if not adds_bias:  # nothing corrected: the file is the official recipe's
        assert len(tflite) == len(plain)


def _biasless_cnn() -> Any:
    """Convolutions without biases (as before a batch norm, here without one) on positive
    activations: every conv's rounding shift is uncorrected by any existing bias."""
    keras.utils.set_random_seed(4)
    i = keras.Input((12, 12, 3), batch_size=1)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", use_bias=False)(i)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", use_bias=False)(x)
    x = keras.layers.Conv2D(24, 1, activation="relu", use_bias=False)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(10, use_bias=False)(x))


def test_added_biases_bring_a_biasless_cnn_closer_to_float() -> None:
    model = _biasless_cnn()
    rng = np.random.default_rng(5)
    calib = [[rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)] for _ in range(16)]
    held_out = [rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32) for _ in range(16)]
    corrected, plain = _int8(model, calib), _int8(model, calib, bias_correction=False)

    def rmse(tflite: bytes) -> float:
        err = [_run(tflite, [x])[0] - np.asarray(model(x)) for x in held_out]
        return float(np.sqrt(np.mean(np.square(err))))

    added = [
        b
        for code in (fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.FULLY_CONNECTED)
        for b in _bias_buffers(corrected, code)
    ]
    assert any(b is not None for b in added), added
    assert rmse(corrected) < 0.95 * rmse(plain), (rmse(corrected), rmse(plain))


def _zero_point_vectors(tflite: bytes) -> dict[int, set[int]]:
    """Per channel count: the file positions of the per-channel zero-point vectors."""
    model = fb.Model.GetRootAs(tflite, 0)
    sg = model.Subgraphs(0)
    out: dict[int, set[int]] = {}
    for t in range(sg.TensorsLength()):
        q = sg.Tensors(t).Quantization()
        if q is None or q.ZeroPointLength() < 2:
            continue
        tab = q._tab
        out.setdefault(q.ZeroPointLength(), set()).add(tab.Vector(tab.Offset(10)))
    return out


@pytest.mark.parametrize("xnnpack", [True, False], ids=["xnnpack", "builtin"])
def test_identical_vectors_are_written_once(xnnpack: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-channel zero points (all 0) are stored once per channel count; the file is smaller
    than with every vector written out, and LiteRT computes the same outputs from both."""
    model = _biasless_cnn()
    rng = np.random.default_rng(6)
    calib = [[rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)] for _ in range(8)]
    shared = _int8(model, calib)
    with monkeypatch.context() as m:
        m.setattr(buffers, "SHARED_VECTOR_MAX_BYTES", -1)
        unshared = _int8(model, calib)
    per_count = _zero_point_vectors(shared)
    assert per_count and all(len(v) == 1 for v in per_count.values()), per_count
    assert sum(len(v) for v in _zero_point_vectors(unshared).values()) > len(per_count)
    assert len(shared) < len(unshared)
    x = rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(_run(shared, [x], xnnpack)[0], _run(unshared, [x], xnnpack)[0])
