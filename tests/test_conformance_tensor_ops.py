"""Conformance: MatrixBandPart, Roll, IsFinite, Expm1, Softsign, the gradient ops the official
converter lowers, SparseToDense, TensorScatterAdd and TensorScatterUpdate.

Each case traces a small tf.function, converts it with tflconv, runs it in LiteRT on one or more
input sets (dynamic shapes are resized between sets) and compares every output with TensorFlow:
floats within 1e-5 absolute / 1e-4 relative (NaNs where TF has NaNs), integers and booleans
exactly. Parameterised over shapes, dtypes and constant vs. runtime operands like TensorFlow's
own per-op tests. Unsupported element types must be refused at conversion with the kernel's
reason, never turned into a model LiteRT rejects at invoke().
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from e2e_util import op_histogram, run_litert  # noqa: E402

from tflconv.api.converter import ConverterError, convert  # noqa: E402
from tflconv.frontends.tensorflow.frontend import load_model  # noqa: E402

RNG = np.random.default_rng(7)
S = tf.TensorSpec


def rand(shape: Sequence[int], dtype: Any = np.float32, low: float = -3, high: float = 3):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return RNG.random(shape) < 0.5
    if dt.kind == "c":
        return (RNG.uniform(low, high, shape) + 1j * RNG.uniform(low, high, shape)).astype(dt)
    if dt.kind in "iu":
        return RNG.integers(max(low, np.iinfo(dt).min), high + 1, size=shape).astype(dt)
    return RNG.uniform(low, high, size=shape).astype(dt)


def check(
    fn: Callable,
    specs: list,
    input_sets: list[list[np.ndarray]],
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> dict[str, int]:
    """Convert `fn`, compare LiteRT with TF on every input set, return the op histogram."""
    concrete = tf.function(fn, input_signature=specs).get_concrete_function()
    tflite = convert(concrete)
    hist = op_histogram(tflite)
    model = load_model(concrete)
    for inputs in input_sets:
        expected = model.run_tf(None, inputs)
        got = run_litert(tflite, inputs)
        assert len(got) == len(expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            e = np.asarray(e)
            assert g.shape == e.shape, f"output {i}: shape {g.shape} vs TF {e.shape}"
            if e.dtype.kind == "f":
                np.testing.assert_allclose(g, e, atol=atol, rtol=rtol, err_msg=f"output {i}")
            else:
                np.testing.assert_array_equal(g, e, err_msg=f"output {i}")
    return hist


def refused(fn: Callable, specs: list, reason: str) -> None:
    """Conversion fails naming the op and `reason` (no model that LiteRT would reject)."""
    concrete = tf.function(fn, input_signature=specs).get_concrete_function()
    with pytest.raises(ConverterError) as info:
        convert(concrete)
    text = info.value.report.render()
    assert reason in text, text


# --- MatrixBandPart -------------------------------------------------------------------------------

# TF rejects bounds past the matrix dims (num_lower <= rows, num_upper <= cols).
BOUNDS = [(-1, 0), (0, -1), (0, 0), (2, 1), (1, 3), (-1, -1), (4, 0)]


@pytest.mark.parametrize("lo,up", BOUNDS)
@pytest.mark.parametrize("shape", [[4, 5], [2, 3, 6, 6], [1, 7, 3]])
def test_band_part_constant_bounds(shape, lo, up):
    hist = check(lambda x: tf.linalg.band_part(x, lo, up), [S(shape, tf.float32)], [[rand(shape)]])
    # a NumPy mask: one SELECT_V2 (none when the band keeps everything)
    assert sum(hist.values()) <= 1, hist


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float16, np.int32, np.int64, np.int16, np.int8, np.bool_, np.complex64]
)
def test_band_part_dtypes(dtype):
    shape = [3, 4, 4]
    check(
        lambda x: tf.linalg.band_part(x, 1, 0),
        [S(shape, tf.as_dtype(dtype))],
        [[rand(shape, dtype)]],
    )


@pytest.mark.parametrize("lo,up", [(-1, 0), (2, 0), (1, 2), (0, -1)])
def test_band_part_dynamic_dims(lo, up):
    hist = check(
        lambda x: tf.linalg.band_part(x, lo, up),
        [S([None, None, None], tf.float32)],
        [[rand([2, 5, 5])], [rand([1, 3, 7])], [rand([3, 6, 2])]],
    )
    assert "tfl.range" in hist and hist["tfl.select_v2"] == 1


@pytest.mark.parametrize("index_dtype", [tf.int32, tf.int64])
def test_band_part_runtime_bounds(index_dtype):
    np_index = index_dtype.as_numpy_dtype
    x = rand([2, 5, 6])
    sets = [[x, np.asarray(lo, np_index), np.asarray(up, np_index)] for lo, up in BOUNDS]
    check(
        lambda x, lo, up: tf.linalg.band_part(x, lo, up),
        [S([2, 5, 6], tf.float32), S([], index_dtype), S([], index_dtype)],
        sets,
    )


def test_band_part_one_runtime_bound_dynamic_dims():
    check(
        lambda x, w: tf.linalg.band_part(x, w, 0),
        [S([None, None], tf.float32), S([], tf.int32)],
        [[rand([5, 5]), np.int32(2)], [rand([6, 4]), np.int32(-1)], [rand([3, 3]), np.int32(0)]],
    )


@pytest.mark.parametrize("boolean", [False, True])
@pytest.mark.parametrize("window", [-1, 2])
def test_attention_mask_dynamic_sequence(window, boolean):
    """Causal (window -1) and sliding-window attention: the mask is band_part(ones(T, T), w, 0)
    over the runtime sequence length T, added as (1 - mask) * -1e9 or used by a where()."""

    def attend(q, k, v):
        t = tf.shape(q)[1]
        scores = tf.matmul(q, k, transpose_b=True) / 4.0
        if boolean:
            mask = tf.linalg.band_part(tf.ones(tf.stack([t, t]), tf.bool), window, 0)
            scores = tf.where(mask, scores, -1e9)
        else:
            mask = tf.linalg.band_part(tf.ones(tf.stack([t, t])), window, 0)
            scores = scores + (1.0 - mask) * -1e9
        return tf.matmul(tf.nn.softmax(scores, axis=-1), v)

    spec = S([None, None, 16], tf.float32)
    sets = [[rand([2, t, 16]) for _ in range(3)] for t in (3, 4, 9)]
    hist = check(attend, [spec, spec, spec], sets, atol=1e-5)
    assert hist["tfl.select_v2"] == 1 + boolean and "tfl.range" in hist  # + the where()


@pytest.mark.parametrize("spec", [[2, 1, 2, 1, 3, 3], [None, 1, 2, 1, None, None]])
def test_band_part_rank6(spec):
    """Past SELECT_V2's 5-D broadcasting the mask and the zero are broadcast explicitly."""
    check(
        lambda x: tf.linalg.band_part(x, 1, 0),
        [S(spec, tf.float32)],
        [[rand([2, 1, 2, 1, 3, 3])], [rand([1, 1, 2, 1, 4, 2])]][: 2 if None in spec else 1],
    )


