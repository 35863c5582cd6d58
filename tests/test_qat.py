"""Quantization-aware-trained models (tensorflow-model-optimization's `quantize_model`:
FakeQuantWithMinMaxVars / ...PerChannel with learned ranges) convert to int8 as the official
converter converts them: the same op set, the same scales and zero points (taken from the
FakeQuant ranges, per channel for conv weights), and bit-identical outputs in LiteRT's builtin
kernels (XNNPACK off), from the tf-keras model object and from its SavedModel."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_model_optimization") is None
    or importlib.util.find_spec("tf_keras") is None,
    reason="needs tensorflow-model-optimization and tf-keras",
)

import tflconv  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402

SHAPE = (1, 10, 10, 3)


def _tfmot():
    """tensorflow_model_optimization and tf_keras. Importing tfmot sets TF_USE_LEGACY_KERAS=1
    for the whole process and binds tf.keras to tf_keras, which changes how tf.lite converts
    Keras 3 models in later tests: tf.keras is bound first and the variable put back."""
    import tensorflow as tf

    # tf.keras binds once, on first use: bind it to Keras 3 (what the other tests convert)
    # before tfmot touches it with the variable set
    getattr(tf.keras, "version", None)
    old = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        import tensorflow_model_optimization as tfmot
        import tf_keras
    finally:
        if old is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = old
    return tfmot, tf_keras


def _qat_cnn(seed: int):
    """conv(relu) -> depthwise -> relu -> max pool -> conv -> add (residual) -> flatten ->
    dense, wrapped by quantize_model and trained for one short epoch (learned ranges)."""
    tfmot, tf_keras = _tfmot()
    tf_keras.utils.set_random_seed(seed)
    layers = tf_keras.layers
    i = tf_keras.Input(SHAPE[1:], batch_size=1)
    x = layers.Conv2D(8, 3, activation="relu")(i)
    y = layers.DepthwiseConv2D(3, padding="same")(x)
    y = layers.ReLU()(y)
    y = layers.Conv2D(8, 1)(y)
    x = layers.Add()([x, y])
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    model = tfmot.quantization.keras.quantize_model(tf_keras.Model(i, layers.Dense(5)(x)))
    model.compile("adam", "mse")
    rng = np.random.default_rng(seed)
    xs = rng.uniform(-1, 1, (24, *SHAPE[1:])).astype(np.float32)
    ys = rng.normal(size=(24, 5)).astype(np.float32)
    model.fit(xs, ys, epochs=1, batch_size=1, verbose=0)
    return model


def _qat_bn_concat(seed: int):
    """conv -> batch norm -> relu6 -> [1x1 conv(relu) | depthwise -> batch norm -> relu] ->
    concat -> average pool -> strided conv -> global pool -> dense(softmax): tfmot leaves the
    batch norms unfolded (their multiplier goes into the weight scales), quantizes a concat's
    output only and puts its own FakeQuant behind the pooling (a requantize)."""
    tfmot, tf_keras = _tfmot()
    tf_keras.utils.set_random_seed(seed)
    layers = tf_keras.layers
    i = tf_keras.Input(SHAPE[1:], batch_size=1)
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(i)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    a = layers.Conv2D(4, 1, activation="relu")(x)
    b = layers.DepthwiseConv2D(3, padding="same")(x)
    b = layers.ReLU()(layers.BatchNormalization()(b))
    x = layers.AveragePooling2D(2)(layers.Concatenate()([a, b]))
    x = layers.Conv2D(6, 3, strides=2, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = tf_keras.Model(i, layers.Dense(5, activation="softmax")(x))
    model = tfmot.quantization.keras.quantize_model(model)
    model.compile("adam", "mse")
    rng = np.random.default_rng(seed)
    xs = rng.uniform(-1, 1, (16, *SHAPE[1:])).astype(np.float32)
    ys = rng.uniform(size=(16, 5)).astype(np.float32)
    model.fit(xs, ys, epochs=1, batch_size=2, verbose=0)
    return model


def _official(model) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return conv.convert()


@pytest.fixture(scope="module")
def qat_model():
    return _qat_cnn(0)


@pytest.fixture(scope="module")
def saved_model(qat_model, tmp_path_factory):
    import tensorflow as tf

    path = tmp_path_factory.mktemp("qat") / "saved_model"
    tf.saved_model.save(qat_model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def official(qat_model):
    return _official(qat_model)


def _ours(source) -> bytes:
    if isinstance(source, str):
        conv = tflconv.TFLiteConverter.from_saved_model(source)
    else:
        conv = tflconv.TFLiteConverter.from_keras_model(source)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    return conv.convert()


def _run(tflite: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_content=tflite,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _inputs(n: int = 6, seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.2, 1.2, SHAPE).astype(np.float32) for _ in range(n)]


def _compute_ops(tflite: bytes) -> list[tuple[str, list]]:
    """(op name, [(dtype, scales, zero points, axis) of each operand and result]), sorted."""
    fn = read_flatbuffer(tflite).functions[0]
    out = []
    for op in fn.ops:
        if op.dialect != "tfl" or op.name == "tfl.no_value":
            continue
        types = []
        for v in (*op.operands, *op.results):
            q = v.type.quant
            if v.type.dtype == "i32" and q is None:
                continue  # shape operands
            types.append(
                (v.type.dtype, q.scale if q else (), q.zero_point if q else (), q.axis if q else 0)
            )
        out.append((op.name, types))
    return sorted(out, key=lambda o: (o[0], len(o[1]), str([t[0] for t in o[1]])))


def _assert_same_parameters(ours: bytes, official: bytes) -> None:
    a, b = _compute_ops(ours), _compute_ops(official)
    assert [o[0] for o in a] == [o[0] for o in b]
    for (name, ta), (_, tb) in zip(a, b):
        assert len(ta) == len(tb), name
        for (da, sa, za, xa), (db, sb, zb, xb) in zip(ta, tb):
            assert (da, za, xa) == (db, zb, xb), name
            # a few scales differ by 1 ulp (float32 there, float64 here: bias scales, batch-norm
            # multipliers folded into weight scales); the integers agree (outputs are equal)
            np.testing.assert_allclose(sa, sb, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("source", ["keras", "saved_model"])
def test_qat_model_converts_like_the_official(source, qat_model, saved_model, official):
    ours = _ours(qat_model if source == "keras" else saved_model)
    _assert_same_parameters(ours, official)
    for x in _inputs():
        np.testing.assert_array_equal(_run(ours, x), _run(official, x))
    meta = read_flatbuffer(ours).attributes["conversion_metadata"]
    assert meta["model_optimization_modes"] == ["QUANTIZATION_AWARE_TRAINING"]


def test_integer_io_with_a_dataset_like_the_official(qat_model):
    """int8 input/output, integer only, a representative dataset (tf.lite requires one for
    integer IO): the same parameters and integer outputs; calibration ranges only what no
    FakeQuant covers (here nothing: a calibrated range behind the max pool follows it)."""
    import tensorflow as tf

    data = [x for x in _inputs(4, 3)]
    convs = []
    for api in (tflconv, tf.lite):
        conv = api.TFLiteConverter.from_keras_model(qat_model)
        conv.optimizations = [api.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([x] for x in data)
        conv.target_spec.supported_ops = [api.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
        convs.append(conv.convert())
    ours, official = convs
    _assert_same_parameters(ours, official)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.integers(-128, 128, SHAPE).astype(np.int8)
        np.testing.assert_array_equal(_run(ours, x), _run(official, x))


def test_batch_norm_concat_and_pooling_like_the_official():
    model = _qat_bn_concat(1)
    ours, official = _ours(model), _official(model)
    _assert_same_parameters(ours, official)
    for x in _inputs(4, 3):
        np.testing.assert_array_equal(_run(ours, x), _run(official, x))


def test_qat_model_matches_the_keras_qat_model(qat_model):
    ours = _ours(qat_model)
    # the only op outside int8: the quantize of the float input and the final dequantize
    names = [op.name for op in read_flatbuffer(ours).functions[0].ops if op.dialect == "tfl"]
    assert names.count("tfl.quantize") == 1 and names.count("tfl.dequantize") == 1
    step = max(
        op.operands[0].type.quant.scale[0]
        for op in read_flatbuffer(ours).functions[0].ops
        if op.name == "tfl.dequantize"
    )
    for x in _inputs(4, 11):
        expected = np.asarray(qat_model(x, training=False))
        # integer kernels round where TF's fake quantization computes in float: a few steps
        np.testing.assert_allclose(_run(ours, x), expected, atol=4 * step)


def test_float_conversion_of_a_qat_model_keeps_the_fake_quantization(qat_model):
    """Without optimizations the model stays float, fake quantization included (TF's numbers)."""
    conv = tflconv.TFLiteConverter.from_keras_model(qat_model)
    tflite = conv.convert()
    names = [op.name for op in read_flatbuffer(tflite).functions[0].ops]
    assert "tfl.quantize" in names and "tfl.conv_2d" in names
    fn = read_flatbuffer(tflite).functions[0]
    assert fn.args[0].type.dtype == "f32"
    for x in _inputs(3, 5):
        expected = np.asarray(qat_model(x, training=False))
        np.testing.assert_allclose(_run(tflite, x), expected, atol=2e-2)


def test_recipe_is_chosen_from_the_graph(qat_model, saved_model):
    from tflconv.api.quantization import plan_quantization, source_has_fake_quant

    assert source_has_fake_quant(qat_model) and source_has_fake_quant(saved_model)
    plan = plan_quantization(["DEFAULT"], qat=True)
    assert plan is not None and plan.config.qat
    assert plan.pipeline.startswith("fake-quant-ranges,prepare-quantize{")
    assert "calibrate" not in plan.pipeline and "bias-correction" not in plan.pipeline
    assert plan_quantization(["DEFAULT"]).mode == "dynamic"  # a float graph: weights only


def _partly_fake_quantized():
    """FakeQuant on the input, the weights and the output, none on the matmul's result (a
    graph the FakeQuants do not cover: tflconv cannot give that tensor int8 parameters)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8)).astype(np.float32)

    def fn(a):
        a = tf.quantization.fake_quant_with_min_max_args(a, -4.0, 4.0)
        k = tf.quantization.fake_quant_with_min_max_vars(
            tf.constant(w), tf.constant(-3.0), tf.constant(3.0), narrow_range=True
        )
        y = tf.matmul(a, k)
        return tf.quantization.fake_quant_with_min_max_args(y * y, 0.0, 200.0)

    spec = [tf.TensorSpec((2, 16), tf.float32)]
    return tf.function(fn, input_signature=spec).get_concrete_function()


@pytest.mark.parametrize("dataset", [False, True])
def test_tensors_the_fake_quants_leave_out(dataset):
    """Without calibration data the uncovered ops stay float and a FakeQuant between float ops
    stays a quantize/dequantize pair (TF's clipping kept: the model computes what TF does);
    with a representative dataset `calibrate` ranges the rest and everything is int8."""
    import tensorflow as tf

    cf = _partly_fake_quantized()
    rng = np.random.default_rng(1)
    conv = tflconv.TFLiteConverter.from_concrete_functions([cf])
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    if dataset:
        conv.representative_dataset = [
            rng.uniform(-4, 4, (2, 16)).astype(np.float32) for _ in range(8)
        ]
    tflite = conv.convert()
    names = [op.name for op in read_flatbuffer(tflite).functions[0].ops]
    fn = read_flatbuffer(tflite).functions[0]
    fc = next(op for op in fn.ops if op.name == "tfl.fully_connected")
    for _ in range(3):
        x = rng.uniform(-5, 5, (2, 16)).astype(np.float32)  # beyond the input's range too
        got, want = _run(tflite, x), cf(tf.constant(x)).numpy()
        if dataset:
            np.testing.assert_allclose(got, want, atol=3 * 200 / 255)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    if dataset:
        assert fc.results[0].type.dtype == "i8" and names.count("tfl.quantize") == 1
    else:
        assert fc.results[0].type.dtype == "f32" and names.count("tfl.quantize") >= 2


def test_fake_quant_only_on_weights_without_data_stays_float(tmp_path):
    """FakeQuant on a constant weight only (LiteRT's op_tests fully_connected_4bit_hybrid), with
    optimizations=[DEFAULT] and no dataset: there are no activation ranges to quantize with, so
    the model stays float on the fake-quantized weights, as the official converter leaves it
    (it used to fail with "no FakeQuant ranges")."""
    import tensorflow as tf

    path = str(tmp_path / "saved_model")
    rng = np.random.default_rng(0)
    weights = rng.uniform(-1, 1, [42, 40])
    weights = np.round(weights / (np.abs(weights).max() / 7.0)).astype(np.float32)
    x_value = np.round(rng.random([40, 42])).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [40, 42], name="x")
        fake = tf.quantization.fake_quant_with_min_max_vars(
            tf.constant(weights), min=-7, max=7, num_bits=4, narrow_range=True
        )
        y = tf.matmul(x, fake)
        with tf.compat.v1.Session() as sess:
            expected = sess.run(y, {x: x_value})
            tf.compat.v1.saved_model.simple_save(sess, path, {"x": x}, {"y": y})
    conv = tflconv.TFLiteConverter.from_saved_model(path)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    got = _run(conv.convert(), x_value)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
