"""The conversion driver and the user-facing API: frontend -> pass pipeline -> FlatBuffer writer.

`TFLiteConverter` mirrors `tf.lite.TFLiteConverter` (same constructors, attribute names and
defaults) so existing code switches by changing one import; `convert()` is the short form.
Options we do not implement yet raise `ConverterError` naming the option: never silently ignored.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tflconv.api import files
from tflconv.api.compat import CompatFlags, parse_target_ops
from tflconv.api.errors import ConverterError
from tflconv.api.files import check_output_path
from tflconv.api.options import OpsSet, Optimize, TargetSpec
from tflconv.api.pipeline import ConversionConfig, pipeline_for
from tflconv.api.quantization import plan_for_converter
from tflconv.api.quiet import quiet_tensorflow
from tflconv.api.stages import (
    attach_metadata,
    import_source,
    refuse_resource_variables,
    run_pipeline,
    write_tflite,
)
from tflconv.core.arrays import small_pages
from tflconv.core.pass_manager import frozen_heap
from tflconv.core.pipeline import format_pipeline
from tflconv.frontends.jax.spec import JaxFunction, JaxFunctions
from tflconv.passes import DEFAULT_PIPELINE  # noqa: E402  (the one definition)
from tflconv.passes.quantize.common import QuantizeError

# ---------------------------------------------------------------------------------------------
# Reading the options (tf.lite's own enum members are accepted too)


def _as_enum(kind: type[enum.Enum], value: Any, option: str) -> Any:
    """Our enum member for one of ours, tf.lite's member with the same value, or its name."""
    raw = value.value if isinstance(value, enum.Enum) else value
    try:
        return kind(raw)
    except ValueError:
        known = ", ".join(m.name for m in kind)
        raise ConverterError(
            f"{option}: unknown value {value!r} (expected one of {known})", phase="options"
        ) from None


def _dtype_name(value: Any) -> str:
    """'float16' for tf.float16, np.float16, 'float16', ..."""
    if isinstance(value, str):
        return value
    name = getattr(value, "name", None)  # tf.DType
    if isinstance(name, str):
        return name
    import numpy as np

    try:
        return np.dtype(value).name
    except TypeError:
        return str(value)


# ---------------------------------------------------------------------------------------------
# Model types (CONVERSION_METADATA Environment.model_type) and what each constructor loads

MODEL_TYPES = {
    "NONE": 0,
    "TF_SAVED_MODEL": 1,
    "KERAS_MODEL": 2,
    "TF_CONCRETE_FUNCTIONS": 3,
    "TF_GRAPH_DEF": 4,
    "TF_SESSION": 5,
    "JAX": 6,
    "PYTORCH": 7,
}


def model_type_name(value: Any) -> str:
    """The ModelType enum name for a name, an int, or None (-> "NONE")."""
    if value is None:
        return "NONE"
    if isinstance(value, enum.Enum):
        value = value.name
    if isinstance(value, int):
        for name, code in MODEL_TYPES.items():
            if code == value:
                return name
        return "NONE"
    value = _FRONTEND_MODEL_TYPES.get(str(value), str(value).upper())
    return value if value in MODEL_TYPES else "NONE"


# `ImportedModel.model_type` spellings of the frontend.
_FRONTEND_MODEL_TYPES = {
    "saved_model": "TF_SAVED_MODEL",
    "keras": "KERAS_MODEL",
    "concrete_functions": "TF_CONCRETE_FUNCTIONS",
    "graph_def": "TF_GRAPH_DEF",
}


# Official attributes we accept with their defaults; a non-default value raises unless the
# option is implemented. Later work (quantization, Flex, custom ops) deletes entries here as
# it lands and reads the attribute in `_conversion_flags`.
UNIMPLEMENTED_OPTIONS: dict[str, str] = {
    "target_spec.supported_ops": "the StableHLO op set",
    "target_spec.experimental_supported_backends": "backend-specific conversion",
    "serialize_debug_metadata": "debug metadata",
    "unfold_batchmatmul": "unfolding BatchMatMul",
    "experimental_use_stablehlo_quantizer": "the StableHLO quantizer",
    "experimental_stablehlo_quantizer_config": "the StableHLO quantizer",
}

