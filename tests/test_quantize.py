"""Post-training quantization end to end: every recipe runs in LiteRT, has the tensor types and
quantization parameters the runtime needs (compared with TF 2.21's own converter on the same
model and calibration data) and stays close to the float model."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tflconv  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402

INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
SHAPE = (1, 8, 8, 8)


def _cnn():
    """conv(relu) -> depthwise -> avgpool -> reshape -> dense(1024 weights) -> dense -> softmax."""
    import keras

    keras.utils.set_random_seed(0)
    i = keras.Input(SHAPE[1:], batch_size=1, name="image")
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv")(i)  # 1152 weights
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)  # 144 weights
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Reshape((-1,), name="flat")(x)
    x = keras.layers.Dense(16, name="dense")(x)  # 144 x 16 weights
    x = keras.layers.Dense(4, name="logits")(x)
    return keras.Model(i, keras.layers.Softmax(name="probs")(x))


def _data(n=6, seed=0, shape=SHAPE):
    rng = np.random.default_rng(seed)
    return [[rng.uniform(-1, 1, shape).astype(np.float32)] for _ in range(n)]


@pytest.fixture(scope="module")
def cnn():
    return _cnn()


@pytest.fixture(scope="module")
def data():
    return _data()


OFFICIAL_NUMBERS = {"bias_correction": False}
"""tflconv options that reproduce the official converter's int8 numbers exactly."""


def convert(model, dataset=None, *, ours=True, **options):
    """Convert with tflconv (ours) or tf.lite, same options. Options: optimizations default
    [DEFAULT], supported_ops/types, io (inference types), keep_float, bias_correction (ours
    only)."""
    import tensorflow as tf

    api = tflconv if ours else tf.lite
    conv = api.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [api.Optimize.DEFAULT]
    if dataset is not None:
        conv.representative_dataset = lambda: iter(dataset)
    if "ops" in options:
        conv.target_spec.supported_ops = [getattr(api.OpsSet, o) for o in options["ops"]]
    if "types" in options:
        conv.target_spec.supported_types = options["types"]
    if "io" in options:  # a dtype name: tf.lite wants the tf.DType
        conv.inference_input_type = conv.inference_output_type = getattr(tf, options["io"])
    if "keep_float" in options:
        conv.keep_float = options["keep_float"]
    if ours and "bias_correction" in options:
        conv.bias_correction = options["bias_correction"]
    return conv.convert()


