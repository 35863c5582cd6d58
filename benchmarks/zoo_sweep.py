"""A sweep over architectures the tests and compare_official.py do not cover: tflconv vs the
official converter (`tf.lite.TFLiteConverter`), float and post-training quantized.

    python benchmarks/zoo_sweep.py                         # every case, float only
    python benchmarks/zoo_sweep.py --quant                 # + dynamic range, float16, int8
    python benchmarks/zoo_sweep.py --family recurrent,tf   # some families
    python benchmarks/zoo_sweep.py --cases simple_rnn,bigru --quant --json out.json
    python benchmarks/zoo_sweep.py --list

Families: keras (keras.applications), hub (keras-hub backbones from small configs),
recurrent (Keras RNN layers), tf (tf.function graphs: tf.image, tf.signal, segment ops,
scatter/gather, while loops with TensorArrays) and v1 (a frozen tf.compat.v1 GraphDef).

Each case runs in its own process (a crash or a hang in either converter costs one row), with
seeded random weights and inputs (`weights=None`, never a preset). Both converters start from the
same source: the in-memory Keras model (`from_keras_model`), the same concrete function
(`from_concrete_functions`), a keras-hub backbone's `model.export()` SavedModel, or the same
frozen GraphDef. Both outputs run in LiteRT (one thread) on the same inputs.

Columns: converts? (ours / official), max |diff| of the float model vs the source framework,
TFLite op count over all subgraphs (ours / official), and with --quant the RMSE of each
quantized model vs the float source over 4 held-out inputs: dynamic range
(optimizations=[DEFAULT]), float16 (+ supported_types=[float16]) and int8 (+ 8 calibration
samples, float fallback), ours / official.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / "benchmarks"))
sys.path.insert(0, str(_ROOT / "tests"))

import compare_official as co  # noqa: E402
import numpy as np  # noqa: E402
from zoo_cases import CASES  # noqa: E402

MODES = ("float", "dynamic", "float16", "int8")
N_CALIBRATION = 8
N_EVAL = 4


# ---------------------------------------------------------------------------------------------
# One case (in a child process)


@dataclass
class Result:
    case: str
    family: str
    status: dict[str, str] = field(default_factory=dict)
    """'{mode}/{ours|official}' -> 'ok' or the failure."""
    ops: dict[str, int] = field(default_factory=dict)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    """Float models vs the source framework."""
    rmse: dict[str, float] = field(default_factory=dict)
    """Quantized models vs the float source over N_EVAL held-out inputs."""
    out_scale: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)


def _configure(conv: Any, lib: Any, mode: str, samples: list[list[np.ndarray]]) -> Any:
    if mode == "float":
        return conv
    conv.optimizations = [lib.Optimize.DEFAULT]
    if mode == "float16":
        import tensorflow as tf

        conv.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        conv.representative_dataset = lambda: iter(samples)
    return conv


def _run(tflite: bytes, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Through the first signature, inputs by name; a model without signatures (the v1
    GraphDef route) by input order, outputs by their tensor names."""
    import transformer_zoo as zoo
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    if interp.get_signature_list():
        return zoo.run_signature(tflite, feed)
    interp = co.interpreter(tflite, list(feed.values()))
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def _compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """(max |diff|, the differences) with outputs paired by name, else by sorted name."""
    import transformer_zoo as zoo

    diffs = []
    for _, g, e in zoo._pairs(got, want):
        diffs.append((g - e.astype(np.float64)).ravel())
    flat = np.concatenate(diffs) if diffs else np.zeros(0)
    return float(np.max(np.abs(flat))) if flat.size else 0.0, flat


def run_case(name: str, modes: tuple[str, ...]) -> Result:
    import keras
    import tensorflow as tf

    import tflconv

    family, build = CASES[name]
    result = Result(name, family)
    keras.utils.set_random_seed(0)
    with co._silenced():
        subject = build()
    feed = subject.feed(0)
    with co._silenced():
        expected = subject.reference(feed)
    result.out_scale = max(float(np.max(np.abs(e))) for e in expected.values() if e.size)
    samples = [list(subject.feed(1 + k).values()) for k in range(N_CALIBRATION)]
    evals = [subject.feed(100 + k) for k in range(N_EVAL)]
    for mode in modes:
        if mode == "int8" and not subject.quantizable:
            continue
        for who, lib in (("ours", tflconv), ("official", tf.lite)):
            key = f"{mode}/{who}"
            # The parent reads these lines: a crash (the official int8 calibrator segfaults
            # on some Keras RNNs) loses only the step it happened in.
            print(json.dumps(asdict(result)), flush=True)
            print(f"# start {key}", flush=True)
            start = time.perf_counter()
            try:
                with co._silenced():
                    tflite = _configure(subject.make(lib), lib, mode, samples).convert()
            except Exception as e:  # noqa: BLE001 - one row of the table
                result.status[key] = "convert: " + co._reason(e)
                continue
            result.seconds[key] = time.perf_counter() - start
            result.ops[key] = co.count_ops(tflite)
            try:
                with co._silenced():
                    if mode == "float":
                        diff, _ = _compare(_run(tflite, feed), expected)
                        result.max_abs_diff[key] = diff
                    else:
                        errs = [_compare(_run(tflite, x), subject.reference(x))[1] for x in evals]
                        result.rmse[key] = float(np.sqrt(np.mean(np.concatenate(errs) ** 2)))
                result.status[key] = "ok"
            except Exception as e:  # noqa: BLE001
                result.status[key] = "run: " + " ".join(str(e).split())[:200]
    return result


