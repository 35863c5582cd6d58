"""Fused LSTM vs today's loop vs the official converter's fused model, in LiteRT.

    python benchmarks/recurrent.py                 # LSTM(32) -> Dense(4), input 20x16
    python benchmarks/recurrent.py --runs 5000 --json out.json

The model of issue 16: `LSTM(32) -> Dense(4)` on a 20x16 input, the same weights in Keras 3 and
tf-keras. Rows:

- tflconv fused: the default pipeline (`fuse-recurrent` -> UNIDIRECTIONAL_SEQUENCE_LSTM);
- tflconv loop: the same pipeline without `fuse-recurrent` (a `tfl.while` over the cell);
- official: `tf.lite.TFLiteConverter.from_keras_model`, which fuses tf-keras' LSTM (its
  `api_implements` function) but not Keras 3's loop;

each at batch 1 (`Input(batch_size=1)`) and with a dynamic batch (`Input((20, 16))`, run at
batch 1); then quantized rows (`int8`: full integer with float IO, calibrated on 32 samples;
`dynamic`: dynamic range) for tflconv (`quantize-lstm`: LiteRT's 8x8_16 integer LSTM, or its
hybrid kernel in dynamic range), tflconv with the LSTM kept float (`keep_float`), and the
official converter on tf-keras. `lstm` is the fused LSTM's weight type (`-`: no fused op). In
dynamic range LSTM(32) on 16 features stays float with both converters: its input matrices have
512 < 1024 elements (`minimum_elements_for_weights`, all or nothing for an LSTM). Latency is the median single-thread `invoke()` time over --runs runs (models timed in
alternating blocks so load drift hits all alike); `call 1` / `call 2` are the largest
differences from Keras on two consecutive invokes of one interpreter on one input (the
official fused op keeps its state in variable tensors between calls; tflconv's is rewritten to
zero at the start of every call). A conversion that fails gets its reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

T, F, UNITS, OUT = 20, 16, 32, 4


def keras3_model(batch: int | None) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((T, F), batch_size=batch), keras.layers.LSTM(UNITS), keras.layers.Dense(OUT)]
    )


def tf_keras_model(batch: int | None, weights: list[np.ndarray]) -> Any:
    import tf_keras

    model = tf_keras.Sequential(
        [
            tf_keras.Input((T, F), batch_size=batch),
            tf_keras.layers.LSTM(UNITS),
            tf_keras.layers.Dense(OUT),
        ]
    )
    model.set_weights(weights)
    return model


def calibration() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.standard_normal((1, T, F)).astype(np.float32) for _ in range(32)]


def tflconv_convert(model: Any, fuse: bool, mode: str = "float", lstm_float: bool = False) -> bytes:
    import tflconv
    from tflconv.api.converter import convert
    from tflconv.passes import DEFAULT_PIPELINE

    if mode == "float":
        if fuse:
            return convert(model)
        return convert(model, pipeline=DEFAULT_PIPELINE.replace("fuse-recurrent,", ""))
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    if mode == "int8":
        conv.representative_dataset = calibration()
    if lstm_float:
        conv.keep_float = ["tfl.unidirectional_sequence_lstm"]
    return conv.convert()


def official_convert(model: Any, mode: str = "float") -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        conv.representative_dataset = lambda: ([d] for d in calibration())
    return conv.convert()


def lstm_weights(tflite: bytes) -> str:
    """The fused LSTM's weight type (i8 / f32), '-' without one."""
    from tflconv.tflite.reader import read_flatbuffer

    for op in read_flatbuffer(tflite).walk():
        if op.name == "tfl.unidirectional_sequence_lstm":
            return op.operands[1].type.dtype
    return "-"


