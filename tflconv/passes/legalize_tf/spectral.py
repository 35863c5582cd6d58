"""Legalization patterns: spectral family (real FFTs, and complex FFT2D read as parts).

The one FFT builtin is RFFT2D: a real 2-D FFT over the two innermost dims of an f32 tensor,
producing complex64. Like the official converter (prepare_tf.cc `ConvertRfftToRfft2d` +
legalize_patterns.td `LegalizeRfft2d`), `tf.RFFT` becomes RFFT2D on the input with a unit dim
inserted before the last one and `fft_length` [1, n], then that dim removed again. The complex
results are read with REAL / IMAG / COMPLEX_ABS (the math family's unary table).

The RFFT2D kernel (tflite/kernels/rfft2d.cc) only computes power-of-two lengths (it checks them
when the model is prepared), so `fft_length` must be a constant whose entries are powers of two:
otherwise the op stays a tf op and the gate says why (the official converter emits the builtin
anyway and the model fails at `allocate_tensors`).

The inverse transforms have no builtin (the official converter leaves `tf.IRFFT` to Flex and
`tf.IRFFT2D` to a custom op the standard runtime lacks). They are linear maps of the real and
imaginary parts, so they lower to REAL / IMAG + constant DFT matrices applied with
FULLY_CONNECTED (along the last dim) and BATCH_MATMUL (along the dim before it), for any
constant `fft_length`, as long as the matrices stay under `MAX_DFT_WEIGHTS` elements.

A complex FFT2D of `tf.Complex(a, b)` read through Real / Imag (`keras.ops.fft2`, FNet) is two
DFT matrix products likewise (`LegalizeFft2dParts`), the matrices built at run time along a
dynamic dim.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, TypeAttr

from . import complex_parts  # noqa: F401  (registers its canonicalizations)
from .common import const, constant_value, create_tfl, int_list, scalar_const
from .lower_tf import tf_op
from .nn_matmul import batch_matmul, fully_connected
from .tensor_util import i32_const, reshape

MAX_DFT_WEIGHTS = 1 << 22
"""Most f32 elements (16 MiB) the constant DFT matrices of one inverse FFT may take."""


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def fft_length_reason(op: Operation, rank: int) -> tuple[list[int] | None, str | None]:
    """The constant fft_length of an RFFT/RFFT2D op, or why the RFFT2D kernel cannot take it."""
    x, fft_length = op.operands
    if x.type.dtype != "f32" or x.type.is_quantized:
        return None, f"tfl.rfft2d runs on f32 input only, not {x.type.dtype}"
    lengths = int_list(fft_length)
    if lengths is None:
        return None, "fft_length is not a constant (the RFFT2D kernel needs known lengths)"
    if len(lengths) != rank:
        return None, f"fft_length has {len(lengths)} entries, expected {rank}"
    bad = [n for n in lengths if not _power_of_two(n)]
    if bad:
        return None, (
            f"fft_length {lengths} has entries that are not powers of two ({bad}); the RFFT2D "
            "kernel computes power-of-two lengths only"
        )
    if lengths[-1] < 2:
        return None, "an fft_length of 1 in the last dim is not computed by the RFFT2D kernel"
    return lengths, None


class LegalizeRfft2d(RewritePattern):
    """tf.RFFT2D(x: f32, fft_length) -> tfl.rfft2d(x, fft_length: i32) (constant powers of two)"""

    root = "tf.RFFT2D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.rank is not None and x.type.rank < 2:
            return rw.fail("tfl.rfft2d needs an input of rank >= 2")
        lengths, reason = fft_length_reason(op, 2)
        if reason:
            return rw.fail(reason)
        if op.result.type.dtype != "complex64":
            return rw.fail(f"tfl.rfft2d produces complex64, not {op.result.type.dtype}")
        rw.replace_with_new(op, "tfl.rfft2d", [x, i32_const(rw, lengths)])
        return None


def _insert_unit_dim(shape: tuple[int | None, ...], at: int) -> tuple[int | None, ...]:
    """`shape` with a 1 inserted before position `at` (counted from the end, like -2)."""
    pos = len(shape) + 1 + at
    return shape[:pos] + (1,) + shape[pos:]


def _expand(rw: PatternRewriter, x: Value, out_type: TensorType) -> Value:
    """x with a unit dim before its last one: a reshape when at most one dim is dynamic (the
    official converter's ExpandDims -> Reshape), else tfl.expand_dims(x, -2)."""
    out = reshape(rw, x, out_type)
    if out is not None:
        return out
    return create_tfl(rw, "expand_dims", [x, i32_const(rw, -2)], [out_type]).result


def _squeeze(rw: PatternRewriter, x: Value, out_type: TensorType) -> Value:
    """x without its unit dim before the last one (a reshape, or tfl.squeeze when dynamic)."""
    out = reshape(rw, x, out_type)
    if out is not None:
        return out
    return create_tfl(rw, "squeeze", [x], [out_type], squeeze_dims=[-2]).result


class LegalizeRfft(RewritePattern):
    """tf.RFFT(x, [n]) -> reshape(tfl.rfft2d(reshape(x, [..., 1, w]), [1, n]), [..., n/2+1])
    (ConvertRfftToRfft2d: the unit dim goes in at -2 and comes out again)"""

    root = "tf.RFFT"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        out_t = op.result.type
        if x.type.shape is None or out_t.shape is None:
            return rw.fail("unranked input or result")
        if x.type.rank == 0:
            return rw.fail("RFFT needs an input of rank >= 1")
        lengths, reason = fft_length_reason(op, 1)
        if reason:
            return rw.fail(reason)
        if out_t.dtype != "complex64":
            return rw.fail(f"tfl.rfft2d produces complex64, not {out_t.dtype}")
        wide_in = x.type.with_shape(_insert_unit_dim(x.type.shape, -2))
        wide_out = out_t.with_shape(_insert_unit_dim(out_t.shape, -2))
        expanded = _expand(rw, x, wide_in)
        fft_len = i32_const(rw, np.asarray([1, lengths[0]], dtype=np.int32))  # type: ignore[index]
        fft = create_tfl(rw, "rfft2d", [expanded, fft_len], [wide_out]).result
        rw.replace(op, _squeeze(rw, fft, out_t))
        return None


# --- inverse real FFTs as DFT matrices ------------------------------------------------------------


def _twiddle(rows: int, cols: int, n: int) -> np.ndarray:
    """Angles 2*pi*(r*c mod n)/n of an [rows, cols] grid (reduced mod n to stay exact)."""
    r = np.arange(rows, dtype=np.int64)[:, None]
    c = np.arange(cols, dtype=np.int64)[None, :]
    return 2.0 * np.pi * ((r * c) % n) / n


def _half_spectrum_weights(bins_in: int, n: int) -> np.ndarray:
    """w_k of the inverse real DFT of length n over `bins_in` input bins: 1 for the DC and the
    Nyquist bin, 2 for the others (each stands for itself and its conjugate), 0 for the bins past
    n // 2 (TF crops the input to n // 2 + 1 bins)."""
    k = np.arange(bins_in)
    w = np.where((k == 0) | ((n % 2 == 0) & (k == n // 2)), 1.0, 2.0)
    w[k > n // 2] = 0.0
    return w


def _irfft_matrices(bins_in: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """FULLY_CONNECTED weights [n, 2*bins_in] over concat(re, im) along the last dim: the real and
    imaginary parts of sum_k w_k X[k] exp(2 pi i k t / n) (unscaled)."""
    theta = _twiddle(n, bins_in, n)  # [n, bins]
    w = _half_spectrum_weights(bins_in, n)[None, :]
    cos, sin = w * np.cos(theta), w * np.sin(theta)
    real = np.concatenate([cos, -sin], axis=1)
    imag = np.concatenate([sin, cos], axis=1)
    return real, imag


def _inverse_reason(op: Operation, rank: int) -> tuple[list[int] | None, str | None]:
    """The constant fft_length of an IRFFT/IRFFT2D the DFT lowering takes, or why not."""
    x, fft_length = op.operands
    if x.type.dtype != "complex64" or op.result.type.dtype != "f32":
        return None, f"only complex64 -> f32 is lowered, not {x.type.dtype}"
    shape = x.type.shape
    if shape is None or len(shape) < rank or any(d is None for d in shape[-rank:]):
        return None, f"the {rank} innermost input dims must be static (they size DFT matrices)"
    lengths = int_list(fft_length)
    if lengths is None:
        return None, "fft_length is not a constant (it sizes the DFT matrices)"
    if len(lengths) != rank or min(lengths) < 1:
        return None, f"fft_length {lengths} is not {rank} positive lengths"
    return lengths, None


def _without_zero_padding(x: Value, rank: int) -> Value:
    """The input of a zero tf.Pad / tfl.pad that only appends to the `rank` innermost dims of x
    (tf.signal pads short spectra so in the graph; the DFT matrices treat missing bins as zeros
    anyway, and the PAD kernel does not take complex64)."""
    pad = x.defining_op
    if pad is None or pad.name not in ("tf.Pad", "tfl.pad"):
        return x
    amounts = constant_value(pad.operands[1])
    if amounts is None or amounts.ndim != 2 or amounts.shape[1] != 2:
        return x
    if np.any(amounts[:, 0] != 0) or np.any(amounts[:-rank, 1] != 0) or np.any(amounts < 0):
        return x
    inner = pad.operands[0]
    shape = inner.type.shape
    if shape is None or any(d is None for d in shape[-rank:]):
        return x
    return inner


def _erase_dead_producers(rw: PatternRewriter, value: Value) -> None:
    """Erase the zero pad / tf.Complex the lowering read through once nothing else uses it (a
    complex PAD or tf.Complex left behind has no kernel, even when dead code removal is not in
    the pipeline)."""
    for _ in range(2):  # a pad of a tf.Complex
        producer = value.defining_op
        if producer is None or producer.name not in ("tf.Pad", "tfl.pad", "tf.Complex"):
            return
        if producer.result.uses:
            return
        value = producer.operands[0]
        rw.erase(producer)


def _weights_reason(count: int) -> str | None:
    if count > MAX_DFT_WEIGHTS:
        return f"the DFT matrices would hold {count} elements (more than {MAX_DFT_WEIGHTS})"
    return None


def _real_imag_concat(rw: PatternRewriter, x: Value) -> Value:
    """concat(real(x), imag(x)) along the last dim, as f32; x = tf.Complex(re, im) of same-shape
    f32 parts is read directly (no builtin builds a complex tensor)."""
    parts_t = x.type.with_dtype("f32")
    maker = x.defining_op
    if (
        maker is not None
        and maker.name == "tf.Complex"
        and all(v.type == parts_t for v in maker.operands)
    ):
        re, im = maker.operands
    else:
        re = create_tfl(rw, "real", [x], [parts_t]).result
        im = create_tfl(rw, "imag", [x], [parts_t]).result
    shape = x.type.shape
    out_t = parts_t.with_shape(shape[:-1] + (2 * shape[-1],))  # type: ignore[index,operator]
    axis = len(shape) - 1  # type: ignore[arg-type]
    return create_tfl(
        rw, "concatenation", [re, im], [out_t], axis=axis, fused_activation_function="NONE"
    ).result


class LegalizeIrfft(RewritePattern):
    """tf.IRFFT(x: complex64, [n]) -> tfl.fully_connected(concat(tfl.real(x), tfl.imag(x)),
    const inverse-DFT matrix [n, 2k]){keep_num_dims} (no builtin inverse FFT exists)"""

    root = "tf.IRFFT"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        lengths, reason = _inverse_reason(op, 1)
        if reason:
            return rw.fail(reason)
        (n,) = lengths  # type: ignore[misc]
        x = _without_zero_padding(op.operands[0], 1)
        bins = int(x.type.shape[-1])  # type: ignore[index,arg-type]
        reason = _weights_reason(2 * bins * n)
        if reason:
            return rw.fail(reason)
        real, _ = _irfft_matrices(bins, n)
        weights = const(rw, (real / n).astype(np.float32))
        parts = _real_imag_concat(rw, x)
        operand = op.operands[0]
        rw.replace(op, fully_connected(rw, parts, weights, op.result.type, keep_num_dims=True))
        _erase_dead_producers(rw, operand)
        return None


class LegalizeIrfft2d(RewritePattern):
    """tf.IRFFT2D(x: complex64, [m, n]) -> tfl.batch_matmul(const [m, 2h], concat(fc_re, fc_im)
    along -2), fc_* = tfl.fully_connected(concat(real(x), imag(x)), inverse-DFT rows) (the last
    dim first, as complex sums; then the real part of the inverse DFT along the dim before)"""

    root = "tf.IRFFT2D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        lengths, reason = _inverse_reason(op, 2)
        if reason:
            return rw.fail(reason)
        m, n = lengths  # type: ignore[misc]
        x = _without_zero_padding(op.operands[0], 2)
        shape = x.type.shape
        rows, bins = int(shape[-2]), int(shape[-1])  # type: ignore[index,arg-type]
        reason = _weights_reason(2 * (2 * bins * n) + m * 2 * rows)
        if reason:
            return rw.fail(reason)
        out_t = op.result.type
        # Step 1, along the last dim: Q[j, t] = sum_k w_k X[j, k] exp(2 pi i k t / n).
        real, imag = _irfft_matrices(bins, n)
        parts = _real_imag_concat(rw, x)
        q_t = out_t.with_shape(shape[:-1] + (n,))  # type: ignore[index,operator]
        q_re = fully_connected(rw, parts, const(rw, real.astype(np.float32)), q_t, True)
        q_im = fully_connected(rw, parts, const(rw, imag.astype(np.float32)), q_t, True)
        stacked_t = out_t.with_shape(shape[:-2] + (2 * rows, n))  # type: ignore[index,operator]
        stacked = create_tfl(
            rw,
            "concatenation",
            [q_re, q_im],
            [stacked_t],
            axis=len(shape) - 2,  # type: ignore[arg-type]
            fused_activation_function="NONE",
        ).result
        # Step 2, along the dim before: x[s, t] = Re(sum_j Q[j, t] exp(2 pi i j s / m)) / (m n);
        # rows past m are cropped (zero columns), missing rows are zero padding.
        theta = _twiddle(m, rows, m)
        keep = (np.arange(rows) < m)[None, :]
        left = np.concatenate([np.cos(theta) * keep, -np.sin(theta) * keep], axis=1) / (m * n)
        lhs = const(rw, left.astype(np.float32))
        operand = op.operands[0]
        rw.replace(op, batch_matmul(rw, lhs, stacked, out_t, False, False))
        _erase_dead_producers(rw, operand)
        return None


# --- forward RFFT of other lengths, when only its real parts are read ------------------------------

_PART_READERS = {
    "tf.Real": "real",
    "tfl.real": "real",
    "tf.Imag": "imag",
    "tfl.imag": "imag",
    "tf.ComplexAbs": "abs",
    "tfl.complex_abs": "abs",
}


class LegalizeRfftAsDft(RewritePattern):
    """tf.RFFT(x, [n]) read only by Real / Imag / ComplexAbs, n not a power of two ->
    tfl.fully_connected(x, const cos / -sin DFT rows [n/2+1, w]) per part read, and
    tfl.sqrt(re * re + im * im) for the magnitude (e.g. a 400-point spectrogram)"""

    root = "tf.RFFT"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, fft_length = op.operands
        lengths = int_list(fft_length)
        if lengths is None or len(lengths) != 1 or lengths[0] < 1:
            return rw.fail("fft_length is not one constant positive length")
        (n,) = lengths
        if _power_of_two(n) and n >= 2:
            return rw.fail("a power-of-two length: RFFT2D computes it")
        if x.type.dtype != "f32" or x.type.is_quantized:
            return rw.fail(f"only f32 input is lowered, not {x.type.dtype}")
        x = _without_zero_padding(x, 1)
        shape = x.type.shape
        if shape is None or not shape or shape[-1] is None:
            return rw.fail("the last input dim must be static (it sizes the DFT matrix)")
        users = list(op.result.users)
        parts = {_PART_READERS.get(u.name) for u in users}
        if not users or None in parts:
            return rw.fail("the complex result is used by ops other than Real/Imag/ComplexAbs")
        width = int(shape[-1])
        bins = n // 2 + 1
        reason = _weights_reason(2 * bins * width)
        if reason:
            return rw.fail(reason)
        theta = _twiddle(bins, width, n)  # [bins, width]
        used = (np.arange(width) < n)[None, :]  # samples past n are cropped, as TF does
        part_t = op.result.type.with_dtype("f32")
        values: dict[str, Value] = {}

        def part(name: str) -> Value:
            if name not in values:
                rows = (np.cos(theta) if name == "real" else -np.sin(theta)) * used
                weights = const(rw, rows.astype(np.float32))
                values[name] = fully_connected(rw, x, weights, part_t, keep_num_dims=True)
            return values[name]

        if "abs" in parts:
            re, im = part("real"), part("imag")
            re2 = create_tfl(rw, "mul", [re, re], [part_t], fused_activation_function="NONE")
            im2 = create_tfl(rw, "mul", [im, im], [part_t], fused_activation_function="NONE")
            total = create_tfl(
                rw, "add", [re2.result, im2.result], [part_t], fused_activation_function="NONE"
            )
            values["abs"] = create_tfl(rw, "sqrt", [total.result], [part_t]).result
        for name in ("real", "imag"):
            if name in parts:
                part(name)
        for user in users:
            rw.replace(user, values[_PART_READERS[user.name]])
        operand = op.operands[0]
        rw.erase(op)
        _erase_dead_producers(rw, operand)
        return None


class LegalizeFft2dParts(RewritePattern):
    """tf.Real / tf.Imag of tf.FFT2D(tf.Complex(a, b)) (what `keras.ops.fft2` and FNet's token
    mixing build; the official converter refuses tf.Complex) -> two DFT matrix products:
    with F = C - iS over each of the two innermost dims (C = cos, S = sin of 2 pi (j k mod n) / n),
    P = F_M Z, Y = P F_N:

        Re P = C_M A + S_M B      Im P = C_M B - S_M A      (A, B = Re, Im of Z; B may be zero)
        Re Y = Re P C_N + Im P S_N                           Im Y = Im P C_N - Re P S_N

    A static dim gets constant matrices; a dynamic one (a text model's sequence) builds them
    when the model runs (RANGE, FLOOR_MOD, COS, SIN), the product j k reduced mod n first so
    the angles stay exact."""

    root = "tf.FFT2D"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        maker = op.operands[0].defining_op
        if maker is None or maker.name != "tf.Complex":
            return rw.fail("the input is not tf.Complex(re, im) (no builtin builds complex)")
        a, b = maker.operands
        part_t = op.result.type.with_dtype("f32")
        if op.result.type.dtype != "complex64" or a.type != part_t or b.type != part_t:
            return rw.fail("only complex64 of two f32 parts of the result's shape is lowered")
        shape = part_t.shape
        if shape is None or len(shape) < 2:
            return rw.fail("FFT2D needs a ranked input of rank >= 2")
        users = list(op.result.users)
        if not users or any(u.name not in ("tf.Real", "tf.Imag") for u in users):
            return rw.fail("the spectrum is used by ops other than Real / Imag")
        for dim in shape[-2:]:
            if dim is not None and (reason := _weights_reason(2 * dim * dim)):
                return rw.fail(reason)
        cos_m, sin_m = _dft_matrices(rw, a, len(shape) - 2)
        cos_n, sin_n = _dft_matrices(rw, a, len(shape) - 1)

        def matmul(x: Value, y: Value) -> Value:
            return tf_op(rw, "BatchMatMulV2", [x, y], part_t, adj_x=False, adj_y=False)

        def combine(name: str, x: Value, y: Value) -> Value:
            return tf_op(rw, name, [x, y], part_t)

        zero_b = _is_zeros(b)
        p_re = matmul(cos_m, a) if zero_b else combine("AddV2", matmul(cos_m, a), matmul(sin_m, b))
        s_a = matmul(sin_m, a)
        p_im = tf_op(rw, "Neg", [s_a], part_t) if zero_b else combine("Sub", matmul(cos_m, b), s_a)
        parts = {
            "tf.Real": lambda: combine("AddV2", matmul(p_re, cos_n), matmul(p_im, sin_n)),
            "tf.Imag": lambda: combine("Sub", matmul(p_im, cos_n), matmul(p_re, sin_n)),
        }
        values: dict[str, Value] = {}
        for user in users:
            if user.name not in values:
                values[user.name] = parts[user.name]()
            rw.replace(user, values[user.name])
        rw.erase(op)
        _erase_dead_producers(rw, maker.result)
        return None


def _dft_matrices(rw: PatternRewriter, x: Value, axis: int) -> tuple[Value, Value]:
    """cos and sin of 2 pi (j k mod n) / n, [n, n], n = x's size along `axis`."""
    n = x.type.shape[axis]  # type: ignore[index]
    if n is not None:
        theta = _twiddle(n, n, n)
        return const(rw, np.cos(theta).astype(np.float32)), const(
            rw, np.sin(theta).astype(np.float32)
        )
    square = TensorType((None, None), "i32")
    shape = tf_op(rw, "Shape", [x], TensorType((x.type.rank,), "i32"), out_type=TypeAttr("i32"))
    size = tf_op(rw, "GatherV2", [shape, scalar_const(rw, axis, "i32"), scalar_const(rw, 0, "i32")],
                 TensorType((), "i32"), batch_dims=0)  # fmt: skip
    steps = tf_op(rw, "Range", [scalar_const(rw, 0, "i32"), size, scalar_const(rw, 1, "i32")],
                  TensorType((None,), "i32"), Tidx=TypeAttr("i32"))  # fmt: skip
    rows = tf_op(
        rw,
        "Reshape",
        [steps, i32_const(rw, np.array([-1, 1], np.int32))],
        TensorType((None, 1), "i32"),
    )
    cols = tf_op(
        rw,
        "Reshape",
        [steps, i32_const(rw, np.array([1, -1], np.int32))],
        TensorType((1, None), "i32"),
    )
    product = tf_op(rw, "FloorMod", [tf_op(rw, "Mul", [rows, cols], square), size], square)
    angle_t = square.with_dtype("f32")
    turns = tf_op(rw, "Cast", [product], angle_t, Truncate=False)
    size_f = tf_op(rw, "Cast", [size], TensorType((), "f32"), Truncate=False)
    step = tf_op(rw, "RealDiv", [scalar_const(rw, 2 * np.pi, "f32"), size_f], size_f.type)
    angle = tf_op(rw, "Mul", [turns, step], angle_t)
    return tf_op(rw, "Cos", [angle], angle_t), tf_op(rw, "Sin", [angle], angle_t)


def _is_zeros(x: Value) -> bool:
    op = x.defining_op
    if op is not None and op.name == "tf.ZerosLike":
        return True
    value = constant_value(x)
    return value is not None and not np.any(value)


PATTERNS: list[RewritePattern] = [
    LegalizeRfft2d(),
    LegalizeRfft(),
    LegalizeRfftAsDft(),
    LegalizeIrfft(),
    LegalizeIrfft2d(),
    LegalizeFft2dParts(),
]
