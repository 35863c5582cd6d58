"""`tflconv analyze` complexity: parameters per dtype and MACs per op, against hand counts for
small models converted with tflconv (and checked against Keras in LiteRT first), and against
the published totals of MobileNetV2 and ResNet50 (slow)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from e2e_util import convert_and_compare  # noqa: E402

from tflconv.tools.analyze_complexity import complexity  # noqa: E402
from tflconv.tools.analyze_graph import GraphError, read_graph  # noqa: E402


def _model(input_shape, *layers, batch_size=1):
    inp = keras.Input(input_shape, batch_size=batch_size)
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def _convert(model, batch=1):
    rng = np.random.default_rng(0)
    shape = [batch] + [int(d) for d in model.inputs[0].shape[1:]]
    x = rng.standard_normal(shape).astype(np.float32)
    return convert_and_compare(model, [x], atol=1e-4, rtol=1e-3)


def _macs(data, op=None, input_shapes=None):
    c = complexity(read_graph(data, input_shapes))
    if op is None:
        return c["macs"]
    return sum(o["macs"] for o in c["ops"] if o["op"] == op)


@pytest.mark.parametrize(
    "hw,cin,cout,k,stride,padding",
    [
        (16, 3, 8, 3, 1, "same"),
        (15, 4, 6, 3, 2, "valid"),
        (12, 8, 16, 1, 1, "valid"),
        (10, 2, 4, 5, 2, "same"),
    ],
)
def test_conv2d_macs_match_hand_count(hw, cin, cout, k, stride, padding):
    model = _model((hw, hw, cin), keras.layers.Conv2D(cout, k, strides=stride, padding=padding))
    data = _convert(model)
    out = -(-hw // stride) if padding == "same" else (hw - k) // stride + 1
    assert _macs(data, "CONV_2D") == out * out * cout * k * k * cin


@pytest.mark.parametrize("multiplier,k,stride", [(1, 3, 1), (2, 3, 2), (1, 5, 1)])
def test_depthwise_macs_match_hand_count(multiplier, k, stride):
    hw, c = 14, 6
    layer = keras.layers.DepthwiseConv2D(k, strides=stride, depth_multiplier=multiplier)
    data = _convert(_model((hw, hw, c), layer))
    out = (hw - k) // stride + 1
    assert _macs(data, "DEPTHWISE_CONV_2D") == out * out * c * multiplier * k * k


@pytest.mark.parametrize("k,stride,cin,cout", [(3, 2, 4, 6), (2, 2, 8, 3), (3, 1, 2, 5)])
def test_transpose_conv_macs_match_hand_count(k, stride, cin, cout):
    hw = 7
    layer = keras.layers.Conv2DTranspose(cout, k, strides=stride, padding="same")
    data = _convert(_model((hw, hw, cin), layer))
    assert _macs(data, "TRANSPOSE_CONV") == hw * hw * cin * k * k * cout


@pytest.mark.parametrize("batch,features,units", [(1, 20, 10), (3, 64, 7)])
def test_dense_macs_and_parameters(batch, features, units):
    data = _convert(
        _model((features,), keras.layers.Dense(units, bias_initializer="ones"), batch_size=batch),
        batch,
    )
    c = complexity(read_graph(data))
    assert c["macs"] == batch * features * units
    params = c["params"]["by_dtype"]["float32"]
    assert params["params"] == features * units + units
    assert params["bytes"] == 4 * (features * units + units)
    # bias add: one FLOP per output on top of 2 per MAC
    assert c["flops"] == 2 * batch * features * units + batch * units


@pytest.mark.parametrize("b,m,k,n", [(1, 4, 8, 5), (3, 6, 2, 7)])
def test_batch_matmul_macs_match_hand_count(b, m, k, n):
    class M(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([b, m, k], tf.float32),
                tf.TensorSpec([b, k, n], tf.float32),
            ]
        )
        def f(self, x, y):
            return tf.matmul(x, y)

    from tflconv.api.converter import convert

    data = convert(M().f.get_concrete_function())
    assert _macs(data, "BATCH_MATMUL") == b * m * k * n


def test_pooling_and_elementwise_flops():
    model = _model(
        (8, 8, 4),
        keras.layers.ReLU(),
        keras.layers.AveragePooling2D(3, strides=1),
        keras.layers.Softmax(),
    )
    c = complexity(read_graph(_convert(model)))
    flops = {o["op"]: o["flops"] for o in c["ops"]}
    assert c["macs"] == 0
    assert flops["RELU"] == 8 * 8 * 4
    assert flops["AVERAGE_POOL_2D"] == 6 * 6 * 4 * 3 * 3
    assert flops["SOFTMAX"] == 5 * 6 * 6 * 4
    ranked = [o["op"] for o in c["top_ops"]]
    assert ranked == ["AVERAGE_POOL_2D", "SOFTMAX", "RELU"]


def test_lstm_macs_match_hand_count():
    steps, features, units = 5, 3, 4
    model = _model((steps, features), keras.layers.LSTM(units))
    data = _convert(model)
    c = complexity(read_graph(data))
    lstm = [o for o in c["ops"] if "LSTM" in o["op"]]
    assert lstm, [o["op"] for o in c["ops"]]
    assert sum(o["macs"] for o in lstm) == steps * 4 * units * (features + units)


def test_dynamic_batch_is_counted_per_unit_or_at_the_given_shape():
    model = _model((6,), keras.layers.Dense(5), batch_size=None)
    data = _convert(model, batch=2)
    per_unit = complexity(read_graph(data))
    assert per_unit["macs"] == 6 * 5
    assert per_unit["assumed_input_shapes"][0]["assumed"] == [1, 6]
    name = read_graph(data).subgraphs[0].tensors[read_graph(data).subgraphs[0].inputs[0]].name
    assert _macs(data, input_shapes={name: [4, 6]}) == 4 * 6 * 5
    assert _macs(data, input_shapes={"#0": [7, 6]}) == 7 * 6 * 5
    with pytest.raises(GraphError, match="names no input"):
        read_graph(data, {"nope": [1, 6]})


def test_cli_reports_complexity_as_json(tmp_path, capsys):
    import json

    from tflconv.cli import main

    model = _model((8, 8, 3), keras.layers.Conv2D(4, 3))
    path = tmp_path / "m.tflite"
    path.write_bytes(_convert(model))
    assert main(["analyze", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evaluation"]["complexity"]["macs"] == 6 * 6 * 4 * 3 * 3 * 3
    assert report["evaluation"]["summary"]["macs"] == 6 * 6 * 4 * 3 * 3 * 3


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,published",
    [
        # MobileNetV2 paper (Sandler et al. 2018), 1.0 x 224: 300M multiply-adds
        ("MobileNetV2", 300e6),
        # ResNet paper (He et al. 2015), ResNet-50: 3.8 x 10^9 multiply-adds
        ("ResNet50", 3.8e9),
    ],
)
def test_published_totals(name, published):
    from tflconv.api.converter import convert

    model = getattr(keras.applications, name)(weights=None, input_shape=(224, 224, 3))
    macs = complexity(read_graph(convert(model)))["macs"]
    assert abs(macs - published) / published < 0.02, macs


def test_python_api_returns_a_dataclass(tmp_path):
    from tflconv.tools.analyze import AnalyzeError
    from tflconv.tools.analyze_api import analyze

    model = _model((10,), keras.layers.Dense(4, bias_initializer="ones"), batch_size=None)
    data = _convert(model, batch=2)
    a = analyze(data, input_shapes={"#0": [3, 10]}, max_size="1MB")
    assert a.macs == 3 * 10 * 4 and a.params == 10 * 4 + 4
    assert a.ok and a.gpu_compatible and a.xnnpack_ops == "1/1"
    assert (
        a.peak_activation_bytes == a.report["evaluation"]["memory"]["subgraphs"][0]["arena_bytes"]
    )
    assert "MACs: 120" in a.text()
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    tight = analyze(str(path), max_peak_memory=16)
    assert not tight.ok and "--max-peak-memory" in tight.failed[0]
    keras_path = tmp_path / "m.keras"
    model.save(keras_path)
    assert analyze(str(keras_path)).macs == 10 * 4  # batch counted per unit
    with pytest.raises(AnalyzeError, match="corrupt"):
        analyze(data[:8] + bytes(len(data) - 8))
    with pytest.raises(AnalyzeError, match="unknown delegate"):
        analyze(data, require_delegate=("npu",))


@pytest.mark.parametrize("groups,dilation", [(2, 1), (1, 2)])
def test_grouped_and_dilated_conv_macs(groups, dilation):
    hw, cin, cout, k = 12, 4, 6, 3
    layer = keras.layers.Conv2D(cout, k, groups=groups, dilation_rate=dilation)
    data = _convert(_model((hw, hw, cin), layer))
    out = hw - dilation * (k - 1)
    c = complexity(read_graph(data))
    # every output value sums k*k*(cin/groups) products, whatever ops carry it
    assert c["macs"] == out * out * cout * k * k * (cin // groups)


def test_jax_source_is_legalized_and_evaluated():
    jax = pytest.importorskip("jax")
    from jax import export

    from tflconv.tools.analyze import analyze_model

    w = np.arange(32, dtype=np.float32).reshape(8, 4) / 10.0
    exported = export.export(jax.jit(lambda x: jax.nn.relu(x @ w)))(
        jax.ShapeDtypeStruct((2, 8), np.float32)
    )
    report = analyze_model(exported, evaluation=True)
    row = next(r for r in report["op_types"] if r["op"] == "stablehlo.dot_general")
    assert row["builtin"] == row["count"] == 1
    assert report["dynamic_shapes"]["dynamic"] == 0
    ev = report["evaluation"]
    assert ev["complexity"]["macs"] == 2 * 8 * 4
    assert ev["memory"]["subgraphs"][0]["arena_bytes"] == ev["memory"]["measured"]["arena_bytes"]
