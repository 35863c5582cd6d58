"""The textual IR: printer and parser round trips, syntax details, split_input_file (errors and scale: test_text_errors.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tflconv.core.ir import Block, Function, Module, Operation, Region, constant
from tflconv.core.location import UNKNOWN, Location, SourceLine, fuse
from tflconv.core.parser import ParseError, parse_attr, parse_module, parse_type
from tflconv.core.printer import (
    ElidedArray,
    ElidedBytes,
    is_elided,
    print_attr,
    print_module,
    print_op,
    print_type,
)
from tflconv.core.types import NO_VALUE_TYPE, QuantParams, SymbolRef, TensorType, TypeAttr

F4 = TensorType((4,), "f32")


def round_trip(module: Module, **options) -> tuple[str, Module]:
    """Print, parse, print again: the two texts must be identical."""
    text = print_module(module, **options)
    parsed = parse_module(text)
    assert print_module(parsed, **options) == text
    return text, parsed


def one_op_module(op: Operation, arg_types=(F4,)) -> Module:
    fn = Function("main", list(arg_types), [f"a{i}" for i in range(len(arg_types))])
    fn.block.append(op)
    fn.set_outputs([])
    return Module([fn])


def attr_of(module: Module, key: str = "value", index: int = 0):
    return list(module.functions[0].ops)[index].attributes[key]


# --- types ---------------------------------------------------------------------------------

TYPES = [
    (TensorType((1, None, 4), "f32"), "tensor<1x?x4xf32>"),
    (TensorType(None, "f32"), "tensor<*xf32>"),
    (TensorType((), "f32"), "tensor<f32>"),
    (TensorType((0, 3), "i64"), "tensor<0x3xi64>"),
    (NO_VALUE_TYPE, "none"),
    (TensorType((2,), "string"), "tensor<2x!tf.string>"),
    (TensorType((), "resource"), "tensor<!tf.resource>"),
    (TensorType(None, "variant"), "tensor<*x!tf.variant>"),
    (TensorType((3,), "complex64"), "tensor<3xcomplex64>"),
    (TensorType((3,), "bf16"), "tensor<3xbf16>"),
    (
        TensorType((1, 4), "i8", QuantParams((0.5,), (-3,))),
        "tensor<1x4x!quant.uniform<i8:f32, 0.5:-3>>",
    ),
    (
        TensorType((2, 3), "i8", QuantParams((0.1, 0.2), (0, 1), 0)),
        "tensor<2x3x!quant.uniform<i8:f32:0, {0.1:0, 0.2:1}>>",
    ),
    (
        TensorType((4,), "f32", QuantParams((), (), None, (-1.0,), (1.0,))),
        "tensor<4x!quant.calibrated<f32<-1.0:1.0>>>",
    ),
    (
        TensorType((2, 2), "f32", QuantParams((), (), 1, (-1.0, -2.0), (1.0, 2.5))),
        "tensor<2x2x!quant.calibrated<f32:1, {-1.0:1.0, -2.0:2.5}>>",
    ),
    (
        TensorType((4,), "ui8", QuantParams((0.0078125,), (128,), None, (-1.0,), (1.0,))),
        "tensor<4x!quant.uniform<ui8:f32, 0.0078125:128, range {-1.0:1.0}>>",
    ),
    (
        TensorType((2,), "i16", QuantParams((1e-05, 3e-07), (0, 0), 0, (-0.1, -0.2), (0.1, 0.2))),
        "tensor<2x!quant.uniform<i16:f32:0, {1.0e-05:0, 3.0e-07:0}, range {-0.1:0.1, -0.2:0.2}>>",
    ),
]


@pytest.mark.parametrize(("t", "text"), TYPES, ids=[text for _, text in TYPES])
def test_type_round_trip(t: TensorType, text: str) -> None:
    assert print_type(t) == text
    assert parse_type(text) == t


def test_quant_scale_is_exact() -> None:
    scale = float(np.float32(0.003921568859368563))
    t = TensorType((1,), "i8", QuantParams((scale,), (-128,)))
    assert parse_type(print_type(t)).quant.scale == (scale,)


def test_mlir_style_quant_type_parses() -> None:
    t = parse_type("tensor<1x4x!quant.uniform<i8:f32, 5.000000e-01:-3>>")
    assert t.quant == QuantParams((0.5,), (-3,))


def test_value_types_in_module_round_trip() -> None:
    fn = Function("main", [t for t, _ in TYPES], [])
    fn.set_outputs(fn.args)
    text, parsed = round_trip(Module([fn]))
    assert parsed.functions[0].input_types == [t for t, _ in TYPES]
    assert parsed.functions[0].output_types == [t for t, _ in TYPES]
    assert "-> (tensor<1x?x4xf32>, tensor<*xf32>, tensor<f32>" in text


# --- attributes --------------------------------------------------------------------------

ATTRS = [
    (True, "true"),
    (False, "false"),
    (3, "3"),
    (-7, "-7"),
    (2**70, str(2**70)),
    (0.1, "0.1"),
    (1.0, "1.0"),
    (1e-05, "1.0e-05"),
    (1e16, "1.0e+16"),
    (-0.0, "-0.0"),
    (float("inf"), "inf"),
    (float("-inf"), "-inf"),
    ("NHWC", '"NHWC"'),
    ('a"b\\c\nd\te\x01é', '"a\\"b\\\\c\\nd\\te\\01é"'),
    ("", '""'),
    (b"\n\x1b", 'x"0a1b"'),
    (b"", 'x""'),
    ([1, 2, 3], "[1, 2, 3]"),
    ([], "[]"),
    (["a", 1.5, [True, None]], '["a", 1.5, [true, unit]]'),
    ({"b": 1, "a": {"c": "d"}}, '{a = {c = "d"}, b = 1}'),
    ({"weird key": 1}, '{"weird key" = 1}'),
    (None, "unit"),
    (TypeAttr("f32"), "f32"),
    (TypeAttr("string"), "!tf.string"),
    (TypeAttr("none"), "none"),
    (TensorType((None, 3), "i32"), "tensor<?x3xi32>"),
    (NO_VALUE_TYPE, "tensor<*xnone>"),
    (SymbolRef("while_body"), "@while_body"),
    (SymbolRef("has space"), '@"has space"'),
]


@pytest.mark.parametrize(("value", "text"), ATTRS, ids=[text for _, text in ATTRS])
def test_attr_round_trip(value, text: str) -> None:
    assert print_attr(value) == text
    back = parse_attr(text)
    assert back == value
    assert type(back) is type(value)
    assert print_attr(back) == text


def test_attr_special_cases() -> None:
    assert math.isnan(parse_attr(print_attr(float("nan"))))
    assert print_attr((1, (2, 3))) == "[1, [2, 3]]"  # tuples print as lists
    assert parse_attr("[1, [2, 3]]") == [1, [2, 3]]
    assert print_attr(np.float32(0.5)) == "0.5"  # numpy scalars print as Python scalars
    assert print_attr(np.int64(7)) == "7"
    assert print_attr(np.bool_(True)) == "true"
    assert parse_attr("1.5e3") == 1500.0
    lone_surrogate = "a\ud800b"
    assert parse_attr(print_attr(lone_surrogate)) == lone_surrogate
    assert "\n" not in print_attr("line\nbreak\r")


def test_attrs_print_sorted_and_bare_unit_parses() -> None:
    op = Operation("test.op", [], [F4], {"z": 1, "a": 2, "m": None}, result_names=["r"])
    assert "{a = 2, m = unit, z = 1} : () -> tensor<4xf32>" in print_op(op)
    module = parse_module(
        'func.func @f() -> () {\n  "test.op"() {flag, k = 1} : () -> ()\n  "func.return"() : () -> ()\n}'
    )
    assert list(module.functions[0].ops)[0].attributes == {"flag": None, "k": 1}


def test_unprintable_attr_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="cannot print attribute 'bad'"):
        print_module(one_op_module(Operation("test.op", [], [], {"bad": object()})))


# --- constants -----------------------------------------------------------------------------

ARRAYS = [
    np.array([[1.5, -2.0, 0.1]], np.float32),
    np.array([0.1, 65504.0, -0.0, 6e-08], np.float16),
    np.array([-128, 0, 127], np.int8),
    np.array([[1, 2], [3, -4]], np.int32),
    np.array([2**40, -1], np.int64),
    np.array([True, False, True]),
    np.array([0, 255], np.uint8),
    np.array([1 + 2j, -3.5j], np.complex64),
    np.array([b"abc", b"", b'q"\\\n\xff'], dtype=object),
    np.array(3.25, np.float64),
    np.zeros((2, 0), np.float32),
    np.array([np.nan, np.inf, -np.inf], np.float32),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_constant_round_trip(array: np.ndarray) -> None:
    module = one_op_module(constant(array, name="c"))
    text, parsed = round_trip(module)
    back = attr_of(parsed)
    assert back.dtype == array.dtype and back.shape == array.shape
    if array.dtype.kind == "f":
        assert np.array_equal(back, array, equal_nan=True)
        assert np.array_equal(np.signbit(back), np.signbit(array))
    else:
        assert np.array_equal(back, array)


def test_constant_syntax() -> None:
    text = print_module(one_op_module(constant(np.array([[1.0, 2.0]], np.float32), name="w")))
    assert (
        '%w = "arith.constant"() {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} '
        ": () -> tensor<1x2xf32>" in text
    )
    assert print_attr(np.array([True, False])) == "dense<[true, false]> : tensor<2xi1>"
    assert (
        print_attr(np.array([b"a", b"b"], dtype=object))
        == 'dense<["a", "b"]> : tensor<2x!tf.string>'
    )
    assert print_attr(np.array(["x"])) == 'dense<"x"> : tensor<1x!tf.string>'  # str elements


@pytest.mark.parametrize(
    ("array", "text"),
    [
        (np.zeros(4, np.float32), "dense<0.0> : tensor<4xf32>"),
        (np.full((2, 3), 7, np.int32), "dense<7> : tensor<2x3xi32>"),
        (np.ones((100, 100), np.float16), "dense<1.0> : tensor<100x100xf16>"),  # large splat
        (np.array(5, np.int8), "dense<5> : tensor<i8>"),
        (np.array([True] * 20), "dense<true> : tensor<20xi1>"),
    ],
)
def test_splats(array: np.ndarray, text: str) -> None:
    assert print_attr(array) == text
    back = parse_attr(text)
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_zero_sign_is_not_a_splat() -> None:
    text = print_attr(np.array([0.0, -0.0], np.float32))
    assert text == "dense<[0.0, -0.0]> : tensor<2xf32>"
    assert np.signbit(parse_attr(text)).tolist() == [False, True]


def test_large_constant_elided_by_default() -> None:
    weights = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    module = one_op_module(constant(weights, name="dense/kernel"))
    text, parsed = round_trip(module)
    assert "value = dense_resource<dense_kernel> : tensor<2x3x4xf32>" in text
    assert "dialect_resources" not in text
    back = attr_of(parsed)
    assert isinstance(back, ElidedArray) and is_elided(back)
    assert back.shape == (2, 3, 4) and back.dtype == np.float32
    assert back.strides == (0, 0, 0)  # a broadcast zero: nothing was allocated
    assert is_elided(back.reshape(6, 4))  # derived arrays stay placeholders
    assert print_module(parsed, elide_large=False).count('dense_kernel: "__elided__"') == 1


def test_large_limit_option() -> None:
    array = np.arange(5, dtype=np.int32)
    assert "dense<[0, 1, 2, 3, 4]>" in print_attr(array)
    module = one_op_module(constant(array, name="c"))
    assert "dense_resource<c>" in print_module(module, large_limit=4)


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32),
        np.random.default_rng(1).standard_normal(40).astype(np.float16),
        np.arange(-20, 20, dtype=np.int8),
        np.arange(30, dtype=np.int64) * 2**33,
        np.arange(18) % 3 == 0,
        np.arange(17, dtype=np.complex128) * (1 + 1j),
    ],
    ids=lambda a: str(a.dtype),
)
def test_full_resource_round_trip(array: np.ndarray) -> None:
    module = one_op_module(constant(array, name="w"))
    text, parsed = round_trip(module, elide_large=False)
    assert "value = dense_resource<w>" in text
    assert text.rstrip().endswith("#-}") and "{-#\n  dialect_resources: {\n    builtin: {\n" in text
    back = attr_of(parsed)
    assert type(back) is np.ndarray and back.dtype == array.dtype
    assert np.array_equal(back, array)
    back[...] = 0  # the parsed array is an ordinary writable array
    # The full text parses to the same module the elided text describes.
    assert print_module(parse_module(text)) == print_module(module)


def test_large_string_constant_is_inline_in_full_mode() -> None:
    array = np.array([str(i).encode() for i in range(20)], dtype=object)
    module = one_op_module(constant(array, name="s"))
    assert "dense_resource<s>" in print_module(module)
    text, parsed = round_trip(module, elide_large=False)
    assert 'dense<["0", "1", "2"' in text
    assert np.array_equal(attr_of(parsed), array)


def test_resource_names_are_unique_in_module() -> None:
    fns = []
    for name in ("f", "g"):
        fn = Function(name)
        fn.block.append(constant(np.arange(20.0), name="w"))
        fn.block.append(constant(np.arange(20.0) + 1, name="w"))
        fn.set_outputs([])
        fns.append(fn)
    text, parsed = round_trip(Module(fns), elide_large=False)
    for name in ("w", "w_1", "w_1_1", "w_2"):
        assert f"dense_resource<{name}>" in text
    values = [op.attributes["value"] for op in parsed.walk() if op.name == "arith.constant"]
    assert [v[0] for v in values] == [0.0, 1.0, 0.0, 1.0]


def test_large_bytes() -> None:
    node_def = bytes(range(100))
    op = Operation("tf.Foo", [], [F4], {"_node_def": node_def, "small": b"ab"}, result_names=["r"])
    module = one_op_module(op)
    text, parsed = round_trip(module)
    assert "_node_def = bytes_resource<r._node_def, 100>" in text
    back = attr_of(parsed, "_node_def")
    assert isinstance(back, ElidedBytes) and is_elided(back) and len(back) == 100
    assert attr_of(parsed, "small") == b"ab"
    full, parsed_full = round_trip(module, elide_large=False)
    assert f'_node_def = x"{node_def.hex()}"' in full
    assert attr_of(parsed_full, "_node_def") == node_def


def test_elided_bytes_survive_full_printing() -> None:
    parsed = parse_module(
        print_module(one_op_module(Operation("tf.Foo", [], [], {"d": bytes(80)})))
    )
    text = print_module(parsed, elide_large=False)
    assert "bytes_resource<tf.Foo.d, 80>" in text
    assert print_module(parse_module(text), elide_large=False) == text


def test_mlir_blob_with_alignment_prefix_parses() -> None:
    text = (
        "func.func @f() -> (tensor<20xi8>) {\n"
        '  %c = "arith.constant"() {value = dense_resource<blob> : tensor<20xi8>} : () -> tensor<20xi8>\n'
        '  "func.return"(%c) : (tensor<20xi8>) -> ()\n}\n'
        "{-#\n  dialect_resources: {\n    builtin: {\n"
        f'      blob: "0x01000000{bytes(range(20)).hex().upper()}"\n    }}\n  }}\n#-}}\n'
    )
    assert attr_of(parse_module(text)).tolist() == list(range(20))


# --- locations, regions, functions, modules ----------------------------------------------------


def test_locations() -> None:
    fn = Function("main", [F4], ["x"])
    x = fn.args[0]
    locs = [
        Location.name("model/dense/Relu"),
        Location.name("model/dense/Relu", SourceLine("model.py", 12)),
        fuse([Location.name("a"), Location.name("b", SourceLine("f.py", 3))]),
        Location.name('we"ird\\name', SourceLine("dir with space/f.py", 1)),
        UNKNOWN,
    ]
    for i, loc in enumerate(locs):
        fn.block.append(Operation("tf.Relu", [x], [F4], location=loc, result_names=[f"r{i}"]))
    fn.set_outputs([])
    text, parsed = round_trip(Module([fn]))
    lines = text.splitlines()
    assert lines[2].endswith('loc("model/dense/Relu")')
    assert lines[3].endswith('loc("model/dense/Relu"("model.py":12:0))')
    assert lines[4].endswith('loc(fused["a", "b"("f.py":3:0)])')
    assert lines[6].endswith("-> tensor<4xf32>")  # unknown locations are omitted
    assert [op.location for op in parsed.functions[0].ops][:-1] == locs


def test_mlir_location_forms_parse() -> None:
    module = parse_module(
        'func.func @f() -> () {\n  "a.op"() : () -> () loc(unknown)\n'
        '  "a.op"() : () -> () loc("f.py":3:7)\n'
        '  "func.return"() : () -> () loc(fused["x" ("g.py" : 1 : 2)])\n}'
    )
    locs = [op.location for op in module.functions[0].ops]
    assert locs == [
        UNKNOWN,
        Location.name("", SourceLine("f.py", 3)),
        Location.name("x", SourceLine("g.py", 1)),
    ]


def test_regions() -> None:
    fn = Function("main", [F4], ["x"])
    x = fn.args[0]
    scalar = TensorType((), "f32")
    body = Block([scalar, F4], ["i", "acc"])
    add = body.append(Operation("tf.AddV2", [body.args[1], x], [F4], result_names=["sum"]))
    body.append(Operation("tfl.yield", [body.args[0], add.result]))
    second = Block([scalar])
    second.append(Operation("tfl.yield", [second.args[0]]))
    cond = Block()
    loop = Operation(
        "test.loop",
        [x],
        [F4],
        {"n": 3},
        [Region([body, second]), Region([cond]), Region()],
        Location.name("loop"),
        ["out"],
    )
    fn.block.append(loop)
    fn.set_outputs([loop.result])
    text, parsed = round_trip(Module([fn]))
    assert (
        '    %out = "test.loop"(%x) ({\n'
        "    ^bb0(%i: tensor<f32>, %acc: tensor<4xf32>):\n"
        '      %sum = "tf.AddV2"(%acc, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>\n'
        '      "tfl.yield"(%i, %sum) : (tensor<f32>, tensor<4xf32>) -> ()\n'
        "    ^bb1(%0: tensor<f32>):\n"
        '      "tfl.yield"(%0) : (tensor<f32>) -> ()\n'
        "    }, {\n"
        "    ^bb0:\n"
        "    }, {\n"
        '    }) {n = 3} : (tensor<4xf32>) -> tensor<4xf32> loc("loop")\n'
    ) in text
    ploop = list(parsed.functions[0].ops)[0]
    assert [len(r.blocks) for r in ploop.regions] == [2, 1, 0]
    inner_add = ploop.regions[0].blocks[0].first_op
    assert inner_add.operands[1] is parsed.functions[0].args[0]  # outer values are visible


def test_region_values_do_not_leak() -> None:
    text = (
        "func.func @f(%x: tensor<f32>) -> () {\n"
        '  "test.r"() ({\n  ^bb0:\n    %y = "a.b"(%x) : (tensor<f32>) -> tensor<f32>\n  }) : () -> ()\n'
        '  "test.use"(%y) : (tensor<f32>) -> ()\n  "func.return"() : () -> ()\n}\n'
    )
    with pytest.raises(ParseError, match="use of undefined value %y") as info:
        parse_module(text)
    assert (info.value.line, info.value.col) == (6, 14)


def test_functions_and_module_attributes() -> None:
    main = Function(
        "main",
        [F4],
        ["x"],
        {
            "entry": True,
            "signature_key": "serving_default",
            "input_names": ["x"],
            "output_names": ["out"],
        },
    )
    call = main.block.append(
        Operation("tfl.call_once", [], [], {"init_subgraph_index": SymbolRef("init")})
    )
    assert call is not None
    main.set_outputs([main.args[0]])
    init = Function("init")
    init.set_outputs([])
    module = Module(
        [main, init],
        {
            "tfl.description": "converted",
            "metadata": {"min_runtime_version": b"1.14.0\x00", "big": bytes(200)},
            "tfl.schema_version": 3,
        },
    )
    text, parsed = round_trip(module)
    assert text.startswith(
        "module attributes {metadata = {big = bytes_resource<module.big, 200>, "
        'min_runtime_version = x"312e31342e3000"}, tfl.description = "converted", '
        "tfl.schema_version = 3} {\n"
    )
    assert (
        "  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) attributes {entry = true, "
        'input_names = ["x"], output_names = ["out"], signature_key = "serving_default"} {\n'
    ) in text
    assert "  func.func @init() -> () {\n" in text  # no `attributes` when empty
    assert [f.name for f in parsed.functions] == ["main", "init"]
    assert parsed.functions[0].attributes == main.attributes
    assert parsed.attributes["metadata"]["min_runtime_version"] == b"1.14.0\x00"
    full, parsed_full = round_trip(module, elide_large=False)
    assert parsed_full.attributes == module.attributes


def test_empty_module() -> None:
    assert print_module(Module()) == "module {\n}\n"
    assert parse_module("").functions == []
    assert parse_module("// only a comment\n").functions == []


def test_bare_functions_and_mlir_conveniences() -> None:
    text = """// a comment
