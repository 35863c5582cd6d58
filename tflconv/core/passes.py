"""Passes: frozen dataclasses whose fields are their options, registered by kebab-case name.

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
they are spelled in kebab-case (`fuse-activations{max-fusions=3}`). Inputs that are not strings
(a calibration dataset, a callable) travel in `PassContext.data`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .ir import Module
from .rewrite import MatchTracer, RewriteListener


@dataclass
class PassContext:
    """What a pass may use besides the module: the tracer recording pattern attempts, a
    listener told about IR changes, statistics counters, and non-string inputs."""

    tracer: MatchTracer = field(default_factory=MatchTracer)
    listener: RewriteListener | None = None
    stats: Counter = field(default_factory=Counter)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pass:
    """Base class of every pass; subclasses are frozen dataclasses with a `name`."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def run(self, module: Module, ctx: PassContext) -> bool:
        """Transform `module` in place; return whether anything changed."""
        raise NotImplementedError


PASSES: dict[str, type[Pass]] = {}
"""Every registered pass class by name."""


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator adding a pass to the registry under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name`")
    existing = PASSES.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"pass name {cls.name!r} is taken by {existing.__qualname__}")
    PASSES[cls.name] = cls
    return cls
