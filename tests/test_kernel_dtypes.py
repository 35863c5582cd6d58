"""The kernel dtype table (tflconv/dialects/tfl_kernels.py) against LiteRT itself.

Every (op, element type) the table accepts is built as a one-op model through the writer and run
in the LiteRT interpreter, with its result compared to numpy; a sample of refused ones shows that
LiteRT really refuses them (or computes garbage down a quantized-only path), so the table is
neither too strict nor too loose. Then the conversions that depend on it: casts where the official
converter inserts them, clear refusals where it does not, Bitcast of every width, Cast to and from
bfloat16, SquaredDifference on i64, Abs/Sign on every type their kernels take.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert.interpreter")

from kernel_cases import (  # noqa: E402
    BUILDERS,
    COMPARE,
    MAIN_OPERAND,
    NP,
    Case,
    argminmax_case,
    bf16_round,
    check,
    compare_case,
    data,
    gather_case,
    gather_nd_case,
    run_case,
)

from tflconv.dialects.tfl_kernels import KERNELS, kernel_accepts  # noqa: E402


def _accepted() -> list[tuple[str, str]]:
    cases = []
    for name, entry in KERNELS.items():
        if name in ("tfl.cast", "tfl.bitcast"):
            continue
        types = entry.operand_types(MAIN_OPERAND.get(name, 0)) or frozenset()
        cases += [(name, t) for t in sorted(types)]
    return cases


def test_every_table_entry_has_a_builder():
    assert set(KERNELS) - {"tfl.cast", "tfl.bitcast"} == set(BUILDERS)


@pytest.mark.parametrize("op,dtype", _accepted(), ids=lambda v: str(v).removeprefix("tfl."))
def test_accepted_entry_runs_in_litert(op: str, dtype: str):
    check(BUILDERS[op](np.random.default_rng(0), dtype))


def _second_class(op: str, operand: int) -> list[tuple[str, str]]:
    types = KERNELS[op].operand_types(operand) or frozenset()
    return [(op, t) for t in sorted(types)]


@pytest.mark.parametrize(
    "op,index",
    _second_class("tfl.gather", 1) + _second_class("tfl.gather_nd", 1),
    ids=lambda v: str(v).removeprefix("tfl."),
)
def test_accepted_index_types(op: str, index: str):
    build = gather_case(index) if op == "tfl.gather" else gather_nd_case(index)
    check(build(np.random.default_rng(1), "f32"))


@pytest.mark.parametrize("op", ["tfl.arg_max", "tfl.arg_min"])
@pytest.mark.parametrize("dim", sorted(KERNELS["tfl.arg_max"].operand_types(1) or ()))
@pytest.mark.parametrize("out", sorted(KERNELS["tfl.arg_max"].result_types(0) or ()))
def test_accepted_arg_min_max_types(op: str, dim: str, out: str):
    assert kernel_accepts(op, dim, 1)
    check(argminmax_case(op, dim=dim, out=out)(np.random.default_rng(2), "f32"))


# --- casts -----------------------------------------------------------------------------------------


def _cast_case(src: str, dst: str) -> Case:
    rng = np.random.default_rng(3)
    feed = "f32" if src == "bf16" else src
    x = data(rng, feed, (2, 3), 0, 100)
    wide = bf16_round(x) if src == "bf16" else x
    if dst == "bf16":
        e = bf16_round(wide.astype(np.float32) if wide.dtype.kind != "c" else wide.real)
        return Case(
            "tfl.cast", [(x, True)], [e], {}, 0.0, ["bf16"], {0: src} if src != feed else {}
        )
    if wide.dtype.kind == "c" and NP[dst].kind != "c":
        wide = wide.real
    e = wide.astype(NP[dst])
    return Case("tfl.cast", [(x, True)], [e], {}, 0.0, None, {0: src} if src != feed else {})


_CAST = sorted(KERNELS["tfl.cast"].operand_types(0) or ())


@pytest.mark.parametrize("src,dst", [(s, d) for s in _CAST for d in _CAST if s != d], ids=str)
def test_cast_pairs(src: str, dst: str):
    check(_cast_case(src, dst))


_BITCAST = sorted(KERNELS["tfl.bitcast"].operand_types(0) or ())


def _bitcast_expected(x: np.ndarray, dst: str) -> np.ndarray:
    """TF's Bitcast: same size keeps the shape; to a smaller type adds a last dim; to a larger
    type drops the last dim (which must be the size ratio)."""
    src_size, dst_size = x.dtype.itemsize, NP[dst].itemsize
    y = np.ascontiguousarray(x).view(NP[dst])
    if src_size > dst_size:
        return y.reshape(*x.shape, src_size // dst_size)
    return y.reshape(x.shape[:-1]) if src_size < dst_size else y


@pytest.mark.parametrize("src", [t for t in _BITCAST if t != "bf16"])
@pytest.mark.parametrize("dst", [t for t in _BITCAST if t != "bf16"])
def test_bitcast_pairs(src: str, dst: str):
    rng = np.random.default_rng(4)
    ratio = max(NP[dst].itemsize // NP[src].itemsize, 1)
    x = data(rng, src, (2, 3 * ratio) if ratio > 1 else (2, 3), 0, 100)
    if ratio > 1:
        x = x.reshape(2, 3, ratio)
    if src == "i1" or dst == "i1":
        x = data(rng, src, x.shape, 0, 1)  # bytes that are valid booleans
    check(Case("tfl.bitcast", [(x, True)], [_bitcast_expected(x, dst)]))


# --- what the table refuses, LiteRT refuses (or computes garbage with) -----------------------------

REFUSED = [
    ("tfl.add", "ui32"),
    ("tfl.add", "f64"),
    ("tfl.add", "ui16"),
    ("tfl.sub", "ui32"),
    ("tfl.mul", "ui16"),
    ("tfl.div", "i64"),
    ("tfl.floor_div", "i64"),
    ("tfl.floor_mod", "ui8"),
    ("tfl.maximum", "ui32"),
    ("tfl.pow", "i64"),
    ("tfl.squared_difference", "i64"),
    ("tfl.atan2", "i32"),
    ("tfl.bitwise_xor", "i64"),
    ("tfl.less", "ui32"),
    ("tfl.equal", "f64"),
    ("tfl.abs", "i64"),
    ("tfl.abs", "f64"),
    ("tfl.sign", "i64"),
    ("tfl.sign", "f16"),
    ("tfl.neg", "ui8"),
    ("tfl.exp", "f64"),
    ("tfl.exp", "i32"),
    ("tfl.zeros_like", "f16"),
    ("tfl.logistic", "f64"),
    ("tfl.sum", "f64"),
    ("tfl.reduce_prod", "f16"),
    ("tfl.reduce_any", "i32"),
    ("tfl.arg_max", "i64"),
    ("tfl.cumsum", "i16"),
    ("tfl.resize_bilinear", "i32"),
    ("tfl.resize_bilinear", "f16"),
    ("tfl.resize_nearest_neighbor", "i64"),
    ("tfl.gather", "ui32"),
    ("tfl.gather_nd", "f64"),
    ("tfl.concatenation", "f64"),
    ("tfl.pack", "f16"),
    ("tfl.unpack", "i64"),
    ("tfl.add_n", "i64"),
    ("tfl.transpose", "string"),
    ("tfl.broadcast_to", "string"),
    ("tfl.reverse_v2", "f64"),
    ("tfl.pad", "ui32"),
    ("tfl.split", "i1"),
    ("tfl.split_v", "f16"),
    ("tfl.split_v", "i1"),
    ("tfl.unique", "f16"),
    ("tfl.unique", "i1"),
    ("tfl.space_to_depth", "f16"),
    ("tfl.topk_v2", "f16"),
    ("tfl.one_hot", "f16"),
    ("tfl.scatter_nd", "i16"),
    ("tfl.segment_sum", "i64"),
    ("tfl.unsorted_segment_max", "i8"),
    # complex64: these models load, then fail at allocate_tensors() or invoke()
    ("tfl.concatenation", "complex64"),
    ("tfl.gather", "complex64"),
    ("tfl.add", "complex64"),
    ("tfl.sub", "complex64"),
    ("tfl.pad", "complex64"),
    ("tfl.pack", "complex64"),
    ("tfl.reverse_v2", "complex64"),
    ("tfl.transpose_conv", "f16"),
    ("tfl.conv_3d", "f16"),
    ("tfl.conv_3d_transpose", "f64"),
    ("tfl.sparse_to_dense", "i16"),
    ("tfl.sparse_to_dense", "f16"),
    ("tfl.real", "f32"),
    ("tfl.select_v2", "string"),
    ("tfl.mirror_pad", "string"),
    ("tfl.depth_to_space", "i16"),
    ("tfl.reverse_sequence", "i8"),
    ("tfl.where", "f16"),
    ("tfl.range", "i16"),
    ("tfl.bucketize", "f16"),
    ("tfl.softmax", "f64"),
    ("tfl.log_softmax", "f16"),
    ("tfl.batch_matmul", "i32"),
    ("tfl.batch_matmul", "i8"),
    ("tfl.conv_2d", "f64"),
    ("tfl.depthwise_conv_2d", "i32"),
    ("tfl.fully_connected", "i32"),
    ("tfl.max_pool_2d", "f16"),
    ("tfl.average_pool_2d", "i8"),
    # accepted by Prepare, but down a quantized-only path: wrong numbers without quantization
    ("tfl.mul", "i8"),
    ("tfl.div", "i8"),
    ("tfl.sum", "i8"),
    ("tfl.mean", "i16"),
    ("tfl.not_equal", "i16"),
    ("tfl.relu", "i16"),
    ("tfl.resize_bilinear", "i8"),
]


@pytest.mark.parametrize("op,dtype", REFUSED, ids=lambda v: str(v).removeprefix("tfl."))
def test_refused_entry_fails_in_litert(op: str, dtype: str):
    assert not kernel_accepts(op, dtype, MAIN_OPERAND.get(op, 0))
    if op in COMPARE:  # all-true and all-false expected results: NOT_EQUAL on unquantized
        # i16 writes no output at all, so what it returns is whatever the buffer held
        cases = [
            compare_case(op, COMPARE[op], differ)(np.random.default_rng(5), dtype)
            for differ in (True, False)
        ]
    else:
        cases = [BUILDERS[op](np.random.default_rng(seed), dtype) for seed in (5, 6)]
    try:
        got = run_case(*cases)
    except (RuntimeError, ValueError):
        return  # refused at prepare or invoke
    expected = [e for c in cases for e in c.expected]
    mismatch = any(
        g.shape != e.shape or not np.allclose(g.astype(np.float64), e.astype(np.float64))
        for g, e in zip(got, expected, strict=True)
    )
    assert mismatch, f"LiteRT runs {op} on {dtype} correctly: the table is too strict"


@pytest.mark.parametrize(
    "op,operand,dtype",
    [
        ("tfl.gather", 1, "i8"),
        ("tfl.gather_nd", 1, "ui8"),
        ("tfl.sum", 1, "i64"),
        ("tfl.cumsum", 1, "i64"),
        ("tfl.resize_nearest_neighbor", 1, "i64"),
        ("tfl.arg_max", 1, "i16"),
    ],
)
def test_refused_index_types_fail_in_litert(op: str, operand: int, dtype: str):
    assert not kernel_accepts(op, dtype, operand)
    case = BUILDERS[op](np.random.default_rng(6), "f32")
    value, is_input = case.operands[operand]
    case.operands[operand] = (value.astype(NP[dtype]), is_input)
    with pytest.raises((RuntimeError, ValueError)):
        run_case(case)


def test_cast_from_ui64_refused_in_litert():
    assert not kernel_accepts("tfl.cast", "ui64")
    with pytest.raises((RuntimeError, ValueError)):
        run_case(Case("tfl.cast", [(np.arange(3, dtype=np.uint64), True)], [np.arange(3.0)]))


# --- conversions that depend on the table, against TensorFlow -------------------------------------

tf = pytest.importorskip("tensorflow")


def _tf_convert(fn: Callable, specs: list[Any]) -> tuple[Any, bytes]:
    from tflconv.api.converter import convert

    concrete = tf.function(fn, input_signature=specs, autograph=False).get_concrete_function()
    return concrete, convert(concrete)


def _tf_compare(fn: Callable, specs: list[Any], inputs: list[np.ndarray], rtol=0.0):
    """Convert with tflconv, run in LiteRT and in TF; assert equal outputs (within `rtol`),
    return the op histogram."""
    from e2e_util import op_histogram, run_litert

    concrete, tflite = _tf_convert(fn, specs)
    expected = concrete(*[tf.constant(x) for x in inputs])
    expected = expected if isinstance(expected, list | tuple) else [expected]
    got = run_litert(tflite, inputs)
    for g, e in zip(got, expected, strict=True):
        e = e.numpy()
        assert g.dtype == e.dtype and g.shape == e.shape
        if rtol:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol)
        else:
            np.testing.assert_array_equal(g, e)
    hist = op_histogram(tflite)
    assert not [k for k in hist if not k.startswith("tfl.")], hist
    return hist


def _refusal(fn: Callable, specs: list[Any]) -> Any:
    from tflconv.api.converter import ConverterError

    with pytest.raises(ConverterError) as info:
        _tf_convert(fn, specs)
    return info.value


SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 4), (3, 1))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_uint32_add_through_i32_casts(shapes):
    """The official converter's LowerUInt32AddV2; wrap-around included."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**32, size=shapes[0], dtype=np.uint64).astype(np.uint32)
    y = rng.integers(0, 2**32, size=shapes[1], dtype=np.uint64).astype(np.uint32)
    x.flat[0], y.flat[0] = 2**32 - 1, 2  # overflows: wraps to 1
    specs = [tf.TensorSpec(s, tf.uint32) for s in shapes]
    hist = _tf_compare(lambda a, b: a + b, specs, [x, y])
    assert hist == {"tfl.cast": 3, "tfl.add": 1}


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_squared_difference_i64(shapes):
    rng = np.random.default_rng(8)
    x = rng.integers(-(2**20), 2**20, size=shapes[0])
    y = rng.integers(-(2**20), 2**20, size=shapes[1])
    specs = [tf.TensorSpec(s, tf.int64) for s in shapes]
    hist = _tf_compare(tf.math.squared_difference, specs, [x, y])
    assert "tfl.squared_difference" not in hist and hist["tfl.mul"] == 1


