"""The `PassManager`: runs passes in order, timing each, with instruments, verification after
each pass on request, and crash reproducers (`tflconv opt <reproducer>` replays one)."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import signals
from .io import write_atomic
from .ir import Module
from .passes import Pass, PassContext
from .pipeline import format_pipeline, parse_pipeline
from .printer import print_module
from .verifier import verify

if TYPE_CHECKING:
    from .instrument import PassInstrument

log = logging.getLogger("tflconv")


class PassFailure(RuntimeError):
    """A pass raised (or left invalid IR behind). The message is one line:
    `pass 'X' failed: <type>: <msg> (reproducer: path)`."""

    def __init__(self, message: str, pass_: Pass, reproducer: Path | None) -> None:
        super().__init__(message)
        self.pass_ = pass_
        self.reproducer = reproducer


@dataclass
class PassRecord:
    """What one pass run did: wall time, whether it reported a change, its counters."""

    pass_: Pass
    seconds: float
    changed: bool
    stats: Counter


REPRODUCER_TAG = "// tflconv-reproducer:"


def reproducer_pipeline(text: str) -> str | None:
    """The pipeline in a reproducer header (`// tflconv-reproducer: pipeline="..."`), if any."""
    for line in text.splitlines()[:20]:
        line = line.strip()
        if line.startswith(REPRODUCER_TAG):
            rest = line[len(REPRODUCER_TAG) :].strip()
            if rest.startswith('pipeline="') and rest.endswith('"'):
                return rest[len('pipeline="') : -1]
    return None


class PassManager:
    """Runs passes in order. Every pass is timed (`records`, verification excluded);
    instruments observe each run; `verify_each` runs the verifier after every pass.

    With `reproducer` set, a failure writes the IR the failing pass received, with that pass
    as the header's pipeline; `tflconv opt <file>` replays it. To keep the success path cheap
    the manager clones the module once per run (constants shared), not before every pass:
    on failure it re-runs the earlier passes on that clone to rebuild the failing pass's
    input. Should that re-run itself fail, the reproducer is the run's input with the whole
    pipeline up to the failing pass."""

    def __init__(
        self,
        passes: Sequence[Pass],
        instruments: Sequence[PassInstrument] = (),
        *,
        verify_each: bool = False,
        reproducer: str | os.PathLike | None = None,
    ) -> None:
        self.passes = list(passes)
        self.instruments = list(instruments)
        self.verify_each = verify_each
        self.reproducer = Path(reproducer) if reproducer is not None else None
        self.records: list[PassRecord] = []

    @classmethod
    def from_pipeline(cls, text: str, **kwargs: Any) -> PassManager:
        return cls(parse_pipeline(text), **kwargs)

    def __str__(self) -> str:
        return format_pipeline(self.passes)

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    def run(self, module: Module, ctx: PassContext | None = None) -> bool:
        """Run every pass on `module` in place; True when any pass reported a change.
        Raises `PassFailure` (after writing the reproducer, when enabled)."""
        ctx = ctx if ctx is not None else PassContext()
        self.records = []
        log.debug("running pipeline %s", self)
        with frozen_heap():
            initial = module.clone() if self.reproducer is not None else None
            for inst in self.instruments:
                inst.before_pipeline(self, module, ctx)
            any_changed = False
            for index, p in enumerate(self.passes):
                signals.check()  # a Ctrl-C that library code swallowed stops the run here
                any_changed |= self._run_one(index, p, module, ctx, initial)
            for inst in reversed(self.instruments):
                inst.after_pipeline(self, module, ctx)
        return any_changed

    def _run_one(
        self, index: int, p: Pass, module: Module, ctx: PassContext, initial: Module | None
    ) -> bool:
        # Each pass gets its own counters; tracer, listener, data and runner are shared.
        pctx = PassContext(ctx.tracer, ctx.listener, Counter(), ctx.data, ctx.runner)
        for inst in self.instruments:
            inst.before_pass(p, index, module, pctx)
        start = time.perf_counter()
        seconds = None
        try:
            result = p.run(module, pctx)
            seconds = time.perf_counter() - start
            if self.verify_each:
                verify(module)
        except PassFailure:
            raise
        except Exception as exc:
            if seconds is None:
                seconds = time.perf_counter() - start
            self.records.append(PassRecord(p, seconds, True, pctx.stats))
            for inst in reversed(self.instruments):
                inst.after_pass_failed(p, index, module, pctx, exc)
            path = self._write_reproducer(index, initial, ctx) if initial is not None else None
            where = f" (reproducer: {path})" if path is not None else ""
            message = " ".join(str(exc).split()) or "(no message)"
            raise PassFailure(
                f"pass '{p.name}' failed: {type(exc).__name__}: {message}{where}", p, path
            ) from exc
        # None means the pass does not say: assume it may have changed the IR.
        changed = True if result is None else bool(result)
        self.records.append(PassRecord(p, seconds, changed, pctx.stats))
        ctx.stats.update(pctx.stats)
        for inst in reversed(self.instruments):
            inst.after_pass(p, index, module, pctx, changed)
        return changed

    def _write_reproducer(self, index: int, initial: Module, ctx: PassContext) -> Path:
        assert self.reproducer is not None
        # Rebuild the failing pass's input: the earlier passes again, on the run's input.
        rebuilt, start = initial.clone(), index
        try:
            for p in self.passes[:index]:
                p.run(rebuilt, PassContext(data=ctx.data, runner=ctx.runner))
        except Exception:  # noqa: BLE001 - the re-run diverged: keep the whole prefix instead
            rebuilt, start = initial, 0
        pipeline = format_pipeline(self.passes[start : index + 1])
        text = f'{REPRODUCER_TAG} pipeline="{pipeline}"\n' + print_module(
            rebuilt, elide_large=False
        )
        write_atomic(self.reproducer, text)
        return self.reproducer


_frozen_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects alive at the start out of the garbage collector's full collections
    inside the block. Passes: rescanning a big, long-lived IR (~10 objects per op) made
    pipelines superlinear (100k ops: 16x the time of 10k instead of ~12x). A conversion
    (`TFLiteConverter`): the user's model and TensorFlow's own objects, rescanned by the full
    collections that tracing's allocations trigger (a first conversion of MobileNetV2 in a
    new process: 0.54 s instead of 0.62-0.74). New objects, including cycles of erased ops,
    are still collected; frozen ones after the outermost block. Nests."""
    global _frozen_depth
    if _frozen_depth == 0:
        gc.freeze()
    _frozen_depth += 1
    try:
        yield
    finally:
        _frozen_depth -= 1
        if _frozen_depth == 0:
            gc.unfreeze()
