"""Weight schemes (int8 / int4 / blockwise int4 / weight-only) against each other and, when given
its venv, against ai-edge-quantizer on the same float model: size, error against the float
model, LiteRT latency with and without XNNPACK, conversion time.

    python benchmarks/weight_schemes.py
    python benchmarks/weight_schemes.py --aeq-python /tmp/aeq/bin/python   # + ai-edge-quantizer

ai-edge-quantizer must live in its own venv (`python3 -m venv /tmp/aeq && /tmp/aeq/bin/pip
install ai-edge-quantizer ai-edge-litert`); it quantizes the float `.tflite` tflconv writes,
in a subprocess. Conversion time: tflconv from the Keras model (float conversion included),
ai-edge-quantizer from the float `.tflite`. Error: max |output - float output| over 8 seeded inputs. Latency: batch 1,
one thread, best of 5 x 200 invokes (XNNPACK: the default delegate; builtin:
`BUILTIN_WITHOUT_DEFAULT_DELEGATES`). The model: Dense 256 -> 512 (relu) -> 256.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SCHEMES = [
    # (label, quantize-dynamic-range options, ai-edge-quantizer recipe)
    ("int8 channel", "", "dynamic_wi8_afp32"),
    ("int4 channel", "bits=4", "dynamic_wi4_afp32"),
    ("int4 weight-only", "bits=4 weight-only=true", "weight_only_wi4_afp32"),
    ("int4 block 32", "bits=4 granularity=block block-size=32", "dynamic_wi4b32_afp32"),
    ("int4 block 64", "bits=4 granularity=block block-size=64", "dynamic_wi4b64_afp32"),
]


def _model():
    import keras

    keras.utils.set_random_seed(1)
    i = keras.Input((256,), batch_size=1)
    x = keras.layers.Dense(512, activation="relu")(i)
    return keras.Model(i, keras.layers.Dense(256)(x))


def _interpreter(tflite: bytes, xnnpack: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    res = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=res)
    it.allocate_tensors()
    return it


def _outputs(tflite: bytes, xs: list[np.ndarray], xnnpack: bool) -> np.ndarray:
    it = _interpreter(tflite, xnnpack)
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for x in xs:
        it.set_tensor(i, x)
        it.invoke()
        out.append(it.get_tensor(o).copy())
    return np.stack(out)


def _latency(tflite: bytes, x: np.ndarray, xnnpack: bool) -> float:
    it = _interpreter(tflite, xnnpack)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    for _ in range(20):
        it.invoke()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(200):
            it.invoke()
        best = min(best, (time.perf_counter() - t) / 200)
    return best * 1e6


def _row(label: str, tflite: bytes | None, seconds: float, ref: dict, xs: list) -> str:
    if tflite is None:
        return f"| {label} | failed | | | | | |"
    errs = [np.abs(_outputs(tflite, xs, x) - ref[x]).max() for x in (True, False)]
    lat = [_latency(tflite, xs[0], x) for x in (True, False)]
    return (
        f"| {label} | {len(tflite) / 1024:.1f} | {errs[0]:.3g} | {errs[1]:.3g} | "
        f"{lat[0]:.1f} | {lat[1]:.1f} | {seconds:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeq-python", help="python of a venv with ai-edge-quantizer")
    args = parser.parse_args()
    from quant_compare import run_aeq

    from tflconv.api.converter import convert

    model = _model()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 256)).astype(np.float32) for _ in range(8)]
    float_tflite = convert(model)
    convert(model, pipeline="default,quantize-dynamic-range")  # warm-up: numba, TF tracing
    ref = {x: _outputs(float_tflite, xs, x) for x in (True, False)}
    print(
        "| scheme | KB | max err XNNPACK | max err builtin | µs XNNPACK | µs builtin | "
        "conversion s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(_row("float", float_tflite, 0.0, ref, xs))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "float.tflite"
        src.write_bytes(float_tflite)
        for label, options, aeq in SCHEMES:
            t = time.perf_counter()
            ours = convert(model, pipeline=f"default,quantize-dynamic-range{{{options}}}")
            print(_row(f"tflconv {label}", ours, time.perf_counter() - t, ref, xs))
            if not args.aeq_python:
                continue
            try:
                data, seconds = run_aeq(args.aeq_python, src, aeq)
            except RuntimeError:
                data, seconds = None, 0.0
            print(_row(f"AEQ `{aeq}`", data, seconds, ref, xs))


if __name__ == "__main__":
    main()