# Official attributes accepted and ignored because they do not change our output.
ACCEPTED_IGNORED = {
    "experimental_new_converter": True,
    "experimental_new_quantizer": True,
    "experimental_new_dynamic_range_quantizer": True,
    "legalize_custom_tensor_list_ops": False,
    "canonicalizing_inf_as_min_max_float": True,
}

# Official MLIR debug attributes mapped onto our pass-manager instrumentation.
DEBUG_ALIASES = {
    "ir_dump_dir": "dump_dir",
    "enable_timing": "time_passes",
}


@dataclass
class ConversionResult:
    """Everything one conversion produced: the .tflite (bytes, or the file it was streamed to)
    plus what the CLI and benchmarks report."""

    module: Any
    imported: Any
    model_type: str
    seconds: float
    phase_seconds: dict[str, float] = field(default_factory=dict)
    pass_seconds: list[tuple[str, float]] = field(default_factory=list)
    """(pass, wall seconds) in run order."""
    path: str | None = None
    """The file the .tflite was streamed to (`convert_with_report(output_path)`), else None."""
    size: int = 0
    """Bytes of the .tflite."""
    data: bytes | None = field(default=None, repr=False)
    """The .tflite bytes when they were made in memory (no `path`)."""

    @property
    def tflite(self) -> bytes:
        """The .tflite bytes (read from `path` when the conversion wrote a file)."""
        if self.data is None:
            if self.path is None:
                raise ValueError("the conversion produced neither bytes nor a file")
            return Path(self.path).read_bytes()
        return self.data

    @property
    def op_count(self) -> int:
        """TFLite operators in the output (constants and no_value placeholders excluded)."""
        return sum(
            1 for op in self.module.walk() if op.dialect == "tfl" and op.name != "tfl.no_value"
        )

    def op_histogram(self) -> dict[str, int]:
        hist = self.module.op_histogram()
        return {k: v for k, v in hist.items() if k.startswith("tfl.") and k != "tfl.no_value"}


