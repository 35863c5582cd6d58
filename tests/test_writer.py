"""The tfl dialect and the FlatBuffer writer: hand-built tfl modules run in LiteRT."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.location import Location, SourceLine
from tflconv.core.opdef import COMMUTATIVE, OPDEFS, PURE
from tflconv.core.types import NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType
from tflconv.dialects import tfl
from tflconv.tflite import versions
from tflconv.tflite.generated import conversion_metadata as cm
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.reader import read_flatbuffer
from tflconv.tflite.writer import WriteError, write_flatbuffer

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
RNG = np.random.default_rng(0)


def f32(*shape: int | None) -> TensorType:
    return TensorType(tuple(shape), "f32")


def op(fn: Function, name: str, operands: list[Value], type: TensorType, **attrs: Any) -> Value:
    return fn.block.append(Operation(name, operands, [type], attrs)).result


def const(fn: Function, array: Any, name: str | None = None) -> Value:
    return fn.block.append(constant(np.asarray(array), name=name)).result


def no_value(fn: Function) -> Value:
    return fn.block.append(Operation("tfl.no_value", [], [NO_VALUE_TYPE])).result


def run(data: bytes, *inputs: np.ndarray, key: str = "serving_default") -> list[np.ndarray]:
    interp = Interpreter(model_content=data, num_threads=1)
    runner = interp.get_signature_runner(key)
    names = interp.get_signature_list()[key]
    out = runner(**dict(zip(names["inputs"], inputs)))
    return [out[k] for k in names["outputs"]]


def model_t(data: bytes) -> Any:
    return fb.ModelT.InitFromPackedBuf(data, 0)


def metadata(data: bytes) -> dict[str, bytes]:
    m = model_t(data)
    return {md.name.decode(): bytes(m.buffers[md.buffer].data) for md in m.metadata}


# --- the dialect ---------------------------------------------------------------------------------


def test_every_builtin_is_declared_from_the_schema():
    for name, code in vars(fb.BuiltinOperator).items():
        if name.startswith("_") or name in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
            continue
        opdef = OPDEFS[tfl.tfl_op_name(name)]
        assert opdef.builtin_code == code
    assert tfl.tfl_op_name("CONV_2D") == "tfl.conv_2d" == tfl.tfl_op_name(3)
    conv = OPDEFS["tfl.conv_2d"]
    assert conv.options == "Conv2DOptions"
    assert conv.operands == ("input", "filter", "bias?")
    assert conv.attributes["padding"] == "SAME"
    assert conv.attributes["dilation_w_factor"] == 1
    assert conv.attributes["fused_activation_function"] == "NONE"
    assert OPDEFS["tfl.add"].attributes == {
        "fused_activation_function": "NONE",
        "pot_scale_int16": True,
    }
    assert OPDEFS["tfl.unique"].attributes["idx_out_type"] == "INT32"
    assert OPDEFS["tfl.while"].options_union == 1
    assert OPDEFS["tfl.stablehlo_gather"].options_union == 2


@pytest.mark.parametrize(
    "op_name,options",
    [
        ("tfl.max_pool_2d", "Pool2DOptions"),
        ("tfl.average_pool_2d", "Pool2DOptions"),
        ("tfl.mean", "ReducerOptions"),
        ("tfl.reduce_max", "ReducerOptions"),
        ("tfl.maximum", "MaximumMinimumOptions"),
        ("tfl.l2_normalization", "L2NormOptions"),
        ("tfl.unidirectional_sequence_rnn", "SequenceRNNOptions"),
        ("tfl.batch_matmul", "BatchMatMulOptions"),
        ("tfl.conv_3d_transpose", "Conv3DOptions"),
        ("tfl.random_uniform", "RandomOptions"),
        ("tfl.reduce_window", "ReduceWindowOptions"),
        ("tfl.relu", None),
        ("tfl.embedding_lookup", None),
    ],
)
def test_options_tables(op_name, options):
    assert tfl.builtin_options_of(op_name) == options


def test_traits_and_enum_names():
    assert PURE in OPDEFS["tfl.conv_2d"].traits
    assert PURE not in OPDEFS["tfl.assign_variable"].traits
    assert PURE not in OPDEFS["tfl.random_uniform"].traits
    assert COMMUTATIVE in OPDEFS["tfl.add"].traits
    assert COMMUTATIVE not in OPDEFS["tfl.sub"].traits
    assert tfl.enum_names("padding", "tfl.conv_2d") == ("SAME", "VALID")
    assert "RELU6" in tfl.enum_names("fused_activation_function")
    assert tfl.enum_names("MirrorPadMode") == ("REFLECT", "SYMMETRIC")
    assert "INT8" in tfl.enum_names("out_type")
    with pytest.raises(KeyError, match="not an enum"):
        tfl.enum_names("stride_w")


def test_verifiers():
    fn = Function("main", [f32(1, 8, 8, 3)], ["x"])
    w = const(fn, np.zeros((4, 3, 3, 3), np.float32))
    bad_bias = const(fn, np.zeros(5, np.float32))
    conv = fn.block.append(
        Operation("tfl.conv_2d", [fn.args[0], w, bad_bias], [f32(1, 8, 8, 4)], {"stride_w": 1})
    )
    assert "bias has 5 elements" in conv.opdef.verify(conv)
    conv.set_operand(2, const(fn, np.zeros(4, np.float32)))
    assert conv.opdef.verify(conv) is None
    conv.attributes["padding"] = "FULL"
    assert "is not one of" in conv.opdef.verify(conv)
    conv.attributes["padding"] = "SAME"
    conv.attributes["bogus"] = 1
    assert "unknown attribute 'bogus'" in conv.opdef.verify(conv)

    fc = fn.block.append(
        Operation("tfl.fully_connected", [fn.args[0], w, no_value(fn)], [f32(1, 4)])
    )
    assert "filter must be 2-D" in fc.opdef.verify(fc)
    r = fn.block.append(Operation("tfl.reshape", [fn.args[0]], [f32(2, 100)]))
    assert "192 elements into 200" in r.opdef.verify(r)


# --- end to end in LiteRT --------------------------------------------------------------------------


def test_add_mul_relu_chain():
    fn = Function("main", [f32(2, 3)], ["x"], {"entry": True, "output_names": ["y"]})
    c = const(fn, np.array([1.0, -2.0, 3.0], np.float32), "c")
    a = op(fn, "tfl.add", [fn.args[0], c], f32(2, 3), fused_activation_function="RELU")
    m = op(fn, "tfl.mul", [a, c], f32(2, 3))
    r = op(fn, "tfl.relu", [m], f32(2, 3))
    fn.set_outputs([r])
    data = write_flatbuffer(Module([fn]))
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    (got,) = run(data, x)
    c_np = np.array([1.0, -2.0, 3.0], np.float32)
    np.testing.assert_allclose(got, np.maximum(np.maximum(x + c_np, 0) * c_np, 0), rtol=1e-6)
    m_t = model_t(data)
    assert m_t.version == 3 and data[4:8] == b"TFL3"
    assert m_t.buffers[0].data is None  # the empty sentinel
    assert m_t.subgraphs[0].name == b"main"
    assert m_t.description == b"tflconv Converted."
    (sig,) = m_t.signatureDefs
    assert sig.signatureKey == b"serving_default"
    assert [t.name for t in sig.inputs] == [b"x"] and [t.name for t in sig.outputs] == [b"y"]


def numpy_conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NHWC input, OHWI filter, stride 1, SAME padding."""
    kh, kw = w.shape[1:3]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    return np.einsum("nhwikl,okli->nhwo", win, w) + b


