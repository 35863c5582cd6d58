"""Bias correction (passes/quantize/bias_correction.py): the mean input patch each affine op
sees, the output shift of rounded weights, and the end-to-end effect in LiteRT."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.core.ir import Operation  # noqa: E402
from tflconv.passes.quantize import kernels  # noqa: E402
from tflconv.passes.quantize.bias_correction import PatchMean, denoise, output_shift  # noqa: E402


def _op(name, **attrs):
    return Operation(name, [], [], attributes=attrs)


def _patches(x, k, stride, dilation, same):
    """Every input patch (N*OH*OW, kh, kw, C) of a convolution, zero padding included."""
    n, h, w, c = x.shape
    ext = (k - 1) * dilation + 1
    if same:
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + ext - h, 0)
        pw = max((ow - 1) * stride + ext - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - ext) // stride + 1, (w - ext) // stride + 1
    out = [
        x[b, i * stride : i * stride + ext : dilation, j * stride : j * stride + ext : dilation]
        for b in range(n)
        for i in range(oh)
        for j in range(ow)
    ]
    return np.stack(out).astype(np.float64)


CONV_CASES = [
    # (H, W, kernel, stride, dilation, padding)
    (7, 9, 3, 1, 1, "SAME"),
    (8, 8, 3, 2, 1, "SAME"),
    (9, 7, 3, 2, 2, "VALID"),
    (5, 6, 1, 1, 1, "VALID"),
    (6, 6, 5, 1, 2, "SAME"),
    (4, 4, 3, 3, 1, "SAME"),
]


@pytest.mark.parametrize("h,w,k,stride,dilation,padding", CONV_CASES)
def test_patch_mean_is_the_mean_input_patch(h, w, k, stride, dilation, padding):
    rng = np.random.default_rng(h * 100 + k)
    op = _op(
        "tfl.conv_2d",
        stride_h=stride,
        stride_w=stride,
        dilation_h_factor=dilation,
        dilation_w_factor=dilation,
        padding=padding,
    )
    mean = PatchMean(op, (4, k, k, 3))
    samples = [rng.normal(1.0, 1.0, (2, h, w, 3)).astype(np.float32) for _ in range(3)]
    for x in samples:
        mean.update(x)
    want = np.concatenate(
        [_patches(x, k, stride, dilation, padding == "SAME") for x in samples]
    ).mean(axis=0)
    np.testing.assert_allclose(mean.raw(), want, rtol=1e-5, atol=1e-6)


def _rounded(w, axis):
    q, scales = kernels.quantize_weights_symmetric(w, axis)
    return kernels.dequantize(q, scales, 0, axis)


def test_output_shift_is_the_mean_output_error_of_rounded_weights():
    """Conv, grouped conv, depthwise (multiplier 2) and fully-connected: the predicted shift is
    exactly the mean over all output positions of conv(x, W_q) - conv(x, W)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 6, (2, 6, 7, 4)).astype(np.float32)  # post-ReLU6: positive mean
    conv = _op("tfl.conv_2d", stride_h=2, stride_w=2, padding="SAME")
    depthwise = _op("tfl.depthwise_conv_2d", stride_h=1, stride_w=1, padding="VALID")
    for op, w, axis in [
        (conv, rng.normal(0, 0.1, (5, 3, 3, 4)).astype(np.float32), 0),  # plain
        (conv, rng.normal(0, 0.1, (6, 3, 3, 2)).astype(np.float32), 0),  # 2 groups
        (depthwise, rng.normal(0, 0.1, (1, 3, 3, 8)).astype(np.float32), 3),  # multiplier 2
    ]:
        wq = _rounded(w, axis)
        mean = PatchMean(op, w.shape)
        mean.update(x)
        shift = output_shift(op.name, w, wq, mean.raw())
        same = op.attributes["padding"] == "SAME"
        p = _patches(x, 3, op.attributes["stride_h"], 1, same)
        dw = wq.astype(np.float64) - w
        if op.name == "tfl.depthwise_conv_2d":
            err = np.einsum("pkhc,khc->pc", np.repeat(p, 2, axis=3), dw[0])
        else:
            groups = p.shape[3] // w.shape[3]
            per = w.shape[0] // groups
            err = np.concatenate(
                [
                    np.einsum(
                        "pkhi,okhi->po",
                        p[..., g * w.shape[3] : (g + 1) * w.shape[3]],
                        dw[g * per : (g + 1) * per],
                    )
                    for g in range(groups)
                ],
                axis=1,
            )
        np.testing.assert_allclose(shift, err.mean(axis=0), rtol=1e-4, atol=1e-7)

    fc = _op("tfl.fully_connected")
    w = rng.normal(0, 0.1, (3, 5)).astype(np.float32)
    inputs = rng.uniform(0, 1, (10, 5)).astype(np.float32)
    mean = PatchMean(fc, w.shape)
    mean.update(inputs)
    wq = _rounded(w, 0)
    want = (inputs.astype(np.float64) @ (wq.astype(np.float64) - w).T).mean(axis=0)
    np.testing.assert_allclose(output_shift(fc.name, w, wq, mean.raw()), want, rtol=1e-5)


def test_denoise_zeroes_means_within_one_standard_error():
    mean = np.array([0.0, 0.1, -0.1, 0.15, -2.0])
    noise = np.full(5, 0.02)  # squared standard error: 0.141
    np.testing.assert_array_equal(denoise(mean, noise), [0.0, 0.0, 0.0, 0.15, -2.0])


