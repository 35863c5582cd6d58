"""The frontend seam: a `Frontend` turns one kind of source model into a `Module`.

    @register_frontend
    class MyFrontend:
        name = "mine"
        kinds = "a MyModel object"
        def accepts(self, source, **options): return isinstance(source, MyModel)
        def load(self, source, **options): return ImportedModel(build_module(source), "mine")

`frontend_for(source)` picks the frontend that accepts a source: the highest `priority` first
(default 0), in registration order among equals. The built-in TensorFlow frontend has priority
-1: it takes any existing path (it is the fallback that reads unknown files as GraphDefs), so a
frontend for another file kind is asked before it. Frontends from other packages register through
the `tflconv.frontends` entry-point group (a module that calls `register_frontend`, or a
`Frontend` class or instance), loaded once, like the `tflconv.passes` plugins.

This module imports neither TensorFlow nor any frontend: built-ins are named by module path and
imported when the registry is first consulted.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tflconv.core.ir import Function, Module

log = logging.getLogger(__name__)

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]


Shape = Sequence[int | None]
InputShapes = dict[str, Shape] | Sequence[Shape] | None
"""Shapes fixing a model's dynamic input dims: by input name, or in input order."""


def check_path(path: str | os.PathLike) -> str:
    """`path` as a string; `FrontendError` when nothing is there."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FrontendError(f"model path {path!r} does not exist")
    return path


class FrontendError(ValueError):
    """The model cannot be imported: one line naming what, where, and how to fix it."""


@dataclass
class ImportedModel:
    """An imported model: the IR plus, per signature, a way to run the original source (the
    reference `--verify` and the tests compare the .tflite with)."""

    module: Module
    model_type: str
    """What the frontend read ("saved_model", "keras", ...; a `MODEL_TYPES` spelling)."""
    _runners: dict[str, Runner] = field(default_factory=dict, repr=False)
    """signature key -> run the source on inputs in `input_names` order."""
    _source: Any = field(default=None, repr=False)  # keeps source objects (variables) alive
    frontend: str = ""
    """The name of the frontend that imported it (set by `load_source`)."""

    @property
    def signature_keys(self) -> list[str]:
        return [
            f.attributes["signature_key"]
            for f in self.module.functions
            if f.attributes.get("entry")
        ]

    @property
    def has_reference(self) -> bool:
        """Whether the source can be run (`run_source`) for every signature."""
        return bool(self._runners) and all(k in self._runners for k in self.signature_keys)

    def function(self, signature_key: str | None = None) -> Function:
        """The entry function of a signature (the first one by default)."""
        for fn in self.module.functions:
            if fn.attributes.get("entry") and signature_key in (
                None,
                fn.attributes["signature_key"],
            ):
                return fn
        raise FrontendError(
            f"no signature {signature_key!r}; the model has {', '.join(self.signature_keys)}"
        )

    def run_source(
        self, signature_key: str | None, inputs: dict[str, Any] | Sequence[Any]
    ) -> list[np.ndarray]:
        """Run the original model: `inputs` by input name, or a list in `input_names` order.
        Returns the outputs in `output_names` order."""
        fn = self.function(signature_key)
        key = fn.attributes["signature_key"]
        names = fn.attributes["input_names"]
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            unknown = [n for n in inputs if n not in names]
            if missing or unknown:
                raise FrontendError(
                    f"run_source({key!r}): inputs must be {names}, got {sorted(inputs)}"
                )
            arrays = [inputs[n] for n in names]
        else:
            arrays = list(inputs)
            if len(arrays) != len(names):
                raise FrontendError(
                    f"run_source({key!r}): expected {len(names)} inputs {names}, got {len(arrays)}"
                )
        runner = self._runners.get(key)
        if runner is None:
            raise FrontendError(
                f"run_source({key!r}): the {self.frontend or self.model_type} frontend gave no "
                "way to run the source model"
            )
        return runner(arrays)

    # The TensorFlow spelling (the TF frontend's runners run the model in TensorFlow).
    run_tf = run_source


@runtime_checkable
class Frontend(Protocol):
    """Imports one family of source models. `name` is unique; `kinds` describes the accepted
    sources for the "no frontend accepts ..." error; `priority` (optional, default 0) orders
    the frontends asked by `frontend_for`."""

    name: str
    kinds: str

    def accepts(self, source: Any, **options: Any) -> bool:
        """Cheap and side-effect free: no heavy imports, no model loading."""
        ...

    def load(self, source: Any, **options: Any) -> ImportedModel:
        """Import `source`; raises `FrontendError` (one line) when it cannot."""
        ...


# --- registry --------------------------------------------------------------------------------

FRONTENDS: dict[str, Frontend] = {}
PLUGIN_GROUP = "tflconv.frontends"
# Built-in frontends, "module:attribute" like an entry point (imported on first lookup, so that
# this module stays free of TensorFlow and of the frontends that import it).
BUILTIN_FRONTENDS = {
    "tensorflow": "tflconv.frontends.tensorflow.frontend:FRONTEND",
    "jax": "tflconv.frontends.jax.frontend:FRONTEND",
}
_loaded = False
_plugin_errors: list[str] = []


def register_frontend(frontend: Any) -> Any:
    """Register a `Frontend` instance, or a class (instantiated without arguments). Usable as a
    class decorator; returns its argument. A name can be registered once."""
    obj = frontend() if isinstance(frontend, type) else frontend
    if not isinstance(obj, Frontend):
        raise TypeError(f"{frontend!r} is not a Frontend (needs name, kinds, accepts, load)")
    existing = FRONTENDS.get(obj.name)
    if existing is not None and _qualname(type(existing)) != _qualname(type(obj)):
        raise ValueError(f"frontend name {obj.name!r} is taken by {type(existing).__qualname__}")
    FRONTENDS[obj.name] = obj
    return frontend


def _qualname(cls: type) -> str:
    """Identity across re-imports (a plugin module imported again re-registers its class)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def unregister_frontend(name: str) -> None:
    """Remove a frontend (tests, or a plugin replacing a built-in)."""
    FRONTENDS.pop(name, None)


