"""legalize-stablehlo end to end: JAX function -> tflconv (StableHLO importer + legalization)
-> LiteRT, compared numerically with JAX; per op family over shapes and dtypes, then whole
Flax models (MLP, CNN, transformer block, embedding classifier) with their op histograms.
IR-level cases (rewrites and refusals) are in tests/fixtures/legalize-stablehlo/."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
lax = pytest.importorskip("jax.lax")

from e2e_util import op_histogram, run_litert  # noqa: E402

import tflconv  # noqa: E402
from tflconv.api.converter import ConverterError  # noqa: E402

RNG = np.random.RandomState(0)


def _rand(shape, dtype=np.float32, low=-2.0, high=2.0):
    if np.dtype(dtype).kind == "f":
        return RNG.uniform(low, high, shape).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return RNG.rand(*shape) > 0.5
    return RNG.randint(int(low) - 3, int(high) + 4, shape).astype(dtype)


def convert(fn, *args, **kwargs) -> bytes:
    return tflconv.TFLiteConverter.from_jax(fn, *args, **kwargs).convert()


def check(fn, *args, atol=1e-5, rtol=1e-4, inputs=None, **kwargs) -> bytes:
    """Convert `fn`, run it in LiteRT on `args` (or `inputs`) and compare with JAX."""
    tflite = convert(fn, *args, **kwargs)
    feed = list(inputs if inputs is not None else args)
    got = run_litert(tflite, feed)
    want = jax.jit(fn)(*feed)  # one compile (op-by-op dispatch compiles every op)
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, atol=atol, rtol=rtol)
    return tflite


def ops(tflite: bytes) -> dict[str, int]:
    return {k: v for k, v in op_histogram(tflite).items() if k != "tfl.no_value"}


# --- elementwise --------------------------------------------------------------------------------

UNARY = {
    "exp": (jnp.exp, "exp"),
    "log": (lambda x: jnp.log(jnp.abs(x) + 0.5), "log"),
    "tanh": (jnp.tanh, "tanh"),
    "sigmoid": (jax.nn.sigmoid, "logistic"),
    "rsqrt": (lambda x: lax.rsqrt(jnp.abs(x) + 0.5), "rsqrt"),
    "sqrt": (lambda x: jnp.sqrt(jnp.abs(x)), "sqrt"),
    "floor": (jnp.floor, "floor"),
    "ceil": (jnp.ceil, "ceil"),
    "round": (jnp.round, "round"),
    "sign": (jnp.sign, "sign"),
    "abs": (jnp.abs, "abs"),
    "neg": (jnp.negative, "neg"),
    "cos": (jnp.cos, "cos"),
    "sin": (jnp.sin, "sin"),
    "log1p": (lambda x: jnp.log1p(jnp.abs(x)), "log"),
}


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape):
    fn, tfl_op = UNARY[name]
    x = _rand(shape)
    if name == "round":
        x = np.concatenate([x.reshape(-1), [0.5, 1.5, -2.5]]).astype(np.float32)
    tflite = check(fn, x)
    assert "tfl." + tfl_op in ops(tflite)


BINARY = {
    "add": (jnp.add, "add"),
    "sub": (jnp.subtract, "sub"),
    "mul": (jnp.multiply, "mul"),
    "div": (jnp.divide, "div"),
    "max": (jnp.maximum, "maximum"),
    "min": (jnp.minimum, "minimum"),
}
SHAPE_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1, 4), (3, 1)), ((4,), ())]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, shapes):
    """StableHLO spells each broadcast out; TFL's kernels broadcast themselves, so no
    BROADCAST_TO is left."""
    fn, tfl_op = BINARY[name]
    x, y = _rand(shapes[0]), _rand(shapes[1], low=0.5, high=2.0)
    tflite = check(fn, x, y)
    hist = ops(tflite)
    assert "tfl." + tfl_op in hist and "tfl.broadcast_to" not in hist


@pytest.mark.parametrize("name", ["add", "sub", "mul", "max", "min"])
def test_binary_int32(name):
    fn, tfl_op = BINARY[name]
    check(fn, _rand((2, 3), np.int32), _rand((3,), np.int32))


def test_int_remainder_and_power():
    x = _rand((6,), np.int32)
    y = np.array([3, -3, 2, 5, -2, 7], np.int32)
    check(lambda a, b: lax.rem(a, b), x, y)
    check(lambda a, b: jnp.power(a, b), np.abs(_rand((4,))) + 0.5, _rand((4,)))


@pytest.mark.parametrize("direction", ["gt", "ge", "lt", "le", "eq", "ne"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_compare_select(direction, dtype):
    cmp = getattr(
        jnp,
        {"gt": "greater", "ge": "greater_equal", "lt": "less"}.get(
            direction, {"le": "less_equal", "eq": "equal", "ne": "not_equal"}.get(direction)
        ),
    )
    x, y = _rand((3, 4), dtype), _rand((4,), dtype)
    check(lambda a, b: (cmp(a, b), jnp.where(cmp(a, b), a, b)), x, y)


def test_is_finite_and_activations():
    x = np.array([1.0, -np.inf, np.nan, 3.5, np.inf, -0.0], np.float32)
    check(jnp.isfinite, x)
    y = _rand((2, 5))
    check(lambda a: (jax.nn.gelu(a, approximate=False), jax.nn.silu(a)), y)
    check(lambda a: (jax.nn.log_softmax(a), jnp.var(a, axis=-1)), y)
    tflite = check(lambda a, b: (jnp.mod(a, b), a % 1.5), y, _rand((2, 5), low=0.5) * 1.7)
    assert ops(tflite).get("tfl.floor_mod") == 2


def test_logic_clamp_convert():
    x, y = _rand((3, 4)), _rand((3, 4))
    check(lambda a, b: jnp.logical_xor(a > 0, b > 0) | ~(a > b) & (b < 1), x, y)
    tflite = check(lambda a: jnp.clip(a, -0.5, 1.0), x)
    assert {"tfl.maximum", "tfl.minimum"} <= set(ops(tflite))
    check(lambda a: (a * 3).astype(jnp.int32), x)
    check(lambda a: a.astype(jnp.float32) / 2, _rand((5,), np.int32))


# --- dot_general and convolution ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lhs", "rhs"), [((4, 8), (8, 3)), ((2, 5, 8), (8, 3)), ((3, 8), (8,))], ids=str
)
def test_matmul_constant_rhs_is_fully_connected(lhs, rhs):
    w = _rand(rhs)
    x = _rand(lhs)
    if len(rhs) == 1:
        tflite = check(lambda a: a @ w, x)
    else:
        tflite = check(lambda a: a @ w, x)
        assert ops(tflite).get("tfl.fully_connected") == 1
    assert "tfl.batch_matmul" not in ops(tflite)


@pytest.mark.parametrize(
    "spec",
    [
        "ij,jk->ik",
        "bij,bjk->bik",
        "bqhd,bkhd->bhqk",
        "bhqk,bkhd->bqhd",
        "bij,bkj->bik",
        "ji,jk->ik",
    ],
)
def test_einsum_batch_matmul(spec):
    lhs, rhs = spec.split("->")[0].split(",")
    sizes = {"i": 3, "j": 4, "k": 5, "b": 2, "q": 3, "h": 2, "d": 4}
    x = _rand(tuple(sizes[c] for c in lhs))
    y = _rand(tuple(sizes[c] for c in rhs))
    tflite = check(lambda a, b: jnp.einsum(spec, a, b), x, y)
    assert ops(tflite).get("tfl.batch_matmul") == 1


CONVS = {
    # name: (input shape, kernel shape, dimension numbers, kwargs)
    "nhwc_same": ((1, 8, 8, 3), (3, 3, 3, 4), ("NHWC", "HWIO", "NHWC"), {"padding": "SAME"}),
    "nhwc_valid_stride": (
        (2, 9, 9, 3),
        (3, 3, 3, 4),
        ("NHWC", "HWIO", "NHWC"),
        {"padding": "VALID", "window_strides": (2, 2)},
    ),
    "nhwc_dilated": (
        (1, 10, 10, 2),
        (3, 3, 2, 4),
        ("NHWC", "HWIO", "NHWC"),
        {"padding": "SAME", "rhs_dilation": (2, 2)},
    ),
    "explicit_pad": (
        (1, 7, 7, 2),
        (3, 3, 2, 4),
        ("NHWC", "HWIO", "NHWC"),
        {"padding": ((1, 2), (0, 1))},
    ),
    "nchw_oihw": ((1, 3, 8, 8), (4, 3, 3, 3), ("NCHW", "OIHW", "NCHW"), {"padding": "SAME"}),
    "depthwise": (
        (1, 8, 8, 3),
        (3, 3, 1, 6),
        ("NHWC", "HWIO", "NHWC"),
        {"padding": "SAME", "feature_group_count": 3},
    ),
    "grouped": (
        (1, 8, 8, 4),
        (3, 3, 2, 6),
        ("NHWC", "HWIO", "NHWC"),
        {"padding": "VALID", "feature_group_count": 2},
    ),
}


@pytest.mark.parametrize(
    ("padding", "strides", "kernel"),
    [
        ("SAME", (2, 2), (3, 3)),
        ("VALID", (2, 2), (3, 3)),
        ("SAME", (2, 1), (2, 4)),
        ("VALID", (3, 3), (2, 2)),
        (((1, 0), (2, 3)), (2, 2), (3, 3)),
    ],
    ids=str,
)
def test_conv_transpose(padding, strides, kernel):
    """lax.conv_transpose (Flax ConvTranspose): lhs_dilation -> TRANSPOSE_CONV (+ slice/pad)."""
    w = _rand((*kernel, 3, 4))
    tflite = check(
        lambda x: lax.conv_transpose(
            x, w, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
        ),
        _rand((1, 5, 6, 3)),
        atol=1e-4,
    )
    assert ops(tflite).get("tfl.transpose_conv") == 1


def test_conv1d():
    """A 1-D convolution (Flax Conv on [batch, length, features]) runs as CONV_2D of height 1."""
    w = _rand((3, 2, 4))
    for padding, stride in (("SAME", 1), ("VALID", 2)):
        tflite = check(
            lambda x, p=padding, s=stride: lax.conv_general_dilated(
                x, w, (s,), p, dimension_numbers=("NWC", "WIO", "NWC")
            ),
            _rand((2, 9, 2)),
            atol=1e-4,
        )
        assert ops(tflite).get("tfl.conv_2d") == 1


@pytest.mark.parametrize("name", list(CONVS))
def test_convolution(name):
    xs, ks, dn, kwargs = CONVS[name]
    kwargs = {"window_strides": (1, 1), **kwargs}
    w = _rand(ks)

    def fn(x):
        return lax.conv_general_dilated(x, w, dimension_numbers=dn, **kwargs)

    tflite = check(fn, _rand(xs), atol=1e-4)
    hist = ops(tflite)
    want = "tfl.depthwise_conv_2d" if name == "depthwise" else "tfl.conv_2d"
    assert hist.get(want) == 1
    assert ("tfl.pad" in hist) == (name == "explicit_pad")


# --- reductions and windows ---------------------------------------------------------------------


@pytest.mark.parametrize("axes", [(1,), (0, 2), None], ids=str)
@pytest.mark.parametrize(
    ("name", "tfl_op"),
    [("sum", "sum"), ("max", "reduce_max"), ("min", "reduce_min"), ("prod", "reduce_prod")],
)
def test_reduce(name, tfl_op, axes):
    fn = getattr(jnp, name)
    tflite = check(lambda a: fn(a, axis=axes), _rand((2, 3, 4), low=0.5, high=1.5))
    assert "tfl." + tfl_op in ops(tflite)


@pytest.mark.parametrize("axes", [(1,), (0, 2), None], ids=str)
def test_mean(axes):
    """jnp.mean (a sum divided by the count) -> MEAN."""
    tflite = check(lambda a: jnp.mean(a, axis=axes), _rand((2, 3, 4)))
    assert ops(tflite) == {"tfl.mean": 1}


def test_reduce_int_and_bool():
    check(lambda a: (jnp.sum(a, axis=1), jnp.max(a, axis=0)), _rand((3, 4), np.int32))
    check(lambda a: (jnp.any(a > 0, axis=1), jnp.all(a > -1, axis=0)), _rand((3, 4)))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_argmax_argmin(axis):
    x = _rand((3, 4, 5))
    tflite = check(lambda a: (jnp.argmax(a, axis=axis), jnp.argmin(a, axis=axis)), x)
    hist = ops(tflite)
    assert hist.get("tfl.arg_max") == 1 and hist.get("tfl.arg_min") == 1


def test_cumsum():
    x = _rand((3, 5))
    tflite = check(lambda a: (jnp.cumsum(a, axis=1), jnp.cumsum(a, axis=0)), x)
    assert ops(tflite).get("tfl.cumsum") == 2


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("window", [(2, 2), (3, 3)], ids=str)
def test_pools(window, padding):
    nn = pytest.importorskip("flax.linen")
    x = _rand((2, 8, 8, 3))
    tflite = check(lambda a: nn.max_pool(a, window, strides=(2, 2), padding=padding), x)
    assert ops(tflite) == {"tfl.max_pool_2d": 1}
    if padding == "VALID":
        tflite = check(lambda a: nn.avg_pool(a, window, strides=(2, 2)), x)
        assert ops(tflite) == {"tfl.average_pool_2d": 1}
    # Dividing by the unpadded count is TFL's SAME average exactly.
    tflite = check(
        lambda a: nn.avg_pool(a, window, (2, 2), padding=padding, count_include_pad=False), x
    )
    assert ops(tflite) == {"tfl.average_pool_2d": 1}


def test_sum_pool_and_softmax():
    x = _rand((1, 6, 6, 2))
    sum_pool = partial(lax.reduce_window, init_value=0.0, computation=lax.add)
    tflite = check(
        lambda a: sum_pool(
            a, window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1), padding="VALID"
        ),
        x,
    )
    assert "tfl.average_pool_2d" in ops(tflite)
    tflite = check(lambda a: jax.nn.softmax(a, axis=-1), _rand((2, 3, 7)))
    assert ops(tflite) == {"tfl.softmax": 1}


def test_top_k_sort_argsort():
    """lax.top_k (a chlo.top_k composite) -> TOPK_V2; sort / argsort along the last dim ->
    TOPK_V2 of the negated values (ties keep index order, as the stable sort)."""
    x = np.array([[3.0, 1.0, 2.0, 1.0, 5.0, -2.0], [0.5, 0.5, -1.0, 4.0, 0.5, 2.0]], np.float32)
    tflite = check(lambda a: (*lax.top_k(a, 3), jnp.sort(a, axis=-1), jnp.argsort(a, axis=-1)), x)
    assert ops(tflite).get("tfl.topk_v2") == 2  # sort and argsort share one (cse)
    check(lambda a: lax.top_k(a, 2), _rand((4, 5), np.int32))
    check(lambda a: jnp.sort(a, axis=-1, descending=True), _rand((2, 3, 5)))


# --- shapes and data movement -------------------------------------------------------------------


def test_reshape_transpose_slices():
    x = _rand((4, 6, 5))
    check(lambda a: jnp.transpose(a, (2, 0, 1)).reshape(5, 24), x)
    check(lambda a: (a[1:3, ::2, 1:], a[::-1, :, 2], a[:, 1:5:3]), x)
    check(lambda a: jnp.concatenate([a, a * 2], axis=1), x)
    check(lambda a: jnp.pad(a, ((1, 0), (0, 2), (1, 1))), x)
    check(lambda a: jnp.pad(a, ((1, 0), (0, 2), (0, 0)), constant_values=3.0), x)
    check(lambda a: jnp.flip(a, axis=(0, 2)), x)
    check(lambda a: jnp.broadcast_to(a[:, :1], (3, 4, 6, 5)) + 1, x)


def test_iota():
    x = _rand((4, 3))
    check(lambda a: a + jnp.arange(3, dtype=jnp.float32), x)
    check(lambda a: a + lax.broadcasted_iota(jnp.float32, (4, 3), 0), x)


@pytest.mark.parametrize("start", [0, 2, 5, -3])
def test_dynamic_slice_and_update(start):
    """StableHLO clamps the start indices into range; so must the lowering."""
    x = _rand((6, 4))
    i = np.array(start, np.int32)
    check(lambda a, s: lax.dynamic_slice(a, (s, 1), (3, 2)), x, i)
    upd = _rand((2, 4))
    check(lambda a, s: lax.dynamic_update_slice(a, upd, (s, 0)), x, i)


@pytest.mark.parametrize("idx_shape", [(3,), (2, 4)], ids=str)
def test_gather(idx_shape):
    table = _rand((10, 4))
    ids = RNG.randint(0, 10, idx_shape).astype(np.int32)
    tflite = check(lambda i: jnp.asarray(table)[i], ids)
    assert "tfl.gather" in ops(tflite)
    x = _rand((3, 5, 2))
    check(lambda a, i: a[:, i % 5], x, ids)
    pairs = RNG.randint(0, 3, idx_shape + (2,)).astype(np.int32)
    check(lambda a, p: a[p[..., 0], p[..., 1]], x, pairs)


def test_scatter_at_set_add():
    """JAX's .at[].set / .add: whole-row scatters -> SCATTER_ND (+ ADD, or a mask and
    SELECT_V2 for set); a constant in-range window -> DYNAMIC_UPDATE_SLICE."""
    x = _rand((5, 3))
    u = _rand((2, 3))

    def fn(a, i, upd, idx):
        return a.at[i].set(upd[0]), a.at[idx].add(upd), a.at[1:3].set(0.0), a.at[4].add(1.0)

    for i, idx in ((2, [0, 3]), (-1, [4, 4])):  # negative index: JAX wraps it first
        tflite = check(fn, x, np.array(i, np.int32), u, np.array(idx, np.int32))
    hist = ops(tflite)
    assert hist.get("tfl.scatter_nd") == 4 and hist.get("tfl.dynamic_update_slice") == 1


# --- control flow -------------------------------------------------------------------------------


def test_scan_rnn_and_cond():
    """lax.scan -> tfl.while (its regions become subgraphs, captured constants copied in);
    lax.cond -> tfl.if on `index == 0`."""
    w = _rand((4, 4)) * 0.3

    def fn(xs, h):
        def step(h, x):
            h = jnp.tanh(x + h @ w)
            return h, h * 2

        h, ys = lax.scan(step, h, xs)
        return lax.cond(jnp.sum(h) > 0, lambda a: a * 2, lambda a: a - 1, h), ys

    tflite = check(fn, _rand((5, 2, 4)), _rand((2, 4)))
    hist = ops(tflite)
    assert hist.get("tfl.while") == 1 and hist.get("tfl.if") == 1


def test_flax_lstm_gru():
    """Flax nn.RNN over LSTM / GRU cells: lax.scan -> WHILE; the weights the loop carries
    unchanged are read as constants inside, so the cell matmuls are FULLY_CONNECTED."""
    nn = pytest.importorskip("flax.linen")

    class Seq(nn.Module):
        @nn.compact
        def __call__(self, x):
            y = nn.RNN(nn.LSTMCell(8))(x)
            return nn.Dense(2)(y[:, -1]) + jnp.sum(nn.RNN(nn.GRUCell(6))(x))

    x = _rand((2, 5, 3))
    hist = ops(check(_flax(Seq(), x), x, atol=1e-4))
    assert hist.get("tfl.while") == 2 and "tfl.batch_matmul" not in hist


def test_fori_loop_and_switch():
    def fn(x, n):
        y = lax.fori_loop(0, 3, lambda i, a: a * 0.5 + i, x)
        return lax.switch(n, [lambda a: a + 1, lambda a: a * 3], y)

    def fn3(x, n):
        return lax.switch(n, [lambda a: a + 1, lambda a: a * 3, jnp.sin, jnp.exp], x)

    x = _rand((3,))
    for n in (0, 1, 2, 3, 7, -1):  # out of range: JAX clamps first
        check(fn, x, np.array(n, np.int32))
        tflite = check(fn3, x, np.array(n, np.int32))
    assert ops(tflite).get("tfl.if") == 3  # index 0, then 1, then 2, else the last


# --- refusals -----------------------------------------------------------------------------------


REFUSALS = [
    (
        '%y = "stablehlo.remainder"(%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>',
        "LegalizeIntRemainder",
        "only integer remainder",
    ),
    (
        '%y = "stablehlo.compare"(%x, %x) {comparison_direction = "LT", compare_type = '
        '"TOTALORDER"} : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xi1>',
        "LegalizeCompare",
        "TOTALORDER",
    ),
    (
        '%y = "stablehlo.custom_call"(%x) {call_target_name = "my_kernel"} : (tensor<3xf32>) '
        "-> tensor<3xf32>",
        "RefuseCustomCall",
        "'my_kernel' has no TFL builtin",
    ),
    (
        '%y = "stablehlo.exponential"(%x) : (tensor<3xf64>) -> tensor<3xf64>',
        "LegalizeUnary",
        "tfl.exp does not run on f64",
    ),
    (
        '%y = "stablehlo.dot_general"(%x, %x) {lhs_contracting_dimensions = [0], '
        "rhs_contracting_dimensions = [0]} : (tensor<3xi32>, tensor<3xi32>) -> tensor<i32>",
        "LegalizeDotGeneralBatchMatmul",
        "only float dot_general",
    ),
]


@pytest.mark.parametrize(("body", "pattern", "reason"), REFUSALS, ids=lambda v: str(v)[:24])
def test_refusal_reasons(body, pattern, reason):
    """Every refusal says why, under the pattern's name (what the legality gate shows)."""
    from tflconv.core.parser import parse_module
    from tflconv.core.passes import PassContext
    from tflconv.passes.legalize_stablehlo.pass_ import LegalizeStablehlo

    dtype = body.split(") -> tensor<")[0].split("tensor<")[-1].rstrip(">,")
    result = body.split("-> ")[-1]
    text = (
        f"module {{\n  func.func @main(%x: tensor<{dtype}>) -> ({result}) "
        f"attributes {{entry = true}} {{\n    {body}\n"
        f'    "func.return"(%y) : ({result}) -> ()\n  }}\n}}\n'
    )
    module = parse_module(text)
    ctx = PassContext()
    LegalizeStablehlo().run(module, ctx)
    (op,) = [op for op in module.walk() if op.name.startswith("stablehlo.")]
    reasons = dict(ctx.tracer.failure_reasons(op))
    assert reason in reasons.get(pattern, ""), reasons


