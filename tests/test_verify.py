"""`--verify` on quantized models (tflconv/tools/verify.py): inputs from the representative data or
the calibrated ranges, errors in steps of the output scale, constant outputs caught."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from tflconv.api.converter import TFLiteConverter  # noqa: E402
from tflconv.api.options import Optimize  # noqa: E402
from tflconv.tools.verify import (  # noqa: E402
    VerifyOptions,
    _judge,
    input_ranges,
    output_scales,
    output_stats,
    verify_conversion,
)


def _model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu")(x)
    y = keras.layers.Dense(3)(h)
    return keras.Model(x, y)


def _samples(n: int = 200, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, (1, 6)).astype(np.float32) for _ in range(n)]


@pytest.fixture(scope="module")
def int8_results():
    """An int8 conversion with float I/O and one with int8 I/O (same model, same data)."""
    model = _model()
    out = {}
    for io in (None, "int8"):
        conv = TFLiteConverter.from_keras_model(model)
        conv.optimizations = [Optimize.DEFAULT]
        conv.representative_dataset = _samples()
        conv.inference_input_type = io
        conv.inference_output_type = io
        out[io or "float"] = conv.convert_with_report()
    conv = TFLiteConverter.from_keras_model(model)
    out["f32"] = conv.convert_with_report()
    return out


@pytest.mark.parametrize("io", ["float", "int8"])
def test_int8_model_verifies_on_its_calibration_data(int8_results, io) -> None:
    result = int8_results[io]
    ok, lines = verify_conversion(result, None, VerifyOptions(representative=_samples()))
    text = "\n".join(lines)
    assert ok, text
    assert "quantized model" in text and "representative samples" in text
    row = next(line for line in lines if "rmse" in line)
    assert "x scale" in row and "SNR" in row and "of range" in row and row.endswith("ok")
    # Without the data: draws from the calibrated input range, still within tolerance.
    ok, lines = verify_conversion(result, None, VerifyOptions())
    assert ok and "calibrated input ranges" in lines[0], "\n".join(lines)


def test_tolerance_is_in_output_scale_steps(int8_results) -> None:
    result = int8_results["float"]
    ok, lines = verify_conversion(result, None, VerifyOptions(scale_tol=1e-6))
    assert not ok and lines[-1] == "verify: FAILED"
    # The float model stays on today's elementwise check.
    ok, lines = verify_conversion(int8_results["f32"], None, VerifyOptions())
    assert ok and "atol" in lines[0] and "quantized" not in lines[0]


def test_scales_and_ranges_come_from_the_ir(int8_results) -> None:
    fn = next(f for f in int8_results["int8"].module.functions if f.attributes.get("entry"))
    (scale,) = output_scales(fn)
    (rng,) = input_ranges(fn)
    q_out = fn.body.blocks[0].terminator.operands[0].type.quant
    assert scale == pytest.approx(q_out.scale[0])
    q_in = fn.args[0].type.quant
    lo = (-128 - q_in.zero_point[0]) * q_in.scale[0]
    hi = (127 - q_in.zero_point[0]) * q_in.scale[0]
    assert rng == pytest.approx((lo, hi))
    # The calibration samples lie (nearly) within that range.
    assert lo <= -1.5 and hi >= 1.5


def test_constant_output_fails_even_with_zero_error() -> None:
    rng = np.random.default_rng(0)
    varying = [rng.standard_normal((1, 3)) for _ in range(4)]
    stuck = [np.zeros((1, 3)) for _ in range(4)]
    options = VerifyOptions()
    passed, line = _judge("s", "y", stuck, varying, 0.01, options)
    assert not passed and "constant output" in line
    # Both constant: the errors are zero, it passes, but says the check is weak.
    passed, line = _judge("s", "y", stuck, stuck, 0.01, options)
    assert passed and "does not vary" in line
    passed, line = _judge("s", "y", varying, varying, 0.01, options)
    assert passed and "SNR inf dB" in line and "warning" not in line


@pytest.mark.parametrize("noise", [1e-3, 1e-2, 1e-1])
def test_output_stats_match_their_definitions(noise) -> None:
    rng = np.random.default_rng(3)
    expected = [rng.uniform(-1, 1, (2, 5)) for _ in range(3)]
    got = [e + rng.normal(0, noise, e.shape) for e in expected]
    s = output_stats(got, expected)
    e, g = np.concatenate(expected).ravel(), np.concatenate(got).ravel()
    assert s.rmse == pytest.approx(np.sqrt(np.mean((g - e) ** 2)))
    assert s.max_err == pytest.approx(np.abs(g - e).max())
    assert s.snr_db == pytest.approx(10 * np.log10(np.sum(e**2) / np.sum((g - e) ** 2)))
    assert s.rel_range == pytest.approx(s.max_err / (e.max() - e.min()))


def test_cli_verify_int8(tmp_path, capsys) -> None:
    from tflconv.cli import main

    path = tmp_path / "m.keras"
    _model().save(path)
    data = tmp_path / "rep.npz"
    np.savez(data, x=np.concatenate(_samples()))
    argv = ["convert", str(path), "-o", str(tmp_path / "m.tflite"), "--quantize", "int8",
            "--representative-data", str(data), "--verify"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "x scale" in out and "verify: passed" in out
    assert main([*argv, "--verify-scale-tol", "0.000001"]) == 1
    assert "verify: FAILED" in capsys.readouterr().out


def test_clipped_outputs_are_explained() -> None:
    expected = [np.array([[0.0, 0.5, 2.0]]), np.array([[0.1, 0.4, 3.0]])]
    clipped = [np.clip(e, -1.0, 1.0) for e in expected]
    passed, line = _judge("s", "y", clipped, expected, 0.01, VerifyOptions(), (-1.28, 1.27))
    assert not passed and "leaves the quantized range [-1.28, 1.27]" in line
    # Within the range, a failure gets no such note.
    noisy = [e + 0.5 for e in expected]
    passed, line = _judge("s", "y", noisy, expected, 0.01, VerifyOptions(), (-10.0, 10.0))
    assert not passed and "quantized range" not in line


def test_float16_model_is_judged_by_its_output_range() -> None:
    conv = TFLiteConverter.from_keras_model(_model())
    conv.optimizations = [Optimize.DEFAULT]
    conv.target_spec.supported_types = {"float16"}
    result = conv.convert_with_report()
    ok, lines = verify_conversion(result, None, VerifyOptions())
    row = next(line for line in lines if "rmse" in line)
    assert ok and "quantized model" in lines[0] and "no output scale" in row, "\n".join(lines)
    # Its error is far below the allowed 5% of the range, yet not zero: f16 weights.
    assert "max err 0 " not in row
