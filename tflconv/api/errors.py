"""`ConverterError`: the one exception a conversion raises (the api, the CLI and tools catch it)."""

from __future__ import annotations

from typing import Any


class ConverterError(Exception):
    """A conversion failed. `str(err)` is one line; `details` holds the multi-line report
    (unsupported ops with locations, the failing pass, ...) and `phase` names the stage
    (load, options, pipeline, export, write)."""

    def __init__(
        self, message: str, *, phase: str = "convert", details: str = "", report: Any = None
    ) -> None:
        message = " ".join(message.split("\n")[0].split()) if message else "conversion failed"
        super().__init__(message)
        self.phase = phase
        self.details = details
        self.report = report
        """For unconvertible ops: the `check_tflite_legal.UnsupportedOpsReport`."""