def interpreter(tflite: bytes, x: np.ndarray) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    (inp,) = interp.get_input_details()
    if list(inp["shape"]) != list(x.shape):
        interp.resize_tensor_input(inp["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    return interp


def two_calls(tflite: bytes, x: np.ndarray, expected: np.ndarray) -> list[float]:
    """Max |diff| from Keras of two consecutive invokes of one interpreter."""
    interp = interpreter(tflite, x)
    diffs = []
    for _ in range(2):
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        diffs.append(float(np.max(np.abs(got - expected))))
    return diffs


def time_invokes(interps: list[Any], runs: int, rounds: int = 4) -> list[list[float]]:
    """Invoke times (ms), in alternating blocks of runs/rounds (after 10 warm-up invokes)."""
    times: list[list[float]] = [[] for _ in interps]
    per_block = max(1, runs // rounds)
    for _ in range(rounds):
        for interp, acc in zip(interps, times):
            for i in range(10 + per_block):
                start = time.perf_counter()
                interp.invoke()
                if i >= 10:
                    acc.append((time.perf_counter() - start) * 1000)
    return times


def op_count(tflite: bytes) -> int:
    from tflconv.tflite.reader import read_flatbuffer

    return read_flatbuffer(tflite).op_count() - sum(
        n
        for k, n in read_flatbuffer(tflite).op_histogram().items()
        if k in ("arith.constant", "tfl.no_value", "func.return")
    )


def _reason(err: Exception) -> str:
    """The first MLIR `error:` line without its location, else the message's last line."""
    lines = str(err).strip().splitlines()
    errors = [ln.rsplit("error: ", 1)[1] for ln in lines if "error: " in ln]
    return (errors[0] if errors else lines[-1] if lines else type(err).__name__)[:100]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    p.add_argument("--no-quantized", dest="quantized", action="store_false", help="float rows only")
    args = p.parse_args(argv)

    x = np.random.default_rng(1).standard_normal((1, T, F)).astype(np.float32)
    rows: list[dict[str, Any]] = []
    for batch, batch_name in ((1, "batch 1"), (None, "dynamic batch")):
        k3 = keras3_model(batch)
        expected = np.asarray(k3(x))
        tk = tf_keras_model(batch, k3.get_weights())
        candidates = [
            ("tflconv fused", "Keras 3", lambda k3=k3: tflconv_convert(k3, True)),
            ("tflconv fused", "tf-keras", lambda tk=tk: tflconv_convert(tk, True)),
            ("tflconv loop", "Keras 3", lambda k3=k3: tflconv_convert(k3, False)),
            ("official", "tf-keras", lambda tk=tk: official_convert(tk)),
            ("official", "Keras 3", lambda k3=k3: official_convert(k3)),
        ]
        if batch == 1 and args.quantized:
            candidates += [
                ("tflconv int8", "Keras 3", lambda k3=k3: tflconv_convert(k3, True, "int8")),
                ("tflconv int8", "tf-keras", lambda tk=tk: tflconv_convert(tk, True, "int8")),
                (
                    "int8 lstm f32",
                    "Keras 3",
                    lambda k3=k3: tflconv_convert(k3, True, "int8", lstm_float=True),
                ),
                ("official int8", "tf-keras", lambda tk=tk: official_convert(tk, "int8")),
                ("tflconv dynamic", "Keras 3", lambda k3=k3: tflconv_convert(k3, True, "dynamic")),
                ("official dynamic", "tf-keras", lambda tk=tk: official_convert(tk, "dynamic")),
            ]
        elif args.quantized:
            candidates.append(
                ("tflconv int8", "Keras 3", lambda k3=k3: tflconv_convert(k3, True, "int8"))
            )
        for converter, source, make in candidates:
            row: dict[str, Any] = {"converter": converter, "model": source, "batch": batch_name}
            try:
                row["tflite"] = make()
            except Exception as err:  # noqa: BLE001 - a failing converter is a result
                row["status"] = _reason(err)
            rows.append(row)
        done = [r for r in rows if r["batch"] == batch_name and "tflite" in r]
        for r in done:
            r["ops"] = op_count(r["tflite"])
            r["kb"] = len(r["tflite"]) / 1024
            r["lstm"] = lstm_weights(r["tflite"])
            r["call 1"], r["call 2"] = two_calls(r["tflite"], x, expected)
        times = time_invokes([interpreter(r["tflite"], x) for r in done], args.runs)
        for r, t in zip(done, times):
            r["latency_ms"] = statistics.median(t)

    base = next(
        (
            r["latency_ms"]
            for r in rows
            if r["converter"] == "official"
            and r["model"] == "tf-keras"
            and r["batch"] == "batch 1"
            and "latency_ms" in r
        ),
        None,
    )
    header = (
        f"{'converter':<16} {'model':<9} {'batch':<14} {'ops':>4} {'KB':>6} {'lstm':>4} "
        f"{'latency ms':>11} {'/ official':>11} {'call 1':>9} {'call 2':>9}  status"
    )
    print(f"LSTM({UNITS}) -> Dense({OUT}), input {T}x{F}, {args.runs} invokes, 1 thread")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "latency_ms" not in r:
            print(
                f"{r['converter']:<16} {r['model']:<9} {r['batch']:<14} {'-':>4} {'-':>6} "
                f"{'-':>4} {'-':>11} {'-':>11} {'-':>9} {'-':>9}  fails: {r.get('status', '')}"
            )
            continue
        ratio = f"{r['latency_ms'] / base:.2f}x" if base else "-"
        print(
            f"{r['converter']:<16} {r['model']:<9} {r['batch']:<14} {r['ops']:>4} "
            f"{r['kb']:>6.1f} {r['lstm']:>4} {r['latency_ms']:>11.4f} {ratio:>11} "
            f"{r['call 1']:>9.2g} {r['call 2']:>9.2g}  ok"
        )
    print(f"\n(command: python benchmarks/recurrent.py --runs {args.runs})")
    if args.json:
        out = [{k: v for k, v in r.items() if k != "tflite"} for r in rows]
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
