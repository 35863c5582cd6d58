"""Passes without packaging: `--pass-plugin path/to/my_passes.py` (or a module name) imports a
file that registers passes (`@register_pass`) and patterns, so `tflconv opt|convert` can run them
without an installed package and its `tflconv.passes` entry point."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .passes import PASSES, Pass, register_pass


class PluginError(Exception):
    """A plugin file or module that cannot be loaded (the message says which and why)."""


_LOADED: dict[str, ModuleType] = {}


def load_pass_plugin(spec: str) -> list[str]:
    """Import `spec` (a `.py` file path, or a module name importable from `sys.path`) once;
    returns the names of the passes it registered. Raises `PluginError`."""
    before = set(PASSES)
    path = Path(spec)
    is_file = spec.endswith(".py") or path.is_file() or "/" in spec or "\\" in spec
    key = str(path.resolve()) if is_file else spec
    if key in _LOADED:  # imported once; its passes may have left the registry since (tests)
        _reregister(_LOADED[key])
        return sorted(set(PASSES) - before)
    try:
        module = _import_file(path) if is_file else importlib.import_module(spec)
    except PluginError:
        raise
    except Exception as e:  # the user's code: any error, reported with what was loaded
        raise PluginError(f"--pass-plugin {spec}: {type(e).__name__}: {e}") from e
    _LOADED[key] = module
    return sorted(set(PASSES) - before)


def _reregister(module: ModuleType) -> None:
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, Pass) and obj.name and obj.name not in PASSES:
            register_pass(obj)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"--pass-plugin {path}: no such file")
    # A stable module name per file, so pass classes keep one identity (register_pass lets a
    # class with the same module and name replace itself).
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    name = f"tflconv_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"--pass-plugin {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
