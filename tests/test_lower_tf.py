"""The official converter's TF->TF lowerings (passes/legalize_tf/lower_tf.py), converted with
tflconv, run in LiteRT and compared with TensorFlow on the values where the ops differ from
their naive forms: zeros, infinities, NaNs, ties, negative quotients, broadcasting, duplicate
indices, unpadded NMS results."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


def _compare(fn, inputs: list[np.ndarray], exact: bool = False) -> bytes:
    signature = [tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)) for x in inputs]
    cf = tf.function(fn, input_signature=signature, autograph=False).get_concrete_function()
    tflite = convert([cf])
    want = cf(*[tf.constant(x) for x in inputs])
    want = [np.asarray(w) for w in (want if isinstance(want, list | tuple) else [want])]
    got = run_litert(tflite, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True)
    assert not [k for k in op_histogram(tflite) if k.startswith("tfl.custom")]
    return tflite


SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 3.0], np.float32)


@pytest.mark.parametrize("shapes", [((2, 8), (2, 8)), ((2, 8), (8,)), ((3, 1, 8), (1, 4, 1))])
@pytest.mark.parametrize("op", ["DivNoNan", "MulNoNan", "Xdivy", "Xlogy", "Xlog1py"])
def test_no_nan_and_xop(op, shapes):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, shapes[0]).astype(np.float32)
    y = rng.uniform(0.1, 3, shapes[1]).astype(np.float32)
    x.reshape(-1)[::3] = 0.0  # x == 0 selects x (Xop)
    y.reshape(-1)[::2] = 0.0  # y == 0 selects 0 (NoNan), -inf/inf otherwise for Xop
    raw = getattr(tf.raw_ops, op)
    _compare(lambda a, b: raw(x=a, y=b), [x, y])


@pytest.mark.parametrize("op", ["IsInf", "IsNan"])
@pytest.mark.parametrize("shape", [(8,), (2, 4), (2, 2, 2)])
def test_isinf_isnan(op, shape):
    raw = getattr(tf.raw_ops, op)
    _compare(lambda a: raw(x=a), [SPECIAL.reshape(shape)], exact=True)


def test_rint_rounds_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.49, -3.51, 7.0], np.float32)
    _compare(lambda a: tf.raw_ops.Rint(x=a), [x], exact=True)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4)])
def test_l2_loss(shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _compare(lambda a: tf.raw_ops.L2Loss(t=a), [x])


def test_float_truncate_div_rounds_toward_zero():
    x = np.array([[7.0, -7.0, 7.0, -7.0, 0.5, -0.5, 6.0]], np.float32)
    y = np.array([[2.0, 2.0, -2.0, -2.0, 3.0, 3.0, 3.0]], np.float32)
    _compare(lambda a, b: tf.raw_ops.TruncateDiv(x=a, y=b), [x, y], exact=True)


def test_empty_is_zeros_of_the_dynamic_shape():
    x = np.ones((3, 2), np.float32)

    def fn(a):
        return tf.raw_ops.Empty(shape=tf.shape(a), dtype=tf.float32, init=True) + a

    _compare(fn, [x])


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_sparse_matmul(ta, tb):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4) if ta else (4, 3)).astype(np.float32)
    b = rng.standard_normal((5, 3) if tb else (3, 5)).astype(np.float32)
    tflite = _compare(
        lambda p, q: tf.raw_ops.SparseMatMul(a=p, b=q, transpose_a=ta, transpose_b=tb), [a, b]
    )
    assert "tfl.fully_connected" in op_histogram(tflite) or "tfl.batch_matmul" in op_histogram(
        tflite
    )


@pytest.mark.parametrize("n", [1, 4, 7])
def test_invert_permutation_of_an_input(n):
    p = np.random.default_rng(n).permutation(n).astype(np.int32)
    _compare(lambda a: tf.raw_ops.InvertPermutation(x=a), [p], exact=True)


@pytest.mark.parametrize("parallel", [False, True])
def test_dynamic_stitch_with_constant_indices(parallel):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((1, 2, 3)).astype(np.float32)
    op = tf.raw_ops.ParallelDynamicStitch if parallel else tf.raw_ops.DynamicStitch

    def fn(x, y):
        return op(indices=[tf.constant([3, 0]), tf.constant([[1, 2]])], data=[x, y])

    _compare(fn, [a, b])


def test_dynamic_stitch_duplicate_indices_take_the_last():
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = -np.arange(4, dtype=np.float32).reshape(2, 2)

    def fn(x, y):
        return tf.raw_ops.DynamicStitch(
            indices=[tf.constant([0, 1, 2]), tf.constant([1, 0])], data=[x, y]
        )

    _compare(fn, [a, b], exact=True)


BOXES = np.array(
    [[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1],
     [0, 100, 1, 101]],
    np.float32,
)  # fmt: skip


@pytest.mark.parametrize("pad", [True, False])
@pytest.mark.parametrize("v5", [False, True])
@pytest.mark.parametrize("max_out", [2, 4, 8])
def test_non_max_suppression(v5, pad, max_out):
    scores = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)

    def fn(boxes, s):
        if v5:
            return tf.raw_ops.NonMaxSuppressionV5(
                boxes=boxes, scores=s, max_output_size=max_out, iou_threshold=0.5,
                score_threshold=0.4, soft_nms_sigma=0.0, pad_to_max_output_size=pad,
            )  # fmt: skip
        return tf.raw_ops.NonMaxSuppressionV4(
            boxes=boxes, scores=s, max_output_size=max_out, iou_threshold=0.5,
            score_threshold=0.4, pad_to_max_output_size=pad,
        )  # fmt: skip

    name = "tfl.non_max_suppression_v5" if v5 else "tfl.non_max_suppression_v4"
    assert name in op_histogram(_compare(fn, [BOXES, scores], exact=True))


@pytest.mark.parametrize("shape,k", [((2, 7), 3), ((3, 2, 5), 5)])
def test_approx_top_k(shape, k):
    x = np.random.default_rng(4).permutation(np.prod(shape)).reshape(shape).astype(np.float32)
    _compare(lambda a: tf.raw_ops.ApproxTopK(input=a, k=k), [x], exact=True)


@pytest.mark.parametrize("starts", [[0, 0], [2, 1], [3, 1], [4, 3]])  # [4, 3] clamps
def test_xla_dynamic_update_slice(starts):
    from tensorflow.compiler.tf2xla.python import xla

    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    u = -np.ones((2, 3), np.float32)
    s = np.array(starts, np.int32)
    _compare(lambda a, b, c: xla.dynamic_update_slice(a, b, c), [x, u, s], exact=True)


@pytest.mark.parametrize("batch,classes", [(1, 3), (4, 5)])
def test_softmax_cross_entropy_with_logits(batch, classes):
    rng = np.random.default_rng(batch)
    logits = rng.standard_normal((batch, classes)).astype(np.float32) * 3
    labels = rng.dirichlet(np.ones(classes), batch).astype(np.float32)
    labels[0, 0] = 0.0  # MulNoNan: a zero label weight ignores its log-probability

    def fn(f, y):
        return tf.raw_ops.SoftmaxCrossEntropyWithLogits(features=f, labels=y)

    _compare(fn, [logits, labels])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_sparse_softmax_cross_entropy_with_logits(dtype):
    logits = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 2], dtype)

    def fn(f, y):
        return tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=f, labels=y)

    _compare(fn, [logits, labels])


def test_xla_sharding_is_removed():
    from tensorflow.compiler.tf2xla.python import xla

    x = np.random.default_rng(6).standard_normal((2, 3)).astype(np.float32)
    tflite = _compare(lambda a: xla.sharding(a) * 2.0, [x])
    assert op_histogram(tflite) == {"tfl.mul": 1}


def _xla_conv_fn(layout, strides, dilation, padding, groups, w):
    from tensorflow.compiler.tf2xla.python import xla
    from tensorflow.compiler.xla import xla_data_pb2

    if layout == "NHWC":  # TF layout: HWIO kernel
        dims = dict(input_batch_dimension=0, input_feature_dimension=3,
                    input_spatial_dimensions=[1, 2], kernel_input_feature_dimension=2,
                    kernel_output_feature_dimension=3, kernel_spatial_dimensions=[0, 1],
                    output_batch_dimension=0, output_feature_dimension=3,
                    output_spatial_dimensions=[1, 2])  # fmt: skip
    else:  # PyTorch / JAX layout: NCHW input, OIHW kernel
        dims = dict(input_batch_dimension=0, input_feature_dimension=1,
                    input_spatial_dimensions=[2, 3], kernel_input_feature_dimension=1,
                    kernel_output_feature_dimension=0, kernel_spatial_dimensions=[2, 3],
                    output_batch_dimension=0, output_feature_dimension=1,
                    output_spatial_dimensions=[2, 3])  # fmt: skip
    dn = xla_data_pb2.ConvolutionDimensionNumbers(**dims)

    def fn(x):
        return xla.conv(
            x, tf.constant(w), window_strides=list(strides), padding=padding,
            lhs_dilation=[1, 1], rhs_dilation=list(dilation), dimension_numbers=dn,
            feature_group_count=groups, preferred_element_type=tf.float32,
        )  # fmt: skip

    return fn


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize(
    "strides,dilation,padding,groups",
    [
        ((1, 1), (1, 1), [[0, 0], [0, 0]], 1),
        ((2, 3), (1, 1), [[1, 0], [2, 1]], 1),
        ((1, 2), (2, 1), [[1, 1], [0, 2]], 1),
        ((1, 1), (1, 1), [[1, 1], [1, 1]], 2),
        ((2, 1), (1, 2), [[0, 1], [1, 1]], 4),
    ],
)
def test_xla_conv(layout, strides, dilation, padding, groups):
    """XlaConvV2 (what jax2tf and tf2xla emit) with per-axis strides, dilations and padding,
    grouped and depthwise (4 groups over 4 channels), in NHWC/HWIO and NCHW/OIHW layouts."""
    rng = np.random.default_rng(groups)
    cin, cout, kh, kw = 4, 8, 2, 3
    hwio = rng.standard_normal((kh, kw, cin // groups, cout)).astype(np.float32)
    w = hwio if layout == "NHWC" else np.ascontiguousarray(hwio.transpose(3, 2, 0, 1))
    shape = (2, 7, 9, cin) if layout == "NHWC" else (2, cin, 7, 9)
    x = rng.standard_normal(shape).astype(np.float32)
    tflite = _compare(_xla_conv_fn(layout, strides, dilation, padding, groups, w), [x])
    assert "tfl.conv_2d" in op_histogram(tflite)


@pytest.mark.parametrize(
    "operand,indices,index_vector_dim",
    [((5, 3), (2, 1), 1), ((5, 3), (4,), 1), ((4, 3, 2), (2, 3, 2), 2), ((6, 4), (3, 2, 1), 2)],
)
def test_xla_gather_in_gather_nd_form(operand, indices, index_vector_dim):
    from tensorflow.compiler.tf2xla.python import xla
    from tensorflow.compiler.xla import xla_data_pb2

    rng = np.random.default_rng(len(indices))
    x = rng.standard_normal(operand).astype(np.float32)
    k = 1 if index_vector_dim == len(indices) else indices[-1]
    batch = len(indices) - (0 if index_vector_dim == len(indices) else 1)
    idx = np.stack(
        [rng.integers(0, operand[i], indices[:batch]) for i in range(k)], axis=-1
    ).astype(np.int32)
    if index_vector_dim == len(indices):
        idx = idx[..., 0]
    dn = xla_data_pb2.GatherDimensionNumbers(
        offset_dims=list(range(batch, batch + len(operand) - k)),
        collapsed_slice_dims=list(range(k)),
        start_index_map=list(range(k)),
        index_vector_dim=index_vector_dim,
    )
    sizes = [1] * k + list(operand[k:])

    def fn(a, i):
        return xla.gather(a, i, dimension_numbers=dn, slice_sizes=sizes, indices_are_sorted=False)

    assert "tfl.gather_nd" in op_histogram(_compare(fn, [x, idx], exact=True))


_LGAMMA_CASES = {
    # zeros of lgamma at 1 and 2 bound the absolute error; elsewhere the relative error rules
    "positive": np.array([1e-30, 1e-3, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 10.0, 30.0, 77.7]),
    "negative": np.array([-1e-3, -0.5, -1.5, -2.5, -3.3, -7.75, -10.5, -33.1, -100.25]),
    "near_poles": np.array([-1.0001, -0.9999, -2.001, -1.999, -4.9999, -5.0001, 1e-6, -1e-6]),
    "large": np.array([1e3, 1e4, 1e10, 1e30, 1e38, -1e6 - 0.5, -1e7]),
    # +inf at the poles (0, negative integers) and at +/-inf, NaN stays NaN
    "special": np.array([0.0, -0.0, -1.0, -2.0, -10.0, np.inf, -np.inf, np.nan]),
}


@pytest.mark.parametrize("case", list(_LGAMMA_CASES))
def test_lgamma_lanczos(case):
    x = _LGAMMA_CASES[case].astype(np.float32)
    cf = tf.function(tf.math.lgamma, input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    tflite = convert([cf.get_concrete_function()])
    (got,) = run_litert(tflite, [x])
    want = tf.math.lgamma(x).numpy()
    # float32 Lanczos (g = 7) against TF's own kernel: a few ulp of the result, absolutely
    # ~1e-6 around the zeros at 1 and 2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    hist = op_histogram(tflite)
    assert {"tfl.sin", "tfl.floor", "tfl.log"} <= set(hist) and "tfl.custom" not in hist


def test_lgamma_half_computes_in_f32():
    x = np.array([0.3, 1.5, 4.0, 9.5, -0.5, -2.5, -3.0, 0.0, 60000.0], np.float16)
    cf = tf.function(tf.math.lgamma, input_signature=[tf.TensorSpec(x.shape, tf.float16)])
    (got,) = run_litert(convert([cf.get_concrete_function()]), [x])
    want = tf.math.lgamma(x).numpy()
    assert got.dtype == np.float16
    # both round an f32 result to half once: at most one half ulp apart
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


_QUANTIZED = {"quint8": (tf.quint8, np.uint8), "qint8": (tf.qint8, np.int8)}


@pytest.mark.parametrize("lo,hi", [(-1.5, 6.0), (0.0, 1.0), (-100.0, -3.0)])
@pytest.mark.parametrize("qtype", list(_QUANTIZED))
def test_dequantize_min_combined(qtype, lo, hi):
    """Every storage value of qint8 / quint8 (fed as the same-size integer, cast by TF)."""
    tf_type, storage = _QUANTIZED[qtype]
    info = np.iinfo(storage)
    x = np.arange(info.min, info.max + 1).astype(storage).reshape(16, 16)

    def fn(a):
        return tf.raw_ops.Dequantize(
            input=tf.cast(a, tf_type), min_range=lo, max_range=hi, mode="MIN_COMBINED"
        )

    tflite = _compare(fn, [x])
    assert "tfl.cast" in op_histogram(tflite)


@pytest.mark.parametrize("qtype", list(_QUANTIZED))
def test_dequantize_of_a_quantized_constant(qtype):
    """A qint8 / quint8 constant (as a quantized weight is stored) with a run-time range."""
    tf_type, storage = _QUANTIZED[qtype]
    weights = np.array([[3, 100, 17], [0, 127, 64]], storage)
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)

    def fn(a, lo, hi):
        w = tf.raw_ops.Dequantize(
            input=tf.constant(weights, dtype=tf_type), min_range=lo, max_range=hi,
            mode="MIN_COMBINED",
        )  # fmt: skip
        return a * w

    _compare(fn, [x, np.float32(-2.0), np.float32(3.0)])


SEGMENT_CASES = [("SegmentMean", np.float32)] + [
    (op, dtype)
    for op in ("SegmentMax", "SegmentMin", "SegmentProd")
    for dtype in (np.float32, np.int32)
]


@pytest.mark.parametrize(("op", "dtype"), SEGMENT_CASES)
@pytest.mark.parametrize("ids", [[0, 0, 1, 3, 3, 3], [0, 1, 2, 3, 4, 5], [2, 2, 2, 2, 2, 2]])
def test_sorted_segment_ops(op, dtype, ids):
    """The sorted segment ops the official converter refuses: a gap in the ids (segment 2 of
    the first case, 0 and 1 of the last) is an empty segment, 0 for Mean / Max / Min, 1 for
    Prod; the segment count is the last id + 1 (a dynamic output shape)."""
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((6, 3)) * 4).astype(dtype)
    raw = getattr(tf.raw_ops, op)
    inputs = [data, np.array(ids, np.int32)]
    _compare(lambda x, i: raw(data=x, segment_ids=i), inputs, exact=dtype != np.float32)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop", [(5, 4), (1, 3), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_crop_and_resize(method, crop, dtype):
    """tf.image.crop_and_resize (the official converter refuses it): boxes inside, partly
    outside (extrapolation value), flipped (y2 < y1) and over a second image of the batch."""
    rng = np.random.default_rng(0)
    image = (rng.standard_normal((2, 9, 7, 3)) * 10).astype(dtype)
    boxes = np.array(
        [
            [0.1, 0.2, 0.7, 0.9],
            [-0.2, 0.3, 0.5, 1.3],
            [0.8, 0.6, 0.2, 0.1],
            [0.0, 0.0, 1.0, 1.0],
            [0.0625, 0.0, 0.0625, 0.25],  # y = 0.5 and x = 0.5, 1.5 pixels: nearest's ties
        ],
        np.float32,
    )
    box_index = np.array([0, 1, 1, 0, 1], np.int32)

    def crops(x, b, i):
        return tf.image.crop_and_resize(x, b, i, crop, method=method, extrapolation_value=-3.5)

    _compare(crops, [image, boxes, box_index])


BCAST_CASES = [
    ([2, 3, 4], [2, 3, 4]),  # the same vector: nothing to reduce
    ([1, 1], [1, 1]),
    ([1], [1, 1, 1]),  # all ones but not the same vector: every dim, both sides
    ([1, 3, 1], [2, 3, 4]),
    ([3, 1], [2, 1, 4]),
    ([], [2, 3]),
    ([5, 1], [1]),
    ([2, 4, 1, 3], [2, 1, 1, 3]),
]


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_broadcast_gradient_args(dtype):
    """The gradient reduction dims of a broadcast (refused by the official converter): one
    model with vectors of any length, checked against TF on every case."""
    from ai_edge_litert.interpreter import Interpreter

    spec = tf.TensorSpec([None], dtype)
    cf = tf.function(
        lambda a, b: tf.raw_ops.BroadcastGradientArgs(s0=a, s1=b), input_signature=[spec, spec]
    ).get_concrete_function()
    tflite = convert([cf])
    assert not [k for k in op_histogram(tflite) if k.startswith("tfl.custom")]
    runner = Interpreter(model_content=tflite).get_signature_runner()
    for a, b in BCAST_CASES:
        a, b = np.array(a, dtype.as_numpy_dtype), np.array(b, dtype.as_numpy_dtype)
        want = [np.asarray(w) for w in cf(tf.constant(a), tf.constant(b))]
        got = runner(a=a, b=b)
        got = [got[k] for k in sorted(got)]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and np.array_equal(g, w), (a, b, got, want)


@pytest.mark.parametrize("merge_repeated", [True, False])
@pytest.mark.parametrize("blank_index", [-1, 0])
@pytest.mark.parametrize("dynamic", [False, True])
def test_ctc_greedy_decoder(merge_repeated, blank_index, dynamic):
    """CTCGreedyDecoder (refused by the official converter) as builtins: the decoded sparse
    tensor (densified as users do), its dense shape and the log probabilities match TF, with
    repeats, blanks and sequence lengths shorter than the time axis."""
    from ai_edge_litert.interpreter import Interpreter

    steps, batch, classes = 10, 3, 4

    def f(logits, seq):
        decoded, neg = tf.nn.ctc_greedy_decoder(
            logits, seq, merge_repeated=merge_repeated, blank_index=blank_index
        )
        return {
            "dense": tf.sparse.to_dense(decoded[0]),
            "shape": decoded[0].dense_shape,
            "neg": neg,
        }

    specs = [
        tf.TensorSpec([None, None, classes] if dynamic else [steps, batch, classes]),
        tf.TensorSpec([None] if dynamic else [batch], tf.int32),
    ]
    cf = tf.function(f).get_concrete_function(*specs)
    tflite = convert([cf])
    assert not [k for k in op_histogram(tflite) if k.startswith("tfl.custom")]
    runner = Interpreter(model_content=tflite).get_signature_runner()
    rng = np.random.default_rng(5)
    for seq in ([10, 7, 3], [1, 10, 10]):
        # few distinct logit levels: repeated classes and blanks are frequent
        x = rng.integers(0, 3, (steps, batch, classes)) + 0.5 * rng.random((steps, batch, classes))
        x = x.astype(np.float32)
        seq = np.array(seq, np.int32)
        want = {k: v.numpy() for k, v in cf(tf.constant(x), tf.constant(seq)).items()}
        got = runner(logits=x, seq=seq)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)