def run(tflite, x):
    """Run on float input x, quantizing/dequantizing integer IO with the model's parameters."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    if d["dtype"] != np.float32:
        s, z = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.rint(x / s) + z, info.min, info.max).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    o = it.get_output_details()[0]
    y = it.get_tensor(o["index"])
    if o["dtype"] != np.float32:
        s, z = o["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y


def max_error(model, tflite, dataset):
    return max(float(np.abs(run(tflite, d[0]) - np.asarray(model(d[0]))).max()) for d in dataset)


def rmse(model, tflite, dataset):
    errors = [run(tflite, d[0]) - np.asarray(model(d[0])) for d in dataset]
    return float(np.sqrt(np.mean(np.square(errors))))


def ops_of(tflite):
    """[(op name, [operand types], [result types])] of the main subgraph, in order."""
    fn = read_flatbuffer(tflite).functions[0]
    return [
        (op.name, [v.type for v in op.operands], [r.type for r in op.results])
        for op in fn.ops
        if op.dialect == "tfl" and op.name != "tfl.no_value"
    ]


def compute_ops(tflite):
    """The ops that compute (no quantize/dequantize), in order."""
    return [o for o in ops_of(tflite) if o[0] not in ("tfl.quantize", "tfl.dequantize")]


def _paired(ops):
    """Ops sorted by name, then by shapes and rounded scales: the two converters may order
    independent ops differently."""

    def key(o):
        types = [t for t in o[1] + o[2] if t.dtype != "none"]
        scales = [
            round(float(np.log10(t.quant.scale[0])), 3) if t.quant and t.quant.scale else 0
            for t in types
        ]
        return (o[0], [str(t.shape) for t in types], scales)

    return sorted(ops, key=key)


def assert_same_quantization(ours, official, rel=1e-6, biases=True):
    """Same compute ops, same types, same scales (rel) and zero points on every tensor
    (`biases=False`: not the scales of int64 biases, see test_int16x8)."""
    a, b = _paired(compute_ops(ours)), _paired(compute_ops(official))
    assert [o[0] for o in a] == [o[0] for o in b]
    for (name, ins_a, outs_a), (_, ins_b, outs_b) in zip(a, b):
        ins_a = [t for t in ins_a if t.dtype != "none"]
        ins_b = [t for t in ins_b if t.dtype != "none"]
        for ta, tb in zip(ins_a + outs_a, ins_b + outs_b):
            where = f"{name}: {ta} vs official {tb}"
            assert ta.dtype == tb.dtype, where
            if tb.quant is None or not tb.quant.scale:
                assert ta.quant is None or not ta.quant.scale, where
                continue
            assert ta.quant is not None, where
            if not biases and ta.dtype == "i64":
                continue
            np.testing.assert_allclose(ta.quant.scale, tb.quant.scale, rtol=rel, err_msg=where)
            assert ta.quant.zero_point == tb.quant.zero_point, where
            assert (ta.quant.axis or 0) == (tb.quant.axis or 0), where


# --- dynamic range and float16 ------------------------------------------------------------------


def test_dynamic_range_matches_official(cnn, data):
    ours, official = convert(cnn), convert(cnn, ours=False)
    assert_same_quantization(ours, official)
    by_op = {o[0]: o for o in ops_of(ours)}
    conv_w = by_op["tfl.conv_2d"][1][1]
    assert conv_w.dtype == "i8" and conv_w.quant.axis == 0 and len(conv_w.quant.scale) == 16
    assert by_op["tfl.depthwise_conv_2d"][1][1].dtype == "f32"  # 144 < 1024 elements
    module = read_flatbuffer(ours)
    fcs = [op for op in module.walk() if op.name == "tfl.fully_connected"]
    assert fcs[0].operands[1].type.dtype == "i8" and fcs[0].attr("asymmetric_quantize_inputs")
    assert fcs[1].operands[1].type.dtype == "f32"  # 64 weights
    assert module.attributes["conversion_metadata"]["model_optimization_modes"] == [
        "PTQ_DYNAMIC_RANGE"
    ]
    assert max_error(cnn, ours, data) <= max_error(cnn, official, data) * 1.01 + 1e-6


def test_float16_weights_with_dequantize(cnn, data):
    import tensorflow as tf

    ours = convert(cnn, types=[tf.float16])
    module = read_flatbuffer(ours)
    consts = [op.result.type for op in module.walk() if op.name == "arith.constant"]
    assert not [t for t in consts if t.dtype == "f32"]  # every float weight is float16
    deq = [op for op in module.walk() if op.name == "tfl.dequantize"]
    assert deq and all(op.operands[0].type.dtype == "f16" for op in deq)
    assert module.attributes["metadata"]["reduced_precision_support"] == b"fp16accfp32"
    official = convert(cnn, types=[tf.float16], ours=False)
    assert max_error(cnn, ours, data) <= max_error(cnn, official, data) + 1e-6
    assert max_error(cnn, ours, data) < 1e-3


# --- full integer ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def int8_pair(cnn, data):
    return convert(cnn, data, **OFFICIAL_NUMBERS), convert(cnn, data, ours=False)


def test_int8_matches_official_parameters(cnn, data, int8_pair):
    ours, official = int8_pair
    assert_same_quantization(ours, official)
    names = [o[0] for o in ops_of(ours)]
    assert names[0] == "tfl.quantize" and names[-1] == "tfl.dequantize"  # float IO boundary
    by_op = {o[0]: o for o in ops_of(ours)}
    _, (x, w, b), (y,) = by_op["tfl.conv_2d"]
    assert (w.dtype, w.quant.axis, b.dtype) == ("i8", 0, "i32")
    np.testing.assert_allclose(
        b.quant.scale, np.float32(x.quant.scale[0]) * np.asarray(w.quant.scale), rtol=1e-6
    )
    assert by_op["tfl.depthwise_conv_2d"][1][1].quant.axis == 3
    sm = by_op["tfl.softmax"][2][0].quant
    assert (sm.scale, sm.zero_point) == ((1 / 256,), (-128,))
    pool_in, pool_out = by_op["tfl.average_pool_2d"][1][0], by_op["tfl.average_pool_2d"][2][0]
    assert pool_in.quant == pool_out.quant  # same-scale op
    assert max_error(cnn, ours, data) <= max_error(cnn, official, data) + 1e-6


def test_int8_file_size_close_to_official(int8_pair):
    ours, official = int8_pair
    assert len(ours) <= 1.02 * len(official)  # smaller is fine: the writer shares identical vectors


def _concat_model():
    """Concat of x*3 and x*0.1 (different ranges), tanh into a second concat, sin (no int8)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    i = keras.Input((4, 4, 3), batch_size=1)
    a = keras.layers.Lambda(lambda t: t * 3.0)(i)
    b = keras.layers.Lambda(lambda t: t * 0.1)(i)
    c = keras.layers.Concatenate()([a, b])
    d = keras.layers.Dense(3)(i)
    f = keras.layers.Lambda(lambda t: tf.math.sin(t))(d)
    g = keras.layers.Lambda(lambda t: tf.nn.tanh(t))(f)
    return keras.Model(i, keras.layers.Concatenate()([c, g]))


