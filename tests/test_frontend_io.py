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

from tflconv.converter import convert  # noqa: E402
from tflconv.frontends.tensorflow import FrontendError, load_model  # noqa: E402

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
