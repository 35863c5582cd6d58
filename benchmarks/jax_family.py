"""JAX models through the official `tf.lite.TFLiteConverter.experimental_from_jax` and through
`tflconv.TFLiteConverter.experimental_from_jax`, side by side: success, conversion time, ops,
size, single-thread LiteRT latency and max abs error against JAX.

    .venv/bin/python benchmarks/compare_official.py --jax [--runs 40]

Models (Flax linen, seeded, built in code): an MLP, a CNN with batch norm and pooling, a
transformer block (layer norm, attention, GELU) and an embedding classifier. Both converters get
the same function (parameters closed over) and the same example input.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Model = tuple[Callable[[Any], Any], np.ndarray]


def _mlp() -> Model:
    import flax.linen as nn
    import jax

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(64)(x))
            x = nn.relu(nn.Dense(64)(x))
            return nn.Dense(10)(x)

    x = np.random.default_rng(0).standard_normal((1, 32)).astype(np.float32)
    model = MLP()
    params = model.init(jax.random.key(0), x)
    return (lambda v: model.apply(params, v)), x


def _cnn() -> Model:
    import flax.linen as nn
    import jax

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(16, (3, 3))(x)
            x = nn.relu(nn.BatchNorm(use_running_average=True)(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
            x = nn.relu(nn.Conv(32, (3, 3))(x))
            x = nn.avg_pool(x, (2, 2), (2, 2))
            x = x.reshape((x.shape[0], -1))
            return nn.softmax(nn.Dense(10)(x))

    x = np.random.default_rng(0).standard_normal((1, 32, 32, 3)).astype(np.float32)
    model = CNN()
    variables = model.init(jax.random.key(0), x)
    return (lambda v: model.apply(variables, v)), x


def _transformer() -> Model:
    import flax.linen as nn
    import jax

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.LayerNorm()(x)
            x = x + nn.MultiHeadDotProductAttention(num_heads=4)(h, h)
            h = nn.LayerNorm()(x)
            return x + nn.Dense(64)(nn.gelu(nn.Dense(256)(h)))

    x = np.random.default_rng(0).standard_normal((1, 16, 64)).astype(np.float32)
    model = Block()
    params = model.init(jax.random.key(0), x)
    return (lambda v: model.apply(params, v)), x


def _embedding() -> Model:
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    class Classifier(nn.Module):
        @nn.compact
        def __call__(self, ids):
            e = nn.Embed(1000, 32)(ids)
            return nn.Dense(4)(jnp.mean(e, axis=1))

    x = np.random.default_rng(0).integers(0, 1000, (1, 12)).astype(np.int32)
    model = Classifier()
    params = model.init(jax.random.key(0), x)
    return (lambda v: model.apply(params, v)), x


JAX_MODELS: dict[str, Callable[[], Model]] = {
    "mlp": _mlp,
    "cnn_batchnorm": _cnn,
    "transformer_block": _transformer,
    "embedding_classifier": _embedding,
}


def _ops(tflite: bytes) -> int:
    from tflconv.tflite.reader import read_flatbuffer

    fn = read_flatbuffer(tflite).functions[0]
    return sum(1 for op in fn.ops if op.dialect == "tfl" and op.name != "tfl.no_value")


def _run(tflite: bytes, x: np.ndarray, runs: int) -> tuple[np.ndarray, float]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    interp.allocate_tensors()
    d = interp.get_input_details()[0]
    interp.set_tensor(d["index"], x.astype(d["dtype"]))
    for _ in range(3):
        interp.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    return out, statistics.median(times)


def _convert(
    which: str, fn: Callable[[Any], Any], x: np.ndarray
) -> tuple[bytes | None, float, str]:
    t = time.perf_counter()
    try:
        if which == "ours":
            import tflconv

            tflite = tflconv.TFLiteConverter.experimental_from_jax([fn], [[("x", x)]]).convert()
        else:
            import tensorflow as tf

            tflite = tf.lite.TFLiteConverter.experimental_from_jax([fn], [[("x", x)]]).convert()
    except Exception as e:  # noqa: BLE001 - a failure is a result of the benchmark
        return None, time.perf_counter() - t, " ".join(f"{type(e).__name__}: {e}".split())[:80]
    return tflite, time.perf_counter() - t, ""


def main_jax(runs: int) -> int:
    import jax

    rows = []
    warm_fn, warm_x = _mlp()  # a warm-up conversion by each: imports and first traces
    for which in ("ours", "official"):
        _convert(which, warm_fn, warm_x)
    for name, build in JAX_MODELS.items():
        fn, x = build()
        expected = np.asarray(jax.jit(fn)(x))
        cells = {}
        for which in ("ours", "official"):
            tflite, seconds, error = _convert(which, fn, x)
            if tflite is None:
                cells[which] = ("fails", f"{seconds:.2f}", "–", "–", "–", error)
                continue
            out, latency = _run(tflite, x, runs)
            err = float(np.abs(out.astype(np.float64) - expected).max())
            cells[which] = (
                "ok",
                f"{seconds:.2f}",
                str(_ops(tflite)),
                f"{len(tflite) / 1024:.1f}",
                f"{latency:.3f}",
                f"{err:.1e}",
            )
        rows.append((name, cells))
    print(
        "| model | converts (ours / official) | time s | ops | size KB | latency ms | "
        "max abs err vs JAX |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, c in rows:
        o, f = c["ours"], c["official"]
        print(
            f"| {name} | {o[0]} / {f[0]} | {o[1]} / {f[1]} | {o[2]} / {f[2]} | {o[3]} / {f[3]} | "
            f"{o[4]} / {f[4]} | {o[5]} / {f[5]} |"
        )
    failures = [(n, w, c[w][5]) for n, c in rows for w in c if c[w][0] == "fails"]
    for name, which, error in failures:
        print(f"  {name} ({which}): {error}")
    return 0
