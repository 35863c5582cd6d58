"""Conformance: spectral ops (RFFT, RFFT2D, tf.signal.stft, Real/Imag/ComplexAbs) and random ops
(RandomUniform, RandomStandardNormal, Multinomial), converted with tflconv and run in LiteRT.

Spectral outputs are compared with TensorFlow elementwise (complex64 tensors cross the writer and
the interpreter), over shapes, paddings/croppings of the FFT length, dynamic batch and windows.
Random outputs cannot be compared with a reference by value in general; the tests check the
RandomOptions seeds against `tf.lite.TFLiteConverter`'s, the LiteRT semantics of those seeds
(same seeds: same stream in every interpreter; seeds 0/0: fresh draws), shapes, dtypes, ranges and
sample statistics. With TF's Philox seeding the first draw also equals TensorFlow's own, which
is checked too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")

from e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402

from tflconv.api.converter import ConverterError, convert  # noqa: E402

RNG = np.random.default_rng(7)


def concrete(fn, specs):
    return tf.function(fn, input_signature=specs, autograph=False).get_concrete_function()


def spec(shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype)


def signal(*shape: int, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def spectrum(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


def only_builtins(tflite: bytes) -> dict[str, int]:
    hist = op_histogram(tflite)
    assert "tfl.custom" not in hist, hist
    return hist


def official_ops(fn) -> list[str]:
    """Builtin names of the model tf.lite.TFLiteConverter makes of a concrete function."""
    from ai_edge_litert import schema_py_generated as S

    buf = tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert()
    model = S.ModelT.InitFromPackedBuf(buf, 0)
    names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
    codes = [model.operatorCodes[op.opcodeIndex] for op in model.subgraphs[0].operators]
    return sorted(names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in codes)


def our_ops(tflite: bytes) -> list[str]:
    hist = op_histogram(tflite)
    return sorted(k.removeprefix("tfl.").upper() for k, n in hist.items() for _ in range(n))


# --- RFFT / RFFT2D ----------------------------------------------------------------------------

# (input shape, fft_length): exact, zero-padded (input shorter) and cropped (input longer).
RFFT_CASES = [
    ((16,), 16),
    ((3, 8), 8),
    ((2, 3, 32), 32),
    ((2, 10), 16),
    ((2, 3, 20), 16),
    ((4, 2), 2),
    ((2, 2, 2, 64), 64),
]


@pytest.mark.parametrize("shape,n", RFFT_CASES, ids=lambda v: str(v))
def test_rfft(shape, n):
    fn = concrete(lambda x: tf.signal.rfft(x, [n]), [spec(shape)])
    tflite = convert_and_compare(fn, [signal(*shape)], atol=2e-5 * n, rtol=1e-4)
    hist = only_builtins(tflite)
    assert hist["tfl.rfft2d"] == 1
    assert our_ops(tflite) == official_ops(fn)  # reshape, RFFT2D, reshape like ConvertRfftToRfft2d


@pytest.mark.parametrize(
    "shape,run_shape",
    [([None, 16], (3, 16)), ([None, None, 16], (2, 5, 16)), ([None, 3, 16], (2, 3, 16))],
    ids=["batch", "two_dynamic", "batch_rank3"],
)
def test_rfft_dynamic_dims(shape, run_shape):
    fn = concrete(lambda x: tf.signal.rfft(x, [16]), [spec(shape)])
    tflite = convert_and_compare(fn, [signal(*run_shape)], atol=5e-5)
    hist = only_builtins(tflite)
    assert hist["tfl.rfft2d"] == 1
    if shape.count(None) > 1:  # no single reshape target: expand_dims/squeeze at -2
        assert hist["tfl.expand_dims"] == 1 and hist["tfl.squeeze"] == 1


@pytest.mark.parametrize(
    "shape,lengths",
    [
        ((8, 16), (8, 16)),
        ((2, 4, 8), (4, 8)),
        ((2, 3, 4, 8), (4, 8)),
        ((2, 5, 6), (8, 8)),  # zero-padded in both dims
        ((2, 9, 17), (8, 16)),  # cropped in both dims
        ((3, 8), (1, 8)),
        ((2, 4, 4), (2, 2)),
    ],
    ids=lambda v: str(v),
)
def test_rfft2d(shape, lengths):
    fn = concrete(lambda x: tf.signal.rfft2d(x, list(lengths)), [spec(shape)])
    tflite = convert_and_compare(fn, [signal(*shape)], atol=1e-5 * lengths[0] * lengths[1])
    assert only_builtins(tflite)["tfl.rfft2d"] == 1
    assert our_ops(tflite) == official_ops(fn)  # (tf.signal pads short inputs with a PAD)


def test_spectral_model_reads_back_and_verifies():
    """complex64 tensors and RFFT2D's two operands survive the writer, the reader and the
    verifier (what `tflconv inspect` / `tflconv opt model.tflite` do)."""
    from tflconv.core.verifier import verify
    from tflconv.tflite.reader import read_flatbuffer

    fn = concrete(lambda x: tf.abs(tf.signal.rfft(x, [16])), [spec([2, 16])])
    module = read_flatbuffer(convert(fn))
    verify(module)
    (fft,) = [op for op in module.functions[0].walk() if op.name == "tfl.rfft2d"]
    assert [v.type.dtype for v in fft.operands] == ["f32", "i32"]
    assert fft.result.type.dtype == "complex64"


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda a: tf.abs(tf.signal.stft(a, 400, 160, 400)), [2, 1600]),  # 25 ms at 16 kHz
        (lambda a: tf.abs(tf.signal.stft(a, 300, 160, 400)), [2, 1600]),  # frames zero-padded
        (
            lambda a: (
                tf.math.real(tf.signal.rfft(a, [12])),
                tf.math.imag(tf.signal.rfft(a, [12])),
            ),
            [3, 12],
        ),
        (lambda a: tf.abs(tf.signal.rfft(a, [10])), [3, 14]),  # cropped
        (lambda a: tf.abs(tf.signal.rfft(a, [9])), [2, 3, 9]),  # odd
        (lambda a: tf.abs(tf.signal.rfft(a, [1])), [3, 4]),  # the RFFT2D kernel is wrong at 1
    ],
    ids=["stft400", "stft300_in_400", "real_imag12", "crop14_to_10", "odd9", "len1"],
)
def test_rfft_other_lengths_read_as_real_parts(fn, shape):
    """RFFT lengths RFFT2D cannot compute convert when only Real/Imag/ComplexAbs read the
    spectrum: constant DFT rows in FULLY_CONNECTED (the official converter emits an RFFT2D
    that fails at allocate_tensors, or is wrong for length 1)."""
    tflite = convert_and_compare(concrete(fn, [spec(shape)]), [signal(*shape)], atol=1e-3)
    hist = only_builtins(tflite)
    assert "tfl.rfft2d" not in hist and hist["tfl.fully_connected"] == 2


@pytest.mark.parametrize("part", ["real", "imag"])
@pytest.mark.parametrize("n", [10, 16], ids=["n10_dft", "n16_rfft2d"])
def test_part_of_scaled_slice_of_rfft(part, n):
    """Real/Imag of a sliced spectrum times a complex constant: exact split into real parts for
    DFT-row lengths, complex MUL / STRIDED_SLICE builtins for RFFT2D lengths."""
    c = tf.constant(spectrum(4))
    read = tf.math.real if part == "real" else tf.math.imag

    def f(x):
        return read(tf.signal.rfft(x, [n])[..., 1:5] * c)

    tflite = convert_and_compare(concrete(f, [spec([3, n])]), [signal(3, n)], atol=1e-4)
    assert ("tfl.rfft2d" in only_builtins(tflite)) == (n == 16)


def test_real_imag_abs_of_rfft():
    def f(x):
        spectrum = tf.signal.rfft(x, [32])
        return tf.math.real(spectrum), tf.math.imag(spectrum), tf.abs(spectrum), spectrum

    fn = concrete(f, [spec([3, 32])])
    tflite = convert_and_compare(fn, [signal(3, 32)], atol=1e-4)
    hist = only_builtins(tflite)
    assert hist["tfl.real"] == hist["tfl.imag"] == hist["tfl.complex_abs"] == 1
    assert hist["tfl.rfft2d"] == 1  # one FFT shared by the four outputs


@pytest.mark.parametrize("dtype", [tf.complex64, tf.complex128], ids=["complex64", "complex128"])
@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 4, 3)], ids=str)
def test_real_imag_abs_of_complex_input(dtype, shape):
    """Complex model inputs cross the writer and the interpreter; the three kernels read both
    complex widths (f32 / f64 results)."""

    def f(x):
        return tf.math.real(x), tf.math.imag(x), tf.abs(x)

    x = spectrum(*shape).astype(dtype.as_numpy_dtype) * 3.0
    tflite = convert_and_compare(concrete(f, [spec(shape, dtype)]), [x], atol=1e-6)
    assert only_builtins(tflite) == {"tfl.real": 1, "tfl.imag": 1, "tfl.complex_abs": 1}


@pytest.mark.parametrize(
    "frame_length,frame_step,fft_length,window,pad_end",
    [
        (64, 16, 64, "hann", False),
        (48, 16, None, "hann", False),  # fft_length defaults to 64: the frames are zero-padded
        (128, 32, 128, "hamming", True),
        (32, 32, 64, None, False),
    ],
    ids=["hann64", "hann48_pad_fft", "hamming_pad_end", "rect_nooverlap"],
)
def test_stft_spectrogram(frame_length, frame_step, fft_length, window, pad_end):
    window_fn = {
        "hann": tf.signal.hann_window,
        "hamming": tf.signal.hamming_window,
        None: None,
    }[window]

    def spectrogram(audio):
        stft = tf.signal.stft(
            audio, frame_length, frame_step, fft_length, window_fn=window_fn, pad_end=pad_end
        )
        return tf.abs(stft)

    fn = concrete(spectrogram, [spec([2, 1024])])
    tflite = convert_and_compare(fn, [signal(2, 1024)], atol=2e-4, rtol=1e-4)
    hist = only_builtins(tflite)
    assert hist["tfl.rfft2d"] == 1 and hist["tfl.complex_abs"] == 1
    assert sum(hist.values()) <= len(official_ops(fn))


@pytest.mark.parametrize(
    "shape,runs",
    [([None, 2048], [(1, 2048), (3, 2048)]), ([None, None], [(1, 1024), (2, 3000)])],
    ids=["dynamic_batch", "dynamic_length"],
)
def test_stft_dynamic_log_spectrogram(shape, runs):
    """A log-magnitude spectrogram with a dynamic batch (and length), as audio front ends
    export it: the frame count is computed at runtime, the FFT stays RFFT2D."""

    def features(audio):
        mag = tf.abs(tf.signal.stft(audio, 256, 128, 256))
        return tf.math.log(mag + 1e-6)

    fn = concrete(features, [spec(shape)])
    for run in runs:
        tflite = convert_and_compare(fn, [signal(*run)], atol=1e-3, rtol=1e-3)
    assert only_builtins(tflite)["tfl.rfft2d"] == 1


@pytest.mark.parametrize(
    "fn,specs,reason",
    [
        # the complex spectrum itself is an output: no builtin can build it
        (lambda x: tf.signal.rfft(x, [12]), [spec([2, 12])], "not powers of two"),
        (lambda x: tf.signal.rfft2d(x, [8, 6]), [spec([2, 8, 6])], "not powers of two"),
        (lambda x: tf.signal.rfft(x, [1]), [spec([2, 8])], "fft_length of 1 in the last dim"),
        (lambda x: tf.signal.rfft(x, [8]), [spec([2, 8], tf.float64)], "f32 input only"),
        (
            lambda x, n: tf.signal.rfft(x, n),
            [spec([2, 8]), spec([1], tf.int32)],
            "fft_length is not a constant",
        ),
    ],
    ids=["rfft_len12", "rfft2d_len6", "rfft_len1", "f64", "dynamic_length"],
)
def test_rfft_refused_with_reason(fn, specs, reason):
    """Cases the RFFT2D kernel computes wrongly or refuses at prepare time stay tf ops, and the
    gate names the reason (never a model that fails or is wrong at runtime)."""
    with pytest.raises(ConverterError) as err:
        convert(concrete(fn, specs))
    assert reason in err.value.details
    assert "no TFLite builtin" not in err.value.details


# --- IRFFT / IRFFT2D (no builtin: constant DFT matrices; the official converter needs Flex) -------


@pytest.mark.parametrize(
    "shape,n",
    [
        ((2, 5), 8),
        ((2, 5), 9),  # odd length: no Nyquist bin
        ((7,), 12),  # any length, not only powers of two
        ((3, 4, 9), 16),
        ((2, 9), 8),  # more bins than 8 // 2 + 1: cropped
        ((2, 3), 8),  # fewer bins: tf.signal zero-pads the complex input in the graph
    ],
    ids=lambda v: str(v),
)
def test_irfft(shape, n):
    fn = concrete(lambda x: tf.signal.irfft(x, [n]), [spec(shape, tf.complex64)])
    tflite = convert_and_compare(fn, [spectrum(*shape)], atol=1e-5)
    hist = only_builtins(tflite)
    assert hist["tfl.fully_connected"] == 1 and "tfl.pad" not in hist  # no PAD on complex64


@pytest.mark.parametrize(
    "shape,lengths",
    [
        ((2, 8, 5), (8, 8)),
        ((4, 5), (6, 7)),
        ((2, 3, 6, 5), (4, 8)),  # cropped rows
        ((2, 3, 5), (5, 8)),  # padded rows
    ],
    ids=lambda v: str(v),
)
def test_irfft2d(shape, lengths):
    fn = concrete(lambda x: tf.signal.irfft2d(x, list(lengths)), [spec(shape, tf.complex64)])
    tflite = convert_and_compare(fn, [spectrum(*shape)], atol=1e-5)
    hist = only_builtins(tflite)
    assert hist["tfl.batch_matmul"] == 1 and hist["tfl.fully_connected"] == 2


def test_rfft2d_irfft2d_round_trip_dynamic_batch():
    """x -> spectrum -> x with a dynamic batch: RFFT2D forward, the DFT matrices back."""

    def round_trip(x):
        return tf.signal.irfft2d(tf.signal.rfft2d(x, [8, 16]), [8, 16])

    fn = concrete(round_trip, [spec([None, 8, 16])])
    for batch in (1, 3):
        x = signal(batch, 8, 16)
        tflite = convert_and_compare(fn, [x], atol=1e-5)
        np.testing.assert_allclose(run_litert(tflite, [x])[0], x, atol=1e-5)
    assert only_builtins(tflite)["tfl.rfft2d"] == 1


@pytest.mark.parametrize(
    "fft,num_mel_bins,norm",
    [(256, 64, "ortho"), (256, 32, None), (400, 40, "ortho"), (400, 80, None)],
    ids=["fft256_mel64_ortho", "fft256_mel32", "fft400_mel40_ortho", "fft400_mel80"],
)
def test_mfcc_front_end(fft, num_mel_bins, norm):
    """stft -> mel -> log -> tf.signal.dct (an RFFT of twice the bins times constant complex
    twiddles): builtins only, where the official converter needs Flex. Power-of-two lengths use
    RFFT2D; others (a 400-point STFT, the 80-point RFFT of a 40-bin DCT) use DFT rows, with the
    real parts read before the DCT's complex slice and product (complex_parts.py)."""

    def mfcc(audio):
        mag = tf.abs(tf.signal.stft(audio, fft, 160, fft))
        weights = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins, fft // 2 + 1, 16000, 20.0, 4000.0
        )
        log_mel = tf.math.log(tf.tensordot(mag, weights, 1) + 1e-6)
        return tf.signal.dct(log_mel, type=2, norm=norm)[..., :13]

    fn = concrete(mfcc, [spec([2, 2048])])
    tflite = convert_and_compare(fn, [signal(2, 2048)], atol=2e-3, rtol=1e-3)
    hist = only_builtins(tflite)
    rfft2d = [n for n in (fft, 2 * num_mel_bins) if n & (n - 1) == 0]
    assert hist.get("tfl.rfft2d", 0) == len(rfft2d)
    assert "tfl.real" not in hist or 2 * num_mel_bins in rfft2d