@pytest.mark.parametrize(
    "op_name,shape", [("tfl.fully_connected", (4, 64)), ("tfl.conv_2d", (4, 3, 3, 16))]
)
@pytest.mark.parametrize("samples", [2, 32])
def test_result_drops_the_sampling_noise_of_zero_mean_inputs(op_name, shape, samples):
    """Zero-mean inputs: the raw mean is noise of about sigma/sqrt(n); the result drops the
    elements within one standard error (for Gaussian noise 68 % of them, and the RMS to
    ~80 %); inputs with a mean of 3 sigma keep their mean."""
    rng = np.random.default_rng(samples)
    op = _op(op_name, stride_h=1, stride_w=1, padding="SAME")
    rows = (1, 5, 5, 16) if op_name == "tfl.conv_2d" else (25, 64)
    for offset in (0.0, 3.0):
        mean = PatchMean(op, shape)
        for _ in range(samples):
            mean.update((offset + rng.standard_normal(rows)).astype(np.float32))
        raw, result = mean.raw(), mean.result()
        assert raw is not None and result is not None
        raw = raw.astype(np.float32)  # result() is float32
        if offset == 0.0:
            assert np.all(np.abs(result) <= np.abs(raw))
            assert np.all((result == 0) | (result == raw))
            assert np.mean(result == 0) > 0.4
        else:
            # Interior patch elements keep ~their mean (SAME padding zeros pull the borders).
            np.testing.assert_allclose(result, raw, rtol=0.05)


def test_shift_is_none_when_the_mean_does_not_fit():
    w = np.ones((3, 5), np.float32)
    assert output_shift("tfl.fully_connected", w, w, np.ones(4, np.float32)) is None
    w4 = np.ones((2, 3, 3, 4), np.float32)
    assert output_shift("tfl.conv_2d", w4, w4, np.ones((3, 3, 3), np.float32)) is None


# --- end to end ----------------------------------------------------------------------------------


def _mobile_block():
    """conv(relu6) -> depthwise(relu6) -> 1x1 conv -> global average -> dense without bias:
    positive activations, so rounded weights shift every layer's mean output."""
    import keras

    keras.utils.set_random_seed(3)
    i = keras.Input((12, 12, 3), batch_size=1)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu6")(i)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(24, 1, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(10, use_bias=False)(x))


def _run(tflite, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def test_bias_correction_reduces_int8_error_in_litert():
    import tensorflow as tf

    import tflconv

    model = _mobile_block()
    rng = np.random.default_rng(0)
    calib = [[rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)] for _ in range(16)]
    held_out = [rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32) for _ in range(16)]

    def convert(api, **options):
        conv = api.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [api.Optimize.DEFAULT]
        conv.representative_dataset = lambda: iter(calib)
        for k, v in options.items():
            setattr(conv, k, v)
        return conv.convert()

    def errors(tflite):
        return np.stack([_run(tflite, x) - np.asarray(model(x)) for x in held_out])

    corrected = errors(convert(tflconv))
    plain = errors(convert(tflconv, bias_correction=False))
    official = errors(convert(tf.lite))
    rmse = {
        k: float(np.sqrt(np.mean(e**2)))
        for k, e in (("corrected", corrected), ("plain", plain), ("official", official))
    }
    # The mean error per logit (the shift correction targets) shrinks, and so does the RMSE.
    assert np.abs(corrected.mean(axis=0)).mean() < 0.6 * np.abs(plain.mean(axis=0)).mean(), rmse
    assert rmse["corrected"] < 0.9 * rmse["plain"], rmse
    assert rmse["corrected"] < rmse["official"], rmse


def test_cli_int8_with_and_without_bias_correction(tmp_path, capsys):
    """`tflconv convert --quantize=int8 --representative-data` quantizes with bias correction;
    `--no-bias-correction` keeps the recipe's biases: same int8 weights, different biases."""
    from tflconv.cli.convert import main
    from tflconv.tflite.reader import read_flatbuffer

    model = _mobile_block()
    model.save(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", rng.uniform(0, 1, (8, 1, 12, 12, 3)).astype(np.float32))

    def convert(name: str, *extra: str) -> dict[str, list[np.ndarray]]:
        out = tmp_path / name
        argv = ["convert", str(tmp_path / "m.keras"), "-o", str(out), "--quantize=int8"]
        assert main([*argv, "--representative-data", str(tmp_path / "calib.npz"), *extra]) == 0
        consts: dict[str, list[np.ndarray]] = {"i8": [], "i32": []}
        for op in read_flatbuffer(out.read_bytes()).walk():
            if op.name == "arith.constant" and op.result.type.dtype in consts:
                consts[op.result.type.dtype].append(np.asarray(op.attributes["value"]))
        return consts

    corrected = convert("corrected.tflite")
    plain = convert("plain.tflite", "--no-bias-correction")
    capsys.readouterr()
    key = lambda a: (a.shape, a.tobytes())  # noqa: E731
    assert sorted(map(key, corrected["i8"])) == sorted(map(key, plain["i8"]))
    assert sorted(map(key, corrected["i32"])) != sorted(map(key, plain["i32"]))
    # The dense head has no bias in the float model; correction gives it one.
    assert len(corrected["i32"]) == len(plain["i32"]) + 1
