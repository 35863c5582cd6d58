"""Branches of the core that benchmarks/mutation.py found untested: a one-line change there
(a flipped comparison, a dropped check, a wrong default) passed the suite. Each test pins one
behaviour of types, the pass registry, the IR text parser's slow paths and the rewrite
drivers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from tflconv.core.ir import Block, Function, Module, Operation
from tflconv.core.location import UNKNOWN, Location
from tflconv.core.opdef import PURE, OpDef, declare_op
from tflconv.core.parser import ParseError, parse_attr, parse_module, parse_type
from tflconv.core.passes import (
    CANONICALIZATION_PATTERNS,
    PASSES,
    Pass,
    PassContext,
    register_canonicalization,
    register_pass,
)
from tflconv.core.printer import print_module
from tflconv.core.rewrite import (
    ConversionTarget,
    PatternRewriter,
    PatternSet,
    RewriteError,
    RewritePattern,
    apply_conversion,
    apply_greedy,
    apply_walk,
)
from tflconv.core.types import (
    QuantParams,
    TensorType,
    dtype_from_numpy,
    numpy_dtype,
)
from tflconv.passes.quantize import kernels as K

F4 = TensorType((4,), "f32")
for _name in ("mk.a", "mk.b", "mk.c"):
    declare_op(OpDef(_name, operands=("inputs*",), traits={PURE}))


# --- types ----------------------------------------------------------------------------------


def test_numpy_dtype_round_trip_and_errors() -> None:
    assert numpy_dtype("f32") == np.float32 and numpy_dtype("i8") == np.int8
    assert dtype_from_numpy(np.int16) == "i16" and dtype_from_numpy(np.dtype("U3")) == "string"
    with pytest.raises(ValueError, match="element type 'resource' has no numpy equivalent"):
        numpy_dtype("resource")
    with pytest.raises(ValueError, match="numpy dtype complex256 has no tensor element type"):
        dtype_from_numpy(np.complex256)


def test_quant_params_checks() -> None:
    with pytest.raises(ValueError, match="as many zero points as scales"):
        QuantParams((0.1, 0.2), (0,), 0)
    with pytest.raises(ValueError, match="several scales need a quantized axis"):
        QuantParams((0.1, 0.2), (0, 0))
    assert QuantParams((0.1,), (0,)).per_axis is False
    assert QuantParams((0.1,), (0,), 0).per_axis is True
    assert QuantParams((0.1, 0.2), (0, 0), 1).per_axis is True


def test_tensor_type_properties() -> None:
    q = QuantParams((0.1,), (0,))
    i8 = TensorType((2, 3), "i8", q)
    assert i8.is_int and i8.is_quantized and not i8.is_float and i8.num_elements == 6
    assert not F4.is_int and not F4.is_quantized and F4.is_float
    assert TensorType((2,), "f32", q).is_float is False
    assert TensorType((None, 2), "f32").num_elements is None
    assert TensorType(None, "f32").rank is None and TensorType((), "f32").num_elements == 1
    assert TensorType([1, 2], "f32").shape == (1, 2)
    with pytest.raises(ValueError, match="unknown element type 'f33'"):
        TensorType((1,), "f33")


def test_tensor_type_with_methods() -> None:
    q = QuantParams((0.5,), (3,))
    t = TensorType((2, 3), "i8", q)
    assert t.with_shape([6]) == TensorType((6,), "i8", q)
    assert t.with_shape(None) == TensorType(None, "i8", q)
    assert t.with_dtype("i16") == TensorType((2, 3), "i16")
    assert t.with_dtype("i16", q).quant == q
    assert t.with_quant(None) == TensorType((2, 3), "i8")
    assert F4.with_quant(q).quant == q
    assert TensorType.of(np.zeros((2, 1), np.int32)) == TensorType((2, 1), "i32")


# --- pass registry and canonicalization registry ---------------------------------------------


def test_register_pass_needs_a_unique_name() -> None:
    @dataclass(frozen=True)
    class Nameless(Pass):
        pass

    with pytest.raises(ValueError, match="Nameless needs a `name`"):
        register_pass(Nameless)

    @dataclass(frozen=True)
    class Taker(Pass):
        name: ClassVar[str] = "canonicalize"

    import tflconv.passes  # noqa: F401  (registers the built-in passes)

    with pytest.raises(ValueError, match="pass name 'canonicalize' is taken by"):
        register_pass(Taker)

    @dataclass(frozen=True)
    class Fresh(Pass):
        name: ClassVar[str] = "mk-fresh-pass"

    try:
        assert register_pass(Fresh) is Fresh and PASSES["mk-fresh-pass"] is Fresh
        assert register_pass(Fresh) is Fresh  # the same class again (a re-import) is fine
    finally:
        PASSES.pop("mk-fresh-pass", None)


def test_the_base_pass_does_nothing_by_itself() -> None:
    @dataclass(frozen=True)
    class Base(Pass):
        name: ClassVar[str] = "mk-base"

    with pytest.raises(NotImplementedError):
        Base().run(Module(), PassContext())
    assert str(Base()) == "mk-base"


def test_register_canonicalization_sets_or_checks_the_root() -> None:
    class Rootless(RewritePattern):
        def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
            rw.fail("never")

    class Rooted(Rootless):
        root = "mk.a"

    try:
        p = register_canonicalization("mk.b", Rootless())
        assert p.roots == ("mk.b",) and CANONICALIZATION_PATTERNS["mk.b"] == [p]
        r = register_canonicalization("mk.a", Rooted())
        assert CANONICALIZATION_PATTERNS["mk.a"] == [r]
        with pytest.raises(ValueError, match=r"pattern Rooted applies to \('mk.a',\), not mk.c"):
            register_canonicalization("mk.c", Rooted())
        assert "mk.c" not in CANONICALIZATION_PATTERNS
    finally:
        for name in ("mk.a", "mk.b", "mk.c"):
            CANONICALIZATION_PATTERNS.pop(name, None)


def test_a_broken_plugin_is_remembered_and_logged(monkeypatch, caplog) -> None:
    from tflconv.core import passes

    class BrokenEntryPoint:
        name, value, group = "broken", "nowhere:Pass", passes.PLUGIN_GROUP

        def load(self):
            raise ImportError("no module named nowhere")

    class NotAPass:
        name, value, group = "other", "x:y", passes.PLUGIN_GROUP

        def load(self):
            return object

    import importlib.metadata

    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group=None: [BrokenEntryPoint(), NotAPass()] if group == passes.PLUGIN_GROUP else [],
    )
    before = dict(PASSES)
    try:
        with caplog.at_level(logging.WARNING, logger="tflconv"):
            passes.load_plugins(force=True)
        assert passes.plugin_errors() == [
            "broken (nowhere:Pass): ImportError: no module named nowhere"
        ]
        assert "tflconv plugin broken failed to load" in caplog.text
        assert before == PASSES  # `object` is not a Pass: not registered
        passes.load_plugins()  # loaded once: no second attempt
        assert len(passes.plugin_errors()) == 1
    finally:
        monkeypatch.undo()
        passes.load_plugins(force=True)


# --- parser: the slow paths the fast regexes skip ---------------------------------------------

FAST = """func.func @f(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>) {
  %a = "mk.a"(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%a) : (tensor<4xf32>) -> ()
}
"""
# The same function with spacing the fast paths do not match (operands, signature, location).
SLOW = """func.func @f(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>) {
  %a = "mk.a"( %x ,%y ) :
      ( tensor<4xf32> , tensor<4xf32> )
      -> tensor<4xf32>
  "func.return"(%a) : (tensor<4xf32>) -> ()
}
"""


def test_the_slow_op_head_and_signature_paths_parse_the_same() -> None:
    fast, slow = parse_module(FAST), parse_module(SLOW)
    assert print_module(fast) == print_module(slow)
    (op,) = [op for op in slow.walk() if op.name == "mk.a"]
    assert [v.name_hint for v in op.operands] == ["x", "y"]
    assert op.result.name_hint == "a" and op.result.type == F4


def test_the_slow_paths_report_errors() -> None:
    with pytest.raises(ParseError, match="use of undefined value %z"):
        parse_module(SLOW.replace("%y )", "%z )"))
    with pytest.raises(ParseError, match="expected '->' and the result types"):
        parse_module(SLOW.replace("-> tensor<4xf32>\n", "tensor<4xf32>\n", 1))
    with pytest.raises(ParseError, match="use of undefined value %z"):
        parse_module(FAST.replace("(%x, %y)", "(%x, %z)"))


def test_multiple_results_in_the_slow_path() -> None:
    text = """func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>) {
  %a ,%b = "mk.a"( %x ) : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  "func.return"(%b) : (tensor<4xf32>) -> ()
}
"""
    fn = parse_module(text).functions[0]
    assert fn.return_op.operands[0].name_hint == "b"
    assert [r.name_hint for r in fn.block.first_op.results] == ["a", "b"]


def test_bare_functions_and_a_resource_section() -> None:
    text = (
        FAST.replace('"mk.a"(%x, %y)', '"mk.a"(%x, %y) {v = dense_resource<blob1> : tensor<2xi8>}')
        + '{-#\n  dialect_resources: {\n    builtin: {\n      blob1: "0x010000000102"\n    }\n  }\n#-}\n'
    )
    module = parse_module(text)
    (op,) = [op for op in module.walk() if op.name == "mk.a"]
    assert op.attributes["v"].tolist() == [1, 2]
    assert parse_module("")  # an empty input is an empty module
    with pytest.raises(ParseError):
        parse_module("func.func @f() -> () {\n}\n}")


def test_parse_type_and_attr_refuse_trailing_text() -> None:
    assert parse_type("tensor<2xf32>") == TensorType((2,), "f32")
    with pytest.raises(ParseError, match="after the type"):
        parse_type("tensor<2xf32> x")
    assert parse_attr("[1, 2]") == [1, 2]
    with pytest.raises(ParseError, match="after the attribute"):
        parse_attr("[1, 2] 3")


def test_function_definitions_are_unique_and_private_is_accepted() -> None:
    assert (
        parse_module(FAST.replace("func.func @f", "func.func private @f")).functions[0].name == "f"
    )
    with pytest.raises(ParseError, match="redefinition of function @f"):
        parse_module(FAST + FAST)
    with pytest.raises(ParseError, match="expected a function name"):
        parse_module("func.func f() -> () {\n}\n")


def test_values_of_each_function_are_separate() -> None:
    two = FAST + FAST.replace("@f", "@g")
    module = parse_module(two)
    a_f, a_g = (fn.block.first_op for fn in module.functions)
    assert a_f.operands[0] is module.functions[0].args[0]
    assert a_g.operands[0] is module.functions[1].args[0]
    with pytest.raises(ParseError, match="use of undefined value %a"):
        parse_module(FAST + FAST.replace("@f", "@g").replace('"mk.a"(%x, %y)', '"mk.a"(%x, %a)'))


# --- rewrite drivers ---------------------------------------------------------------------------


def chain(*names: str) -> tuple[Module, list[Operation]]:
    fn = Function("main", [F4], ["x"])
    value, ops = fn.args[0], []
    for i, name in enumerate(names):
        op = fn.block.append(Operation(name, [value], [F4], location=Location.name(f"n{i}")))
        ops.append(op)
        value = op.result
    fn.set_outputs([value])
    return Module([fn]), ops


class AToB(RewritePattern):
    """mk.a(x) -> mk.b(x)"""

    root = "mk.a"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        rw.replace_with_new(op, "mk.b", list(op.operands))


class BToA(RewritePattern):
    """mk.b(x) -> mk.a(x)"""

    root = "mk.b"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        rw.replace_with_new(op, "mk.a", list(op.operands))


def names(module: Module) -> list[str]:
    return [op.name for op in module.functions[0].ops]


def test_greedy_rewrites_to_a_fixpoint_and_reports_change() -> None:
    module, _ = chain("mk.a", "mk.c", "mk.a")
    assert apply_greedy(module, [AToB()]) is True
    assert names(module) == ["mk.b", "mk.c", "mk.b", "func.return"]
    assert apply_greedy(module, [AToB()]) is False


def test_greedy_ping_pong_is_an_error() -> None:
    module, _ = chain("mk.a")
    with pytest.raises(RewriteError, match="AToB|BToA"):
        apply_greedy(module, [AToB(), BToA()], max_iterations=3)


def test_walk_rewrites_once_and_reports_change() -> None:
    module, _ = chain("mk.a", "mk.a")
    assert apply_walk(module, [AToB(), BToA()]) is True
    assert names(module) == ["mk.b", "mk.b", "func.return"]
    module, _ = chain("mk.c")
    assert apply_walk(module.functions[0], [AToB()]) is False
    module, _ = chain("mk.a")
    assert apply_walk(module.functions[0].block, [AToB()]) is True


def test_conversion_modes_and_leftovers() -> None:
    module, _ = chain("mk.a", "mk.c")
    target = ConversionTarget(legal_ops={"mk.b", "func.return"}, illegal_ops={"mk.a"})
    result = apply_conversion(module, [AToB()], target)
    assert result.changed is True and result.unconverted == []
    assert names(module) == ["mk.b", "mk.c", "func.return"]
    module, _ = chain("mk.a", "mk.c")
    with pytest.raises(RewriteError, match=r"failed to legalize: mk.c \(1x\)"):
        apply_conversion(module, [AToB()], target, mode="full")
    module, _ = chain("mk.a")
    result = apply_conversion(module, [], target)
    assert result.changed is False and [op.name for op in result.unconverted] == ["mk.a"]
    with pytest.raises(ValueError, match="mode must be"):
        apply_conversion(module, [], target, mode="some")


def test_conversion_target_rules() -> None:
    a = Operation("mk.a", [], [F4])
    target = ConversionTarget(legal_dialects={"mk"}, illegal_ops={"mk.a"})
    assert target.is_legal(a) is False and target.is_illegal(a) is True
    b = Operation("mk.b", [], [F4])
    assert target.is_legal(b) is True and target.is_illegal(b) is False
    target = ConversionTarget(illegal_dialects={"mk"}, legal_ops={"mk.b"})
    assert target.is_illegal(b) is False and target.is_illegal(a) is True
    assert target.is_legal(b) is True and target.is_legal(a) is False
    target = ConversionTarget(dynamic={"mk.a": lambda op: "ok" in op.attributes})
    assert target.is_legal(a) is False and target.is_illegal(a) is True
    a.attributes["ok"] = True
    assert target.is_legal(a) is True and target.is_illegal(a) is False


def test_rewriter_insert_needs_an_anchor_and_replace_counts_results() -> None:
    rw = PatternRewriter()
    with pytest.raises(RuntimeError, match="insert needs an anchor op inside a block"):
        rw.insert(Operation("mk.a", [], [F4]))
    with pytest.raises(RuntimeError, match="insert needs an anchor op inside a block"):
        rw.insert(Operation("mk.a", [], [F4]), before=Operation("mk.b", [], [F4]))
    module, (a,) = chain("mk.a")
    rw.current = a
    assert rw._default_location() == a.location
    assert PatternRewriter()._default_location() == UNKNOWN
    with pytest.raises(RuntimeError, match=r"replacing mk.a \(1 results\) with 2 values"):
        rw.replace(a, [a.operands[0], a.operands[0]])


def test_pattern_set_length_and_lookup() -> None:
    ps = PatternSet([AToB(), BToA()])
    assert len(ps) == 2 and [p.name for p in ps.for_op("mk.a")] == ["AToB"]
    path, line = AToB().source.rsplit(":", 1)
    assert path == __file__ and int(line) > 1


def test_nested_ops_are_reported_to_the_listener() -> None:
    seen: list[str] = []

    class Listener:
        def on_insert(self, op: Operation) -> None:
            seen.append(op.name)

        def on_erase(self, op: Operation) -> None:
            pass

        def on_modify(self, op: Operation) -> None:
            pass

    module, (a,) = chain("mk.a")
    rw = PatternRewriter(Listener())  # type: ignore[arg-type]
    rw.current = a
    body = Block()
    body.append(Operation("mk.c", [], []))
    from tflconv.core.ir import Region

    rw.insert(Operation("mk.b", [], [F4], regions=[Region([body])]))
    assert seen == ["mk.b", "mk.c"] and rw.changed is True


# --- printer ---------------------------------------------------------------------------------


def test_bytes_are_quoted_at_the_printable_boundaries() -> None:
    from tflconv.core.printer import quote_bytes

    data = bytes([0x1F, 0x20, 0x21, 0x22, 0x5C, 0x7E, 0x7F, 0x00, 0xFF])
    text = quote_bytes(data)
    assert text == '"\\1F !\\22\\5C~\\7F\\00\\FF"'


@pytest.mark.parametrize(
    "t, text",
    [
        (TensorType((2,), "i8", QuantParams((0.5,), (1,), 0)), "tensor<2x!quant.uniform<i8:f32:0, {0.5:1}>>"),
        (TensorType((2,), "i8", QuantParams((0.5,), (1,))), "tensor<2x!quant.uniform<i8:f32, 0.5:1>>"),
        (TensorType((2,), "i8", QuantParams((0.5, 0.25), (1, 2), 0)), "tensor<2x!quant.uniform<i8:f32:0, {0.5:1, 0.25:2}>>"),
        (TensorType((2,), "i8", QuantParams((0.5,), (1,), None, (-1.0,), (1.0,))), "tensor<2x!quant.uniform<i8:f32, 0.5:1, range {-1.0:1.0}>>"),
    ],
)  # fmt: skip
def test_quantized_types_print_and_parse_back(t: TensorType, text: str) -> None:
    from tflconv.core.printer import print_type

    assert print_type(t) == text
    assert parse_type(text) == t


def _named_module() -> Module:
    from tflconv.core.ir import constant

    fn = Function("main", [F4], ["x"])
    op = fn.block.append(Operation("mk.a", [fn.args[0]], [F4, F4], location=Location.name("t")))
    op2 = fn.block.append(Operation("mk.b", [op.results[1]], [F4]))
    for i in range(3):
        fn.block.append(constant(np.arange(20, dtype=np.float32) + i, Location.name("c")))
    fn.set_outputs([op2.result])
    return Module([fn])


def test_tensor_names_and_resource_names_round_trip() -> None:
    text = print_module(_named_module(), tensor_names=True, elide_large=False)
    assert '%t, %t_1 = "mk.a"(%x)' in text and '"mk.b"(%t_1)' in text
    for name in ("c", "c_1", "c_2"):
        assert f"dense_resource<{name}>" in text
    back = parse_module(text)
    hints = [r.name_hint for op in back.walk() for r in op.results]
    assert hints == ["t", "t:1", "mk.b", "c", "c", "c"]
    values = [op.attributes["value"] for op in back.walk() if op.name == "arith.constant"]
    assert [v[0] for v in values] == [0.0, 1.0, 2.0]
    assert print_module(back, tensor_names=True, elide_large=False) == text
    plain = print_module(_named_module())
    assert "tflconv_names" not in plain and '%0, %1 = "mk.a"(%x)' in plain


def test_print_op_names_values_from_their_own_hints() -> None:
    from tflconv.core.printer import print_op

    module = parse_module(FAST)
    op = module.functions[0].block.first_op
    assert print_op(op).startswith('%a = "mk.a"(%x, %y) : (tensor<4xf32>, tensor<4xf32>)')
    op.result.name_hint = None
    assert print_op(op).startswith('%0 = "mk.a"(%x, %y)')


def test_print_function_alone() -> None:
    from tflconv.core.printer import print_function

    text = print_function(parse_module(FAST).functions[0])
    assert text.startswith("func.func @f(%x: tensor<4xf32>, %y: tensor<4xf32>)") and text.endswith(
        "}\n"
    )
    assert print_module(parse_module(text)) == print_module(parse_module(FAST))


# --- quantization kernels on arrays larger than their chunks ---------------------------------


def _check_symmetric(
    w: np.ndarray, axis: int | None, q: np.ndarray, scales: np.ndarray, qmax: int
) -> None:
    moved = (
        np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1) if axis is not None else w.reshape(1, -1)
    )
    qm = np.moveaxis(q, axis, 0).reshape(moved.shape) if axis is not None else q.reshape(1, -1)
    absmax = np.maximum(np.abs(moved).max(axis=1), K.NEAR_ZERO / 2)
    np.testing.assert_allclose(scales, absmax / qmax, rtol=1e-6)
    assert q.dtype == (np.int8 if qmax == 127 else np.int16) and q.shape == w.shape
    assert (np.abs(qm).max(axis=1) == qmax).all()  # the largest weight of each channel hits qmax
    err = np.abs(qm.astype(np.float64) * scales.reshape(-1, 1) - moved)
    assert (err <= scales.reshape(-1, 1) * 0.505).all()  # half a step (+ float32 rounding)


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize(
    "shape, axis",
    [((3, K.FUSED_CHUNK // 2 + 5), 0), ((K.FUSED_CHUNK // 64 + 3, 64), 0), ((K.CHUNK // 6 + 7, 3, 2), 1), ((5, 7), None)],
)  # fmt: skip
@pytest.mark.parametrize("dtype", ["i8", "i16"])
def test_symmetric_weights_across_chunks(monkeypatch, numba, shape, axis, dtype) -> None:
    monkeypatch.setattr(K, "USE_NUMBA", numba and K.USE_NUMBA)
    rng = np.random.default_rng(len(shape) + (axis or 0))
    w = rng.standard_normal(shape).astype(np.float32) * np.float32(3)
    q, scales = K.quantize_weights_symmetric(w, axis, dtype)
    _check_symmetric(w, axis, q, scales, K.INT_RANGES[dtype][1])


def test_minmax_across_chunks() -> None:
    n = 2 * K.CHUNK + 7
    x = np.linspace(-1, 1, n, dtype=np.float32)
    x[K.CHUNK + 3], x[-1] = -5.0, 9.0  # extremes in the second chunk and the last element
    assert K.minmax(x) == (-5.0, 9.0, False)
    x[K.CHUNK] = np.nan
    assert K.minmax(x) == (-5.0, 9.0, True)
    small = np.array([3.0, -2.0, 7.0], np.float32)
    assert K.minmax(small) == (-2.0, 7.0, False)
    assert K.minmax(np.array([np.nan, np.nan], np.float32)) == (np.inf, -np.inf, True)
    assert K.minmax(np.zeros(0, np.float32)) == (np.inf, -np.inf, False)
    r = K.RunningMinMax()
    assert not r.seen
    r.update(small)
    r.update(np.array([np.nan, 10.0], np.float32))
    assert (r.lo, r.hi, r.nan_samples, r.seen) == (-2.0, 10.0, 1, True)


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((7, K.CHUNK // 3 + 1), 0),
        ((K.CHUNK // 4 + 9, 3, 2), 1),
        ((K.CHUNK // 2 + 3, 5), 1),
        ((4, 6, 40), 2),
    ],
)
def test_channel_minmax_across_chunks(shape, axis) -> None:
    w = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    lo, hi = K.channel_minmax(w, axis)
    other = tuple(i for i in range(w.ndim) if i != axis)
    np.testing.assert_array_equal(lo, w.min(axis=other))
    np.testing.assert_array_equal(hi, w.max(axis=other))


def test_float16_across_chunks_matches_the_cast() -> None:
    n = K.CHUNK + 11
    x = np.random.default_rng(2).standard_normal(n).astype(np.float32) * np.float32(100)
    x[:4] = [1e-6, -3e-8, 6e-5, 0.0]  # subnormal halves
    np.testing.assert_array_equal(
        K.to_float16(x).view(np.uint16), x.astype(np.float16).view(np.uint16)
    )
    x[-1] = 1e6  # saturates instead of inf
    assert K.to_float16(x)[-1] == np.float16(65504) and K.to_float16(-x)[-1] == np.float16(-65504)
    x[5] = np.nan
    y = K.to_float16(x)
    assert np.isnan(y[5]) and y[-1] == np.float16(65504)


@pytest.mark.parametrize("n", [K.CHUNK + 5, 3])
def test_bias_across_chunks(n) -> None:
    bias = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    ws = np.full(n, 0.02, np.float32)
    q, scales = K.quantize_bias(bias, 0.5, ws)
    exact = np.float64(np.float32(0.5)) * ws.astype(np.float64)
    np.testing.assert_array_equal(q, np.rint(bias.astype(np.float64) / exact).astype(np.int32))
    np.testing.assert_array_equal(scales, ws * np.float32(0.5))
    q1, s1 = K.quantize_bias(bias, 0.5, np.array([0.02], np.float32))
    np.testing.assert_array_equal(q1, q)
    assert s1.shape == (1,)
    big, _ = K.quantize_bias(np.array([1e30, -1e30], np.float32), 1.0, np.array([1.0], np.float32))
    assert big.tolist() == [2**31 - 1, -(2**31 - 1)]
    big, _ = K.quantize_bias(
        np.array([1e30, -1e30], np.float32), 1.0, np.array([1.0], np.float32), "i64"
    )
    assert big.dtype == np.int64 and big[0] > 2**62 and big[1] == -big[0]


def test_dequantize_per_tensor_and_per_axis() -> None:
    q = np.array([[1, 2], [3, 4]], np.int8)
    np.testing.assert_array_equal(K.dequantize(q, 0.5, 1), [[0.0, 0.5], [1.0, 1.5]])
    np.testing.assert_array_equal(
        K.dequantize(q, [0.5, 2.0], [0, 1], axis=0), [[0.5, 1.0], [4.0, 6.0]]
    )
    np.testing.assert_array_equal(
        K.dequantize(q, [0.5, 2.0], [1], axis=1), [[0.0, 2.0], [1.0, 6.0]]
    )


def test_blockwise_round_trip() -> None:
    w = np.random.default_rng(4).standard_normal((3, 8)).astype(np.float32)
    q, scales = K.quantize_blockwise(w, 4)
    assert q.shape == (3, 8) and scales.shape == (3, 2) and scales.dtype == np.float16
    assert np.abs(q).max() == 7 and q.dtype == np.int8
    back = K.dequantize_blockwise(q, scales, 4)
    step = np.repeat(scales.astype(np.float32), 4, axis=1)
    assert (np.abs(back - w) <= step * 0.5001).all()


def test_narrow_int4_weights() -> None:
    w = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    q, scales = K.quantize_weights_narrow(w, 0, "i4")
    assert np.abs(q).max(axis=1).tolist() == [7, 7, 7, 7]
    np.testing.assert_allclose(scales, np.abs(w).max(axis=1) / 7, rtol=1e-6)
    q8, s8 = K.quantize_weights_narrow(w, 0, "i8")
    assert np.abs(q8).max() == 127


# --- ir helpers, pipeline options -------------------------------------------------------------


def test_single_result_and_single_block_accessors_refuse_several() -> None:
    from tflconv.core.ir import IRError, Region

    with pytest.raises(IRError, match="x.y has 2 results, not one"):
        Operation("x.y", [], [F4, F4]).result  # noqa: B018
    with pytest.raises(IRError, match="region has 2 blocks, not one"):
        Region([Block(), Block()]).block  # noqa: B018
    assert Region([Block()]).block is not None


def test_pipeline_bool_options_and_spacing() -> None:
    import tflconv.passes  # noqa: F401
    from tflconv.core.pipeline import PipelineError, format_pipeline, parse_pipeline

    spaced = "canonicalize{ disable-patterns=[ RemoveNoopCast , SignBitTest ] fold=false }"
    assert format_pipeline(parse_pipeline(spaced)) == (
        "canonicalize{fold=false disable-patterns=[RemoveNoopCast,SignBitTest]}"
    )
    assert format_pipeline(parse_pipeline("canonicalize{fold=0}")) == "canonicalize{fold=false}"
    assert format_pipeline(parse_pipeline("canonicalize{fold=1}")) == "canonicalize"
    with pytest.raises(PipelineError, match=r"expected bool \(true or false\)"):
        parse_pipeline("canonicalize{fold=maybe}")


def test_unknown_pass_names_broken_plugins(monkeypatch) -> None:
    from tflconv.core import pipeline
    from tflconv.core.pipeline import PipelineError, parse_pipeline

    monkeypatch.setattr(pipeline, "plugin_errors", lambda: ["mine (m:P): ImportError: x"])
    with pytest.raises(PipelineError) as info:
        parse_pipeline("no-such-pass")
    assert "(plugins that failed to load: mine (m:P): ImportError: x)" in str(info.value)


# --- writer: what it writes reads back ------------------------------------------------------


def test_writer_round_trips_ranks_ranges_and_unique_names() -> None:
    from tflconv.core.ir import constant
    from tflconv.tflite.reader import read_flatbuffer
    from tflconv.tflite.writer import write_flatbuffer

    q_range = QuantParams((0.5,), (1,), None, (-1.0,), (2.0,))
    q_plain = QuantParams((0.25, 0.5), (0, 0), 0)
    scalar = TensorType((), "f32")
    fn = Function("main", [scalar, TensorType((2,), "i8", q_range)], ["s", "q"])
    a = fn.block.append(Operation("tfl.abs", [fn.args[0]], [scalar], location=Location.name("t")))
    b = fn.block.append(Operation("tfl.abs", [a.result], [scalar], location=Location.name("t")))
    c = fn.block.append(Operation("tfl.abs", [b.result], [scalar], location=Location.name("t")))
    w = fn.block.append(
        constant(np.array([[1, 2], [3, 4]], np.int8), Location.name("w"), "w",
                 TensorType((2, 2), "i8", q_plain))
    )  # fmt: skip
    fn.set_outputs([c.result, fn.args[1], w.result])
    back = read_flatbuffer(write_flatbuffer(Module([fn]))).functions[0]
    assert back.args[0].type == scalar  # rank 0 stays ranked
    assert back.args[1].type == TensorType((2,), "i8", q_range)
    assert back.return_op.operands[2].type.quant == q_plain  # no range: none read back
    names = [op.result.name_hint for op in back.ops if op.name == "tfl.abs"]
    assert names == ["t", "t_1", "t_2"]


def test_one_to_one_maps_attributes_and_checks() -> None:
    from tflconv.core.rewrite import one_to_one

    pattern = one_to_one(
        {"mk.a": "mk.b", "mk.c": "mk.b"},
        {"mk.a": {"x": "y", "absent": "z"}, "mk.c": lambda op: {"n": len(op.operands)}},
        check=lambda op: "refused" if "no" in op.attributes else None,
    )
    module, (a, c, refused) = chain("mk.a", "mk.c", "mk.a")
    a.attributes.update(x=1, other=2)
    refused.attributes["no"] = True
    apply_walk(module, [pattern])
    new = list(module.functions[0].ops)
    assert [op.name for op in new] == ["mk.b", "mk.b", "mk.a", "func.return"]
    assert new[0].attributes == {"y": 1} and new[1].attributes == {"n": 1}
    assert pattern.name == "OneToOne[mk.a,mk.c]" and pattern.roots == ("mk.a", "mk.c")


def test_an_erased_op_and_its_nested_ops_are_reported() -> None:
    erased: list[str] = []

    class Listener:
        def on_insert(self, op: Operation) -> None:
            pass

        def on_erase(self, op: Operation) -> None:
            erased.append(op.name)

        def on_modify(self, op: Operation) -> None:
            pass

    from tflconv.core.ir import Region

    fn = Function("main", [F4], ["x"])
    body = Block()
    body.append(Operation("mk.c", [], []))
    outer = fn.block.append(Operation("mk.b", [], [F4], regions=[Region([body])]))
    fn.set_outputs([fn.args[0]])
    rw = PatternRewriter(Listener())  # type: ignore[arg-type]
    rw.erase(outer)
    assert sorted(erased) == ["mk.b", "mk.c"] and outer.parent is None


def test_printing_a_value_from_outside_the_scope() -> None:
    module = parse_module(FAST)
    op = module.functions[0].block.first_op
    stray = Operation("mk.c", [], [F4], result_names=["gone"])
    op.set_operand(1, stray.result)
    assert '"mk.a"(%x, %gone)' in print_module(module)


@pytest.mark.parametrize("shape, axis", [((4, 20), 0), ((20, 4), 1), ((3, 4, 2), 1)])
def test_quantize_scaled_per_channel_zero_points(shape, axis) -> None:
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    scale = np.array([0.01, 0.02, 0.05, 0.1])
    zp = np.array([1, -2, 3, 0])
    q = K.quantize_scaled(x, scale, zp, axis, "i8", -128, 127)
    bshape = [1] * len(shape)
    bshape[axis] = 4
    inv = (1.0 / scale).astype(np.float32).reshape(bshape)
    expected = np.clip(np.rint(x * inv) + zp.reshape(bshape), -128, 127)
    np.testing.assert_array_equal(q, expected.astype(np.int8))


@pytest.mark.parametrize(
    "padding, words",
    [('"BOGUS"', "'BOGUS' is not one of ['SAME', 'VALID']"), ("1.5", "expected an enum member name of Padding")],
)  # fmt: skip
def test_writer_refuses_a_bad_enum_attribute(padding: str, words: str) -> None:
    from tflconv.tflite.writer import WriteError, write_flatbuffer

    text = (
        "func.func @main(%x: tensor<1x4x4x1xf32>) -> (tensor<1x4x4x1xf32>) {\n"
        '  %y = "tfl.max_pool_2d"(%x) {filter_height = 1, filter_width = 1, '
        f'fused_activation_function = "NONE", padding = {padding}, stride_h = 1, stride_w = 1}} '
        ": (tensor<1x4x4x1xf32>) -> tensor<1x4x4x1xf32>\n"
        '  "func.return"(%y) : (tensor<1x4x4x1xf32>) -> ()\n'
        "}\n"
    )
    with pytest.raises(WriteError) as info:
        write_flatbuffer(parse_module(text))
    assert "bad value for attribute 'padding'" in str(info.value) and words in str(info.value)


def test_small_ir_and_pattern_set_behaviours() -> None:
    block = Block([F4])
    arg = block.add_arg(TensorType((2,), "i32"), "n")
    assert block.args[1] is arg and (arg.index, arg.block, arg.name_hint) == (1, block, "n")
    ps = PatternSet([AToB()])
    assert [p.name for p in ps.for_op("mk.b")] == []
    ps.add(BToA())  # the per-op index is rebuilt after `add`
    assert [p.name for p in ps.for_op("mk.b")] == ["BToA"]
    with pytest.raises(ParseError, match="expected 'module' or 'func.func', found 'junk'"):
        parse_module("junk")
