"""Infinite sentinels in calibration: a `-inf` pad before a max pool (keras-hub's ResNetV2
stem) must not give its tensors an infinite scale; the infinity saturates to -128."""

import numpy as np
import pytest

from tflconv.passes.quantize.kernels import RunningMinMax, minmax


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-np.inf, 1.0, 2.0], (1.0, 2.0, False)),
        ([np.inf, -3.0, np.nan], (-3.0, -3.0, True)),
        ([np.inf, -np.inf], (np.inf, -np.inf, False)),
        ([0.5, np.nan], (0.5, 0.5, True)),
    ],
)
def test_minmax_skips_non_finite_values(values, expected):
    assert minmax(np.asarray(values, np.float32)) == expected


def test_running_min_max_of_a_padded_tensor_is_finite():
    stats = RunningMinMax()
    padded = np.pad(np.arange(4.0, dtype=np.float32), 2, constant_values=-np.inf)
    stats.update(padded)
    assert (stats.lo, stats.hi) == (0.0, 3.0)


def test_int8_model_with_minus_inf_pad_runs_and_matches(tmp_path):
    keras = pytest.importorskip("keras")
    import tflconv
    from tests.e2e_util import run_litert

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3)(inp)
    x = keras.layers.Lambda(
        lambda t: keras.ops.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-np.inf)
    )(x)
    x = keras.layers.MaxPool2D(3, 2)(x)
    model = keras.Model(inp, keras.layers.Conv2D(4, 3)(x))
    rng = np.random.default_rng(0)
    converter = tflconv.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tflconv.Optimize.DEFAULT]
    converter.representative_dataset = [
        [rng.standard_normal((1, 16, 16, 3)).astype(np.float32)] for _ in range(8)
    ]
    tflite = converter.convert()
    sample = rng.standard_normal((1, 16, 16, 3)).astype(np.float32)
    expected = model(sample).numpy()
    (out,) = run_litert(tflite, [sample])  # XNNPACK refused an infinite scale before the fix
    assert np.sqrt(np.mean((out - expected) ** 2)) < 0.1 * np.std(expected)
