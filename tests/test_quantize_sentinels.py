"""Sentinels in calibration: a tensor holding an infinity or a float32 extreme gets no range (an
infinite or huge scale would break the model, a finite one would turn the sentinel into a number). A `-inf` pad
before a max pool (keras-hub's ResNetV2 stem) takes the pool's range, where saturating to -128
is exact; a `-inf` attention mask before a softmax keeps the softmax float."""

import numpy as np
import pytest

from tflconv.passes.quantize.kernels import RunningMinMax, minmax


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-np.inf, 1.0, 2.0], (np.inf, -np.inf, False)),
        ([np.inf, -3.0, np.nan], (np.inf, -np.inf, True)),
        ([np.inf, -np.inf], (np.inf, -np.inf, False)),
        ([0.5, np.nan], (0.5, 0.5, True)),
        ([-3.4e38, 1.0], (np.inf, -np.inf, False)),  # -inf as LiteRT's float kernels clamp it
    ],
)
def test_minmax_gives_no_range_with_an_infinity(values, expected):
    assert minmax(np.asarray(values, np.float32)) == expected


def test_running_min_max_of_a_padded_tensor_has_no_range():
    stats = RunningMinMax()
    stats.update(np.pad(np.arange(4.0, dtype=np.float32), 2, constant_values=-np.inf))
    assert not stats.seen
    stats.update(np.arange(4.0, dtype=np.float32))  # other samples still count
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


def test_int8_softmax_after_a_minus_inf_mask_stays_exact_on_masked_positions():
    keras = pytest.importorskip("keras")
    import tflconv
    from tests.e2e_util import run_litert

    keras.utils.set_random_seed(0)
    mask = np.zeros((1, 8), np.float32)
    mask[0, 5:] = -np.inf
    inp = keras.Input((8,), batch_size=1)
    logits = keras.layers.Dense(8)(inp)
    masked = keras.layers.Lambda(lambda t: t + mask)(logits)
    model = keras.Model(inp, keras.layers.Softmax()(masked))
    rng = np.random.default_rng(0)
    converter = tflconv.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tflconv.Optimize.DEFAULT]
    converter.representative_dataset = [
        [rng.standard_normal((1, 8)).astype(np.float32)] for _ in range(8)
    ]
    tflite = converter.convert()
    sample = rng.standard_normal((1, 8)).astype(np.float32)
    (out,) = run_litert(tflite, [sample])
    assert np.all(out[0, 5:] == 0.0)  # masked: exactly zero weight, as in Keras
    np.testing.assert_allclose(out, model(sample).numpy(), atol=0.02)
