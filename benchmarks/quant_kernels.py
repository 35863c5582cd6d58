"""Throughput of the quantization kernels (tflconv/passes/quantize/kernels.py).

    python benchmarks/quant_kernels.py                 # 1M, 4M, 16M, 64M elements
    python benchmarks/quant_kernels.py --quick         # 1M and 4M
    python benchmarks/quant_kernels.py --json out.json

For each tensor size and kernel: GB/s (float32 input bytes / seconds), the ratio to a naive
NumPy implementation (the obvious whole-tensor expression, e.g. for per-channel weights
`np.clip(np.round(w / (np.abs(w).max(axis=others) / 127)), -127, 127).astype(np.int8)`), and
the ratio to this machine's memory-bandwidth bound measured in the same run. The bound is
`np.copyto(dst, x)` into a preallocated float32 `dst`: it reads the kernel's input bytes (4n)
and writes as many (4n), 8n bytes of traffic. The weight kernels read 4n and write n int8 bytes
(into a freshly allocated result, page faults included), min/max only reads 4n: a kernel at the
true DRAM limit would show ~160 % (weights) or ~200 % (min/max) of this bound, so ">= 50 %"
is a lenient target, about a third of the traffic-matched limit. At 1M-4M elements the input
is L3-resident (32 MB), so the "bound" is a cache bandwidth and noisy. The kernel, its naive
twin and the copy run in alternating rounds and each keeps its best time, so a background load
affects them alike; the naive twin's whole-tensor temporaries make its time depend on the
allocator's state (fresh mmapped pages or reused heap), so its GB/s varies more between runs.
`--no-numba` times the NumPy fallback paths of the kernels instead of the compiled ones.

Targets (docs/quantization.md): per-channel int8 weight quantization >= 4x naive and >= 50 %
of the bound; calibration min/max >= 50 % of the bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tflconv.passes.quantize import kernels as K  # noqa: E402

MB = 1 << 20


# --- naive twins -------------------------------------------------------------------------------


def naive_per_channel(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    others = tuple(i for i in range(w.ndim) if i != axis)
    scales = np.abs(w).max(axis=others) / 127
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


def naive_affine(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def naive_bias(b: np.ndarray, s_in: float, ws: np.ndarray) -> np.ndarray:
    return np.clip(np.round(b / (s_in * ws)), -(2**31 - 1), 2**31 - 1).astype(np.int32)


def naive_minmax(x: np.ndarray) -> tuple[float, float]:
    return float(np.nanmin(x)), float(np.nanmax(x))


def naive_float16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -65504, 65504).astype(np.float16)


# --- kernels under test ------------------------------------------------------------------------


def cases(n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray, Callable, Callable]]:
    """(name, input, ours, naive) for a tensor of n float32 elements."""
    conv = rng.standard_normal((n // 4608, 3, 3, 512), dtype=np.float32)  # OHWI, axis 0
    side = int(np.sqrt(n // 512))
    dw = rng.standard_normal((1, side, side, 512), dtype=np.float32)  # [1, H, W, C], axis 3
    flat = rng.standard_normal(n, dtype=np.float32)
    ws = rng.uniform(1e-3, 1e-2, n).astype(np.float32)
    return [
        (
            "per-channel int8 weights (conv, axis 0)",
            conv,
            lambda: K.quantize_weights_symmetric(conv, 0),
            lambda: naive_per_channel(conv, 0),
        ),
        (
            "per-channel int8 weights (depthwise, axis 3)",
            dw,
            lambda: K.quantize_weights_symmetric(dw, 3),
            lambda: naive_per_channel(dw, 3),
        ),
        (
            "per-tensor int8 (affine, clipped)",
            flat,
            lambda: K.quantize_affine(flat, 0.02, -3),
            lambda: naive_affine(flat, 0.02, -3),
        ),
        (
            "int32 bias (per channel)",
            flat,
            lambda: K.quantize_bias(flat, 0.01, ws),
            lambda: naive_bias(flat, 0.01, ws),
        ),
        ("float16", flat, lambda: K.to_float16(flat), lambda: naive_float16(flat)),
        ("calibration min/max", flat, lambda: K.minmax(flat), lambda: naive_minmax(flat)),
    ]


def best_times(fns: list[Callable], rounds: int) -> list[float]:
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def run(sizes: list[int], rounds: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for name, x, ours, naive in cases(n, rng):
            dst = np.empty_like(x)
            copy = lambda x=x, dst=dst: np.copyto(dst, x)  # noqa: E731
            ours()  # warm up: compiles numba kernels; first-touch page faults recur every round
            t_copy, t_ours, t_naive = best_times([copy, ours, naive], rounds)
            gb = x.nbytes / 1e9
            rows.append(
                {
                    "elements": x.size,
                    "kernel": name,
                    "GB/s": gb / t_ours,
                    "naive GB/s": gb / t_naive,
                    "x naive": t_naive / t_ours,
                    "bound GB/s": gb / t_copy,
                    "of bound": t_copy / t_ours,
                }
            )
            r = rows[-1]
            print(
                f"{x.size / MB:5.0f}M  {name:<44} {r['GB/s']:6.2f} GB/s  {r['x naive']:5.1f}x naive  "
                f"{100 * r['of bound']:4.0f}% of bound ({r['bound GB/s']:.1f} GB/s)",
                flush=True,
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| elements | kernel | GB/s | naive GB/s | x naive | copy bound GB/s | % of bound |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['elements'] / MB:.0f}M | {r['kernel']} | {r['GB/s']:.2f} | {r['naive GB/s']:.2f} "
            f"| {r['x naive']:.1f} | {r['bound GB/s']:.1f} | {100 * r['of bound']:.0f} % |"
        )
    return "\n".join(lines)


def check_targets(rows: list[dict]) -> list[str]:
    failures = []
    for r in rows:
        conv = r["kernel"].startswith("per-channel int8 weights (conv")
        if conv and (r["x naive"] < 4 or r["of bound"] < 0.5):
            failures.append(f"{r['kernel']} at {r['elements'] / MB:.0f}M")
        if r["kernel"] == "calibration min/max" and r["of bound"] < 0.5:
            failures.append(f"{r['kernel']} at {r['elements'] / MB:.0f}M")
    return failures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1M and 4M elements only")
    p.add_argument("--rounds", type=int, default=5, help="alternating timing rounds per kernel")
    p.add_argument("--json", metavar="FILE", help="write the rows as JSON")
    p.add_argument("--no-numba", action="store_true", help="time the NumPy fallback paths")
    args = p.parse_args()
    if args.no_numba:
        K.USE_NUMBA = False
    numba = version("numba") if K.USE_NUMBA else "off"  # kernels.py imports numba on first use
    print(f"numpy {np.__version__}, numba: {numba}")
    sizes = [MB, 4 * MB] if args.quick else [MB, 4 * MB, 16 * MB, 64 * MB]
    rows = run(sizes, args.rounds)
    print()
    print(markdown(rows))
    failures = check_targets(rows)
    print()
    print("targets: " + ("met" if not failures else "missed for " + "; ".join(failures)))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
