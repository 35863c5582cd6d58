"""The TFLite kernel facts (dialects/tfl_traits.py) against the tfl op declarations and schema,
and the fusion they drive run in the LiteRT interpreter."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tflconv.core.opdef import OPDEFS
from tflconv.dialects import tfl
from tflconv.dialects.tfl_traits import (
    ACTIVATION_FUNCTIONS,
    AFFINE,
    BIAS_TYPE_OPTION,
    DYNAMIC_RANGE,
    FIXED_OUTPUT,
    FREE_SCALE,
    FUSED_ACTIVATION_OPS,
    INT8_AFFINE,
    INT8_OPS,
    INT16_OPS,
    SAME_SCALE,
)
from tflconv.passes.quantize.bias_correction import CORRECTED

ALL_NAMED = sorted(
    set(AFFINE)
    | FUSED_ACTIVATION_OPS
    | set(ACTIVATION_FUNCTIONS)
    | set(FIXED_OUTPUT)
    | SAME_SCALE
    | FREE_SCALE
    | INT16_OPS
    | set(DYNAMIC_RANGE)
)


def _operands(op: str) -> tuple[str, ...]:
    return tuple(n.rstrip("?*") for n in OPDEFS[op].operands)


def _fields(op: str) -> set[str]:
    table = tfl.options_table(op)
    return set() if table is None else {f.name for f in table.fields}


@pytest.mark.parametrize("op", ALL_NAMED)
def test_every_named_op_is_a_tfl_builtin(op: str) -> None:
    assert op in OPDEFS and OPDEFS[op].builtin_code is not None


@pytest.mark.parametrize("op", sorted(AFFINE))
def test_affine_operands_and_axis(op: str) -> None:
    a = AFFINE[op]
    names = _operands(op)
    assert len({a.input, a.weight, a.bias}) == 3
    assert max(a.input, a.weight, a.bias) < len(names)
    assert names[a.input] == "input"
    assert names[a.weight] in ("filter", "weights")
    assert names[a.bias] == "bias" and OPDEFS[op].operands[a.bias].endswith("?")
    # The output-channel axis points at the layout's O (depthwise: C*M).
    dims = re.findall(r"\([^)]*\)|\w", a.layout)
    assert a.axis < len(dims)
    assert dims[a.axis] in ("O", "(C*M)")
    assert a.patch in (None, "window", "channels")


def test_quantized_affine_ops_are_the_affine_ops_with_int8_kernels() -> None:
    assert set(INT8_AFFINE) == {op for op in AFFINE if op in INT8_OPS}
    assert set(INT8_AFFINE) >= CORRECTED
    assert {op for op, a in AFFINE.items() if a.patch} == CORRECTED
    # Read from the schema: depthwise conv's options have no quantized_bias_type (a renamed
    # field would empty the set and silently drop INT64 biases of 16x8 models).
    assert {"tfl.conv_2d", "tfl.fully_connected", "tfl.transpose_conv"} == BIAS_TYPE_OPTION


@pytest.mark.parametrize("op", sorted(FUSED_ACTIVATION_OPS))
def test_fused_activation_ops_have_the_option(op: str) -> None:
    assert "fused_activation_function" in _fields(op)


def test_activation_functions_are_enum_members() -> None:
    members = tfl.enum_names("fused_activation_function")
    for op, member in ACTIVATION_FUNCTIONS.items():
        assert member in members, op
        assert op == "tfl." + member.lower()  # RELU_N1_TO_1 <-> tfl.relu_n1_to_1


def test_quantization_tables_are_consistent() -> None:
    assert not SAME_SCALE & FREE_SCALE
    assert not SAME_SCALE & set(FIXED_OUTPUT)
    assert INT16_OPS <= INT8_OPS
    for op, ranges in FIXED_OUTPUT.items():
        assert set(ranges) <= {"i8", "i16"} and "i8" in ranges, op
        for dtype, (scale, zero_point) in ranges.items():
            info = np.iinfo(np.int8 if dtype == "i8" else np.int16)
            assert scale > 0 and info.min <= zero_point <= info.max, op
        if "i16" in ranges:
            assert ranges["i16"][1] == 0  # int16 activations are symmetric


@pytest.mark.parametrize("op", sorted(DYNAMIC_RANGE))
def test_dynamic_range_ops(op: str) -> None:
    h = DYNAMIC_RANGE[op]
    assert h.weight < len(OPDEFS[op].operands)
    assert h.asymmetric_inputs == ("asymmetric_quantize_inputs" in _fields(op))
    if op in AFFINE:
        assert (h.weight, h.axis) == (AFFINE[op].weight, AFFINE[op].axis)


# --- The fused-activation fact, run in LiteRT -------------------------------------------------

_PRODUCERS = {
    "tfl.add": lambda tf, a, b: a + b,
    "tfl.sub": lambda tf, a, b: a - b,
    "tfl.mul": lambda tf, a, b: a * b,
    "tfl.div": lambda tf, a, b: a / (tf.abs(b) + 1.0),
    "tfl.concatenation": lambda tf, a, b: tf.concat([a, b], axis=-1),
    "tfl.maximum": lambda tf, a, b: tf.maximum(a, b),
}


def _fused(tflite: bytes, op_name: str) -> list[str]:
    from tflconv.tflite.reader import read_flatbuffer

    module = read_flatbuffer(tflite)
    return [
        op.attributes.get("fused_activation_function", "NONE")
        for op in module.walk()
        if op.name == op_name
    ]


@pytest.mark.parametrize("activation", ["relu", "relu6"])
@pytest.mark.parametrize("producer", sorted(_PRODUCERS))
def test_activation_is_fused_exactly_into_fused_activation_ops(
    producer: str, activation: str
) -> None:
    """relu(producer(a, b)): fused into the producer iff its kernel applies the option, and the
    LiteRT result matches TensorFlow either way (concatenation's kernel ignores the option)."""
    tf = pytest.importorskip("tensorflow")
    from e2e_util import convert_and_compare, op_histogram

    act = getattr(tf.nn, activation)
    spec = tf.TensorSpec([2, 3, 5], tf.float32)
    fn = tf.function(lambda a, b: act(_PRODUCERS[producer](tf, a, b)), input_signature=[spec] * 2)
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-8, 8, (2, 3, 5)).astype(np.float32) for _ in range(2)]
    tflite = convert_and_compare(fn.get_concrete_function(), inputs)
    hist = op_histogram(tflite)
    activation_op = "tfl." + activation
    if producer in FUSED_ACTIVATION_OPS:
        assert activation_op not in hist, hist
        assert _fused(tflite, producer) == [ACTIVATION_FUNCTIONS[activation_op]]
    else:
        assert hist.get(activation_op) == 1, hist
        assert _fused(tflite, producer) in ([], ["NONE"])