def _load_ref(ref: str) -> Any:
    module_name, _, attr = ref.partition(":")
    obj = importlib.import_module(module_name)
    return getattr(obj, attr) if attr else obj


def _register_loaded(obj: Any) -> None:
    """An entry point's object: a module (it registered itself on import), a class or instance."""
    if isinstance(obj, type | Frontend):
        register_frontend(obj)


def load_frontends(force: bool = False) -> None:
    """Import the built-in frontends and the `tflconv.frontends` entry points (once). A plugin
    that fails to load is remembered and named when no frontend accepts a source."""
    global _loaded
    if _loaded and not force:
        return
    _loaded = True
    _plugin_errors.clear()
    for ref in BUILTIN_FRONTENDS.values():
        _register_loaded(_load_ref(ref))
    from importlib.metadata import entry_points  # stdlib, only needed once

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            _register_loaded(ep.load())
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break other frontends
            _plugin_errors.append(f"{ep.name} ({ep.value}): {type(e).__name__}: {e}")
            log.warning("tflconv frontend plugin %s failed to load: %s", ep.name, e)


def plugin_errors() -> list[str]:
    return list(_plugin_errors)


def all_frontends() -> list[Frontend]:
    """Every registered frontend in the order `frontend_for` asks them."""
    load_frontends()
    order = {name: i for i, name in enumerate(FRONTENDS)}
    return sorted(FRONTENDS.values(), key=lambda f: (-getattr(f, "priority", 0), order[f.name]))


def get_frontend(name: str) -> Frontend:
    load_frontends()
    try:
        return FRONTENDS[name]
    except KeyError:
        known = ", ".join(sorted(FRONTENDS))
        raise FrontendError(f"unknown frontend {name!r} (registered: {known})") from None


def describe_source(source: Any) -> str:
    if isinstance(source, str | os.PathLike):
        return repr(os.fspath(source))
    return f"a {type(source).__module__}.{type(source).__qualname__}"


def frontend_for(source: Any, **options: Any) -> Frontend:
    """The first frontend (by priority) that accepts `source`; `FrontendError` naming the
    accepted kinds when none does."""
    frontends = all_frontends()
    for frontend in frontends:
        if frontend.accepts(source, **options):
            return frontend
    kinds = "; ".join(f"{f.name}: {f.kinds}" for f in frontends)
    broken = (
        f" (plugins that failed to load: {'; '.join(_plugin_errors)})" if _plugin_errors else ""
    )
    raise FrontendError(f"no frontend accepts {describe_source(source)}; accepted: {kinds}{broken}")


def load_source(source: Any, frontend: str | None = None, **options: Any) -> ImportedModel:
    """Import `source` with the named frontend, or the one `frontend_for` picks."""
    chosen = get_frontend(frontend) if frontend else frontend_for(source, **options)
    imported = chosen.load(source, **options)
    imported.frontend = chosen.name
    return imported