def test_same_scale_propagates_backwards_and_fallback_is_float():
    model = _concat_model()
    dataset = _data(4, shape=(1, 4, 4, 3))
    ours = convert(model, dataset, **OFFICIAL_NUMBERS)
    official = convert(model, dataset, ours=False)
    assert_same_quantization(ours, official)
    ops = ops_of(ours)
    names = [o[0] for o in ops]
    sin = names.index("tfl.sin")
    assert names[sin - 1] == "tfl.dequantize" and names[sin + 1] == "tfl.quantize"
    cats = [o for o in ops if o[0] == "tfl.concatenation"]
    out_scale = cats[-1][2][0].quant.scale
    assert all(t.quant.scale == out_scale for o in cats for t in o[1] + o[2])
    # tanh's fixed output (1/128) is requantized to the concat's scale.
    tanh = names.index("tfl.tanh")
    assert ops[tanh][2][0].quant.scale == (1 / 128,)
    assert names[tanh + 1] == "tfl.quantize" and ops[tanh + 1][2][0].quant.scale == out_scale
    assert max_error(model, ours, dataset) <= max_error(model, official, dataset) + 1e-6


def test_integer_only_names_ops_without_int8_kernel():
    model = _concat_model()
    with pytest.raises(tflconv.ConverterError, match=r"no int8 kernel.*tfl\.sin"):
        convert(model, _data(2, shape=(1, 4, 4, 3)), ops=["TFLITE_BUILTINS_INT8"])


@pytest.mark.parametrize("io", ["int8", "uint8"])
def test_integer_only_io_types(cnn, data, io):
    ours = convert(cnn, data, ops=["TFLITE_BUILTINS_INT8"], io=io, **OFFICIAL_NUMBERS)
    official = convert(cnn, data, ours=False, ops=["TFLITE_BUILTINS_INT8"], io=io)
    assert_same_quantization(ours, official)
    fn = read_flatbuffer(ours).functions[0]
    want = "i8" if io == "int8" else "ui8"
    assert [a.type.dtype for a in fn.args] == [want]
    assert [v.type.dtype for v in fn.outputs] == [want]
    for op in fn.walk():  # nothing float left
        types = [v.type for v in (*op.operands, *op.results)]
        assert not [t for t in types if t.dtype == "f32"], op.name
    if io == "uint8":
        official_in = read_flatbuffer(official).functions[0].args[0].type.quant
        assert fn.args[0].type.quant.zero_point == official_in.zero_point  # zp + 128
    assert max_error(cnn, ours, data) <= max_error(cnn, official, data) + 1e-6


def test_int16x8(cnn, data):
    ours = convert(cnn, data, ops=[INT16X8], **OFFICIAL_NUMBERS)
    official = convert(cnn, data, ours=False, ops=[INT16X8])
    # The official 16x8 quantizer quantizes one zero bias shared by two ops once, with the
    # first op's scales; ours gives each op its own (the values are 0 either way).
    assert_same_quantization(ours, official, rel=2e-6, biases=False)
    module = read_flatbuffer(ours)
    for op in module.walk():
        if op.name == "tfl.conv_2d":
            assert op.attr("quantized_bias_type") == "INT64"
            assert op.operands[2].type.dtype == "i64"
            assert op.result.type.dtype == "i16" and op.result.type.quant.zero_point == (0,)
    err = max_error(cnn, ours, data)
    assert err <= max_error(cnn, official, data) + 1e-6 and err < 1e-3


def test_keep_float_layer_stays_float(cnn, data):
    ours = convert(cnn, data, keep_float=["dense"])
    fcs = [o for o in ops_of(ours) if o[0] == "tfl.fully_connected"]
    assert fcs[0][2][0].dtype == "f32" and fcs[0][1][1].dtype == "f32"
    assert fcs[1][2][0].dtype == "i8"  # `logits` is still quantized
    assert max_error(cnn, ours, data) < 0.02
    with pytest.raises(tflconv.ConverterError, match="matched no op"):
        convert(cnn, data, keep_float=["no_such_layer"])


