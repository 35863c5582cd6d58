"""Quantized variants for `compare_official.py --quantized`: ai-edge-quantizer on our float
.tflite, tflconv's weight schemes (int8 / int4 / blockwise dynamic range, weight-only), and the
int8 comparison of keras-hub transformers (`--transformers --quantized`).

Every variant of a model is measured the same way: file size, RMSE and max |diff| against the
float Keras model over the held-out inputs `compare_official.bench_quantized` uses, median
single-thread LiteRT latency (default resolver, so XNNPACK; all variants in alternating blocks,
`compare_official.time_invokes`) and conversion seconds:

- tflconv int8 / official int8: the full-integer models of the main table (conversion from
  the Keras model, calibration included);
- `AEQ static_wi8_ai8` / `AEQ dynamic_wi8_afp32`: ai-edge-quantizer's recipes applied to
  tflconv's float .tflite (the float model of the main table), static with the same 8
  calibration samples; seconds from the float .tflite (calibration included). It runs in its
  own venv (`--aeq-python`, default /tmp/aeq/bin/python: `python3 -m venv /tmp/aeq &&
  /tmp/aeq/bin/pip install ai-edge-quantizer ai-edge-litert`), in a subprocess; without it
  the rows say "not installed";
- `tflconv <scheme>`: dynamic-range weight schemes (benchmarks/weight_schemes.py's SCHEMES),
  converted from the Keras model (float conversion included).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SIZE_TOLERANCE = 0.005
"""The int8 file-size target: at most 0.5 % above the official converter's file."""
AEQ_PYTHON = "/tmp/aeq/bin/python"
AEQ_RECIPES = ("static_wi8_ai8", "dynamic_wi8_afp32")
"""ai-edge-quantizer's recipes compared with the converters' int8 (static: full integer with
calibration; dynamic: int8 weights, float activations)."""

AEQ_SCRIPT = """
import sys, time
import numpy as np
from ai_edge_quantizer import quantizer, recipe
src, name, out = sys.argv[1:4]
data = sys.argv[4] if len(sys.argv) > 4 else None
t = time.perf_counter()
q = quantizer.Quantizer(src)
q.load_quantization_recipe(getattr(recipe, name)())
result = None
if q.need_calibration:
    if data is None:
        raise SystemExit("recipe needs calibration data")
    arrays = np.load(data)
    key = str(arrays["__signature__"])
    samples = {}
    for k in arrays.files:
        if k != "__signature__":
            i, input_name = k.split("/", 1)
            samples.setdefault(int(i), {})[input_name] = arrays[k]
    result = q.calibrate({key: [samples[i] for i in sorted(samples)]})
model = q.quantize(result).quantized_model
print(time.perf_counter() - t)
open(out, "wb").write(model)
"""
"""Quantizes argv[1] with recipe argv[2] into argv[3]; argv[4]: an .npz of calibration
samples (`<sample>/<signature input name>` arrays, `__signature__`: the signature key).
Prints the seconds from loading the float model to the quantized bytes."""


def aeq_python(path: str | None = None) -> str | None:
    """The venv python that has ai-edge-quantizer, or None (not installed)."""
    path = path or os.environ.get("AEQ_PYTHON") or AEQ_PYTHON
    return path if Path(path).exists() else None


def run_aeq(
    python: str, src: Path, recipe: str, samples: list[dict[str, np.ndarray]] | None = None
) -> tuple[bytes, float]:
    """(quantized .tflite, seconds) of ai-edge-quantizer's `recipe` on the float model `src`;
    `samples` (dicts by signature input name) calibrate a static recipe. RuntimeError with
    ai-edge-quantizer's last error line on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{recipe}.tflite"
        argv = [python, "-c", AEQ_SCRIPT, str(src), recipe, str(out)]
        if samples:
            data = Path(tmp) / "calibration.npz"
            arrays = {"__signature__": np.asarray(_signature_key(src.read_bytes()))}
            for i, sample in enumerate(samples):
                arrays.update({f"{i}/{k}": v for k, v in sample.items()})
            np.savez(data, **arrays)
            argv.append(str(data))
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        if run.returncode != 0 or not out.exists():
            lines = (run.stderr or run.stdout).strip().splitlines() or ["no output"]
            raise RuntimeError(" ".join(lines[-1].split())[:160])
        return out.read_bytes(), float(run.stdout.strip().splitlines()[-1])


def _signature_key(tflite: bytes) -> str:
    from ai_edge_litert.interpreter import Interpreter

    return next(iter(Interpreter(model_content=tflite).get_signature_list()))


def signature_samples(tflite: bytes, samples: list[list[np.ndarray]]) -> list[dict[str, Any]]:
    """Positional samples as dicts by the .tflite signature's input names (in input order)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite)
    runner = interp.get_signature_runner(_signature_key(tflite))
    details = runner.get_input_details()
    by_index = sorted(details, key=lambda n: details[n]["index"])
    return [dict(zip(by_index, sample)) for sample in samples]


