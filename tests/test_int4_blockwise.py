"""int4 and blockwise weights (quantize-dynamic-range{bits=4 granularity=... weight-only=...}):
every scheme runs in LiteRT with and without XNNPACK and computes what the float model computes
with the weights the scheme stores (dequantized in NumPy from the same kernels)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from e2e_util import op_histogram  # noqa: E402

from tflconv.api.converter import convert  # noqa: E402
from tflconv.passes.quantize import kernels  # noqa: E402
from tflconv.tflite.generated import tflite_schema as fb  # noqa: E402

XNNPACK = (True, False)


def run(tflite: bytes, x: np.ndarray, xnnpack: bool) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def stored(w: np.ndarray, bits: int, axis: int | None, block: int = 0) -> np.ndarray:
    """The float values of `w` (TFLite layout) as a scheme stores them."""
    if block:
        q, scales = kernels.quantize_blockwise(w, block)
        return kernels.dequantize_blockwise(q, scales, block)
    q, scales = kernels.quantize_weights_narrow(w, axis, f"i{bits}")
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    return q.astype(np.float32) * scales.reshape(shape)


# --- models: (keras model, input, {layer: TFLite-layout <-> Keras-layout}) ----------------------


def _mlp():
    import keras

    keras.utils.set_random_seed(1)
    i = keras.Input((64,), batch_size=2)
    x = keras.layers.Dense(128, activation="relu", bias_initializer="random_normal", name="fc1")(i)
    x = keras.layers.Dense(32, name="fc2")(x)
    x_in = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    return keras.Model(i, x), x_in


def _cnn():
    import keras

    keras.utils.set_random_seed(2)
    i = keras.Input((6, 6, 16), batch_size=1)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv")(i)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=4, name="dw")(x)  # 1152 weights
    x_in = np.random.default_rng(0).standard_normal((1, 6, 6, 16)).astype(np.float32)
    return keras.Model(i, x), x_in


def _embedding():
    import keras

    keras.utils.set_random_seed(3)
    i = keras.Input((7,), dtype="int32", batch_size=1)
    x = keras.layers.Embedding(500, 64, name="emb")(i)
    x_in = np.random.default_rng(0).integers(0, 500, (1, 7)).astype(np.int32)
    return keras.Model(i, x), x_in


MODELS = {"mlp": _mlp, "cnn": _cnn, "embedding": _embedding}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    return request.param, *MODELS[request.param]()


def dequantized_model(name: str, keras_model, bits: int, weight_only: bool, gran: str):
    """A clone of `keras_model` whose weights are the ones the scheme stores."""
    import keras

    clone = keras.models.clone_model(keras_model)
    clone.set_weights(keras_model.get_weights())
    channel = gran == "channel"
    for layer in clone.layers:
        if isinstance(layer, keras.layers.Dense):  # FC [out, in], channels on axis 0
            k = layer.kernel.numpy().T
            layer.kernel.assign(stored(k, bits, 0 if channel else None).T)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):  # [1, H, W, C*M], axis 3
            k = layer.kernel.numpy()
            flat = k.reshape(1, *k.shape[:2], -1)
            if bits == 8 or weight_only:  # no hybrid int4 depthwise kernel: stays float
                layer.kernel.assign(stored(flat, bits, 3 if channel else None).reshape(k.shape))
        elif isinstance(layer, keras.layers.Conv2D):  # OHWI, axis 0
            k = layer.kernel.numpy().transpose(3, 0, 1, 2)
            q = stored(k, bits, 0 if channel else None)
            layer.kernel.assign(q.transpose(1, 2, 3, 0))
        elif isinstance(layer, keras.layers.Embedding):
            # dynamic int8 / per-tensor int4: the GATHER moves integer rows under one scale (the
            # official scheme); int4 per row: an EMBEDDING_LOOKUP
            axis = 0 if channel and (weight_only or bits == 4) else None
            layer.embeddings.assign(stored(layer.embeddings.numpy(), bits, axis))
    return clone


SCHEMES = [
    # (bits, granularity, weight-only)
    (4, "channel", False),
    (4, "tensor", False),
    (4, "channel", True),
    (8, "channel", True),
    (4, "tensor", True),
]


@pytest.mark.parametrize("xnnpack", XNNPACK, ids=["xnnpack", "builtin"])
@pytest.mark.parametrize("bits,gran,weight_only", SCHEMES, ids=lambda v: str(v))
def test_scheme_computes_the_dequantized_float_model(model, bits, gran, weight_only, xnnpack):
    name, keras_model, x = model
    opts = f"bits={bits} granularity={gran} weight-only={str(weight_only).lower()}"
    tflite = convert(keras_model, pipeline=f"default,quantize-dynamic-range{{{opts}}}")
    got = run(tflite, x, xnnpack)
    want = dequantized_model(name, keras_model, bits, weight_only, gran)(x).numpy()
    exact = keras_model(x).numpy()
    scale = float(np.abs(want).max())
    hybrid = not weight_only and name != "embedding"
    # hybrid kernels also quantize their float input to int8 on the fly (per batch row)
    tol = 2e-2 * scale if hybrid else 1e-4 * scale
    np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    if bits == 4:  # the weights really are int4: much further from the float weights' result
        assert np.abs(got - exact).max() > 2 * np.abs(got - want).max()
    hist = op_histogram(tflite)
    if name == "embedding" and not weight_only and gran == "channel":
        assert hist["tfl.embedding_lookup"] == 1 and "tfl.gather" not in hist
    elif weight_only or name == "embedding":
        assert hist.get("tfl.dequantize", 0) >= 1


def _sizes(keras_model, *options: str) -> list[int]:
    return [
        len(convert(keras_model, pipeline=f"default,quantize-dynamic-range{{{o}}}"))
        for o in options
    ]


def test_int4_is_about_half_of_int8():
    keras_model, _ = _mlp()
    int8, int4, int4_tensor = _sizes(keras_model, "", "bits=4", "bits=4 per-channel=false")
    weights = 64 * 128 + 128 * 32
    assert int8 - int4 >= weights // 2 - 64  # half a byte saved per weight, scales aside
    assert int4_tensor < int4


def test_embedding_table_like_the_official_converter():
    """Embedding(5000, 256) in dynamic range: the official converter makes an int8 GATHER and a
    DEQUANTIZE of the gathered rows, 1,281,912 bytes (TF 2.21); float is 5,121,680."""
    import keras

    i = keras.Input((10,), dtype="int32", batch_size=1)
    m = keras.Model(i, keras.layers.Embedding(5000, 256)(i))
    (int8,) = _sizes(m, "")
    assert abs(int8 - 1_281_912) < 1_281_912 * 0.001
    hist = op_histogram(convert(m, pipeline="default,quantize-dynamic-range"))
    assert hist["tfl.gather"] == 1 and hist["tfl.dequantize"] == 1


def test_batch_matmul_constant_rhs():
    """BATCH_MATMUL's hybrid kernel reads one int8 RHS scale; int4 is weight-only there."""
    import tensorflow as tf

    rng = np.random.default_rng(4)
    w = rng.standard_normal((2, 64, 48)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([2, 4, 64], tf.float32)])
    def f(x):
        return tf.matmul(x, w)

    x = rng.standard_normal((2, 4, 64)).astype(np.float32)
    fn = f.get_concrete_function()
    for opts, bits, axis in [("", 8, None), ("bits=4 weight-only=true", 4, 2)]:
        tflite = convert(fn, pipeline=f"default,quantize-dynamic-range{{{opts}}}")
        want = x @ stored(w, bits, axis)
        for xnnpack in XNNPACK:
            got = run(tflite, x, xnnpack)
            tol = (2e-2 if bits == 8 else 1e-4) * np.abs(want).max()
            np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    # dynamic int4: no kernel, so the op stays float (reported), never a wrong model
    tflite = convert(fn, pipeline="default,quantize-dynamic-range{bits=4}")
    np.testing.assert_allclose(run(tflite, x, True), x @ w, rtol=1e-5, atol=1e-4)


