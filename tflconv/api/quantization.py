"""tf.lite-style converter options -> the quantization recipe (`api.pipeline.QuantizationConfig`),
whose passes `api.pipeline.conversion_pipeline` runs after the float pipeline (the passes live in
`tflconv.passes.quantize`; the CLI flags that set these options are in `tflconv.cli.quantize_flags`).

The mode follows `lite.py`'s `QuantizationMode` (see the reference §5.1):

| options                                                                   | recipe          |
|---------------------------------------------------------------------------|-----------------|
| optimizations=[DEFAULT], no representative_dataset                        | dynamic range   |
| optimizations=[DEFAULT], supported_types=[float16]                        | float16         |
| optimizations=[DEFAULT] + representative_dataset                          | int8, float fallback |
| ... + supported_ops=[TFLITE_BUILTINS_INT8] (or supported_types=[int8])    | int8 only       |
| ... + supported_ops has EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 | 16x8 (float fallback only if TFLITE_BUILTINS is there too) |

inference_input_type / inference_output_type other than float32 need a full-integer recipe.
`quantization_recipe` (tflconv extra; `passes.quantize.recipe`) picks a weight scheme per op
(int8 / int4 / blockwise int4 / weight-only / float16 / float) and turns on dynamic range by
itself; with a representative_dataset only its float rules apply (as keep-float).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.api.options import INT16X8, TFLITE_BUILTINS, TFLITE_BUILTINS_INT8
from tflconv.api.pipeline import QuantizationConfig, quantization_passes
from tflconv.core.pipeline import format_pipeline
from tflconv.passes.quantize.common import QuantizeError, parse_names
from tflconv.passes.quantize.quantize_pass import MODE_NAMES
from tflconv.passes.quantize.recipe import load_recipe
from tflconv.passes.quantize.weights import RECIPE_KEY

CALIBRATION_OPTIONS = frozenset({"method", "percentile", "averaging_constant"})
"""`calibrate` pass options the converter's `calibration` dict may set."""
OPTIMIZE_ON = frozenset({"DEFAULT", "OPTIMIZE_FOR_SIZE", "OPTIMIZE_FOR_LATENCY"})
INT8_ONLY = TFLITE_BUILTINS_INT8
BUILTINS = TFLITE_BUILTINS


@dataclass
class QuantizationPlan:
    """The recipe, and what to put in the PassContext."""

    config: QuantizationConfig
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def pipeline(self) -> str:
        """The recipe's passes as a pipeline string (what follows the float pipeline)."""
        return format_pipeline(quantization_passes(self.config))

    @property
    def optimization_modes(self) -> list[str]:
        """CONVERSION_METADATA `model_optimization_modes`."""
        if self.config.qat:
            return ["QUANTIZATION_AWARE_TRAINING"]
        return [MODE_NAMES[self.mode]]


def _name(value: Any) -> str:
    """Enum members (ours or tf.lite's), dtypes (tf/np) and strings -> upper/lower names."""
    if value is None:
        return ""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    try:
        return np.dtype(value).name
    except TypeError:
        return str(value)


def _io_type(value: Any) -> str:
    name = _name(value).lower() if value is not None else "float32"
    return {"float32": "f32", "int8": "i8", "uint8": "ui8", "int16": "i16"}.get(name, name)


