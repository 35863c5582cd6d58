"""Where a conversion's time goes, against the trace floor: per model, the median over `--runs`
of tracing alone (`tf.function(model).get_concrete_function(spec)`, what any TF-based converter
pays) and of each tflconv phase (load = trace + graph import, pipeline, export), and the ratio
conversion / floor; `--profile` adds cProfile's top functions of one conversion.

    python benchmarks/profile_conversion.py                       # the compare_official models
    python benchmarks/profile_conversion.py resnet50 --runs 5 --profile 25
    python benchmarks/profile_conversion.py --mlp 4 --profile 20  # 4 x Dense(8192), 1 GB
    python benchmarks/profile_conversion.py --ab --runs 7         # also without the shortcuts

The floor and the conversion are measured alternately in one process after a warm-up
conversion, so a busy machine slows both alike, each after a `gc.collect()` (otherwise the
previous run's IR and graphs are collected inside whichever measurement triggers the cyclic
collector: the largest source of spread between runs); medians of the ratio per run are
reported, for wall time and for process CPU time (all threads; steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


from compare_official import trace_floor  # noqa: E402  (after the sys.path entry above)


def _models(names: list[str], mlp: int) -> dict[str, Any]:
    from compare_official import MODELS

    if mlp:
        from memory import build_mlp

        return {f"mlp_{mlp}x8192": lambda: build_mlp(mlp, 8192)}
    return {n: MODELS[n] for n in (names or list(MODELS))}


def convert(model: Any) -> tuple[float, float, dict[str, float]]:
    """(wall, CPU) seconds of a conversion to bytes, and its phases (wall)."""
    import tflconv

    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = tflconv.TFLiteConverter.from_keras_model(model).convert_with_report()
    return time.perf_counter() - start, time.process_time() - cpu, dict(result.phase_seconds)


@contextlib.contextmanager
def without_shortcuts() -> Iterator[None]:
    """Conversions as before the load-time shortcuts: full op tracebacks while tracing, numpy's
    huge-page advice on (what `--ab` compares against; the output is the same)."""
    from tflconv.api import converter
    from tflconv.frontends.tensorflow import keras_models

    saved = (converter.small_pages, keras_models.short_tracebacks)
    converter.small_pages = keras_models.short_tracebacks = contextlib.nullcontext
    try:
        yield
    finally:
        converter.small_pages, keras_models.short_tracebacks = saved


def profile(model: Any, top: int) -> str:
    import tflconv

    conv = tflconv.TFLiteConverter.from_keras_model(model)
    prof = cProfile.Profile()
    prof.enable()
    conv.convert()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="compare_official.py model names (default all)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per model (default 3)")
    parser.add_argument("--profile", type=int, metavar="N", help="print cProfile's top N")
    parser.add_argument("--mlp", type=int, default=0, metavar="L", help="L x Dense(8192) instead")
    parser.add_argument(
        "--ab",
        action="store_true",
        help="also convert without the load-time shortcuts in every run (alternating)",
    )
    args = parser.parse_args(argv)
    from tflconv.api.quiet import quiet_tensorflow

    rows, profiles = [], []
    with quiet_tensorflow(True):
        for name, build in _models(args.models, args.mlp).items():
            model = build()
            convert(model)  # warm-up: one-time imports and TF caches
            floors, totals, phases, cpu_ratios, plain = [], [], [], [], []
            for _ in range(args.runs):
                floor, floor_cpu = trace_floor(model)
                total, total_cpu, phase = convert(model)
                floors.append(floor)
                totals.append(total)
                phases.append(phase)
                cpu_ratios.append(total_cpu / floor_cpu)
                if args.ab:
                    with without_shortcuts():
                        plain.append(convert(model)[0] / trace_floor(model)[0])
            ratios = [t / f for t, f in zip(totals, floors)]
            med = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
            rows.append(
                (
                    name,
                    statistics.median(floors),
                    statistics.median(totals),
                    med,
                    ratios,
                    cpu_ratios,
                    statistics.median(plain) if plain else None,
                )
            )
            if args.profile:
                profiles.append(f"== {name}\n{profile(model, args.profile)}")
    print("".join(profiles))  # after quiet_tensorflow, which silences the output streams
    print(
        "| model | floor s | conversion s | load s | pipeline s | export s "
        "| wall ratio (median) | CPU ratio (median) | wall ratio without shortcuts | wall ratios |"
    )
    print("|" + "---|" * 10)
    for name, floor, total, med, ratios, cpu_ratios, plain in rows:
        print(
            f"| {name} | {floor:.3f} | {total:.3f} | {med.get('load', 0):.3f} "
            f"| {med.get('pipeline', 0):.3f} | {med.get('export', 0):.3f} "
            f"| {statistics.median(ratios):.2f} | {statistics.median(cpu_ratios):.2f} "
            f"| {'-' if plain is None else f'{plain:.2f}'} "
            f"| {', '.join(f'{r:.2f}' for r in ratios)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