def test_unsupported_op_is_reported():
    """An op with no lowering stays stablehlo.* and the legality gate names it."""
    with pytest.raises(ConverterError, match="stablehlo"):
        convert(lambda a: lax.cbrt(a), _rand((3,)))


# --- whole models -------------------------------------------------------------------------------


def _random_variables(module, *args):
    """Random variables of `module`'s shapes, without running `init` (which compiles every
    op it runs: seconds per model). BatchNorm variances stay positive."""
    shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), *args)
    state = np.random.RandomState(1)

    def leaf(path, s):
        value = state.randn(*s.shape).astype(s.dtype) * 0.3
        return np.abs(value) + 0.5 if "var" in jax.tree_util.keystr(path) else value

    return jax.tree_util.tree_map_with_path(leaf, shapes)


def _flax(module, x):
    return partial(module.apply, _random_variables(module, x))


def test_mlp_dynamic_batch():
    nn = pytest.importorskip("flax.linen")

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(16)(x))
            x = nn.tanh(nn.Dense(8)(x))
            return nn.Dense(3)(x)

    x = _rand((2, 6))
    f = _flax(MLP(), x)
    tflite = check(f, x, inputs=[_rand((5, 6))], dynamic_batch=True)
    # bias adds and the relu fold into FULLY_CONNECTED (the tanh has no fused form)
    assert ops(tflite) == {"tfl.fully_connected": 3, "tfl.tanh": 1}


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_batch"])
def test_cnn(dynamic):
    nn = pytest.importorskip("flax.linen")

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(8, (3, 3))(x))
            x = nn.avg_pool(x, (2, 2), (2, 2))
            x = nn.relu(nn.Conv(8, (3, 3), strides=2, padding="VALID")(x))
            x = nn.max_pool(x, (2, 2), (2, 2), padding="SAME")
            x = x.reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(16)(x))
            return jax.nn.softmax(nn.Dense(4)(x))

    x = _rand((2, 16, 16, 3))
    # A dynamic batch exports symbolic shapes (dynamic_broadcast_in_dim, get_dimension_size):
    # the same ops and fusions must come out.
    feed = [_rand((3, 16, 16, 3))] if dynamic else None
    tflite = check(_flax(CNN(), x), x, inputs=feed, dynamic_batch=dynamic)
    assert ops(tflite) == {
        "tfl.conv_2d": 2,
        "tfl.average_pool_2d": 1,
        "tfl.max_pool_2d": 1,
        "tfl.reshape": 1,
        "tfl.fully_connected": 2,
        "tfl.softmax": 1,
    }