def test_conv_2d_with_bias_and_fused_relu6():
    fn = Function("main", [f32(1, 8, 8, 3)], ["image"])
    w_np = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b_np = RNG.standard_normal(4).astype(np.float32)
    attrs = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "RELU6"}
    y = op(
        fn, "tfl.conv_2d", [fn.args[0], const(fn, w_np), const(fn, b_np)], f32(1, 8, 8, 4), **attrs
    )
    fn.set_outputs([y])
    data = write_flatbuffer(Module([fn]))
    x = RNG.standard_normal((1, 8, 8, 3)).astype(np.float32) * 3
    (got,) = run(data, x)
    np.testing.assert_allclose(got, np.clip(numpy_conv_same(x, w_np, b_np), 0, 6), atol=1e-5)
    conv = model_t(data).subgraphs[0].operators[0]
    assert conv.builtinOptionsType == fb.BuiltinOptions.Conv2DOptions
    assert conv.builtinOptions.fusedActivationFunction == fb.ActivationFunctionType.RELU6


def test_fully_connected_without_bias_writes_minus_one():
    fn = Function("main", [f32(3, 5)], ["x"])
    w_np = RNG.standard_normal((4, 5)).astype(np.float32)
    y = op(fn, "tfl.fully_connected", [fn.args[0], const(fn, w_np), no_value(fn)], f32(3, 4))
    fn.set_outputs([y])
    data = write_flatbuffer(Module([fn]))
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    (got,) = run(data, x)
    np.testing.assert_allclose(got, x @ w_np.T, rtol=1e-5, atol=1e-5)
    m = model_t(data)
    assert list(m.subgraphs[0].operators[0].inputs)[2] == -1
    assert m.operatorCodes[0].version == 1  # three inputs (one absent): not version 6


