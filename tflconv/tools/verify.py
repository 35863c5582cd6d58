"""`--verify`: run the converted model in LiteRT and the source model in TensorFlow on the same
inputs and compare, output by output.

Float models (today's check): one seeded random draw (or `--verify-inputs`), every element within
`atol + rtol * |expected|`.

Quantized models (any quantized tensor in the result) are judged as quantized models:
- inputs come from `--verify-inputs`, else the representative dataset (the calibration samples),
  else uniform draws from each input's calibrated range (the scale and zero point of the input's
  quantize op); integer model inputs are quantized for LiteRT and the same values, dequantized,
  go to TensorFlow; integer outputs are dequantized before comparing;
- per output: RMSE, max error, SNR in dB, and the max error relative to the output's spread
  (max - min of TensorFlow's output over all samples);
- tolerance: `scale_tol` steps of the output's quantization scale (the scale of the output, or of
  the tensor its final dequantize reads); outputs without one (dynamic-range, float16 models)
  allow `range_tol` of their spread;
- an output that LiteRT computes the same for every input while TensorFlow's varies fails
  ("constant output"), and one that does not vary in either is flagged: the comparison then
  says little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.api.converter import ConversionResult, ConverterError
from tflconv.core.ir import Function
from tflconv.core.types import TensorType
from tflconv.passes.quantize.dataset import InputSpec, normalize_sample, open_dataset

DEFAULT_SAMPLES = 8
DEFAULT_SCALE_TOL = 8.0
DEFAULT_RANGE_TOL = 0.05


@dataclass
class VerifyOptions:
    """What `--verify` compares with and how strictly."""

    seed: int = 0
    atol: float = 1e-4
    rtol: float = 1e-3
    representative: Any = None
    """The representative dataset of the conversion (an .npz path, list or callable)."""
    samples: int = DEFAULT_SAMPLES
    """Quantized models: how many inputs to compare on."""
    scale_tol: float = DEFAULT_SCALE_TOL
    """Quantized models: allowed max error in steps of the output's quantization scale."""
    range_tol: float = DEFAULT_RANGE_TOL
    """Quantized models without an output scale: allowed max error / output spread."""


@dataclass
class OutputStats:
    """The comparison of one output over all samples (quantized verify)."""

    rmse: float
    max_err: float
    snr_db: float
    spread: float
    lo: float
    hi: float
    litert_constant: bool
    source_constant: bool
    notes: list[str] = field(default_factory=list)

    @property
    def rel_range(self) -> float:
        return self.max_err / self.spread if self.spread > 0 else math.inf * (self.max_err > 0)


def output_stats(got: list[np.ndarray], expected: list[np.ndarray]) -> OutputStats:
    """Error statistics of LiteRT's outputs `got` against TF's `expected`, one array per sample."""
    g = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in got])
    e = np.concatenate([np.asarray(x, np.float64).reshape(-1) for x in expected])
    diff = g - e
    rmse = float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0
    max_err = float(np.abs(diff).max()) if diff.size else 0.0
    noise = float(np.sum(diff**2))
    signal = float(np.sum(e**2))
    snr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf)
    lo, hi = (float(e.min()), float(e.max())) if e.size else (0.0, 0.0)

    def constant(arrays: list[np.ndarray]) -> bool:
        return len(arrays) > 1 and all(np.array_equal(arrays[0], a) for a in arrays[1:])

    return OutputStats(rmse, max_err, snr, hi - lo, lo, hi, constant(got), constant(expected))


# --- inputs ----------------------------------------------------------------------------------