@dataclass
class Variant:
    """One quantized model of one architecture."""

    label: str
    status: str = "not run"
    size: int | None = None
    rmse: float | None = None
    max_abs_diff: float | None = None
    latency_ms: float | None = None
    seconds: float | None = None
    tflite: bytes | None = None

    def numbers(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "tflite"}


def scheme_variants(model: Any) -> list[Variant]:
    """tflconv's dynamic-range weight schemes (weight_schemes.SCHEMES) from the Keras model."""
    import compare_official as co
    from weight_schemes import SCHEMES

    from tflconv.api.converter import convert

    out = []
    for label, options, _ in SCHEMES:
        v = Variant(f"tflconv dynamic {label}")
        start = time.perf_counter()
        try:
            with co._silenced():
                v.tflite = convert(model, pipeline=f"default,quantize-dynamic-range{{{options}}}")
            v.seconds, v.status = time.perf_counter() - start, "converted"
        except Exception as e:  # noqa: BLE001 (report and go on)
            v.status = "failed: " + co._reason(e)
        out.append(v)
    return out


def aeq_variants(
    float_tflite: bytes | None, samples: list[dict[str, np.ndarray]], python: str | None
) -> list[Variant]:
    """ai-edge-quantizer's AEQ_RECIPES on our float .tflite; `samples` by signature input
    name (`signature_samples`) calibrate the static recipe."""
    out = [Variant(f"AEQ {r}") for r in AEQ_RECIPES]
    if python is None or float_tflite is None:
        for v in out:
            v.status = "not installed" if python is None else "no float model"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "float.tflite"
        src.write_bytes(float_tflite)
        for recipe, v in zip(AEQ_RECIPES, out):
            try:
                v.tflite, v.seconds = run_aeq(
                    python, src, recipe, samples if recipe.startswith("static") else None
                )
                v.status = "converted"
            except Exception as e:  # noqa: BLE001 (report and go on)
                v.status = "failed: " + str(e)
    return out


def measure(
    variants: list[Variant],
    run: Callable[[bytes, Any], list[np.ndarray]],
    evals: list[Any],
    expected: list[list[np.ndarray]],
    interpreter: Callable[[bytes], Any],
    runs: int,
) -> None:
    """Size, errors against `expected` (run(tflite, eval input) -> outputs, paired by shape)
    and latency (interpreter(tflite) -> an interpreter with an input set) of each converted
    variant; a variant LiteRT cannot run gets a "runtime failed" status."""
    import compare_official as co

    timed = []
    for v in variants:
        if v.tflite is None:
            continue
        v.size = len(v.tflite)
        try:
            errors, worst = [], 0.0
            for x, want in zip(evals, expected):
                with co._silenced():
                    outs = run(v.tflite, x)
                worst = max(worst, co.max_abs_diff(outs, want))
                errors += [(o - e).ravel() for o, e in zip(outs, want) if o.shape == e.shape]
            v.max_abs_diff = worst
            v.rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2))) if errors else None
            timed.append((v, interpreter(v.tflite)))
        except Exception as e:  # noqa: BLE001
            v.status = "runtime failed: " + " ".join(str(e).split())[:160]
    if timed and runs:
        with co._silenced():
            times = co.time_invokes([i for _, i in timed], runs)
        for (v, _), ts in zip(timed, times):
            v.latency_ms = statistics.median(ts)