class TFLiteConverter:
    """Converts a TensorFlow model to .tflite bytes, like `tf.lite.TFLiteConverter`.

    converter = tflconv.TFLiteConverter.from_keras_model(model)
    converter.dump_dir = "dumps"          # tflconv extras: pipeline, time_passes, ...
    tflite = converter.convert()
    """

    def __init__(
        self,
        source: Any,
        *,
        model_type: str | None = None,
        api_version: int = 2,
        load_options: dict[str, Any] | None = None,
        frontend: str | None = None,
    ) -> None:
        self._source = source
        self._model_type = model_type
        # The frontend to import with (a `frontends.base` registry name); None: the one that
        # accepts the source. The tf.lite constructors pin "tensorflow".
        self._frontend = frontend
        self._api_version = api_version
        self._load_options = dict(load_options or {})
        self._trackable_obj: Any = None
        # Official attributes, official defaults.
        self.optimizations: set[Any] = set()
        self.representative_dataset: Any = None
        self.target_spec = TargetSpec()
        self.inference_input_type: Any = None  # None means tf.float32, as in tf.lite
        self.inference_output_type: Any = None
        self.allow_custom_ops = False
        self.exclude_conversion_metadata = False
        self.serialize_debug_metadata = False
        self.unfold_batchmatmul = False
        self.experimental_use_stablehlo_quantizer = False
        self.experimental_stablehlo_quantizer_config = None
        # Variables the model assigns become TFLite resource variables (False: refused).
        self.experimental_enable_resource_variables = True
        # True: constant data after the FlatBuffer (`Buffer.offset`); False: only when needed.
        self._experimental_use_buffer_offset = False
        for name, default in ACCEPTED_IGNORED.items():
            setattr(self, name, default)
        self.ir_dump_dir: str | None = None
        self.enable_timing: bool | None = None
        # tflconv extras.
        self.pipeline: str = DEFAULT_PIPELINE
        self.dump_dir: str | os.PathLike | None = None
        self.time_passes = False
        self.print_ir_after_all = False
        self.print_ir_after: list[str] = []
        self.verify_each = False
        self.reproducer: str | os.PathLike | None = None
        self.debug_stream: Any = None
        """Where IR printing / timing reports go (default: sys.stderr)."""
        self.instruments: list[Any] = []
        """Extra `core.instrument.PassInstrument`s to run with the pipeline."""
        self.quiet = False
        """Silence TensorFlow's log output while the model is loaded (see `quiet_tensorflow`)."""
        self.custom_ops: list[str] = []
        """TF op types / node-name globs to keep as custom ops even when a builtin exists
        (see docs/compatibility.md)."""
        self.keep_float: list[str] = []
        self.per_channel = True
        """Per-channel weights for conv / depthwise / fully-connected (tf.lite's private
        `_experimental_disable_per_channel = True` is `per_channel = False`)."""
        self.print_ir_before: list[str] = []
        """Quantization: op / layer / tensor names or regexes to keep in float (selective)."""
        self.bias_correction = True
        """int8 / 16x8: correct each conv / fully-connected bias for the mean shift of int8
        weight rounding (False: the official recipe alone; docs/quantization.md)."""
        self.quantization_recipe: Any = None
        """A weight scheme per op (int8 / int4 / blockwise int4 / weight-only / float16 / float by
        op type and name regex): a `tflconv.passes.quantize.recipe.Recipe`, its dict, or a
        .json / .toml file; turns on dynamic-range quantization (docs/quantization.md)."""
        self.calibration: dict[str, Any] = {}
        """int8 / 16x8: `calibrate` options, e.g. {"method": "percentile", "percentile": 99.9}
        (methods minmax (default), moving-average, percentile, mse; docs/quantization.md)."""
        self.metadata: Any = None
        """TFLite model metadata to embed: a `tflconv.tflite.metadata.ModelInfo`, its JSON spec dict,
        or the path of a JSON spec file (see docs/metadata.md)."""

    # -- constructors (tf.lite names) ---------------------------------------------------------

    @classmethod
    def from_saved_model(
        cls,
        saved_model_dir: str | os.PathLike,
        signature_keys: list[str] | None = None,
        tags: Iterable[str] | None = None,
    ) -> TFLiteConverter:
        """All signatures (or `signature_keys`) of a SavedModel; `tags` default to {"serve"}."""
        options: dict[str, Any] = {}
        if signature_keys is not None:
            options["signature_keys"] = list(signature_keys)
        if tags is not None:
            options["tags"] = set(tags)
        return cls(
            os.fspath(saved_model_dir),
            model_type="TF_SAVED_MODEL",
            load_options=options,
            frontend="tensorflow",
        )

    @classmethod
    def from_keras_model(cls, model: Any) -> TFLiteConverter:
        """An in-memory Keras model (Keras 3 or tf.keras)."""
        return cls(model, model_type="KERAS_MODEL", frontend="tensorflow")

    @classmethod
    def from_concrete_functions(
        cls, funcs: list[Any], trackable_obj: Any = None
    ) -> TFLiteConverter:
        """tf.function concrete functions (each becomes a signature). `trackable_obj` is kept
        alive with the converter so captured variables are not garbage collected."""
        conv = cls(list(funcs), model_type="TF_CONCRETE_FUNCTIONS", frontend="tensorflow")
        conv._trackable_obj = trackable_obj
        return conv

    @classmethod
    def from_keras_model_file(cls, model_file: str | os.PathLike) -> TFLiteConverter:
        """A `.keras` / `.h5` file (the tf.compat.v1 entry point)."""
        return cls(
            os.fspath(model_file), model_type="KERAS_MODEL", api_version=1, frontend="tensorflow"
        )

    @classmethod
    def from_frozen_graph(
        cls,
        graph_def_file: str | os.PathLike,
        input_arrays: list[str],
        output_arrays: list[str],
        input_shapes: dict[str, list[int | None]] | None = None,
    ) -> TFLiteConverter:
        """A frozen GraphDef `.pb` with named inputs/outputs (the tf.compat.v1 entry point)."""
        options: dict[str, Any] = {
            "input_arrays": list(input_arrays),
            "output_arrays": list(output_arrays),
        }
        if input_shapes is not None:
            options["input_shapes"] = input_shapes
        return cls(
            os.fspath(graph_def_file),
            model_type="TF_GRAPH_DEF",
            api_version=1,
            load_options=options,
            frontend="tensorflow",
        )

    @classmethod
    def experimental_from_jax(
        cls, serving_funcs: list[Any], inputs: list[list[tuple[str, Any]]]
    ) -> TFLiteConverter:
        """JAX functions, like tf.lite's: `inputs[i]` lists `("name", array)` for each positional
        argument of `serving_funcs[i]` (the names become the .tflite input names; a pytree
        argument's leaves are `name_<key>`). One function is the `serving_default` signature;
        several (tf.lite takes one) are signatures named after the functions. Read through
        `jax.export` as StableHLO, without TensorFlow."""
        funcs, specs = list(serving_funcs or ()), list(inputs or ())
        if not funcs:
            raise ConverterError("No serving func is specified.", phase="load")
        if not specs:
            raise ConverterError("Input tensors are not specified.", phase="load")
        if len(specs) != len(funcs):
            raise ConverterError(
                f"Input tensor mapping len {len(specs)} does not match serving func len "
                f"{len(funcs)}.",
                phase="load",
            )
        functions = []
        for fn, pairs in zip(funcs, specs):
            if not callable(fn) or not all(
                isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str)
                for p in pairs
            ):
                raise ConverterError(
                    "Input tensors should be pass in a tuple list wrapped in an array: "
                    '[[("name", array), ...]] per function',
                    phase="load",
                )
            functions.append(JaxFunction(fn, [a for _, a in pairs], [n for n, _ in pairs]))
        return cls(JaxFunctions(functions), model_type="JAX", frontend="jax")

    @classmethod
    def from_jax(
        cls,
        fn: Any,
        *example_args: Any,
        dynamic_batch: bool = False,
        input_names: list[str] | None = None,
        signature_key: str | None = None,
    ) -> TFLiteConverter:
        """A JAX function and example positional args (arrays or pytrees): `fn` may close over
        Flax parameters (`functools.partial(model.apply, params)`, a lambda, an `nnx.Module`).
        `dynamic_batch` makes the leading dim of every input dynamic; `input_names` name the
        args (default: JAX's names, the function's parameter names)."""
        spec = JaxFunction(fn, list(example_args), input_names, signature_key)
        return cls(
            JaxFunctions([spec], dynamic_batch=dynamic_batch), model_type="JAX", frontend="jax"
        )

    # -- conversion ---------------------------------------------------------------------------

    def convert(self) -> bytes:
        """The .tflite FlatBuffer. Raises `ConverterError` (one-line message).

        A model with at least `files.SPILL_BYTES` of constants is first streamed to a temporary file
        and read back once the IR is released, so the bytes never coexist with the IR's
        weights (peak memory: one copy of the weights besides the source model's)."""
        result = self._convert(None, spill=True)
        if result.data is not None:
            return result.data
        path = result.path
        assert path is not None
        files.release_ir(result)
        try:
            return Path(path).read_bytes()
        finally:
            Path(path).unlink(missing_ok=True)

    def convert_with_report(self, output_path: str | os.PathLike | None = None) -> ConversionResult:
        """Like `convert()`, returning the .tflite with the final IR, timings and op counts.

        With `output_path` the FlatBuffer is streamed to that file (atomically: complete or not
        written at all) instead of being assembled in memory; `result.path` names it and
        `result.tflite` reads it back on demand."""
        if output_path is not None:
            check_output_path(output_path, self._source)
        return self._convert(output_path)

    def _convert(
        self, output_path: str | os.PathLike | None, spill: bool = False
    ) -> ConversionResult:
        # Weight arrays are written once: huge pages cost, not save. The model and TF's objects
        # stay out of the garbage collector's full collections meanwhile.
        with small_pages(), frozen_heap():
            return self._convert_once(output_path, spill)

    def _convert_once(self, output_path: str | os.PathLike | None, spill: bool) -> ConversionResult:
        flags = self._conversion_flags()
        start = time.perf_counter()
        phases: dict[str, float] = {}

        t = time.perf_counter()
        with quiet_tensorflow(self.quiet):
            imported = import_source(self._source, self._load_options, self._frontend)
        phases["load"] = time.perf_counter() - t
        if not self.experimental_enable_resource_variables:
            refuse_resource_variables(imported.module)
        model_type = model_type_name(self._model_type or getattr(imported, "model_type", None))

        if not self.exclude_conversion_metadata:
            # In the IR before the passes run, so dumps carry it and `tflconv opt DUMP -o
            # x.tflite` writes the same file as this conversion.
            imported.module.attributes["conversion_metadata"] = _conversion_metadata(
                model_type, self._api_version, flags
            )
        t = time.perf_counter()
        pm = run_pipeline(imported.module, self._pipeline_options())
        phases["pipeline"] = time.perf_counter() - t

        t = time.perf_counter()
        if self.metadata is not None:
            attach_metadata(imported.module, self.metadata)
        buffer_offset = self._experimental_use_buffer_offset
        data = None
        if spill and output_path is None and files.spills(imported.module):
            output_path = files.spill_path()
        if output_path is None:
            data = write_tflite(imported.module, buffer_offset)
            size = len(data)
        else:
            size = files.write_file(imported.module, output_path, buffer_offset)
        phases["export"] = time.perf_counter() - t
        return ConversionResult(
            data=data,
            path=None if output_path is None else os.fspath(output_path),
            size=size,
            module=imported.module,
            imported=imported,
            model_type=model_type,
            seconds=time.perf_counter() - start,
            phase_seconds=phases,
            pass_seconds=[(str(r.pass_), r.seconds) for r in pm.records],
        )

    # -- option handling ----------------------------------------------------------------------

    def _conversion_flags(self) -> dict[str, Any]:
        """Validate the official options; return the ConversionOptions metadata fields.

        Raises for any option set to something we do not implement yet."""
        ts = self.target_spec
        if isinstance(ts, dict):  # keras `model.export(format="litert", target_spec={...})`
            ts = self.target_spec = TargetSpec(**ts)
        optimizations = {_as_enum(Optimize, o, "optimizations") for o in self.optimizations or ()}
        supported_ops = {_as_enum(OpsSet, o, "target_spec.supported_ops") for o in ts.supported_ops}
        types = {_dtype_name(t) for t in ts.supported_types} - {"float32"}
        checks = {
            "optimizations": bool(optimizations),
            "representative_dataset": self.representative_dataset is not None,
            "target_spec.supported_ops": OpsSet.EXPERIMENTAL_STABLEHLO_OPS in supported_ops,
            "target_spec.supported_types": bool(types),
            "target_spec.experimental_select_user_tf_ops": bool(ts.experimental_select_user_tf_ops),
            "target_spec.experimental_supported_backends": bool(ts.experimental_supported_backends),
            "inference_input_type": _not_float32(self.inference_input_type),
            "inference_output_type": _not_float32(self.inference_output_type),
            "allow_custom_ops": bool(self.allow_custom_ops),
            "serialize_debug_metadata": bool(self.serialize_debug_metadata),
            "unfold_batchmatmul": bool(self.unfold_batchmatmul),
            "experimental_use_stablehlo_quantizer": bool(self.experimental_use_stablehlo_quantizer),
            "experimental_stablehlo_quantizer_config": (
                self.experimental_stablehlo_quantizer_config is not None
            ),
        }
        for option, is_set in checks.items():
            if is_set and option in UNIMPLEMENTED_OPTIONS:
                value = _describe(self, option)
                raise ConverterError(
                    f"option {option}={value} is not implemented yet in tflconv "
                    f"({UNIMPLEMENTED_OPTIONS[option]}); remove it to convert to float TFLite builtins",
                    phase="options",
                )
        quantization = self._quantization()
        return {
            "model_optimization_modes": quantization.optimization_modes if quantization else [],
            "allow_custom_ops": bool(self.allow_custom_ops or self.custom_ops),
            "enable_select_tf_ops": OpsSet.SELECT_TF_OPS in supported_ops,
            "force_select_tf_ops": supported_ops == {OpsSet.SELECT_TF_OPS},
        }

    def compat_flags(self) -> Any:
        """The `compat.CompatFlags` of the target spec, allow_custom_ops and custom_ops."""
        ts = self.target_spec
        if isinstance(ts, dict):
            ts = TargetSpec(**ts)
        return CompatFlags(
            target_ops=parse_target_ops(ts.supported_ops),
            allow_custom_ops=bool(self.allow_custom_ops),
            select_user_ops=tuple(sorted(ts.experimental_select_user_tf_ops)),
            custom_ops=tuple(self.custom_ops or ()),
        )

    def _quantization(self) -> Any:
        """The post-training quantization recipe (`api.quantization`), None for float."""
        try:
            return plan_for_converter(self)
        except QuantizeError as err:
            raise ConverterError(str(err), phase="options") from err

    def conversion_config(self) -> ConversionConfig:
        """The `api.pipeline.ConversionConfig` of the options (what shapes the pipeline)."""
        quantization = self._quantization()
        return ConversionConfig.from_flags(
            self.compat_flags(), quantization.config if quantization else None
        )

    def conversion_pipeline(self) -> str:
        """The pipeline `convert()` runs, as a string `pipeline` / `--pass-pipeline` accepts:
        the one built from the options, or `pipeline` with the flags' passes added. Raises
        `PipelineError` for a bad pipeline string."""
        return format_pipeline(pipeline_for(self.pipeline, self.conversion_config()))

    def _pipeline_options(self) -> dict[str, Any]:
        dump_dir = self.dump_dir if self.dump_dir is not None else self.ir_dump_dir
        quantization = self._quantization()  # float pipeline, then calibrate/quantize (§5.3)
        data = dict(quantization.data) if quantization else {}
        if self.representative_dataset is not None:  # for a user pipeline's `calibrate` too
            data.setdefault("representative_dataset", self.representative_dataset)
        return {
            "pipeline": self.conversion_pipeline(),
            "data": data,
            "dump_dir": os.fspath(dump_dir) if dump_dir is not None else None,
            "time_passes": bool(self.time_passes or self.enable_timing),
            "print_ir_after_all": bool(self.print_ir_after_all),
            "print_ir_after": _pass_names(self.print_ir_after),
            "print_ir_before": _pass_names(self.print_ir_before),
            "verify_each": bool(self.verify_each),
            "reproducer": os.fspath(self.reproducer) if self.reproducer is not None else None,
            "stream": self.debug_stream,
            "instruments": list(self.instruments),
        }

    def __setattr__(self, name: str, value: Any) -> None:
        # Catch typos (`converter.optimisations = ...`) and tf.lite's private knobs
        # (`_experimental_*`), which tf.lite accepts and we would otherwise ignore silently.
        if name in PRIVATE_KNOBS:
            _private_knob(self, name, value)
            return
        if name not in _KNOWN_ATTRIBUTES and name not in _INTERNAL_ATTRIBUTES:
            raise AttributeError(f"TFLiteConverter has no option {name!r}")
        object.__setattr__(self, name, value)