def test_mode_errors(cnn):
    with pytest.raises(tflconv.ConverterError, match="representative_dataset"):
        convert(cnn, None, ops=["TFLITE_BUILTINS_INT8"])
    with pytest.raises(tflconv.ConverterError, match="float32"):
        convert(cnn, None, io="int8")


# --- calibration datasets ------------------------------------------------------------------------


def test_generator_is_called_once_and_iterated_once(cnn, data):
    calls = []

    def gen():
        calls.append(1)
        yield from data

    conv = tflconv.TFLiteConverter.from_keras_model(cnn)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = gen
    result = conv.convert_with_report()
    assert calls == [1]
    assert any(name == "calibrate" for name, _ in result.pass_seconds)


def test_dataset_sources_give_the_same_model(cnn, data, tmp_path):
    """A list, an .npz, a folder of .npy and dict samples calibrate identically."""
    stacked = np.stack([d[0] for d in data])  # (samples, 1, 8, 8, 8)
    np.savez(tmp_path / "calib.npz", image=stacked)
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "image.npy", stacked)
    reference = convert(cnn, data)
    dict_samples = [{"image": d[0]} for d in data]
    for source in (str(tmp_path / "calib.npz"), str(tmp_path / "npy"), dict_samples):
        conv = tflconv.TFLiteConverter.from_keras_model(cnn)
        conv.optimizations = [tflconv.Optimize.DEFAULT]
        conv.representative_dataset = source
        assert conv.convert() == reference


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (np.zeros((1, 8, 8, 3), np.float32), r"sample 1, input 'image': shape \(1, 8, 8, 3\)"),
        (np.zeros((1, 8, 8, 8), np.int32), r"sample 1, input 'image': dtype int32"),
        (np.full((1, 8, 8, 8), np.nan, np.float32), r"sample 1, input 'image': contains NaN"),
        ({"x": np.zeros((1, 8, 8, 8), np.float32)}, r"sample 1: unknown input\(s\) \['x'\]"),
    ],
)
def test_bad_samples_name_the_sample_and_input(cnn, data, sample, message):
    with pytest.raises(tflconv.ConverterError, match=message):
        convert(cnn, [data[0], [sample] if not isinstance(sample, dict) else sample])


def test_int8_model_with_unused_while_loop_results():
    """A Keras GRU with batch 1 stays a while loop (LiteRT has no fused GRU) whose unused
    results LiteRT never allocates: calibration and the debugger skip them instead of failing."""
    import keras

    from tflconv.tools.quant_debug import QuantizationDebugger

    keras.utils.set_random_seed(0)
    i = keras.Input((6, 4), batch_size=1)
    model = keras.Model(i, keras.layers.Dense(3)(keras.layers.GRU(8)(i)))
    dataset = _data(4, shape=(1, 6, 4))
    tflite = convert(model, dataset)
    assert any(op.name == "tfl.while" for op in read_flatbuffer(tflite).walk())
    assert max_error(model, tflite, dataset) < 0.02
    report = QuantizationDebugger(model, dataset).run()
    assert report.layers and all(np.isfinite(layer.rmse) for layer in report.layers)


def _dense_block():
    """DenseNet's pattern: conv -> max pool -> concat after concat, each feeding BN/ReLU/conv."""
    import keras

    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same")(i)
    x = keras.layers.MaxPooling2D(2)(x)
    for _ in range(3):
        y = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
        y = keras.layers.Conv2D(4, 3, padding="same")(y)
        x = keras.layers.Concatenate()([x, y])
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    return keras.Model(i, keras.layers.Dense(5)(x))


def test_same_scale_chain_takes_the_range_of_its_last_concat():
    """Backward through every same-scale op (RemoveRedundantStatsOps): the first conv, the max
    pool and every concat of the block share the last concat's parameters, so nothing is
    clipped to an early, narrower range and no requantize is needed."""
    model = _dense_block()
    dataset = _data(8, shape=(1, 8, 8, 3))
    ours = convert(model, dataset)
    ops = compute_ops(ours)
    chain = [o for o in ops if o[0] in ("tfl.max_pool_2d", "tfl.concatenation")]
    first_conv = next(o for o in ops if o[0] == "tfl.conv_2d")
    scales = {t.quant.scale for o in chain for t in o[1] + o[2]} | {first_conv[2][0].quant.scale}
    assert len(scales) == 1, scales
    names = [o[0] for o in ops_of(ours)]
    assert names.count("tfl.quantize") == 1  # the model input only
    official = convert(model, dataset, ours=False)
    held_out = _data(8, seed=1, shape=(1, 8, 8, 3))
    assert rmse(model, ours, held_out) <= rmse(model, official, held_out)