# --- blockwise int4 -------------------------------------------------------------------------


def _blockwise_details(tflite: bytes) -> list[int]:
    """Block sizes of the blockwise-quantized tensors of a .tflite."""
    model = fb.ModelT.InitFromPackedBuf(tflite, 0)
    out = []
    for t in model.subgraphs[0].tensors:
        q = t.quantization
        if q is not None and q.detailsType == fb.QuantizationDetails.BlockwiseQuantization:
            out.append(q.details.blockSize)
    return out


@pytest.mark.parametrize("xnnpack", XNNPACK, ids=["xnnpack", "builtin"])
@pytest.mark.parametrize("block", [32, 64])
def test_blockwise_int4_fully_connected(block, xnnpack):
    keras_model, x = _mlp()
    tflite = convert(
        keras_model,
        pipeline=f"default,quantize-dynamic-range{{bits=4 granularity=block block-size={block}}}",
    )
    assert _blockwise_details(tflite) == [block, block], (
        "the writer wrote the blockwise weights without BlockwiseQuantization details"
    )
    clone = dequantized_model("mlp", keras_model, 4, False, "tensor")
    for layer, orig in zip(clone.layers, keras_model.layers):
        if hasattr(orig, "kernel"):
            k = orig.kernel.numpy().T
            q, s = kernels.quantize_blockwise(k, block)
            layer.kernel.assign(kernels.dequantize_blockwise(q, s, block).T)
    want = clone(x).numpy()
    got = run(tflite, x, xnnpack)
    np.testing.assert_allclose(got, want, atol=2e-2 * np.abs(want).max(), rtol=0)


