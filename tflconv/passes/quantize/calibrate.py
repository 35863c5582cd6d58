"""`calibrate`: run the float model in the real runtime over the representative dataset and
record each tensor's range on the IR, like the official flow (float .tflite -> calibration in
the TFLite interpreter -> quantization of the calibrated model).

The module is written to a .tflite, loaded in LiteRT with `experimental_preserve_all_tensors`
(every intermediate buffer survives `invoke`, and LiteRT then runs its reference kernels, not
XNNPACK's), and each float tensor of the main subgraph is reduced to a plain running min/max
over all samples (`kernels.RunningMinMax`; NaNs skipped with a warning, as the official
calibration logger). The ranges land on the IR as `!quant.calibrated<f32<min:max>>` types, so
`quantize` can run on calibrated IR text alone (fixture tests do exactly that).

Inputs: `ctx.data["representative_dataset"]` (see dataset.py for the accepted sources).
Outputs: calibrated types, and `ctx.data["calibration"]` (a `CalibrationSummary`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tflconv.core.ir import RETURN, Function, Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.dialects import tfl

from .bias_correction import CORRECTED, INPUT_MEAN_ATTR, PatchMean
from .common import CONSTANT, QuantizeError, const_array, with_range
from .dataset import InputSpec, normalize_sample, open_dataset, progress
from .kernels import RunningMinMax

log = logging.getLogger("tflconv.quantize")

DATASET_KEY = "representative_dataset"
SUMMARY_KEY = "calibration"


@dataclass
class CalibrationSummary:
    samples: int = 0
    seconds: float = 0.0
    tensors: int = 0
    nan_tensors: list[str] = field(default_factory=list)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


def tensor_indices(fn: Function) -> dict[Value, int]:
    """Value -> tensor index in the subgraph the writer makes of `fn` (same walk order as
    `tflite.writer._Writer._subgraph`: arguments, then per op its constant or results)."""
    from tflconv.tflite.writer import INTERMEDIATES

    index: dict[Value, int] = {}
    n = 0
    for arg in fn.args:
        index[arg] = n
        n += 1
    for op in fn.ops:
        if op.name in (RETURN, tfl.NO_VALUE):
            continue
        for r in op.results:
            index[r] = n
            n += 1
        n += len(op.attributes.get(INTERMEDIATES) or ())
    return index


def input_specs(fn: Function) -> list[InputSpec]:
    names = list(fn.attributes.get("input_names") or [])
    return [
        InputSpec(
            names[i] if i < len(names) and names[i] else (a.name_hint or f"input_{i}"), a.type
        )
        for i, a in enumerate(fn.args)
    ]


def calibrate_module(
    module: Module, dataset: Any, *, show_progress: bool = True
) -> tuple[dict[Value, tuple[float, float]], CalibrationSummary]:
    """Ranges of the float tensors of the module's main function over the dataset."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from tflconv.tflite.writer import write_flatbuffer

    fn = module.functions[0]
    specs = input_specs(fn)
    index = tensor_indices(fn)
    tracked = {
        v: i
        for v, i in index.items()
        if v.type.dtype == "f32" and (v.defining_op is None or v.defining_op.name != CONSTANT)
    }
    t0 = time.perf_counter()
    tflite = write_flatbuffer(module, conversion_metadata=None)
    with warnings.catch_warnings():  # LiteRT warns that preserving tensors costs memory
        warnings.simplefilter("ignore")
        # No XNNPACK: its float kernels round differently from the builtin ones TF's
        # calibrator runs, which shifts ranges by a few ulps and changes every int8 scale.
        interp = Interpreter(
            model_content=tflite,
            experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    details = interp.get_tensor_details()
    _check_layout(details, tracked, fn)
    input_details = interp.get_input_details()
    stats = {v: RunningMinMax() for v in tracked}
    patch_means = _patch_means(fn, tracked)
    samples, total = open_dataset(dataset, specs)
    shapes: list[tuple[int, ...] | None] = [None] * len(specs)
    summary = CalibrationSummary()
    iterator: Iterator[Any] = progress(samples, total, "calibrating") if show_progress else samples
    allocated = False
    readable: dict[Value, int] | None = None
    for k, raw in enumerate(iterator):
        arrays = normalize_sample(raw, k, specs)
        resized = False
        for i, (arr, d) in enumerate(zip(arrays, input_details)):
            if shapes[i] != arr.shape:
                if tuple(d["shape"]) != arr.shape or allocated:
                    interp.resize_tensor_input(d["index"], list(arr.shape), strict=False)
                shapes[i] = arr.shape
                resized = True
        if resized or not allocated:
            interp.allocate_tensors()
            allocated = True
        for arr, d in zip(arrays, input_details):
            interp.set_tensor(d["index"], arr)
        interp.invoke()
        if resized or readable is None:
            readable = {v: i for v, i in tracked.items() if tensor_allocated(interp, i)}
        for v, i in readable.items():
            stats[v].update(interp.tensor(i)())  # a view: no copy of the tensor
        for op, mean in patch_means.items():
            if op.operands[0] in readable:
                mean.update(interp.tensor(readable[op.operands[0]])())
        summary.samples += 1
    if summary.samples == 0:
        raise QuantizeError("the representative dataset produced no samples")
    summary.seconds = time.perf_counter() - t0
    ranges: dict[Value, tuple[float, float]] = {}
    for v, s in stats.items():
        if s.nan_samples:
            summary.nan_tensors.append(v.name_hint or "?")
        if s.seen:
            ranges[v] = (s.lo, s.hi)
    for op, mean in patch_means.items():
        result = mean.result()
        if result is not None:
            op.attributes[INPUT_MEAN_ATTR] = result
    summary.tensors = len(ranges)
    if summary.nan_tensors:
        log.warning(
            "calibration: NaN values skipped in %d tensor(s): %s",
            len(summary.nan_tensors),
            ", ".join(summary.nan_tensors[:5]),
        )
    return ranges, summary


def tensor_allocated(interp: Any, index: int) -> bool:
    """Whether LiteRT allocated tensor `index` (an unused while-loop result is not). The view
    must not outlive this call: LiteRT refuses to re-allocate while one exists."""
    try:
        interp.tensor(index)()
    except ValueError:
        return False
    return True


def _patch_means(fn: Function, tracked: dict[Value, int]) -> dict[Operation, PatchMean]:
    """Mean-input accumulators of the affine ops bias correction applies to."""
    out = {}
    for op in fn.ops:
        if op.name not in CORRECTED or op.num_operands < 2 or op.operands[0] not in tracked:
            continue
        weights = const_array(op.operands[1])
        shape = op.operands[0].type.shape
        if weights is None or shape is None:
            continue
        if op.name != "tfl.fully_connected" and (weights.ndim != 4 or len(shape) != 4):
            continue
        out[op] = PatchMean(op, weights.shape)
    return out


def _check_layout(details: list[dict[str, Any]], tracked: dict[Value, int], fn: Function) -> None:
    """The writer's tensor order must be the one `tensor_indices` assumed."""
    by_index = {d["index"]: d for d in details}
    for v, i in tracked.items():
        d = by_index.get(i)
        want = v.type.shape
        ok = d is not None and d["dtype"] == np.float32
        if ok and want is not None:
            ok = len(d["shape_signature"]) == len(want)
        if not ok:
            raise QuantizeError(
                f"calibration: tensor #{i} of @{fn.name} does not match value "
                f"{v.name_hint or v!r} (writer layout changed?)"
            )


def annotate(ranges: dict[Value, tuple[float, float]]) -> None:
    """Put calibration ranges on the value types (`!quant.calibrated<f32<lo:hi>>`)."""
    for v, (lo, hi) in ranges.items():
        v.type = with_range(v.type, lo, hi)


@register_pass
@dataclass(frozen=True)
class Calibrate(Pass):
    """Run the float model in LiteRT over ctx.data["representative_dataset"] and put each
    float tensor's min/max on its type (the input of `quantize{mode=int8|int16x8}`)."""

    name: ClassVar[str] = "calibrate"
    progress: bool = True
    """Show a progress bar (only on a terminal, never with CI=true)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        dataset = ctx.data.get(DATASET_KEY)
        if dataset is None:
            raise QuantizeError(
                'calibrate needs a representative dataset in ctx.data["representative_dataset"] '
                "(TFLiteConverter.representative_dataset, or --representative-data FILE)"
            )
        ranges, summary = calibrate_module(module, dataset, show_progress=self.progress)
        annotate(ranges)
        ctx.data[SUMMARY_KEY] = summary
        ctx.stats["calibration samples"] += summary.samples
        ctx.stats["calibrated tensors"] += summary.tensors
        return bool(ranges)
