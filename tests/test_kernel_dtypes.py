"""The kernel dtype table (tflconv/dialects/tfl_kernels.py) against LiteRT itself.

Every (op, element type) the table accepts is built as a one-op model through the writer and run
in the LiteRT interpreter, with its result compared to numpy; a sample of refused ones shows that
LiteRT really refuses them (or computes garbage down a quantized-only path), so the table is
neither too strict nor too loose. Then the conversions that depend on it: casts where the official
converter inserts them, clear refusals where it does not, Bitcast of every width, Cast to and from
bfloat16, SquaredDifference on i64, Abs/Sign on every type their kernels take.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.types import DTYPES, TensorType, dtype_from_numpy
from tflconv.dialects.tfl_kernels import KERNELS, kernel_accepts
from tflconv.schema.writer import write_flatbuffer

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

NONE = {"fused_activation_function": "NONE"}


# --- building and running one-op models ----------------------------------------------------------


@dataclass
class Case:
    """One tfl op: operands (value, fed as a model input?), the expected results."""

    op: str
    operands: list[tuple[np.ndarray, bool]]
    expected: list[np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)
    tol: float = 0.0
    result_types: list[str] | None = None
    """Element types of the op's results when they differ from `expected` (bf16: the model
    casts them to f32 after the op)."""
    operand_types: dict[int, str] = field(default_factory=dict)
    """Element types of input operands the model casts to before the op (bf16)."""


def _model(case: Case) -> tuple[bytes, list[np.ndarray]]:
    inputs = [v for v, is_input in case.operands if is_input]
    fn = Function(
        "main",
        [TensorType(v.shape, dtype_from_numpy(v.dtype)) for v in inputs],
        [f"x{i}" for i in range(len(inputs))],
        {"entry": True},
    )
    values: list[Value] = []
    args = iter(fn.args)
    for i, (v, is_input) in enumerate(case.operands):
        value = next(args) if is_input else fn.block.append(constant(np.asarray(v))).result
        if i in case.operand_types:  # a type numpy cannot feed: cast to it inside the model
            t = TensorType(v.shape, case.operand_types[i])
            value = fn.block.append(Operation("tfl.cast", [value], [t])).result
        values.append(value)
    dtypes = case.result_types or [dtype_from_numpy(e.dtype) for e in case.expected]
    types = [TensorType(e.shape, d) for e, d in zip(case.expected, dtypes, strict=True)]
    op = fn.block.append(Operation(case.op, values, types, dict(case.attrs)))
    outputs = []
    for r, e in zip(op.results, case.expected, strict=True):
        if r.type.dtype != dtype_from_numpy(e.dtype):
            t = TensorType(e.shape, dtype_from_numpy(e.dtype))
            r = fn.block.append(Operation("tfl.cast", [r], [t])).result
        outputs.append(r)
    fn.set_outputs(outputs)
    return write_flatbuffer(Module([fn])), inputs


def run_case(case: Case, *more: Case) -> list[np.ndarray]:
    """Run `case` in LiteRT; with `more` (cases of the same model with other input values),
    invoke the one interpreter again for each and return all outputs, in order."""
    data, inputs = _model(case)
    interp = Interpreter(model_content=data, num_threads=1)
    interp.allocate_tensors()
    outputs = []
    for feed in [inputs] + [_model(c)[1] for c in more]:
        for d, x in zip(interp.get_input_details(), feed, strict=True):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        outputs += [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]
    return outputs


def check(case: Case) -> None:
    got = run_case(case)
    for g, e in zip(got, case.expected, strict=True):
        assert g.dtype == e.dtype
        assert g.shape == e.shape
        if case.tol:
            np.testing.assert_allclose(g, e, atol=case.tol, rtol=case.tol)
        else:
            np.testing.assert_array_equal(g, e)


# --- numpy data and references -------------------------------------------------------------------

NP = {k: v for k, v in DTYPES.items() if v is not None and k != "i4"}


def data(rng: np.random.Generator, t: str, shape: tuple[int, ...], lo=-5, hi=5) -> np.ndarray:
    if t == "string":
        words = [b"", b"a", b"bc", b"def", b"ghij"]
        return np.array([words[i] for i in rng.integers(0, 5, size=shape).flat], object).reshape(
            shape
        )
    dt = NP[t]
    if dt == np.bool_:
        return rng.random(shape) < 0.5
    if dt.kind == "u":
        lo = max(lo, 0)
    if dt.kind in "iu":
        return rng.integers(int(lo), int(hi) + 1, size=shape).astype(dt)
    if dt.kind == "c":
        return (rng.uniform(lo, hi, shape) + 1j * rng.uniform(lo, hi, shape)).astype(dt)
    return rng.uniform(lo, hi, size=shape).astype(dt)


def tol(t: str) -> float:
    return {"f16": 5e-3, "f32": 2e-6, "f64": 1e-12, "complex64": 2e-6}.get(t, 0.0)


Builder = Callable[[np.random.Generator, str], Case]


def binary(op: str, ref: Callable, lo=-5, hi=5, attrs=None, out: str | None = None, same=False):
    def build(rng: np.random.Generator, t: str) -> Case:
        a = data(rng, t, (2, 3), lo, hi)
        b = data(rng, t, (2, 3) if same else (3,), lo, hi)
        with np.errstate(all="ignore"):
            e = np.asarray(ref(a, b)).astype(NP[out or t])
        return Case(op, [(a, True), (b, True)], [e], dict(attrs or {}), tol(t) * 4)

    return build


def divide(op: str, ref: Callable):
    def build(rng: np.random.Generator, t: str) -> Case:
        a = data(rng, t, (2, 3), -9, 9)
        b = data(rng, t, (3,), -4, 4)
        b[b == 0] = 3
        e = np.asarray(ref(a, b)).astype(NP[t])
        return Case(op, [(a, True), (b, True)], [e], NONE if op == "tfl.div" else {}, tol(t) * 4)

    return build


def _truediv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # TFLite DIV truncates integers (like TF's Div / TruncateDiv)
    return a / b if a.dtype.kind == "f" else np.trunc(a / b)


def _pow(rng: np.random.Generator, t: str) -> Case:
    a = data(rng, t, (2, 3), -3, 3)
    b = data(rng, t, (3,), 0, 3)
    if a.dtype.kind == "f":
        a = np.abs(a) + np.asarray(0.5, a.dtype)
    return Case("tfl.pow", [(a, True), (b, True)], [np.power(a, b).astype(a.dtype)], {}, 1e-5)


def _shift(rng: np.random.Generator, t: str) -> Case:
    a = data(rng, t, (2, 3), -50, 50)
    b = data(rng, t, (3,), 0, NP[t].itemsize * 8 - 1)
    return Case("tfl.right_shift", [(a, True), (b, True)], [np.right_shift(a, b)])


def unary(op: str, ref: Callable, lo=-3, hi=3, attrs=None, scale=1.0):
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (2, 3), lo, hi)
        wide = x.astype(np.float64) if x.dtype.kind == "f" else x
        e = np.asarray(ref(wide)).astype(x.dtype)
        return Case(op, [(x, True)], [e], dict(attrs or {}), tol(t) * scale)

    return build


def _reduce(op: str, ref: Callable, lo=-3, hi=3):
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (2, 3, 4), lo, hi)
        e = np.asarray(ref(x, axis=1)).astype(x.dtype)
        axes = np.array([1], np.int32)
        return Case(op, [(x, True), (axes, False)], [e], {"keep_dims": False}, tol(t) * 10)

    return build


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.mean(x.astype(np.float64), axis=axis)
    return np.trunc(np.sum(x.astype(np.int64), axis=axis) / x.shape[axis])


def _argminmax(op: str, t: str = "f32", dim: str = "i32", out: str = "i32") -> Builder:
    def build(rng: np.random.Generator, t_: str) -> Case:
        x = data(rng, t_, (3, 5), -100, 100)
        ref = np.argmax if op == "tfl.arg_max" else np.argmin
        kind = {"i32": "INT32", "i64": "INT64"}[out]
        operands = [(x, True), (np.array([1], NP[dim]), False)]
        return Case(op, operands, [ref(x, axis=1).astype(NP[out])], {"output_type": kind})

    return build


def _cumsum(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 4), -3, 3)
    axis = np.array(1, np.int32)
    return Case(
        "tfl.cumsum", [(x, True), (axis, False)], [np.cumsum(x, 1).astype(x.dtype)], {}, 1e-5
    )


def _nearest(x: np.ndarray, h: int, w: int) -> np.ndarray:
    rows = np.floor(np.arange(h) * (x.shape[1] / h)).astype(int)
    cols = np.floor(np.arange(w) * (x.shape[2] / w)).astype(int)
    return x[:, rows][:, :, cols]


def _bilinear(x: np.ndarray, h: int, w: int) -> np.ndarray:
    def axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.arange(n_out) * (n_in / n_out)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    y0, y1, fy = axis_weights(x.shape[1], h)
    x0, x1, fx = axis_weights(x.shape[2], w)
    fy, fx = fy[None, :, None, None], fx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def _resize(op: str, ref: Callable) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (1, 2, 3, 2), 0, 20)
        if x.dtype.kind in "iu":
            x = (x // 2 * 2).astype(x.dtype)  # even values: halves stay exact
        size = np.array([4, 6], np.int32)
        e = np.asarray(ref(x.astype(np.float64) if t != "i1" else x, 4, 6)).astype(x.dtype)
        return Case(op, [(x, True), (size, False)], [e], {}, tol(t))

    return build


def _gather(index: str = "i32") -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        if t == "string":  # the kernel gathers strings from 1-D params only
            params = np.array([b"a", b"bb", b"", b"dddd"], dtype=object)
        else:
            params = data(rng, t, (4, 3))
        idx = np.array([3, 0, 2], NP[index])
        return Case("tfl.gather", [(params, True), (idx, True)], [params[idx]], {"axis": 0})

    return build


def _gather_nd(index: str = "i32") -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        params = data(rng, t, (3, 4))
        idx = np.array([[2], [0]], NP[index])
        return Case("tfl.gather_nd", [(params, True), (idx, True)], [params[idx[:, 0]]])

    return build


def _compare_data(
    rng: np.random.Generator, t: str, differ: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    if differ is not None:  # every pair unequal, or every pair equal
        a = data(rng, t, (6,), 0, 3)
        return a, (a + int(differ)).astype(a.dtype)
    if t == "string":
        return (
            np.array([b"a", b"b", b"cc"], dtype=object),
            np.array([b"a", b"x", b"cc"], dtype=object),
        )
    a = data(rng, t, (6,), -3, 3)
    return a, np.where(rng.random(6) < 0.5, a, data(rng, t, (6,), -3, 3))


def _compare(op: str, ref: Callable, differ: bool | None = None) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        a, b = _compare_data(rng, t, differ)
        return Case(op, [(a, True), (b, True)], [np.asarray(ref(a, b), bool)])

    return build


def _concat(rng: np.random.Generator, t: str) -> Case:
    a, b = data(rng, t, (2, 3)), data(rng, t, (1, 3))
    return Case(
        "tfl.concatenation", [(a, True), (b, True)], [np.concatenate([a, b])], {"axis": 0, **NONE}
    )


def _pack(rng: np.random.Generator, t: str) -> Case:
    a, b = data(rng, t, (3,)), data(rng, t, (3,))
    return Case(
        "tfl.pack", [(a, True), (b, True)], [np.stack([a, b], 1)], {"values_count": 2, "axis": 1}
    )


def _unpack(rng: np.random.Generator, t: str) -> Case:
    a = data(rng, t, (2, 3))
    return Case("tfl.unpack", [(a, True)], [a[0], a[1]], {"num": 2, "axis": 0})


def _select(op: str) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        c = data(rng, "i1", (2, 3))
        x, y = data(rng, t, (2, 3)), data(rng, t, (2, 3))
        return Case(op, [(c, True), (x, True), (y, True)], [np.where(c, x, y)])

    return build


def _add_n(rng: np.random.Generator, t: str) -> Case:
    xs = [data(rng, t, (2, 3)) for _ in range(3)]
    return Case(
        "tfl.add_n",
        [(x, True) for x in xs],
        [(xs[0] + xs[1] + xs[2]).astype(xs[0].dtype)],
        {},
        1e-5,
    )


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def _i32(*values: int) -> np.ndarray:
    return np.array(values, np.int32)


def _shaped(op: str, fn: Callable, shape=(2, 3, 4), consts=(), attrs=None, n_out=1) -> Builder:
    """A data-movement op: one input of `shape`, constant operands, numpy reference `fn`."""

    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, shape)
        e = fn(x)
        expected = list(e) if n_out > 1 else [np.asarray(e, dtype=x.dtype)]
        return Case(op, [(x, True)] + [(c, False) for c in consts], expected, dict(attrs or {}))

    return build


def _fill(rng: np.random.Generator, t: str) -> Case:
    v = data(rng, t, ())
    e = np.full((2, 3), v.item(), dtype=v.dtype)
    # (the Python interpreter cannot feed a 0-d string input: a constant value then)
    return Case("tfl.fill", [(_i32(2, 3), False), (v, t != "string")], [e])


def _pad(op: str) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (2, 3))
        pads = np.array([[1, 0], [0, 2]], np.int32)
        operands = [(x, True), (pads, False)]
        fill = np.zeros((), x.dtype) if t != "string" else b""
        if op == "tfl.padv2":
            fill = data(rng, t, ())
            operands.append((fill, True))
        e = np.pad(x, pads, constant_values=fill) if t != "string" else None
        if e is None:
            e = np.full((3, 5), fill, object)
            e[1:, :3] = x
        return Case(op, operands, [e.astype(x.dtype)])

    return build


def _topk(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 6), -100, 100)
    x = np.stack([rng.permutation(np.unique(r).repeat(1))[:6] if False else r for r in x])
    order = np.argsort(-x.astype(np.float64), axis=1, kind="stable")[:, :3]
    values = np.take_along_axis(x, order, 1)
    return Case(
        "tfl.topk_v2", [(x, True), (np.array(3, np.int32), False)], [values, order.astype(np.int32)]
    )


def _segment(op: str, ref: Callable, sorted_ids: bool = False) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (5, 2), -3, 3)
        ids = np.array([0, 0, 1, 2, 2] if sorted_ids else [1, 0, 1, 2, 0], np.int32)
        e = np.stack([ref(x[ids == k], axis=0) for k in range(3)]).astype(x.dtype)
        operands = [(x, True), (ids, True)]
        if not sorted_ids:
            operands.append((np.array(3, np.int32), False))
        return Case(op, operands, [e], {}, tol(t) * 4)

    return build


def _scatter_nd(rng: np.random.Generator, t: str) -> Case:
    idx = np.array([[3], [0]], np.int32)
    updates = data(rng, t, (2, 3))
    e = np.zeros((5, 3), updates.dtype)
    e[idx[:, 0]] = updates
    return Case("tfl.scatter_nd", [(idx, False), (updates, True), (_i32(5, 3), False)], [e])


def _one_hot(rng: np.random.Generator, t: str) -> Case:
    idx = np.array([0, 2, 1, 5], np.int32)
    on, off = data(rng, t, ()), data(rng, t, ())
    e = np.where(np.arange(3)[None, :] == idx[:, None], on, off).astype(on.dtype)
    operands = [(idx, True), (np.array(3, np.int32), False), (on, True), (off, True)]
    return Case("tfl.one_hot", operands, [e], {"axis": -1})


def _strided_slice(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (4, 5))
    consts = [(_i32(0, 1), False), (_i32(4, 5), False), (_i32(2, 2), False)]
    return Case("tfl.strided_slice", [(x, True), *consts], [x[0:4:2, 1:5:2]])


def _split(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 6))
    return Case(
        "tfl.split",
        [(np.array(1, np.int32), False), (x, True)],
        list(np.split(x, 3, 1)),
        {"num_splits": 3},
    )


TENSOR_BUILDERS: dict[str, Builder] = {
    "tfl.reshape": _shaped("tfl.reshape", lambda x: x.reshape(6, 4), consts=[_i32(6, 4)]),
    "tfl.transpose": _shaped(
        "tfl.transpose", lambda x: x.transpose(2, 0, 1), consts=[_i32(2, 0, 1)]
    ),
    "tfl.tile": _shaped("tfl.tile", lambda x: np.tile(x, (1, 2, 1)), consts=[_i32(1, 2, 1)]),
    "tfl.slice": _shaped(
        "tfl.slice", lambda x: x[:, 1:3, 1:], consts=[_i32(0, 1, 1), _i32(2, 2, 3)]
    ),
    "tfl.broadcast_to": _shaped(
        "tfl.broadcast_to", lambda x: np.broadcast_to(x, (2, 2, 3)), (2, 1, 3), [_i32(2, 2, 3)]
    ),
    "tfl.reverse_v2": _shaped("tfl.reverse_v2", lambda x: x[:, ::-1], consts=[_i32(1)]),
    "tfl.expand_dims": _shaped("tfl.expand_dims", lambda x: x[:, None], consts=[_i32(1)]),
    "tfl.squeeze": _shaped(
        "tfl.squeeze", lambda x: x[:, 0], (2, 1, 3), attrs={"squeeze_dims": [1]}
    ),
    "tfl.space_to_depth": _shaped(
        "tfl.space_to_depth",
        lambda x: x.reshape(1, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 2, 2, 4),
        (1, 4, 4, 1),
        attrs={"block_size": 2},
    ),
    "tfl.fill": _fill,
    "tfl.pad": _pad("tfl.pad"),
    "tfl.padv2": _pad("tfl.padv2"),
    "tfl.strided_slice": _strided_slice,
    "tfl.split": _split,
    "tfl.topk_v2": _topk,
    "tfl.one_hot": _one_hot,
    "tfl.scatter_nd": _scatter_nd,
    "tfl.segment_sum": _segment("tfl.segment_sum", np.sum, sorted_ids=True),
    "tfl.unsorted_segment_sum": _segment("tfl.unsorted_segment_sum", np.sum),
    "tfl.unsorted_segment_prod": _segment("tfl.unsorted_segment_prod", np.prod),
    "tfl.unsorted_segment_max": _segment("tfl.unsorted_segment_max", np.max),
    "tfl.unsorted_segment_min": _segment("tfl.unsorted_segment_min", np.min),
}


COMPARE = {
    "tfl.less": np.less,
    "tfl.less_equal": np.less_equal,
    "tfl.greater": np.greater,
    "tfl.greater_equal": np.greater_equal,
    "tfl.equal": np.equal,
    "tfl.not_equal": np.not_equal,
}

BUILDERS: dict[str, Builder] = {
    "tfl.add": binary("tfl.add", np.add, attrs=NONE),
    "tfl.sub": binary("tfl.sub", np.subtract, attrs=NONE),
    "tfl.mul": binary("tfl.mul", np.multiply, attrs=NONE),
    "tfl.div": divide("tfl.div", _truediv),
    "tfl.floor_div": divide("tfl.floor_div", np.floor_divide),
    "tfl.floor_mod": divide("tfl.floor_mod", np.mod),
    "tfl.maximum": binary("tfl.maximum", np.maximum),
    "tfl.minimum": binary("tfl.minimum", np.minimum),
    "tfl.pow": _pow,
    "tfl.squared_difference": binary(
        "tfl.squared_difference", lambda a, b: np.square(a.astype(np.float64) - b)
    ),
    "tfl.atan2": binary("tfl.atan2", np.arctan2, same=True),  # the kernel does not broadcast
    "tfl.bitwise_xor": binary("tfl.bitwise_xor", np.bitwise_xor, -100, 100),
    "tfl.right_shift": _shift,
    "tfl.logical_and": binary("tfl.logical_and", np.logical_and),
    "tfl.logical_or": binary("tfl.logical_or", np.logical_or),
    "tfl.add_n": _add_n,
    **{k: _compare(k, f) for k, f in COMPARE.items()},
    "tfl.abs": unary("tfl.abs", np.abs),
    "tfl.neg": unary("tfl.neg", np.negative),
    "tfl.sign": unary("tfl.sign", np.sign),
    "tfl.exp": unary("tfl.exp", np.exp, scale=10),
    "tfl.log": unary("tfl.log", np.log, 0.5, 4),
    "tfl.sqrt": unary("tfl.sqrt", np.sqrt, 0, 9),
    "tfl.rsqrt": unary("tfl.rsqrt", lambda x: 1 / np.sqrt(x), 0.5, 9, scale=10),
    "tfl.square": unary("tfl.square", np.square, scale=4),
    "tfl.sin": unary("tfl.sin", np.sin, scale=4),
    "tfl.cos": unary("tfl.cos", np.cos, scale=4),
    "tfl.floor": unary("tfl.floor", np.floor),
    "tfl.ceil": unary("tfl.ceil", np.ceil),
    "tfl.round": unary("tfl.round", np.round),
    "tfl.logical_not": unary("tfl.logical_not", np.logical_not),
    "tfl.zeros_like": unary("tfl.zeros_like", np.zeros_like),
    "tfl.tanh": unary("tfl.tanh", np.tanh, scale=10),
    "tfl.logistic": unary("tfl.logistic", lambda x: 1 / (1 + np.exp(-x)), scale=10),
    "tfl.relu": unary("tfl.relu", lambda x: np.maximum(x, 0)),
    "tfl.relu6": unary("tfl.relu6", lambda x: np.clip(x, 0, 6), -8, 8),
    "tfl.relu_n1_to_1": unary("tfl.relu_n1_to_1", lambda x: np.clip(x, -1, 1)),
    "tfl.elu": unary("tfl.elu", lambda x: np.where(x > 0, x, np.expm1(x)), scale=10),
    "tfl.leaky_relu": unary(
        "tfl.leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x), attrs={"alpha": 0.2}, scale=4
    ),
    "tfl.hard_swish": unary("tfl.hard_swish", lambda x: x * np.clip(x + 3, 0, 6) / 6, scale=10),
    "tfl.gelu": unary("tfl.gelu", lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), scale=100),
    "tfl.sum": _reduce("tfl.sum", np.sum),
    "tfl.mean": _reduce("tfl.mean", _mean),
    "tfl.reduce_max": _reduce("tfl.reduce_max", np.max),
    "tfl.reduce_min": _reduce("tfl.reduce_min", np.min),
    "tfl.reduce_prod": _reduce("tfl.reduce_prod", np.prod, -2, 2),
    "tfl.reduce_any": _reduce("tfl.reduce_any", np.any),
    "tfl.reduce_all": _reduce("tfl.reduce_all", np.all),
    "tfl.arg_max": _argminmax("tfl.arg_max"),
    "tfl.arg_min": _argminmax("tfl.arg_min"),
    "tfl.cumsum": _cumsum,
    "tfl.resize_bilinear": _resize("tfl.resize_bilinear", _bilinear),
    "tfl.resize_nearest_neighbor": _resize("tfl.resize_nearest_neighbor", _nearest),
    "tfl.gather": _gather(),
    "tfl.gather_nd": _gather_nd(),
    "tfl.concatenation": _concat,
    "tfl.pack": _pack,
    "tfl.unpack": _unpack,
    "tfl.select": _select("tfl.select"),
    "tfl.select_v2": _select("tfl.select_v2"),
    **TENSOR_BUILDERS,
}

# The operand whose element type a builder varies (the data operand; select: operand 1).
MAIN_OPERAND = {
    "tfl.select": 1,
    "tfl.select_v2": 1,
    "tfl.split": 1,
    "tfl.fill": 1,
    "tfl.scatter_nd": 1,
    "tfl.one_hot": 2,
}


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
    build = _gather(index) if op == "tfl.gather" else _gather_nd(index)
    check(build(np.random.default_rng(1), "f32"))


@pytest.mark.parametrize("op", ["tfl.arg_max", "tfl.arg_min"])
@pytest.mark.parametrize("dim", sorted(KERNELS["tfl.arg_max"].operand_types(1) or ()))
@pytest.mark.parametrize("out", sorted(KERNELS["tfl.arg_max"].result_types(0) or ()))
def test_accepted_arg_min_max_types(op: str, dim: str, out: str):
    assert kernel_accepts(op, dim, 1)
    check(_argminmax(op, dim=dim, out=out)(np.random.default_rng(2), "f32"))


# --- casts -----------------------------------------------------------------------------------------


def _bf16_round(x: np.ndarray) -> np.ndarray:
    """f32 -> bf16 -> f32 with round-to-nearest-even (what TF and LiteRT do)."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