@pytest.mark.parametrize("dtype", ["f32", "f16", "i16", "i32"])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)], ids=str)
def test_abs_on_every_kernel_type(dtype: str, shape):
    x = data(np.random.default_rng(9), dtype, shape, -100, 100)
    hist = _tf_compare(tf.abs, [tf.TensorSpec(shape, NP[dtype])], [x])
    assert hist == {"tfl.abs": 1}


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32"])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)], ids=str)
def test_sign_on_every_kernel_type(dtype: str, shape):
    x = data(np.random.default_rng(10), dtype, shape, -3, 3)
    x.flat[0] = 0
    hist = _tf_compare(tf.sign, [tf.TensorSpec(shape, NP[dtype])], [x])
    assert hist == {"tfl.sign": 1}


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)], ids=str)
def test_float16_elementwise_runs_on_f16_kernels(shape):
    """TF float16 math legalizes to the f16 kernels the table lists (the official converter
    refuses most of these)."""
    rng = np.random.default_rng(13)
    x, y = data(rng, "f16", shape, 0.5, 2), data(rng, "f16", shape, 0.5, 2)

    def fn(a, b):
        return (a + b, a * b, a - b, a / b, tf.exp(a), tf.abs(a - b), tf.maximum(a, b), a < b)

    specs = [tf.TensorSpec(shape, tf.float16)] * 2
    hist = _tf_compare(fn, specs, [x, y], rtol=2e-3)
    assert {"tfl.add", "tfl.mul", "tfl.sub", "tfl.div", "tfl.exp", "tfl.abs"} <= set(hist)


