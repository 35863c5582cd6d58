"""How the core scales: print, parse, verify and `canonicalize,cse,dce` on synthetic modules of
1k, 10k and 100k ops (chains and diamonds of generic ops with small constants, plus dead,
duplicate and foldable ops). Prints a markdown table with the 10k/1k and 100k/10k growth
ratios (linear scaling gives ~10x). Times are CPU seconds of this process (best of --repeat),
so other load on the machine does not distort them.

    /work/venv/bin/python benchmarks/core_scale.py [--sizes 1000,10000,100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import numpy as np

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv.core.ir import Function, Module, Operation, constant
from tflconv.core.opdef import COMMUTATIVE, PURE, Dialect, OpDef, declare_dialect, declare_op
from tflconv.core.parser import parse_module
from tflconv.core.pass_manager import PassManager
from tflconv.core.passes import PassContext
from tflconv.core.printer import print_module
from tflconv.core.types import TensorType
from tflconv.core.verifier import verify

T = TensorType((4,), "f32")
PIPELINE = "canonicalize,cse,dce"

declare_dialect(Dialect("bench", generic_pure=lambda op: True, summary="Benchmark ops."))
declare_op(
    OpDef(
        "bench.add",
        ("lhs", "rhs"),
        traits={PURE, COMMUTATIVE},
        fold=lambda op, v: [v[0] + v[1]] if v[0] is not None and v[1] is not None else None,
    )
)


def build(n_ops: int, seed: int = 0) -> Module:
    """About `n_ops` ops: repeating blocks of a chain step, a diamond, a duplicated op pair,
    a dead op and a foldable constant pair (so every pass has work proportional to size)."""
    rng = np.random.default_rng(seed)
    fn = Function("main", [T], ["x"])
    block = fn.block
    cur = fn.args[0]

    def op(name: str, *operands) -> Operation:
        return block.append(Operation(name, operands, [T]))

    count = 0
    while count < n_ops:
        c = block.append(constant(rng.standard_normal(4).astype(np.float32)))
        cur = op("bench.add", cur, c.result).result  # chain step
        left, right = op("bench.neg", cur), op("bench.abs", cur)
        cur = op("bench.add", left.result, right.result).result  # diamond
        d1, d2 = op("bench.mul", cur, cur), op("bench.mul", cur, cur)  # duplicates (cse)
        cur = op("bench.add", d1.result, d2.result).result
        op("bench.neg", cur)  # dead (dce)
        k1 = block.append(constant(np.ones(4, np.float32)))
        k2 = block.append(constant(np.ones(4, np.float32)))
        k = op("bench.add", k1.result, k2.result)  # foldable (canonicalize)
        cur = op("bench.sub", cur, k.result).result
        count += 13
    fn.set_outputs([cur])
    return Module([fn])


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def measure(n_ops: int, repeat: int) -> dict[str, float]:
    module = build(n_ops)
    t_print, text = timed(lambda: print_module(module), repeat)
    t_parse, parsed = timed(lambda: parse_module(text), repeat)
    t_verify, _ = timed(lambda: verify(parsed), repeat)

    # The pipeline mutates the module: time only the pass manager run, on fresh modules.
    times = []
    for _ in range(repeat):
        m = build(n_ops)
        gc.collect()
        start = time.process_time()
        PassManager.from_pipeline(PIPELINE).run(m, PassContext())
        times.append(time.process_time() - start)
    after = m.op_count()
    return {
        "ops": module.op_count(),
        "after": after,
        "print": t_print,
        "parse": t_parse,
        "verify": t_verify,
        "pipeline": min(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    PassManager.from_pipeline(PIPELINE)  # load plugins outside the measurements
    rows = [measure(n, args.repeat) for n in sizes]
    cols = ["print", "parse", "verify", "pipeline"]
    print(f"| ops | {' | '.join(cols)} | ops after `{PIPELINE}` |")
    print("|---:|" + "---:|" * len(cols) + "---:|")
    for r in rows:
        cells = " | ".join(f"{r[c] * 1000:.1f} ms" for c in cols)
        print(f"| {r['ops']} | {cells} | {r['after']} |")
    for prev, cur in zip(rows, rows[1:]):
        ratios = " | ".join(f"{cur[c] / prev[c]:.1f}x" for c in cols)
        print(f"| {cur['ops'] / prev['ops']:.0f}x ops | {ratios} | |")


if __name__ == "__main__":
    main()
