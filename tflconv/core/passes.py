"""Passes: frozen dataclasses whose fields are their options, registered by kebab-case name
(`pass_manager.py` runs them; `pipeline.py` reads and writes their text form).

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

import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from .ir import Module, Value
from .pass_options import format_pass
from .rewrite import MatchTracer, RewriteListener, RewritePattern

if TYPE_CHECKING:
    pass

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