BITCASTS = [
    ("f32", "i32", (2, 3)),
    ("i32", "f32", (4,)),
    ("i32", "i8", (2, 3)),  # adds a last dim of 4
    ("i8", "i32", (3, 4)),  # drops the last dim (4)
    ("f16", "i16", (5,)),
    ("i16", "ui8", (2, 2)),
    ("ui8", "f16", (3, 2)),
    ("i64", "f64", (3,)),
    ("f64", "i32", (2,)),
    ("ui16", "ui32", (3, 2)),
    ("i64", "ui8", (2,)),
]


@pytest.mark.parametrize("src,dst,shape", BITCASTS, ids=str)
def test_bitcast_widths_match_tf(src: str, dst: str, shape):
    x = data(np.random.default_rng(11), src, shape, -100, 100)
    hist = _tf_compare(
        lambda v: tf.bitcast(v, tf.as_dtype(NP[dst])), [tf.TensorSpec(shape, NP[src])], [x]
    )
    assert hist == {"tfl.bitcast": 1}


@pytest.mark.parametrize("src", ["f32", "i32", "f16", "i64"])
@pytest.mark.parametrize("shape", [(7,), (2, 3)], ids=str)
def test_cast_through_bfloat16(src: str, shape):
    """f32 -> bf16 -> f32 rounds to nearest even, as in TF (the official emits two CASTs)."""
    x = data(np.random.default_rng(12), src, shape, -300, 300)
    if src == "f32":
        x.flat[0] = 1.00390625  # a tie: rounds to even (1.0)

    def fn(v):
        return tf.cast(tf.cast(v, tf.bfloat16), v.dtype)

    hist = _tf_compare(fn, [tf.TensorSpec(shape, NP[src])], [x])
    assert hist == {"tfl.cast": 2}