def keras_variants(
    model: Any,
    float_tflite: bytes | None,
    int8: list[tuple[str, bytes | None, float | None]],
    samples: list[list[np.ndarray]],
    evals: list[list[np.ndarray]],
    expected: list[list[np.ndarray]],
    runs: int,
    python: str | None,
) -> list[Variant]:
    """Every quantized variant of a Keras model: the converters' int8 models (`int8`: label,
    bytes, seconds), ai-edge-quantizer's, and tflconv's weight schemes, measured alike."""
    import compare_official as co

    variants = [
        Variant(label, "converted" if t else "failed", tflite=t, seconds=s) for label, t, s in int8
    ]
    named = signature_samples(float_tflite, samples) if float_tflite else []
    variants += aeq_variants(float_tflite, named, python)
    variants += scheme_variants(model)
    measure(
        variants,
        lambda t, x: co.run_outputs(t, x),
        evals,
        expected,
        lambda t: co.interpreter(t, evals[0]),
        runs,
    )
    return variants


def markdown_variants(rows: list[tuple[str, list[Variant], float | None]]) -> str:
    """One table over all models: (model, variants, official int8 size) per row group."""
    import compare_official as co

    lines = [
        "| model | variant | status | size KB | size vs official int8 | RMSE vs float "
        "| max abs diff | latency ms | conversion s |",
        "|" + "---|" * 9,
    ]
    for model, variants, official_size in rows:
        for v in variants:
            rel = (v.size - official_size) / official_size if v.size and official_size else None
            lines.append(
                f"| {model} | {v.label} | {co._short(v.status)} "
                f"| {co._fmt(co._kb(v.size), '.1f')} "
                f"| {co._fmt(None if rel is None else 100 * rel, '+.1f')} % "
                f"| {co._fmt(v.rmse, '.2e')} | {co._fmt(v.max_abs_diff, '.2e')} "
                f"| {co._fmt(v.latency_ms, '.2f')} | {co._fmt(v.seconds, '.2f')} |"
            )
    lines.append("")
    lines.append(
        "AEQ: ai-edge-quantizer on tflconv's float .tflite (static_wi8_ai8 calibrated with the "
        "same 8 samples); latency: median single-thread invoke, default resolver (XNNPACK)."
    )
    for model, variants, _ in rows:
        for v in variants:
            if v.status not in ("converted", "not installed"):
                lines.append(f"- {model} {v.label}: {v.status}")
    return "\n".join(lines)


def bench_quantized(
    row: Any,
    model: Any,
    n_eval: int | None = None,
    variants: VariantOptions | None = None,
) -> None:
    """int8 PTQ by both converters: error vs the float model over `n_eval` held-out inputs,
    size, time (--quantized); and ours without bias correction (error only); with `variants`,
    quant_compare's table (ai-edge-quantizer, weight schemes) too."""
    import compare_official as co

    samples = co.calibration_samples(model)
    n_eval = co.QUANT_EVAL_INPUTS if n_eval is None else n_eval
    evals = [co.random_inputs(model, 100 + k) for k in range(n_eval)]
    expected = [co.keras_outputs(model, x) for x in evals]
    row.quant_ours, row.quant_official = co.Side(), co.Side()
    rmse: list[float | None] = []
    convert = lambda m: co.convert_ours_int8(m, samples)  # noqa: E731
    ours = co.measure_conversion(convert, model, row.quant_ours)
    try:
        official, seconds = co.official_int8_isolated(model, samples)
        row.quant_official.seconds, row.quant_official.size = seconds, len(official)
        row.quant_official.status = "converted"
    except Exception as e:  # report and go on: one failing model must not stop the table
        official = None
        row.quant_official.status = "failed: " + co._reason(e)
    for side, tflite in ((row.quant_ours, ours), (row.quant_official, official)):
        if tflite is None:
            rmse.append(None)
            continue
        try:
            side.max_abs_diff, err = co.int8_errors(tflite, evals, expected)
            rmse.append(err)
        except Exception as e:
            side.status = "runtime failed: " + " ".join(str(e).split())[:160]
            rmse.append(None)
    row.quant_rmse = (rmse[0], rmse[1])
    if row.quant_ours.status == "converted":
        with co._silenced():
            plain = co.convert_ours_int8(model, samples, bias_correction=False)
        row.quant_rmse_uncorrected = co.int8_errors(plain, evals, expected)[1]
    if variants is not None:
        int8 = [
            ("tflconv int8", ours, row.quant_ours.seconds),
            ("official int8", official, row.quant_official.seconds),
        ]
        found = keras_variants(
            model, variants.float_tflite, int8, samples, evals, expected, variants.runs,
            variants.aeq_python,
        )  # fmt: skip
        row.quant_variants = [v.numbers() for v in found]


