"""tf.Einsum end to end: equations (plain contractions, batch letters, broadcasting ellipses,
implicit outputs, letters summed out of one operand, one-operand forms, Keras EinsumDense and
MultiHeadAttention equations) x static / dynamic input shapes x constant / variable right
operands, converted by tflconv, run in LiteRT and compared with TensorFlow.

The dynamic cases declare every dim None in the input signature and feed concrete shapes, so
the reshapes around the matmul get run-time targets.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

from e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402

from tflconv.api.converter import ConverterError, TFLiteConverter, convert  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4

CASES = [
    # plain contractions and matmuls
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,kj->ki", [(3, 4), (5, 4)]),
    ("ji,jk->ik", [(4, 3), (4, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bxy,byz->bzx", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bj->bi", [(2, 3, 4), (2, 4)]),
    ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
    ("abc,cde->abde", [(2, 3, 4), (4, 2, 3)]),
    ("ab,bcd->acd", [(2, 4), (4, 3, 2)]),
    ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
    # Keras EinsumDense / MultiHeadAttention equations
    ("abc,cd->abd", [(2, 5, 4), (4, 3)]),
    ("abc,cde->abde", [(2, 5, 8), (8, 2, 4)]),
    ("abcd,cde->abe", [(2, 5, 2, 4), (2, 4, 8)]),
    ("aecd,abcd->acbe", [(2, 6, 2, 4), (2, 5, 2, 4)]),
    ("acbe,aecd->abcd", [(2, 2, 5, 6), (2, 6, 2, 4)]),
    ("BTNH,BSNH->BNTS", [(2, 5, 2, 4), (2, 6, 2, 4)]),
    ("BNTS,BSNH->BTNH", [(2, 2, 5, 6), (2, 6, 2, 4)]),
    # ellipses (with broadcasting) and implicit outputs
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 3, 4), (3, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (3, 4, 5)]),
    ("...ij,j...->i...", [(2, 3, 4), (4, 2)]),
    ("ij...,jk...->ik...", [(3, 4, 2), (4, 5, 2)]),
    ("...i,...i->...", [(2, 3, 4), (2, 3, 4)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("...ij,jk", [(2, 3, 4), (4, 5)]),
    # more batch letters than BATCH_MATMUL's rank 5 takes: the non-broadcasting ones merge
    ("abcdij,abcdjk->abcdik", [(2, 1, 3, 2, 3, 4), (2, 1, 3, 2, 4, 2)]),
    ("...cdij,...cdjk->...cdik", [(2, 1, 3, 2, 3, 4), (1, 3, 3, 2, 4, 2)]),
    # letters summed out of one operand
    ("ij,k->i", [(3, 4), (5,)]),
    ("bij,bjk->b", [(2, 3, 4), (2, 4, 5)]),
    ("abc,cd->a", [(2, 3, 4), (4, 5)]),
]

UNARY = [
    ("ij->ji", (3, 4)),
    ("ijk->kij", (2, 3, 4)),
    ("ij->i", (3, 4)),
    ("ijk->", (2, 3, 4)),
    ("...ij->...ji", (2, 3, 4)),
    ("ij", (3, 4)),
]


def _x(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _dyn(shape) -> list[None]:
    return [None] * len(shape)


def _ops(tflite: bytes) -> dict[str, int]:
    return op_histogram(tflite)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("equation,shapes", CASES, ids=[f"{e}-{s}" for e, s in CASES])
def test_einsum_two_inputs(equation, shapes, dynamic):
    specs = [tf.TensorSpec(_dyn(s) if dynamic else s, tf.float32) for s in shapes]
    fn = tf.function(lambda a, b: tf.einsum(equation, a, b), input_signature=specs)
    inputs = [_x(s, i) for i, s in enumerate(shapes)]
    tflite = convert_and_compare(fn, inputs, atol=ATOL, rtol=RTOL)
    ops = _ops(tflite)
    assert "tf.Einsum" not in str(ops)
    assert ops.get("tfl.batch_matmul", 0) + ops.get("tfl.fully_connected", 0) <= 1
    if not dynamic:  # static shapes need no run-time shape arithmetic
        assert "tfl.shape" not in ops


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize(
    "equation,shapes",
    [
        ("abc,cd->abd", [(2, 5, 4), (4, 3)]),
        ("abc,cde->abde", [(2, 5, 8), (8, 2, 4)]),
        ("abcd,cde->abe", [(2, 5, 2, 4), (2, 4, 8)]),
        ("ab,bcd->acd", [(2, 4), (4, 3, 2)]),
        ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]),
        ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
        ("ij,kj->ki", [(3, 4), (5, 4)]),
        ("c,cd->d", [(4,), (4, 3)]),
    ],
)
def test_einsum_constant_weights(equation, shapes, dynamic):
    """A constant right operand becomes FULLY_CONNECTED weights (EinsumDense)."""
    w = _x(shapes[1], 7)
    spec = tf.TensorSpec(_dyn(shapes[0]) if dynamic else shapes[0], tf.float32)
    fn = tf.function(lambda a: tf.einsum(equation, a, tf.constant(w)), input_signature=[spec])
    tflite = convert_and_compare(fn, [_x(shapes[0], 1)], atol=ATOL, rtol=RTOL)
    ops = _ops(tflite)
    assert ops.get("tfl.fully_connected") == 1, ops
    assert "tfl.batch_matmul" not in ops


def test_einsum_dynamic_shapes_run_with_other_sizes():
    """One conversion with dynamic dims serves several concrete shapes."""
    eq = "abc,cde->abde"
    w = _x((8, 2, 4), 3)
    spec = tf.TensorSpec([None, None, 8], tf.float32)
    fn = tf.function(lambda a: tf.einsum(eq, a, tf.constant(w)), input_signature=[spec])
    tflite = convert(fn)
    for shape in [(1, 1, 8), (3, 7, 8), (2, 5, 8)]:
        x = _x(shape, 2)
        (got,) = run_litert(tflite, [x])
        np.testing.assert_allclose(got, np.einsum(eq, x, w), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("equation,shape", UNARY, ids=[e for e, _ in UNARY])
def test_einsum_one_input(equation, shape, dynamic):
    spec = tf.TensorSpec(_dyn(shape) if dynamic else shape, tf.float32)
    fn = tf.function(lambda a: tf.einsum(equation, a), input_signature=[spec])
    convert_and_compare(fn, [_x(shape, 0)], atol=ATOL, rtol=RTOL)


def test_einsum_rank_above_six_is_refused_clearly():
    spec = [tf.TensorSpec((2, 1, 2, 1, 2, 1, 3), tf.float32), tf.TensorSpec((3, 2), tf.float32)]
    fn = tf.function(lambda a, b: tf.einsum("abcdefg,gh->abcdefh", a, b), input_signature=spec)
    with pytest.raises(ConverterError, match="Einsum"):
        convert(fn)


def test_einsum_diagonal_is_refused_clearly():
    spec = [tf.TensorSpec((3, 3), tf.float32), tf.TensorSpec((3,), tf.float32)]
    fn = tf.function(lambda a, b: tf.einsum("ii,i->i", a, b), input_signature=spec)
    with pytest.raises(ConverterError, match="Einsum"):
        convert(fn)


def test_keras_attention_exported_saved_model(tmp_path):
    """Keras MultiHeadAttention + EinsumDense with dynamic batch and sequence, exported with
    `model.export()` and converted from the SavedModel, at two sequence lengths."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 16))
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(inputs, inputs)
    x = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de")(x)
    model = keras.Model(inputs, x)
    path = str(tmp_path / "sm")
    model.export(path, verbose=False)
    tflite = TFLiteConverter.from_saved_model(path).convert()
    ops = op_histogram(tflite)
    assert not [k for k in ops if not k.startswith("tfl.")]
    for shape in [(2, 5, 16), (1, 9, 16)]:
        x = _x(shape, 4)
        (got,) = run_litert(tflite, [x])
        np.testing.assert_allclose(got, np.asarray(model(x)), atol=ATOL, rtol=RTOL)


