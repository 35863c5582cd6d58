"""tflconv vs the official converter (`tf.lite.TFLiteConverter`) on real architectures.

    python benchmarks/compare_official.py                       # every model
    python benchmarks/compare_official.py --quick               # 3 small models, fewer runs
    python benchmarks/compare_official.py --zoo --quantized     # 9 more architectures, int8 too
    python benchmarks/compare_official.py --models mobilenet_v2,lstm --runs 50 --json out.json
    python benchmarks/compare_official.py --transformers            # keras-hub BERT, GPT-2, ...
    python benchmarks/compare_official.py --transformers --models bert,vit,whisper
    python benchmarks/compare_official.py --transformers --transformer-size medium
    python benchmarks/compare_official.py --transformers --quantized --models deit,dinov2

Both converters start from the same in-memory Keras model, in one process, after a warm-up
conversion of a tiny model by each (so neither pays TensorFlow's one-time start-up costs).

Columns:
- time: wall-clock seconds of `from_keras_model(model).convert()`, and ours / official; CPU s
  is the process CPU time over all threads (less sensitive to other load on the machine).
- ops: TFLite operators over all subgraphs; size: bytes of the .tflite.
- latency: median single-thread LiteRT `invoke()` time over --runs runs, ours / official; the
  two models run in alternating blocks (see `measure_latency`); "within noise" means the ratio
  is at most 1 + max(5 %, the larger relative interquartile range of the two).
- max |diff|: largest absolute difference of any output from Keras on the same random input.
- peak mem: growth of the process's peak resident set size during the conversion (Linux
  VmHWM, reset through /proc/self/clear_refs before each conversion), so it counts C++ and
  Python allocations alike; memory already resident before the conversion is not counted.
  benchmarks/memory.py measures a 1 GB model in fresh processes.
- trace floor: seconds of `tf.function(model).get_concrete_function(spec)` alone (after both
  conversions, so with warm caches: a conservative floor), the cost any TF-based converter pays,
  wall and process CPU time; ours / floor for both (target <= 1.5, marked on the wall ratio; the
  CPU ratio is the steadier one on a shared machine), and our phases: load (trace + graph
  import) / pipeline (passes) / write (FlatBuffer), wall seconds from `convert_with_report`.

With --quantized, a second table compares full-integer int8 post-training quantization
(optimizations=[DEFAULT] + the same 8 seeded calibration samples for both converters): each
int8 model's error against the float Keras model on the same 8 held-out inputs (max |diff|
and RMSE, ours should be <= official), the file size (at most 0.5 % above official) and the
conversion time including calibration and quantization (ours / official).
A model that fails in either converter gets a status with the reason; the script goes on.
A third table (benchmarks/quant_compare.py; --no-variants skips it) puts beside both int8
models ai-edge-quantizer's static_wi8_ai8 and dynamic_wi8_afp32 on our float .tflite (same
calibration samples; --aeq-python, default /tmp/aeq/bin/python, else "not installed") and
tflconv's dynamic-range weight schemes (int8 / int4 per channel, int4 weight-only, blockwise
int4): size, RMSE vs float, latency, conversion time. With --transformers --quantized, the
int8 comparison runs on the backbones (dict calibration samples by input name).

With --transformers, the rows are keras-hub backbones from small configs (benchmarks/
transformer_family.py): both converters start from the same `model.export()` SavedModel (the
official `from_keras_model` cannot take their dict inputs), with dynamic batch and sequence;
inputs are batch 2, sequence 8 (images 32x32), max abs diff is against Keras.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Models (Keras, weights=None, seeded)


def _applications(name: str, size: int) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        # Logits, not softmax: near-uniform probabilities of random weights would hide errors.
        return getattr(keras.applications, name)(
            weights=None, input_shape=(size, size, 3), classifier_activation=None
        )

    return build


def _recurrent(kind: str, batch_size: int | None = None) -> Callable[[], Any]:
    def build() -> Any:
        import keras
        from keras import layers

        # Dynamic batch by default; the official converter needs a static one for its fused
        # LSTM kernel, so a batch-1 variant is benchmarked too.
        inputs = keras.Input((16, 8), batch_size=batch_size, name="sequence")
        rnn = layers.LSTM if kind == "lstm" else layers.GRU
        x = rnn(32, return_sequences=True, name=f"{kind}1")(inputs)
        x = rnn(32, name=f"{kind}2")(x)
        outputs = layers.Dense(10, name="head")(x)
        return keras.Model(inputs, outputs, name=kind)

    return build


def _transformer() -> Any:
    import keras
    from keras import layers

    inputs = keras.Input((32, 64), name="tokens")
    attn = layers.MultiHeadAttention(num_heads=4, key_dim=16, name="mha")(inputs, inputs)
    x = layers.LayerNormalization(name="ln1")(inputs + attn)
    ffn = layers.Dense(128, activation="relu", name="ffn1")(x)
    ffn = layers.Dense(64, name="ffn2")(ffn)
    outputs = layers.LayerNormalization(name="ln2")(x + ffn)
    return keras.Model(inputs, outputs, name="transformer_block")


MODELS: dict[str, Callable[[], Any]] = {
    "mobilenet_v2": _applications("MobileNetV2", 224),
    "resnet50": _applications("ResNet50", 224),
    "efficientnet_b0": _applications("EfficientNetB0", 224),
    "densenet121": _applications("DenseNet121", 224),
    "lstm": _recurrent("lstm"),
    "lstm_batch1": _recurrent("lstm", batch_size=1),
    "gru": _recurrent("gru"),
    "transformer": _transformer,
}
ZOO_MODELS: dict[str, Callable[[], Any]] = {
    "mobilenet_v1_96": _applications("MobileNet", 96),
    "mobilenet_v3_large_96": _applications("MobileNetV3Large", 96),
    "resnet50_v2_64": _applications("ResNet50V2", 64),
    "efficientnet_v2_b0_64": _applications("EfficientNetV2B0", 64),
    "nasnet_mobile": _applications("NASNetMobile", 224),
    "inception_v3_75": _applications("InceptionV3", 75),
    "xception_71": _applications("Xception", 71),
    "convnext_tiny_32": _applications("ConvNeXtTiny", 32),
    "vgg16_32": _applications("VGG16", 32),
}
"""More architectures at small input sizes (--zoo), for the int8 comparison mostly."""
QUICK_MODELS: dict[str, Callable[[], Any]] = {
    "mobilenet_v2_96": _applications("MobileNetV2", 96),
    "lstm": _recurrent("lstm"),
    "transformer": _transformer,
}


def _tiny() -> Any:
    import keras

    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Side:
    """One converter's numbers for one model (None where it failed)."""

    status: str = "not run"
    seconds: float | None = None
    cpu_seconds: float | None = None
    """Process CPU time (all threads) of the conversion: less sensitive to machine load."""
    ops: int | None = None
    size: int | None = None
    latency_ms: float | None = None
    latency_iqr: float | None = None
    max_abs_diff: float | None = None
    peak_mem_mb: float | None = None
    phases: dict[str, float] | None = None
    """Ours: seconds per phase (load, pipeline, export) from `convert_with_report`."""


