"""The FlatBuffer reader: official converter outputs -> IR -> our writer -> identical LiteRT runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, constant
from tflconv.core.parser import parse_module
from tflconv.core.printer import print_module
from tflconv.core.types import SymbolRef, TensorType
from tflconv.core.verifier import verify
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.reader import ReadError, decode_strings, read_flatbuffer, unpack_int4
from tflconv.tflite.writer import encode_strings, pack_int4, write_flatbuffer

tf = pytest.importorskip("tensorflow")
Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
RNG = np.random.default_rng(0)


def convert_function(fn: Any, **options: Any) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    for key, value in options.items():
        setattr(converter, key, value)
    return converter.convert()


def run(data: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interp = Interpreter(model_content=data, num_threads=1)
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def builtin_histogram(data: bytes) -> Counter:
    """Op counts by (builtin code, custom code, version), read with the generated API only."""
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    codes = [
        (max(c.builtinCode, c.deprecatedBuiltinCode), c.customCode, c.version)
        for c in m.operatorCodes
    ]
    return Counter(codes[op.opcodeIndex] for sg in m.subgraphs for op in sg.operators)


def metadata(data: bytes) -> dict[str, bytes]:
    m = fb.ModelT.InitFromPackedBuf(data, 0)
    return {md.name.decode(): bytes(m.buffers[md.buffer].data) for md in m.metadata}


def assert_round_trip(official: bytes, inputs: list[np.ndarray]) -> Module:
    """read -> write gives the same ops (code, version) and bit-identical LiteRT outputs."""
    module = read_flatbuffer(official)
    verify(module)
    ours = write_flatbuffer(module)
    assert builtin_histogram(ours) == builtin_histogram(official)
    assert read_flatbuffer(ours).op_histogram() == module.op_histogram()
    expected, got = run(official, inputs), run(ours, inputs)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(g, e)
    assert metadata(ours)["min_runtime_version"] == metadata(official)["min_runtime_version"]
    return module


# --- official converter outputs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def conv_net() -> bytes:
    w = tf.constant(RNG.standard_normal((3, 3, 3, 8)).astype(np.float32))
    b = tf.constant(RNG.standard_normal(8).astype(np.float32))
    dense = tf.constant(RNG.standard_normal((4 * 4 * 8, 5)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
    def net(x):
        y = tf.nn.relu6(tf.nn.conv2d(x, w, 1, "SAME") + b)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.reshape(y, [-1, 4 * 4 * 8])
        return tf.nn.softmax(tf.matmul(y, dense))

    return convert_function(net)


def test_conv_net_round_trip(conv_net):
    x = RNG.standard_normal((3, 8, 8, 3)).astype(np.float32)
    module = assert_round_trip(conv_net, [x])
    (main,) = module.functions
    assert main.args[0].type.shape == (None, 8, 8, 3)  # shape_signature -1 -> None
    hist = module.op_histogram()
    assert hist["tfl.conv_2d"] == 1 and hist["tfl.max_pool_2d"] == 1 and hist["tfl.softmax"] == 1
    conv = next(op for op in module.walk() if op.name == "tfl.conv_2d")
    assert conv.attributes["fused_activation_function"] == "RELU6"
    assert conv.attributes["padding"] == "SAME"
    assert conv.filter.defining_op.name == "arith.constant"
    weights = conv.filter.defining_op.attributes["value"]
    assert weights.shape == (8, 3, 3, 3) and not weights.flags.writeable  # a view of the file
    assert conv.location.names  # from the tensor name


def test_fully_connected_round_trip():
    w = tf.constant(RNG.standard_normal((6, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([2, 6], tf.float32)])
    def fc(x):
        return tf.tanh(tf.matmul(x, w))

    official = convert_function(fc)
    module = assert_round_trip(official, [RNG.standard_normal((2, 6)).astype(np.float32)])
    fc_op = next(op for op in module.walk() if op.name == "tfl.fully_connected")
    assert fc_op.operands[2].defining_op.name == "tfl.no_value"  # official bias -1


def test_while_loop_round_trip():
    @tf.function(input_signature=[tf.TensorSpec([3], tf.float32), tf.TensorSpec([], tf.int32)])
    def loop(x, n):
        i = tf.constant(0)
        _, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * 1.5 + 1.0), [i, x])
        return y

    official = convert_function(loop)
    x = RNG.standard_normal(3).astype(np.float32)
    module = assert_round_trip(official, [x, np.array(4, np.int32)])
    assert len(module.functions) == 3
    (while_op,) = [op for op in module.walk() if op.name == "tfl.while"]
    cond, body = (
        while_op.attributes["cond_subgraph_index"],
        while_op.attributes["body_subgraph_index"],
    )
    assert isinstance(cond, SymbolRef) and isinstance(body, SymbolRef)
    assert {cond.name, body.name} == {fn.name for fn in module.functions[1:]}


def test_flex_op_round_trip_keeps_custom_options():
    """Flex ops read as tfl.custom and are written back byte for byte (LiteRT cannot run them)."""

    @tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32)])
    def det(x):
        return tf.linalg.det(x) + 1.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions([det.get_concrete_function()], det)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    official = converter.convert()
    module = read_flatbuffer(official)
    (custom,) = [op for op in module.walk() if op.name == "tfl.custom"]
    assert custom.attributes["custom_code"] == "FlexMatrixDeterminant"
    ours = write_flatbuffer(module)
    assert builtin_histogram(ours) == builtin_histogram(official)
    before, after = (
        fb.ModelT.InitFromPackedBuf(d, 0).subgraphs[0].operators for d in (official, ours)
    )
    flex_before = [bytes(op.customOptions) for op in before if op.customOptions is not None]
    flex_after = [bytes(op.customOptions) for op in after if op.customOptions is not None]
    assert flex_before == flex_after == [custom.attributes["custom_options"]]
    assert module.attributes["conversion_metadata"]["enable_select_tf_ops"] is True


def test_resource_variables_and_call_once_round_trip():
    class Accumulator(tf.Module):
        def __init__(self):
            self.total = tf.Variable(tf.zeros([3]))

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
        def __call__(self, x):
            self.total.assign_add(x)
            return self.total * 2.0

    acc = Accumulator()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [acc.__call__.get_concrete_function()], acc
    )
    converter.experimental_enable_resource_variables = True
    official = converter.convert()
    module = read_flatbuffer(official)
    (call_once,) = [op for op in module.walk() if op.name == "tfl.call_once"]
    assert call_once.attributes["init_subgraph_index"] == SymbolRef(module.functions[1].name)
    ours = write_flatbuffer(module)
    assert builtin_histogram(ours) == builtin_histogram(official)

    def three_steps(data: bytes) -> list[list[float]]:
        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        out = []
        for _ in range(3):
            interp.set_tensor(interp.get_input_details()[0]["index"], np.ones(3, np.float32))
            interp.invoke()
            out.append(interp.get_tensor(interp.get_output_details()[0]["index"]).tolist())
        return out

    assert three_steps(ours) == three_steps(official) == [[2.0] * 3, [4.0] * 3, [6.0] * 3]


@pytest.fixture(scope="module")
def keras_model() -> Any:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(6.0),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(3),
        ]
    )


def test_keras_model_round_trip(keras_model):
    official = tf.lite.TFLiteConverter.from_keras_model(keras_model).convert()
    x = RNG.standard_normal((1, 8, 8, 3)).astype(np.float32)
    module = assert_round_trip(official, [x])
    (main,) = module.functions
    assert main.attributes["entry"] is True
    assert main.attributes["signature_key"] == "serving_default"
    assert main.attributes["output_names"] == ["output_0"]
    assert module.attributes["conversion_metadata"]["model_type"] == "KERAS_MODEL"
    assert module.attributes["description"] == "MLIR Converted."
    ours = write_flatbuffer(module)
    sigs = Interpreter(model_content=ours).get_signature_list()
    assert sigs == Interpreter(model_content=official).get_signature_list()


def test_int8_quantized_model_round_trip(keras_model):
    def calibration():
        for _ in range(4):
            yield [RNG.standard_normal((1, 8, 8, 3)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    official = converter.convert()
    x = RNG.standard_normal((1, 8, 8, 3)).astype(np.float32)
    module = assert_round_trip(official, [x])
    conv = next(op for op in module.walk() if op.name == "tfl.conv_2d")
    w = conv.filter.type
    assert w.dtype == "i8" and w.quant is not None and w.quant.axis == 0 and len(w.quant.scale) == 4
    assert conv.input.type.quant is not None and conv.input.type.quant.axis is None
    hist = module.op_histogram()
    assert hist["tfl.quantize"] >= 1 and hist["tfl.dequantize"] >= 1
    meta = module.attributes["conversion_metadata"]
    assert meta["model_optimization_modes"] == ["PTQ_FULL_INTEGER"]
    # The IR text keeps everything the file needs (quantized types, constants, attributes).
    reparsed = parse_module(print_module(module, elide_large=False))
    np.testing.assert_array_equal(run(write_flatbuffer(reparsed), [x])[0], run(official, [x])[0])
    rewritten = read_flatbuffer(write_flatbuffer(module))
    assert rewritten.attributes["conversion_metadata"] == meta


# --- metadata and small formats --------------------------------------------------------------------


def _tiny_module() -> Module:
    fn = Function("main", [TensorType((2,), "f32")], ["x"])
    neg = fn.block.append(Operation("tfl.neg", [fn.args[0]], [TensorType((2,), "f32")]))
    fn.set_outputs([neg.result])
    return Module([fn])


def test_extra_metadata_round_trips():
    module = _tiny_module()
    module.attributes["metadata"] = {"TFLITE_METADATA": b"M001\x00\x01", "empty_ish": b"\x00"}
    back = read_flatbuffer(write_flatbuffer(module, conversion_metadata={"api_version": 2}))
    assert back.attributes["metadata"] == module.attributes["metadata"]
    # Entries the writer recomputes are not kept as plain metadata.
    assert "min_runtime_version" not in back.attributes["metadata"]
    assert back.attributes["conversion_metadata"]["api_version"] == 2


def test_constants_types_and_names_round_trip():
    fn = Function(
        "main", [TensorType((None, 3), "f32")], ["x"], {"entry": True, "signature_key": "k"}
    )
    strings = fn.block.append(constant(np.array([b"a", b"bc"], dtype=object), name="s")).result
    packed = fn.block.append(
        constant(np.array([-8, -1, 0, 7, 3], np.int8), name="w4", type=TensorType((5,), "i4"))
    ).result
    scalar = fn.block.append(constant(np.array(2.5, np.float64), name="d")).result
    fn.set_outputs([fn.args[0], strings, packed, scalar])
    back = read_flatbuffer(write_flatbuffer(Module([fn])))
    (main,) = back.functions
    assert main.name == "main" and main.attributes["signature_key"] == "k"
    assert main.args[0].type == TensorType((None, 3), "f32") and main.args[0].name_hint == "x"
    values = [op.attributes["value"] for op in main.ops if op.name == "arith.constant"]
    assert values[0].tolist() == [b"a", b"bc"]
    assert values[1].tolist() == [-8, -1, 0, 7, 3]
    assert values[2].dtype == np.float64 and float(values[2]) == 2.5
    assert [v.name_hint for v in main.outputs] == ["x", "s", "w4", "d"]


def test_attributes_round_trip():
    t = TensorType((2, 3), "f32")
    fn = Function("main", [t], ["x"])
    leaky = fn.block.append(Operation("tfl.leaky_relu", [fn.args[0]], [t], {"alpha": 0.2}))
    shape = fn.block.append(constant(np.array([3, 2], np.int32))).result
    reshape = fn.block.append(
        Operation(
            "tfl.reshape", [leaky.result, shape], [TensorType((3, 2), "f32")], {"new_shape": [3, 2]}
        )
    )
    fn.set_outputs([reshape.result])
    back = read_flatbuffer(write_flatbuffer(Module([fn])))
    ops = {op.name: op for op in back.walk()}
    assert ops["tfl.leaky_relu"].attributes == {"alpha": 0.2}
    assert ops["tfl.reshape"].attributes == {"new_shape": [3, 2]}
    assert ops["tfl.reshape"].input is ops["tfl.leaky_relu"].result  # tensors become shared values


def test_string_and_int4_helpers():
    s = np.array([b"", b"hello", "\u00e9".encode()], dtype=object)
    assert decode_strings(encode_strings(s)).tolist() == s.tolist()
    for n in (1, 2, 7):
        v = RNG.integers(-8, 8, n).astype(np.int8)
        assert unpack_int4(pack_int4(v), n).tolist() == v.tolist()


def test_buffers_outside_the_flatbuffer():
    """The large-model layout: Buffer.offset/size point past the FlatBuffer."""
    fn = Function("main", [TensorType((3,), "f32")], ["x"])
    c = fn.block.append(constant(np.array([1.0, 2.0, 3.0], np.float32), name="c")).result
    add = fn.block.append(Operation("tfl.add", [fn.args[0], c], [TensorType((3,), "f32")]))
    fn.set_outputs([add.result])
    model = fb.ModelT.InitFromPackedBuf(write_flatbuffer(Module([fn])), 0)
    (t,) = [t for t in model.subgraphs[0].tensors if t.name == b"c"]
    payload = model.buffers[t.buffer].data.tobytes()
    model.buffers[t.buffer] = fb.BufferT(data=None, offset=1, size=1)
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    head = bytes(builder.Output())
    model.buffers[t.buffer].offset = len(head) + 8
    model.buffers[t.buffer].size = len(payload)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    head = bytes(builder.Output())
    data = head + bytes(8) + payload
    assert model.buffers[t.buffer].offset == len(head) + 8  # the size did not change
    module = read_flatbuffer(data)
    (const,) = [op for op in module.walk() if op.name == "arith.constant"]
    assert const.attributes["value"].tolist() == [1.0, 2.0, 3.0]


def test_not_a_tflite_file():
    with pytest.raises(ReadError, match="not a .tflite model.*TFL3"):
        read_flatbuffer(b"PK\x03\x04 this is a zip file")
    with pytest.raises(ReadError, match="not a .tflite model"):
        read_flatbuffer(b"")
    with pytest.raises(ReadError, match="corrupt"):
        read_flatbuffer(b"\xff\xff\xff\x7fTFL3" + bytes(16))