def load_inputs(path: str) -> dict[str, Any]:
    """Arrays from an .npz: keyed by input name, `signature/name`, or positional `arr_<i>`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as e:
        raise ConverterError(f"--verify-inputs {path}: cannot read: {e}", phase="options") from e


def random_input(detail: dict[str, Any], rng: Any) -> Any:
    """A seeded random array for a LiteRT input (dynamic dims get size 2)."""
    dtype = np.dtype(detail["dtype"])
    shape = _shape(detail)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 8, shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    raise ConverterError(
        f"--verify: cannot make random inputs of type {dtype}; use --verify-inputs"
    )


def _shape(detail: dict[str, Any], batch: int = 2) -> list[int]:
    sig = detail.get("shape_signature")
    dims = list(sig) if sig is not None and len(sig) else list(detail["shape"])
    return [batch if d < 0 else int(d) for d in dims]


def _pick(given: dict[str, Any], key: str, name: str, index: int, single: bool) -> Any:
    for candidate in (
        f"{key}/{name}",
        name if single else None,
        f"arr_{index}" if single else None,
    ):
        if candidate is not None and candidate in given:
            return given[candidate]
    raise ConverterError(
        f"--verify-inputs has no array for input {name!r} of signature {key!r} "
        f"(has {', '.join(sorted(given)) or 'nothing'})",
        phase="options",
    )


def check_given_shapes(result: ConversionResult, given: dict[str, Any]) -> None:
    """--verify-inputs arrays whose shape does not fit the model's input are a bad input
    (exit 2, no output), not a verification failure."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_content=result.tflite, num_threads=1)
    except Exception:  # noqa: BLE001 (verify reports a model LiteRT cannot load)
        return
    signatures = interp.get_signature_list()
    entries = {f.attributes.get("signature_key"): f for f in result.module.functions}
    for key in signatures:
        details = interp.get_signature_runner(key).get_input_details()
        fn = entries.get(key)
        names = list(fn.attributes.get("input_names", [])) if fn is not None else []
        names = (
            names if sorted(names) == sorted(details) else sorted(details)
        )  # as verify_conversion
        for i, name in enumerate(names):
            arr = _find_given(given, key, name, i, len(signatures) == 1)
            if arr is None:
                continue  # verify_conversion names the missing array
            sig = details[name].get("shape_signature")
            want = [
                int(d) for d in (sig if sig is not None and len(sig) else details[name]["shape"])
            ]
            got = list(np.shape(arr))
            if len(got) != len(want) or any(w >= 0 and w != g for w, g in zip(want, got)):
                raise ConverterError(
                    f"--verify-inputs: array for input {name!r} of signature {key!r} has shape "
                    f"{got}, the model takes {[d if d >= 0 else None for d in want]}",
                    phase="options",
                )


def _find_given(given: dict[str, Any], key: str, name: str, index: int, single: bool) -> Any:
    try:
        return _pick(given, key, name, index, single)
    except ConverterError:
        return None


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())[:300]


# --- quantization facts of the converted module ------------------------------------------------


def is_quantized(result: ConversionResult) -> bool:
    """True when any value of the converted module has a quantized type, or weights are stored
    in reduced precision and dequantized (float16 models)."""
    for op in result.module.walk():
        if op.name == "tfl.dequantize":
            return True
        for v in op.results:
            if v.type.quant is not None and v.type.quant.scale:
                return True
    return False


def _scale_of(t: TensorType) -> tuple[float, int] | None:
    q = t.quant
    if q is None or len(q.scale) != 1:
        return None
    return float(q.scale[0]), int(q.zero_point[0])


def output_quant(fn: Function | None) -> list[tuple[float, tuple[float, float]] | None]:
    """Per output of an entry function: (scale, representable float range) of the output (or of
    what its final dequantize reads), None when it is not quantized."""
    if fn is None or not fn.body.blocks:
        return []
    term = fn.body.blocks[0].terminator
    if term is None:
        return []
    out: list[tuple[float, tuple[float, float]] | None] = []
    for v in term.operands:
        t = v.type
        op = v.defining_op
        if _scale_of(t) is None and op is not None and op.name == "tfl.dequantize":
            t = op.operands[0].type
        found = _scale_of(t)
        if found is None:
            out.append(None)
            continue
        scale, zp = found
        info = np.iinfo(np.dtype(_NP_INT.get(t.dtype, "int8")))
        out.append((scale, ((info.min - zp) * scale, (info.max - zp) * scale)))
    return out


def output_scales(fn: Function | None) -> list[float | None]:
    """Per output of an entry function: the quantization scale (see `output_quant`)."""
    return [None if q is None else q[0] for q in output_quant(fn)]