@dataclass
class Row:
    model: str
    params: int = 0
    trace_floor: float | None = None
    """Seconds of `tf.function(model).get_concrete_function(spec)` alone."""
    trace_floor_cpu: float | None = None
    """Its process CPU seconds (steadier than wall time on a loaded machine)."""
    out_scale: float = 0.0
    """max |TF output|, the scale for the max abs diff columns."""
    ours: Side = field(default_factory=Side)
    official: Side = field(default_factory=Side)
    quant_ours: Side | None = None
    quant_official: Side | None = None
    quant_rmse: tuple[float | None, float | None] = (None, None)
    quant_rmse_uncorrected: float | None = None
    """Ours with bias_correction=False (the official recipe alone)."""
    quant_variants: list[dict[str, Any]] = field(default_factory=list)
    """quant_compare.Variant numbers: int8 by both converters, ai-edge-quantizer, our
    weight schemes."""


def _rss_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def convert_ours(model: Any) -> bytes:
    import tflconv

    return tflconv.TFLiteConverter.from_keras_model(model).convert()


def convert_ours_timed(side: Side) -> Callable[[Any], bytes]:
    """`convert_ours` that records the phase times on `side`."""

    def convert(model: Any) -> bytes:
        import tflconv

        result = tflconv.TFLiteConverter.from_keras_model(model).convert_with_report()
        side.phases = dict(result.phase_seconds)
        return result.tflite

    return convert