# tf.lite's private knobs that tutorials set: mapped onto ours, or refused with what to use.
PRIVATE_KNOBS = (
    "_experimental_disable_per_channel",
    "_experimental_lower_tensor_list_ops",
    "_experimental_default_to_single_batch_in_tensor_list_ops",
)


def _private_knob(conv: TFLiteConverter, name: str, value: Any) -> None:
    if name == "_experimental_disable_per_channel":
        conv.per_channel = not value
    elif name == "_experimental_lower_tensor_list_ops" and not value:
        raise ConverterError(
            "_experimental_lower_tensor_list_ops=False: tflconv lowers TensorList ops to "
            "builtins (as tf.lite does by default); to keep them as Flex ops instead, set "
            "converter.pipeline to the default pipeline without `lower-tensor-lists` and target "
            "SELECT_TF_OPS",
            phase="options",
        )
    # `_experimental_default_to_single_batch_in_tensor_list_ops`: tf.lite assumes batch 1 for
    # tensor lists of unknown batch; tflconv's lowering keeps the batch dynamic, which computes
    # the same for batch 1 and is right for every other batch: nothing to change.


def _pass_names(value: Any) -> list[str]:
    """tf.lite's `print_ir_before/after` (a string) or ours (a list) -> pass names."""
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    return list(value or ())