# --- Roll ---------------------------------------------------------------------------------------

ROLLS = [
    ([5], 2, 0),
    ([4, 5], [1, -2], [0, 1]),
    ([2, 3, 4], [-1, 5, 2], [2, 0, 2]),  # axis 2 twice: shifts add up
    ([3, 4], 7, -1),
    ([3, 4], 4, 1),  # a whole turn: nothing to do
    ([2, 2, 3, 2], [1, 1], [1, 3]),
    ([2, 1, 2, 1, 3, 3], [1, 2], [0, 5]),  # 6-D
]


@pytest.mark.parametrize("shape,shift,axis", ROLLS)
def test_roll_constant(shape, shift, axis):
    hist = check(lambda x: tf.roll(x, shift, axis), [S(shape, tf.float32)], [[rand(shape)]])
    assert set(hist) <= {"tfl.slice", "tfl.concatenation"}, hist


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float16, np.int32, np.int64, np.int16, np.uint8, np.bool_]
)
def test_roll_dtypes(dtype):
    shape = [3, 5]
    check(
        lambda x: tf.roll(x, [2, -1], [1, 0]),
        [S(shape, tf.as_dtype(dtype))],
        [[rand(shape, dtype)]],
    )


def test_roll_dynamic_dim():
    """The official converter refuses a roll along an unknown dim; this is one GATHER."""
    hist = check(
        lambda x: tf.roll(x, [-3, 1], [0, 1]),
        [S([None, 5], tf.float32)],
        [[rand([4, 5])], [rand([7, 5])], [rand([1, 5])]],
    )
    assert hist["tfl.gather"] >= 1 and "tfl.floor_mod" in hist