def trace_floor(model: Any) -> tuple[float, float]:
    """(wall, CPU) seconds to trace the Keras model into a concrete function (a fresh
    `tf.function`)."""
    import tensorflow as tf

    spec = [tf.TensorSpec(t.shape, t.dtype) for t in model.inputs]
    fn = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    gc.collect()  # the previous run's garbage: not collected inside this measurement
    start, cpu_start = time.perf_counter(), time.process_time()
    with _silenced():
        fn.get_concrete_function(*spec)
    return time.perf_counter() - start, time.process_time() - cpu_start


def convert_official(model: Any) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


QUANT_EVAL_INPUTS = 8
"""Held-out inputs (seeds 100, 101, ...) the int8 errors are measured on: one input's RMSE
moves by several % with a 1-ulp change in one weight scale."""


def calibration_samples(model: Any, n: int = 8, seed: int = 1) -> list[list[np.ndarray]]:
    return [random_inputs(model, seed + k) for k in range(n)]


def convert_ours_int8(
    model: Any, samples: list[list[np.ndarray]], bias_correction: bool = True
) -> bytes:
    import tflconv

    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.bias_correction = bias_correction
    conv.representative_dataset = lambda: iter(samples)
    return conv.convert()


def convert_official_int8(model: Any, samples: list[list[np.ndarray]]) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(samples)
    return conv.convert()


def keras_outputs(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    with _silenced():
        out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    return [np.asarray(e) for e in (out if isinstance(out, list | tuple) else [out])]


def int8_errors(
    tflite: bytes, evals: list[list[np.ndarray]], expected: list[list[np.ndarray]]
) -> tuple[float, float | None]:
    """(max |diff|, RMSE) of a model's outputs against Keras over the held-out inputs."""
    errors, worst = [], 0.0
    for x, want in zip(evals, expected):
        with _silenced():
            outs = run_outputs(tflite, x)
        worst = max(worst, max_abs_diff(outs, want))
        errors += [(o - e).ravel() for o, e in zip(outs, want) if o.shape == e.shape]
    rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2))) if errors else None
    return worst, rmse


class ChildCrashed(RuntimeError):
    pass


def official_int8_isolated(model: Any, samples: list[list[np.ndarray]]) -> tuple[bytes, float]:
    """(tflite, conversion seconds) of the official int8 conversion in a fresh process.

    Its calibrator has crashed the whole process (SIGSEGV on a Keras LSTM with batch 1), so it
    runs in a spawned child (fork deadlocks inside TensorFlow) on the model saved as .keras;
    the child times the conversion alone. An exception comes back as RuntimeError, a crash as
    ChildCrashed."""
    import multiprocessing
    import tempfile

    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with _silenced():
            model.save(path)
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_official_int8_child, args=(path, samples, sender))
        child.start()
        sender.close()
        try:
            kind, payload = receiver.recv()  # before join: a large payload blocks the child
        except EOFError:
            child.join()
            raise ChildCrashed(f"crashed (exit code {child.exitcode})") from None
        child.join()
    if kind != "ok":
        raise RuntimeError(payload)
    return payload


def _official_int8_child(path: str, samples: list[list[np.ndarray]], sender: Any) -> None:
    try:
        with _silenced():
            import keras

            model = keras.saving.load_model(path)
            tiny = _tiny()  # warm-up: TF's first-trace costs
            convert_official_int8(tiny, [random_inputs(tiny)])
            start = time.perf_counter()
            tflite = convert_official_int8(model, samples)
        sender.send(("ok", (tflite, time.perf_counter() - start)))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        sender.send(("error", f"{type(e).__name__}: {e}"))


