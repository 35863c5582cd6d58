"""Passes: frozen dataclasses whose fields are their options, registered by kebab-case name,
and the `PassManager` that runs them with instruments and crash reproducers.

    @register_pass
    @dataclass(frozen=True)
    class FuseActivations(Pass):
        '''Fold tfl.relu/relu6 into the producer's fused_activation_function.'''
        name: ClassVar[str] = "fuse-activations"
        max_fusions: int = -1
        '''Stop after this many fusions (-1: no limit); for bisecting.'''

        def run(self, module: Module, ctx: PassContext) -> bool:
            return apply_walk(module, PATTERNS, ctx.tracer, ctx.listener)

Option fields may be bool, int, float, str, tuples of those, or `X | None`; in pipeline strings
they are spelled in kebab-case (`fuse-activations{max-fusions=3}`, see `core/pipeline.py`).
Inputs that are not strings (a calibration dataset, a callable) travel in `PassContext.data`;
a runtime to execute the IR with (calibration) in `PassContext.runner`, supplied by the api so
that passes never import the file format or an interpreter.

Passes from other packages register through the `tflconv.passes` entry-point group: each entry
point names a module (imported, so its `@register_pass` classes register) or a Pass class.
They load once, the first time the registry is queried by name (`get_pass`, `all_passes`).
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from . import signals
from .ir import Module, Value
from .printer import print_module
from .rewrite import MatchTracer, RewriteListener, RewritePattern
from .verifier import verify

if TYPE_CHECKING:
    from .instrument import PassInstrument

log = logging.getLogger("tflconv")


class ModelRun(Protocol):
    """A module made runnable by a `ModelRunner` (the api's: LiteRT's interpreter)."""

    def run(self, inputs: Sequence[np.ndarray]) -> bool:
        """Run one sample (one array per argument of the main function, resized as needed);
        True when buffers were (re)allocated, so which values are readable may have changed."""
        ...

    def tensor(self, value: Value) -> np.ndarray | None:
        """A view of a watched value's buffer after `run`, None when the runtime did not
        allocate it (an unused while-loop result). Drop the view before the next `run`."""
        ...


ModelRunner = Callable[[Module, Collection[Value]], ModelRun]
"""Turns a module into a runnable model whose given values stay readable after each run."""


@dataclass
class PassContext:
    """What a pass may use besides the module: the tracer recording pattern attempts, a
    listener told about IR changes, statistics counters, non-string inputs, and a runner to
    execute the IR with (set by the api; None when nothing supplied one)."""

    tracer: MatchTracer = field(default_factory=MatchTracer)
    listener: RewriteListener | None = None
    stats: Counter = field(default_factory=Counter)
    data: dict[str, Any] = field(default_factory=dict)
    runner: ModelRunner | None = None


@dataclass(frozen=True)
class Pass:
    """Base class of every pass; subclasses are frozen dataclasses with a `name`."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def run(self, module: Module, ctx: PassContext) -> bool:
        """Transform `module` in place; return whether anything changed."""
        raise NotImplementedError

    def __str__(self) -> str:
        from .pipeline import format_pass

        return format_pass(self)


PASSES: dict[str, type[Pass]] = {}
"""Every registered pass class by name (plugins appear after `load_plugins()`)."""


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator adding a pass to the registry under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name`")
    existing = PASSES.get(cls.name)
    # The same class defined again by a re-import (module reloads) may replace itself.
    same = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if existing is not None and not same:
        raise ValueError(f"pass name {cls.name!r} is taken by {existing.__qualname__}")
    PASSES[cls.name] = cls
    return cls


# --- plugins ---------------------------------------------------------------------------------

PLUGIN_GROUP = "tflconv.passes"
_plugins_loaded = False
_plugin_errors: list[str] = []


def load_plugins(force: bool = False) -> None:
    """Import the `tflconv.passes` entry points (once). A plugin that fails to load is
    remembered and named when a pass lookup fails, instead of breaking every run."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return
    _plugins_loaded = True
    _plugin_errors.clear()
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Pass):
                register_pass(obj)
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break other passes
            _plugin_errors.append(f"{ep.name} ({ep.value}): {type(e).__name__}: {e}")
            log.warning("tflconv plugin %s failed to load: %s", ep.name, e)


def plugin_errors() -> list[str]:
    return list(_plugin_errors)


def get_pass(name: str) -> type[Pass] | None:
    """The pass class registered as `name` (plugins loaded first), else None."""
    load_plugins()
    return PASSES.get(name)


def all_passes() -> dict[str, type[Pass]]:
    """Every registered pass, plugins included, sorted by name."""
    load_plugins()
    return dict(sorted(PASSES.items()))


# --- canonicalization patterns -----------------------------------------------------------------

CANONICALIZATION_PATTERNS: dict[str, list[RewritePattern]] = {}
"""Op name -> patterns the `canonicalize` pass applies (dialects fill it at import). It lives in
core so dialect modules can register without importing the passes package."""


def register_canonicalization(op_name: str, pattern: RewritePattern) -> RewritePattern:
    """Have `canonicalize` apply `pattern` to `op_name` ops (a pattern without a root gets
    `op_name` as its root)."""
    if pattern.roots is None:
        pattern.root = op_name
    elif op_name not in pattern.roots:
        raise ValueError(f"pattern {pattern.name} applies to {pattern.roots}, not {op_name}")
    CANONICALIZATION_PATTERNS.setdefault(op_name, []).append(pattern)
    return pattern


# --- running -----------------------------------------------------------------------------------


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
        from .pipeline import parse_pipeline

        return cls(parse_pipeline(text), **kwargs)

    def __str__(self) -> str:
        from .pipeline import format_pipeline

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
        with _frozen_heap():
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
        # pipeline.py resolves pass names through this module's registry: imported on use.
        from .pipeline import format_pipeline

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
def _frozen_heap() -> Iterator[None]:
    """Keep the objects alive at the start (the module: ~10 per op) out of the garbage
    collector's full collections while passes run. Rescanning a big, long-lived IR made
    pipelines superlinear (100k ops: 16x the time of 10k instead of ~12x). New objects,
    including cycles of erased ops, are still collected; frozen ones after the run."""
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


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` (text or bytes) to `path` through a temporary file in the same directory
    (created if missing) and a rename: readers never see half a file, and a failure leaves any
    existing file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    signals.track(tmp)  # removed even if an interrupt ends the process from another thread
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        signals.check()  # interrupted: no output, not even a complete one
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        signals.untrack(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