@dataclass
class VariantOptions:
    """What bench_quantized needs for quant_compare's variants."""

    float_tflite: bytes | None
    runs: int
    aeq_python: str | None


def markdown_quantized(rows: list[Any]) -> str:
    """The int8 table of compare_official --quantized: both converters' int8 models."""
    import compare_official as co

    fmt, kb = co._fmt, co._kb
    lines = [
        "| model | status (ours / official) | int8 max abs diff vs float (ours / official) "
        "| int8 RMSE vs float (ours / official) | ours w/o bias correction "
        "| size KB (ours / official) | size diff "
        "| int8 conversion s (ours / official) | time ratio |",
        "|" + "---|" * 9,
    ]
    for r in rows:
        o, f = r.quant_ours, r.quant_official
        if o is None or f is None:
            continue
        err_ok = None
        if r.quant_rmse[0] is not None and r.quant_rmse[1] is not None:
            err_ok = r.quant_rmse[0] <= r.quant_rmse[1] * 1.0001
        size_diff = (o.size - f.size) / f.size if o.size and f.size else None
        t_ratio = co._ratio(o.seconds, f.seconds)
        size_ok = None if size_diff is None else size_diff <= SIZE_TOLERANCE
        lines.append(
            f"| {r.model} | {co._short(o.status)} / {co._short(f.status)} "
            f"| {fmt(o.max_abs_diff, '.2e')} / {fmt(f.max_abs_diff, '.2e')} "
            f"| {fmt(r.quant_rmse[0], '.2e')} / {fmt(r.quant_rmse[1], '.2e')}{co._mark(err_ok)} "
            f"| {fmt(r.quant_rmse_uncorrected, '.2e')} "
            f"| {fmt(kb(o.size), '.1f')} / {fmt(kb(f.size), '.1f')} "
            f"| {fmt(None if size_diff is None else 100 * size_diff, '+.1f')} %"
            f"{co._mark(size_ok)} "
            f"| {fmt(o.seconds, '.2f')} / {fmt(f.seconds, '.2f')} | {fmt(t_ratio, '.2f')} |"
        )
    lines.append("")
    lines.append(
        "✓/✗: int8 RMSE vs float ≤ official's; size at most 0.5 % above official's. "
        "RMSE over the held-out inputs; w/o bias correction: ours with bias_correction=False."
    )
    for r in rows:
        for who, side in (("ours", r.quant_ours), ("official", r.quant_official)):
            if side is not None and side.status != "converted":
                lines.append(f"- {r.model} int8 ({who}): {side.status}")
    return "\n".join(lines)


def variants_table(rows: list[Any]) -> str:
    """markdown_variants of compare_official rows (their quant_variants numbers)."""
    groups = []
    for r in rows:
        variants = [Variant(**v) for v in r.quant_variants]
        official = next((v.size for v in variants if v.label == "official int8"), None)
        groups.append((r.model, variants, official))
    return markdown_variants(groups)


# --------------------------------------------------------------------------------------------
# keras-hub transformers (--transformers --quantized)


def convert_ours_saved_model_int8(path: str, samples: list[dict[str, np.ndarray]]) -> bytes:
    import tflconv

    conv = tflconv.TFLiteConverter.from_saved_model(path)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    return conv.convert()