@pytest.mark.parametrize("frame_length,frame_step", [(256, 64), (128, 32)], ids=str)
def test_stft_inverse_stft_round_trip(frame_length, frame_step):
    """tf.signal.inverse_stft (IRFFT + overlap-add): builtins only, where the official converter
    needs Flex for IRFFT."""

    def round_trip(x):
        s = tf.signal.stft(x, frame_length, frame_step, frame_length)
        window = tf.signal.inverse_stft_window_fn(frame_step)
        return tf.signal.inverse_stft(s, frame_length, frame_step, frame_length, window_fn=window)

    fn = concrete(round_trip, [spec([2, 2048])])
    x = signal(2, 2048)
    tflite = convert_and_compare(fn, [x], atol=1e-4, rtol=1e-4)
    hist = only_builtins(tflite)
    assert hist["tfl.rfft2d"] == 1 and hist["tfl.fully_connected"] == 1
    # away from the edges the round trip gives the signal back
    y = run_litert(tflite, [x])[0]
    np.testing.assert_allclose(
        y[:, frame_length:-frame_length], x[:, frame_length:-frame_length], atol=1e-4
    )


def test_stft_mask_inverse_stft():
    """Spectral masking (speech enhancement): a gain on the STFT, the masked spectrum rebuilt with
    tf.complex and resynthesized; the inverse FFT reads tf.complex's real parts directly."""

    def enhance(x):
        s = tf.signal.stft(x, 256, 64, 256)
        gain = tf.sigmoid(tf.abs(s) - 1.0)
        masked = tf.complex(tf.math.real(s) * gain, tf.math.imag(s) * gain)
        window = tf.signal.inverse_stft_window_fn(64)
        return tf.signal.inverse_stft(masked, 256, 64, 256, window_fn=window)

    tflite = convert_and_compare(concrete(enhance, [spec([2, 2048])]), [signal(2, 2048)], atol=1e-4)
    hist = only_builtins(tflite)
    assert hist["tfl.rfft2d"] == 1 and hist["tfl.fully_connected"] == 1