@pytest.mark.parametrize("shift_dtype", [tf.int32, tf.int64])
def test_roll_runtime_shift(shift_dtype):
    np_shift = shift_dtype.as_numpy_dtype
    x = rand([3, 6])
    sets = [[x, np.asarray([s0, s1], np_shift)] for s0, s1 in [(0, 0), (1, -2), (-7, 13)]]
    check(lambda x, s: tf.roll(x, s, [0, 1]), [S([3, 6], tf.float32), S([2], shift_dtype)], sets)


def test_roll_runtime_shift_and_axis():
    x = rand([2, 3, 4])
    sets = [
        [x, np.asarray(s, np.int32), np.asarray(a, np.int32)]
        for s, a in [([1, 2], [0, 2]), ([-1, 5], [-1, 1]), ([2, 2], [2, 2]), ([0, 3], [1, 0])]
    ]
    check(
        lambda x, s, a: tf.roll(x, s, a),
        [S([2, 3, 4], tf.float32), S([2], tf.int32), S([2], tf.int32)],
        sets,
    )


# --- elementwise ops lowered to arithmetic ------------------------------------------------------

SHAPES = [[7], [2, 3], [2, 3, 4, 5]]


@pytest.mark.parametrize("shape", SHAPES)
def test_is_finite(shape):
    x = rand(shape, low=-1e30, high=1e30)
    flat = x.reshape(-1)
    flat[: min(3, flat.size)] = [np.inf, -np.inf, np.nan][: min(3, flat.size)]
    hist = check(lambda x: tf.math.is_finite(x), [S(shape, tf.float32)], [[x]])
    assert hist == {"tfl.sub": 1, "tfl.equal": 1}


@pytest.mark.parametrize("shape", SHAPES)
def test_expm1(shape):
    # exp(x) - 1, as the official converter: within a float32 ulp of 1 near 0, relative elsewhere
    x = rand(shape, low=-4, high=4)
    check(lambda x: tf.math.expm1(x), [S(shape, tf.float32)], [[x], [x * 1e-4]], atol=2e-7)


@pytest.mark.parametrize("shape", SHAPES)
def test_softsign(shape):
    hist = check(
        lambda x: tf.nn.softsign(x), [S(shape, tf.float32)], [[rand(shape, low=-50, high=50)]]
    )
    assert hist == {"tfl.abs": 1, "tfl.add": 1, "tfl.div": 1}