# --- the chain as a user pipeline ---------------------------------------------------------------


def test_user_pipeline_runs_the_chain_like_the_built_one(cnn, data):
    """`converter.pipeline = "default,calibrate,prepare-quantize,quantize"` with a representative
    dataset quantizes like the recipe the options build (here without bias correction), and
    also without `optimizations` set: the dataset reaches `calibrate` either way."""
    built = convert(cnn, data, bias_correction=False)
    conv = tflconv.TFLiteConverter.from_keras_model(cnn)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(data)
    conv.pipeline = "default,calibrate,prepare-quantize,quantize"
    assert conv.convert() == built
    bare = tflconv.TFLiteConverter.from_keras_model(cnn)
    bare.representative_dataset = lambda: iter(data)
    bare.pipeline = "default,calibrate,prepare-quantize,bias-correction,quantize"
    int8 = bare.convert()
    corrected = convert(cnn, data)  # the built recipe, bias correction on (the default)
    assert_same_quantization(int8, corrected)
    assert max_error(cnn, int8, data) == max_error(cnn, corrected, data)
    skipped = tflconv.TFLiteConverter.from_keras_model(cnn)
    skipped.representative_dataset = lambda: iter(data)
    skipped.pipeline = "default,calibrate,quantize"
    with pytest.raises(tflconv.ConverterError, match="run `prepare-quantize` before"):
        skipped.convert()


def test_representative_lists_follow_model_inputs_order():
    """Samples as lists in `model.inputs` order, as for the official converter (whose subgraph
    inputs follow model.inputs): a name sorting first must not take the first array."""
    import keras

    import tflconv
    from tests.e2e_util import run_litert

    keras.utils.set_random_seed(0)
    z = keras.Input((10, 8), batch_size=2, name="zeta")
    a = keras.Input((6, 8), batch_size=2, name="alpha")
    out = keras.layers.Concatenate(axis=1)([keras.layers.Dense(4)(z), keras.layers.Dense(4)(a)])
    model = keras.Model([z, a], out)
    rng = np.random.default_rng(0)

    def sample():
        return [
            rng.standard_normal((2, 10, 8)).astype(np.float32),
            rng.standard_normal((2, 6, 8)).astype(np.float32),
        ]

    converter = tflconv.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tflconv.Optimize.DEFAULT]
    converter.representative_dataset = [sample() for _ in range(8)]
    tflite = converter.convert()
    inputs = sample()
    (got,) = run_litert(tflite, inputs)
    expected = model(inputs).numpy()
    assert np.sqrt(np.mean((got - expected) ** 2)) < 0.05 * np.std(expected)


def test_index_math_before_an_integer_cast_stays_float():
    """int8: the clamp of a FLOOR'd coordinate before its cast to an index stays float. On an
    int8 grid (step 0.0275 here) the integer 3 comes back as 2.99 and the cast truncates it
    to 2: the crops read the wrong pixels."""
    import tensorflow as tf

    from tests.e2e_util import run_litert

    @tf.function(input_signature=[tf.TensorSpec((1, 9, 9, 3)), tf.TensorSpec((3, 4))])
    def crops(x, boxes):
        return tf.image.crop_and_resize(x, boxes, tf.zeros([3], tf.int32), (5, 5))

    def sample(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        lo = rng.uniform(0, 0.5, (3, 2))
        boxes = np.concatenate([lo, lo + rng.uniform(0.2, 0.5, (3, 2))], 1)
        return [rng.standard_normal((1, 9, 9, 3)).astype(np.float32), boxes.astype(np.float32)]

    conv = tflconv.TFLiteConverter.from_concrete_functions([crops.get_concrete_function()])
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: (sample(s) for s in range(8))
    data = conv.convert()
    clamps = [o for o in ops_of(data) if o[0] in ("tfl.minimum", "tfl.relu")]  # index math only
    assert clamps and all(t.quant is None for o in clamps for t in o[1] + o[2])
    for seed in range(100, 104):
        x = sample(seed)
        (got,) = run_litert(data, x)
        error = np.abs(got - crops(*[tf.constant(v) for v in x]).numpy())
        # Before: 30-50 % of the outputs off by > 0.5 (RMSE 0.6-0.9); left: a coordinate at the
        # image's edge may quantize just outside it (extrapolation value), < 1 % of outputs.
        assert np.sqrt(np.mean(error**2)) < 0.2 and np.mean(error > 0.5) < 0.02