def input_ranges(fn: Function | None) -> list[tuple[float, float] | None]:
    """Per input of an entry function: the float range its quantization covers (the input's own
    quantized type, or the type its `tfl.quantize` user makes), None when unknown."""
    if fn is None:
        return []
    out: list[tuple[float, float] | None] = []
    for arg in fn.args:
        t = arg.type
        if _scale_of(t) is None:
            users = [u for u in arg.users if u.name == "tfl.quantize"]
            t = users[0].results[0].type if users else t
        sz = _scale_of(t)
        if sz is None:
            out.append(None)
            continue
        scale, zp = sz
        info = np.iinfo(np.dtype(_NP_INT.get(t.dtype, "int8")))
        out.append(((info.min - zp) * scale, (info.max - zp) * scale))
    return out


_NP_INT = {"i8": "int8", "ui8": "uint8", "i16": "int16", "u8": "uint8"}


def _qparams(detail: dict[str, Any]) -> tuple[float, int] | None:
    scale, zp = detail.get("quantization", (0.0, 0))
    dtype = np.dtype(detail["dtype"])
    if scale and dtype.kind in "iu":
        return float(scale), int(zp)
    return None


def _to_litert(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    q = _qparams(detail)
    dtype = np.dtype(detail["dtype"])
    if q is None or np.asarray(x).dtype.kind in "iu":
        return np.asarray(x).astype(dtype)
    scale, zp = q
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(x, np.float64) / scale) + zp, info.min, info.max).astype(
        dtype
    )


