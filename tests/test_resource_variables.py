"""Mutable resource variables: a model that assigns a captured tf.Variable converts to
VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE with an initializer subgraph run by CALL_ONCE, and
several invokes on one LiteRT interpreter evolve the state exactly as TF's eager calls do."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from flex_runtime import flex_python  # noqa: E402, F401

from tests.e2e_util import op_histogram  # noqa: E402
from tflconv.api.converter import ConverterError, TFLiteConverter, convert  # noqa: E402

STEPS = 4


def _inputs(dtype: str, shape: tuple[int, ...], step: int) -> np.ndarray:
    rng = np.random.default_rng(step)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.uniform(-2, 2, shape).astype(dtype)


def _interpreter(tflite: bytes) -> Interpreter:
    interp = Interpreter(model_content=tflite, num_threads=1)
    interp.allocate_tensors()
    return interp


def _invoke(interp: Interpreter, key: str, **inputs: np.ndarray) -> list[np.ndarray]:
    out = interp.get_signature_runner(key)(**inputs)
    return [out[k] for k in sorted(out)]


def _tf_call(fn, **inputs: np.ndarray) -> list[np.ndarray]:
    out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
    if not isinstance(out, dict):
        out = {"output_0": out}
    return [np.asarray(out[k]) for k in sorted(out)]


def _same(got: list[np.ndarray], want: list[np.ndarray], what: str) -> None:
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{what}: {g.shape} {g.dtype} vs {w}"
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


class Accumulator(tf.Module):
    """A running state: old value, assign_add, assign_sub, a read-only scale, a step counter."""

    def __init__(self, dtype: str, shape: tuple[int, ...]):
        self.total = tf.Variable(_inputs(dtype, shape, 100))
        self.scale = tf.Variable(np.full(shape, 3, dtype))  # read only: stays a constant
        self.steps = tf.Variable(np.int64(7))
        spec = tf.TensorSpec(shape, tf.as_dtype(dtype))
        self.step = tf.function(self._step, input_signature=[spec, spec])

    def _step(self, x, y):
        before = self.total.read_value()
        self.total.assign_add(x)
        self.total.assign_sub(y)
        self.steps.assign_add(1)
        return {
            "before": before,
            "after": self.total.read_value() * self.scale,
            "steps": self.steps.read_value(),
        }


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_accumulator_state_evolves_like_tf(dtype, shape):
    m = Accumulator(dtype, shape)
    tflite = convert([m.step.get_concrete_function()])
    hist = op_histogram(tflite)
    assert hist["tfl.call_once"] == 1
    assert hist["tfl.assign_variable"] == 5  # 3 updates + 2 initial values
    assert hist["tfl.read_variable"] == 6  # before, 3 updates, after, steps
    interp = _interpreter(tflite)
    for step in range(STEPS):
        x, y = _inputs(dtype, shape, step), _inputs(dtype, shape, step + 10)
        got = _invoke(interp, "serving_default", x=x, y=y)
        _same(got, _tf_call(m.step, x=x, y=y), f"{dtype} {shape} step {step}")


@pytest.mark.parametrize("dtype", ["float64", "bool", "int8", "uint8"])
def test_swap_state_of_other_dtypes(dtype):
    """Variables of the other element types the kernels hold: return the previous input."""
    state = tf.Variable(_inputs(dtype, (2, 2), 100))
    spec = tf.TensorSpec((2, 2), tf.as_dtype(dtype))

    @tf.function(input_signature=[spec])
    def swap(x):
        old = state.read_value()
        state.assign(x)
        return old

    tflite = convert([swap.get_concrete_function()])
    interp = _interpreter(tflite)
    for step in range(STEPS):
        x = _inputs(dtype, (2, 2), step)
        _same(_invoke(interp, "serving_default", x=x), _tf_call(swap, x=x), f"{dtype} {step}")


def test_structure_matches_the_official_converter():
    """Same builtins as tf.lite.TFLiteConverter (experimental_enable_resource_variables)."""

    class Counter(tf.Module):
        def __init__(self):
            self.v = tf.Variable(np.array([1.0, 2.0, 3.0], np.float32))
            self.c = tf.Variable(np.array([10.0], np.float32))
            self.n = tf.Variable(0, dtype=tf.int32)

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
        def f(self, x):
            self.v.assign_add(x)
            self.n.assign_add(1)
            return self.v.read_value() * self.c, self.n.read_value()

    m = Counter()
    cf = m.f.get_concrete_function()
    official = tf.lite.TFLiteConverter.from_concrete_functions([cf], m)
    official.experimental_enable_resource_variables = True
    want = op_histogram(official.convert())
    ours = TFLiteConverter.from_concrete_functions([cf], m)
    ours.experimental_enable_resource_variables = True
    assert op_histogram(ours.convert()) == want


def test_two_signatures_share_the_state(tmp_path):
    """A SavedModel: `get` only reads the variable `put` writes (imported first or not, its
    read is a real read), both signatures on one interpreter."""

    class Shared(tf.Module):
        def __init__(self):
            self.v = tf.Variable(np.array([0.5, -1.0], np.float32))

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def put(self, x):
            self.v.assign(self.v * 2.0 + x)
            return {"out": self.v.read_value()}

        @tf.function(input_signature=[])
        def get(self):
            return {"out": self.v + 1.0}

    m = Shared()
    path = str(tmp_path / "sm")
    tf.saved_model.save(m, path, signatures={"get": m.get, "put": m.put})
    tflite = convert(path)
    loaded = tf.saved_model.load(path)
    interp = _interpreter(tflite)
    for step in range(STEPS):
        x = _inputs("float32", (2,), step)
        _same(_invoke(interp, "get"), _tf_call(loaded.signatures["get"]), f"get {step}")
        _same(_invoke(interp, "put", x=x), _tf_call(loaded.signatures["put"], x=x), f"put {step}")


def test_writes_in_loops_branches_and_nested_functions():
    """Assignments inside a while body, a cond branch and a nested tf.function, reached
    through control dependencies only."""

    class Loops(tf.Module):
        def __init__(self):
            self.acc = tf.Variable(np.zeros([3], np.float32))
            self.hits = tf.Variable(np.int32(0))

        @tf.function
        def bump(self):
            self.hits.assign_add(1)

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32), tf.TensorSpec([], tf.int32)])
        def run(self, x, n):
            def body(i):
                self.acc.assign(self.acc * 0.5 + x)
                return (i + 1,)

            tf.while_loop(lambda i: i < n, body, (tf.constant(0),))
            if tf.reduce_sum(x) > 0.0:
                self.bump()
            return {"acc": self.acc.read_value(), "hits": self.hits.read_value()}

    m = Loops()
    tflite = convert([m.run.get_concrete_function()])
    interp = _interpreter(tflite)
    for step in range(STEPS):
        x = _inputs("float32", (3,), step)
        n = np.int32(step % 3 + 1)
        _same(_invoke(interp, "serving_default", x=x, n=n), _tf_call(m.run, x=x, n=n), str(step))


def test_variables_and_tables_share_one_initializer():
    class Both(tf.Module):
        def __init__(self):
            init = tf.lookup.KeyValueTensorInitializer(["a", "b"], tf.constant([1, 2], tf.int64))
            self.table = tf.lookup.StaticHashTable(init, -1)
            self.seen = tf.Variable(np.int64(0))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def f(self, keys):
            found = self.table.lookup(keys)
            self.seen.assign_add(tf.reduce_sum(found))
            return {"found": found, "seen": self.seen.read_value()}

    m = Both()
    tflite = convert([m.f.get_concrete_function()])
    hist = op_histogram(tflite)
    assert hist["tfl.call_once"] == 1 and hist["tfl.hashtable_import"] == 1
    interp = _interpreter(tflite)
    for keys in (["a", "b", "c"], ["b"], ["b", "b"]):
        k = np.array(keys, object)
        got = _invoke(interp, "serving_default", keys=np.array(keys))
        _same(got, _tf_call(m.f, keys=k), str(keys))


def test_read_only_variables_stay_constants():
    v = tf.Variable(np.array([1.0, 2.0], np.float32))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def f(x):
        return x * v

    hist = op_histogram(convert([f.get_concrete_function()]))
    assert "tfl.var_handle" not in hist and "tfl.call_once" not in hist


def test_variable_created_inside_the_function():
    """VarHandleOp in the graph (assigned, then read) -> in-place VAR_HANDLE, as the official."""

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32)])
    def f(x):
        h = tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[2, 3], shared_name="inner")
        assign = tf.raw_ops.AssignVariableOp(resource=h, value=x * 2.0)
        with tf.control_dependencies([assign]):
            return tf.raw_ops.ReadVariableOp(resource=h, dtype=tf.float32) + x

    tflite = convert([f.get_concrete_function()])
    assert op_histogram(tflite)["tfl.var_handle"] == 1
    interp = _interpreter(tflite)
    for step in range(2):
        x = _inputs("float32", (2, 3), step)
        _same(_invoke(interp, "serving_default", x=x), _tf_call(f, x=x), str(step))


def test_resource_variables_option():
    counter = tf.Variable(np.float32(1.0))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def bump(x):
        counter.assign_add(1.0)
        return x * counter.read_value()

    cf = bump.get_concrete_function()
    converter = TFLiteConverter.from_concrete_functions([cf])
    assert converter.experimental_enable_resource_variables is True  # the official default
    converter.experimental_enable_resource_variables = False
    with pytest.raises(ConverterError, match="assigns variables.*experimental_enable_resource"):
        converter.convert()

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def read(x):
        return x * counter

    converter = TFLiteConverter.from_concrete_functions([read.get_concrete_function()])
    converter.experimental_enable_resource_variables = False
    assert "tfl.var_handle" not in op_histogram(converter.convert())


def test_unsupported_writes_are_refused():
    table = tf.Variable(np.zeros([4, 2], np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32)])
    def scatter(x):
        table.scatter_update(tf.IndexedSlices(x, tf.constant([1])))
        return table.read_value()

    with pytest.raises(ConverterError, match="ResourceScatterUpdate.*writes a captured variable"):
        convert([scatter.get_concrete_function()])

    half = tf.Variable(np.zeros([2], np.float16))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float16)])
    def f16(x):
        half.assign_add(x)
        return half.read_value()

    with pytest.raises(ConverterError, match="writes a f16 variable"):
        convert([f16.get_concrete_function()])


def _running_sum(layer, x, keras):
    layer.total.assign_add(keras.ops.sum(x, axis=0))
    return x * layer.total


def _read_write_read(layer, x, keras):
    before = x * layer.total
    layer.total.assign(keras.ops.max(x, axis=0) + 2.0)
    return before - 3.0 * layer.total


@pytest.mark.parametrize("call", [_running_sum, _read_write_read], ids=lambda f: f.__name__)
def test_keras_layer_with_a_state(call):
    """A Keras layer that updates a non-trainable weight in `call`, through from_keras_model.
    Keras models are traced without TF's automatic control dependencies: a read before the
    write and one after it still see the old and the new value (creation order)."""
    keras = pytest.importorskip("keras")

    class Stateful(keras.layers.Layer):
        def build(self, shape):
            self.total = self.add_weight(shape=(shape[-1],), initializer="ones", trainable=False)

        def call(self, x):
            return call(self, x, keras)

    inp = keras.Input((3,), batch_size=2)
    model = keras.Model(inp, Stateful()(inp))
    tflite = TFLiteConverter.from_keras_model(model).convert()
    assert op_histogram(tflite)["tfl.assign_variable"] == 2  # the initializer, the update
    interp = _interpreter(tflite)
    details = interp.get_input_details()[0], interp.get_output_details()[0]
    for step in range(STEPS):
        x = _inputs("float32", (2, 3), step)
        interp.set_tensor(details[0]["index"], x)
        interp.invoke()
        got = interp.get_tensor(details[1]["index"])
        np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-6, atol=1e-6)


def test_int8_state_update_matches_the_official_converter():
    """Full-integer quantization keeps the variables float (QUANTIZE / DEQUANTIZE around the
    quantized ops); over several invokes the outputs equal the official converter's."""
    from tflconv.api.options import Optimize

    class Cell(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.w = tf.Variable(rng.standard_normal((8, 8)).astype(np.float32))
            self.state = tf.Variable(np.zeros((1, 8), np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
        def f(self, x):
            h = tf.matmul(x, self.w) + self.state
            self.state.assign(tf.tanh(h))
            return h

    def data():
        for i in range(8):
            yield [np.random.default_rng(i).standard_normal((1, 8)).astype(np.float32)]

    m = Cell()
    ours = TFLiteConverter.from_concrete_functions([m.f.get_concrete_function()])
    ours.optimizations = {Optimize.DEFAULT}
    ours.representative_dataset = data
    official = tf.lite.TFLiteConverter.from_concrete_functions([m.f.get_concrete_function()], m)
    official.optimizations = [tf.lite.Optimize.DEFAULT]
    official.representative_dataset = data
    interps = [_interpreter(ours.convert()), _interpreter(official.convert())]
    for step in range(STEPS):
        x = _inputs("float32", (1, 8), step + 10)
        got, want = (_invoke(i, "serving_default", x=x) for i in interps)
        np.testing.assert_allclose(got[0], want[0], atol=1e-4, err_msg=str(step))


_FLEX_INVOKES = """
import sys, numpy as np, tensorflow as tf
runner = tf.lite.Interpreter(model_path=sys.argv[1]).get_signature_runner("serving_default")
xs = np.load(sys.argv[2])
np.save(sys.argv[3], np.stack([runner(x=x)["output_0"] for x in xs]))
"""


def test_select_tf_ops_only_keeps_the_state(flex_python, tmp_path):  # noqa: F811
    """SELECT_TF_OPS alone: the variable ops are Flex ops, CALL_ONCE still initializes them;
    run in TF 2.18's Flex interpreter, several invokes on one interpreter match TF."""
    import subprocess

    from tflconv.api.options import OpsSet

    counter = tf.Variable(np.float32(1.5))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def bump(x):
        counter.assign_add(tf.reduce_sum(x))
        return x * counter.read_value()

    converter = TFLiteConverter.from_concrete_functions([bump.get_concrete_function()])
    converter.target_spec.supported_ops = [OpsSet.SELECT_TF_OPS]
    tflite = converter.convert()
    assert op_histogram(tflite)["tfl.call_once"] == 1
    xs = np.stack([_inputs("float32", (2,), step) for step in range(STEPS)])
    (tmp_path / "m.tflite").write_bytes(tflite)
    np.save(tmp_path / "xs.npy", xs)
    args = [str(tmp_path / n) for n in ("m.tflite", "xs.npy", "out.npy")]
    proc = subprocess.run(
        [str(flex_python), "-c", _FLEX_INVOKES, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.load(tmp_path / "out.npy")
    want = np.stack([bump(tf.constant(x)).numpy() for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-6)