REFUSALS = [
    # (fn of one or two inputs, input dtype, the op left, the text its reason must contain)
    (tf.subtract, "ui32", "tf.Sub", "tfl.sub does not run on ui32"),
    (tf.maximum, "ui16", "tf.Maximum", "tfl.maximum does not run on ui16"),
    (tf.add, "i8", "tf.AddV2", "tfl.add does not run on i8"),
    (tf.less, "ui8", "tf.Less", "tfl.less does not run on ui8"),
    (tf.abs, "i8", "tf.Abs", "tfl.abs does not run on i8"),
    (tf.sign, "i8", "tf.Sign", "tfl.sign does not run on i8"),
    (tf.exp, "f64", "tf.Exp", "tfl.exp does not run on f64"),
    (lambda v: tf.reduce_sum(v, 0), "i8", "tf.Sum", "tfl.sum does not run on i8"),
    (lambda v: tf.cast(v, tf.float32), "ui64", "tf.Cast", "does not convert ui64 to f32"),
]


@pytest.mark.parametrize("fn,dtype,op,why", REFUSALS, ids=[r[3] for r in REFUSALS])
def test_no_kernel_for_the_dtype_fails_at_conversion(fn, dtype: str, op: str, why: str):
    arity = 2 if fn in (tf.subtract, tf.maximum, tf.add, tf.less) else 1
    err = _refusal(fn, [tf.TensorSpec([3], NP[dtype])] * arity)
    (u,) = err.report.ops
    assert u.op == op and why in u.detail, u.detail


