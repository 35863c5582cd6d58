"""Keras 2 (tf-keras) models: objects, .h5 / .keras files and SavedModels convert like Keras 3
ones, with the official converter's signature names, and match tf-keras in LiteRT.

tf-keras is imported as its own package (`import tf_keras`): `TF_USE_LEGACY_KERAS=1` changes
`tf.keras` process-wide, so the test of that route runs in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")
pytest.importorskip("ai_edge_litert")

import tflconv  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402
from tflconv.frontends.tensorflow.frontend import FrontendError, load_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def signature(tflite: bytes) -> dict[str, list[str]]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=tflite).get_signature_list()["serving_default"]


def run(tflite: bytes, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=tflite, num_threads=1).get_signature_runner()(**feed)


def check(
    tflite: bytes,
    model: object,
    feeds: list[dict[str, np.ndarray]],
    call: object = None,
    atol: float = 1e-5,
) -> None:
    """Every feed: LiteRT outputs (by signature name, in sorted order) against the tf-keras
    model's outputs (flattened in the model's output order, matched through output names)."""
    out_names = signature(tflite)["outputs"]
    for feed in feeds:
        got = run(tflite, feed)
        result = call(feed) if call is not None else model(feed, training=False)
        results = result if isinstance(result, (list, tuple)) else [result]
        names = getattr(model, "output_names", None) or out_names
        expected = dict(zip(names, [np.asarray(r) for r in results]))
        assert sorted(got) == sorted(expected)
        for name in out_names:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=atol)


def rng_feed(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def cnn() -> object:
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential(
        [
            tf_keras.Input((9, 8, 3), name="image"),
            tf_keras.layers.Conv2D(4, 3, strides=(1, 2), activation="relu"),
            tf_keras.layers.BatchNormalization(),
            tf_keras.layers.MaxPooling2D(),
            tf_keras.layers.GlobalAveragePooling2D(),
            tf_keras.layers.Dense(2, activation="softmax", name="probs"),
        ]
    )
    bn = model.layers[1]  # inference statistics that are not the identity
    rng = np.random.default_rng(1)
    bn.moving_mean.assign(rng.standard_normal(4).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, 4).astype(np.float32))
    return model


def test_sequential():
    model = cnn()
    tflite = tflconv.TFLiteConverter.from_keras_model(model).convert()
    # the official converter's names: the Keras input, the output layer
    assert signature(tflite) == {"inputs": ["image"], "outputs": ["probs"]}
    feeds = [rng_feed({"image": (b, 9, 8, 3)}, b) for b in (1, 3)]
    check(tflite, model, feeds, call=lambda f: model(f["image"], training=False))


def test_functional_multi_input_output_dynamic_dims():
    tf_keras.utils.set_random_seed(2)
    a = tf_keras.Input((3,), name="aa")
    b = tf_keras.Input((None, 2), name="bb")
    head = tf_keras.layers.Dense(2, name="head")(a)
    pool = tf_keras.layers.GlobalAveragePooling1D(name="pool")(b)
    model = tf_keras.Model([a, b], [head, pool])
    tflite = convert(model)
    assert signature(tflite) == {"inputs": ["aa", "bb"], "outputs": ["head", "pool"]}
    feeds = [rng_feed({"aa": (n, 3), "bb": (n, 2 + n, 2)}, n) for n in (1, 4)]
    check(tflite, model, feeds, call=lambda f: model([f["aa"], f["bb"]], training=False))


def test_functional_dict_inputs():
    tf_keras.utils.set_random_seed(3)
    ids = tf_keras.Input((None,), dtype="int32", name="token_ids")
    mask = tf_keras.Input((None,), dtype="int32", name="padding_mask")
    x = tf_keras.layers.Embedding(11, 4)(ids)
    x = tf_keras.layers.Dense(3, name="proj")(x) * tf.cast(mask, tf.float32)[..., None]
    model = tf_keras.Model({"token_ids": ids, "padding_mask": mask}, x)
    tflite = convert(model)
    assert sorted(signature(tflite)["inputs"]) == ["padding_mask", "token_ids"]
    rng = np.random.default_rng(0)
    feeds = [
        {
            "token_ids": rng.integers(0, 11, (n, 2 * n + 1)).astype(np.int32),
            "padding_mask": (rng.random((n, 2 * n + 1)) < 0.6).astype(np.int32),
        }
        for n in (1, 3)
    ]
    check(tflite, model, feeds)


class Scaled(tf_keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.dense = tf_keras.layers.Dense(3, activation="tanh")
        self.scale = tf.Variable(1.5)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense(x) * self.scale


def test_subclassed_model():
    tf_keras.utils.set_random_seed(4)
    model = Scaled()
    model(np.zeros((2, 5), np.float32))
    tflite = convert(model)
    assert signature(tflite) == {"inputs": ["input_1"], "outputs": ["output_1"]}
    feeds = [rng_feed({"input_1": (n, 5)}, n) for n in (1, 6)]
    check(tflite, model, feeds, call=lambda f: model(f["input_1"], training=False))


def test_lstm_converts_where_the_official_converter_fails():
    # tf-keras' LSTM builds its TensorList with an unknown element shape: TF 2.21's official
    # converter stops at "TensorListReserve requires element_shape to be static"
    tf_keras.utils.set_random_seed(5)
    model = tf_keras.Sequential(
        [tf_keras.Input((5, 3), name="seq"), tf_keras.layers.LSTM(4), tf_keras.layers.Dense(2)]
    )
    tflite = convert(model)
    feeds = [rng_feed({"seq": (n, 5, 3)}, n) for n in (1, 2)]
    check(tflite, model, feeds, call=lambda f: model(f["seq"], training=False), atol=1e-4)


@pytest.mark.parametrize("suffix", [".h5", ".keras", "_saved_model"])
def test_files(tmp_path, suffix):
    model = cnn()
    path = str(tmp_path / ("model" + suffix))
    model.save(path)
    if suffix == ".h5":
        tflite = tflconv.TFLiteConverter.from_keras_model_file(path).convert()
    else:
        tflite = convert(path)
    assert signature(tflite) == {"inputs": ["image"], "outputs": ["probs"]}
    feeds = [rng_feed({"image": (n, 9, 8, 3)}, 7 + n) for n in (1, 2)]
    check(tflite, model, feeds, call=lambda f: model(f["image"], training=False))


def test_h5_lambda_layer_needs_the_users_consent(tmp_path):
    inp = tf_keras.Input((3,))
    model = tf_keras.Model(inp, tf_keras.layers.Lambda(lambda t: t * 2.0)(inp))
    path = str(tmp_path / "lambda.h5")
    model.save(path)
    with pytest.raises(FrontendError, match=r"tf_keras\.models\.load_model\(.*safe_mode=False"):
        load_model(path)


def test_unbuilt_model_is_refused_clearly():
    model = tf_keras.Sequential([tf_keras.layers.Dense(2)])
    with pytest.raises(FrontendError, match="has never been called"):
        load_model(model)


def test_tracing_error_names_the_tf_keras_layer():
    class Fails(tf_keras.layers.Layer):
        def call(self, x: tf.Tensor) -> tf.Tensor:
            if x.shape[0] is None:
                raise ValueError("Fails wants a static batch")
            return x

    class WithFails(tf_keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.fails = Fails(name="fails")

        def call(self, x: tf.Tensor) -> tf.Tensor:
            return self.fails(x)

    model = WithFails()
    model(np.zeros((2, 3), np.float32))  # works; tracing with a dynamic batch raises
    with pytest.raises(FrontendError) as info:
        load_model(model)
    message = str(info.value)
    assert "\n" not in message
    assert "in layer 'fails' (Fails)" in message
    assert f"at {os.path.abspath(__file__)}:" in message  # the raise, not autograph's copy
    assert message.endswith(": Fails wants a static batch")


LEGACY_KERAS_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    import tflconv

    assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(8, activation="relu", input_shape=(4,)),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    tflite = tflconv.TFLiteConverter.from_keras_model(model).convert()
    interp = Interpreter(model_content=tflite)
    assert interp.get_signature_list()["serving_default"] == {
        "inputs": ["dense_input"], "outputs": ["dense_1"]}
    runner = interp.get_signature_runner()
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        got = runner(dense_input=x)["dense_1"]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    print("OK")
    """
)


def test_tf_keras_through_tf_use_legacy_keras():
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", LEGACY_KERAS_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