def _cast_case(src: str, dst: str) -> Case:
    rng = np.random.default_rng(3)
    feed = "f32" if src == "bf16" else src
    x = data(rng, feed, (2, 3), 0, 100)
    wide = _bf16_round(x) if src == "bf16" else x
    if dst == "bf16":
        e = _bf16_round(wide.astype(np.float32) if wide.dtype.kind != "c" else wide.real)
        return Case(
            "tfl.cast", [(x, True)], [e], {}, 0.0, ["bf16"], {0: src} if src != feed else {}
        )
    if wide.dtype.kind == "c" and NP[dst].kind != "c":
        wide = wide.real
    e = wide.astype(NP[dst])
    return Case("tfl.cast", [(x, True)], [e], {}, 0.0, None, {0: src} if src != feed else {})


_CAST = sorted(KERNELS["tfl.cast"].operand_types(0) or ())


@pytest.mark.parametrize("src", _CAST)
@pytest.mark.parametrize("dst", _CAST)
def test_cast_pairs(src: str, dst: str):
    if src == dst or (src == "bf16" and dst == "bf16"):
        pytest.skip("not a cast")
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
    ("tfl.space_to_depth", "f16"),
    ("tfl.topk_v2", "f16"),
    ("tfl.one_hot", "f16"),
    ("tfl.scatter_nd", "i16"),
    ("tfl.segment_sum", "i64"),
    ("tfl.unsorted_segment_max", "i8"),
    ("tfl.concatenation", "complex64"),
    ("tfl.gather", "complex64"),
    ("tfl.select_v2", "string"),
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
            _compare(op, COMPARE[op], differ)(np.random.default_rng(5), dtype)
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
    from tflconv.converter import convert

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
    from tflconv.converter import ConverterError

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
    (tf.abs, "i64", "tf.Abs", "tfl.abs does not run on i64"),
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