def _resize_i64(v):
    return tf.compat.v1.image.resize_nearest_neighbor(v, [4, 6])


_RESIZE_I64 = [tf.TensorSpec([1, 2, 3, 1], tf.int64)]


@pytest.fixture
def resize_forgets_the_table(monkeypatch):
    """A legalization pattern that does not ask the table (as LegalizeResize did before): the
    final gate must still refuse the tfl op it emits."""
    from tflconv.passes.legalize_tf import nn_act

    monkeypatch.setattr(nn_act, "kernel_dtype_reason", lambda *args: None)


def test_gate_refuses_a_builtin_its_kernel_lacks(resize_forgets_the_table):
    err = _refusal(_resize_i64, _RESIZE_I64)
    (u,) = err.report.ops
    assert u.op == "tfl.resize_nearest_neighbor" and u.reason == "kernel_dtype"
    assert (
        "operand 0 (input), result 0 (output) are i64; LiteRT RESIZE_NEAREST_NEIGHBOR takes"
        in u.detail
    )
    assert u.locations and u.locations[0].node and "ResizeNearestNeighbor" in u.locations[0].node
    assert u.error_code is None and "fail at invoke()" in u.fixes[0]


def test_analyze_reports_a_builtin_on_a_dtype_its_kernel_lacks(resize_forgets_the_table):
    """`analyze` reads the same table: no target that legalizes converts the model, and the
    row names the kernel, the operand and the type; Flex alone (nothing legalized) still does."""
    from tflconv.tools.analyze import analyze_model, format_analysis

    fn = tf.function(_resize_i64, input_signature=_RESIZE_I64)
    report = analyze_model(fn.get_concrete_function())
    row = next(r for r in report["op_types"] if r["op"] == "tfl.resize_nearest_neighbor")
    assert row["unsupported"] == 1 and row["reason_kind"] == "kernel_dtype"
    assert (
        "operand 0 (input), result 0 (output) are i64; LiteRT RESIZE_NEAREST_NEIGHBOR takes"
        in row["reason"]
    )
    assert report["ops"] == sum(r["count"] for r in report["op_types"] if r["op"].startswith("tf."))
    for v in report["verdicts"]:
        legalizes = "TFLITE_BUILTINS" in v["target_ops"]
        assert v["converts"] is not legalizes, v
        assert ("tfl.resize_nearest_neighbor" in v["blocking"]) is legalizes
    assert "tfl.resize_nearest_neighbor: the LiteRT kernel does not take" in format_analysis(report)


