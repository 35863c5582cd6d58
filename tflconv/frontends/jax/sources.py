"""JAX / StableHLO sources -> an `ir.Module` (jaxlib's MLIR bindings) -> tflconv IR.

Source kinds (all end as one or more `Export`: an MLIR module, a function to import and a way to
run the original):
- a JAX callable with example args: exported with `jax.export` (a symbolic batch dim with
  `dynamic_batch=True`), run with `jax.jit(fn)`;
- a `jax.export.Exported`, or a file holding one (`exported.serialize()` bytes): its portable
  artifact; run with `Exported.call`;
- StableHLO text (`.mlir`) or bytecode (`.mlirbc`, a portable artifact or plain MLIR bytecode):
  run in StableHLO's reference interpreter (`interpreter.py`; none when it cannot run the ops).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax import export as jax_export
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo

from tflconv.core.ir import Module

from ..base import FrontendError, ImportedModel
from .interpreter import interpreter_runner
from .mlir_import import EntrySpec, StableHloImporter
from .spec import JaxFunction, JaxFunctions

SERVING_DEFAULT = "serving_default"
TEXT_SUFFIXES = (".mlir",)
BYTECODE_SUFFIXES = (".mlirbc",)
MLIR_BYTECODE_MAGIC = b"ML\xefR"
# Dialects besides StableHLO a JAX export may hold (func structure; CHLO is decomposed first).
ALLOWED_DIALECTS = ("stablehlo", "func", "chlo")


@dataclass
class _Export:
    mlir: ir.Module
    key: str
    input_names: list[str] | None
    runner: Callable[[list[np.ndarray]], list[np.ndarray]] | None
    keep: Any = None
    platform_index: int = 0


def make_context() -> ir.Context:
    """An MLIR context with the StableHLO, CHLO and func dialects (jax's own when available)."""
    try:
        from jax._src.interpreters import mlir as jax_mlir  # jax's context: every dialect it emits

        return jax_mlir.make_ir_context()
    except Exception:  # noqa: BLE001 - an internal API; fall back to registering by hand
        ctx = ir.Context()
        stablehlo.register_dialect(ctx)
        return ctx


# --- entry points ----------------------------------------------------------------------------


def load(
    source: Any,
    *,
    example_args: Sequence[Any] | None = None,
    input_names: Sequence[str] | None = None,
    dynamic_batch: bool = False,
    signature_key: str | None = None,
) -> ImportedModel:
    ctx = make_context()
    with ctx, ir.Location.unknown():
        if isinstance(source, (str, os.PathLike)):
            if example_args is not None or dynamic_batch:
                raise FrontendError(
                    "example_args / dynamic_batch apply to a JAX function, not to a file (its "
                    "shapes are fixed when it is exported)"
                )
            exports, model_type = _from_path(os.fspath(source), ctx), "jax"
        elif isinstance(source, JaxFunctions):
            if not source.functions:
                raise FrontendError("no JAX function to convert (the list is empty)")
            several = len(source.functions) > 1
            exports = []
            for i, spec in enumerate(source.functions):
                if spec.signature_key is None and several:
                    spec.signature_key = function_key(spec.fn) or f"serving_{i}"
                exports.append(_from_callable(spec, source.dynamic_batch, ctx))
            model_type = "jax"
        elif isinstance(source, jax_export.Exported):
            exports, model_type = [_from_exported(source, ctx)], "jax"
        elif callable(source):
            if example_args is None:
                raise FrontendError(
                    "a JAX function needs example inputs: load(fn, example_args=(x, ...)) or "
                    "TFLiteConverter.from_jax(fn, x, ...)"
                )
            spec = JaxFunction(source, list(example_args), None, signature_key)
            exports, model_type = [_from_callable(spec, dynamic_batch, ctx)], "jax"
        else:
            raise FrontendError(
                f"cannot import a {type(source).__name__} with the jax frontend: pass a JAX "
                "function with example_args, a jax.export.Exported, or a .mlir / .mlirbc / "
                "serialized Exported file"
            )
        if input_names is not None:
            if len(exports) != 1:
                raise FrontendError("input_names applies to a single function")
            exports[0].input_names = list(input_names)
        if signature_key is not None and len(exports) == 1:
            exports[0].key = signature_key
        keys = [e.key for e in exports]
        if len(set(keys)) != len(keys):
            raise FrontendError(f"signature keys are not unique: {keys}")
        module = Module()
        runners = {}
        for exp in exports:
            importer = StableHloImporter(exp.mlir, module)
            main = _main_function(importer, exp)
            importer.import_entry(
                EntrySpec(main, exp.key, exp.input_names, platform_index=exp.platform_index)
            )
            if exp.runner is not None:
                runners[exp.key] = exp.runner
        return ImportedModel(module, model_type, runners, [e.keep for e in exports])


def _main_function(importer: StableHloImporter, exp: _Export) -> str:
    public = importer.public_functions()
    if "main" in public:
        return "main"
    if len(public) == 1:
        return public[0]
    raise FrontendError(
        f"the StableHLO module has no public @main and {len(public)} public functions "
        f"({', '.join('@' + p for p in public)}): export one function"
    )


# --- files -----------------------------------------------------------------------------------


def _from_path(path: str, ctx: ir.Context) -> list[_Export]:
    if not os.path.isfile(path):
        raise FrontendError(f"{path!r} is not a file")
    with open(path, "rb") as f:
        data = f.read()
    lower = path.lower()
    if lower.endswith(TEXT_SUFFIXES):
        mlir = _read_text(data, path, ctx)
        reload = functools.partial(_reread, path, _read_text)
    elif lower.endswith(BYTECODE_SUFFIXES) or data.startswith(MLIR_BYTECODE_MAGIC):
        mlir = _read_bytecode(data, path, ctx)
        reload = functools.partial(_reread, path, _read_bytecode)
    else:
        try:
            exported = jax_export.deserialize(bytearray(data))
        except Exception as e:  # noqa: BLE001 - flatbuffer errors of all kinds
            raise FrontendError(
                f"{path}: not a serialized jax.export.Exported (exported.serialize() bytes), "
                f"StableHLO text (.mlir) or bytecode (.mlirbc): {type(e).__name__}: "
                f"{_first_line(e)}"
            ) from None
        return [_from_exported(exported, ctx)]
    runner = interpreter_runner(mlir, make_context, reload)
    return [_Export(mlir, SERVING_DEFAULT, None, runner)]


def _reread(path: str, read: Callable[..., ir.Module], ctx: ir.Context) -> ir.Module:
    with open(path, "rb") as f:
        return read(f.read(), path, ctx)


def _read_text(data: bytes, path: str, ctx: ir.Context) -> ir.Module:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FrontendError(
            f"{path}: not UTF-8 text (bytecode belongs in a .mlirbc file)"
        ) from None
    return _parse_mlir(text, path, ctx)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _mlir_error(e: BaseException) -> str:
    """The diagnostics of an MLIRError, on one line."""
    text = " ".join(str(e).split())
    return text[:400]


def _parse_mlir(text: str, path: str, ctx: ir.Context) -> ir.Module:
    try:
        module = ir.Module.parse(text, ctx)
    except Exception as e:  # noqa: BLE001 - ir.MLIRError (dialect not registered, syntax)
        raise FrontendError(f"{path}: not StableHLO MLIR: {_mlir_error(e)}") from None
    return _legalize_chlo(module, path)


def _read_bytecode(data: bytes, path: str, ctx: ir.Context) -> ir.Module:
    """A StableHLO portable artifact (VHLO bytecode), else plain MLIR bytecode."""
    errors = []
    try:
        return _legalize_chlo(stablehlo.deserialize_portable_artifact(ctx, data), path)
    except Exception as e:  # noqa: BLE001
        errors.append(_mlir_error(e))
    try:
        return _legalize_chlo(ir.Module.parse(data, ctx), path)
    except FrontendError:
        raise
    except Exception as e:  # noqa: BLE001
        errors.append(_mlir_error(e))
    detail = "; ".join(e for e in errors if e) or "unreadable"
    raise FrontendError(
        f"{path}: not a StableHLO portable artifact or MLIR bytecode (corrupt or truncated?): "
        f"{detail}"
    )


def _legalize_chlo(module: ir.Module, path: str) -> ir.Module:
    """Decompose CHLO ops (`jax.jit(f).lower(x).as_text()` holds some) into StableHLO, and
    refuse ops of other dialects."""
    dialects = set()
    has_chlo = False
    for fn in module.body.operations:
        for block in fn.regions[0].blocks if fn.regions else ():
            for name in _op_names(block):
                dialect = name.split(".", 1)[0]
                has_chlo = has_chlo or dialect == "chlo"
                dialects.add(dialect)
    foreign = sorted(d for d in dialects if d not in ALLOWED_DIALECTS)
    if foreign:
        raise FrontendError(
            f"{path}: not StableHLO: it holds ops of the {', '.join(foreign)} dialect(s) "
            "(the jax frontend reads stablehlo/func/chlo ops)"
        )
    if has_chlo:
        from jaxlib.mlir import passmanager

        _register_passes()
        try:
            pm = passmanager.PassManager.parse(
                "builtin.module(func.func(chlo-legalize-to-stablehlo))", module.context
            )
            pm.run(module.operation)
        except Exception as e:  # noqa: BLE001
            raise FrontendError(
                f"{path}: cannot decompose its CHLO ops: {_mlir_error(e)}"
            ) from None
    return module


_passes_registered = False


def _register_passes() -> None:
    """StableHLO's passes (chlo-legalize-to-stablehlo) in MLIR's global registry, once."""
    global _passes_registered
    if not _passes_registered:
        stablehlo.register_stablehlo_passes()
        _passes_registered = True


def _op_names(block: ir.Block) -> Any:
    for op in block.operations:
        yield op.operation.name
        for region in op.operation.regions:
            for inner in region.blocks:
                yield from _op_names(inner)


# --- jax.export ------------------------------------------------------------------------------


def _from_exported(exported: Any, ctx: ir.Context, key: str = SERVING_DEFAULT) -> _Export:
    try:
        mlir = stablehlo.deserialize_portable_artifact(ctx, exported.mlir_module_serialized)
    except Exception as e:  # noqa: BLE001
        raise FrontendError(f"cannot read the Exported's StableHLO: {_mlir_error(e)}") from None
    if "cpu" not in exported.platforms:
        runner = None  # Exported.call needs the platform it was exported for
    else:

        def runner(arrays: list[np.ndarray]) -> list[np.ndarray]:
            args, kwargs = jax.tree_util.tree_unflatten(exported.in_tree, list(arrays))
            return [
                np.asarray(o) for o in jax.tree_util.tree_leaves(exported.call(*args, **kwargs))
            ]

    platforms = [p.lower() for p in exported.platforms]
    index = platforms.index("cpu") if "cpu" in platforms else 0
    return _Export(_legalize_chlo(mlir, "the Exported"), key, None, runner, exported, index)


def _from_callable(spec: JaxFunction, dynamic_batch: bool, ctx: ir.Context) -> _Export:
    fn = _as_jax_function(spec.fn)
    args = tuple(spec.args)
    leaves, treedef = jax.tree_util.tree_flatten(args)
    # One symbolic dim shared by every input (one scope: jax.export refuses to mix them).
    batch = jax_export.symbolic_shape("batch")[0] if dynamic_batch else None
    specs = [_shape_spec(leaf, batch) for leaf in leaves]
    jitted = jax.jit(fn)
    try:
        exported = jax_export.export(jitted, platforms=["cpu"])(
            *jax.tree_util.tree_unflatten(treedef, specs)
        )
    except Exception as e:
        raise FrontendError(
            f"cannot export {_fn_name(spec.fn)} with jax.export: {type(e).__name__}: "
            f"{_first_line(e)}"
        ) from e

    def runner(arrays: list[np.ndarray]) -> list[np.ndarray]:
        call_args = jax.tree_util.tree_unflatten(treedef, [np.asarray(a) for a in arrays])
        return [np.asarray(o) for o in jax.tree_util.tree_leaves(jitted(*call_args))]

    names = _input_names(spec, args) if spec.names is not None else None
    key = spec.signature_key or SERVING_DEFAULT
    out = _from_exported(exported, ctx, key)
    return _Export(out.mlir, key, names, runner, (spec.fn, exported))


def _as_jax_function(fn: Any) -> Callable[..., Any]:
    """A Flax NNX module is split into (graphdef, state) and merged inside the traced
    function, so its parameters become constants of the export."""
    if any(c.__module__.startswith("flax.nnx") for c in type(fn).__mro__):
        from flax import nnx  # only for NNX modules (flax is optional)

        graphdef, state = nnx.split(fn)

        def call(*args: Any) -> Any:
            return nnx.merge(graphdef, state)(*args)

        return call
    return fn


def _shape_spec(leaf: Any, batch: Any) -> Any:
    array = leaf if hasattr(leaf, "shape") and hasattr(leaf, "dtype") else np.asarray(leaf)
    shape = tuple(array.shape)
    if batch is not None and shape:
        shape = (batch, *shape[1:])
    # As jax.jit sees the value: float64 / int64 become 32-bit unless jax_enable_x64 is on.
    return jax.ShapeDtypeStruct(shape, jax.dtypes.canonicalize_dtype(array.dtype))


def _input_names(spec: JaxFunction, args: tuple[Any, ...]) -> list[str]:
    """One name per flattened leaf: the arg's name, `name_<key>` for a pytree arg."""
    assert spec.names is not None
    if len(spec.names) != len(args):
        raise FrontendError(f"{len(spec.names)} input names for {len(args)} inputs")
    out = []
    for name, arg in zip(spec.names, args):
        paths = jax.tree_util.tree_flatten_with_path(arg)[0]
        if len(paths) == 1 and not paths[0][0]:
            out.append(name)
            continue
        for path, _ in paths:
            suffix = "_".join(_key_text(k) for k in path)
            out.append(f"{name}_{suffix}" if suffix else name)
    return out


def _key_text(key: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _fn_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None)
    if name is None and hasattr(fn, "func"):  # functools.partial
        name = getattr(fn.func, "__name__", None)
    return name or type(fn).__name__


def function_key(fn: Any) -> str:
    """A signature key for one of several serving functions: its Python name."""
    name = _fn_name(fn)
    return name if name.isidentifier() and name != "<lambda>" else ""
