"""Identical constant buffers are shared (written once), as the official converter's
`deduplicate_readonly_buffers` does: models from Keras, float and int8, run in LiteRT."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, constant
from tflconv.core.types import TensorType
from tflconv.tflite import buffers
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.writer import write_flatbuffer

keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert.interpreter")

from tests.e2e_util import run_litert  # noqa: E402


def twin_dense_model(width: int, shared: bool, seed: int = 0) -> Any:
    """x -> Dense(width) -> Dense(width) -> Dense(3); the first two layers get the same weights
    and bias when `shared`, different ones otherwise."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((width,))
    first = keras.layers.Dense(width, activation="relu")
    second = keras.layers.Dense(width, activation="relu")
    outputs = keras.layers.Dense(3)(second(first(inputs)))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    for layer in (first, second):
        w = rng.standard_normal((width, width)).astype(np.float32) / np.sqrt(width)
        b = rng.standard_normal(width).astype(np.float32) * 0.1
        layer.set_weights(first.get_weights() if shared and layer is second else [w, b])
    return model


def fc_weight_buffers(data: bytes) -> list[int]:
    """The buffer index of each FULLY_CONNECTED op's weights, in op order."""
    model = fb.Model.GetRootAs(data, 0)
    sg = model.Subgraphs(0)
    out = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        if (
            max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            == fb.BuiltinOperator.FULLY_CONNECTED
        ):
            out.append(sg.Tensors(op.Inputs(1)).Buffer())
    return out


def data_buffers(data: bytes) -> int:
    model = fb.Model.GetRootAs(data, 0)
    return sum(1 for i in range(model.BuffersLength()) if model.Buffers(i).DataLength())


def convert(model: Any, int8: bool = False) -> tuple[bytes, Module]:
    import tflconv

    conv = tflconv.TFLiteConverter.from_keras_model(model)
    if int8:
        width = model.inputs[0].shape[-1]
        rng = np.random.default_rng(7)
        samples = [[rng.standard_normal((1, width)).astype(np.float32)] for _ in range(8)]
        conv.optimizations = [tflconv.Optimize.DEFAULT]
        conv.representative_dataset = lambda: iter(samples)
    result = conv.convert_with_report()
    return result.tflite, result.module


def write_unshared(module: Module, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The module written with every use of a constant given its own copy and the writer's
    de-duplication off: the same model with nothing shared."""
    for op in list(module.walk()):
        if op.name == "arith.constant":
            for use in op.result.uses[1:]:
                copy = op.parent.insert_after(op.clone(), op)  # type: ignore[union-attr]
                use.op.set_operand(use.index, copy.result)
    with monkeypatch.context() as m:
        add = buffers.BufferTable.add
        m.setattr(buffers.BufferTable, "add", lambda self, data, dedup=True: add(self, data, False))
        return write_flatbuffer(module)


@pytest.mark.parametrize("width", [8, 33])
@pytest.mark.parametrize("int8", [False, True], ids=["float", "int8"])
def test_identical_weights_get_one_buffer(
    width: int, int8: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_model = twin_dense_model(width, shared=True)
    shared, module = convert(shared_model, int8)
    distinct, _ = convert(twin_dense_model(width, shared=False), int8)
    w = fc_weight_buffers(shared)
    assert len(w) == 3 and w[0] == w[1] != w[2]
    assert len(set(fc_weight_buffers(distinct))) == 3
    # The weights are stored once (and in float the bias too; int8 biases differ: their scale
    # is input scale x weight scale): fewer buffers, smaller file.
    assert data_buffers(shared) <= data_buffers(distinct) - (1 if int8 else 2)
    assert len(shared) < len(distinct) - width * width * (1 if int8 else 4) + 64
    # The same model with nothing shared: bigger, and the same outputs bit for bit.
    unshared = write_unshared(module, monkeypatch)
    assert len(set(fc_weight_buffers(unshared))) == 3
    assert len(unshared) >= len(shared) + width * width * (1 if int8 else 4)
    x = np.random.default_rng(1).standard_normal((4, 1, width)).astype(np.float32)
    for xi in x:
        got = run_litert(shared, [xi])[0]
        np.testing.assert_array_equal(got, run_litert(unshared, [xi])[0])
        if not int8:
            np.testing.assert_allclose(got, shared_model(xi).numpy(), atol=1e-5, rtol=1e-5)


def _module(values: list[tuple[np.ndarray, str]], return_constant: int | None = None) -> Module:
    """main(x: f32[4]) -> x + each constant (cast to f32 when it is not), and the constant
    `return_constant` itself as a last output."""
    fn = Function("main", [TensorType((4,), "f32")])
    x = fn.args[0]
    consts, outs = [], []
    for i, (array, dtype) in enumerate(values):
        c = fn.block.append(constant(array, name=f"c{i}")).result
        consts.append(c)
        if dtype != "f32":
            c = fn.block.append(Operation("tfl.cast", [c], [TensorType((4,), "f32")])).result
        add = Operation("tfl.add", [x, c], [TensorType((4,), "f32")])
        outs.append(fn.block.append(add).result)
    if return_constant is not None:
        outs.append(consts[return_constant])
    fn.block.append(Operation("func.return", outs, []))
    return Module([fn])


def _tensor_buffers(data: bytes) -> dict[str, int]:
    sg = fb.Model.GetRootAs(data, 0).Subgraphs(0)
    return {
        sg.Tensors(i).Name().decode(): sg.Tensors(i).Buffer() for i in range(sg.TensorsLength())
    }


def test_sharing_is_by_bytes_whatever_the_type() -> None:
    """float 1.0 and int32 0x3f800000 have the same bytes: one buffer (as the official, which
    hashes buffer bytes); a different value of the same size gets its own."""
    one = np.ones(4, np.float32)
    module = _module([(one, "f32"), (one.view(np.int32), "i32"), (one * 2, "f32")])
    data = write_flatbuffer(module)
    b = _tensor_buffers(data)
    assert b["c0"] == b["c1"] != b["c2"]
    x = np.arange(4, dtype=np.float32)
    got = run_litert(data, [x])
    np.testing.assert_array_equal(got[0], x + 1)
    np.testing.assert_array_equal(got[1], x + np.float32(0x3F800000))
    np.testing.assert_array_equal(got[2], x + 2)


def test_returned_constants_are_not_shared() -> None:
    """A constant the function returns keeps its own buffer (the official leaves subgraph
    outputs out of de-duplication: the runtime may write to output tensors)."""
    one = np.ones(4, np.float32)
    module = _module([(one, "f32"), (one.copy(), "f32")], return_constant=1)
    data = write_flatbuffer(module)
    b = _tensor_buffers(data)
    assert b["c0"] != b["c1"]
    got = run_litert(data, [np.zeros(4, np.float32)])
    np.testing.assert_array_equal(got[-1], one)
