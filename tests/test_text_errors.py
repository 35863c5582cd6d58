"""IR text: parse errors (one line with file:line:col and a caret) and large modules."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_text import F4, one_op_module  # shared helpers
from tflconv.core.ir import Function, Module, Operation, constant
from tflconv.core.location import Location, SourceLine
from tflconv.core.parser import ParseError, parse_attr, parse_module, split_input_file
from tflconv.core.printer import (
    print_module,
)
from tflconv.core.types import TypeAttr

# --- errors ---------------------------------------------------------------------------------

GOOD = """func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>) {
  %r = "tf.Relu"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%r) : (tensor<4xf32>) -> ()
}
"""


def parse_error(text: str, filename: str = "<input>") -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_module(text, filename)
    return info.value


def test_error_format_has_position_and_caret() -> None:
    e = parse_error(GOOD.replace("(%x)", "(%y)"), "model.mlir")
    assert isinstance(e, ValueError)
    assert (e.line, e.col, e.message) == (2, 18, "use of undefined value %y")
    assert str(e) == (
        "model.mlir:2:18: error: use of undefined value %y\n"
        '  %r = "tf.Relu"(%y) : (tensor<4xf32>) -> tensor<4xf32>\n'
        "                 ^"
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "col", "message"),
    [
        ("tensor<4xf32>) -> (", "tensor<4xfoo>) -> (", 1, 27, "unknown element type 'foo'"),
        ("%x: tensor<4xf32>", "%x: foo", 1, 18, "unknown type 'foo'"),
        ('"tf.Relu"(%x)', '"tf.Relu(%x)', 2, 8, "unterminated string"),
        (
            "(%x) : (tensor<4xf32>) -> tensor<4xf32>\n",
            "(%x)\n",
            3,
            3,
            "expected ':' and the type signature of 'tf.Relu', found '\"func.return\"'",
        ),
        (
            "(%x) : (tensor<4xf32>)",
            "(%x, %x) : (tensor<4xf32>)",
            2,
            28,
            "'tf.Relu' has 2 operands but its type signature lists 1",
        ),
        ("%r = ", "%x = ", 2, 3, "redefinition of value %x"),
        (
            "(%x) : (tensor<4xf32>)",
            "(%x) : (tensor<3xf32>)",
            2,
            18,
            "operand %x has type tensor<4xf32> but the signature says tensor<3xf32>",
        ),
        (
            "-> tensor<4xf32>\n",
            "-> (tensor<4xf32>, tensor<4xf32>)\n",
            2,
            3,
            "'tf.Relu' defines 1 result names but its type signature lists 2 results",
        ),
        ("(%x) : ", "(%x) {a = } : ", 2, 27, "expected an attribute value, found '}'"),
        (
            "-> (tensor<4xf32>) {",
            "-> (tensor<8xf32>) {",
            1,
            36,
            "@f declares results (tensor<8xf32>) but func.return gives (tensor<4xf32>)",
        ),
        ('  "func.return"', '  "func.return" ?', 3, 17, "expected '(', found '?'"),
        ("}\n", "", 4, 1, "expected an op or '}', found end of input"),
    ],
)
def test_parse_errors(old: str, new: str, line: int, col: int, message: str) -> None:
    assert old in GOOD
    e = parse_error(GOOD.replace(old, new, 1))
    assert (e.message, e.line, e.col) == (message, line, col)
    assert str(e).splitlines()[-1] == " " * (col - 1) + "^"


def test_undefined_resource_in_full_section() -> None:
    module = one_op_module(constant(np.arange(20, dtype=np.int32), name="w"))
    text = print_module(module, elide_large=False).replace("      w: ", "      v: ")
    e = parse_error(text)
    assert e.message == "use of undefined resource 'w'"
    assert e.line == 3 and text.splitlines()[2][e.col - 1 :].startswith("dense_resource<w>")
    bad_size = print_module(module, elide_large=False).replace('"0x00000000', '"0x')
    assert "holds 76 bytes, the type needs 80" in parse_error(bad_size).message


def test_duplicate_function_and_attribute_errors() -> None:
    e = parse_error(GOOD + GOOD)
    assert (e.line, e.message) == (5, "redefinition of function @f")
    e = parse_error(GOOD.replace("(%x) :", "(%x) {a = 1, a = 2} :"))
    assert e.message == "duplicate attribute 'a'"


def test_dense_errors() -> None:
    with pytest.raises(ParseError, match="dense data has 3 elements but tensor<2xf32> needs 2"):
        parse_attr("dense<[1.0, 2.0, 3.0]> : tensor<2xf32>")
    with pytest.raises(ParseError, match="element 1.5 does not fit tensor<2xi32>"):
        parse_attr("dense<[1, 1.5]> : tensor<2xi32>")
    with pytest.raises(ParseError, match="does not fit tensor<1xi8>"):
        parse_attr("dense<[300]> : tensor<1xi8>")
    with pytest.raises(ParseError, match="static"):
        parse_attr("dense<1.0> : tensor<?xf32>")


def test_split_input_file() -> None:
    text = (
        GOOD + "// -----\n" + GOOD + "\n// -----   trailing note\n" + GOOD.replace("(%x)", "(%z)")
    )
    chunks = split_input_file(text)
    assert [line for _, line in chunks] == [1, 6, 12]
    assert chunks[0][0] == GOOD
    for chunk, _ in chunks[:2]:
        parse_module(chunk)
    chunk, first = chunks[2]
    with pytest.raises(ParseError) as info:
        parse_module(chunk, "cases.mlir", first_line=first)
    assert info.value.line == 13
    assert text.splitlines()[info.value.line - 1] == info.value.source_line
    assert str(info.value).startswith("cases.mlir:13:18: error: use of undefined value %z")
    assert split_input_file(GOOD) == [(GOOD, 1)]


# --- scale ---------------------------------------------------------------------------------


def test_large_module_prints_and_parses() -> None:
    fn = Function("main", [F4], ["x"])
    value = fn.args[0]
    for i in range(20_000):
        op = Operation(
            "tf.AddV2",
            [value, fn.args[0]],
            [F4],
            {"T": TypeAttr("f32"), "strides": [1, 2], "padding": "SAME"},
            location=Location.name(f"model/layer_{i}/add", SourceLine("model.py", i)),
            result_names=[f"model/layer_{i}/add:0"],
        )
        value = fn.block.append(op).result
    fn.set_outputs([value])
    module = Module([fn])
    text = print_module(module)
    parsed = parse_module(text)
    assert print_module(parsed) == text  # speed: benchmarks/core_scale.py, not a test


def test_string_splat_keeps_trailing_nul_bytes():
    from tflconv.core.parser import parse_attr

    value = parse_attr('dense<"\\00"> : tensor<2x!tf.string>')
    assert list(value) == [b"\x00", b"\x00"]


def test_tf_quantized_type_attributes_round_trip():
    """tf.Dequantize's T = quint8 (a dump of a model with TF quantized tensors) parses back."""
    text = """module {
  func.func @main(%x: tensor<4xui8>) -> (tensor<4xf32>) {
    %a = "arith.constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %y = "tf.Dequantize"(%x, %a, %a) {T = quint8, mode = "MIN_COMBINED"} : (tensor<4xui8>, tensor<f32>, tensor<f32>) -> tensor<4xf32>
    "func.return"(%y) : (tensor<4xf32>) -> ()
  }
}
"""
    printed = print_module(parse_module(text))
    assert "T = quint8" in printed
    assert print_module(parse_module(printed)) == printed
