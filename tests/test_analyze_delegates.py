"""`tflconv analyze` delegates: which ops XNNPACK takes (read from the LiteRT interpreter), the
GPU delegate verdict per op for models known to be incompatible (unsupported op, int64,
int32 math, rank 5, dynamic shapes, CUMSUM options) and compatible, the exit-code gates and
`--benchmark`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from e2e_util import convert_and_compare, run_litert  # noqa: E402

from tflconv.api.converter import convert  # noqa: E402
from tflconv.cli import main  # noqa: E402
from tflconv.tools.analyze_delegates import gpu, xnnpack  # noqa: E402
from tflconv.tools.analyze_graph import read_graph  # noqa: E402


def _fn(spec, body):
    class M(tf.Module):
        @tf.function(input_signature=spec)
        def f(self, *args):
            return body(*args)

    return M().f.get_concrete_function()


def _convert_fn(spec, body, inputs):
    """Convert with tflconv and check LiteRT against TF on `inputs`."""
    fn = _fn(spec, body)
    data = convert(fn)
    expected = fn(*[tf.constant(x) for x in inputs])
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    got = run_litert(data, inputs)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-4, atol=1e-4)
    return data


@pytest.fixture(scope="module")
def cnn_tflite():
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5)(x)
    model = keras.Model(inp, keras.layers.Softmax()(x))
    x = np.random.default_rng(0).standard_normal((1, 16, 16, 3)).astype(np.float32)
    return convert_and_compare(model, [x], atol=1e-5)


@pytest.fixture(scope="module")
def argmax_cumsum_tflite():
    """What the official analyzer calls GPU compatible: int64 ARG_MAX and an exclusive
    CUMSUM."""
    x = np.random.default_rng(1).standard_normal((1, 8, 16)).astype(np.float32)
    return _convert_fn(
        [tf.TensorSpec([1, 8, 16], tf.float32)],
        lambda x: (
            tf.math.argmax(tf.nn.relu(x * 2.0), axis=2),
            tf.math.cumsum(x, axis=2, exclusive=True),
        ),
        [x],
    )


def _problems(report, op):
    rows = [r for r in report["incompatible"] if r["op"] == op]
    assert rows, [r["op"] for r in report["incompatible"]]
    return {p["kind"] for r in rows for p in r["problems"]}


def test_float_cnn_is_gpu_compatible_and_fully_taken_by_xnnpack(cnn_tflite):
    graph = read_graph(cnn_tflite)
    g = gpu(graph)
    assert g["compatible"] and g["supported"] == g["ops"] == len(graph.subgraphs[0].ops)
    assert g["partitions"] == 1 and g["delegated_by_default"] == g["ops"]
    x = xnnpack(graph)
    assert x["delegated"] == x["ops"] and x["partitions"] == 1 and not x["not_delegated"]


def test_int64_argmax_and_exclusive_cumsum_are_gpu_incompatible(argmax_cumsum_tflite):
    g = gpu(read_graph(argmax_cumsum_tflite))
    assert not g["compatible"]
    assert _problems(g, "ARG_MAX") == {"unsupported_op", "dtype"}
    assert _problems(g, "CUMSUM") == {"option"}
    row = next(r for r in g["incompatible"] if r["op"] == "ARG_MAX")
    assert "ArgMax" in row["location"]  # the TF node it came from
    assert any("int32" in p["fix"] for p in row["problems"])
    assert any("int64" in p["why"] for p in row["problems"])


def test_xnnpack_leaves_ops_it_has_no_kernel_for(argmax_cumsum_tflite):
    graph = read_graph(argmax_cumsum_tflite)
    x = xnnpack(graph)
    left = {r["op"] for r in x["not_delegated"]}
    assert {"ARG_MAX", "CUMSUM"} <= left
    assert x["delegated"] == x["ops"] - len(x["not_delegated"]) >= 1
    assert x["by_op_type"]["MUL"]["xnnpack"] == 1


def test_int32_math_and_rank5_are_gpu_incompatible():
    ints = np.arange(12, dtype=np.int32).reshape(3, 4)
    data = _convert_fn(
        [tf.TensorSpec([3, 4], tf.int32)], lambda x: tf.math.floormod(x * 3, 5) + 1, [ints]
    )
    g = gpu(read_graph(data))
    assert "dtype" in _problems(g, "MUL")
    five = np.random.default_rng(2).standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    data = _convert_fn(
        [tf.TensorSpec([1, 2, 3, 4, 5], tf.float32)], lambda x: tf.nn.relu(x) * 2.0, [five]
    )
    g = gpu(read_graph(data))
    assert not g["compatible"]
    assert all("rank" in {p["kind"] for p in r["problems"]} for r in g["incompatible"])


def test_data_dependent_shape_is_gpu_incompatible():
    x = np.array([[0.5, -1.0, 2.0, -3.0]], np.float32)
    data = _convert_fn(
        [tf.TensorSpec([1, 4], tf.float32)], lambda x: tf.boolean_mask(x, x > 0.0) * 2.0, [x]
    )
    g = gpu(read_graph(data))
    kinds = {p["kind"] for r in g["incompatible"] for p in r["problems"]}
    assert "dynamic_shape" in kinds
    assert g["partitions"] >= 1 and g["delegated_by_default"] < g["ops"]


def test_gates_exit_codes(tmp_path, capsys, cnn_tflite, argmax_cumsum_tflite):
    good = tmp_path / "cnn.tflite"
    good.write_bytes(cnn_tflite)
    bad = tmp_path / "argmax.tflite"
    bad.write_bytes(argmax_cumsum_tflite)
    assert main(["analyze", str(good), "--require-delegate", "gpu", "--max-size", "1MB"]) == 0
    assert main(["analyze", str(good), "--require-delegate", "xnnpack"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(bad), "--require-delegate", "gpu"]) == 1
    err = capsys.readouterr().err
    assert "requirement failed: --require-delegate gpu" in err
    assert main(["analyze", str(bad), "--require-delegate", "xnnpack"]) == 1
    assert main(["analyze", str(good), "--max-size", str(len(cnn_tflite) - 1)]) == 1
    assert "--max-size" in capsys.readouterr().err
    assert main(["analyze", str(good), "--max-peak-memory", "1KiB"]) == 1
    assert main(["analyze", str(good), "--max-peak-memory", "1MiB"]) == 0
    assert main(["analyze", str(good), "--max-size", "lots"]) == 2
    assert main(["analyze", str(good), "--input-shapes", "nope:1,2"]) == 2


def test_json_carries_the_evaluation_and_benchmark(tmp_path, capsys, cnn_tflite):
    path = tmp_path / "cnn.tflite"
    path.write_bytes(cnn_tflite)
    assert main(["analyze", str(path), "--json", "--benchmark", "--threads", "2"]) == 0
    ev = json.loads(capsys.readouterr().out)["evaluation"]
    assert ev["delegates"]["gpu"]["compatible"]
    speed = ev["speed"]
    assert [r["threads"] for r in speed["latency"]] == [1, 2]
    assert all(r["median_ms"] > 0 for r in speed["latency"])
    assert speed["builtin_kernels_ms"] > 0
    profiled = {r["op"] for r in speed["profile"]["by_op_type"]}
    assert profiled == {op.name for op in read_graph(cnn_tflite).subgraphs[0].ops}
    assert ev["summary"]["latency_ms"]["1"] == speed["latency"][0]["median_ms"]


def test_tf_source_is_converted_then_evaluated(tmp_path, capsys):
    inp = keras.Input((6,), batch_size=1)
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    assert main(["analyze", str(path), "--json", "--require-delegate", "gpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evaluation"]["complexity"]["macs"] == 18
    assert report["evaluation"]["summary"]["gpu_compatible"]


def test_xnnpack_does_not_count_control_flow_as_delegated():
    import models

    data = convert(models.while_cond_function())
    x = xnnpack(read_graph(data))
    left = {r["op"] for r in x["not_delegated"]}
    assert {"WHILE", "IF"} <= left
    g = gpu(read_graph(data))
    assert g["control_flow"] and not g["compatible"]


def test_model_explorer_cost_overlay(tmp_path, capsys):
    inp = keras.Input((6,), batch_size=1)
    x = keras.layers.Dense(32, activation="relu", bias_initializer="ones")(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    path = tmp_path / "m.keras"
    model.save(path)
    out = tmp_path / "me"
    assert main(["analyze", str(path), "--benchmark", "--model-explorer", str(out)]) == 0
    capsys.readouterr()
    graph = json.loads((out / "analyzed.graph.json").read_text())
    tags = {
        a["value"]
        for g in graph["graphs"]
        for n in g["nodes"]
        for m in n.get("outputsMetadata", [])
        for a in m["attrs"]
        if a["key"] == "__tensor_tag"
    }
    for name in ("flops", "latency_ms"):
        data = json.loads((out / f"{name}.node_data.json").read_text())
        (graph_id, overlay), *_ = data.items()
        assert graph_id == graph["graphs"][0]["id"]
        assert overlay["results"] and set(overlay["results"]) <= tags
    flops = json.loads((out / "flops.node_data.json").read_text())
    values = sorted(v["value"] for v in next(iter(flops.values()))["results"].values())
    # Dense(32) with bias and fused ReLU: 2 per MAC + 1 per output each; Dense(2) no bias
    assert values == [2 * 32 * 2, 2 * 6 * 32 + 32 + 32]


def test_gpu_partitions_follow_data_dependencies(argmax_cumsum_tflite):
    """MUL feeds both ARG_MAX (unsupported) and CUMSUM (exclusive: unsupported here); a
    supported op after an unsupported one only opens a new partition when it depends on it."""
    graph = read_graph(argmax_cumsum_tflite)
    g = gpu(graph)
    assert g["partitions"] == 1 and g["delegated_by_default"] == 1

    x = np.random.default_rng(3).standard_normal((1, 8, 16)).astype(np.float32)
    data = _convert_fn(
        [tf.TensorSpec([1, 8, 16], tf.float32)],
        lambda x: (
            tf.math.argmax(x * 2.0, axis=2, output_type=tf.int32),
            tf.nn.relu(x) + 1.0,
        ),
        [x],
    )
    g = gpu(read_graph(data))
    # ARG_MAX sits between the float ops in execution order but nothing depends on it
    assert g["partitions"] == 1 and g["delegated_by_default"] == g["supported"] >= 2