GRADS = {
    "SigmoidGrad": (lambda y, dy: tf.raw_ops.SigmoidGrad(y=y, dy=dy), (0.05, 0.95)),
    "TanhGrad": (lambda y, dy: tf.raw_ops.TanhGrad(y=y, dy=dy), (-0.95, 0.95)),
    "RsqrtGrad": (lambda y, dy: tf.raw_ops.RsqrtGrad(y=y, dy=dy), (0.1, 3.0)),
    "SqrtGrad": (lambda y, dy: tf.raw_ops.SqrtGrad(y=y, dy=dy), (0.1, 3.0)),
    "SeluGrad": (lambda y, dy: tf.raw_ops.SeluGrad(gradients=dy, outputs=y), (-1.7, 3.0)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradient_ops(name, shape):
    fn, (low, high) = GRADS[name]
    y = rand(shape, low=low, high=high)
    if name == "SeluGrad":
        y.reshape(-1)[0] = 0.0  # TF's kernel takes the `scale` branch at exactly 0
    check(fn, [S(shape, tf.float32)] * 2, [[y, rand(shape)]])


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
@pytest.mark.parametrize("shape", [[3, 4], [2, 3, 4], [2, 3, 4, 5]])
def test_bias_add_grad(shape, data_format):
    if data_format == "NCHW" and len(shape) < 3:
        pytest.skip("TF's NCHW BiasAddGrad needs rank >= 3")
    hist = check(
        lambda dy: tf.raw_ops.BiasAddGrad(out_backprop=dy, data_format=data_format),
        [S(shape, tf.float32)],
        [[rand(shape)]],
    )
    assert hist == {"tfl.sum": 1}


F16_CASES = {
    "IsFinite": (lambda x: tf.math.is_finite(x), 1),
    "Expm1": (lambda x: tf.math.expm1(x), 1),
    "Softsign": (lambda x: tf.nn.softsign(x), 1),
    **{name: (fn, 2) for name, (fn, _) in GRADS.items()},
    "BiasAddGrad": (lambda dy: tf.raw_ops.BiasAddGrad(out_backprop=dy), 1),
}


@pytest.mark.parametrize("name", sorted(F16_CASES))
def test_elementwise_float16(name):
    """float16 (which the official converter refuses here) runs in float32 between CASTs."""
    fn, arity = F16_CASES[name]
    inputs = [rand([2, 3], np.float16, low=0.1, high=0.9) for _ in range(arity)]
    if name == "IsFinite":
        inputs[0].reshape(-1)[:3] = [np.inf, -np.inf, np.nan]
    hist = check(fn, [S([2, 3], tf.float16)] * arity, [inputs], atol=2e-3, rtol=2e-3)
    assert hist["tfl.cast"] >= 1


def test_elementwise_refuse_other_float_types():
    refused(lambda x: tf.math.is_finite(x), [S([3], tf.float64)], "float32 only")
    refused(lambda x: tf.nn.softsign(x), [S([3], tf.float64)], "float32 only")


# --- SparseToDense --------------------------------------------------------------------------------


@pytest.mark.parametrize("index_dtype", [tf.int32, tf.int64])
@pytest.mark.parametrize(
    "dtype", [np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16, np.float16, np.bool_]
)
def test_sparse_to_dense(dtype, index_dtype):
    """i16, f16 and bool have no SPARSE_TO_DENSE kernel: they run in i32/f32 between CASTs."""
    np_index = index_dtype.as_numpy_dtype
    idx = np.asarray([[0, 1], [1, 3], [3, 0]], np_index)
    vals = rand([3], dtype, low=0, high=100)
    tdt = tf.as_dtype(dtype)

    def f(i, v):
        shape = tf.constant([4, 5], index_dtype)
        return tf.raw_ops.SparseToDense(
            sparse_indices=i, output_shape=shape, sparse_values=v, default_value=tf.cast(7, tdt)
        )

    hist = check(f, [S([3, 2], index_dtype), S([3], tdt)], [[idx, vals]])
    assert hist.pop("tfl.sparse_to_dense") == 1
    assert hist == (
        {} if dtype in (np.float32, np.int32, np.int64, np.int8, np.uint8) else {"tfl.cast": 2}
    )


@pytest.mark.parametrize("out_shape", [[6], [3, 4, 2]])
def test_sparse_to_dense_scalar_value_and_ranks(out_shape):
    rank = len(out_shape)
    idx = np.asarray([[1, 1, 1], [2, 3, 0]] if rank > 1 else [1, 4], np.int32)

    def f(i, v):
        return tf.sparse.to_dense(
            tf.sparse.SparseTensor(
                tf.cast(tf.reshape(i, [2, rank]), tf.int64), tf.fill([2], v), out_shape
            )
        )

    check(f, [S(list(idx.shape), tf.int32), S([], tf.float32)], [[idx, np.float32(2.5)]])


def test_sparse_to_dense_refuses_float64():
    def f(i):
        return tf.raw_ops.SparseToDense(
            sparse_indices=i,
            output_shape=[4],
            sparse_values=tf.constant([1, 2], tf.float64),
            default_value=tf.constant(0, tf.float64),
        )

    refused(f, [S([2], tf.int32)], "sparse_to_dense does not produce f64")


# --- TensorScatterAdd / TensorScatterUpdate -------------------------------------------------------

SCATTERS = [
    # input shape, indices (repeats included), updates shape
    ([5, 3], [[1], [3], [1]], [3, 3]),
    ([4, 4, 2], [[0, 1], [3, 3], [0, 1], [2, 0]], [4, 2]),
    ([6], [[5], [0], [2]], [3]),
    ([2, 3, 4], [[[1, 2, 3], [0, 0, 0]], [[1, 2, 3], [1, 0, 1]]], [2, 2]),
    ([2, 3, 4], [[[1, 2], [0, 0]], [[1, 1], [0, 2]]], [2, 2, 4]),  # batched indices, no repeats
]


def tolerance(dtype) -> dict[str, float]:
    # f16 sums: TF rounds after every add, the f32 carrier once at the end
    return {"atol": 1e-2, "rtol": 2e-3} if dtype == np.float16 else {}


@pytest.mark.parametrize(
    "dtype", [np.float32, np.int32, np.int64, np.int8, np.uint8, np.int16, np.float16]
)
@pytest.mark.parametrize("shape,indices,u_shape", SCATTERS)
def test_tensor_scatter_add(shape, indices, u_shape, dtype):
    """Repeated indices add up (the official lowering keeps only one of them); types without an
    ADD kernel run in i32/f32 between CASTs (integers wrap as in TF)."""
    idx = np.asarray(indices, np.int32)
    tdt = tf.as_dtype(dtype)
    hist = check(
        lambda x, i, u: tf.tensor_scatter_nd_add(x, i, u),
        [S(shape, tdt), S(list(idx.shape), tf.int32), S(u_shape, tdt)],
        [[rand(shape, dtype, low=-100, high=100), idx, rand(u_shape, dtype, low=-100, high=100)]],
        **tolerance(dtype),
    )
    assert hist.pop("tfl.scatter_nd") == 1 and hist.pop("tfl.add") == 1
    assert hist == ({} if dtype in (np.float32, np.int32, np.int64) else {"tfl.cast": 3})


@pytest.mark.parametrize(
    "dtype", [np.float32, np.int32, np.int64, np.int8, np.bool_, np.int16, np.float16]
)
@pytest.mark.parametrize("shape,indices,u_shape", SCATTERS)
def test_tensor_scatter_update_constant_indices(shape, indices, u_shape, dtype):
    """Constant indices: a NumPy mask; repeated indices keep the last update, as TF's CPU kernel."""
    tdt = tf.as_dtype(dtype)
    hist = check(
        lambda x, u: tf.tensor_scatter_nd_update(x, indices, u),
        [S(shape, tdt), S(u_shape, tdt)],
        [[rand(shape, dtype), rand(u_shape, dtype)]],
    )
    assert hist.get("tfl.scatter_nd") == 1


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_, np.float16])
def test_tensor_scatter_update_runtime_indices(dtype):
    tdt = tf.as_dtype(dtype)
    sets = [
        [rand([6, 2], dtype), np.asarray(i, np.int64), rand([3, 2], dtype)]
        for i in ([[0], [5], [2]], [[4], [1], [3]])
    ]
    hist = check(
        lambda x, i, u: tf.tensor_scatter_nd_update(x, i, u),
        [S([6, 2], tdt), S([3, 1], tf.int64), S([3, 2], tdt)],
        sets,
    )
    assert hist.get("tfl.scatter_nd") == 2 and hist.get("tfl.select_v2") == 1