_KNOWN_ATTRIBUTES = {
    "optimizations",
    "representative_dataset",
    "target_spec",
    "inference_input_type",
    "inference_output_type",
    "allow_custom_ops",
    "exclude_conversion_metadata",
    "serialize_debug_metadata",
    "unfold_batchmatmul",
    "experimental_use_stablehlo_quantizer",
    "experimental_stablehlo_quantizer_config",
    "experimental_enable_resource_variables",
    "_experimental_use_buffer_offset",
    *ACCEPTED_IGNORED,
    *DEBUG_ALIASES,
    "pipeline",
    "dump_dir",
    "time_passes",
    "print_ir_after_all",
    "print_ir_after",
    "verify_each",
    "reproducer",
    "debug_stream",
    "instruments",
    "quiet",
    "metadata",
    "custom_ops",
    "keep_float",
    "per_channel",
    "print_ir_before",
    "bias_correction",
    "quantization_recipe",
    "calibration",
}

_INTERNAL_ATTRIBUTES = {
    "_source",
    "_model_type",
    "_api_version",
    "_load_options",
    "_trackable_obj",
    "_frontend",
}

LOAD_OPTIONS = ("signature_keys", "tags", "input_shapes", "input_arrays", "output_arrays")


def _not_float32(dtype: Any) -> bool:
    return dtype is not None and _dtype_name(dtype) != "float32"