def _bn_cnn():
    nn = pytest.importorskip("flax.linen")

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.BatchNorm(use_running_average=True)(nn.Conv(8, (3, 3))(x))
            x = nn.max_pool(nn.relu(x), (2, 2), (2, 2))
            return nn.Dense(4)(x.reshape((x.shape[0], -1)))

    x = _rand((1, 8, 8, 3))
    variables = _random_variables(CNN(), x)
    return partial(CNN().apply, variables), x


def test_cnn_batchnorm_folds_and_int8():
    """Inference BatchNorm (scale * rsqrt(var + eps), folded on constants) disappears into
    the CONV_2D; full-integer PTQ then works on the result."""
    f, x = _bn_cnn()
    tflite = check(f, x, atol=1e-4)
    assert ops(tflite) == {
        "tfl.conv_2d": 1,
        "tfl.max_pool_2d": 1,
        "tfl.reshape": 1,
        "tfl.fully_connected": 1,
    }
    conv = tflconv.TFLiteConverter.from_jax(f, x)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([_rand((1, 8, 8, 3))] for _ in range(16))
    quant = conv.convert()
    got = run_litert(quant, [x])[0]
    want = np.asarray(f(x))
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max() + 0.05
    assert "tfl.quantize" in ops(quant)


def test_transformer_block():
    nn = pytest.importorskip("flax.linen")

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.SelfAttention(num_heads=2, qkv_features=16, deterministic=True)(
                nn.LayerNorm()(x)
            )
            x = x + h
            h = nn.Dense(16)(nn.gelu(nn.Dense(32)(nn.LayerNorm()(x))))
            return x + h

    x = _rand((2, 5, 16))
    tflite = check(_flax(Block(), x), x, atol=1e-4)
    hist = ops(tflite)
    assert hist.get("tfl.batch_matmul") == 2 and hist.get("tfl.softmax") == 1
    assert hist.get("tfl.gelu") == 1 and hist.get("tfl.mean") == 4  # 2 per LayerNorm
    assert not any(name.startswith("tfl.broadcast_to") for name in hist)


def test_embedding_classifier():
    nn = pytest.importorskip("flax.linen")

    class Classifier(nn.Module):
        @nn.compact
        def __call__(self, ids):
            e = nn.Embed(20, 8)(ids)
            return jnp.argmax(nn.Dense(3)(jnp.mean(e, axis=1)), axis=-1)

    ids = RNG.randint(0, 20, (4, 6)).astype(np.int32)
    tflite = check(_flax(Classifier(), ids), ids)
    hist = ops(tflite)
    assert hist.get("tfl.gather") == 1 and hist.get("tfl.arg_max") == 1
