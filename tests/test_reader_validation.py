"""The .tflite reader's validation, branch by branch, at the boundaries: the last valid index is
read and one past it is refused, each fallback (a default name, a broadcast zero point, an
unranked shape) gives the documented value. tests/test_hostile_inputs.py has one corrupt file per
refusal; these tests pin the boundaries and fallbacks a one-line bug would shift (an off-by-one
in a bound, a swapped name), which benchmarks/mutation.py measures."""

from __future__ import annotations

from collections.abc import Callable

import flatbuffers
import numpy as np
import pytest

from tflconv.core.ir import Module, Operation
from tflconv.core.types import SymbolRef
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.reader import (
    MAX_ZERO_TENSOR_BYTES,
    ReadError,
    UnsupportedModelError,
    read_flatbuffer,
)
from tflconv.tflite.writer import INTERMEDIATES, pack_model
from tflconv.tools import fuzz

SEEDS = fuzz.seed_models()
# float: tensors x0 w1 b2 conv3 s4 r5 fw6 fc7 y8; ops conv(0,1,2)->3, reshape(3,4)->5,
# fully_connected(5,6,-1)->7, softmax(7)->8; 4 opcodes, 7 buffers.
# while: @main(x0, n1) zero2 -> while(2,0,1)->(3,4,5) -> return 4; @cond; @body.


