"""Integer-only quantization of single ops whose LiteRT kernels take int8 / int16 (LiteRT's own
op_tests `fully_quantize` cases): EXP, LOG, MIRROR_PAD, SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND,
DIV (Softsign), SHAPE, and a model with no float tensor at all (a bool PAD). Each is converted
with TFLITE_BUILTINS_INT8 or the 16x8 op set (which refuse any op left in float), run in LiteRT
and compared with TensorFlow at the op_tests' quantized tolerance."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from e2e_util import run_litert  # noqa: E402

import tflconv  # noqa: E402

INT8 = "TFLITE_BUILTINS_INT8"
INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"

CASES = {
    # name: (function, input shape, input range, op sets)
    "exp": (tf.exp, [4, 2, 3], (-2, 2), (INT8, INT16X8)),
    "log": (tf.math.log, [3, 4, 5], (0.1, 10), (INT8, INT16X8)),
    "mirror_pad": (
        lambda x: tf.pad(x, [[0, 2], [1, 1]], mode="REFLECT"),
        [3, 4],
        (-1, 1),
        (INT8, INT16X8),
    ),
    "space_to_batch_nd": (
        lambda x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]]),
        [1, 4, 4, 1],
        (-1, 1),
        (INT8, INT16X8),
    ),
    "batch_to_space_nd": (
        lambda x: tf.batch_to_space(x, [2, 2], [[0, 0], [0, 0]]),
        [4, 2, 2, 1],
        (-1, 1),
        (INT8, INT16X8),
    ),
    "softsign": (tf.nn.softsign, [2, 3], (-1000, 1000), (INT8,)),
    "shape": (
        lambda x: tf.cast(tf.shape(x)[1:3], tf.float32) * tf.reduce_mean(x),
        [2, 3, 5],
        (-1, 1),
        (INT8,),
    ),
}


def _convert(fn, shape, value_range, ops):
    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    rng = np.random.default_rng(0)
    conv = tflconv.TFLiteConverter.from_concrete_functions([concrete])
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [getattr(tflconv.OpsSet, ops)]
    conv.representative_dataset = lambda: (
        [rng.uniform(*value_range, shape).astype(np.float32)] for _ in range(20)
    )
    return concrete, conv.convert()


@pytest.mark.parametrize(
    "name,ops", [(name, ops) for name, case in CASES.items() for ops in case[3]]
)
def test_integer_only_op(name, ops):
    fn, shape, value_range, _ = CASES[name]
    concrete, tflite = _convert(fn, shape, value_range, ops)
    x = np.random.default_rng(1).uniform(*value_range, shape).astype(np.float32)
    (got,) = run_litert(tflite, [x])
    want = concrete(tf.constant(x)).numpy()
    # LiteRT's op_tests tolerance for fully quantized models: |diff| <= 0.1 or 0.2 |expected|
    bad = np.abs(got - want) > np.maximum(0.1, 0.2 * np.abs(want))
    assert not bad.any(), (got, want)


def test_model_without_float_tensors_quantizes_to_itself():
    """A bool PAD has nothing to quantize: integer-only conversion is the float conversion."""
    concrete = tf.function(lambda x: tf.pad(x, [[0, 1], [2, 3]])).get_concrete_function(
        tf.TensorSpec([1, 2], tf.bool)
    )
    conv = tflconv.TFLiteConverter.from_concrete_functions([concrete])
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.target_spec.supported_ops = [tflconv.OpsSet.TFLITE_BUILTINS_INT8]
    conv.representative_dataset = lambda: ([np.ones([1, 2], bool)] for _ in range(2))
    x = np.array([[True, False]])
    (got,) = run_litert(conv.convert(), [x])
    np.testing.assert_array_equal(got, concrete(tf.constant(x)).numpy())