def test_analyze_reports_the_up_front_refusal():
    """With the table asked at legalization, `analyze` shows the TF op with the pattern's
    reason, and Select TF ops converts it."""
    from tflconv.tools.analyze import analyze_model

    fn = tf.function(_resize_i64, input_signature=_RESIZE_I64)
    report = analyze_model(fn.get_concrete_function())
    (row,) = report["op_types"]
    assert row["op"] == "tf.ResizeNearestNeighbor" and row["builtin"] == 0 and row["select"] == 1
    assert "LegalizeResize: tfl.resize_nearest_neighbor does not run on i64" in row["reason"]
    for v in report["verdicts"]:
        fallback = "SELECT_TF_OPS" in v["target_ops"] or v["allow_custom_ops"]
        assert v["converts"] is fallback, v


def test_docs_hold_the_generated_table():
    from pathlib import Path

    from tflconv.dialects.tfl_kernels import markdown_table

    doc = (Path(__file__).parent.parent / "docs" / "legalize_math_tensor.md").read_text()
    begin = doc.index("-->", doc.index("<!-- kernel-table:begin")) + 3
    end = doc.index("<!-- kernel-table:end -->")
    assert doc[begin:end].strip() == markdown_table(), "regenerate the table in the docs"


@pytest.mark.parametrize("other", ["i16", "ui16", "f16"])
@pytest.mark.parametrize("to_bf16", [True, False])
def test_bitcast_bfloat16(other: str, to_bf16: bool):
    """bf16 has no numpy type: the model casts f32 <-> bf16 around the BITCAST (values exact in
    bf16), and the bits are checked."""
    f = bf16_round(np.array([[1.5, -2.0, 0.0, 3.0e38, -1.0e-30, 2.5]], np.float32))
    bits = (f.view(np.uint32) >> 16).astype(np.uint16)
    if to_bf16:
        x = bits.view(NP[other])
        case = Case("tfl.bitcast", [(x, True)], [f], result_types=["bf16"])
    else:
        case = Case("tfl.bitcast", [(f, True)], [bits.view(NP[other])], operand_types={0: "bf16"})
    check(case)


# --- legalization asks the table: refused up front, the TF op stays with the pattern's reason ---


def _conv_filter(dtype, shape):
    return tf.constant(np.ones(shape), dtype)