def edit(seed: str, change: Callable[[fb.ModelT], None], raw: bool = False) -> bytes:
    """The seed with `change` applied; `raw` packs with plain flatbuffers (the writer's
    `pack_model` refuses buffers stored outside the FlatBuffer)."""
    model = fb.ModelT.InitFromPackedBuf(SEEDS[seed], 0)
    change(model)
    if not raw:
        return pack_model(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read(seed: str, change: Callable[[fb.ModelT], None], **kw) -> Module:
    return read_flatbuffer(edit(seed, change), **kw)


def refused(seed: str, change: Callable[[fb.ModelT], None], match: str) -> str:
    with pytest.raises(ReadError, match=match) as info:
        read(seed, change)
    message = str(info.value)
    assert "\n" not in message
    return message


def ops(module: Module, fn: int = 0) -> list[Operation]:
    return list(module.functions[fn].ops)


def by_name(module: Module, name: str) -> Operation:
    return next(op for op in module.walk() if op.name == name)


def sg(model: fb.ModelT, i: int = 0) -> fb.SubGraphT:
    return model.subgraphs[i]


# --- indices: the last valid one is read, one past it refused ---------------------------------


def test_the_seeds_read_unchanged() -> None:
    for data in SEEDS.values():
        module = read_flatbuffer(data)
        assert module.functions


def test_operand_index_bounds() -> None:
    def last(m: fb.ModelT) -> None:  # softmax reads tensor 8 (the last one); y becomes t7
        sg(m).operators[3].inputs, sg(m).operators[3].outputs = [7], [8]

    read("float", last)
    assert "uses tensor 9, but there are 9" in refused(
        "float", lambda m: setattr(sg(m).operators[3], "inputs", [9]), "uses tensor 9"
    )
    refused("float", lambda m: setattr(sg(m).operators[3], "inputs", [-2]), "uses tensor -2")


def test_a_constant_at_the_last_tensor_index_is_read() -> None:
    def move(m: fb.ModelT) -> None:
        g = sg(m)
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = "s2", [2], fb.TensorType.INT32, 3
        g.tensors.append(t)  # tensor 9, a copy of the reshape's shape constant
        g.operators[1].inputs = [3, 9]

    module = read("float", move)
    reshape = by_name(module, "tfl.reshape")
    assert reshape.operands[1].name_hint == "s2"
    assert reshape.operands[1].defining_op.attributes["value"].tolist() == [1, -1]


def test_subgraph_input_bounds() -> None:
    module = read("float", lambda m: setattr(sg(m), "inputs", [0]))
    assert [a.name_hint for a in module.functions[0].args] == ["x"]
    refused(
        "float", lambda m: setattr(sg(m), "inputs", [9]), "inputs name tensor 9, but there are 9"
    )
    refused("float", lambda m: setattr(sg(m), "inputs", [-1]), "inputs name tensor -1")
    refused("while", lambda m: setattr(sg(m), "inputs", [1, 1]), "name a tensor twice")


def test_output_index_bounds() -> None:
    def last(m: fb.ModelT) -> None:
        g = sg(m)
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = "y2", [1, 4], fb.TensorType.FLOAT32, 0
        g.tensors.append(t)  # tensor 9
        g.operators[3].outputs = [9]
        g.outputs = [9]

    module = read("float", last)
    assert module.functions[0].return_op.operands[0].name_hint == "y2"
    refused(
        "float",
        lambda m: setattr(sg(m).operators[3], "outputs", [9]),
        r"outputs \[9\] out of range \(9 tensors\)",
    )
    refused(
        "float",
        lambda m: setattr(sg(m).operators[3], "outputs", [-1]),
        r"outputs \[-1\] out of range",
    )
    refused("float", lambda m: setattr(sg(m), "outputs", [9]), "the subgraph outputs uses tensor 9")
    refused("float", lambda m: setattr(sg(m).operators[3], "outputs", [8, 8]), "writes tensor")


def test_opcode_index_bounds() -> None:
    def swap(m: fb.ModelT) -> None:  # the softmax op uses opcode 3, the last one
        assert sg(m).operators[3].opcodeIndex == len(m.operatorCodes) - 1

    read("float", swap)
    refused(
        "float",
        lambda m: setattr(sg(m).operators[3], "opcodeIndex", 4),
        "opcode index 4 out of range",
    )


def test_buffer_index_bounds() -> None:
    def last(m: fb.ModelT) -> None:  # an empty buffer at the last index
        m.buffers.append(fb.BufferT())
        sg(m).tensors[8].buffer = len(m.buffers) - 1

    read("float", last)
    refused(
        "float",
        lambda m: setattr(sg(m).tensors[1], "buffer", 7),
        r"buffer index 7 out of range \(7 buffers\)",
    )


def test_subgraph_references_bounds() -> None:
    def body(value: int) -> Callable[[fb.ModelT], None]:
        return lambda m: setattr(sg(m).operators[0].builtinOptions, "bodySubgraphIndex", value)

    module = read("while", body(2))
    assert by_name(module, "tfl.while").attributes["body_subgraph_index"] == SymbolRef("body")
    refused("while", body(3), "refers to subgraph 3; there are 3")
    refused("while", body(-1), "refers to subgraph -1")


def test_signature_subgraph_bounds() -> None:
    refused("float", lambda m: setattr(m.signatureDefs[0], "subgraphIndex", 1), "names subgraph 1")

    def to_body(m: fb.ModelT) -> None:  # a signature on the last subgraph
        m.signatureDefs[0].subgraphIndex = 2
        m.signatureDefs[0].inputs = m.signatureDefs[0].outputs = []

    module = read("while", to_body)
    assert [bool(f.attributes.get("entry")) for f in module.functions] == [False, False, True]


def test_intermediate_index_bounds() -> None:
    def last(m: fb.ModelT) -> None:
        sg(m).operators[0].intermediates = [8, -1]

    op = by_name(read("float", last), "tfl.conv_2d")
    ((name, type_),) = op.attributes[INTERMEDIATES]  # -1 (absent) is skipped
    assert name == "y" and type_.shape == (1, 4)
    refused(
        "float",
        lambda m: setattr(sg(m).operators[0], "intermediates", [9]),
        r"intermediate tensor 9 out of range \(9 tensors\)",
    )


def test_blockwise_scales_index_bounds() -> None:
    def blockwise(k: int) -> Callable[[fb.ModelT], None]:
        def change(m: fb.ModelT) -> None:
            q = fb.QuantizationParametersT()
            q.detailsType = fb.QuantizationDetails.BlockwiseQuantization
            q.details = fb.BlockwiseQuantizationT()
            q.details.scales, q.details.blockSize = k, 2
            sg(m).tensors[1].quantization = q

        return change

    refused("float", blockwise(9), "names scales tensor 9, out of range")
    refused("float", blockwise(-1), "names scales tensor -1, out of range")
    module = read("float", blockwise(2), verify_ir=False)
    op = next(
        op for op in module.walk() if op.name != "arith.constant" and "scales" in op.attributes
    )
    assert op.attributes["block_size"] == 2
    assert op.attributes["scales"].tolist() == [0.5, -0.5, 1.0]


# --- names ----------------------------------------------------------------------------------


def test_output_names_are_positional_with_defaults() -> None:
    def two_outputs(m: fb.ModelT) -> None:
        sg(m).outputs = [7, 8]  # fc and y; the signature names only y (position 1)

    fn = read("float", two_outputs).functions[0]
    assert fn.attributes["output_names"] == ["output_0", "y"]
    assert [v.name_hint for v in fn.return_op.operands] == ["fc", "y"]

    def swapped(m: fb.ModelT) -> None:
        sg(m).outputs = [8, 7]

    assert read("float", swapped).functions[0].attributes["output_names"] == ["y", "output_1"]


def test_input_names_come_from_the_signature_then_the_tensor() -> None:
    def rename(m: fb.ModelT) -> None:
        m.signatureDefs[0].inputs[0].name = "image"

    fn = read("float", rename).functions[0]
    assert fn.attributes["input_names"] == ["image"]
    assert fn.args[0].name_hint == "x"

    def unnamed(m: fb.ModelT) -> None:
        m.signatureDefs[0].inputs = []

    assert read("float", unnamed).functions[0].attributes["input_names"] == ["x"]
    fn = read_flatbuffer(SEEDS["while"]).functions[0]
    assert fn.attributes["input_names"] == ["x", "n"]
    assert fn.attributes["signature_key"] == "serving_default"


def test_a_second_signature_on_the_same_subgraph_keeps_the_first() -> None:
    def second(m: fb.ModelT) -> None:
        s = fb.SignatureDefT()
        s.signatureKey, s.subgraphIndex = "other", 0
        s.inputs, s.outputs = [], []
        m.signatureDefs.append(s)

    fn = read("float", second).functions[0]
    assert fn.attributes["signature_key"] == "serving_default"
    assert fn.attributes["output_names"] == ["y"]


def test_function_names_default_and_stay_unique() -> None:
    def names(m: fb.ModelT) -> None:
        sg(m, 0).name, sg(m, 1).name, sg(m, 2).name = "main", "main", ""

    module = read("while", names)
    assert [f.name for f in module.functions] == ["main", "main_1", "subgraph_2"]
    assert by_name(module, "tfl.while").attributes["cond_subgraph_index"] == SymbolRef("main_1")

    def three(m: fb.ModelT) -> None:
        sg(m, 0).name = sg(m, 1).name = sg(m, 2).name = "f"

    assert [f.name for f in read("while", three).functions] == ["f", "f_1", "f_2"]


def test_value_names_and_locations_come_from_tensor_names() -> None:
    module = read_flatbuffer(SEEDS["float"])
    conv = by_name(module, "tfl.conv_2d")
    assert conv.result.name_hint == "conv" and "conv" in conv.location.names
    assert [v.name_hint for v in conv.operands] == ["x", "w", "b"]

    def unnamed(m: fb.ModelT) -> None:
        sg(m).tensors[3].name = ""

    conv = by_name(read("float", unnamed), "tfl.conv_2d")
    assert conv.result.name_hint is None


# --- types and data -------------------------------------------------------------------------


def test_shapes_dynamic_dims_and_rank() -> None:
    def dynamic(m: fb.ModelT) -> None:
        sg(m).tensors[0].shapeSignature = [-1, 6, 6, 2]

    assert read("float", dynamic).functions[0].args[0].type.shape == (None, 6, 6, 2)
    refused("float", lambda m: setattr(sg(m).tensors[5], "shape", [1, -2]), r"has shape \[1, -2\]")
    read("float", lambda m: setattr(sg(m).tensors[0], "shapeSignature", [1, 6, 6, 2]))
    refused(
        "float",
        lambda m: setattr(sg(m).tensors[0], "shapeSignature", [1, 6, 6, -2]),
        "shape_signature",
    )
    refused(
        "float", lambda m: setattr(sg(m).tensors[0], "shapeSignature", [1, 6, 6]), "shape_signature"
    )

    def unranked(m: fb.ModelT) -> None:
        sg(m).tensors[7].shape, sg(m).tensors[7].hasRank = None, False

    fc = by_name(read("float", unranked, verify_ir=False), "tfl.fully_connected")
    assert fc.result.type.shape is None

    def scalar(m: fb.ModelT) -> None:
        sg(m).tensors[7].shape, sg(m).tensors[7].hasRank = None, True

    fc = by_name(read("float", scalar, verify_ir=False), "tfl.fully_connected")
    assert fc.result.type.shape == ()


def test_tensor_type_errors() -> None:
    refused("float", lambda m: setattr(sg(m).tensors[5], "type", 99), "has type 99, not supported")
    with pytest.raises(UnsupportedModelError):
        read("float", lambda m: setattr(sg(m).tensors[5], "type", fb.TensorType.FLOAT8_E4M3FN))


def _quant(index: int = 3, **fields) -> Callable[[fb.ModelT], None]:
    def change(m: fb.ModelT) -> None:
        q = fb.QuantizationParametersT()
        for k, v in fields.items():
            setattr(q, k, v)
        sg(m).tensors[index].quantization = q

    return change


def quant_of(module: Module, name: str = "tfl.conv_2d"):
    return by_name(module, name).result.type.quant


def test_quantization_fields() -> None:
    q = quant_of(read("float", _quant(scale=[0.5], zeroPoint=[3])))
    assert q.scale == (0.5,) and q.zero_point == (3,) and q.axis is None
    # a single zero point is broadcast, a missing one is zero
    q = quant_of(read("float", _quant(scale=[0.5, 0.25, 2.0], zeroPoint=[4], quantizedDimension=3)))
    assert q.zero_point == (4, 4, 4) and q.axis == 3
    q = quant_of(read("float", _quant(scale=[0.5, 0.25, 2.0], quantizedDimension=3)))
    assert q.zero_point == (0, 0, 0)
    q = quant_of(
        read("float", _quant(scale=[0.5, 0.25, 2.0], zeroPoint=[1, 2], quantizedDimension=3))
    )
    assert q.zero_point == (0, 0, 0)
    # one scale along a non-zero dimension keeps the axis
    q = quant_of(read("float", _quant(scale=[0.5], zeroPoint=[0], quantizedDimension=1)))
    assert q.axis == 1
    # min/max without a scale are calibration leftovers of a float tensor
    assert quant_of(read("float", _quant(min=[0.0], max=[1.0]))) is None
    q = quant_of(read("float", _quant(scale=[0.5], zeroPoint=[0], min=[-1.0], max=[1.0])))
    assert q.min == (-1.0,) and q.max == (1.0,)


def test_quantization_axis_bounds() -> None:
    scales = {"scale": [0.5, 0.5, 0.5], "zeroPoint": [0, 0, 0]}
    assert quant_of(read("float", _quant(**scales, quantizedDimension=3))).axis == 3
    refused("float", _quant(**scales, quantizedDimension=4), "dimension 4 of a rank-4 tensor")
    refused("float", _quant(**scales, quantizedDimension=-1), "dimension -1")
    refused(
        "float",
        _quant(scale=[0.5], zeroPoint=[0], min=[0.0], max=[]),
        "1 quantization min values but 0 max",
    )


def test_custom_quantization_details_are_unsupported() -> None:
    with pytest.raises(UnsupportedModelError, match="custom/blockwise quantization"):
        read(
            "float",
            _quant(
                scale=[0.5],
                zeroPoint=[0],
                detailsType=fb.QuantizationDetails.CustomQuantization,
                details=fb.CustomQuantizationT(),
            ),
        )


def test_constant_data_size_must_match() -> None:
    refused(
        "float", lambda m: setattr(sg(m).tensors[2], "shape", [4]), "12 bytes of data, expected 16"
    )
    refused(
        "float", lambda m: setattr(sg(m).tensors[2], "shape", [2]), "12 bytes of data, expected 8"
    )
    b = by_name(read_flatbuffer(SEEDS["float"]), "tfl.conv_2d").operands[2].defining_op
    assert b.attributes["value"].tolist() == [0.5, -0.5, 1.0]


def test_a_read_without_data_and_without_producer_is_refused() -> None:
    refused(
        "float",
        lambda m: setattr(sg(m).operators[3], "inputs", [8]),
        r"reads tensor 8 \('y'\), which no earlier op produces",
    )


def test_empty_and_variable_tensors() -> None:
    def empty(m: fb.ModelT) -> None:  # a zero-size constant has no data and needs none
        sg(m).tensors[4].shape, sg(m).tensors[4].buffer = [0], 0

    s = by_name(read("float", empty, verify_ir=False), "tfl.reshape").operands[1]
    assert s.defining_op.attributes["value"].shape == (0,)

    def variable(
        shape: list[int], type_: int = fb.TensorType.FLOAT32
    ) -> Callable[[fb.ModelT], None]:
        def change(m: fb.ModelT) -> None:
            t = sg(m).tensors[6]
            t.isVariable, t.buffer, t.shape, t.type = True, 0, shape, type_

        return change

    fw = by_name(read("float", variable([4, 108])), "tfl.fully_connected").operands[1].defining_op
    assert fw.attributes["is_variable"] is True
    assert fw.attributes["value"].shape == (4, 108) and not fw.attributes["value"].any()
    side = MAX_ZERO_TENSOR_BYTES // 4  # one row more than the limit (refused before allocating)
    refused("float", variable([side + 1, 1]), "would need")
    refused("float", variable([4, 108], fb.TensorType.STRING), "variable tensor 'fw'")
    refused("float", variable([4, 108], fb.TensorType.INT4), "variable tensor 'fw'")


def test_a_variable_output_marks_its_producer() -> None:
    def variable_output(m: fb.ModelT) -> None:
        sg(m).tensors[7].isVariable = True

    fc = by_name(read("float", variable_output), "tfl.fully_connected")
    assert fc.attributes.get("_is_variable") is True
    assert (
        "_is_variable"
        not in by_name(read_flatbuffer(SEEDS["float"]), "tfl.fully_connected").attributes
    )


def test_absent_optional_inputs_share_one_no_value() -> None:
    def two(m: fb.ModelT) -> None:
        sg(m).operators[0].inputs = [0, 1, -1]

    module = read("float", two)
    no_values = [op for op in ops(module) if op.name == "tfl.no_value"]
    assert len(no_values) == 1
    conv, fc = by_name(module, "tfl.conv_2d"), by_name(module, "tfl.fully_connected")
    assert conv.operands[2] is fc.operands[2] is no_values[0].result


def test_buffers_stored_after_the_flatbuffer() -> None:
    payload = np.array([9.0, 8.0, 7.0], np.float32).tobytes()

    def outside(offset: int, size: int) -> Callable[[fb.ModelT], None]:
        def change(m: fb.ModelT) -> None:
            b = m.buffers[2]
            b.data, b.offset, b.size = None, offset, size

        return change

    packed = edit("float", outside(1, 0), raw=True)  # offset 1 means "none": no data
    with pytest.raises(ReadError, match="reads tensor 2"):
        read_flatbuffer(packed)
    probe = edit("float", outside(10**6, len(payload)), raw=True)
    offset = len(probe)
    data = edit("float", outside(offset, len(payload)), raw=True) + payload
    assert len(data) == offset + len(payload)
    b = by_name(read_flatbuffer(data), "tfl.conv_2d").operands[2].defining_op
    assert b.attributes["value"].tolist() == [9.0, 8.0, 7.0]
    with pytest.raises(ReadError, match="points past the end of the file"):
        read_flatbuffer(data[:-1])


# --- options --------------------------------------------------------------------------------


def test_options_of_every_kind_are_read() -> None:
    conv = by_name(read_flatbuffer(SEEDS["float"]), "tfl.conv_2d")
    assert conv.attributes["padding"] == "SAME"
    assert conv.attributes["fused_activation_function"] == "RELU"
    assert conv.attributes["stride_h"] == 1 and isinstance(conv.attributes["stride_h"], int)
    softmax = by_name(read_flatbuffer(SEEDS["float"]), "tfl.softmax")
    assert softmax.attributes["beta"] == 1.0

    def beta(m: fb.ModelT) -> None:
        sg(m).operators[3].builtinOptions.beta = 0.2

    assert by_name(read("float", beta), "tfl.softmax").attributes["beta"] == 0.2  # not 0.2000000029
    module = read_flatbuffer(SEEDS["while"])
    add = by_name(module, "tfl.add")
    assert add.attributes["pot_scale_int16"] is True
    refused(
        "float",
        lambda m: setattr(sg(m).operators[0].builtinOptions, "padding", 2),
        "option padding has value 2",
    )


def test_options_of_the_wrong_union_type_are_refused() -> None:
    def wrong(m: fb.ModelT) -> None:
        op = sg(m).operators[3]
        op.builtinOptionsType, op.builtinOptions = (
            fb.BuiltinOptions.Conv2DOptions,
            fb.Conv2DOptionsT(),
        )

    refused("float", wrong, "carries Conv2DOptions options; tfl.softmax uses SoftmaxOptions")

    def none(m: fb.ModelT) -> None:  # absent options: the op keeps the defaults of its table
        op = sg(m).operators[3]
        op.builtinOptionsType, op.builtinOptions = 0, None

    softmax = by_name(read("float", none, verify_ir=False), "tfl.softmax")
    assert "beta" not in softmax.attributes


def test_custom_ops_keep_code_and_options() -> None:
    def custom(offset: int, size: int, inline: bytes | None) -> Callable[[fb.ModelT], None]:
        def change(m: fb.ModelT) -> None:
            oc = m.operatorCodes[3]
            oc.builtinCode = oc.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
            oc.customCode = "Mine"
            op = sg(m).operators[3]
            op.builtinOptionsType, op.builtinOptions = 0, None
            op.customOptions = None if inline is None else list(inline)
            op.largeCustomOptionsOffset, op.largeCustomOptionsSize = offset, size

        return change

    op = by_name(read("float", custom(0, 0, b"\x01\x02")), "tfl.custom")
    assert op.attributes["custom_code"] == "Mine" and op.attributes["custom_options"] == b"\x01\x02"
    op = by_name(read("float", custom(0, 0, None)), "tfl.custom")
    assert op.attributes["custom_options"] == b""
    probe = edit("float", custom(10**6, 3, None), raw=True)
    data = edit("float", custom(len(probe), 3, None), raw=True) + b"abc"
    assert by_name(read_flatbuffer(data), "tfl.custom").attributes["custom_options"] == b"abc"
    with pytest.raises(ReadError, match="point past the end of the file"):
        read_flatbuffer(data[:-1])


def test_deprecated_and_extended_builtin_codes() -> None:
    # old files set only the deprecated code, new ones both; the larger one counts
    assert by_name(
        read("float", lambda m: setattr(m.operatorCodes[3], "builtinCode", 0)), "tfl.softmax"
    )
    assert by_name(
        read("float", lambda m: setattr(m.operatorCodes[3], "deprecatedBuiltinCode", 0)),
        "tfl.softmax",
    )
    with pytest.raises(UnsupportedModelError, match="builtin code 127"):
        read("float", lambda m: setattr(m.operatorCodes[3], "builtinCode", 127))
    with pytest.raises(UnsupportedModelError, match="builtin code 4000"):
        read("float", lambda m: setattr(m.operatorCodes[0], "builtinCode", 4000))


# --- verification -----------------------------------------------------------------------------


def test_the_verifier_runs_unless_turned_off() -> None:
    def count(m: fb.ModelT) -> None:
        sg(m).operators[3].inputs = [7, 7]

    message = refused("float", count, "invalid model structure")
    assert "tfl.softmax" in message
    module = read("float", count, verify_ir=False)
    assert by_name(module, "tfl.softmax").num_operands == 2


def test_the_smallest_inputs() -> None:
    with pytest.raises(ReadError, match="not a .tflite model"):
        read_flatbuffer(b"\x00\x00\x00\x00TFL")
    # exactly 8 bytes with the identifier: a FlatBuffer, but a broken one
    with pytest.raises(ReadError, match="corrupt .tflite FlatBuffer"):
        read_flatbuffer(b"\x00\x00\x00\x00TFL3")


def test_a_bfloat16_variable_starts_at_zero() -> None:
    def bf16(m: fb.ModelT) -> None:
        t = sg(m).tensors[6]
        t.isVariable, t.buffer, t.type = True, 0, fb.TensorType.BFLOAT16

    fw = by_name(read("float", bf16, verify_ir=False), "tfl.fully_connected").operands[1]
    value = fw.defining_op.attributes["value"]
    assert value.dtype == np.uint16 and value.shape == (4, 108) and not value.any()


def test_malformed_string_data_is_a_read_error() -> None:
    def strings(m: fb.ModelT) -> None:
        t = sg(m).tensors[4]
        t.type = fb.TensorType.STRING
        m.buffers[t.buffer].data = np.frombuffer(
            b"\x05\x00\x00\x00", np.uint8
        )  # 5 strings, no offsets

    refused("float", strings, r"cannot decode tensor 4 \('s'\)")


def test_int4_and_string_data_decode() -> None:
    from tflconv.tflite.reader import decode_strings, unpack_int4
    from tflconv.tflite.writer import encode_strings, pack_int4

    raw = np.array([0x21, 0xF3, 0x87], np.uint8)  # low nibble first, sign-extended
    assert unpack_int4(raw, 6).tolist() == [1, 2, 3, -1, 7, -8]
    assert unpack_int4(raw, 5).tolist() == [1, 2, 3, -1, 7]
    values = np.array([-8, -1, 0, 7, 3], np.int8)
    assert unpack_int4(np.frombuffer(pack_int4(values), np.uint8), 5).tolist() == values.tolist()
    strings = np.array([b"ab", b"", b"xyz"], dtype=object)
    assert decode_strings(np.frombuffer(encode_strings(strings), np.uint8)).tolist() == [
        b"ab",
        b"",
        b"xyz",
    ]