@pytest.mark.parametrize(
    "opts,message",
    [
        ("bits=8 granularity=block block-size=32", "blockwise int8"),
        ("bits=4 granularity=block block-size=48", "multiple of 32"),
        ("bits=4 granularity=block block-size=32 weight-only=true", "mode must be dynamic"),
        ("bits=3", "bits must be 4 or 8"),
    ],
)
def test_unsupported_schemes_are_refused(opts, message):
    keras_model, _ = _mlp()
    with pytest.raises(Exception, match=message):
        convert(keras_model, pipeline=f"default,quantize-dynamic-range{{{opts}}}")


def test_blockwise_on_conv_stays_float_with_a_reason():
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext
    from tflconv.frontends.tensorflow.frontend import load_model

    keras_model, _ = _cnn()
    module = load_model(keras_model).module
    ctx = PassContext()
    pipeline = "default,quantize-dynamic-range{bits=4 granularity=block block-size=32}"
    PassManager.from_pipeline(pipeline).run(module, ctx)
    reasons = ctx.data["quantization"].float_op_lines()
    assert any("tfl.conv_2d" in r and "no blockwise kernel" in r for r in reasons), reasons


EMBEDDING_LOOKUP = """module {
  func.func @main(%ids: tensor<5xi32>) -> (tensor<5x64xf32>) attributes {entry = true} {
    %t = "arith.constant"() {value = dense<TABLE> : tensor<100x64xf32>} : () -> tensor<100x64xf32>
    %r = "tfl.embedding_lookup"(%ids, %t) : (tensor<5xi32>, tensor<100x64xf32>) -> tensor<5x64xf32>
    "func.return"(%r) : (tensor<5x64xf32>) -> ()
  }
}"""


@pytest.mark.parametrize("xnnpack", XNNPACK, ids=["xnnpack", "builtin"])
@pytest.mark.parametrize(
    "opts,bits,axis,block",
    [
        ("", 8, 0, 0),
        ("bits=4", 4, 0, 0),
        ("bits=4 per-channel=false", 4, None, 0),
        ("bits=4 weight-only=true", 4, 0, 0),
        ("bits=4 granularity=block block-size=32", 4, None, 32),
    ],
)
def test_embedding_lookup_tables(opts, bits, axis, block, xnnpack):
    """EMBEDDING_LOOKUP (from a .tflite read back, e.g.): the hybrid kernel dequantizes the
    looked-up rows (per row, per tensor or blockwise int4)."""
    import tflconv.passes  # noqa: F401  (registers the passes)
    from tflconv.core.parser import parse_module
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext
    from tflconv.tflite.writer import write_flatbuffer

    rng = np.random.default_rng(6)
    table = rng.standard_normal((100, 64)).astype(np.float32)
    table[7] *= 10  # one row with a much wider range: per-row scales differ from per-tensor
    text = "[" + ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in table) + "]"
    module = parse_module(EMBEDDING_LOOKUP.replace("TABLE", text))
    PassManager.from_pipeline(f"quantize-dynamic-range{{{opts}}}").run(module, PassContext())
    tflite = write_flatbuffer(module)
    ids = np.array([3, 0, 99, 42, 7], np.int32)
    want = stored(table, bits, axis, block)[ids]
    np.testing.assert_allclose(run(tflite, ids, xnnpack), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("xnnpack", XNNPACK, ids=["xnnpack", "builtin"])
@pytest.mark.parametrize("gran", ["channel", "tensor"])
@pytest.mark.parametrize(
    "inputs,units,batch",
    [(343, 3, 1), (343, 5, 2), (1025, 2, 1), (33, 40, 3)],
    ids=["odd-rows-3-units", "odd-rows-batch2", "1025x2", "33x40"],
)
def test_int4_fully_connected_shapes(inputs, units, batch, gran, xnnpack):
    """Odd row lengths (int4 packing runs across rows), fewer than 4 units or 32 inputs: the
    kernels' non-4-bit-optimized paths read the same packing."""
    import keras

    keras.utils.set_random_seed(0)
    i = keras.Input((inputs,), batch_size=batch)
    m = keras.Model(i, keras.layers.Dense(units, bias_initializer="random_normal")(i))
    x = np.random.default_rng(0).standard_normal((batch, inputs)).astype(np.float32)
    dense = m.layers[1]
    k = stored(dense.kernel.numpy().T, 4, 0 if gran == "channel" else None)
    want = x @ k.T + dense.bias.numpy()
    tflite = convert(m, pipeline=f"default,quantize-dynamic-range{{bits=4 granularity={gran}}}")
    got = run(tflite, x, xnnpack)
    np.testing.assert_allclose(got, want, atol=2e-2 * np.abs(want).max(), rtol=0)
