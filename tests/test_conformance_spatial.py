"""Spatial conformance: convolutions, transpose convolutions and pooling with every spatial
parameter varied per axis (strides 1x2 / 2x1 / 2x3, dilations 1x2 / 2x1, kernels 1x3 / 3x1 /
2x5, SAME / VALID / explicit asymmetric pads, 7x12 and 12x7 inputs, batch 1 and 2), NHWC and
NCHW, converted with tflconv, run in LiteRT and compared with TensorFlow.

Square strides and kernels cannot tell stride_h from stride_w: a legalization that swapped them
would pass every square case. Each case here has H != W and a non-square parameter, so a swap
changes the output shape or values. One tf.function tracing per case; tensors are tiny.

The bias-correction part checks `PatchMean` (the mean input patch per conv) against a brute-force
patch extraction with non-square kernels, strides and dilations.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402

KERNELS = [(1, 3), (3, 1), (2, 5)]
STRIDES = [(1, 2), (2, 1), (2, 3)]
DILATIONS = [(1, 2), (2, 1)]
SHAPES = [(7, 12), (12, 7)]
EXPLICIT = ((1, 2), (0, 1))  # (top, bottom), (left, right)


def _spatial_cases() -> list[tuple]:
    """(kernel, strides, dilations, input HxW, batch): strides and dilations are not combined
    (TF's CPU kernels refuse strides > 1 with dilations > 1)."""
    combos = [(k, s, (1, 1)) for k, s in itertools.product(KERNELS, STRIDES)]
    combos += [(k, (1, 1), d) for k, d in itertools.product(KERNELS, DILATIONS)]
    cases = []
    for i, (k, s, d) in enumerate(combos):
        hw = SHAPES[i % 2]
        if any((kk - 1) * dd + 1 > n for kk, dd, n in zip(k, d, hw)):
            hw = SHAPES[(i + 1) % 2]  # VALID needs the dilated kernel to fit
        cases.append((k, s, d, hw, 1 + (i // 2) % 2))
    return cases


def _ids(cases: list[tuple]) -> list[str]:
    out = []
    for case in cases:
        parts = []
        for v in case:
            if isinstance(v, tuple) and all(isinstance(e, int) for e in v):
                parts.append("x".join(map(str, v)))
            else:
                parts.append(str(v))
        out.append("-".join(parts))
    return out


SPATIAL = _spatial_cases()


def _compare(fn, input_shapes, seed, *, ops=(), atol=1e-4, rtol=1e-4) -> bytes:
    """Trace `fn` once, convert it, run it in LiteRT and in TF on seeded inputs, compare."""
    signature = [tf.TensorSpec(s, tf.float32) for s in input_shapes]
    cf = tf.function(fn, input_signature=signature, autograph=False).get_concrete_function()
    tflite = convert([cf])
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s).astype(np.float32) for s in input_shapes]
    want = cf(*[tf.constant(x) for x in xs])
    want = [np.asarray(w) for w in (want if isinstance(want, list | tuple) else [want])]
    got = run_litert(tflite, xs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, f"LiteRT shape {g.shape}, TF {w.shape}"
        np.testing.assert_allclose(g, w, atol=atol, rtol=rtol)
    hist = op_histogram(tflite)
    for op in ops:
        assert op in hist, f"{op} not in {hist}"
    return tflite


def _weights(shape, seed) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _padding(kind: str, nchw: bool = False):
    if kind != "EXPLICIT":
        return kind
    rows, cols = (list(p) for p in EXPLICIT)
    return [[0, 0], [0, 0], rows, cols] if nchw else [[0, 0], rows, cols, [0, 0]]


# --- Conv2D ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["SAME", "VALID", "EXPLICIT"])
@pytest.mark.parametrize("kernel,strides,dilations,hw,batch", SPATIAL, ids=_ids(SPATIAL))
def test_conv2d(kernel, strides, dilations, hw, batch, padding):
    w = _weights((*kernel, 3, 4), seed=sum(kernel) + 10 * strides[1])

    def fn(x):
        return tf.nn.conv2d(
            x, w, strides=[1, *strides, 1], padding=_padding(padding), dilations=[1, *dilations, 1]
        )

    _compare(fn, [(batch, *hw, 3)], seed=kernel[1] * 100 + strides[1] * 10 + dilations[1],
             ops=["tfl.conv_2d"])  # fmt: skip


NCHW_CASES = SPATIAL[::2]


@pytest.mark.parametrize("padding", ["SAME", "VALID", "EXPLICIT"])
@pytest.mark.parametrize("kernel,strides,dilations,hw,batch", NCHW_CASES, ids=_ids(NCHW_CASES))
def test_conv2d_nchw(kernel, strides, dilations, hw, batch, padding):
    """NCHW: lowered as the official converter does, transposes around an NHWC conv."""
    w = _weights((*kernel, 3, 4), seed=7 + sum(kernel))

    def fn(x):
        return tf.nn.conv2d(
            x,
            w,
            strides=[1, 1, *strides],
            padding=_padding(padding, nchw=True),
            dilations=[1, 1, *dilations],
            data_format="NCHW",
        )

    tflite = _compare(fn, [(batch, 3, *hw)], seed=3, ops=["tfl.conv_2d", "tfl.transpose"])
    assert op_histogram(tflite)["tfl.transpose"] == 2  # in and out; the filter is folded


# --- DepthwiseConv2D -------------------------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kernel,strides,dilations,hw,batch", SPATIAL, ids=_ids(SPATIAL))
def test_depthwise_conv2d(kernel, strides, dilations, hw, batch, padding, multiplier):
    w = _weights((*kernel, 3, multiplier), seed=sum(kernel) + multiplier)

    def fn(x):
        return tf.nn.depthwise_conv2d(
            x, w, strides=[1, *strides, 1], padding=padding, dilations=dilations
        )

    _compare(fn, [(batch, *hw, 3)], seed=5, ops=["tfl.depthwise_conv_2d"])


DEPTHWISE_NCHW = [c for c in SPATIAL if c[2] != (1, 1)] + NCHW_CASES[:4]


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(
    "kernel,strides,dilations,hw,batch", DEPTHWISE_NCHW, ids=_ids(DEPTHWISE_NCHW)
)
def test_depthwise_conv2d_nchw(kernel, strides, dilations, hw, batch, padding):
    """TF writes a dilated NCHW depthwise conv as space_to_batch(block [1, bh, bw]) -> conv
    -> batch_to_space, which tfl.space_to_batch_nd cannot run: it must become one conv."""
    w = _weights((*kernel, 3, 2), seed=sum(kernel))

    def fn(x):
        return tf.nn.depthwise_conv2d(
            x, w, strides=[1, 1, *strides], padding=padding, dilations=dilations,
            data_format="NCHW",
        )  # fmt: skip

    _compare(fn, [(batch, 3, *hw)], seed=4, ops=["tfl.depthwise_conv_2d"])


@pytest.mark.parametrize("strides", [(1, 2), (2, 1)])
def test_depthwise_conv2d_explicit_padding(strides):
    w = _weights((2, 5, 3, 2), seed=1)

    def fn(x):
        return tf.raw_ops.DepthwiseConv2dNative(
            input=x,
            filter=w,
            strides=[1, *strides, 1],
            padding="EXPLICIT",
            explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0],
        )

    _compare(fn, [(2, 7, 12, 3)], seed=6, ops=["tfl.depthwise_conv_2d"])


# --- transpose convolutions ------------------------------------------------------------------------


def _transpose_out(size: int, k: int, s: int, padding: str, slack: int) -> int:
    """An output size TF accepts for conv2d_transpose; `slack` picks one below the largest."""
    largest = size * s if padding == "SAME" else (size - 1) * s + k + s - 1
    smallest = size * s - s + 1 if padding == "SAME" else (size - 1) * s + k
    return max(largest - slack, smallest)


TRANSPOSE_CASES = [
    (k, s, (4, 5) if i % 2 else (5, 3), 1 + i % 2)
    for i, (k, s) in enumerate(itertools.product(KERNELS, STRIDES))
]


@pytest.mark.parametrize("slack", [0, 1])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kernel,strides,hw,batch", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
def test_conv2d_transpose(kernel, strides, hw, batch, padding, slack):
    """tf.nn.conv2d_transpose with explicit output shapes (the largest and one less: TF allows
    a range when stride > 1)."""
    w = _weights((*kernel, 4, 3), seed=sum(kernel) + strides[0])
    out_hw = [_transpose_out(n, k, s, padding, slack) for n, k, s in zip(hw, kernel, strides)]

    def fn(x):
        return tf.nn.conv2d_transpose(
            x, w, output_shape=[batch, *out_hw, 4], strides=[1, *strides, 1], padding=padding
        )

    _compare(fn, [(batch, *hw, 3)], seed=9, ops=["tfl.transpose_conv"])


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(
    "kernel,strides,hw,batch", TRANSPOSE_CASES[::2], ids=_ids(TRANSPOSE_CASES[::2])
)
def test_conv2d_transpose_nchw(kernel, strides, hw, batch, padding):
    """NCHW transpose conv: transposes around an NHWC tfl.transpose_conv."""
    w = _weights((*kernel, 4, 3), seed=sum(kernel))
    out_hw = [_transpose_out(n, k, s, padding, 0) for n, k, s in zip(hw, kernel, strides)]

    def fn(x):
        return tf.nn.conv2d_transpose(
            x,
            w,
            output_shape=[batch, 4, *out_hw],
            strides=[1, 1, *strides],
            padding=padding,
            data_format="NCHW",
        )

    tflite = _compare(fn, [(batch, 3, *hw)], seed=10, ops=["tfl.transpose_conv"])
    assert op_histogram(tflite)["tfl.transpose"] == 2


KERAS_TRANSPOSE = [
    ((2, 5), (2, 3), "same", None),
    ((3, 1), (1, 2), "valid", None),
    ((1, 3), (2, 1), "same", None),
    ((3, 2), (2, 3), "valid", (1, 2)),
]


@pytest.mark.parametrize("kernel,strides,padding,output_padding", KERAS_TRANSPOSE)
def test_keras_conv2d_transpose(kernel, strides, padding, output_padding):
    import keras

    keras.utils.set_random_seed(sum(kernel))
    layer = keras.layers.Conv2DTranspose(
        4, kernel, strides=strides, padding=padding, output_padding=output_padding
    )
    layer.build((None, 5, 4, 3))
    layer.bias.assign(np.linspace(-1, 1, 4).astype(np.float32))
    _compare(lambda x: layer(x), [(2, 5, 4, 3)], seed=11, ops=["tfl.transpose_conv"])


# --- pooling ---------------------------------------------------------------------------------------

POOL_CASES = [
    (k, s, SHAPES[i % 2], 1 + (i // 2) % 2)
    for i, (k, s) in enumerate(itertools.product([*KERNELS, (2, 3)], STRIDES))
]


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,strides,hw,batch", POOL_CASES, ids=_ids(POOL_CASES))
def test_pool2d(kernel, strides, hw, batch, kind, padding):
    pool = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d

    def fn(x):
        return pool(x, ksize=kernel, strides=strides, padding=padding)

    name = "tfl.max_pool_2d" if kind == "max" else "tfl.average_pool_2d"
    _compare(fn, [(batch, *hw, 3)], seed=13, ops=[name])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_nchw(kind):
    pool = tf.nn.max_pool2d if kind == "max" else tf.nn.avg_pool2d

    def fn(x):
        return pool(x, ksize=(2, 3), strides=(2, 1), padding="SAME", data_format="NCHW")

    _compare(fn, [(2, 3, 7, 12)], seed=14)


# --- Conv1D / Conv3D -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel,stride,dilation,padding",
    [(3, 2, 1, "SAME"), (5, 3, 1, "VALID"), (3, 1, 2, "SAME"), (2, 1, 3, "VALID")],
)
def test_conv1d(kernel, stride, dilation, padding):
    w = _weights((kernel, 3, 4), seed=kernel)

    def fn(x):
        return tf.nn.conv1d(x, w, stride=stride, padding=padding, dilations=dilation)

    _compare(fn, [(2, 13, 3)], seed=15, ops=["tfl.conv_2d"])


@pytest.mark.parametrize(
    "kernel,strides,padding",
    [
        ((1, 2, 3), (1, 2, 3), "SAME"),
        ((3, 1, 2), (2, 1, 1), "VALID"),
        ((2, 3, 1), (1, 3, 2), "VALID"),
        ((1, 3, 2), (3, 1, 2), "SAME"),
    ],
)
def test_conv3d(kernel, strides, padding):
    w = _weights((*kernel, 2, 3), seed=sum(kernel))

    def fn(x):
        return tf.nn.conv3d(x, w, strides=[1, *strides, 1], padding=padding)

    _compare(fn, [(2, 5, 6, 7, 2)], seed=16, ops=["tfl.conv_3d"])


@pytest.mark.parametrize(
    "kernel,strides,padding",
    [((1, 2, 3), (1, 2, 3), "SAME"), ((3, 1, 2), (2, 1, 3), "VALID")],
)
def test_conv3d_transpose(kernel, strides, padding):
    w = _weights((*kernel, 3, 2), seed=sum(kernel))
    hw = (3, 4, 2)
    out = [_transpose_out(n, k, s, padding, 0) for n, k, s in zip(hw, kernel, strides)]

    def fn(x):
        return tf.nn.conv3d_transpose(
            x, w, output_shape=[1, *out, 3], strides=[1, *strides, 1], padding=padding
        )

    _compare(fn, [(1, *hw, 2)], seed=17, ops=["tfl.conv_3d_transpose"])


# --- bias correction: the mean input patch with non-square parameters -----------------------------


def _patches(x, kernel, strides, dilations, same):
    """Every input patch (N*OH*OW, kh, kw, C), zero padding included, per axis."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if same:
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + eh - h, 0), max((ow - 1) * sw + ew - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - eh) // sh + 1, (w - ew) // sw + 1
    out = [
        x[b, i * sh : i * sh + eh : dh, j * sw : j * sw + ew : dw]
        for b in range(n)
        for i in range(oh)
        for j in range(ow)
    ]
    return np.stack(out).astype(np.float64)


PATCH_CASES = [
    ((1, 3), (1, 2), (1, 1)),
    ((3, 1), (2, 1), (1, 1)),
    ((2, 5), (2, 3), (1, 1)),
    ((3, 3), (1, 2), (1, 1)),
    ((3, 2), (1, 1), (1, 2)),
    ((1, 3), (1, 1), (2, 1)),
    ((2, 2), (2, 1), (1, 2)),
]


@pytest.mark.parametrize("op_name", ["tfl.conv_2d", "tfl.depthwise_conv_2d"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kernel,strides,dilations", PATCH_CASES, ids=_ids(PATCH_CASES))
def test_bias_correction_patch_mean_per_axis(kernel, strides, dilations, padding, op_name):
    from tflconv.core.ir import Operation
    from tflconv.passes.quantize.bias_correction import PatchMean

    op = Operation(
        op_name,
        [],
        [],
        attributes={
            "stride_h": strides[0],
            "stride_w": strides[1],
            "dilation_h_factor": dilations[0],
            "dilation_w_factor": dilations[1],
            "padding": padding,
        },
    )
    rng = np.random.default_rng(sum(kernel) * 10 + strides[1])
    weight_shape = (4, *kernel, 3) if op_name == "tfl.conv_2d" else (1, *kernel, 3)
    mean = PatchMean(op, weight_shape)
    # A ramp along H plus noise: the mean patch differs per kernel row and column, so an
    # axis mix-up cannot average out.
    samples = [
        (rng.normal(0.0, 1.0, (2, 9, 13, 3)) + np.arange(9)[None, :, None, None] * 0.5).astype(
            np.float32
        )
        for _ in range(2)
    ]
    for x in samples:
        mean.update(x)
    want = np.concatenate(
        [_patches(x, kernel, strides, dilations, padding == "SAME") for x in samples]
    ).mean(axis=0)
    np.testing.assert_allclose(mean.result(), want, rtol=1e-5, atol=1e-6)


# --- fusions with non-square parameters (fuse/structure.py) ----------------------------------


@pytest.mark.parametrize(
    "kernel,strides",
    [((3, 5), (1, 1)), ((2, 5), (2, 3)), ((5, 2), (3, 2)), ((1, 4), (1, 2))],
)
def test_same_padding_written_as_pad_folds_into_the_conv(kernel, strides):
    """pad(SAME's per-axis amounts) -> conv{VALID} becomes conv{SAME}; any other padding
    stays a pad."""
    from tflconv.passes.legalize_tf.nn_util import same_pads

    hw = (7, 12)
    pads = [same_pads(n, k, s) for n, k, s in zip(hw, kernel, strides)]
    w = _weights((*kernel, 3, 2), seed=kernel[0])

    def fn(x):
        y = tf.pad(x, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
        return tf.nn.conv2d(y, w, strides=[1, *strides, 1], padding="VALID")

    tflite = _compare(fn, [(2, *hw, 3)], seed=20, ops=["tfl.conv_2d"])
    assert "tfl.pad" not in op_histogram(tflite)

    def swapped(x):  # the same amounts on the other axes are not SAME's: the pad must stay
        y = tf.pad(x, [[0, 0], list(pads[1]), list(pads[0]), [0, 0]])
        return tf.nn.conv2d(y, w, strides=[1, *strides, 1], padding="VALID")

    if pads[0] != pads[1]:
        hw2 = (hw[0], hw[1])
        _compare(swapped, [(2, *hw2, 3)], seed=21, ops=["tfl.conv_2d"])


@pytest.mark.parametrize("kernel,strides", [((2, 5), (2, 3)), ((3, 1), (1, 2))])
def test_minus_inf_padding_folds_into_max_pool(kernel, strides):
    from tflconv.passes.legalize_tf.nn_util import same_pads

    hw = (7, 12)
    pads = [same_pads(n, k, s) for n, k, s in zip(hw, kernel, strides)]

    def fn(x):
        y = tf.pad(x, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]], constant_values=-np.inf)
        return tf.nn.max_pool2d(y, ksize=kernel, strides=strides, padding="VALID")

    tflite = _compare(fn, [(2, *hw, 3)], seed=22, ops=["tfl.max_pool_2d"])
    assert "tfl.padv2" not in op_histogram(tflite) and "tfl.pad" not in op_histogram(tflite)


@pytest.mark.parametrize("rate", [(1, 2), (2, 1), (2, 3)])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("depthwise", [False, True])
def test_space_to_batch_conv_becomes_a_dilated_conv(rate, padding, depthwise):
    """space_to_batch_nd -> conv -> batch_to_space_nd (how TF 1 / Keras 2 wrote dilated
    convolutions) becomes one conv with per-axis dilation factors."""
    kernel = (3, 2)
    shape = (*kernel, 3, 1 if depthwise else 4)
    w = _weights(shape, seed=sum(rate))

    def inner(x, _spatial_dims, pad):
        if depthwise:
            return tf.nn.depthwise_conv2d(x, w, strides=[1, 1, 1, 1], padding=pad)
        return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding=pad)

    def fn(x):
        return tf.nn.with_space_to_batch(x, dilation_rate=list(rate), padding=padding, op=inner,
                                         filter_shape=list(kernel))  # fmt: skip

    name = "tfl.depthwise_conv_2d" if depthwise else "tfl.conv_2d"
    tflite = _compare(fn, [(2, 9, 13, 3)], seed=23, ops=[name])
    hist = op_histogram(tflite)
    assert "tfl.space_to_batch_nd" not in hist and "tfl.batch_to_space_nd" not in hist, hist