def test_reshape_softmax_concatenation():
    fn = Function("main", [f32(2, 6)], ["x"])
    r = op(fn, "tfl.reshape", [fn.args[0], const(fn, np.array([4, 3], np.int32))], f32(4, 3))
    s = op(fn, "tfl.softmax", [r], f32(4, 3), beta=1.0)
    c = op(fn, "tfl.concatenation", [s, r], f32(4, 6), axis=1)
    fn.set_outputs([c])
    data = write_flatbuffer(Module([fn]))
    x = RNG.standard_normal((2, 6)).astype(np.float32)
    (got,) = run(data, x)
    xr = x.reshape(4, 3)
    e = np.exp(xr - xr.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, np.concatenate([e / e.sum(1, keepdims=True), xr], 1), rtol=1e-5)


def while_module() -> Module:
    i32 = TensorType((), "i32")
    vec = f32(2)
    main = Function("main", [vec], ["x"])
    i0 = const(main, np.array(0, np.int32))
    loop = main.block.append(
        Operation(
            "tfl.while",
            [i0, main.args[0]],
            [i32, vec],
            {"cond_subgraph_index": SymbolRef("cond"), "body_subgraph_index": SymbolRef("body")},
        )
    )
    main.set_outputs([loop.results[1], loop.results[0]])
    cond = Function("cond", [i32, vec], ["i", "x"])
    less = op(
        cond, "tfl.less", [cond.args[0], const(cond, np.array(5, np.int32))], TensorType((), "i1")
    )
    cond.set_outputs([less])
    body = Function("body", [i32, vec], ["i", "x"])
    i1 = op(body, "tfl.add", [body.args[0], const(body, np.array(1, np.int32))], i32)
    x2 = op(body, "tfl.mul", [body.args[1], const(body, np.array(2.0, np.float32))], vec)
    body.set_outputs([i1, x2])
    return Module([main, cond, body])


def test_while_loop_with_cond_and_body_subgraphs():
    data = write_flatbuffer(while_module())
    x = np.array([1.5, -2.0], np.float32)
    got_x, got_i = run(data, x)
    np.testing.assert_allclose(got_x, x * 32)
    assert int(got_i) == 5
    m = model_t(data)
    assert [s.name for s in m.subgraphs] == [b"main", b"cond", b"body"]
    opts = m.subgraphs[0].operators[0].builtinOptions
    assert (opts.condSubgraphIndex, opts.bodySubgraphIndex) == (1, 2)
    assert len(m.signatureDefs) == 1  # only the entry function


def test_dynamic_batch_input():
    fn = Function("main", [f32(None, 4)], ["x"])
    y = op(fn, "tfl.tanh", [fn.args[0]], f32(None, 4))
    fn.set_outputs([y])
    data = write_flatbuffer(Module([fn]))
    t = model_t(data).subgraphs[0].tensors[0]
    assert list(t.shape) == [1, 4] and list(t.shapeSignature) == [-1, 4]
    interp = Interpreter(model_content=data)
    assert list(interp.get_input_details()[0]["shape_signature"]) == [-1, 4]
    interp.resize_tensor_input(0, [3, 4])
    interp.allocate_tensors()
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, np.tanh(x), atol=1e-6)
    static = model_t(write_flatbuffer(Module([_unary("tfl.tanh", f32(2, 4))])))
    assert static.subgraphs[0].tensors[0].shapeSignature is None