# ---------------------------------------------------------------------------------------------
# Driver and report


def _child(name: str, modes: tuple[str, ...], timeout: float) -> Result:
    cmd = [sys.executable, __file__, "--one", name, "--modes", ",".join(modes)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(name, CASES[name][0], status={"float/ours": f"timeout {timeout:.0f}s"})
    lines = proc.stdout.splitlines()
    partial = [line for line in lines if line.startswith("{")]
    result = Result(**json.loads(partial[-1])) if partial else Result(name, CASES[name][0])
    if proc.returncode == 0:
        return result
    started = [line.split()[-1] for line in lines if line.startswith("# start ")]
    key = started[-1] if started else "float/ours"
    tail = " ".join((proc.stderr or "").split()[-30:]) if not started else ""
    result.status[key] = f"crashed (exit code {proc.returncode}) {tail}".strip()
    return result


def _cell(r: Result, mode: str, who: str) -> str:
    s = r.status.get(f"{mode}/{who}")
    return "–" if s is None else "ok" if s == "ok" else "FAIL"


def _num(d: dict[str, float], key: str, spec: str = ".1e") -> str:
    return format(d[key], spec) if key in d else "–"


def markdown(results: list[Result], modes: tuple[str, ...]) -> str:
    quant = [m for m in modes if m != "float"]
    head = "| case | family | converts (ours / official) | max abs diff (ours / official) | max abs output | ops (ours / official) |"
    head += "".join(f" {m} RMSE (ours / official) |" for m in quant)
    lines = [head, "|" + "---|" * (6 + len(quant))]
    notes = []
    for r in results:
        o, f = r.ops.get("float/ours"), r.ops.get("float/official")
        mark = "" if o is None or f is None else (" ✓" if o <= f else " ✗")
        row = (
            f"| {r.case} | {r.family} | {_cell(r, 'float', 'ours')} / "
            f"{_cell(r, 'float', 'official')} | {_num(r.max_abs_diff, 'float/ours')} / "
            f"{_num(r.max_abs_diff, 'float/official')} | {r.out_scale:.2g} | "
            f"{'–' if o is None else o} / {'–' if f is None else f}{mark} |"
        )
        for m in quant:
            a, b = r.rmse.get(f"{m}/ours"), r.rmse.get(f"{m}/official")
            ok = "" if a is None or b is None else (" ✓" if a <= b * 1.0001 else " ✗")
            row += f" {_num(r.rmse, f'{m}/ours', '.2e')} / {_num(r.rmse, f'{m}/official', '.2e')}{ok} |"
        lines.append(row)
        for key, s in r.status.items():
            if s != "ok":
                notes.append(f"- {r.case} {key}: {s}")
    lines += ["", "✓/✗: ops ≤ official's; quantized RMSE vs the float source ≤ official's."]
    return "\n".join(lines + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated case names (--list)")
    parser.add_argument("--family", help="comma-separated: keras, recurrent, hub, tf, v1")
    parser.add_argument("--quant", action="store_true", help="also dynamic, float16, int8")
    parser.add_argument("--modes", help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per case")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--report",
        metavar="JSON",
        nargs="+",
        help="print the table of earlier runs' --json files (merged, in CASES order)",
    )
    args = parser.parse_args(argv)
    if args.report:
        merged = {}
        for path in args.report:
            for raw in json.loads(Path(path).read_text()):
                merged[raw["case"]] = Result(**raw)
        order = [n for n in CASES if n in merged] + [n for n in merged if n not in CASES]
        results = [merged[n] for n in order]
        used = tuple(
            m for m in MODES if any(k.startswith(m + "/") for r in results for k in r.status)
        )
        print(markdown(results, used or ("float",)))
        return 0
    modes = tuple(args.modes.split(",")) if args.modes else MODES if args.quant else ("float",)
    if args.one:
        print(json.dumps(asdict(run_case(args.one, modes))), flush=True)
        return 0
    names = list(CASES)
    if args.family:
        families = set(args.family.split(","))
        names = [n for n in names if CASES[n][0] in families]
    if args.cases:
        names = args.cases.split(",")
        if unknown := [n for n in names if n not in CASES]:
            parser.error(f"unknown case(s) {', '.join(unknown)}; --list shows them")
    if args.list:
        print("\n".join(f"{n} ({CASES[n][0]})" for n in names))
        return 0
    results = []
    for name in names:
        print(f"sweeping {name} ...", file=sys.stderr, flush=True)
        results.append(_child(name, modes, args.timeout))
        print(markdown(results[-1:], modes).splitlines()[2], file=sys.stderr, flush=True)
    import tensorflow as tf

    print(f"tflconv vs tf.lite.TFLiteConverter (TF {tf.__version__}), modes {', '.join(modes)}\n")
    print(markdown(results, modes))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