func.func @f(%0: tensor<f32>) -> tensor<f32> {
  %1 = "tf.Neg"(%0) : (tensor<f32>) -> tensor<f32>  // trailing comment
  "func.return"(%1) : (tensor<f32>) -> ()
}
func.func private @g() attributes {k = 1} {
  "func.return"() : () -> ()
}
"""
    module = parse_module(text)
    assert [f.name for f in module.functions] == ["f", "g"]
    assert module.functions[1].attributes == {"k": 1}
    printed = print_module(module)
    assert '%1 = "tf.Neg"(%0)' in printed
    assert print_module(parse_module(printed)) == printed


# --- value names --------------------------------------------------------------------------------


def test_name_sanitizing_and_uniquing() -> None:
    fn = Function("main", [F4, F4], ["input:0", None])
    x = fn.args[0]
    hints = ["model/dense/MatMul:0", "x", "x", "x_1", None, "1abc", "0", "0", "", "a$b.c-d", None]
    ops = [fn.block.append(Operation("t.op", [x], [F4], result_names=[h])) for h in hints]
    fn.set_outputs([])
    text, parsed = round_trip(Module([fn]))
    assert "func.func @main(%input_0: tensor<4xf32>, %1: tensor<4xf32>)" in text
    names = [print_op(op).split(" = ")[0] for op in ops]
    assert names[0] == "%model_dense_MatMul_0"
    printed = [line.split(" = ")[0].strip() for line in text.splitlines()[2:13]]
    assert printed == [
        "%model_dense_MatMul_0",
        "%x",
        "%x_2",  # x_1 is reserved by a later hint
        "%x_1",
        "%2",
        "%_1abc",
        "%0",
        "%3",  # a duplicate numeric name gets a fresh number
        "%4",
        "%a$b.c-d",
        "%5",
    ]
    # Parsed names are the printed names, so printing again changes nothing.
    assert [op.results[0].name_hint for op in list(parsed.functions[0].ops)[:3]] == [
        "model_dense_MatMul_0",
        "x",
        "x_2",
    ]


def test_names_are_per_function() -> None:
    fns = []
    for name in ("f", "g"):
        fn = Function(name, [F4], ["x"])
        fn.set_outputs(
            [fn.block.append(Operation("t.op", [fn.args[0]], [F4], result_names=["y"])).result]
        )
        fns.append(fn)
    text, _ = round_trip(Module(fns))
    assert text.count("%y = ") == 2 and "%y_1" not in text


def test_printing_is_deterministic() -> None:
    fn = Function("main", [F4], [None])
    for i in range(5):
        fn.block.append(
            Operation("t.op", [fn.args[0]], [F4], {"k": i, "b": [1.5, "s"]}, result_names=[None])
        )
    fn.block.append(constant(np.arange(30, dtype=np.float32)))
    fn.set_outputs([])
    module = Module([fn], {"z": 1, "a": {"y": 2, "b": 3}})
    texts = {print_module(module) for _ in range(3)}
    texts |= {print_module(module.clone())}
    assert len(texts) == 1
    assert print_module(module, elide_large=False) == print_module(module, elide_large=False)


def test_print_op_for_diagnostics() -> None:
    fn = Function("main", [F4], ["x"])
    op = fn.block.append(
        Operation("tf.Relu", [fn.args[0]], [F4], {"T": TypeAttr("f32")}, result_names=["r"])
    )
    assert print_op(op) == '%r = "tf.Relu"(%x) {T = f32} : (tensor<4xf32>) -> tensor<4xf32>'


# --- property test: random modules round trip ---------------------------------------------------

_DTYPES = [
    "f32",
    "f16",
    "i8",
    "i32",
    "i64",
    "i1",
    "ui8",
    "string",
    "complex64",
    "none",
    "bf16",
    "resource",
]
_floats = st.floats(allow_nan=True, allow_infinity=True)
_quant = st.one_of(
    st.none(),
    st.builds(lambda s, z: QuantParams((s,), (z,)), _floats, st.integers(-128, 255)),
    st.lists(st.tuples(_floats, st.integers(-9, 9)), min_size=1, max_size=3).flatmap(
        lambda pairs: st.builds(
            lambda axis, ranges: QuantParams(
                tuple(p[0] for p in pairs),
                tuple(p[1] for p in pairs),
                axis,
                tuple(r[0] for r in ranges),
                tuple(r[1] for r in ranges),
            ),
            st.integers(0, 3),
            st.lists(st.tuples(_floats, _floats), max_size=3),
        )
    ),
    st.builds(lambda lo, hi: QuantParams((), (), None, (lo,), (hi,)), _floats, _floats),
)
_types = st.builds(
    TensorType,
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(0, 40)), max_size=3).map(tuple)),
    st.sampled_from(_DTYPES),
    _quant,
)
_hints = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["x", "x_1", "0", "1", "a/b"]))
_array_dtypes = st.sampled_from(
    [
        np.float32,
        np.float16,
        np.float64,
        np.int8,
        np.int32,
        np.int64,
        np.uint8,
        np.bool_,
        np.complex64,
    ]
)
_arrays = st.one_of(
    hnp.arrays(_array_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)),
    st.lists(st.binary(max_size=4), min_size=1, max_size=20).map(
        lambda xs: np.array(xs, dtype=object)
    ),
)
_locations = st.lists(
    st.tuples(
        st.text(max_size=8),
        st.one_of(st.none(), st.builds(SourceLine, st.text(max_size=6), st.integers(0, 10**6))),
    ),
    max_size=3,
).map(lambda entries: Location(tuple(entries)))


def _attr_values(functions: list[str]) -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        _floats,
        st.text(max_size=10),
        st.binary(max_size=90),
        st.builds(TypeAttr, st.sampled_from(_DTYPES)),
        _types,
        st.builds(SymbolRef, st.sampled_from(functions)),
        _arrays,
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _attr_dicts(functions: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.text(max_size=6), _attr_values(functions), max_size=3)


def _fill_block(draw, block: Block, outer: list, depth: int, functions: list[str]) -> list:
    scope = list(outer) + list(block.args)
    for _ in range(draw(st.integers(0, 4))):
        operands = draw(st.lists(st.sampled_from(scope), max_size=3)) if scope else []
        result_types = draw(st.lists(_types, max_size=2))
        regions = []
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            for _ in range(draw(st.integers(1, 2))):
                blocks = []
                for _ in range(draw(st.integers(0, 2))):
                    arg_types = draw(st.lists(_types, max_size=2))
                    nested = Block(arg_types, draw(st.lists(_hints, max_size=len(arg_types))))
                    _fill_block(draw, nested, scope, depth + 1, functions)
                    blocks.append(nested)
                regions.append(Region(blocks))
        op = Operation(
            draw(st.sampled_from(["tf.Foo", "tfl.add", "test.op", 'weird "op"\\name'])),
            operands,
            result_types,
            draw(_attr_dicts(functions)),
            regions,
            draw(_locations),
            draw(st.lists(_hints, min_size=len(result_types), max_size=len(result_types))),
        )
        block.append(op)
        scope.extend(op.results)
    return scope


@st.composite
def _modules(draw) -> Module:
    functions = draw(st.lists(st.text(max_size=6), min_size=1, max_size=2, unique=True))
    module = Module(attributes=draw(_attr_dicts(functions)))
    for name in functions:
        arg_types = draw(st.lists(_types, max_size=3))
        fn = Function(
            name,
            arg_types,
            draw(st.lists(_hints, max_size=len(arg_types))),
            draw(_attr_dicts(functions)),
        )
        scope = _fill_block(draw, fn.block, [], 0, functions)
        outputs = draw(st.lists(st.sampled_from(scope), max_size=2)) if scope else []
        fn.set_outputs(outputs, draw(_locations))
        module.add_function(fn)
    return module


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_modules())
def test_random_modules_round_trip(module: Module) -> None:
    elided, _ = round_trip(module)
    full, parsed_full = round_trip(module, elide_large=False)
    # The full text carries every byte: parsing it gives the module the elided text describes.
    assert print_module(parsed_full) == elided
    assert print_module(module) == elided  # deterministic
