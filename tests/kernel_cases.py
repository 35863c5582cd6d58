"""One-op tfl models for the kernel dtype table: build, run in LiteRT, compare with numpy.

`BUILDERS[op](rng, dtype)` makes a `Case` (operands, expected results) with the element type
`dtype` in the op's data operand (`MAIN_OPERAND`); `check(case)` writes the model with the
FlatBuffer writer, runs it in the LiteRT interpreter and compares. Used by test_kernel_dtypes.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.types import DTYPES, TensorType, dtype_from_numpy
from tflconv.tflite.writer import write_flatbuffer

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
    from ai_edge_litert.interpreter import Interpreter  # heavy: only when a case runs

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
    tols = {"f16": 5e-3, "f32": 2e-6, "f64": 1e-12, "complex64": 2e-6, "complex128": 1e-12}
    return tols.get(t, 0.0)


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


def argminmax_case(op: str, t: str = "f32", dim: str = "i32", out: str = "i32") -> Builder:
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


def gather_case(index: str = "i32") -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        if t == "string":  # the kernel gathers strings from 1-D params only
            params = np.array([b"a", b"bb", b"", b"dddd"], dtype=object)
        else:
            params = data(rng, t, (4, 3))
        idx = np.array([3, 0, 2], NP[index])
        return Case("tfl.gather", [(params, True), (idx, True)], [params[idx]], {"axis": 0})

    return build


def gather_nd_case(index: str = "i32") -> Builder:
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


def compare_case(op: str, ref: Callable, differ: bool | None = None) -> Builder:
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


def _split_v(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 6))
    operands = [(x, True), (_i32(2, 4), False), (np.array(1, np.int32), False)]
    return Case("tfl.split_v", operands, [x[:, :2], x[:, 2:]], {"num_splits": 2})


def _unique(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (8,), 0, 3)
    first = np.sort(np.unique(x, return_index=True)[1])
    values = x[first]
    idx = np.array([int(np.flatnonzero(values == v)[0]) for v in x], np.int32)
    return Case("tfl.unique", [(x, True)], [values, idx], {"idx_out_type": "INT32"})


def _softmax(log: bool) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (2, 5), -3, 3)
        w = x.astype(np.float64)
        e = np.exp(w - w.max(1, keepdims=True))
        e = e / e.sum(1, keepdims=True)
        op = "tfl.log_softmax" if log else "tfl.softmax"
        ref = np.log(e) if log else e
        return Case(
            op, [(x, True)], [ref.astype(x.dtype)], {} if log else {"beta": 1.0}, tol(t) * 10
        )

    return build


def _mirror_pad(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 3))
    pads = np.array([[1, 1], [2, 0]], np.int32)
    e = np.pad(x, pads, mode="reflect")
    return Case("tfl.mirror_pad", [(x, True), (pads, False)], [e], {"mode": "REFLECT"})


def _where(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 3), 0, 2)
    return Case("tfl.where", [(x, True)], [np.argwhere(x).astype(np.int64)])


def _range(rng: np.random.Generator, t: str) -> Case:
    start, limit, delta = (np.array(v, NP[t]) for v in (1, 9, 2))
    e = np.arange(1, 9, 2).astype(NP[t])
    return Case("tfl.range", [(start, False), (limit, False), (delta, False)], [e])


def _batch_matmul(rng: np.random.Generator, t: str) -> Case:
    a, b = data(rng, t, (2, 2, 3), -3, 3), data(rng, t, (2, 3, 4), -3, 3)
    e = np.matmul(a.astype(np.float64), b).astype(a.dtype)
    return Case("tfl.batch_matmul", [(a, True), (b, True)], [e], {}, 1e-5)


def _reverse_sequence(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (2, 4))
    lengths = np.array([3, 1], np.int32)
    e = x.copy()
    for i, n in enumerate(lengths):
        e[i, :n] = x[i, :n][::-1]
    attrs = {"seq_dim": 1, "batch_dim": 0}
    return Case("tfl.reverse_sequence", [(x, True), (lengths, False)], [e], attrs)


def _bucketize(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (6,), -5, 5)
    boundaries = [-2.0, 0.0, 3.0]
    e = np.searchsorted(boundaries, x.astype(np.float64), side="right").astype(np.int32)
    return Case("tfl.bucketize", [(x, True)], [e], {"boundaries": boundaries})


def _depth_to_space(rng: np.random.Generator, t: str) -> Case:
    x = data(rng, t, (1, 1, 2, 4))
    e = x.reshape(1, 1, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 2, 4, 1)
    return Case("tfl.depth_to_space", [(x, True)], [e], {"block_size": 2})


def _conv(op: str) -> Builder:
    """A 1x1 convolution (a matmul per pixel) with bias: exact references without TF."""

    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (1, 3, 3, 2), -2, 2)
        attrs = {"padding": "VALID", "stride_h": 1, "stride_w": 1, **NONE}
        attrs |= {"dilation_h_factor": 1, "dilation_w_factor": 1}
        if op == "tfl.conv_2d":
            w = data(rng, t, (4, 1, 1, 2), -2, 2)
            b = data(rng, t, (4,), -2, 2)
            e = np.einsum("nhwc,oc->nhwo", x.astype(np.float64), w[:, 0, 0]) + b
        else:
            w = data(rng, t, (1, 1, 1, 2), -2, 2)
            b = data(rng, t, (2,), -2, 2)
            e = x.astype(np.float64) * w[0, 0, 0] + b
            attrs["depth_multiplier"] = 1
        operands = [(x, True), (w, False), (b, False)]
        return Case(op, operands, [e.astype(x.dtype)], attrs, tol(t) * 10)

    return build


def _fully_connected(rng: np.random.Generator, t: str) -> Case:
    x, w, b = data(rng, t, (2, 3), -2, 2), data(rng, t, (4, 3), -2, 2), data(rng, t, (4,), -2, 2)
    e = (x.astype(np.float64) @ w.T + b).astype(x.dtype)
    attrs = {**NONE, "weights_format": "DEFAULT", "keep_num_dims": False}
    return Case("tfl.fully_connected", [(x, True), (w, False), (b, False)], [e], attrs, tol(t) * 10)


def _pool(op: str) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (1, 4, 4, 1), -5, 5)
        blocks = x.astype(np.float64).reshape(1, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5)
        blocks = blocks.reshape(1, 2, 2, 4, 1)
        e = blocks.max(3) if op == "tfl.max_pool_2d" else blocks.mean(3)
        attrs = {"padding": "VALID", "stride_h": 2, "stride_w": 2, **NONE}
        attrs |= {"filter_height": 2, "filter_width": 2}
        return Case(op, [(x, True)], [e.astype(x.dtype)], attrs, tol(t) * 10)

    return build


def _transpose_conv(rng: np.random.Generator, t: str) -> Case:
    """A 1x1 stride-1 transpose convolution (a matmul per pixel) with bias."""
    x, w = data(rng, t, (1, 3, 3, 2), -2, 2), data(rng, t, (4, 1, 1, 2), -2, 2)
    b = data(rng, t, (4,), -2, 2)
    e = np.einsum("nhwc,oc->nhwo", x.astype(np.float64), w[:, 0, 0]) + b
    operands = [(_i32(1, 3, 3, 4), False), (w, False), (x, True), (b, False)]
    attrs = {"padding": "VALID", "stride_h": 1, "stride_w": 1, **NONE}
    return Case("tfl.transpose_conv", operands, [e.astype(x.dtype)], attrs, tol(t) * 10)


def _conv_3d(transpose: bool) -> Builder:
    """A 1x1x1 3-D convolution (or its transpose) with bias: exact references without TF."""

    def build(rng: np.random.Generator, t: str) -> Case:
        x, b = data(rng, t, (1, 2, 2, 2, 3), -2, 2), data(rng, t, (4,), -2, 2)
        attrs = {"padding": "VALID", "stride_d": 1, "stride_h": 1, "stride_w": 1, **NONE}
        attrs |= {"dilation_d_factor": 1, "dilation_h_factor": 1, "dilation_w_factor": 1}
        if transpose:  # filter [d, h, w, out, in]
            w = data(rng, t, (1, 1, 1, 4, 3), -2, 2)
            e = np.einsum("ndhwi,oi->ndhwo", x.astype(np.float64), w[0, 0, 0]) + b
            operands = [(_i32(1, 2, 2, 2, 4), False), (w, False), (x, True), (b, False)]
            op = "tfl.conv_3d_transpose"
        else:  # filter [d, h, w, in, out]
            w = data(rng, t, (1, 1, 1, 3, 4), -2, 2)
            e = np.einsum("ndhwi,io->ndhwo", x.astype(np.float64), w[0, 0, 0]) + b
            operands = [(x, True), (w, False), (b, False)]
            op = "tfl.conv_3d"
        return Case(op, operands, [e.astype(x.dtype)], attrs, tol(t) * 10)

    return build


def _sparse_to_dense(rng: np.random.Generator, t: str) -> Case:
    idx = np.array([[3], [0]], np.int32)
    values, default = data(rng, t, (2,)), data(rng, t, ())
    e = np.full((5,), default, values.dtype)
    e[idx[:, 0]] = values
    operands = [(idx, False), (_i32(5), False), (values, True), (default, False)]
    return Case("tfl.sparse_to_dense", operands, [e])


def _complex_part(op: str, ref: Callable) -> Builder:
    def build(rng: np.random.Generator, t: str) -> Case:
        x = data(rng, t, (2, 3))
        part = np.float32 if t == "complex64" else np.float64
        return Case(op, [(x, True)], [np.asarray(ref(x)).astype(part)], {}, tol(t) * 4)

    return build


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
    "tfl.split_v": _split_v,
    "tfl.unique": _unique,
    "tfl.topk_v2": _topk,
    "tfl.one_hot": _one_hot,
    "tfl.scatter_nd": _scatter_nd,
    "tfl.segment_sum": _segment("tfl.segment_sum", np.sum, sorted_ids=True),
    "tfl.unsorted_segment_sum": _segment("tfl.unsorted_segment_sum", np.sum),
    "tfl.unsorted_segment_prod": _segment("tfl.unsorted_segment_prod", np.prod),
    "tfl.unsorted_segment_max": _segment("tfl.unsorted_segment_max", np.max),
    "tfl.unsorted_segment_min": _segment("tfl.unsorted_segment_min", np.min),
    "tfl.softmax": _softmax(False),
    "tfl.log_softmax": _softmax(True),
    "tfl.mirror_pad": _mirror_pad,
    "tfl.where": _where,
    "tfl.range": _range,
    "tfl.batch_matmul": _batch_matmul,
    "tfl.reverse_sequence": _reverse_sequence,
    "tfl.bucketize": _bucketize,
    "tfl.depth_to_space": _depth_to_space,
    "tfl.conv_2d": _conv("tfl.conv_2d"),
    "tfl.depthwise_conv_2d": _conv("tfl.depthwise_conv_2d"),
    "tfl.fully_connected": _fully_connected,
    "tfl.transpose_conv": _transpose_conv,
    "tfl.conv_3d": _conv_3d(False),
    "tfl.conv_3d_transpose": _conv_3d(True),
    "tfl.sparse_to_dense": _sparse_to_dense,
    "tfl.real": _complex_part("tfl.real", np.real),
    "tfl.imag": _complex_part("tfl.imag", np.imag),
    "tfl.complex_abs": _complex_part("tfl.complex_abs", np.abs),
    "tfl.max_pool_2d": _pool("tfl.max_pool_2d"),
    "tfl.average_pool_2d": _pool("tfl.average_pool_2d"),
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
    **{k: compare_case(k, f) for k, f in COMPARE.items()},
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
    "tfl.arg_max": argminmax_case("tfl.arg_max"),
    "tfl.arg_min": argminmax_case("tfl.arg_min"),
    "tfl.cumsum": _cumsum,
    "tfl.resize_bilinear": _resize("tfl.resize_bilinear", _bilinear),
    "tfl.resize_nearest_neighbor": _resize("tfl.resize_nearest_neighbor", _nearest),
    "tfl.gather": gather_case(),
    "tfl.gather_nd": gather_nd_case(),
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
    "tfl.sparse_to_dense": 2,
    "tfl.transpose_conv": 2,
    "tfl.conv_3d_transpose": 2,
}


def bf16_round(x: np.ndarray) -> np.ndarray:
    """f32 -> bf16 -> f32 with round-to-nearest-even (what TF and LiteRT do)."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)
