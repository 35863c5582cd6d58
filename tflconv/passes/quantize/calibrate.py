"""`calibrate`: run the float model in the real runtime over the representative dataset and
record each tensor's range on the IR, like the official flow (float .tflite -> calibration in
the TFLite interpreter -> quantization of the calibrated model).

The runtime is `ctx.runner` (a `core.passes.ModelRunner`; the api supplies
`tflite.runtime.litert_runner`: the module written to a .tflite and run in LiteRT's builtin
kernels with every tensor preserved), and each float tensor of the main subgraph is reduced to
a plain running min/max over all samples (`kernels.RunningMinMax`; NaNs skipped with a warning,
as the official calibration logger). The ranges land on the IR as `!quant.calibrated<f32<min:max>>`
types, so `prepare-quantize` can run on calibrated IR text alone (fixture tests do exactly that).

Inputs: `ctx.data["representative_dataset"]` (see dataset.py for the accepted sources).
Outputs: calibrated types; the mean input patch of each conv / depthwise / fully-connected op as
its `quant.input_mean` attribute (declared discardable: never written to a .tflite; read by
`bias-correction`), so dumps and IR text carry every statistic; `ctx.data["calibration"]`, a
`CalibrationSummary`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Literal

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.passes import ModelRun, ModelRunner, Pass, PassContext, register_pass
from tflconv.dialects.tfl_traits import AFFINE

from .bias_correction import CORRECTED, PatchMean
from .calibrate_loops import CONTROL_FLOW, ProbeRun, has_control_flow, instrument, trackable
from .calibration_methods import LOOP_METHOD, METHODS, MinMax, Observer, make_observer
from .common import (
    CALIBRATION_KEY,
    INPUT_MEAN,
    QuantizeError,
    calibrated_range,
    const_array,
    function_values,
    with_range,
)
from .dataset import InputSpec, normalize_sample, open_dataset, progress

log = logging.getLogger("tflconv.quantize")

DATASET_KEY = "representative_dataset"
SUMMARY_KEY = CALIBRATION_KEY


@dataclass
class CalibrationSummary:
    samples: int = 0
    seconds: float = 0.0
    tensors: int = 0
    loop_tensors: int = 0
    """Tensors inside WHILE / IF functions among `tensors` (ranges over all iterations)."""
    nan_tensors: list[str] = field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


def input_specs(fn: Function) -> list[InputSpec]:
    names = list(fn.attributes.get("input_names") or [])
    return [
        InputSpec(
            names[i] if i < len(names) and names[i] else (a.name_hint or f"input_{i}"), a.type
        )
        for i, a in enumerate(fn.args)
    ]


def calibrate_module(
    module: Module,
    dataset: Any,
    runner: ModelRunner,
    *,
    show_progress: bool = True,
    observer: Callable[[], Observer] = MinMax,
    skip: frozenset[Value] = frozenset(),
    loop_observer: Callable[[], Observer] = MinMax,
) -> tuple[dict[Value, tuple[float, float]], CalibrationSummary]:
    """Ranges of the float tensors of the module over the dataset (`observer` makes the range
    of one main-function tensor: calibration_methods.py; `loop_observer` of one tensor inside a
    WHILE / IF function, fed each sample's min and max over all iterations); tensors in `skip`
    are not tracked."""
    fn = module.functions[0]
    specs = input_specs(fn)
    tracked = [
        v
        for v in (*fn.args, *(r for op in fn.ops for r in op.results))
        if trackable(v) and v not in skip and not _unused_carried(v)
    ]
    t0 = time.perf_counter()
    probe: ProbeRun | None = None
    if has_control_flow(module):
        probe = ProbeRun(instrument(module, skip), runner, tracked)
        model: ModelRun = probe
    else:
        model = runner(module, tracked)
    stats = {v: observer() for v in tracked}
    loop_stats: dict[Value, Observer] = {}
    patch_means = _patch_means(fn, set(tracked))
    samples, total = open_dataset(dataset, specs)
    summary = CalibrationSummary()
    iterator: Iterator[Any] = progress(samples, total, "calibrating") if show_progress else samples
    readable: dict[Value, None] | None = None  # ordered set
    for k, raw in enumerate(iterator):
        arrays = normalize_sample(raw, k, specs)
        if model.run(arrays) or readable is None:
            readable = dict.fromkeys(v for v in tracked if model.tensor(v) is not None)
        for v in readable:
            stats[v].update(model.tensor(v))  # a view: no copy of the tensor
        for op, mean in patch_means.items():
            if op.operands[0] in readable:
                mean.update(model.tensor(op.operands[0]))
        if probe is not None:
            for v, lo, hi in probe.loop_ranges():
                if v not in loop_stats:
                    loop_stats[v] = loop_observer()
                loop_stats[v].update(np.array([lo, hi], np.float32))
            for op, row, rows in probe.loop_means():
                if op not in patch_means:
                    weights = const_array(op.operands[1])
                    assert weights is not None  # instrumented only with constant weights
                    patch_means[op] = PatchMean(op, weights.shape)
                patch_means[op].update_mean(row, rows)
        summary.samples += 1
    if summary.samples == 0:
        raise QuantizeError("the representative dataset produced no samples")
    summary.seconds = time.perf_counter() - t0
    ranges: dict[Value, tuple[float, float]] = {}
    for v, s in (*stats.items(), *loop_stats.items()):
        if s.nan_samples:
            summary.nan_tensors.append(v.name_hint or "?")
        if s.seen:
            ranges[v] = s.range()
            summary.loop_tensors += v in loop_stats
    for op, mean in patch_means.items():
        result = mean.result()
        if result is not None:
            op.attributes[INPUT_MEAN] = result
    summary.tensors = len(ranges)
    if summary.nan_tensors:
        log.warning(
            "calibration: NaN values skipped in %d tensor(s): %s",
            len(summary.nan_tensors),
            ", ".join(summary.nan_tensors[:5]),
        )
    return ranges, summary


def _unused_carried(v: Value) -> bool:
    """An unused WHILE / IF result: LiteRT may leave its buffer unwritten (its range would be
    whatever the memory held), and nothing needs it."""
    op = v.defining_op
    return op is not None and op.name in CONTROL_FLOW and not v.uses


def _patch_means(fn: Function, tracked: set[Value]) -> dict[Operation, PatchMean]:
    """Mean-input accumulators of the affine ops bias correction applies to."""
    out = {}
    for op in fn.ops:
        if op.name not in CORRECTED or op.num_operands < 2 or op.operands[0] not in tracked:
            continue
        weights = const_array(op.operands[1])
        shape = op.operands[0].type.shape
        if weights is None or shape is None:
            continue
        if AFFINE[op.name].patch == "window" and (weights.ndim != 4 or len(shape) != 4):
            continue
        out[op] = PatchMean(op, weights.shape)
    return out


def annotate(ranges: dict[Value, tuple[float, float]]) -> None:
    """Put calibration ranges on the value types (`!quant.calibrated<f32<lo:hi>>`)."""
    for v, (lo, hi) in ranges.items():
        v.type = with_range(v.type, lo, hi)


@register_pass
@dataclass(frozen=True)
class Calibrate(Pass):
    """Run the float model (ctx.runner: LiteRT) over ctx.data["representative_dataset"] and put each
    float tensor's min/max on its type (the input of `prepare-quantize`)."""

    name: ClassVar[str] = "calibrate"
    progress: bool = True
    """Show a progress bar (only on a terminal, never with CI=true)."""
    method: Literal["minmax", "moving-average", "percentile", "mse"] = "minmax"
    """How a tensor's values become its range: running min/max (the official numbers), a
    moving average of per-sample min/max, a percentile, or the MSE-optimal clipping
    (calibration_methods.py)."""
    percentile: float = 99.99
    """method=percentile: the share of values kept on each side, in %."""
    averaging_constant: float = 0.01
    """method=moving-average: the weight of each new sample's min/max."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise QuantizeError(f"calibrate: unknown method {self.method!r}")
        make_observer(self.method, self.percentile, self.averaging_constant)  # checks options

    def run(self, module: Module, ctx: PassContext) -> bool:
        dataset = ctx.data.get(DATASET_KEY)
        if dataset is None:
            raise QuantizeError(
                'calibrate needs a representative dataset in ctx.data["representative_dataset"] '
                "(TFLiteConverter.representative_dataset, or --representative-data FILE)"
            )
        if ctx.runner is None:
            raise QuantizeError(
                "calibrate needs a runtime in PassContext.runner (the converter supplies "
                "tflconv.tflite.runtime.litert_runner)"
            )
        # tensors that already have a range (a QAT graph's FakeQuant ranges) keep it
        given = frozenset(
            v for fn in module.functions for v in function_values(fn) if calibrated_range(v)
        )
        ranges, summary = calibrate_module(
            module,
            dataset,
            ctx.runner,
            show_progress=self.progress,
            observer=partial(make_observer, self.method, self.percentile, self.averaging_constant),
            skip=given,
            loop_observer=partial(
                make_observer, LOOP_METHOD[self.method], averaging_constant=self.averaging_constant
            ),
        )
        annotate(ranges)
        if summary.loop_tensors and LOOP_METHOD[self.method] != self.method:
            log.info(
                "calibrate: %d tensor(s) inside loops / conditionals use min/max, not %s",
                summary.loop_tensors,
                self.method,
            )
        ctx.data[SUMMARY_KEY] = summary
        ctx.stats["calibration samples"] += summary.samples
        ctx.stats["calibrated tensors"] += summary.tensors
        return bool(ranges)
