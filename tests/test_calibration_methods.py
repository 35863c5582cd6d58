"""Calibration methods (`calibrate{method=minmax|moving-average|percentile|mse}`): each
observer's range against a direct NumPy computation, and int8 models calibrated with each
method run in LiteRT; on activations with rare outliers, percentile and MSE clipping give a
lower error on typical inputs than min/max."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tflconv  # noqa: E402
from tests.e2e_util import run_litert  # noqa: E402
from tflconv.core.pipeline import PipelineError  # noqa: E402
from tflconv.passes.quantize import kernels  # noqa: E402
from tflconv.passes.quantize.calibration_methods import (  # noqa: E402
    BINS,
    Histogram,
    MinMax,
    MovingAverageMinMax,
    make_observer,
)
from tflconv.passes.quantize.common import QuantizeError  # noqa: E402


def _samples(n: int, seed: int, shape=(4, 64), outlier: float | None = None):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]
    if outlier is not None:
        out[n // 2].flat[3] = outlier
    return out


def _quant_mse(x: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of int8 fake quantization of x with the range's parameters."""
    scale, zp = kernels.affine_params(lo, hi, "i8")
    q = np.clip(np.round(x / scale) + zp, -128, 127)
    return float(np.mean((x - (q - zp) * scale) ** 2))


def _observe(observer, samples):
    for s in samples:
        observer.update(s)
    return observer.range()


def test_minmax_is_the_running_min_and_max():
    samples = _samples(5, 0, outlier=9.0)
    lo, hi = _observe(MinMax(), samples)
    assert (lo, hi) == (min(s.min() for s in samples), max(s.max() for s in samples))


@pytest.mark.parametrize("c", [0.01, 0.5, 1.0])
def test_moving_average_follows_the_per_sample_extremes(c):
    samples = _samples(6, 1, outlier=9.0)
    lo, hi = float(samples[0].min()), float(samples[0].max())
    for s in samples[1:]:
        lo += c * (float(s.min()) - lo)
        hi += c * (float(s.max()) - hi)
    got = _observe(MovingAverageMinMax(c), samples)
    np.testing.assert_allclose(got, (lo, hi), rtol=1e-12)
    assert got[1] < 9.0  # one outlier sample moves the range by c of its excess only


@pytest.mark.parametrize("percentile", [99.0, 99.9, 99.99])
@pytest.mark.parametrize("shape", [(16, 256), (2, 8, 8, 64)])
def test_percentile_keeps_that_share_of_values(percentile, shape):
    samples = _samples(8, 2, shape, outlier=40.0)
    obs = Histogram("percentile", percentile)
    lo, hi = _observe(obs, samples)
    allv = np.concatenate([s.reshape(-1) for s in samples])
    tail = allv.size * (100 - percentile) / 100
    width = 2 * obs.radius / BINS
    for n_out, edge in ((np.sum(allv > hi), hi), (np.sum(allv < lo), lo)):
        # as many values beyond the end as the percentile says, up to the values of one bin
        slack = 1 + np.sum(np.abs(allv - edge) <= width)
        assert abs(n_out - tail) <= slack, (percentile, edge, n_out, tail)
    assert hi < 40.0  # the outlier is clipped


def test_histogram_doubling_keeps_every_count_and_order_barely_matters():
    samples = _samples(6, 3, outlier=100.0)
    a, b = Histogram("percentile", 99.5), Histogram("percentile", 99.5)
    _observe(a, samples)
    _observe(b, samples[::-1])
    assert a.counts.sum() == b.counts.sum() == sum(s.size for s in samples)
    width = 2 * max(a.radius, b.radius) / BINS
    np.testing.assert_allclose(a.range(), b.range(), atol=2 * width)


@pytest.mark.parametrize("dist", ["laplace", "t3"])
def test_mse_range_is_the_brute_force_optimum(dist):
    """The histogram's choice, measured by quantizing the data itself, is within 2 % of the
    best range of a brute-force search on the data, and no worse than min/max."""
    rng = np.random.default_rng(4)
    draw = {
        "laplace": lambda: rng.laplace(size=(16, 64)),
        "t3": lambda: rng.standard_t(3, (16, 64)),
    }
    samples = [draw[dist]().astype(np.float32) for _ in range(8)]
    data = np.concatenate([s.reshape(-1) for s in samples])
    lo_mm, hi_mm = _observe(MinMax(), samples)
    lo, hi = _observe(Histogram("mse"), samples)
    assert lo_mm <= lo < 0 < hi <= hi_mm
    grid = np.linspace(0.05, 1.0, 40)
    best = min(_quant_mse(data, s * lo_mm, t * hi_mm) for s in grid for t in grid)
    got = _quant_mse(data, lo, hi)
    assert got <= 1.02 * best, (got, best)
    assert got <= 1.01 * _quant_mse(data, lo_mm, hi_mm)


