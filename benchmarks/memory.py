"""Peak memory of converting a model with >= 1 GB of weights: tflconv vs the official converter.

    python benchmarks/memory.py                    # 4 x Dense(8192): 1.07 GB of float32 weights
    python benchmarks/memory.py --layers 8         # 2.1 GB (the file needs the offset layout)
    python benchmarks/memory.py --json out.json

Each conversion runs in its own fresh process (`python memory.py --child ...`), so neither
converter sees the other's allocations or caches. In the child:
1. import TensorFlow and convert a tiny model with the converter under test (its one-time
   costs): RSS = "framework";
2. build the Keras MLP (seeded random weights, all distinct): RSS = "baseline", the framework's
   own footprint with the model in memory (it holds the weights once; "model" = baseline -
   framework, more than the weights because TF's allocator keeps the initializers' scratch);
3. reset the peak (Linux `/proc/self/clear_refs`), convert, write the file: peak RSS (VmHWM).

Columns: weights (MB of float32 parameters); framework, model and baseline RSS; peak RSS
during the conversion; "extra" = peak - baseline, the conversion's own memory; extra / weights
(the target: peak <= baseline + 1.3 x weights, i.e. extra / weights <= 1.3, marked ✓/✗); wall
and CPU seconds of the conversion (all threads; CPU time is the steadier number on a loaded
machine). `ours` returns the bytes from `convert()` (a model this large is streamed to a
temporary file and read back once the IR is released); `ours (file)` streams to the output
file (`convert_with_report(path)`, what `tflconv convert` and `tflconv.convert(model, path)`
do; no bytes object of the model); `official` returns the bytes from its `convert()`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONVERTERS = ("ours", "ours (file)", "official")


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def build_mlp(layers: int, width: int, seed: int = 0) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    limit = 1 / width**0.5
    inputs = keras.Input((width,), name="x")
    x = inputs
    for i in range(layers):
        # One seed per layer: an initializer with a fixed seed repeats its values, and identical
        # layers would share one buffer in the file.
        init = keras.initializers.RandomUniform(-limit, limit, seed=seed + i)
        x = keras.layers.Dense(width, activation="relu", kernel_initializer=init, name=f"fc{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="head")(x))


def _tiny() -> Any:
    import keras

    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def _convert(which: str, model: Any, out: Path) -> int:
    if which == "official":
        import tensorflow as tf

        data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        out.write_bytes(data)
        return len(data)
    import tflconv

    conv = tflconv.TFLiteConverter.from_keras_model(model)
    if which == "ours":
        data = conv.convert()
        out.write_bytes(data)
        return len(data)
    return _convert_to_file(conv, out)


def _convert_to_file(conv: Any, out: Path) -> int:
    """Streamed to `out` (no bytes object of the whole model)."""
    return conv.convert_with_report(out).size


def child(which: str, layers: int, width: int) -> dict[str, Any]:
    from tflconv.api.quiet import quiet_tensorflow

    with quiet_tensorflow(True), tempfile.TemporaryDirectory() as tmp:
        _convert(which, _tiny(), Path(tmp) / "tiny.tflite")
        framework = _status_kb("VmRSS")
        model = build_mlp(layers, width)
        weights = sum(int(w.numpy().nbytes) for w in model.weights)
        loaded = _status_kb("VmRSS")
        _reset_peak()
        start, cpu_start = time.perf_counter(), time.process_time()
        size = _convert(which, model, Path(tmp) / "model.tflite")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        peak = _status_kb("VmHWM")
    return {
        "converter": which,
        "weights_mb": weights / 2**20,
        "framework_mb": framework / 1024,
        "model_mb": (loaded - framework) / 1024,
        "baseline_mb": loaded / 1024,
        "peak_mb": peak / 1024,
        "extra_mb": (peak - loaded) / 1024,
        "file_mb": size / 2**20,
        "seconds": seconds,
        "cpu_seconds": cpu,
    }


def run_child(which: str, layers: int, width: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", which, "--layers", str(layers)]
    cmd += ["--width", str(width)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"converter": which, "status": f"failed (exit {proc.returncode}): {tail}"}
    return {**json.loads(lines[-1]), "status": "converted"}


TARGET = 1.3
"""Peak RSS target: baseline + TARGET x weights (issue 16)."""


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| converter | weights MB | framework MB | model MB | baseline MB | peak RSS MB "
        "| extra MB | extra / weights | file MB | time s | CPU s |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        if r["status"] != "converted":
            lines.append(f"| {r['converter']} | {r['status']} |" + " |" * 9)
            continue
        ratio = r["extra_mb"] / r["weights_mb"]
        mark = "✓" if ratio <= TARGET else "✗"
        lines.append(
            f"| {r['converter']} | {r['weights_mb']:.0f} | {r['framework_mb']:.0f} "
            f"| {r['model_mb']:.0f} | {r['baseline_mb']:.0f} | {r['peak_mb']:.0f} "
            f"| {r['extra_mb']:.0f} | {ratio:.2f} {mark} | {r['file_mb']:.0f} "
            f"| {r['seconds']:.1f} | {r['cpu_seconds']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4, help="Dense(width) layers (default 4)")
    parser.add_argument("--width", type=int, default=8192, help="layer width (default 8192)")
    parser.add_argument(
        "--converters", default=",".join(CONVERTERS), help=f"subset of {', '.join(CONVERTERS)}"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--child", choices=CONVERTERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.layers, args.width)))
        return 0
    rows = []
    for which in args.converters.split(","):
        print(f"converting with {which} ...", file=sys.stderr, flush=True)
        rows.append(run_child(which, args.layers, args.width))
    gb = args.layers * args.width * args.width * 4 / 2**30
    print(f"MLP {args.layers} x Dense({args.width}), {gb:.2f} GB of float32 weights")
    print(
        "baseline = RSS after importing TF, a warm-up conversion and building the model; "
        f"target: peak <= baseline + {TARGET} x weights (extra / weights <= {TARGET})\n"
    )
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