def measure_conversion(fn: Callable[[Any], bytes], model: Any, side: Side) -> bytes | None:
    gc.collect()
    can_track = _reset_peak()
    rss_before = _rss_kb("VmRSS")
    start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        with _silenced():
            tflite = fn(model)
    except Exception as e:  # report and go on: one failing model must not stop the table
        side.status = "failed: " + _reason(e)
        return None
    side.seconds = time.perf_counter() - start
    side.cpu_seconds = time.process_time() - cpu_start
    if can_track:
        side.peak_mem_mb = max(0, _rss_kb("VmHWM") - rss_before) / 1024
    side.size = len(tflite)
    side.ops = count_ops(tflite)
    side.status = "converted"
    return tflite


def _reason(err: Exception) -> str:
    """One readable line: MLIR diagnostics lose their `loc(callsite(fused[...]))` prefix."""
    first = (str(err).strip().splitlines() or [""])[0]
    if "error: loc(" in first and "): " in first:
        first = first.rsplit("): ", 1)[1]
    return " ".join(f"{type(err).__name__}: {first}".split())[:200]


def count_ops(tflite: bytes) -> int:
    """Operators over all subgraphs (read with the generated schema bindings)."""
    from tflconv.tflite.generated import tflite_schema as fb

    model = fb.Model.GetRootAs(tflite, 0)
    return sum(model.Subgraphs(i).OperatorsLength() for i in range(model.SubgraphsLength()))


