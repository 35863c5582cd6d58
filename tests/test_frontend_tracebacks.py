"""The TF frontend traces models with Keras', tflconv's and the standard library's frames
filtered out of TF's op tracebacks (`attrs.short_tracebacks`, a load-time shortcut): every op
still gets the source line it got from the full traceback."""

from __future__ import annotations

import contextlib
import functools
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tflconv.frontends.tensorflow import attrs, frontend  # noqa: E402
from tflconv.frontends.tensorflow.keras_models import keras_input_signature  # noqa: E402

THIS_FILE = os.path.abspath(__file__)


class Scale(keras.layers.Layer):
    """A layer written here: its ops' source lines point into this file."""

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        y = x * self.gain  # the line of the Mul
        return tf.nn.relu(y) + 1.0


def _models() -> dict[str, keras.Model]:
    keras.utils.set_random_seed(0)
    dense_in = keras.Input((6,), name="x")
    dense = keras.Model(dense_in, keras.layers.Dense(3)(Scale()(dense_in)))
    conv_in = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu")(conv_in)
    x = keras.layers.BatchNormalization()(x)
    conv = keras.Model(conv_in, keras.layers.GlobalAveragePooling2D()(Scale()(x)))
    seq_in = keras.Input((5, 4), name="sequence")
    lstm = keras.Model(seq_in, keras.layers.LSTM(3)(seq_in))
    return {"dense+custom": dense, "conv+bn": conv, "lstm": lstm}


MODELS = _models()


def _trace(model: keras.Model, short: bool):
    fn = tf.function(
        functools.partial(model.__call__, training=False),
        input_signature=keras_input_signature(model),
        autograph=False,
    )
    with attrs.short_tracebacks() if short else contextlib.nullcontext():
        return fn.get_concrete_function()  # one line: the user frame of every op


def _lines(graph, locator: attrs.SourceLocator) -> dict[str, object]:
    """Source line per op, through the bodies of calls and control flow."""
    lines = {}
    graphs = [graph] + [f.graph for f in graph._functions.values() if hasattr(f, "graph")]
    for g in graphs:
        for op in g.get_operations():
            lines[f"{g.name}/{op.name}"] = locator.from_traceback(op.traceback)
    return lines


@pytest.mark.parametrize("name", list(MODELS))
def test_short_tracebacks_keep_every_source_line(name):
    model = MODELS[name]
    locator = attrs.SourceLocator()
    full = _lines(_trace(model, short=False).graph, locator)
    short = _lines(_trace(model, short=True).graph, locator)
    assert len(full) == len(short) > 0
    # Function names are numbered per trace: compare in op order.
    assert list(short.values()) == list(full.values())
    if name != "lstm":
        scale_lines = {s for s in full.values() if s is not None and s.file == THIS_FILE}
        assert any(s.line == Scale.call.__code__.co_firstlineno + 1 for s in scale_lines)


@pytest.mark.parametrize("name", ["dense+custom", "conv+bn"])
def test_imported_ops_of_user_layers_point_into_their_code(name):
    module = frontend.load_model(MODELS[name]).module
    muls = [op for op in module.walk() if op.name == "tf.Mul"]
    lines = {(s.file, s.line) for op in muls for s in op.location.sources}
    assert (THIS_FILE, Scale.call.__code__.co_firstlineno + 1) in lines, lines


def test_the_filter_is_scoped_to_the_trace():
    """Inside the block Keras frames are dropped; ops traced after it keep them."""
    layer = keras.layers.Dense(2)

    def keras_frames() -> int:
        fn = tf.function(layer, input_signature=[tf.TensorSpec([1, 3], tf.float32)])
        ops = fn.get_concrete_function().graph.get_operations()
        return sum(
            "keras" in frame.filename for op in ops for frame in op.traceback.get_user_frames()
        )

    before = keras_frames()
    with attrs.short_tracebacks():
        inside = keras_frames()
    after = keras_frames()
    assert inside < before == after
