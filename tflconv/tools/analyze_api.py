"""`analyze(model)`: the `tflconv analyze` report on the Python API, as a dataclass.

from tflconv.tools.analyze_api import analyze
a = analyze("model.tflite", input_shapes={"x": [1, 224, 224, 3]}, require_delegate=("gpu",))
print(a.macs, a.peak_activation_bytes, a.gpu_compatible, a.ok)
print(a.text())            # what the CLI prints
a.report                   # the JSON-able dict (`tflconv analyze --json`)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tflconv.tools.analyze import AnalyzeError, analyze_model, analyze_tflite, format_analysis
from tflconv.tools.analyze_eval import Requirements, parse_size
from tflconv.tools.analyze_graph import GraphError

TFLITE_MAGIC = b"TFL3"


@dataclass(frozen=True)
class Analysis:
    """A `tflconv analyze` report with its summary as attributes."""

    report: dict[str, Any]

    @property
    def _summary(self) -> dict[str, Any]:
        return (self.report.get("evaluation") or {}).get("summary") or {}

    @property
    def size_bytes(self) -> int | None:
        return self._summary.get("size_bytes")

    @property
    def params(self) -> int | None:
        return self._summary.get("params")

    @property
    def macs(self) -> int | None:
        return self._summary.get("macs")

    @property
    def flops(self) -> int | None:
        return self._summary.get("flops")

    @property
    def peak_activation_bytes(self) -> int | None:
        return self._summary.get("peak_activation_bytes")

    @property
    def gpu_compatible(self) -> bool | None:
        return self._summary.get("gpu_compatible")

    @property
    def xnnpack_ops(self) -> str | None:
        """ "delegated/total", or None when not measured."""
        return self._summary.get("xnnpack_ops")

    @property
    def latency_ms(self) -> dict[str, float] | None:
        """Median latency by thread count (with `benchmark=True`)."""
        return self._summary.get("latency_ms")

    @property
    def failed(self) -> list[str]:
        """The requirements that failed (or why they could not be checked)."""
        ev = self.report.get("evaluation") or {}
        if "error" in ev:
            return [f"not evaluated: {ev['error']}"]
        return list(self._summary.get("failed") or [])

    @property
    def ok(self) -> bool:
        return not self.failed

    def text(self) -> str:
        return format_analysis(self.report)

    def to_json(self) -> str:
        return json.dumps(self.report, indent=2)


def _is_tflite(model: Any) -> bytes | None:
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        return data if data[4:8] == TFLITE_MAGIC else None
    if isinstance(model, (str, os.PathLike)) and os.path.isfile(model):
        with open(model, "rb") as f:
            head = f.read(8)
        if head[4:8] == TFLITE_MAGIC or str(model).lower().endswith(".tflite"):
            with open(model, "rb") as f:
                return f.read()
    return None


def analyze(
    model: Any,
    *,
    input_shapes: dict[str, list[int]] | None = None,
    benchmark: bool = False,
    threads: int | None = None,
    max_size: int | str | None = None,
    max_peak_memory: int | str | None = None,
    require_delegate: tuple[str, ...] = (),
    load_options: dict[str, Any] | None = None,
    select_user_ops: tuple[str, ...] = (),
    quiet: bool = True,
) -> Analysis:
    """Analyze and evaluate `model`: .tflite bytes or path, or anything `tflconv.convert`
    takes (SavedModel directory, Keras model or file, concrete functions, ...). Raises
    AnalyzeError when it cannot be loaded or an option is invalid."""
    try:
        requirements = Requirements(
            parse_size(max_size) if isinstance(max_size, str) else max_size,
            parse_size(max_peak_memory) if isinstance(max_peak_memory, str) else max_peak_memory,
            tuple(require_delegate),
        )
    except GraphError as e:
        raise AnalyzeError(str(e)) from e
    unknown = set(requirements.require_delegate) - {"xnnpack", "gpu"}
    if unknown:
        raise AnalyzeError(f"require_delegate: unknown delegate(s) {sorted(unknown)}")
    options: dict[str, Any] = {
        "evaluation": True,
        "input_shapes": input_shapes,
        "benchmark": benchmark,
        "threads": threads,
        "requirements": requirements,
    }
    data = _is_tflite(model)
    if data is not None:
        return Analysis(analyze_tflite(data, **options))
    report = analyze_model(
        model,
        load_options=load_options,
        select_user_ops=tuple(select_user_ops),
        quiet=quiet,
        **options,
    )
    return Analysis(report)