@pytest.mark.parametrize(
    "fn,specs,reason",
    [
        (
            lambda x: tf.signal.irfft(x, [8]),
            [spec([2, 5], tf.complex128)],
            "only complex64 -> f32",
        ),
        (
            lambda x: tf.signal.irfft(x, [8]),
            [spec([2, None], tf.complex64)],
            "innermost input dims must be static",
        ),
        (
            lambda x: tf.signal.irfft(x, [4096]),
            [spec([1, 2049], tf.complex64)],
            "DFT matrices would hold",
        ),
    ],
    ids=["complex128", "dynamic_bins", "too_large"],
)
def test_irfft_refused_with_reason(fn, specs, reason):
    with pytest.raises(ConverterError) as err:
        convert(concrete(fn, specs))
    assert reason in err.value.details


def test_rfft_is_not_reported_as_missing_a_builtin():
    from tflconv.tools.analyze import analyze_model

    fn = concrete(lambda a: tf.abs(tf.signal.stft(a, 64, 32, 64)), [spec([1, 512])])
    report = analyze_model(fn)
    rows = {r["op"]: r for r in report["op_types"]}
    assert rows["tf.RFFT"]["builtin"] == rows["tf.RFFT"]["count"] == 1
    assert rows["tf.ComplexAbs"]["builtin"] == 1
    verdict = next(v for v in report["verdicts"] if v["target_ops"] == ["TFLITE_BUILTINS"])
    assert verdict["converts"], verdict