def test_mse_range_keeps_a_single_outlier():
    """Clipping one far value costs more squared error than the finer step saves."""
    samples = _samples(8, 5, (16, 64), outlier=60.0)
    lo_mm, hi_mm = _observe(MinMax(), samples)
    lo, hi = _observe(Histogram("mse"), samples)
    assert hi > 0.9 * hi_mm
    data = np.concatenate([s.reshape(-1) for s in samples])
    assert _quant_mse(data, lo, hi) <= _quant_mse(data, lo_mm, hi_mm) * 1.05


def test_nan_values_are_skipped_and_counted():
    x = np.array([[1.0, np.nan, -2.0, 3.0]], np.float32)
    for method in ("minmax", "moving-average", "percentile", "mse"):
        obs = make_observer(method, 100.0)
        obs.update(x)
        lo, hi = obs.range()
        assert obs.nan_samples == 1 and np.isfinite([lo, hi]).all(), method
        assert -2.0 <= lo <= 0.0 <= hi <= 3.0, method


def test_bad_options_are_refused():
    from tflconv import passes  # noqa: F401  (registers the passes)
    from tflconv.core.pass_manager import PassManager

    with pytest.raises(PipelineError, match="method"):
        PassManager.from_pipeline("calibrate{method=kl}")
    with pytest.raises(ValueError, match="percentile"):
        make_observer("percentile", percentile=20.0)
    with pytest.raises(ValueError, match="averaging-constant"):
        make_observer("moving-average", averaging_constant=0.0)


# --- end to end --------------------------------------------------------------------------------

SHAPE = (1, 32)


def _mlp():
    import keras

    keras.utils.set_random_seed(0)
    i = keras.Input(SHAPE[1:], batch_size=1)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(i)
    x = keras.layers.Dense(16, name="fc2")(x)
    return keras.Model(i, keras.layers.Dense(4, name="out")(x))


@pytest.fixture(scope="module")
def mlp():
    return _mlp()


def _calibration():
    """Typical inputs, one of them with a 30-sigma spike (a corrupt sample)."""
    rng = np.random.default_rng(0)
    out = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(32)]
    out[7][0, :4] = 30.0
    return out


def _convert(model, calibrate: str) -> bytes:
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = _calibration
    conv.bias_correction = False
    conv.pipeline = f"default,{calibrate},prepare-quantize,quantize"
    return conv.convert()


def _rmse(model, tflite: bytes) -> float:
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(16)]
    err = [run_litert(tflite, [x])[0] - np.asarray(model(x)) for x in xs]
    return float(np.sqrt(np.mean(np.square(err))))


def test_methods_end_to_end(mlp):
    errors = {}
    for calibrate in (
        "calibrate",
        "calibrate{method=moving-average averaging-constant=0.1}",
        "calibrate{method=percentile percentile=99.5}",
        "calibrate{method=mse}",
    ):
        errors[calibrate] = _rmse(mlp, _convert(mlp, calibrate))
    minmax, moving, percentile, mse = errors.values()
    assert np.isfinite(list(errors.values())).all(), errors
    # the spike widens the min/max range; the percentile clips it and quantizes finer
    assert percentile < 0.8 * minmax, errors
    # MSE keeps a few far values (clipping them costs more than it saves)
    assert mse <= 1.05 * minmax, errors
    # the average of per-sample extremes is narrower than min/max: different, still sane
    assert moving != minmax and moving < 1.0, errors


def test_plan_passes_calibration_options():
    from tflconv.api.quantization import plan_quantization

    plan = plan_quantization(["DEFAULT"], [np.zeros(SHAPE)], calibration={"method": "mse"})
    assert plan is not None and plan.pipeline.startswith("calibrate-lstm,calibrate{method=mse},")
    plain = plan_quantization(["DEFAULT"], [np.zeros(SHAPE)]).pipeline
    assert plain.startswith("calibrate-lstm,calibrate,")
    with pytest.raises(QuantizeError, match="unknown option"):
        plan_quantization(["DEFAULT"], [np.zeros(SHAPE)], calibration={"bins": 10})