def _unary(name: str, t: TensorType, **attrs: Any) -> Function:
    fn = Function("main", [t], ["x"])
    fn.set_outputs([op(fn, name, [fn.args[0]], t, **attrs)])
    return fn


def test_multiple_signatures():
    add = Function(
        "add_fn", [f32(3)], ["a"], {"entry": True, "signature_key": "add", "output_names": ["sum"]}
    )
    add.set_outputs([op(add, "tfl.add", [add.args[0], const(add, np.ones(3, np.float32))], f32(3))])
    mul = Function("mul_fn", [f32(3), f32(3)], ["p", "q"], {"entry": True, "signature_key": "mul"})
    mul.set_outputs([op(mul, "tfl.mul", list(mul.args), f32(3))])
    data = write_flatbuffer(Module([add, mul]))
    interp = Interpreter(model_content=data)
    assert set(interp.get_signature_list()) == {"add", "mul"}
    a = np.array([1, 2, 3], np.float32)
    assert run(data, a, key="add")[0].tolist() == [2, 3, 4]
    assert run(data, a, a, key="mul")[0].tolist() == [1, 4, 9]
    assert [s.name for s in model_t(data).subgraphs] == [b"add_fn", b"mul_fn"]


def test_opcodes_above_127_use_the_placeholder():
    fn = Function("main", [f32(2, 3)], ["x"])
    g = op(fn, "tfl.gelu", [fn.args[0]], f32(2, 3), approximate=False)
    c = op(fn, "tfl.cumsum", [g, const(fn, np.array(1, np.int32))], f32(2, 3))
    fn.set_outputs([c])
    data = write_flatbuffer(Module([fn]))
    codes = {oc.builtinCode: oc.deprecatedBuiltinCode for oc in model_t(data).operatorCodes}
    assert codes == {150: 127, 128: 127}
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    (got,) = run(data, x)
    erf = np.vectorize(math.erf)
    gelu = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    np.testing.assert_allclose(got, np.cumsum(gelu, axis=1), atol=1e-5)
    assert metadata(data)["min_runtime_version"] == b"2.9.0".ljust(16, b"\0")


def two_constant_module(second: np.ndarray, return_constant: bool = False) -> Module:
    fn = Function("main", [f32(4)], ["x"])
    a = op(fn, "tfl.add", [fn.args[0], const(fn, np.arange(4, dtype=np.float32), "c1")], f32(4))
    b = op(fn, "tfl.mul", [a, const(fn, second, "c2")], f32(4))
    outs = [b]
    if return_constant:
        outs.append(const(fn, np.arange(4, dtype=np.float32), "c3"))
    fn.set_outputs(outs)
    return Module([fn])


def _buffer_of(data: bytes, tensor_name: str) -> int:
    (t,) = [t for t in model_t(data).subgraphs[0].tensors if t.name == tensor_name.encode()]
    return t.buffer


def test_equal_constants_share_one_buffer():
    same = write_flatbuffer(two_constant_module(np.arange(4, dtype=np.float32)))
    assert _buffer_of(same, "c1") == _buffer_of(same, "c2") != 0
    other = write_flatbuffer(two_constant_module(np.arange(4, dtype=np.float32) + 1))
    assert _buffer_of(other, "c1") != _buffer_of(other, "c2")
    # A constant the function returns keeps its own buffer (as in the official exporter).
    returned = write_flatbuffer(two_constant_module(np.arange(4, dtype=np.float32), True))
    assert _buffer_of(returned, "c3") not in (_buffer_of(returned, "c1"), 0)
    x = np.ones(4, np.float32)
    got = run(returned, x)
    np.testing.assert_allclose(got[0], (x + np.arange(4)) * np.arange(4))
    np.testing.assert_allclose(got[1], np.arange(4))


