"""Small seeded test models, shared by the test suite.

Every builder is deterministic for a given `seed` and small enough to convert and run in well
under a second. Keras builders return built `keras.Model`s; `while_cond_function` returns a
`tf.function` with an input signature; `write_multi_signature_saved_model` writes a SavedModel
directory and returns its path.

    from tests.models import small_cnn, random_inputs
    model = small_cnn(seed=0)
    (x,) = random_inputs([model.input.shape], seed=1)   # None dims become 2

Builders:
- `small_cnn`        Conv2D+BatchNorm+ReLU6, DepthwiseConv2D, max/avg pooling, Dense, Softmax
- `mlp`              Dense stack with a dynamic batch dim
- `while_cond_function`  tf.function with tf.while_loop, tf.cond and a captured variable
- `lstm_gru`         Keras 3 Sequential LSTM(return_sequences) -> GRU
- `transformer_block`  MultiHeadAttention + residual + LayerNorm + Dense feed-forward
- `write_multi_signature_saved_model`  tf.Module with signatures "serving_default" and "scale"
- `random_inputs`    seeded float/int inputs for given shapes
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _seed(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def _randomize_batch_norm(model: Any, seed: int) -> None:
    """Give BatchNormalization layers non-trivial statistics (fresh ones are identity-like)."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (w.shape for w in layer.get_weights())
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma).astype(np.float32),
                    rng.uniform(-0.5, 0.5, beta).astype(np.float32),
                    rng.uniform(-0.5, 0.5, mean).astype(np.float32),
                    rng.uniform(0.5, 1.5, var).astype(np.float32),
                ]
            )


def small_cnn(
    seed: int = 0, input_shape: tuple[int, int, int] = (16, 16, 3), num_classes: int = 4
) -> Any:
    """Conv2D+BN+ReLU6 -> DepthwiseConv2D+BN+ReLU6 -> MaxPool -> Conv2D 1x1 -> AvgPool ->
    GlobalAveragePooling -> Dense -> Softmax. Input `image` (batch dynamic), output `probs`."""
    import keras
    from keras import layers

    _seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(6.0, name="relu1")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.ReLU(6.0, name="relu2")(x)
    x = layers.MaxPooling2D(2, name="maxpool")(x)
    x = layers.Conv2D(12, 1, activation="relu", name="pw")(x)
    x = layers.AveragePooling2D(2, name="avgpool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(num_classes, name="fc")(x)
    outputs = layers.Softmax(name="probs")(x)
    model = keras.Model(inputs, outputs, name="small_cnn")
    _randomize_batch_norm(model, seed)
    return model


def mlp(seed: int = 0, features: int = 8, hidden: int = 16, outputs: int = 3) -> Any:
    """Dense(relu) -> Dense(tanh) -> Dense; input `features` of shape (None, features)."""
    import keras
    from keras import layers

    _seed(seed)
    inputs = keras.Input((features,), name="features")
    x = layers.Dense(hidden, activation="relu", name="hidden1")(inputs)
    x = layers.Dense(hidden, activation="tanh", name="hidden2")(x)
    out = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, out, name="mlp")


