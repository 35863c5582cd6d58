"""Model inputs and outputs at the frontend boundary, converted and run in LiteRT against TF or
Keras: dict / nested Keras inputs (keras-hub style `token_ids` + `padding_mask`), tracing errors
that name their cause, PlaceholderWithDefault inputs, several outputs of one op."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert")

from tflconv.api.converter import convert  # noqa: E402
from tflconv.frontends.tensorflow.frontend import FrontendError, load_model  # noqa: E402

# --- helpers -----------------------------------------------------------------------------------


def litert_signature(tflite: bytes, key: str = "serving_default") -> dict[str, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=tflite).get_signature_list()[key]


def run_signature(
    tflite: bytes, inputs: dict[str, np.ndarray], key: str = "serving_default"
) -> dict[str, np.ndarray]:
    """Run a signature by input name (the runner resizes dynamic inputs)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    return interp.get_signature_runner(key)(**inputs)


def token_inputs(batch: int, seq: int, vocab: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = (rng.random((batch, seq)) < 0.7).astype(np.int32)
    mask[:, 0] = 1
    return {
        "token_ids": rng.integers(0, vocab, (batch, seq)).astype(np.int32),
        "padding_mask": mask,
    }


# --- 1. dict and nested Keras inputs -----------------------------------------------------------

VOCAB = 37


def masked_embedding(ids: keras.KerasTensor, mask: keras.KerasTensor) -> keras.KerasTensor:
    """Embedding + Dense on token ids, padded positions zeroed, mean over the sequence."""
    x = keras.layers.Embedding(VOCAB, 8)(ids)
    m = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
    x = keras.layers.Dense(6, activation="tanh")(x) * m
    pooled = keras.ops.sum(x, axis=1) / keras.ops.maximum(keras.ops.sum(m, axis=1), 1.0)
    return keras.layers.Dense(3)(pooled)


def dict_input_model(names: tuple[str, str] = ("token_ids", "padding_mask")) -> keras.Model:
    """A keras-hub style text model: {"token_ids", "padding_mask"}, dynamic sequence length;
    `names` are the `keras.Input` names (Keras wants them equal to the keys)."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int32", name=names[0])
    mask = keras.Input((None,), dtype="int32", name=names[1])
    return keras.Model({"token_ids": ids, "padding_mask": mask}, masked_embedding(ids, mask))


class SubclassedDict(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.embed = keras.layers.Embedding(VOCAB, 8)
        self.dense = keras.layers.Dense(3)

    def call(self, inputs: dict) -> keras.KerasTensor:
        m = keras.ops.expand_dims(keras.ops.cast(inputs["padding_mask"], "float32"), -1)
        return self.dense(self.embed(inputs["token_ids"]) * m)


def check_dict_model(
    model: keras.Model, shapes: list[tuple[int, int]], dtype: type = np.int32
) -> bytes:
    tflite = convert(model)
    signature = litert_signature(tflite)
    assert sorted(signature["inputs"]) == ["padding_mask", "token_ids"]
    for seed, (batch, seq) in enumerate(shapes):
        inputs = token_inputs(batch, seq, VOCAB, seed)
        inputs = {k: v.astype(dtype) for k, v in inputs.items()}
        expected = np.asarray(model(inputs, training=False))
        (got,) = run_signature(tflite, inputs).values()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return tflite


def test_functional_dict_inputs_dynamic_batch_and_sequence():
    model = dict_input_model()
    imported = load_model(model)
    fn = imported.function()
    assert fn.attributes["input_names"] == ["padding_mask", "token_ids"]
    assert [t.shape for t in fn.input_types] == [(None, None), (None, None)]
    assert [t.dtype for t in fn.input_types] == ["i32", "i32"]
    check_dict_model(model, [(2, 5), (3, 9), (1, 1)])


@pytest.mark.filterwarnings("ignore:When providing `inputs` as a dict")
def test_dict_keys_name_the_inputs_not_the_keras_input_names():
    model = dict_input_model(names=("ids_input", "mask_input"))
    names = load_model(model).function().attributes["input_names"]
    assert names == ["padding_mask", "token_ids"]
    check_dict_model(model, [(2, 4)])


def test_subclassed_model_called_with_a_dict():
    keras.utils.set_random_seed(1)
    model = SubclassedDict()
    model(token_inputs(2, 7, VOCAB, 0))
    fn = load_model(model).function()
    assert fn.attributes["input_names"] == ["padding_mask", "token_ids"]
    # like Keras' model.export: batch dynamic, other dims as first called, dtype the model's
    # input_dtype (Keras records no dtypes for subclassed models; Embedding casts to int)
    assert [t.shape for t in fn.input_types] == [(None, 7), (None, 7)]
    assert [t.dtype for t in fn.input_types] == ["f32", "f32"]
    check_dict_model(model, [(2, 7), (5, 7)], dtype=np.float32)


@pytest.mark.parametrize("container", [list, tuple])
def test_nested_list_and_tuple_inputs(container):
    keras.utils.set_random_seed(2)
    a = keras.Input((4,), name="a")
    b = keras.Input((None, 4), name="b")
    c = keras.Input((4,), dtype="int32", name="c")
    out = a * keras.ops.mean(b, axis=1) + keras.ops.cast(c, "float32")
    model = keras.Model(container([a, container([b, c])]), keras.layers.Dense(2)(out))
    tflite = convert(model)
    assert sorted(litert_signature(tflite)["inputs"]) == ["a", "b", "c"]
    rng = np.random.default_rng(0)
    for batch, seq in [(1, 3), (4, 6)]:
        x = {
            "a": rng.standard_normal((batch, 4)).astype(np.float32),
            "b": rng.standard_normal((batch, seq, 4)).astype(np.float32),
            "c": rng.integers(-3, 3, (batch, 4)).astype(np.int32),
        }
        expected = np.asarray(model(container([x["a"], container([x["b"], x["c"]])])))
        (got,) = run_signature(tflite, x).values()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_dict_of_nested_inputs_and_dict_outputs():
    keras.utils.set_random_seed(3)
    x = keras.Input((3,), name="first")
    y = keras.Input((3,), name="y")
    z = keras.Input((3,), name="z")
    model = keras.Model(
        {"first": x, "pair": [y, z]},
        {"sum": x + y + z, "prod": keras.layers.Dense(2)(x * y)},
    )
    tflite = convert(model)
    signature = litert_signature(tflite)
    assert sorted(signature["inputs"]) == ["first", "y", "z"]
    assert sorted(signature["outputs"]) == ["prod", "sum"]
    rng = np.random.default_rng(1)
    feed = {k: rng.standard_normal((2, 3)).astype(np.float32) for k in ("first", "y", "z")}
    expected = model({"first": feed["first"], "pair": [feed["y"], feed["z"]]})
    got = run_signature(tflite, feed)
    for key in ("sum", "prod"):
        np.testing.assert_allclose(got[key], np.asarray(expected[key]), rtol=1e-5, atol=1e-5)


def tiny_backbone(name: str) -> keras.Model:
    hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(0)
    common = {"vocabulary_size": VOCAB, "num_layers": 1, "hidden_dim": 8, "intermediate_dim": 16}
    if name == "bert":
        return hub.models.BertBackbone(num_heads=2, max_sequence_length=16, **common)
    return hub.models.GPT2Backbone(num_heads=2, max_sequence_length=16, **common)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_keras_hub_backbones_import_with_their_dict_inputs(name):
    # Conversion to builtins needs Einsum legalization (docs/legalize_*.md); this checks the
    # frontend: dict keys as inputs, dynamic batch and sequence, TF runs match Keras.
    model = tiny_backbone(name)
    imported = load_model(model)
    fn = imported.function()
    keys = sorted(model._inputs_struct)
    assert fn.attributes["input_names"] == keys
    assert all(t.shape == (None, None) and t.dtype == "i32" for t in fn.input_types)
    for seed, (batch, seq) in enumerate([(1, 4), (3, 9)]):
        feed = token_inputs(batch, seq, VOCAB, seed)
        if "segment_ids" in keys:
            feed["segment_ids"] = np.zeros((batch, seq), np.int32)
        expected = model(feed)
        expected = expected if isinstance(expected, dict) else {"output_0": expected}
        got = imported.run_tf(None, feed)
        for out, value in zip(fn.attributes["output_names"], got):
            np.testing.assert_allclose(value, np.asarray(expected[out]), rtol=1e-5, atol=1e-6)


# --- 2. tracing errors name their cause --------------------------------------------------------


class NeedsStaticBatch(keras.layers.Layer):
    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        if x.shape[0] is None:
            raise ValueError("NeedsStaticBatch wants a static batch size\nmore detail")
        return x * 2.0


class WithFailingLayer(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.check = NeedsStaticBatch(name="batch_check")

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return self.check(self.dense(x))


def test_tracing_error_names_the_layer_and_the_cause():
    model = WithFailingLayer()
    model(np.zeros((1, 3), np.float32))  # works; tracing with a dynamic batch raises
    with pytest.raises(FrontendError) as info:
        load_model(model)
    message = str(info.value)
    assert "\n" not in message
    assert "Exception encountered" not in message
    assert "ValueError in layer 'batch_check' (NeedsStaticBatch)" in message
    assert message.endswith(": NeedsStaticBatch wants a static batch size")
    assert f"{os.path.abspath(__file__)}:" in message  # the raising line, in this file


def test_tracing_error_of_a_tf_op_in_a_functional_model():
    def bad_matmul(x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, tf.ones((5, 2)))  # 4 features against 5 rows

    class Project(keras.layers.Layer):
        def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
            return x if isinstance(x, keras.KerasTensor) else bad_matmul(x)

        def compute_output_shape(self, shape: tuple) -> tuple:
            return shape

    x = keras.Input((4,))
    model = keras.Model(x, Project(name="project")(x))
    with pytest.raises(FrontendError) as info:
        load_model(model)
    message = str(info.value)
    assert "\n" not in message
    assert "Error in layer 'project' (Project)" in message
    assert f"{os.path.abspath(__file__)}:" in message
    assert "[?,4], [5,2]" in message  # TF's shape error: the innermost message


def test_tracing_error_of_a_tf_function():
    @tf.function(input_signature=[tf.TensorSpec((None, 3))])
    def fails(x: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError("the model is not ready")

    with pytest.raises(FrontendError, match="NotImplementedError .*: the model is not ready"):
        load_model([fails])


# --- 3. PlaceholderWithDefault named as an input -----------------------------------------------


def pwd_graph(path: str) -> str:
    """y = pwd * scale + x, z = pwd * 3 with pwd, scale PlaceholderWithDefaults."""
    graph = tf.Graph()
    with graph.as_default():
        default = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
        pwd = tf.compat.v1.placeholder_with_default(default, shape=[None, 3], name="pwd")
        scale = tf.compat.v1.placeholder_with_default(tf.constant(2.0), shape=[], name="scale")
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        tf.identity(pwd * scale + x, name="y")
        tf.identity(pwd * 3.0, name="z")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    return path


@pytest.mark.parametrize(
    "input_arrays, output_arrays",
    [(["pwd"], ["z"]), (["x", "pwd"], ["y"]), (["pwd", "scale", "x"], ["y", "z"])],
)
def test_placeholder_with_default_named_as_input_is_an_input(tmp_path, input_arrays, output_arrays):
    path = pwd_graph(str(tmp_path / "pwd.pb"))
    options = {"input_arrays": input_arrays, "output_arrays": output_arrays}
    tflite = convert(path, **options)
    assert sorted(litert_signature(tflite)["inputs"]) == sorted(input_arrays)
    imported = load_model(path, **options)
    rng = np.random.default_rng(0)
    results = []
    for batch in (1, 4):  # two different values (and shapes) give two different outputs
        feed = {
            "pwd": rng.standard_normal((batch, 3)).astype(np.float32),
            "x": rng.standard_normal((batch, 3)).astype(np.float32),
            "scale": np.float32(rng.uniform(1, 2)),
        }
        feed = {k: feed[k] for k in input_arrays}
        got = run_signature(tflite, feed)
        expected = imported.run_tf(None, feed)
        for name, e in zip(output_arrays, expected):
            np.testing.assert_allclose(got[name], e, rtol=1e-6)
        results.append(got[output_arrays[0]])
    pwd = feed["pwd"]  # the last feed, checked against the formula (not only against TF)
    scale = feed.get("scale", np.float32(2.0))
    x = feed.get("x")
    want = pwd * 3.0 if output_arrays == ["z"] else pwd * scale + x
    np.testing.assert_allclose(results[-1], want, rtol=1e-6)
    assert results[0].shape != results[1].shape


def test_placeholder_with_default_not_named_folds_like_the_official_converter(tmp_path):
    # TF 2.21's from_frozen_graph folds an unnamed PlaceholderWithDefault into its default
    path = pwd_graph(str(tmp_path / "pwd.pb"))
    tflite = convert(path, input_arrays=["x"], output_arrays=["y"])
    assert litert_signature(tflite)["inputs"] == ["x"]
    x = np.full((2, 3), 0.5, np.float32)
    (got,) = run_signature(tflite, {"x": x}).values()
    np.testing.assert_allclose(got, np.arange(6, dtype=np.float32).reshape(2, 3) * 2.0 + x)


def test_placeholder_with_default_as_a_tf1_saved_model_signature_input(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        default = tf.constant(np.ones((2, 3), np.float32))
        pwd = tf.compat.v1.placeholder_with_default(default, shape=[None, 3], name="pwd")
        z = tf.identity(pwd * 3.0 - 1.0, name="z")
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.saved_model.simple_save(sess, str(tmp_path / "sm"), {"pwd": pwd}, {"z": z})
    tflite = convert(str(tmp_path / "sm"))
    for value in (np.zeros((1, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3)):
        got = run_signature(tflite, {"pwd": value})["z"]
        np.testing.assert_allclose(got, value * 3.0 - 1.0, rtol=1e-6)


def test_input_shapes_fix_a_placeholder_with_default_input(tmp_path):
    path = pwd_graph(str(tmp_path / "pwd.pb"))
    options = {"input_arrays": ["pwd"], "output_arrays": ["z"], "input_shapes": {"pwd": [1, 3]}}
    assert load_model(path, **options).function().input_types[0].shape == (1, 3)
    tflite = convert(path, **options)
    value = np.array([[1.0, -2.0, 0.5]], np.float32)
    np.testing.assert_allclose(run_signature(tflite, {"pwd": value})["z"], value * 3.0)


# --- 4. several outputs of one op ----------------------------------------------------------------


def multi_output_graph(path: str) -> str:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 6], name="x")
        tf.split(x, 3, axis=1, name="split")
        i = tf.compat.v1.placeholder(tf.int32, [None], name="i")
        tf.unique(i, name="uniq")
        tf.identity_n([x * 2.0, x + 1.0], name="idn")
    with open(path, "wb") as f:
        f.write(graph.as_graph_def().SerializeToString())
    return path


MULTI_OUTPUT_CASES = [
    (["x"], ["split", "split:1"]),
    (["x:0"], ["split:2", "split:0", "split:1"]),
    (["i"], ["uniq", "uniq:1"]),
    (["x"], ["idn", "idn:1"]),
    (["x", "i"], ["idn:1", "uniq:1", "split:1"]),
]


def multi_output_feed(input_arrays: list[str], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    batch = 2 + seed
    values = {
        "x": rng.standard_normal((batch, 6)).astype(np.float32),
        "i": rng.integers(0, 4, (3 * batch,)).astype(np.int32),
    }
    return [values[a.split(":")[0]] for a in input_arrays]


@pytest.mark.parametrize("input_arrays, output_arrays", MULTI_OUTPUT_CASES)
def test_several_outputs_of_one_op_in_a_frozen_graph(tmp_path, input_arrays, output_arrays):
    from tests.e2e_util import run_litert

    path = multi_output_graph(str(tmp_path / "multi.pb"))
    options = {"input_arrays": input_arrays, "output_arrays": output_arrays}
    tflite = convert(path, **options)
    names = [a[:-2] if a.endswith(":0") else a for a in output_arrays]  # "split:0" is "split"
    assert sorted(litert_signature(tflite)["outputs"]) == sorted(names)
    imported = load_model(path, **options)
    for seed in (0, 1):
        feed = multi_output_feed(input_arrays, seed)
        expected = imported.run_tf(None, feed)
        by_name = run_signature(tflite, dict(zip([a.split(":")[0] for a in input_arrays], feed)))
        got = run_litert(tflite, feed)  # outputs in output_arrays order
        for name, e, g in zip(names, expected, got):
            np.testing.assert_allclose(by_name[name], e, rtol=1e-6)
            np.testing.assert_allclose(g, e, rtol=1e-6)


def test_frozen_graph_output_names_are_the_official_tensor_names(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    path = multi_output_graph(str(tmp_path / "multi.pb"))
    inputs, outputs = ["x", "i"], ["split:2", "uniq", "uniq:1", "idn:1"]
    official = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(path, inputs, outputs)
    official_names = [
        d["name"] for d in Interpreter(model_content=official.convert()).get_output_details()
    ]
    ours = convert(path, input_arrays=inputs, output_arrays=outputs)
    assert sorted(litert_signature(ours)["outputs"]) == sorted(official_names)


def test_the_same_output_array_twice_is_refused(tmp_path):
    path = multi_output_graph(str(tmp_path / "multi.pb"))
    with pytest.raises(FrontendError, match=r"output_arrays names the tensor\(s\) \['split:1'\]"):
        load_model(path, input_arrays=["x"], output_arrays=["split:1", "split:1"])


@tf.function(input_signature=[tf.TensorSpec([None, 6])])
def split_two(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    a, _, c = tf.split(x, 3, axis=1)
    return c, a


@tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
def unique_dict(i: tf.Tensor) -> dict[str, tf.Tensor]:
    values, indices = tf.unique(i)
    return {"values": values, "indices": indices}


@tf.function(input_signature=[tf.TensorSpec([None, 6])])
def identity_n(x: tf.Tensor) -> list[tf.Tensor]:
    return tf.identity_n([x * 2.0, x + 1.0])


@tf.function(input_signature=[tf.TensorSpec([None, 6])])
def same_twice(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    y = x * 2.0
    return y, y


FUNCTION_CASES = [
    (split_two, ["output_0", "output_1"]),
    (unique_dict, ["indices", "values"]),
    (identity_n, ["output_0", "output_1"]),
    (same_twice, ["output_0", "output_1"]),
]


def check_function_outputs(tflite: bytes, fn: object, names: list[str]) -> None:
    """Signature output names as TF's SignatureDef (and the official converter) name them;
    numerics in LiteRT against the tf.function."""
    signature = litert_signature(tflite)
    assert sorted(signature["outputs"]) == names
    (arg,) = signature["inputs"]
    for seed in (0, 1):
        (feed,) = multi_output_feed(["i" if fn is unique_dict else "x"], seed)
        got = run_signature(tflite, {arg: feed})
        result = fn(feed)
        expected = result if isinstance(result, dict) else dict(zip(names, result))
        for name in names:
            np.testing.assert_allclose(got[name], np.asarray(expected[name]), rtol=1e-6)


@pytest.mark.parametrize("fn, names", FUNCTION_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_several_outputs_of_one_op_in_a_concrete_function(fn, names):
    check_function_outputs(convert([fn.get_concrete_function()]), fn, names)


@pytest.mark.parametrize("fn, names", FUNCTION_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_several_outputs_of_one_op_in_a_saved_model(tmp_path, fn, names):
    module = tf.Module()
    module.fn = fn
    tf.saved_model.save(module, str(tmp_path), signatures=fn)
    check_function_outputs(convert(str(tmp_path)), fn, names)


def test_several_outputs_of_one_op_in_a_tf1_saved_model_signature(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 6], name="x")
        a, b, c = tf.split(x, 3, axis=1, name="split")
        n1, n2 = tf.identity_n([x * 2.0, x + 1.0], name="idn")
        outputs = {"first": a, "third": c, "second": b, "double": n1, "plus_one": n2}
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.saved_model.simple_save(sess, str(tmp_path / "sm"), {"x": x}, outputs)
    tflite = convert(str(tmp_path / "sm"))
    assert sorted(litert_signature(tflite)["outputs"]) == sorted(outputs)
    for seed in (0, 1):
        (feed,) = multi_output_feed(["x"], seed)
        got = run_signature(tflite, {"x": feed})
        want = {
            "first": feed[:, :2],
            "second": feed[:, 2:4],
            "third": feed[:, 4:],
            "double": feed * 2.0,
            "plus_one": feed + 1.0,
        }
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-6)


def test_an_intermediate_tensor_named_as_input_is_an_input(tmp_path):
    # like the official converter: input_arrays may cut the graph at any single-output node
    path = pwd_graph(str(tmp_path / "pwd.pb"))
    tflite = convert(path, input_arrays=["mul", "x"], output_arrays=["y"])
    assert sorted(litert_signature(tflite)["inputs"]) == ["mul", "x"]
    rng = np.random.default_rng(3)
    for batch in (1, 3):
        mul = rng.standard_normal((batch, 3)).astype(np.float32)
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        np.testing.assert_allclose(run_signature(tflite, {"mul": mul, "x": x})["y"], mul + x)