def test_buffer_data_is_16_byte_aligned():
    fn = Function("main", [f32(3)], ["x"])
    v = fn.args[0]
    for n in (3, 1, 5, 7):  # odd sizes shift everything after them
        v = op(fn, "tfl.add", [v, const(fn, RNG.standard_normal(3).astype(np.float32))], f32(3))
        v = op(fn, "tfl.cast", [op(fn, "tfl.cast", [v], TensorType((3,), "i8"))], f32(3))
        const(fn, np.arange(n, dtype=np.int8))  # unused odd-sized constants
    fn.set_outputs([v])
    data = write_flatbuffer(Module([fn]))
    m = fb.Model.GetRootAs(data, 0)
    starts = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            starts.append(b._tab.Vector(b._tab.Offset(4)))
    assert len(starts) >= 8
    assert all(s % 16 == 0 for s in starts), starts
    assert len(data) % 16 == 0


def test_writes_are_deterministic():
    module = while_module()
    assert write_flatbuffer(module) == write_flatbuffer(module)
    assert write_flatbuffer(while_module()) == write_flatbuffer(while_module())


def test_quantized_tensors():
    q_in = TensorType((1, 4), "i8", QuantParams((0.5,), (-3,)))
    fn = Function("main", [q_in], ["x"])
    w = fn.block.append(
        constant(
            np.array([[1, -2, 3, 4], [5, 6, -7, 8]], np.int8),
            name="w",
            type=TensorType((2, 4), "i8", QuantParams((0.1, 0.2), (0, 0), axis=0)),
        )
    ).result
    bias = fn.block.append(
        constant(
            np.array([10, -20], np.int32),
            type=TensorType((2,), "i32", QuantParams((0.05, 0.1), (0, 0), axis=0)),
        )
    ).result
    q_out = TensorType((1, 2), "i8", QuantParams((0.25,), (1,)))
    y = op(fn, "tfl.fully_connected", [fn.args[0], w, bias], q_out)
    fn.set_outputs([y])
    data = write_flatbuffer(Module([fn]))
    m = model_t(data)
    tensors = {t.name.decode(): t for t in m.subgraphs[0].tensors}
    qw = tensors["w"].quantization
    assert qw.scale.tolist() == pytest.approx([0.1, 0.2]) and qw.zeroPoint.dtype == np.int64
    assert m.operatorCodes[0].version == 4  # int8 fully_connected
    x = np.array([[1, 2, 3, 4]], np.int8)
    (got,) = run(data, x)
    real_x = 0.5 * (x.astype(np.float32) + 3)
    real_w = np.array([[1, -2, 3, 4], [5, 6, -7, 8]], np.float32) * np.array([[0.1], [0.2]])
    expected = np.round((real_x @ real_w.T + [0.5, -2.0]) / 0.25) + 1
    np.testing.assert_array_equal(got, np.clip(expected, -128, 127).astype(np.int8))


def test_string_and_int4_constants_are_encoded():
    fn = Function("main", [f32(1)], ["x"])
    strings = const(fn, np.array([b"ab", b"", b"xyz"], dtype=object), "s")
    fn.block.append(constant(np.array([-8, 7, 1], np.int8), name="w4", type=TensorType((3,), "i4")))
    fn.set_outputs([fn.args[0], strings])
    data = write_flatbuffer(Module([fn]))
    buffers = {t.name: t.buffer for t in model_t(data).subgraphs[0].tensors}
    raw = bytes(model_t(data).buffers[buffers[b"s"]].data)
    assert raw == np.array([3, 20, 22, 22, 25], "<i4").tobytes() + b"abxyz"
    assert bytes(model_t(data).buffers[buffers[b"w4"]].data) == bytes([0x78, 0x01])
    got = run(data, np.ones(1, np.float32))
    assert got[1].tolist() == [b"ab", b"", b"xyz"]


# --- versions, metadata, errors ----------------------------------------------------------------


