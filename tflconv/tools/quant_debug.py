"""Quantization debugger: which layers lose accuracy when a model is quantized, and which to keep
in float.

    from tflconv.tools.quant_debug import QuantizationDebugger
    dbg = QuantizationDebugger("model.keras", representative_dataset=calib)
    report = dbg.run()                      # int8 model vs float model on the debug samples
    print(report.table(top=15))
    report.write_svg("errors.svg"); report.write_csv("errors.csv")
    better = dbg.run(keep_float=report.suggestions())   # selective quantization
    tflite = dbg.quantize(keep_float=report.suggestions())

Like tf.lite.experimental.QuantizationDebugger, both models run in the LiteRT interpreter with
every intermediate tensor preserved; tensors are matched by name (quantized tensors keep their
float tensor's name), and each quantized tensor's error against its float twin is summarised:
RMSE, max |error|, mean error and RMSE / scale. Pure rounding gives RMSE / scale = 1/sqrt(12)
~ 0.289; layers far above it (default threshold 0.7, the official tutorial's rule) are suggested
for `keep_float`. The float model is converted and calibrated once; each `run`/`quantize`
re-quantizes a copy of the calibrated IR (no reload, no recalibration).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tflconv.api.converter import TFLiteConverter
from tflconv.api.pipeline import QuantizationConfig, quantization_passes
from tflconv.core.pass_manager import PassManager
from tflconv.core.passes import PassContext
from tflconv.core.pipeline import format_pipeline
from tflconv.passes.quantize.calibrate import input_specs
from tflconv.passes.quantize.dataset import normalize_sample, open_dataset
from tflconv.tflite.reader import read_flatbuffer
from tflconv.tflite.runtime import litert_runner, tensor_allocated
from tflconv.tflite.writer import write_flatbuffer

ROUNDING_ONLY = 1 / math.sqrt(12)
"""RMSE / scale of uniform rounding error alone."""

DEFAULT_THRESHOLD = 0.7


@dataclass
class LayerError:
    """The error of one quantized tensor against its float twin over the debug samples."""

    tensor: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None
    elements: int = 0
    rmse: float = 0.0
    max_abs_error: float = 0.0
    mean_error: float = 0.0
    float_range: tuple[float, float] = (math.inf, -math.inf)

    @property
    def rmse_over_scale(self) -> float:
        """RMSE in quantization steps (NaN for tensors that stayed float)."""
        return self.rmse / self.scale if self.scale else math.nan

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = "x".join(map(str, self.shape))
        d["float_min"], d["float_max"] = self.float_range
        del d["float_range"]
        d["rmse_over_scale"] = self.rmse_over_scale
        return d


@dataclass
class DebugReport:
    """Per-layer errors (worst first by RMSE / scale), model output errors and suggestions."""

    layers: list[LayerError]
    outputs: list[LayerError]
    samples: int
    threshold: float = DEFAULT_THRESHOLD
    keep_float: tuple[str, ...] = ()
    float_ops: list[str] = field(default_factory=list)
    """Tensors the quantized model computes in float."""

    def suggestions(self) -> list[str]:
        """Tensor names whose producing ops should stay float (RMSE / scale > threshold)."""
        return [
            e.tensor
            for e in self.layers
            if e.scale and e.rmse_over_scale > self.threshold and e.op not in _NEVER_SUGGEST
        ]

    def table(self, top: int | None = 20) -> str:
        rows = self.layers if top is None else self.layers[:top]
        width = min(60, max([len(e.tensor) for e in rows] + [6]))
        head = f"{'tensor':<{width}}  {'op':<22} {'rmse':>10} {'max|err|':>10} {'rmse/scale':>10}"
        lines = [head, "-" * len(head)]
        for e in rows:
            name = e.tensor if len(e.tensor) <= width else "..." + e.tensor[-(width - 3) :]
            ratio = f"{e.rmse_over_scale:10.3f}" if e.scale else f"{'(float)':>10}"
            mark = " *" if e.tensor in self.suggestions() else ""
            lines.append(
                f"{name:<{width}}  {e.op:<22} {e.rmse:10.4g} {e.max_abs_error:10.4g} {ratio}{mark}"
            )
        if top is not None and len(self.layers) > top:
            lines.append(f"... {len(self.layers) - top} more (CSV/JSON have all)")
        lines.append("")
        for o in self.outputs:
            lines.append(
                f"model output {o.tensor}: rmse {o.rmse:.4g}, max |err| {o.max_abs_error:.4g}"
            )
        lines.append(
            f"{self.samples} sample(s); * = rmse/scale > {self.threshold:g} (rounding alone: "
            f"{ROUNDING_ONLY:.3f})"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "threshold": self.threshold,
            "keep_float": list(self.keep_float),
            "suggested_keep_float": self.suggestions(),
            "layers": [_finite(e.row()) for e in self.layers],
            "outputs": [_finite(e.row()) for e in self.outputs],
        }

    def write_json(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)

    def write_csv(self, path: str | os.PathLike) -> None:
        rows = [e.row() for e in self.layers]
        fields = list(LayerError("", "", (), "", None, None).row())
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    def write_svg(self, path: str | os.PathLike, top: int = 25) -> None:
        with open(path, "w") as f:
            f.write(svg_bar_chart(self, top))


_NEVER_SUGGEST = frozenset({"QUANTIZE", "DEQUANTIZE"})


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN/inf: use null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


# --- the SVG chart -------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def svg_bar_chart(report: DebugReport, top: int = 25) -> str:
    """A horizontal bar chart of RMSE / scale per layer (worst first), hand-written SVG: bars
    over the threshold in red, the rounding-only level as a dashed line."""
    rows = [e for e in report.layers if e.scale][:top]
    label_w, bar_w, row_h, pad = 330, 420, 18, 10
    height = pad * 2 + 40 + row_h * max(len(rows), 1) + 30
    width = label_w + bar_w + 90
    vmax = max([e.rmse_over_scale for e in rows] + [report.threshold * 1.2, 1.0])

    def x(v: float) -> float:
        return label_w + bar_w * v / vmax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{pad}" y="{pad + 12}" font-size="14" font-weight="bold">'
        f"Quantization error per layer (RMSE / scale), {report.samples} sample(s)</text>",
    ]
    top_y = pad + 30
    for i, e in enumerate(rows):
        y = top_y + i * row_h
        v = e.rmse_over_scale
        color = "#d62728" if v > report.threshold else "#4c78a8"
        name = e.tensor if len(e.tensor) <= 52 else "..." + e.tensor[-49:]
        out.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{_esc(name)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{max(x(v) - label_w, 1):.1f}" '
            f'height="{row_h - 5}" fill="{color}"><title>{_esc(e.tensor)} ({_esc(e.op)}): '
            f"rmse {e.rmse:.4g}, max |err| {e.max_abs_error:.4g}</title></rect>"
            f'<text x="{x(v) + 4:.1f}" y="{y + 12}">{v:.2f}</text>'
        )
    bottom = top_y + row_h * max(len(rows), 1)
    for value, style, label in (
        (ROUNDING_ONLY, 'stroke="#555" stroke-dasharray="4 3"', "rounding only"),
        (report.threshold, 'stroke="#d62728"', f"threshold {report.threshold:g}"),
    ):
        out.append(
            f'<line x1="{x(value):.1f}" y1="{top_y - 4}" x2="{x(value):.1f}" y2="{bottom}" '
            f"{style}/>"
            f'<text x="{x(value):.1f}" y="{bottom + 14}" text-anchor="middle" fill="#555">'
            f"{_esc(label)}</text>"
        )
    out.append("</svg>\n")
    return "\n".join(out)


# --- running both models ---------------------------------------------------------------------------


class _Accumulator:
    __slots__ = ("sq", "abs_max", "total", "n", "lo", "hi")

    def __init__(self) -> None:
        self.sq = 0.0
        self.abs_max = 0.0
        self.total = 0.0
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf

    def add(self, got: np.ndarray, want: np.ndarray) -> None:
        diff = got.astype(np.float64) - want
        self.sq += float(np.dot(diff.ravel(), diff.ravel()))
        self.abs_max = max(self.abs_max, float(np.abs(diff).max()) if diff.size else 0.0)
        self.total += float(diff.sum())
        self.n += diff.size
        if want.size:
            self.lo = min(self.lo, float(want.min()))
            self.hi = max(self.hi, float(want.max()))

    def fill(self, e: LayerError) -> LayerError:
        e.elements = self.n
        e.rmse = math.sqrt(self.sq / self.n) if self.n else 0.0
        e.max_abs_error = self.abs_max
        e.mean_error = self.total / self.n if self.n else 0.0
        e.float_range = (self.lo, self.hi)
        return e


def _interpreter(tflite: bytes) -> Any:
    import warnings

    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)


def _produced(interp: Any) -> dict[int, str]:
    """Tensor index -> the op producing it."""
    out = {}
    for op in interp._get_ops_details():  # noqa: SLF001 - the only way to list op outputs
        for i in op["outputs"]:
            out[int(i)] = op["op_name"]
    return out


def _set_inputs(interp: Any, arrays: list[np.ndarray]) -> None:
    details = interp.get_input_details()
    resized = False
    for d, x in zip(details, arrays):
        if list(d["shape"]) != list(x.shape):
            interp.resize_tensor_input(d["index"], list(x.shape), strict=False)
            resized = True
    if resized or not getattr(interp, "_tflconv_allocated", False):
        interp.allocate_tensors()
        interp._tflconv_allocated = True  # noqa: SLF001 - remember across samples
    for d, x in zip(interp.get_input_details(), arrays):
        if d["dtype"] != np.float32 and x.dtype.kind == "f":
            scale, zp = d["quantization"]
            info = np.iinfo(d["dtype"])
            x = np.clip(np.rint(x / scale) + zp, info.min, info.max).astype(d["dtype"])
        interp.set_tensor(d["index"], x)


def _as_float(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zp = detail["quantization"]
    return ((x.astype(np.float32) - zp) * scale).astype(np.float32)


def compare_models(
    float_tflite: bytes,
    quant_tflite: bytes,
    dataset: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_samples: int | None = None,
) -> DebugReport:
    """Run the float and the quantized .tflite on each sample of `dataset` (any source
    `passes.quantize.dataset` accepts) and compare same-named tensors."""
    specs = input_specs(read_flatbuffer(float_tflite).functions[0])
    samples, _ = open_dataset(dataset, specs)
    fi, qi = _interpreter(float_tflite), _interpreter(quant_tflite)
    f_by_name = {
        d["name"]: d for d in fi.get_tensor_details() if d["dtype"] == np.float32 and d["name"]
    }
    q_produced = _produced(qi)
    pairs: list[tuple[LayerError, int, int]] = []
    for d in qi.get_tensor_details():
        op = q_produced.get(int(d["index"]))
        f = f_by_name.get(d["name"])
        if op is None or op in _NEVER_SUGGEST or f is None:
            continue
        scales = d["quantization_parameters"]["scales"]
        quantized = d["dtype"] in (np.int8, np.int16, np.uint8) and len(scales) == 1
        if d["dtype"] != np.float32 and not quantized:
            continue
        scale, zp = (
            (float(scales[0]), int(d["quantization_parameters"]["zero_points"][0]))
            if quantized
            else (None, None)
        )
        err = LayerError(
            d["name"], op, tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name, scale, zp
        )
        pairs.append((err, int(d["index"]), int(f["index"])))
    acc = {id(e): _Accumulator() for e, _, _ in pairs}
    out_acc = [_Accumulator() for _ in qi.get_output_details()]
    n = 0
    for k, raw in enumerate(samples):
        if max_samples is not None and n >= max_samples:
            break
        arrays = normalize_sample(raw, k, specs)
        _set_inputs(fi, arrays)
        _set_inputs(qi, arrays)
        fi.invoke()
        qi.invoke()
        if n == 0:  # an unused while-loop result is never allocated: nothing to compare
            pairs = [p for p in pairs if tensor_allocated(qi, p[1]) and tensor_allocated(fi, p[2])]
        for e, qidx, fidx in pairs:
            q = qi.tensor(qidx)()
            got = (
                q.astype(np.float32)
                if e.scale is None
                else (q.astype(np.float32) - e.zero_point) * np.float32(e.scale)
            )
            acc[id(e)].add(got, fi.tensor(fidx)().astype(np.float64))
            del q, got  # LiteRT refuses to resize while views of its buffers are alive
        for a, qd, fd in zip(out_acc, qi.get_output_details(), fi.get_output_details()):
            a.add(
                _as_float(qi.get_tensor(qd["index"]), qd),
                fi.get_tensor(fd["index"]).astype(np.float64),
            )
        n += 1
    if n == 0:
        raise ValueError("the debug dataset produced no samples")
    layers = [acc[id(e)].fill(e) for e, _, _ in pairs]
    layers.sort(key=lambda e: (-(e.rmse_over_scale if e.scale else -1.0), -e.rmse))
    outputs = [
        a.fill(
            LayerError(
                d["name"], "output", tuple(int(s) for s in d["shape"]), "float32", None, None
            )
        )
        for a, d in zip(out_acc, fi.get_output_details())
    ]
    return DebugReport(
        layers,
        outputs,
        n,
        threshold,
        float_ops=[e.tensor for e in layers if e.scale is None],
    )


# --- the debugger ------------------------------------------------------------------------------------


def _reiterable(source: Any) -> Any:
    """Debugging needs the samples more than once: one-shot iterators are kept in a list."""
    if isinstance(source, Iterator):
        return list(source)
    return source


class QuantizationDebugger:
    """Converts a model to float once, calibrates once, then quantizes and compares on demand.

    `model` is anything `tflconv.convert` takes (Keras model, .keras/.h5, SavedModel dir, ...).
    `representative_dataset` calibrates; `debug_dataset` (default: the same samples) is what
    the models are compared on. `mode` is "int8" or "int16x8"; `per_channel` and
    `bias_correction` are the `quantize` pass options. `converter_options` are
    TFLiteConverter attributes for the float conversion (pipeline, quiet, ...)."""

    def __init__(
        self,
        model: Any,
        representative_dataset: Any,
        debug_dataset: Any = None,
        *,
        mode: str = "int8",
        per_channel: bool = True,
        bias_correction: bool = True,
        max_samples: int | None = None,
        **converter_options: Any,
    ) -> None:
        if mode not in ("int8", "int16x8"):
            raise ValueError(f"mode must be int8 or int16x8, not {mode!r}")
        self.mode = mode
        self.per_channel = per_channel
        self.bias_correction = bias_correction
        self.max_samples = max_samples
        dataset = _reiterable(representative_dataset)
        self.debug_dataset = dataset if debug_dataset is None else _reiterable(debug_dataset)
        conv = (
            model
            if isinstance(model, TFLiteConverter)
            else TFLiteConverter(model, load_options=converter_options.pop("load_options", {}))
        )
        conv.quiet = converter_options.pop("quiet", True)
        for key, value in converter_options.items():
            setattr(conv, key, value)
        result = conv.convert_with_report()
        self.float_tflite: bytes = result.tflite
        self.float_module = result.module
        self._calibrated = self._calibrate(dataset)

    def _calibrate(self, dataset: Any) -> Any:
        module = self.float_module.clone()
        ctx = PassContext(data={"representative_dataset": _source(dataset)}, runner=litert_runner)
        PassManager.from_pipeline("calibrate").run(module, ctx)
        return module

    def quantize(self, keep_float: Iterable[str] = ()) -> bytes:
        """The quantized .tflite (selective when `keep_float` names layers / tensors)."""
        module = self._calibrated.clone()
        recipe = QuantizationConfig(
            self.mode,
            keep_float=tuple(keep_float),
            per_channel=self.per_channel,
            bias_correction=self.bias_correction,
        )
        passes = [p for p in quantization_passes(recipe) if p.name != "calibrate"]
        PassManager.from_pipeline(format_pipeline(passes)).run(module, PassContext())
        return write_flatbuffer(module, conversion_metadata=None)

    def run(
        self, keep_float: Iterable[str] = (), threshold: float = DEFAULT_THRESHOLD
    ) -> DebugReport:
        """Quantize (keeping `keep_float` in float) and compare with the float model."""
        keep = tuple(keep_float)
        report = compare_models(
            self.float_tflite,
            self.quantize(keep),
            self.debug_dataset,
            threshold=threshold,
            max_samples=self.max_samples,
        )
        report.keep_float = keep
        return report


def _source(dataset: Any) -> Any:
    """What `calibrate` accepts: paths and callables as they are, other iterables re-iterated."""
    if isinstance(dataset, str | os.PathLike) or callable(dataset):
        return dataset
    return list(dataset) if not isinstance(dataset, list | tuple) else dataset


def debug_quantization(
    model: Any,
    representative_dataset: Any,
    debug_dataset: Any = None,
    *,
    mode: str = "int8",
    keep_float: Iterable[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    max_samples: int | None = None,
    **converter_options: Any,
) -> DebugReport:
    """One-call form: convert, calibrate, quantize and compare."""
    dbg = QuantizationDebugger(
        model,
        representative_dataset,
        debug_dataset,
        mode=mode,
        max_samples=max_samples,
        **converter_options,
    )
    return dbg.run(keep_float, threshold)
