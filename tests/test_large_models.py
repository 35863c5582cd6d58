"""Models over 2 GB: the buffer-offset layout (constant data after the FlatBuffer, addressed by
`Buffer.offset`/`size`), forced on small models (fast) and automatic on a > 2 GB model (slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.types import TensorType
from tflconv.tflite import buffers
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.reader import read_flatbuffer
from tflconv.tflite.writer import write_flatbuffer, write_flatbuffer_file

litert = pytest.importorskip("ai_edge_litert.interpreter")


def fc_chain(widths: list[int], seed: int = 0, dtype: str = "f32") -> tuple[Module, list[Any]]:
    """x[1, widths[0]] -> fully_connected (+ bias, relu except the last) per layer; returns the
    module and [(weights [out, in], bias [out])] per layer. Weights are distinct, so nothing
    is shared."""
    rng = np.random.default_rng(seed)
    np_dtype = np.float32 if dtype == "f32" else np.float16
    fn = Function("main", [TensorType((1, widths[0]), "f32")])
    x: Value = fn.args[0]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        w = rng.random((n_out, n_in), dtype=np.float32)
        w -= 0.5
        w *= np.float32(2.0 / np.sqrt(n_in))
        w = w.astype(np_dtype, copy=False)
        b = rng.standard_normal(n_out).astype(np.float32)
        wv = fn.block.append(constant(w, name=f"w{i}")).result
        if dtype != "f32":  # f16 weights: dequantize, as the float16 pass writes them
            wv = fn.block.append(
                Operation("tfl.dequantize", [wv], [TensorType((n_out, n_in), "f32")])
            ).result
        bv = fn.block.append(constant(b, name=f"b{i}")).result
        act = "RELU" if i < len(widths) - 2 else "NONE"
        x = fn.block.append(
            Operation(
                "tfl.fully_connected",
                [x, wv, bv],
                [TensorType((1, n_out), "f32")],
                {"fused_activation_function": act},
            )
        ).result
        layers.append((w, b))
    fn.block.append(Operation("func.return", [x], []))
    return Module([fn]), layers


def reference(x: np.ndarray, layers: list[Any]) -> np.ndarray:
    for i, (w, b) in enumerate(layers):
        x = x @ w.T.astype(np.float32) + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0)
    return x


def run(model: bytes | str, x: np.ndarray, xnnpack: bool = True) -> np.ndarray:
    kind = litert.OpResolverType
    resolver = kind.AUTO if xnnpack else kind.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    source = {"model_path": model} if isinstance(model, str) else {"model_content": model}
    interp = litert.Interpreter(**source, num_threads=1, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def layout(data: bytes) -> tuple[Any, dict[str, bytes]]:
    model = fb.Model.GetRootAs(data, 0)
    meta = {}
    for i in range(model.MetadataLength()):
        md = model.Metadata(i)
        meta[md.Name().decode()] = model.Buffers(md.Buffer()).DataAsNumpy().tobytes()
    return model, meta


def check_offset_layout(data: bytes, constants: list[np.ndarray]) -> None:
    """Every constant lives after the FlatBuffer at a 16-aligned offset, holds its bytes, and
    the file ends in >= 16 zero bytes and is a multiple of 16 long."""
    model, meta = layout(data)
    assert meta[buffers.BUFFER_LOCATION] == buffers.BUFFER_LOCATION_VALUE
    metadata_buffers = {model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    placed = []
    for i in range(1, model.BuffersLength()):
        b = model.Buffers(i)
        if i in metadata_buffers:
            assert b.DataLength() > 0 and b.Offset() == 0
            continue
        assert b.DataIsNone() and b.Offset() > 1 and b.Offset() % 16 == 0, i
        placed.append((b.Offset(), b.Size()))
    placed.sort()
    flatbuffer_end = placed[0][0]
    for (o1, s1), (o2, _) in zip(placed, placed[1:]):
        assert o1 + s1 <= o2 < o1 + s1 + 16  # back to back, 16-aligned
    end = placed[-1][0] + placed[-1][1]
    assert len(data) % 16 == 0 and len(data) - end >= buffers.XNNPACK_TAIL
    assert not any(data[end:])
    stored = {bytes(data[o : o + min(s, 64)]): s for o, s in placed}
    for c in constants:
        raw = np.ascontiguousarray(c).view(np.uint8).reshape(-1)
        assert stored[raw[:64].tobytes()] == raw.size
    # The FlatBuffer itself verifies as a .tflite prefix: the tables end before the data.
    assert flatbuffer_end <= len(data) and fb.Model.ModelBufferHasIdentifier(data, 0)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("xnnpack", [True, False])
def test_forced_offset_layout_runs_and_matches(dtype: str, xnnpack: bool) -> None:
    module, layers = fc_chain([24, 40, 17, 5], dtype=dtype)
    inline = write_flatbuffer(module, conversion_metadata={})
    offset = write_flatbuffer(module, conversion_metadata={}, buffer_offset=True)
    assert offset != inline
    check_offset_layout(offset, [a for layer in layers for a in layer])
    x = np.random.default_rng(1).standard_normal((1, 24)).astype(np.float32)
    got = run(offset, x, xnnpack)
    np.testing.assert_array_equal(got, run(inline, x, xnnpack))
    np.testing.assert_allclose(got, reference(x, layers), rtol=1e-4, atol=1e-4)


def test_offset_layout_reads_back_and_rewrites_the_same_model() -> None:
    module, layers = fc_chain([8, 16, 3])
    inline = write_flatbuffer(module, conversion_metadata={})
    offset = write_flatbuffer(module, conversion_metadata={}, buffer_offset=True)
    back = read_flatbuffer(offset)
    consts = [op.attributes["value"] for op in back.walk() if op.name == "arith.constant"]
    assert len(consts) == 4
    for got, want in zip(consts, [a for layer in layers for a in layer]):
        np.testing.assert_array_equal(got, want)
    assert "buffer_location" not in (back.attributes.get("metadata") or {})
    # offset -> IR -> inline gives exactly the inline file; and offset again the offset file.
    assert write_flatbuffer(back) == inline
    assert write_flatbuffer(back, buffer_offset=True) == offset


@pytest.mark.parametrize("buffer_offset", [None, True])
def test_streamed_file_equals_the_bytes(tmp_path: Path, buffer_offset: bool | None) -> None:
    module, _ = fc_chain([8, 16, 3])
    module.attributes["associated_files"] = {"labels.txt": b"a\nb\nc\n"}
    path = tmp_path / "sub" / "model.tflite"
    size = write_flatbuffer_file(module, path, buffer_offset=buffer_offset)
    data = path.read_bytes()
    assert size == len(data)
    assert data == write_flatbuffer(module, buffer_offset=buffer_offset)
    assert data.endswith(data[data.rindex(b"PK\x05\x06") :])  # the ZIP archive comes last
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


def test_offset_layout_is_automatic_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    module, layers = fc_chain([64, 64, 4])
    small = write_flatbuffer(module)
    assert buffers.BUFFER_LOCATION not in layout(small)[1]
    monkeypatch.setattr(buffers, "BUFFER_OFFSET_THRESHOLD", 64 * 64 * 4)
    auto = write_flatbuffer(module)
    check_offset_layout(auto, [a for layer in layers for a in layer])
    assert write_flatbuffer(module, buffer_offset=False) == small  # False: never


def test_shared_buffers_are_placed_once_in_the_offset_layout() -> None:
    module, layers = fc_chain([16, 16, 16])
    fn = module.functions[0]
    # Make the second layer's weights identical to the first's: one buffer, one placement.
    second = [op for op in fn.ops if op.name == "arith.constant"][2]
    second.attributes["value"] = layers[0][0]
    offset = write_flatbuffer(module, buffer_offset=True)
    model, _ = layout(offset)
    sg = model.Subgraphs(0)
    fcs = [sg.Operators(i) for i in range(sg.OperatorsLength())]
    w0, w1 = (sg.Tensors(op.Inputs(1)).Buffer() for op in fcs)
    assert w0 == w1
    x = np.random.default_rng(2).standard_normal((1, 16)).astype(np.float32)
    want = reference(x, [layers[0], (layers[0][0], layers[1][1])])
    np.testing.assert_allclose(run(offset, x), want, rtol=1e-5, atol=1e-5)


def test_converter_option_forces_the_layout() -> None:
    keras = pytest.importorskip("keras")
    import tflconv

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    outputs = keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv._experimental_use_buffer_offset = True
    data = conv.convert()
    assert layout(data)[1][buffers.BUFFER_LOCATION] == buffers.BUFFER_LOCATION_VALUE
    x = np.random.default_rng(3).standard_normal((1, 12)).astype(np.float32)
    np.testing.assert_allclose(run(data, x), model(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_model_over_2gb_converts_runs_and_reads_back(tmp_path: Path) -> None:
    """3 FC layers of 14000 x 14000 float32 (2.35 GB), written to a file in the automatic
    (offset) layout, run in LiteRT from the file, read back. Measured: 70-115 s on 2 shared
    CPUs, peak RSS 4.9 GB (the weights in the IR, LiteRT's mapped file pages, then the file read
    back as bytes), 2.35 GB of disk in pytest's tmp_path."""
    n = 14000
    module, layers = fc_chain([n, n, n, n, 10])
    total = sum(w.nbytes + b.nbytes for w, b in layers)
    assert total > 2**31
    path = tmp_path / "big.tflite"
    size = write_flatbuffer_file(module, path, conversion_metadata={})  # automatic layout
    assert size == path.stat().st_size > total
    x = np.random.default_rng(1).standard_normal((1, n)).astype(np.float32)
    want = reference(x, layers)
    # Without XNNPACK: its weight repacking would double the memory; the builtin kernels read
    # the weights in place from the mapped file.
    got = run(str(path), x, xnnpack=False)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
    data = path.read_bytes()  # the reader takes bytes (it would copy a memoryview or mmap)
    check_offset_layout(data, [layers[0][0], layers[-1][0]])
    back = read_flatbuffer(data)
    consts = [op.attributes["value"] for op in back.walk() if op.name == "arith.constant"]
    for got_c, want_c in zip(consts, [a for layer in layers for a in layer]):
        assert np.array_equal(got_c, want_c)