def test_op_versions_follow_the_official_rules():
    def versioned(name: str, types: list[TensorType], out: TensorType, **attrs: Any) -> int:
        fn = Function("f", types)
        return versions.op_version(fn.block.append(Operation(name, list(fn.args), [out], attrs)))

    q = QuantParams((0.1,), (0,))
    i8 = TensorType((1, 4, 4, 2), "i8", q)
    w8 = TensorType((3, 1, 1, 2), "i8", q)
    w8_pc = TensorType((3, 1, 1, 2), "i8", QuantParams((0.1, 0.2, 0.3), (0, 0, 0), axis=0))
    assert versioned("tfl.conv_2d", [f32(1, 4, 4, 2), f32(3, 1, 1, 2)], f32(1, 4, 4, 3)) == 1
    assert versioned("tfl.conv_2d", [i8, w8], TensorType((1, 4, 4, 3), "i8", q)) == 3
    assert versioned("tfl.conv_2d", [f32(1, 4, 4, 2), w8], f32(1, 4, 4, 3)) == 2
    assert versioned("tfl.conv_2d", [f32(1, 4, 4, 2), w8_pc], f32(1, 4, 4, 3)) == 5
    assert versioned("tfl.conv_2d", [f32(1, 4, 4, 4), f32(3, 1, 1, 2)], f32(1, 4, 4, 3)) == 6
    fc_w = TensorType((3, 2), "i8", QuantParams((0.1, 0.2, 0.3), (0, 0, 0), axis=0))
    assert versioned("tfl.fully_connected", [f32(1, 2), fc_w, f32(3)], f32(1, 3)) == 12
    assert (
        versioned(
            "tfl.fully_connected", [f32(1, 2), TensorType((3, 2), "i8", q), f32(3)], f32(1, 3)
        )
        == 3
    )
    assert versioned("tfl.fully_connected", [f32(1, 2), f32(3, 2)], f32(1, 3)) == 6
    assert (
        versioned(
            "tfl.fully_connected", [f32(1, 2), f32(3, 2), f32(3)], f32(1, 3), keep_num_dims=True
        )
        == 5
    )
    assert versioned("tfl.add", [TensorType((2,), "i64")] * 2, TensorType((2,), "i64")) == 4
    assert versioned("tfl.gelu", [f32(2)], f32(2)) == 1
    assert versions.runtime_version("FULLY_CONNECTED", 12) == "2.17.0"
    assert versions.runtime_version("BROADCAST_TO", 1) is None
    assert versions.min_runtime_version([("CONV_2D", 1), ("ADD", 5), ("RELU", 1)]) == "2.13.0"
    assert versions.min_runtime_version([("MAXIMUM", 1), ("TRANSPOSE", 7)]) == "2.14.4"


def test_metadata_entries():
    module = two_constant_module(np.ones(4, np.float32))
    module.attributes["metadata"] = {"labels": b"cat\ndog", "blob": bytes(range(256))}
    data = write_flatbuffer(
        module,
        conversion_metadata={
            "tensorflow_version": "2.21.0",
            "api_version": 2,
            "model_type": "KERAS_MODEL",
            "allow_custom_ops": True,
            "model_optimization_modes": ["PTQ_FULL_INTEGER"],
        },
        description="custom description",
    )
    md = metadata(data)
    assert list(md)[0] == "min_runtime_version" and list(md)[-1] == "CONVERSION_METADATA"
    assert md["min_runtime_version"] == b"1.5.0".ljust(16, b"\0")
    assert md["labels"] == b"cat\ndog" and md["blob"] == bytes(range(256))
    assert md["tflconv_version"].startswith(b"tflconv ")
    meta = cm.ConversionMetadataT.InitFromPackedBuf(md["CONVERSION_METADATA"], 0)
    assert meta.environment.tensorflowVersion == b"2.21.0"
    assert meta.environment.modelType == cm.ModelType.KERAS_MODEL
    assert meta.environment.apiVersion == 2
    assert meta.environment.modelHash != 0
    assert meta.options.allowCustomOps and not meta.options.enableSelectTfOps
    assert list(meta.options.modelOptimizationModes) == [cm.ModelOptimizationMode.PTQ_FULL_INTEGER]
    assert model_t(data).description == b"custom description"
    with pytest.raises(WriteError, match="unknown conversion_metadata keys"):
        write_flatbuffer(module, conversion_metadata={"tf_version": "2"})
    assert "CONVERSION_METADATA" not in metadata(write_flatbuffer(module))  # not asked for
    module.attributes["metadata"] = {"min_runtime_version": b"1"}
    with pytest.raises(WriteError, match="written by the writer itself"):
        write_flatbuffer(module)