def test_tensor_scatter_update_dynamic_shapes_keeps_inf():
    """A KV-cache style update with dynamic batch; inf/NaN in the input survive (the official
    `x * (1 - mask)` turns them into NaN)."""
    x = rand([2, 5, 3])
    x[0, 1, 0], x[1, 4, 2] = np.inf, np.nan
    sets = [[x, np.asarray([[0, 1], [1, 4]], np.int32), rand([2, 3])]]
    check(
        lambda x, i, u: tf.tensor_scatter_nd_update(x, i, u),
        [S([None, 5, 3], tf.float32), S([None, 2], tf.int32), S([None, 3], tf.float32)],
        sets,
    )


def test_tensor_scatter_refuses_kernel_types():
    refused(
        lambda x, u: tf.tensor_scatter_nd_update(x, [[1]], u),
        [S([3, 2], tf.complex64), S([1, 2], tf.complex64)],
        "scatter_nd does not run on complex64",
    )
    refused(
        lambda x, u: tf.tensor_scatter_nd_add(x, [[1]], u),
        [S([3, 2], tf.float64), S([1, 2], tf.float64)],
        "do not run on f64",
    )


def test_tensor_scatter_update_runtime_repeats_bool():
    """Repeated runtime indices with equal boolean updates: SCATTER_ND ORs booleans, so the
    written mask and the values both come out exact."""
    x = np.zeros([5, 2], bool)
    sets = [[x, np.asarray([[1], [3], [1]], np.int32), np.asarray([[1, 0], [1, 1], [1, 0]], bool)]]
    check(
        lambda x, i, u: tf.tensor_scatter_nd_update(x, i, u),
        [S([5, 2], tf.bool), S([3, 1], tf.int32), S([3, 2], tf.bool)],
        sets,
    )