LEGALIZE_REFUSALS = [
    # (name, fn, input spec (shape, dtype), the TF op left, text of its reason)
    ("relu-f64", tf.nn.relu, ([6], tf.float64), "tf.Relu", "tfl.relu does not run on f64"),
    ("relu-ui16", tf.nn.relu, ([6], tf.uint16), "tf.Relu", "tfl.maximum does not run on ui16"),
    (
        "bias-add-i8",
        lambda v: tf.nn.bias_add(v, tf.constant([1, 2, 3], tf.int8)),
        ([2, 3], tf.int8),
        "tf.BiasAdd",
        "tfl.add does not run on i8",
    ),
    ("softmax-f64", tf.nn.softmax, ([6], tf.float64), "tf.Softmax", "tfl.softmax does not run"),
    (
        "resize-nearest-i64",
        lambda v: tf.compat.v1.image.resize_nearest_neighbor(v, [4, 6]),
        ([1, 2, 3, 1], tf.int64),
        "tf.ResizeNearestNeighbor",
        "tfl.resize_nearest_neighbor does not run on i64",
    ),
    ("gather-ui32", lambda v: tf.gather(v, [2, 0]), ([6], tf.uint32), "tf.GatherV2", "ui32"),
    ("gather-c64", lambda v: tf.gather(v, [2, 0]), ([6], tf.complex64), "tf.GatherV2", "complex64"),
    ("concat-f64", lambda v: tf.concat([v, v], 0), ([6], tf.float64), "tf.ConcatV2", "f64"),
    ("concat-c64", lambda v: tf.concat([v, v], 0), ([6], tf.complex64), "tf.ConcatV2", "complex64"),
    ("pack-f16", lambda v: tf.stack([v, v]), ([6], tf.float16), "tf.Pack", "tfl.pack does not"),
    ("pack-c64", lambda v: tf.stack([v, v]), ([6], tf.complex64), "tf.Pack", "complex64"),
    ("pad-ui32", lambda v: tf.pad(v, [[1, 2]]), ([6], tf.uint32), "tf.Pad", "tfl.pad does not"),
    ("pad-c64", lambda v: tf.pad(v, [[1, 2]]), ([6], tf.complex64), "tf.Pad", "complex64"),
    ("reverse-f64", lambda v: tf.reverse(v, [0]), ([6], tf.float64), "tf.ReverseV2", "f64"),
    ("reverse-c64", lambda v: tf.reverse(v, [0]), ([6], tf.complex64), "tf.ReverseV2", "complex64"),
    (
        "transpose-string",
        lambda v: tf.transpose(tf.reshape(v, [3, 2])),
        ([6], tf.string),
        "tf.Transpose",
        "tfl.transpose does not run on string",
    ),
    ("split-i1", lambda v: tf.split(v, 2)[1], ([6], tf.bool), "tf.Split", "in operand 1"),
    ("split-v-f16", lambda v: tf.split(v, [2, 4])[1], ([6], tf.float16), "tf.SplitV", "f16"),
    ("unique-f64", lambda v: tf.unique(v)[0], ([6], tf.float64), "tf.Unique", "tfl.unique"),
    (
        "one-hot-f16",
        lambda v: tf.one_hot(v, 3, dtype=tf.float16),
        ([6], tf.int32),
        "tf.OneHot",
        "tfl.one_hot does not run on f16 in operand 2",
    ),
    (
        "scatter-nd-i16",
        lambda v: tf.scatter_nd([[1], [0]], v[:2], [4]),
        ([6], tf.int16),
        "tf.ScatterNd",
        "tfl.scatter_nd does not run on i16 in operand 1",
    ),
    ("where-f16", tf.where, ([6], tf.float16), "tf.Where", "tfl.where does not run on f16"),
    (
        "fill-c128",
        lambda v: tf.fill([2, 3], tf.reshape(v, [])),
        ([1], tf.complex128),
        "tf.Fill",
        "tfl.fill does not run on complex128 in operand 1",
    ),
    ("tile-c128", lambda v: tf.tile(v, [2]), ([6], tf.complex128), "tf.Tile", "complex128"),
    (
        "strided-slice-c128",
        lambda v: v[1:5:2],
        ([6], tf.complex128),
        "tf.StridedSlice",
        "tfl.strided_slice does not run on complex128",
    ),
    (
        "conv2d-f64",
        lambda v: tf.nn.conv2d(v, _conv_filter(tf.float64, [1, 1, 2, 3]), 1, "VALID"),
        ([1, 3, 3, 2], tf.float64),
        "tf.Conv2D",
        "tfl.conv_2d does not run on f64",
    ),
    (
        "depthwise-f64",
        lambda v: tf.nn.depthwise_conv2d(
            v, _conv_filter(tf.float64, [1, 1, 2, 1]), [1, 1, 1, 1], "VALID"
        ),
        ([1, 3, 3, 2], tf.float64),
        "tf.DepthwiseConv2dNative",
        "tfl.depthwise_conv_2d does not run on f64",
    ),
    (
        "transpose-conv-f64",
        lambda v: tf.nn.conv2d_transpose(
            v, _conv_filter(tf.float64, [1, 1, 3, 2]), [1, 3, 3, 3], 1, "VALID"
        ),
        ([1, 3, 3, 2], tf.float64),
        "tf.Conv2DBackpropInput",
        "tfl.transpose_conv does not run on f64",
    ),
    (
        "conv3d-f64",
        lambda v: tf.nn.conv3d(v, _conv_filter(tf.float64, [1, 1, 1, 2, 3]), [1] * 5, "VALID"),
        ([1, 2, 2, 2, 2], tf.float64),
        "tf.Conv3D",
        "tfl.conv_3d does not run on f64",
    ),
    (
        "conv3d-transpose-f64",
        lambda v: tf.nn.conv3d_transpose(
            v, _conv_filter(tf.float64, [1, 1, 1, 3, 2]), [1, 2, 2, 2, 3], 1, "VALID"
        ),
        ([1, 2, 2, 2, 2], tf.float64),
        "tf.Conv3DBackpropInputV2",
        "tfl.conv_3d_transpose does not run on f64 in operand 2",
    ),
    (
        "max-pool-f16",
        lambda v: tf.nn.max_pool2d(v, 2, 2, "VALID"),
        ([1, 4, 4, 1], tf.float16),
        "tf.MaxPool",
        "tfl.max_pool_2d does not run on f16",
    ),
    (
        "avg-pool-f64",
        lambda v: tf.nn.avg_pool2d(v, 2, 2, "VALID"),
        ([1, 4, 4, 1], tf.float64),
        "tf.AvgPool",
        "tfl.average_pool_2d does not run on f64",
    ),
]