def test_model_hash_matches_tensorflow():
    tf_util = pytest.importorskip("tensorflow.lite.python.util")
    data = write_flatbuffer(while_module(), conversion_metadata={})
    meta = cm.ConversionMetadataT.InitFromPackedBuf(metadata(data)["CONVERSION_METADATA"], 0)
    assert meta.environment.modelHash == tf_util.get_model_hash(model_t(data))


def test_illegal_op_is_reported_with_its_location():
    fn = Function("main", [f32(2)], ["x"])
    loc = Location.name("model/dense/MatMul", SourceLine("model.py", 12))
    fn.block.append(Operation("tf.MatMul", [fn.args[0], fn.args[0]], [f32(2)], location=loc))
    fn.set_outputs([fn.args[0]])
    with pytest.raises(WriteError) as err:
        write_flatbuffer(Module([fn]))
    msg = str(err.value)
    assert "tf.MatMul" in msg and "model/dense/MatMul (model.py:12)" in msg
    assert "legalization did not convert" in msg


def test_bad_attributes_are_reported():
    module = Module([_unary("tfl.relu", f32(2))])
    module.functions[0].ops.__next__().attributes["alpha"] = 0.1
    with pytest.raises(WriteError, match="tfl.relu has no builtin options"):
        write_flatbuffer(module)
    module = Module([_unary("tfl.leaky_relu", f32(2), slope=0.1)])
    with pytest.raises(
        WriteError, match=r"tfl.leaky_relu .*'slope' is not a field of LeakyReluOptions"
    ):
        write_flatbuffer(module)
    module = Module([_unary("tfl.leaky_relu", f32(2), alpha="big")])
    with pytest.raises(WriteError, match="bad value for attribute 'alpha'"):
        write_flatbuffer(module)
    fn = Function("main", [f32(2)], ["x"])
    loop = op(fn, "tfl.while", [fn.args[0]], f32(2), cond_subgraph_index=SymbolRef("main"))
    fn.set_outputs([loop])
    with pytest.raises(WriteError, match="missing required attribute 'body_subgraph_index'"):
        write_flatbuffer(Module([fn]))
    loop.defining_op.attributes["body_subgraph_index"] = SymbolRef("nope")
    with pytest.raises(WriteError, match="body_subgraph_index'.*no function @nope in the module"):
        write_flatbuffer(Module([fn]))


def test_custom_op():
    fn = Function("main", [f32(2)], ["x"])
    c = fn.block.append(
        Operation(
            "tfl.custom",
            [fn.args[0]],
            [f32(2)],
            {"custom_code": "MyOp", "custom_options": b"\x01\x02"},
        )
    )
    fn.set_outputs([c.result])
    m = model_t(write_flatbuffer(Module([fn])))
    (code,) = m.operatorCodes
    assert (code.builtinCode, code.customCode) == (fb.BuiltinOperator.CUSTOM, b"MyOp")
    assert bytes(m.subgraphs[0].operators[0].customOptions) == b"\x01\x02"


def test_writing_25m_parameters():
    """98 MB of weights are written whole and read back (its speed: benchmarks/core_scale.py
    and benchmarks/compare_official.py time the writer; no wall-clock limits in tests)."""
    n, layers = 700, 50  # 24.5M float32 parameters, ~98 MB
    fn = Function("main", [f32(None, n)], ["x"])
    x = fn.args[0]
    weights = RNG.standard_normal((layers, n, n), dtype=np.float32)
    for i in range(layers):
        x = op(fn, "tfl.fully_connected", [x, const(fn, weights[i]), no_value(fn)], f32(None, n))
    fn.set_outputs([x])
    module = Module([fn])
    data = write_flatbuffer(module)
    assert len(data) > weights.nbytes
    read = read_flatbuffer(data).functions[0]
    fcs = [op for op in read.ops if op.name == "tfl.fully_connected"]
    assert len(fcs) == layers
    np.testing.assert_array_equal(fcs[-1].operands[1].defining_op.attributes["value"], weights[-1])
