"""tf.lite-style options -> the quantization passes to append to the conversion pipeline.

The mode follows `lite.py`'s `QuantizationMode` (see the reference §5.1):

| options                                                                   | recipe          |
|---------------------------------------------------------------------------|-----------------|
| optimizations=[DEFAULT], no representative_dataset                        | dynamic range   |
| optimizations=[DEFAULT], supported_types=[float16]                        | float16         |
| optimizations=[DEFAULT] + representative_dataset                          | int8, float fallback |
| ... + supported_ops=[TFLITE_BUILTINS_INT8] (or supported_types=[int8])    | int8 only       |
| ... + supported_ops has EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 | 16x8 (float fallback only if TFLITE_BUILTINS is there too) |

inference_input_type / inference_output_type other than float32 need a full-integer recipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tflconv.core.pipeline import format_pipeline

from .common import QuantizeError, parse_names
from .quantize_pass import MODE_NAMES, Quantize

OPTIMIZE_ON = frozenset({"DEFAULT", "OPTIMIZE_FOR_SIZE", "OPTIMIZE_FOR_LATENCY"})
INT8_ONLY = "TFLITE_BUILTINS_INT8"
INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
BUILTINS = "TFLITE_BUILTINS"


@dataclass
class QuantizationPlan:
    """What to append to the float pipeline, and what to put in the PassContext."""

    mode: str
    pipeline: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def optimization_modes(self) -> list[str]:
        """CONVERSION_METADATA `model_optimization_modes`."""
        return [MODE_NAMES[self.mode]]


def _name(value: Any) -> str:
    """Enum members (ours or tf.lite's), dtypes (tf/np) and strings -> upper/lower names."""
    if value is None:
        return ""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    try:
        import numpy as np

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
) -> QuantizationPlan | None:
    """The recipe of a set of tf.lite options, None for a float model. Raises QuantizeError
    for combinations the official converter rejects."""
    opts = {_name(o).upper() for o in optimizations or ()}
    ops = {_name(o).upper() for o in supported_ops or ()} or {BUILTINS}
    types = {_name(t).lower() for t in supported_types or ()} - {"float32"}
    in_type, out_type = _io_type(inference_input_type), _io_type(inference_output_type)
    keep = tuple(parse_names(keep_float))
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
    options: dict[str, Any] = {"mode": mode, "keep_float": keep, "per_channel": per_channel}
    if mode in ("int8", "int16x8"):
        options["input_type"] = in_type
        options["output_type"] = out_type
        options["integer_only"] = int8_only if mode == "int8" else BUILTINS not in ops
        options["bias_correction"] = bias_correction
    quantize = Quantize(**options)
    if mode in ("int8", "int16x8"):
        return QuantizationPlan(
            mode,
            f"calibrate,{format_pipeline([quantize])}",
            {"representative_dataset": representative_dataset},
        )
    return QuantizationPlan(mode, format_pipeline([quantize]))


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
        bias_correction=getattr(conv, "bias_correction", True),
    )


# --- command line (`tflconv convert`) -----------------------------------------------------------

RECIPES = ("dynamic", "float16", "int8", "int16x8")


def add_quantize_arguments(parser: Any) -> None:
    """`tflconv convert` flags for post-training quantization."""
    g = parser.add_argument_group("post-training quantization (docs/quantization.md)")
    g.add_argument(
        "--quantize",
        choices=RECIPES,
        help="recipe: dynamic (int8 weights), float16 (fp16 weights), int8 (full integer with "
        "float fallback; integer only with --target-ops TFLITE_BUILTINS_INT8), int16x8",
    )
    g.add_argument(
        "--representative-data",
        "--representative_data",
        dest="representative_data",
        metavar="NPZ|DIR",
        help="calibration samples for int8/int16x8: an .npz with one array per input (first "
        "axis: samples) or a directory of .npy files",
    )
    g.add_argument(
        "--keep-float",
        "--keep_float",
        dest="keep_float",
        action="append",
        default=[],
        metavar="NAMES",
        help="comma-separated layer / TF node / tensor names or regexes to keep in float "
        "(repeatable; `tflconv debug-quant` suggests them)",
    )
    g.add_argument(
        "--no-bias-correction",
        dest="bias_correction",
        action="store_false",
        help="int8/int16x8: keep the float biases as they are (the official converter's "
        "numbers) instead of correcting them for the mean shift of int8 weight rounding",
    )
    for which in ("input", "output"):
        g.add_argument(
            f"--inference-{which}-type",
            f"--inference_{which}_type",
            dest=f"inference_{which}_type",
            choices=("float32", "int8", "uint8", "int16"),
            help=f"model {which} type of an int8/int16x8 model (default float32)",
        )


def configure_quantization(conv: Any, args: Any) -> None:
    """Set a TFLiteConverter's quantization attributes from `add_quantize_arguments` flags."""
    from tflconv.api.converter import ConverterError
    from tflconv.api.options import OpsSet, Optimize

    recipe = getattr(args, "quantize", None)
    data = getattr(args, "representative_data", None)
    keep = [n for text in getattr(args, "keep_float", None) or () for n in parse_names(text)]
    io_in = getattr(args, "inference_input_type", None)
    io_out = getattr(args, "inference_output_type", None)
    if recipe is None:
        given = [f for f, v in (("--representative-data", data), ("--keep-float", keep)) if v]
        given += [
            f
            for f, v in (("--inference-input-type", io_in), ("--inference-output-type", io_out))
            if v
        ]
        if given:
            raise ConverterError(f"{', '.join(given)} need --quantize", phase="options")
        return
    if recipe in ("int8", "int16x8") and not data:
        raise ConverterError(
            f"--quantize={recipe} needs --representative-data (calibration samples)",
            phase="options",
        )
    if recipe in ("dynamic", "float16") and data:
        raise ConverterError(
            f"--representative-data is for int8/int16x8, not --quantize={recipe}",
            phase="options",
        )
    if data and not os.path.exists(data):
        raise ConverterError(f"--representative-data {data}: no such file", phase="options")
    conv.optimizations = [Optimize.DEFAULT]
    if recipe == "float16":
        conv.target_spec.supported_types = {"float16"}
    if data:
        conv.representative_dataset = data
    if recipe == "int16x8":
        ops = set(conv.target_spec.supported_ops) | {
            OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        }
        conv.target_spec.supported_ops = ops
    conv.keep_float = keep
    conv.bias_correction = getattr(args, "bias_correction", True)
    conv.inference_input_type = io_in
    conv.inference_output_type = io_out