def while_cond_function(seed: int = 0, features: int = 4) -> Any:
    """A tf.function(x: (None, features) f32, n: () i32) -> {"out", "steps"}:
    a tf.while_loop running n steps of `acc = acc * 0.5 + w` (w a captured variable), then a
    tf.cond choosing `relu(acc)` or `acc * w` depending on n > 2.

    The variable is attached to the function (`fn.weight`) so it stays alive."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    weight = tf.Variable(rng.standard_normal(features).astype(np.float32), name="w")

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, features), tf.float32, name="x"),
            tf.TensorSpec((), tf.int32, name="n"),
        ]
    )
    def loop_and_branch(x, n):
        def body(i, acc):
            return i + 1, acc * 0.5 + weight

        steps, acc = tf.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x])
        out = tf.cond(n > 2, lambda: tf.nn.relu(acc), lambda: acc * weight)
        return {"out": out, "steps": steps}

    loop_and_branch.weight = weight
    return loop_and_branch


def lstm_gru(seed: int = 0, timesteps: int = 5, features: int = 3, units: int = 4) -> Any:
    """Keras 3 Sequential: LSTM(units, return_sequences=True) -> GRU(units // 2)."""
    import keras
    from keras import layers

    _seed(seed)
    return keras.Sequential(
        [
            keras.Input((timesteps, features), name="sequence"),
            layers.LSTM(units, return_sequences=True, name="lstm"),
            layers.GRU(max(units // 2, 1), name="gru"),
        ],
        name="lstm_gru",
    )


def transformer_block(seed: int = 0, seq_len: int = 6, dim: int = 8, heads: int = 2) -> Any:
    """x -> MultiHeadAttention(x, x) + x -> LayerNorm -> Dense(2*dim, relu) -> Dense(dim)
    + residual -> LayerNorm. Input `tokens` (None, seq_len, dim)."""
    import keras
    from keras import layers

    _seed(seed)
    inputs = keras.Input((seq_len, dim), name="tokens")
    attn = layers.MultiHeadAttention(heads, dim // heads, name="mha")(inputs, inputs)
    x = layers.LayerNormalization(name="ln1")(inputs + attn)
    ffn = layers.Dense(2 * dim, activation="relu", name="ffn1")(x)
    ffn = layers.Dense(dim, name="ffn2")(ffn)
    outputs = layers.LayerNormalization(name="ln2")(x + ffn)
    return keras.Model(inputs, outputs, name="transformer_block")


def write_multi_signature_saved_model(path: str | os.PathLike, seed: int = 0) -> str:
    """Save a tf.Module with two signatures and return the directory:

    - "serving_default": x (None, 4) f32 -> {"y": relu(x @ w + b)}  (w: 4x3, b: 3)
    - "scale": a (None, 3) f32, b (None, 3) f32 -> {"sum": a + b * s, "diff": a - b}
      (s: a scalar variable)
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    class TwoSignatures(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(rng.standard_normal((4, 3)).astype(np.float32), name="w")
            self.b = tf.Variable(rng.standard_normal(3).astype(np.float32), name="b")
            self.s = tf.Variable(np.float32(rng.uniform(0.5, 2.0)), name="s")

        @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="x")])
        def predict(self, x):
            return {"y": tf.nn.relu(tf.matmul(x, self.w) + self.b)}

        @tf.function(
            input_signature=[
                tf.TensorSpec((None, 3), tf.float32, name="a"),
                tf.TensorSpec((None, 3), tf.float32, name="b"),
            ]
        )
        def scale(self, a, b):
            return {"sum": a + b * self.s, "diff": a - b}

    module = TwoSignatures()
    path = os.fspath(path)
    tf.saved_model.save(
        module,
        path,
        signatures={"serving_default": module.predict, "scale": module.scale},
        options=tf.saved_model.SaveOptions(save_debug_info=True),
    )
    return path


def random_inputs(
    shapes: Sequence[Sequence[int | None]] | Mapping[str, Sequence[int | None]],
    seed: int = 0,
    dtype: Any = np.float32,
    batch: int = 2,
) -> Any:
    """Seeded inputs for `shapes` (a list, or a dict name -> shape); None dims become `batch`.
    Floats are standard normal, ints uniform in [0, 10)."""
    rng = np.random.default_rng(seed)

    def make(shape: Sequence[int | None]) -> np.ndarray:
        dims = tuple(batch if d is None else int(d) for d in shape)
        if np.issubdtype(np.dtype(dtype), np.integer):
            return rng.integers(0, 10, dims).astype(dtype)
        return rng.standard_normal(dims).astype(dtype)

    if isinstance(shapes, Mapping):
        return {name: make(shape) for name, shape in shapes.items()}
    return [make(shape) for shape in shapes]