def _random_cases(n: int, seed: int = 0) -> list[tuple[str, list[tuple[int, ...]], bool]]:
    """Seeded random two-operand equations: batch, contracted, free and summed-out letters in
    random orders, sometimes an ellipsis (with a broadcast 1), sometimes an implicit output."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        letters = list("abcdefgh")
        rng.shuffle(letters)
        sizes = {c: int(rng.integers(1, 5)) for c in letters}
        roles = rng.choice(["batch", "contract", "left", "right", "sum_l"], size=5)
        la, lb, out = [], [], []
        for c, role in zip(letters, roles):
            if role in ("batch", "contract"):
                la.append(c)
                lb.append(c)
            if role == "batch" or role in ("left", "right"):
                out.append(c)
            if role == "left" or role == "sum_l":
                la.append(c)
            if role == "right":
                lb.append(c)
        for part in (la, lb, out):
            rng.shuffle(part)
        sa = [sizes[c] for c in la]
        sb = [sizes[c] for c in lb]
        ell = rng.random() < 0.3
        if ell:
            e = [2, 3][: int(rng.integers(1, 3))]
            sa, sb = e + sa, ([1] + e[1:] if len(e) > 1 else e) + sb
            eq = f"...{''.join(la)},...{''.join(lb)}->...{''.join(out)}"
        else:
            eq = f"{''.join(la)},{''.join(lb)}->{''.join(out)}"
        cases.append((eq, [tuple(sa), tuple(sb)], bool(rng.random() < 0.5)))
    return cases


@pytest.mark.parametrize("equation,shapes,dynamic", _random_cases(24))
def test_einsum_random_equations(equation, shapes, dynamic):
    """Random contractions against TF (seeded): every one converts to builtins and matches."""
    specs = [tf.TensorSpec(_dyn(s) if dynamic else s, tf.float32) for s in shapes]
    fn = tf.function(lambda a, b: tf.einsum(equation, a, b), input_signature=specs)
    inputs = [_x(s, i) for i, s in enumerate(shapes)]
    tflite = convert_and_compare(fn, inputs, atol=ATOL, rtol=RTOL)
    assert "tf.Einsum" not in str(op_histogram(tflite))