@pytest.mark.parametrize(
    "fn,spec,op,why", [r[1:] for r in LEGALIZE_REFUSALS], ids=[r[0] for r in LEGALIZE_REFUSALS]
)
def test_legalization_refuses_what_the_kernel_lacks(fn, spec, op: str, why: str):
    """The pattern asks the table before rewriting: the TF op stays (so SELECT_TF_OPS or a
    custom op can take it) with the pattern's reason, and no tfl op reaches the final gate."""
    err = _refusal(fn, [tf.TensorSpec(*spec)])
    found = {u.op: u for u in err.report.ops}
    assert op in found, found
    assert why in found[op].detail, found[op].detail
    assert not [u.op for u in err.report.ops if u.op.startswith("tfl.")]


def test_refused_resize_nearest_i64_falls_back_to_select_tf_ops():
    """Left a TF op, the int64 ResizeNearestNeighbor becomes a Flex op when Select TF ops are
    on."""
    from tflconv.api.converter import convert

    fn = tf.function(_resize_i64, input_signature=_RESIZE_I64)
    tflite = convert(
        fn.get_concrete_function(),
        target_spec={"supported_ops": {"TFLITE_BUILTINS", "SELECT_TF_OPS"}},
    )
    assert b"FlexResizeNearestNeighbor" in tflite


@pytest.mark.parametrize("dtype", ["i32", "i64", "i8", "i16", "ui8"])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4)], ids=str)
def test_integer_relu_is_maximum_with_zero(dtype: str, shape):
    """The official LegalizeReluI32/I64 (RELU has no integer kernel, MAXIMUM(x, 0) does), and
    likewise for the other integer types MAXIMUM runs on."""
    x = data(np.random.default_rng(14), dtype, shape, -100, 100)
    x.flat[0] = 0
    hist = _tf_compare(tf.nn.relu, [tf.TensorSpec(shape, NP[dtype])], [x])
    assert hist == {"tfl.maximum": 1}


# --- TensorArrays of element types ZEROS_LIKE/ADD/SCATTER_ND lack --------------------------------

LIST_TYPES = ["f16", "i8", "ui8", "i16", "i1", "f32"]


@pytest.mark.parametrize("dtype", LIST_TYPES)
def test_tensor_array_with_a_dynamic_element_dim_in_a_while_loop(dtype: str):
    """Writes into a list whose element shape has an unknown dim broadcast the list first: by
    ZEROS_LIKE + ADD where those kernels take the type, else by BROADCAST_TO."""
    tf_dtype = tf.as_dtype(NP[dtype])

    def fn(x):
        ta = tf.TensorArray(tf_dtype, size=3, element_shape=[None, 3])
        body = lambda i, t: (i + 1, t.write(i, tf.roll(x, i, 0)))  # noqa: E731
        _, ta = tf.while_loop(lambda i, t: i < 3, body, (0, ta))
        return ta.stack()

    x = data(np.random.default_rng(15), dtype, (2, 3), -50, 50)
    hist = _tf_compare(fn, [tf.TensorSpec([None, 3], tf_dtype)], [x])
    assert "tfl.while" in hist
    assert ("tfl.zeros_like" in hist) is kernel_accepts("tfl.zeros_like", dtype)


@pytest.mark.parametrize("dtype", ["f16", "i16", "i8", "f32"])
def test_tensor_array_scatter(dtype: str):
    """TensorArray.scatter: SCATTER_ND in the element type, or (f16, i16) in f32/i32 between
    CASTs."""
    tf_dtype = tf.as_dtype(NP[dtype])

    def fn(x):
        rows = tf.transpose(x, [1, 0, 2])
        scattered = tf.TensorArray(tf_dtype, size=4).scatter([3, 0, 2, 1], rows)
        return scattered.stack(), scattered.gather([2, 0])

    x = data(np.random.default_rng(16), dtype, (2, 4, 3), -50, 50)
    hist = _tf_compare(fn, [tf.TensorSpec([None, 4, 3], tf_dtype)], [x])
    assert hist["tfl.scatter_nd"] == 2
    assert ("tfl.cast" in hist) is (not kernel_accepts("tfl.scatter_nd", dtype, 1))