_VERIFIED = {
    # op: (input shape, weights shape, result shape); the weights' AFFINE axis has 3 channels
    "tfl.conv_2d": ((1, 4, 4, 2), (3, 1, 1, 2), (1, 4, 4, 3)),
    "tfl.depthwise_conv_2d": ((1, 4, 4, 3), (1, 1, 1, 3), (1, 4, 4, 3)),
    "tfl.fully_connected": ((1, 2), (3, 2), (1, 3)),
}


@pytest.mark.parametrize("bias_size", [3, 5])
@pytest.mark.parametrize("op", sorted(_VERIFIED))
def test_affine_axis_agrees_with_the_op_verifier(op: str, bias_size: int) -> None:
    """The tfl verifiers count output channels on the same weights axis as AFFINE."""
    from tflconv.core.parser import parse_module
    from tflconv.core.verifier import verify_op

    x, w, y = (f"tensor<{'x'.join(map(str, s))}xf32>" for s in _VERIFIED[op])
    assert _VERIFIED[op][1][AFFINE[op].axis] == 3
    b = f"tensor<{bias_size}xf32>"
    module = parse_module(
        f"""module {{
  func.func @f(%x: {x}, %w: {w}, %b: {b}) -> ({y}) {{
    %y = "{op}"(%x, %w, %b) : ({x}, {w}, {b}) -> {y}
    "func.return"(%y) : ({y}) -> ()
  }}
}}"""
    )
    (affine,) = [o for o in module.walk() if o.name == op]
    messages = [d.message for d in verify_op(affine)]
    if bias_size == 3:
        assert not messages
    else:
        assert any("output channels" in m for m in messages), messages