def test_cli_analyze_stft_saved_model(tmp_path, capsys):
    """`tflconv analyze` on a spectrogram SavedModel: every op a builtin, converts as is."""
    import json

    from tflconv.cli import main

    class Spectrogram(tf.Module):
        @tf.function(input_signature=[spec([None, 1024])])
        def serve(self, audio):
            return {"spec": tf.abs(tf.signal.stft(audio, 256, 128, 256))}

    module = Spectrogram()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.serve)
    assert main(["analyze", str(tmp_path / "sm"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["op"]: r for r in report["op_types"]}
    assert rows["tf.RFFT"]["builtin"] == 1 and rows["tf.ComplexAbs"]["builtin"] == 1
    assert all(r["builtin"] == r["count"] for r in rows.values()), rows
    verdict = next(v for v in report["verdicts"] if v["target_ops"] == ["TFLITE_BUILTINS"])
    assert verdict["converts"] and not verdict["allow_custom_ops"]


# --- random ops -------------------------------------------------------------------------------


def random_options(tflite: bytes) -> list[tuple[str, int, int]]:
    """(builtin, seed, seed2) of every random op in a .tflite file, in operator order."""
    from ai_edge_litert import schema_py_generated as S

    model = S.ModelT.InitFromPackedBuf(tflite, 0)
    names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        if name in ("RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL", "MULTINOMIAL"):
            out.append((name, op.builtinOptions.seed, op.builtinOptions.seed2))
    return sorted(out)


def random_model(global_seed: int | None, op_seed: int | None):
    """A function with all three random ops, traced under the given TF seeds."""
    if global_seed is None:
        tf.compat.v1.reset_default_graph()  # clears the global seed
        tf.random.set_seed(None)
    else:
        tf.random.set_seed(global_seed)

    def f(x):
        u = x + tf.random.uniform([4, 5], seed=op_seed)
        n = x * tf.random.normal([4, 5], seed=op_seed)
        c = tf.random.categorical(x, 6, seed=op_seed)
        return u, n, c

    fn = concrete(f, [spec([4, 5])])
    tf.random.set_seed(None)
    return fn


@pytest.mark.parametrize(
    "global_seed,op_seed",
    [(1234, 7), (None, 5), (42, None), (None, None)],
    ids=["global_and_op", "op_only", "global_only", "unseeded"],
)
def test_random_seeds_match_official_converter(global_seed, op_seed):
    fn = random_model(global_seed, op_seed)
    ours = convert(fn)
    official = tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert()
    assert random_options(ours) == random_options(official)
    assert len(random_options(ours)) == 3
    if global_seed is None and op_seed is None:
        assert {o[1:] for o in random_options(ours)} == {(0, 0)}
    else:  # same kernels, same seeds: the official model's draws, bit for bit
        x = np.zeros([4, 5], np.float32)
        for a, b in zip(run_litert(ours, [x]), run_litert(official, [x])):
            np.testing.assert_array_equal(a, b)


def test_random_first_draw_equals_tensorflow():
    """LiteRT seeds the Philox generator like TF's kernels: the first draw is TF's."""
    fn = random_model(1234, 7)
    x = RNG.standard_normal([4, 5]).astype(np.float32)
    got = run_litert(convert(fn), [x])
    expected = [t.numpy() for t in fn(tf.constant(x))]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


def test_random_ops_are_never_merged_or_folded():
    """Random ops are stateful: CSE keeps unseeded twins apart (they draw different values),
    seeded twins stay two ops drawing the same values (as in TF), nothing is constant-folded."""

    def f(x):
        unseeded = [x + tf.random.uniform([64]) for _ in range(2)]
        seeded = [x + tf.random.uniform([64], seed=5) for _ in range(2)]
        return (*unseeded, *seeded)

    fn = concrete(f, [spec([64])])
    tflite = convert(fn)
    assert only_builtins(tflite)["tfl.random_uniform"] == 4
    x = np.zeros([64], np.float32)
    u1, u2, s1, s2 = run_litert(tflite, [x])
    assert not np.array_equal(u1, u2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(s1, fn(tf.constant(x))[2].numpy())


def _interpreter(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    interp.allocate_tensors()
    return interp


def _draw(interp, *inputs: np.ndarray) -> list[np.ndarray]:
    for d, x in zip(interp.get_input_details(), inputs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]


@pytest.mark.parametrize("seeded", [True, False], ids=["seeded", "unseeded"])
def test_random_determinism_across_interpreters_and_invocations(seeded):
    fn = random_model(99 if seeded else None, 3 if seeded else None)
    tflite = convert(fn)
    x = np.ones([4, 5], np.float32)
    a, b = _interpreter(tflite), _interpreter(tflite)
    a1, a2, b1 = _draw(a, x), _draw(a, x), _draw(b, x)
    for first, second, other in zip(a1, a2, b1):
        assert not np.array_equal(first, second)  # each invoke continues the stream
        # Same seeds: every interpreter replays the same stream; seeds 0/0: fresh seeds each.
        assert np.array_equal(first, other) == seeded


@pytest.mark.parametrize("shape", [[4000], [50, 80], [10, 20, 30]], ids=str)
@pytest.mark.parametrize("minval,maxval", [(0.0, 1.0), (-3.0, 5.0)], ids=["unit", "shifted"])
def test_random_uniform_statistics(shape, minval, maxval):
    fn = concrete(
        lambda x: x + tf.random.uniform(shape, minval, maxval, seed=1), [spec([1], tf.float32)]
    )
    tflite = convert(fn)
    assert only_builtins(tflite)["tfl.random_uniform"] == 1
    (u,) = run_litert(tflite, [np.zeros([1], np.float32)])
    assert u.shape == tuple(shape) and u.dtype == np.float32
    assert u.min() >= minval and u.max() < maxval
    n = u.size
    width = maxval - minval
    assert abs(u.mean() - (minval + maxval) / 2) < 5 * width / np.sqrt(12 * n)
    assert abs(u.std() - width / np.sqrt(12)) < 0.05 * width / np.sqrt(12)
    # every tenth of the range gets its share
    hist, _ = np.histogram(u, bins=10, range=(minval, maxval))
    assert np.all(np.abs(hist - n / 10) < 6 * np.sqrt(n / 10))


@pytest.mark.parametrize("shape", [[4000], [40, 100], [5, 16, 50]], ids=str)
@pytest.mark.parametrize("mean,stddev", [(0.0, 1.0), (2.5, 0.3)], ids=["standard", "scaled"])
def test_random_normal_statistics(shape, mean, stddev):
    fn = concrete(
        lambda x: x + tf.random.normal(shape, mean, stddev, seed=2), [spec([1], tf.float32)]
    )
    tflite = convert(fn)
    assert only_builtins(tflite)["tfl.random_standard_normal"] == 1
    (z,) = run_litert(tflite, [np.zeros([1], np.float32)])
    assert z.shape == tuple(shape) and z.dtype == np.float32
    n = z.size
    assert abs(z.mean() - mean) < 5 * stddev / np.sqrt(n)
    assert abs(z.std() - stddev) < 0.06 * stddev
    within = np.mean(np.abs(z - mean) < stddev)  # 68.3 % within one sigma
    assert abs(within - 0.6827) < 0.04


@pytest.mark.parametrize("dtype", [tf.int64, tf.int32], ids=["i64", "i32"])
@pytest.mark.parametrize(
    "probs",
    [[0.1, 0.2, 0.7], [0.25, 0.25, 0.25, 0.25], [0.5, 0.0, 0.05, 0.45, 0.0]],
    ids=["skewed", "uniform", "with_zeros"],
)
def test_multinomial_frequencies(dtype, probs):
    samples = 3000
    fn = concrete(
        lambda logits: tf.random.categorical(logits, samples, dtype=dtype, seed=3),
        [spec([None, len(probs)])],
    )
    tflite = convert(fn)
    assert only_builtins(tflite) == {"tfl.multinomial": 1}
    p = np.asarray(probs)
    with np.errstate(divide="ignore"):
        logits = np.log(np.stack([p, p[::-1]])).astype(np.float32)  # -inf for p = 0
    (out,) = run_litert(tflite, [logits])
    assert out.dtype == dtype.as_numpy_dtype and out.shape == (2, samples)
    assert out.min() >= 0 and out.max() < len(p)
    for row, want in zip(out, (p, p[::-1])):
        freq = np.bincount(row, minlength=len(p)) / samples
        assert np.all(freq[want == 0] == 0)  # impossible classes are never drawn
        assert np.all(np.abs(freq - want) < 5 * np.sqrt(want * (1 - want) / samples) + 1e-9)


@pytest.mark.parametrize("shape_dtype", [tf.int32, tf.int64], ids=["i32", "i64"])
def test_random_uniform_runtime_shape(shape_dtype):
    """A shape fed at runtime (i64 shapes get a CAST: the kernel takes i32 only, and the
    official converter refuses them)."""
    fn = concrete(lambda s: tf.random.uniform(s, seed=4), [spec([2], shape_dtype)])
    tflite = convert(fn)
    hist = only_builtins(tflite)
    assert hist["tfl.random_uniform"] == 1
    assert hist.get("tfl.cast", 0) == (shape_dtype == tf.int64)
    for dims in ([3, 7], [20, 1]):
        (u,) = run_litert(tflite, [np.asarray(dims, shape_dtype.as_numpy_dtype)])
        assert u.shape == tuple(dims) and u.min() >= 0 and u.max() < 1


@pytest.mark.parametrize(
    "fn,specs,reason",
    [
        (
            lambda x: x + tf.random.uniform([2, 3], dtype=tf.float16, seed=1),
            [spec([2, 3], tf.float16)],
            "produces f32 only, not f16",
        ),
        (
            lambda x: x + tf.random.normal([2, 3], dtype=tf.float64, seed=1),
            [spec([2, 3], tf.float64)],
            "produces f32 only, not f64",
        ),
        (
            lambda x: tf.random.categorical(x, 4, seed=1),
            [spec([2, 3], tf.float64)],
            "takes f32 logits, not f64",
        ),
    ],
    ids=["uniform_f16", "normal_f64", "multinomial_f64"],
)
def test_random_refused_with_reason(fn, specs, reason):
    with pytest.raises(ConverterError) as err:
        convert(concrete(fn, specs))
    assert reason in err.value.details


def test_op_versions_and_min_runtime_match_official():
    from ai_edge_litert import schema_py_generated as S

    def f(x):
        s = tf.signal.rfft(x, [8])
        return (
            tf.abs(s),
            tf.math.real(s),
            tf.math.imag(s),
            x + tf.random.uniform([2, 8], seed=1),
            x + tf.random.normal([2, 8], seed=1),
            tf.random.categorical(x, 3, seed=1, dtype=tf.int32),
        )

    def versions(tflite: bytes):
        model = S.ModelT.InitFromPackedBuf(tflite, 0)
        names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
        codes = sorted(
            (names[max(c.builtinCode, c.deprecatedBuiltinCode)], c.version)
            for c in model.operatorCodes
        )
        meta = {bytes(m.name).decode(): m.buffer for m in model.metadata or []}
        runtime = model.buffers[meta["min_runtime_version"]].data.tobytes().rstrip(b"\0")
        return codes, runtime

    fn = concrete(f, [spec([2, 8])])
    official = tf.lite.TFLiteConverter.from_concrete_functions([fn]).convert()
    assert versions(convert(fn)) == versions(official)


@pytest.mark.parametrize(
    "shape,run_shape",
    [([2, 8, 12], (2, 8, 12)), ([None, None, 12], (2, 9, 12)), ([3, 5], (3, 5))],
    ids=["static", "dynamic_sequence", "rank2"],
)
@pytest.mark.parametrize("imaginary", [False, True], ids=["real_input", "complex_input"])
def test_fft2d_real_and_imag_parts(shape, run_shape, imaginary):
    """Real / Imag of FFT2D(Complex(a, b)) (keras.ops.fft2, FNet's token mixing; the official
    converter refuses tf.Complex): DFT matrix products, built at run time for a dynamic dim."""

    def body(a, b):
        z = tf.complex(a, b if imaginary else tf.zeros_like(a))
        y = tf.signal.fft2d(z)
        return tf.math.real(y), tf.math.imag(y)

    fn = concrete(body, [spec(shape), spec(shape)])
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(run_shape).astype(np.float32) for _ in range(2)]
    tflite = convert_and_compare(fn, inputs, atol=2e-4, rtol=1e-4)
    only_builtins(tflite)