def _describe(conv: TFLiteConverter, option: str) -> str:
    obj: Any = conv
    for part in option.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, set | list | tuple):
        return (
            "{"
            + ", ".join(
                sorted(str(_dtype_name(v) if not isinstance(v, enum.Enum) else v) for v in obj)
            )
            + "}"
        )
    if callable(obj) and not isinstance(obj, type):
        return getattr(obj, "__name__", "<callable>")
    return _dtype_name(obj) if not isinstance(obj, bool | enum.Enum) else str(obj)


def _conversion_metadata(
    model_type: str, api_version: int, flags: dict[str, Any]
) -> dict[str, Any]:
    tf = sys.modules.get("tensorflow")
    return {
        "tensorflow_version": getattr(tf, "__version__", ""),
        "api_version": api_version,
        "model_type": MODEL_TYPES[model_type],
        **flags,
    }


# ---------------------------------------------------------------------------------------------
# Short form


def convert(
    model: Any,
    output_path: str | os.PathLike | None = None,
    *,
    pipeline: str = DEFAULT_PIPELINE,
    frontend: str | None = None,
    **options: Any,
) -> bytes:
    """Convert a model to .tflite bytes, and write them atomically to `output_path` if given.

    The model is anything a registered frontend accepts (`frontends.base.frontend_for`; the
    TensorFlow one takes a SavedModel directory, a .keras/.h5 file, a frozen .pb, a Keras model,
    concrete functions); `frontend` names one to skip the choice.

    `options` are load options (signature_keys, tags, input_shapes, input_arrays,
    output_arrays) and converter attributes (optimizations, dump_dir, time_passes, ...;
    `target_spec` may be a dict)."""
    load_options = {k: options.pop(k) for k in LOAD_OPTIONS if k in options}
    conv = TFLiteConverter(model, load_options=load_options, frontend=frontend)
    conv.pipeline = pipeline
    for name, value in options.items():
        if name not in _KNOWN_ATTRIBUTES:
            raise ConverterError(f"unknown conversion option {name!r}", phase="options")
        setattr(conv, name, value)
    if output_path is None:
        return conv.convert()
    check_output_path(output_path, model)
    files.release_ir(conv.convert_with_report(output_path))  # streamed to the file
    return Path(output_path).read_bytes()