def plan_quantization(
    optimizations: Iterable[Any] = (),
    representative_dataset: Any = None,
    supported_ops: Iterable[Any] = (),
    supported_types: Iterable[Any] = (),
    inference_input_type: Any = None,
    inference_output_type: Any = None,
    keep_float: Iterable[str] | str = (),
    per_channel: bool = True,
    bias_correction: bool = True,
    recipe: Any = None,
    qat: bool = False,
    calibration: dict[str, Any] | None = None,
) -> QuantizationPlan | None:
    """The recipe of a set of tf.lite options, None for a float model. Raises QuantizeError
    for combinations the official converter rejects.

    `recipe` (a `Recipe`, a dict or a .json / .toml path; docs/quantization.md "Recipes per
    op") turns quantization on by itself: dynamic range with a weight scheme per op, or, with
    a representative_dataset, int8 / 16x8 where its float rules become keep-float patterns."""
    if isinstance(recipe, os.PathLike):
        recipe = os.fspath(recipe)
    loaded = load_recipe(recipe) if recipe is not None else None
    if loaded is not None:
        optimizations = [*(optimizations or ()), "DEFAULT"]
    opts = {_name(o).upper() for o in optimizations or ()}
    ops = {_name(o).upper() for o in supported_ops or ()} or {BUILTINS}
    types = {_name(t).lower() for t in supported_types or ()} - {"float32"}
    in_type, out_type = _io_type(inference_input_type), _io_type(inference_output_type)
    keep = tuple(parse_names(keep_float))
    unknown = sorted(set(calibration or {}) - CALIBRATION_OPTIONS)
    if unknown:
        raise QuantizeError(
            f"calibration: unknown option(s) {', '.join(unknown)} (known: "
            f"{', '.join(sorted(CALIBRATION_OPTIONS))})"
        )
    quantizing = bool(opts & OPTIMIZE_ON)
    if not quantizing:
        if (in_type, out_type) != ("f32", "f32"):
            raise QuantizeError(
                "inference_input_type/inference_output_type other than float32 need "
                "post-training integer quantization (optimizations=[DEFAULT] and a "
                "representative_dataset)"
            )
        if keep:
            raise QuantizeError("keep_float needs quantization (optimizations=[DEFAULT])")
        return None
    int16 = INT16X8 in ops
    int8_only = ops == {INT8_ONLY} or types == {"int8"}
    if qat and not int16 and "float16" not in types:  # FakeQuant ranges: int8, as tf.lite
        config = QuantizationConfig(
            "int8",
            keep_float=keep,
            input_type=in_type,
            output_type=out_type,
            integer_only=int8_only,
            bias_correction=False,
            qat=True,
            qat_calibrate=representative_dataset is not None,
            calibration=tuple(sorted((calibration or {}).items())),
        )
        if representative_dataset is None:
            return QuantizationPlan(config)
        return QuantizationPlan(config, {"representative_dataset": representative_dataset})
    mode: str
    if "float16" in types and "int8" not in types and not int16:
        mode = "float16"
    elif representative_dataset is not None:
        mode = "int16x8" if int16 else "int8"
    elif int16 or int8_only:
        raise QuantizeError(
            "full integer quantization needs a representative_dataset (calibration data)"
        )
    else:
        mode = "dynamic"
    if mode in ("dynamic", "float16") and (in_type, out_type) != ("f32", "f32"):
        raise QuantizeError(
            f"inference_input_type/inference_output_type must be float32 for {mode} "
            "quantization (integer model inputs need a representative_dataset)"
        )
    config = QuantizationConfig(mode, keep_float=keep, per_channel=per_channel)
    data: dict[str, Any] = {}
    if loaded is not None and mode == "dynamic":
        if isinstance(recipe, str):
            config = dataclasses.replace(config, recipe=recipe)
        else:
            data[RECIPE_KEY] = loaded
    elif loaded is not None:
        if any(r.scheme.weights != "float32" for r in loaded.rules) or (
            loaded.default is not None and loaded.default != type(loaded.default)()
        ):
            raise QuantizeError(
                f"a recipe's int4 / blockwise / weight-only / float16 schemes apply to dynamic "
                f"range quantization; in {mode} mode only its float32 rules (kept float) apply"
            )
        config = dataclasses.replace(config, keep_float=keep + loaded.float_patterns)
    if config.calibrated:
        config = dataclasses.replace(
            config,
            input_type=in_type,
            output_type=out_type,
            integer_only=int8_only if mode == "int8" else BUILTINS not in ops,
            bias_correction=bias_correction,
            calibration=tuple(sorted((calibration or {}).items())),
        )
        return QuantizationPlan(config, {"representative_dataset": representative_dataset})
    return QuantizationPlan(config, data)


def plan_for_converter(conv: Any) -> QuantizationPlan | None:
    """The recipe of a `TFLiteConverter`'s attributes."""
    ts = conv.target_spec
    if isinstance(ts, dict):
        supported_ops = ts.get("supported_ops", ())
        supported_types = ts.get("supported_types", ())
    else:
        supported_ops, supported_types = ts.supported_ops, ts.supported_types
    return plan_quantization(
        conv.optimizations,
        conv.representative_dataset,
        supported_ops,
        supported_types,
        conv.inference_input_type,
        conv.inference_output_type,
        getattr(conv, "keep_float", ()) or (),
        per_channel=getattr(conv, "per_channel", True),
        bias_correction=getattr(conv, "bias_correction", True),
        recipe=getattr(conv, "quantization_recipe", None),
        qat=source_has_fake_quant(getattr(conv, "_source", None)),
        calibration=getattr(conv, "calibration", None),
    )


def source_has_fake_quant(source: Any) -> bool:
    """Whether a model source holds FakeQuant ops (a quantization-aware-trained model), looked
    up without loading it: tensorflow-model-optimization layers in a Keras model, FakeQuant nodes
    in a SavedModel's graph or in concrete functions (the official converter checks the graph)."""
    if isinstance(source, (list, tuple)):
        return any(source_has_fake_quant(s) for s in source)
    if isinstance(source, (str, os.PathLike)):
        pb = os.path.join(os.fspath(source), "saved_model.pb")
        if not os.path.isfile(pb):
            return False
        with open(pb, "rb") as f:
            return b"FakeQuantWithMinMax" in f.read()
    graph = getattr(source, "graph", None)
    if graph is not None and hasattr(graph, "get_operations"):
        return any(op.type.startswith("FakeQuant") for op in graph.get_operations())
    layers = getattr(source, "submodules", None) or getattr(source, "layers", None) or ()
    # tfmot's quantize wrappers / layers (not its pruning or clustering wrappers)
    prefix = "tensorflow_model_optimization.python.core.quantization."
    return any(type(layer).__module__.startswith(prefix) for layer in layers)