def _to_float(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    q = _qparams(detail)
    if q is None:
        return np.asarray(x)
    scale, zp = q
    return ((np.asarray(x, np.float64) - zp) * scale).astype(np.float32)


# --- the comparison -------------------------------------------------------------------------


def verify_conversion(
    result: ConversionResult, given: dict[str, Any] | None, options: VerifyOptions
) -> tuple[bool, list[str]]:
    """Compare LiteRT with the source model on every signature; (passed, report lines)."""
    if is_quantized(result):
        return _verify_quantized(result, given, options)
    return compare_with_tf(result, given, seed=options.seed, atol=options.atol, rtol=options.rtol)


def _entries(result: ConversionResult) -> dict[Any, Function]:
    return {
        fn.attributes.get("signature_key"): fn
        for fn in result.module.functions
        if fn.attributes.get("entry")
    }


def _interpreter(result: ConversionResult) -> tuple[Any, str | None]:
    from ai_edge_litert.interpreter import Interpreter  # heavy: only when verifying

    try:
        return Interpreter(model_content=result.tflite, num_threads=1), None
    except Exception as e:  # e.g. Flex ops: the pip LiteRT has no TF kernels
        return None, f"verify: LiteRT cannot load the model: {_one_line(e)}"


def _input_names(fn: Function | None, details: dict[str, Any]) -> list[str]:
    names = list(fn.attributes.get("input_names", [])) if fn is not None else []
    return names if sorted(names) == sorted(details) else sorted(details)


def _samples(
    result: ConversionResult,
    key: str,
    fn: Function | None,
    names: list[str],
    details: dict[str, Any],
    given: dict[str, Any] | None,
    single: bool,
    options: VerifyOptions,
    rng: Any,
) -> tuple[list[dict[str, np.ndarray]], str]:
    """Float input samples (by input name) and where they came from."""
    if given is not None:
        arrays = {n: np.asarray(_pick(given, key, n, i, single)) for i, n in enumerate(names)}
        return [arrays], "inputs from file"
    if options.representative is not None and single and fn is not None:
        by_name = dict(zip(fn.attributes.get("input_names", names), fn.args))
        # The samples are float (as for calibration), whatever the model's input type.
        specs = [
            InputSpec(n, TensorType(by_name[n].type.shape if n in by_name else None, "f32"))
            for n in names
        ]
        try:
            it, _ = open_dataset(options.representative, specs)
            out = []
            for i, raw in enumerate(it):
                if i >= options.samples:
                    break
                out.append(dict(zip(names, normalize_sample(raw, i, specs))))
        except Exception as e:  # noqa: BLE001 - fall back to the calibrated ranges
            out = []
            note = f"representative dataset unusable ({_one_line(e)})"
        else:
            note = f"{len(out)} representative samples"
        if out:
            return out, note
    ranges = {}
    if fn is not None:
        ranges = dict(zip(fn.attributes.get("input_names", []), input_ranges(fn)))
    samples = []
    for _ in range(options.samples):
        sample = {}
        for n in names:
            d = details[n]
            r = ranges.get(n)
            if r is not None:
                sample[n] = rng.uniform(r[0], r[1], _shape(d, 1)).astype(np.float32)
            elif np.dtype(d["dtype"]).kind == "f" or _qparams(d) is not None:
                sample[n] = rng.standard_normal(_shape(d, 1)).astype(np.float32)
            else:
                sample[n] = random_input(d, rng)
        samples.append(sample)
    known = sum(r is not None for r in ranges.values())
    where = "the calibrated input ranges" if known else "random inputs"
    return samples, f"{len(samples)} draws from {where}, seed {options.seed}"


def _verify_quantized(
    result: ConversionResult, given: dict[str, Any] | None, options: VerifyOptions
) -> tuple[bool, list[str]]:
    interp, error = _interpreter(result)
    if interp is None:
        return False, [error or "", "verify: FAILED"]
    signatures = interp.get_signature_list()
    entries = _entries(result)
    rng = np.random.default_rng(options.seed)
    lines: list[str] = []
    ok, compared = True, 0
    for key in signatures:
        runner = interp.get_signature_runner(key)
        fn = entries.get(key)
        in_details = runner.get_input_details()
        out_details = runner.get_output_details()
        names = _input_names(fn, in_details)
        samples, source = _samples(
            result, key, fn, names, in_details, given, len(signatures) == 1, options, rng
        )
        lines.append(
            f"verify: LiteRT vs TensorFlow, quantized model [{key}] ({source}; tolerance "
            f"{options.scale_tol:g} x output scale, else {options.range_tol:.0%} of its range)"
        )
        if not result.imported.has_reference:
            frontend = result.imported.frontend
            lines.append(f"  [{key}] the {frontend} frontend cannot run the source model: SKIP")
            continue
        out_names = list(fn.attributes.get("output_names", [])) if fn is not None else []
        out_names = out_names if sorted(out_names) == sorted(out_details) else sorted(out_details)
        quant = dict(zip(out_names, output_quant(fn))) if fn is not None else {}
        got: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
        expected: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
        failed = False
        for sample in samples:
            lite_in = {n: _to_litert(sample[n], in_details[n]) for n in names}
            # TF sees exactly what LiteRT sees: integer inputs dequantized back.
            tf_in = {n: _to_float(lite_in[n], in_details[n]) for n in names}
            try:
                out = runner(**lite_in)
            except Exception as e:
                lines.append(f"  [{key}] LiteRT cannot run the model: {_one_line(e)}: FAIL")
                failed = True
                break
            exp = result.imported.run_source(key, tf_in)
            if isinstance(exp, dict):
                exp = [exp[n] for n in (out_names or sorted(exp))]
            if len(exp) != len(out_names):
                lines.append(f"  [{key}] {len(out_names)} outputs, TF has {len(exp)}: FAIL")
                failed = True
                break
            for n, e in zip(out_names, exp):
                got[n].append(_to_float(out[n], out_details[n]))
                expected[n].append(np.asarray(e))
        if failed:
            ok = False
            continue
        compared += 1
        for n in out_names:
            q = quant.get(n)
            passed, line = _judge(
                key, n, got[n], expected[n], q[0] if q else None, options, q[1] if q else None
            )
            ok &= passed
            lines.append(line)
    if ok and not compared:
        lines.append("verify: nothing compared (no signature could run its source model)")
    else:
        lines.append("verify: " + ("passed" if ok else "FAILED"))
    return ok, lines


def _judge(
    key: str,
    name: str,
    got: list[np.ndarray],
    expected: list[np.ndarray],
    scale: float | None,
    options: VerifyOptions,
    representable: tuple[float, float] | None = None,
) -> tuple[bool, str]:
    if any(g.shape != e.shape for g, e in zip(got, expected)):
        return False, f"  [{key}] {name}: shape {got[0].shape} vs TF {expected[0].shape}: FAIL"
    s = output_stats(got, expected)
    if scale is not None:
        tol = options.scale_tol * scale
        tol_text = f"{s.max_err / scale:.1f} x scale {scale:.3g}"
    else:
        tol = options.range_tol * s.spread + options.atol
        tol_text = "no output scale"
    passed = s.max_err <= tol
    verdict = "ok" if passed else "FAIL"
    if s.litert_constant and not s.source_constant:
        passed, verdict = False, "FAIL (constant output: same for every input, TF's varies)"
    elif s.litert_constant and s.source_constant:
        verdict += " (warning: the output does not vary across the inputs; weak check)"
    if representable is not None and not passed:
        lo, hi = representable
        margin = (scale or 0.0) / 2
        if s.lo < lo - margin or s.hi > hi + margin:
            verdict += (
                f" (TF's output leaves the quantized range [{lo:.3g}, {hi:.3g}] and is "
                "clipped: verify on data like the calibration data)"
            )
    snr = "inf" if math.isinf(s.snr_db) and s.snr_db > 0 else f"{s.snr_db:.1f}"
    rel = f"{s.rel_range:.2%}" if math.isfinite(s.rel_range) else "inf"
    shape = tuple(got[0].shape)
    return passed, (
        f"  [{key}] {name} {shape}: rmse {s.rmse:.3g}, max err {s.max_err:.3g} ({tol_text}), "
        f"SNR {snr} dB, {rel} of range [{s.lo:.3g}, {s.hi:.3g}]  {verdict}"
    )


def compare_with_tf(
    result: ConversionResult,
    given: dict[str, Any] | None,
    *,
    seed: int = 0,
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> tuple[bool, list[str]]:
    """Float verify: run every signature of the .tflite in LiteRT and the source model in TF
    on the same inputs. Returns (all outputs within atol + rtol*|expected|, report lines)."""
    interp, error = _interpreter(result)
    if interp is None:
        return False, [error or "", "verify: FAILED"]
    signatures = interp.get_signature_list()
    entries = _entries(result)
    rng = np.random.default_rng(seed)
    source = "inputs from file" if given is not None else f"random inputs, seed {seed}"
    lines = [f"verify: LiteRT vs TensorFlow ({source}; atol {atol:g}, rtol {rtol:g})"]
    ok = True
    compared = 0
    for key in signatures:
        runner = interp.get_signature_runner(key)
        fn = entries.get(key)
        details = runner.get_input_details()
        names = _input_names(fn, details)
        out_names = list(fn.attributes.get("output_names", [])) if fn is not None else []
        inputs = {}
        for i, name in enumerate(names):
            if given is not None:
                arr = _pick(given, key, name, i, len(signatures) == 1)
                inputs[name] = np.asarray(arr).astype(details[name]["dtype"])
            else:
                inputs[name] = random_input(details[name], rng)
        try:
            got = runner(**inputs)
        except Exception as e:
            lines.append(f"  [{key}] LiteRT cannot run the model: {_one_line(e)}: FAIL")
            ok = False
            continue
        if not result.imported.has_reference:
            frontend = result.imported.frontend
            lines.append(f"  [{key}] the {frontend} frontend cannot run the source model: SKIP")
            continue
        compared += 1
        expected = result.imported.run_source(key, inputs)
        if isinstance(expected, dict):
            expected = [expected[n] for n in (out_names or sorted(expected))]
        out_names = out_names if sorted(out_names) == sorted(got) else sorted(got)
        if len(expected) != len(out_names):
            lines.append(f"  [{key}] {len(out_names)} outputs, TF has {len(expected)}: FAIL")
            ok = False
            continue
        for name, exp in zip(out_names, expected):
            g = np.asarray(got[name])
            e = np.asarray(exp)
            if g.shape != e.shape:
                lines.append(f"  [{key}] {name}: shape {g.shape} vs TF {e.shape}: FAIL")
                ok = False
                continue
            diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            max_abs = float(diff.max()) if diff.size else 0.0
            mag = np.abs(e.astype(np.float64))
            big = mag > atol
            max_rel = float((diff[big] / mag[big]).max()) if big.any() else 0.0
            passed = bool(np.all(diff <= atol + rtol * mag))
            ok &= passed
            lines.append(
                f"  [{key}] {name} {tuple(g.shape)} {g.dtype}: max abs err {max_abs:.3g}, "
                f"max rel err {max_rel:.3g}  {'ok' if passed else 'FAIL'}"
            )
    if ok and not compared:
        lines.append("verify: nothing compared (no signature could run its source model)")
    else:
        lines.append("verify: " + ("passed" if ok else "FAILED"))
    return ok, lines