def test_tensor_scatter_update_constant_indices_dynamic_batch():
    """Constant indices into a dim that is unknown at conversion: the written mask comes from a
    SCATTER_ND of trues at runtime."""
    sets = [[rand([n, 4]), rand([2, 4])] for n in (4, 6)]
    hist = check(
        lambda x, u: tf.tensor_scatter_nd_update(x, [[3], [0]], u),
        [S([None, 4], tf.float32), S([2, 4], tf.float32)],
        sets,
    )
    assert hist.get("tfl.scatter_nd") == 2


# --- op counts against the official converter ----------------------------------------------------

OFFICIAL_CASES = {
    "band_constant": (lambda x: tf.linalg.band_part(x, -1, 0), [S([2, 6, 6], tf.float32)]),
    "band_dynamic": (lambda x: tf.linalg.band_part(x, 3, 1), [S([None, None], tf.float32)]),
    "band_runtime": (
        lambda x, lo: tf.linalg.band_part(x, lo, 0),
        [S([4, 4], tf.float32), S([], tf.int32)],
    ),
    "roll": (lambda x: tf.roll(x, [1, -2], [0, 1]), [S([4, 5], tf.float32)]),
    "is_finite": (lambda x: tf.math.is_finite(x), [S([4], tf.float32)]),
    "selu_grad": (
        lambda y, dy: tf.raw_ops.SeluGrad(gradients=dy, outputs=y),
        [S([4], tf.float32)] * 2,
    ),
    "scatter_add": (
        lambda x, i, u: tf.tensor_scatter_nd_add(x, i, u),
        [S([5, 3], tf.float32), S([2, 1], tf.int32), S([2, 3], tf.float32)],
    ),
    "scatter_update": (
        lambda x, i, u: tf.tensor_scatter_nd_update(x, i, u),
        [S([5, 3], tf.float32), S([2, 1], tf.int32), S([2, 3], tf.float32)],
    ),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_CASES))
def test_op_count_not_above_official(name):
    fn, specs = OFFICIAL_CASES[name]
    concrete = tf.function(fn, input_signature=specs).get_concrete_function()
    ours = op_histogram(convert(concrete))
    official_model = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn).convert()
    official = op_histogram(official_model)
    assert sum(ours.values()) <= sum(official.values()), (ours, official)