def random_inputs(model: Any, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [1 if d is None else int(d) for d in t.shape]
        out.append(rng.standard_normal(shape).astype(np.float32))
    return out


def interpreter(tflite: bytes, inputs: list[np.ndarray]) -> Any:
    """A single-thread LiteRT interpreter with `inputs` set (dynamic dims resized)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        if list(d["shape"]) != list(x.shape):
            interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for d, x in zip(details, inputs):  # the benchmark models have one input each
        interp.set_tensor(d["index"], to_input(x, d))
    return interp


def to_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """`x` as the input tensor `detail` takes it: quantized with its scale and zero point when
    the model takes float data as integers (ai-edge-quantizer's static recipes do)."""
    scale, zero = detail["quantization"]
    if scale and x.dtype.kind == "f" and np.dtype(detail["dtype"]).kind in "iu":
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(detail["dtype"])
    return x.astype(detail["dtype"])


def from_output(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """An output as float when it is quantized (else as it is)."""
    scale, zero = detail["quantization"]
    if scale and y.dtype.kind in "iu":
        return ((y.astype(np.float64) - zero) * scale).astype(np.float32)
    return y


def run_outputs(tflite: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    interp = interpreter(tflite, inputs)
    interp.invoke()
    return [from_output(interp.get_tensor(d["index"]), d) for d in interp.get_output_details()]


def measure_latency(models: list[bytes], inputs: list[np.ndarray], runs: int) -> list[list[float]]:
    """Invoke times (ms) per model. Models run in blocks (3 warm-up runs, then runs/ROUNDS
    timed), alternating between models for ROUNDS rounds so machine-load drift hits all
    alike; invocations are never interleaved one by one, which would make the models evict
    each other's weights from the CPU caches and distort the numbers."""
    return time_invokes([interpreter(m, inputs) for m in models], runs)


def time_invokes(interps: list[Any], runs: int) -> list[list[float]]:
    """Invoke times (ms) of interpreters with their inputs set, in alternating blocks."""
    rounds = 4 if runs >= 8 else 1
    per_block = max(1, runs // rounds)
    times: list[list[float]] = [[] for _ in interps]
    for _ in range(rounds):
        for interp, acc in zip(interps, times):
            for i in range(3 + per_block):
                start = time.perf_counter()
                interp.invoke()
                if i >= 3:
                    acc.append((time.perf_counter() - start) * 1000)
    return times


def _rel_iqr(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    q = statistics.quantiles(times, n=4)
    return (q[2] - q[0]) / statistics.median(times)


def max_abs_diff(outputs: list[np.ndarray], expected: list[np.ndarray]) -> float:
    if len(outputs) != len(expected):
        return float("inf")
    worst = 0.0
    # Output order may differ: pair by shape, each expected output with its best match.
    for e in expected:
        candidates = [o for o in outputs if o.shape == e.shape]
        if not candidates:
            return float("inf")
        worst = max(worst, min(float(np.max(np.abs(o - e))) for o in candidates))
    return worst


class _silenced:
    """Drop stdout/stderr chatter (Keras 'Saved artifact' listings, TF C++ logs)."""

    def __enter__(self) -> None:
        from tflconv.api.quiet import quiet_tensorflow

        self._cm = quiet_tensorflow(enabled=True)
        self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)


def randomize_batch_norm(model: Any, seed: int = 0) -> None:
    """Random BatchNorm statistics: with the initial ones (mean 0, variance 1) the activations
    of a deep random-weight network shrink to ~1e-11 and every output difference looks tiny."""
    import keras

    rng = np.random.default_rng(seed)
    ranges = {"gamma": (0.5, 1.5), "beta": (-0.5, 0.5), "moving_mean": (-0.5, 0.5),
              "moving_variance": (0.5, 1.5)}  # fmt: skip
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            for attr, (lo, hi) in ranges.items():
                var = getattr(layer, attr, None)
                if var is not None:
                    var.assign(rng.uniform(lo, hi, tuple(var.shape)).astype("float32"))


def bench_model(
    name: str,
    build: Callable[[], Any],
    runs: int,
    quantized: bool = False,
    variants: bool = False,
    aeq_python: str | None = None,
) -> Row:
    import keras

    keras.utils.set_random_seed(0)
    with _silenced():
        model = build()
    randomize_batch_norm(model)
    row = Row(name, params=int(model.count_params()))
    inputs = random_inputs(model)
    expected = keras_outputs(model, inputs)
    row.out_scale = max(float(np.max(np.abs(e))) for e in expected)
    converted: list[tuple[Side, bytes]] = []
    for side, fn in ((row.ours, convert_ours_timed(row.ours)), (row.official, convert_official)):
        tflite = measure_conversion(fn, model, side)
        if tflite is None:
            continue
        try:
            with _silenced():
                side.max_abs_diff = max_abs_diff(run_outputs(tflite, inputs), expected)
            converted.append((side, tflite))
        except Exception as e:
            side.status = "runtime failed: " + " ".join(str(e).split())[:160]
    row.trace_floor, row.trace_floor_cpu = trace_floor(model)
    if converted:
        with _silenced():
            times = measure_latency([t for _, t in converted], inputs, runs)
        for (side, _), ts in zip(converted, times):
            side.latency_ms = statistics.median(ts)
            side.latency_iqr = _rel_iqr(ts)
    if quantized:
        ours_float = next((t for side, t in converted if side is row.ours), None)
        import quant_compare

        options = quant_compare.VariantOptions(ours_float, runs, aeq_python) if variants else None
        quant_compare.bench_quantized(row, model, variants=options)
    return row


# ---------------------------------------------------------------------------------------------
# Report


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


def markdown(rows: list[Row]) -> str:
    head = (
        "| model | params | status (ours / official) | time s (ours / official) | ratio "
        "| CPU s (ours / official) "
        "| ops (ours / official) | size KB (ours / official) | latency ms (ours / official) "
        "| latency ratio | max abs diff vs TF (ours / official) | max abs TF output "
        "| peak mem MB (ours / official) | trace floor s (wall / CPU) | ours / floor (wall / CPU) "
        "| ours load / pipeline / write s |"
    )
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        o, f = r.ours, r.official
        t_ratio = _ratio(o.seconds, f.seconds)
        l_ratio = _ratio(o.latency_ms, f.latency_ms)
        noise = max(0.05, o.latency_iqr or 0.0, f.latency_iqr or 0.0)
        ops_ok = o.ops <= f.ops if o.ops is not None and f.ops is not None else None
        size_ok = o.size <= f.size if o.size is not None and f.size is not None else None
        floor_ratio = _ratio(o.seconds, r.trace_floor)
        floor_cpu_ratio = _ratio(o.cpu_seconds, r.trace_floor_cpu)
        phases = o.phases or {}
        phase_text = " / ".join(_fmt(phases.get(k), ".2f") for k in ("load", "pipeline", "export"))
        lines.append(
            f"| {r.model} | {r.params / 1e6:.2f}M | {_short(o.status)} / {_short(f.status)} "
            f"| {_fmt(o.seconds, '.2f')} / {_fmt(f.seconds, '.2f')} "
            f"| {_fmt(t_ratio, '.2f')}{_mark(None if t_ratio is None else t_ratio <= 0.25)} "
            f"| {_fmt(o.cpu_seconds, '.1f')} / {_fmt(f.cpu_seconds, '.1f')} "
            f"| {_fmt(o.ops, 'd')} / {_fmt(f.ops, 'd')}{_mark(ops_ok)} "
            f"| {_fmt(_kb(o.size), '.1f')} / {_fmt(_kb(f.size), '.1f')}{_mark(size_ok)} "
            f"| {_fmt(o.latency_ms, '.2f')} / {_fmt(f.latency_ms, '.2f')} "
            f"| {_fmt(l_ratio, '.2f')}{_mark(None if l_ratio is None else l_ratio <= 1 + noise)} "
            f"| {_fmt(o.max_abs_diff, '.1e')} / {_fmt(f.max_abs_diff, '.1e')} "
            f"| {r.out_scale:.2g} "
            f"| {_fmt(o.peak_mem_mb, '.0f')} / {_fmt(f.peak_mem_mb, '.0f')} "
            f"| {_fmt(r.trace_floor, '.2f')} / {_fmt(r.trace_floor_cpu, '.2f')} "
            f"| {_fmt(floor_ratio, '.2f')} / {_fmt(floor_cpu_ratio, '.2f')}"
            f"{_mark(None if floor_ratio is None else floor_ratio <= 1.5)} "
            f"| {phase_text} |"
        )
    lines.append("")
    lines.append(
        "✓/✗: target met or not (time ratio ≤ 0.25; ops and size ≤ official; latency ratio "
        "≤ 1 + max(5 %, relative IQR of the runs); ours / trace floor ≤ 1.5)."
    )
    failures = [
        (r.model, s, side.status)
        for r in rows
        for s, side in (("ours", r.ours), ("official", r.official))
        if side.status != "converted"
    ]
    for model, who, status in failures:
        lines.append(f"- {model} ({who}): {status}")
    return "\n".join(lines)


def _kb(n: int | None) -> float | None:
    return None if n is None else n / 1024


def _short(status: str) -> str:
    return "converted" if status == "converted" else status.split(":")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help=f"comma-separated subset of: {', '.join(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="3 small models, 8 latency runs")
    parser.add_argument(
        "--zoo", action="store_true", help="9 more architectures at small input sizes"
    )
    parser.add_argument("--runs", type=int, help="latency runs per model (default 40, quick 8)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw numbers as JSON")
    parser.add_argument(
        "--quantized", action="store_true", help="also compare int8 post-training quantization"
    )
    parser.add_argument(
        "--no-variants",
        action="store_true",
        help="with --quantized: skip the ai-edge-quantizer / weight-scheme table",
    )
    parser.add_argument(
        "--aeq-python",
        help="python of a venv with ai-edge-quantizer (default /tmp/aeq/bin/python, $AEQ_PYTHON)",
    )
    parser.add_argument(
        "--transformers",
        action="store_true",
        help="keras-hub backbones from SavedModels (--models picks among "
        "tests/transformer_zoo.py's names)",
    )
    parser.add_argument(
        "--transformer-size",
        choices=["small", "medium"],
        default="small",
        help="small: the test configs (2 layers, hidden 32); medium: 4 layers, hidden 256, "
        "sequence 128, ViT at 224x224",
    )
    parser.add_argument(
        "--jax",
        action="store_true",
        help="Flax models through both converters' experimental_from_jax (benchmarks/jax_family.py)",
    )
    args = parser.parse_args(argv)
    if args.jax:
        from benchmarks.jax_family import main_jax

        return main_jax(args.runs or 40)
    if args.transformers:
        return _main_transformers(parser, args)

    table = ZOO_MODELS if args.zoo else QUICK_MODELS if args.quick else MODELS
    if args.models:
        everything = {**MODELS, **QUICK_MODELS, **ZOO_MODELS}
        unknown = [m for m in args.models.split(",") if m not in everything]
        if unknown:
            parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(everything)}")
        table = {m: everything[m] for m in args.models.split(",")}
    runs = args.runs or (8 if args.quick else 40)

    with _silenced():
        import tensorflow as tf

    # Warm-up: pay imports and TF's first-trace costs before timing anything.
    with _silenced():
        tiny = _tiny()
    for fn in (convert_ours, convert_official):
        try:
            with _silenced():
                fn(tiny)
        except Exception as e:
            print(f"warm-up with {fn.__name__} failed: {e}", file=sys.stderr)

    import quant_compare

    aeq = quant_compare.aeq_python(args.aeq_python)
    rows = []
    for name, build in table.items():
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        rows.append(bench_model(name, build, runs, args.quantized, not args.no_variants, aeq))
        gc.collect()
    print(
        f"tflconv vs tf.lite.TFLiteConverter (TF {tf.__version__}), {os.cpu_count()} CPUs, "
        f"{runs} latency runs\n"
    )
    print(markdown(rows))
    if args.quantized:
        print(
            f"\nint8 post-training quantization (8 calibration samples, errors over "
            f"{QUANT_EVAL_INPUTS} held-out inputs)\n"
        )
        print(quant_compare.markdown_quantized(rows))
        if not args.no_variants:
            print(
                "\nQuantized variants: int8 by both converters, ai-edge-quantizer, tflconv "
                f"weight schemes (ai-edge-quantizer: {aeq or 'not installed'})\n"
            )
            print(quant_compare.variants_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


def _main_transformers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import transformer_family

    table = transformer_family.DEFAULT
    if args.models:
        known = transformer_family.names()
        table = args.models.split(",")
        if unknown := [m for m in table if m not in known]:
            parser.error(f"unknown backbone(s) {', '.join(unknown)}; known: {', '.join(known)}")
    runs = args.runs or (8 if args.quick else 40)
    with _silenced():
        import tensorflow as tf

        tiny = _tiny()
    for fn in (convert_ours, convert_official):  # warm-up, as in main()
        try:
            with _silenced():
                fn(tiny)
        except Exception as e:
            print(f"warm-up with {fn.__name__} failed: {e}", file=sys.stderr)
    import quant_compare

    aeq = quant_compare.aeq_python(args.aeq_python) if args.quantized else None
    rows = []
    for name in table:
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        rows.append(transformer_family.bench(name, runs, args.transformer_size))
        if args.quantized:
            found = quant_compare.bench_transformer(name, runs, args.transformer_size, aeq)
            rows[-1].quant_variants = [v.numbers() for v in found]
        gc.collect()
    print(
        f"tflconv vs tf.lite.TFLiteConverter (TF {tf.__version__}) on keras-hub backbones "
        f"({args.transformer_size}) from SavedModels, {os.cpu_count()} CPUs, {runs} latency "
        "runs\n"
    )
    print(markdown(rows))
    if args.quantized:
        print(
            "\nint8 post-training quantization of the SavedModels (8 calibration feeds, "
            f"errors over {QUANT_EVAL_INPUTS} held-out feeds; ai-edge-quantizer: "
            f"{aeq or 'not installed'})\n"
        )
        print(quant_compare.variants_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