def test_resize_bilinear_int32_fails_at_conversion_naming_the_kernel():
    """The legalization emits tfl.resize_bilinear on i32; the gate refuses it by the table."""
    err = _refusal(
        lambda v: tf.compat.v1.image.resize_bilinear(v, [4, 6]),
        [tf.TensorSpec([1, 2, 3, 1], tf.int32)],
    )
    (u,) = err.report.ops
    assert u.op == "tfl.resize_bilinear" and u.reason == "kernel_dtype"
    assert "operand 0 (input) is i32; LiteRT RESIZE_BILINEAR takes f32" in u.detail
    assert u.locations and u.locations[0].node and "ResizeBilinear" in u.locations[0].node
    assert u.error_code is None and "fail at invoke()" in u.fixes[0]


def test_analyze_reports_a_builtin_on_a_dtype_its_kernel_lacks():
    """`analyze` reads the same table: no target that legalizes converts the model, and the
    row names the kernel, the operand and the type; Flex alone (nothing legalized) still does."""
    from tflconv.analyze import analyze_model, format_analysis

    @tf.function(input_signature=[tf.TensorSpec([1, 2, 3, 1], tf.int32)], autograph=False)
    def fn(v):
        return tf.compat.v1.image.resize_bilinear(v, [4, 6])

    report = analyze_model(fn.get_concrete_function())
    row = next(r for r in report["op_types"] if r["op"] == "tfl.resize_bilinear")
    assert row["unsupported"] == 1 and row["reason_kind"] == "kernel_dtype"
    assert "operand 0 (input) is i32; LiteRT RESIZE_BILINEAR takes f32" in row["reason"]
    assert report["ops"] == sum(r["count"] for r in report["op_types"] if r["op"].startswith("tf."))
    for v in report["verdicts"]:
        legalizes = "TFLITE_BUILTINS" in v["target_ops"]
        assert v["converts"] is not legalizes, v
        assert ("tfl.resize_bilinear" in v["blocking"]) is legalizes
    assert "tfl.resize_bilinear: the LiteRT kernel does not take" in format_analysis(report)


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
    f = _bf16_round(np.array([[1.5, -2.0, 0.0, 3.0e38, -1.0e-30, 2.5]], np.float32))
    bits = (f.view(np.uint32) >> 16).astype(np.uint16)
    if to_bf16:
        x = bits.view(NP[other])
        case = Case("tfl.bitcast", [(x, True)], [f], result_types=["bf16"])
    else:
        case = Case("tfl.bitcast", [(f, True)], [bits.view(NP[other])], operand_types={0: "bf16"})
    check(case)