def official_saved_model_int8_isolated(
    path: str, samples: list[dict[str, np.ndarray]]
) -> tuple[bytes, float]:
    """(tflite, seconds) of the official int8 conversion of a SavedModel, in a spawned child
    (as compare_official.official_int8_isolated)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_official_saved_model_child, args=(path, samples, sender))
    child.start()
    sender.close()
    try:
        kind, payload = receiver.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"crashed (exit code {child.exitcode})") from None
    child.join()
    if kind != "ok":
        raise RuntimeError(payload)
    return payload


def _official_saved_model_child(path: str, samples: list[dict[str, Any]], sender: Any) -> None:
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        start = time.perf_counter()
        conv = tf.lite.TFLiteConverter.from_saved_model(path)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: iter(samples)
        tflite = conv.convert()
        sender.send(("ok", (tflite, time.perf_counter() - start)))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        sender.send(("error", f"{type(e).__name__}: {e}"))


def transformer_variants(
    model: Any, path: str, float_tflite: bytes | None, runs: int, python: str | None
) -> list[Variant]:
    """int8 of a keras-hub backbone's SavedModel by both converters and ai-edge-quantizer:
    8 calibration feeds (transformer_zoo.inputs_for seeds 1..8), errors over 8 held-out feeds
    (seeds 100..107) against Keras."""
    import compare_official as co
    import transformer_family as tfam
    import transformer_zoo as zoo

    samples = [zoo.inputs_for(model, seed=1 + k) for k in range(8)]
    evals = [zoo.inputs_for(model, seed=100 + k) for k in range(co.QUANT_EVAL_INPUTS)]
    expected = [list(zoo.keras_outputs(model, f).values()) for f in evals]
    ours, official = Variant("tflconv int8"), Variant("official int8")
    start = time.perf_counter()
    try:
        with co._silenced():
            ours.tflite = convert_ours_saved_model_int8(path, samples)
        ours.seconds, ours.status = time.perf_counter() - start, "converted"
    except Exception as e:  # noqa: BLE001
        ours.status = "failed: " + co._reason(e)
    try:
        official.tflite, official.seconds = official_saved_model_int8_isolated(path, samples)
        official.status = "converted"
    except Exception as e:  # noqa: BLE001
        official.status = "failed: " + " ".join(str(e).split())[:160]
    variants = [ours, official]
    named = [_by_signature_name(float_tflite, f) for f in samples] if float_tflite else []
    variants += aeq_variants(float_tflite, named, python)
    names = list(zoo.keras_outputs(model, evals[0]))
    measure(
        variants,
        lambda t, f: _ordered(run_signature(t, f), names),
        evals,
        expected,
        lambda t: tfam._bound_interpreter(t, evals[0]),
        runs,
    )
    return variants


def run_signature(tflite: bytes, feed: dict[str, Any]) -> dict[str, np.ndarray]:
    """transformer_zoo.run_signature with quantized inputs / outputs converted (AEQ's static
    recipes make them int8)."""
    import compare_official as co
    from ai_edge_litert.interpreter import Interpreter
    from transformer_zoo import _match

    interp = Interpreter(model_content=tflite, num_threads=1)
    runner = interp.get_signature_runner(_signature_key(tflite))
    inputs = runner.get_input_details()
    if len(inputs) == 1 and len(feed) == 1:
        pairs = {n: next(iter(feed.values())) for n in inputs}
    else:
        pairs = {n: feed[_match(n, feed)] for n in inputs}
    got = runner(**{n: co.to_input(np.asarray(x), inputs[n]) for n, x in pairs.items()})
    outputs = runner.get_output_details()
    return {k: co.from_output(np.asarray(v), outputs[k]) for k, v in got.items()}


def _ordered(got: dict[str, np.ndarray], names: list[str]) -> list[np.ndarray]:
    """Signature outputs in the order of Keras' output names (sorted order when they differ,
    as transformer_zoo._pairs)."""
    if set(got) == set(names):
        return [got[n] for n in names]
    return [got[k] for k in sorted(got)]


def _by_signature_name(tflite: bytes, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter
    from transformer_zoo import _match

    interp = Interpreter(model_content=tflite)
    names = interp.get_signature_list()[_signature_key(tflite)]["inputs"]
    return {n: feed[_match(n, feed)] for n in names}


def bench_transformer(name: str, runs: int, size: str, python: str | None) -> list[Variant]:
    """transformer_variants of backbone `name` (transformer_family's configs), from its own
    build and export (transformer_family.bench keeps neither)."""
    import compare_official as co
    import transformer_family as tfam
    import transformer_zoo as zoo

    medium = size == "medium" and name in tfam.MEDIUM
    with co._silenced():
        model = zoo.build(name, **(tfam.MEDIUM[name] if medium else {}))
    with tempfile.TemporaryDirectory() as tmp:
        with co._silenced():
            path = zoo.export_saved_model(model, str(Path(tmp) / name))
            try:
                float_tflite = tfam.convert_ours_saved_model(path)
            except Exception:  # noqa: BLE001 (the main table reports it)
                float_tflite = None
        variants = transformer_variants(model, path, float_tflite, runs, python)
    for v in variants:
        v.tflite = None
    return variants


if __name__ == "__main__":
    sys.exit("run benchmarks/compare_official.py --quantized")
