"""`tflconv convert` flags for post-training quantization, and how they set a TFLiteConverter's
attributes (the recipe those attributes select is `tflconv.api.quantization`)."""

from __future__ import annotations

import os
from typing import Any

from tflconv.api.converter import ConverterError
from tflconv.api.options import OpsSet, Optimize
from tflconv.passes.quantize.common import parse_names

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
        "--recipe",
        metavar="FILE",
        help="a JSON / TOML recipe: a weight scheme per op by op type and name regex (int8, int4, "
        "blockwise int4, weight-only, float16, float; docs/quantization.md); implies "
        "--quantize=dynamic, with int8/int16x8 only its float rules apply",
    )
    g.add_argument(
        "--no-bias-correction",
        dest="bias_correction",
        action="store_false",
        help="int8/int16x8: keep the float biases as they are (the official converter's "
        "numbers) instead of correcting them for the mean shift of int8 weight rounding",
    )
    g.add_argument(
        "--calibration-method",
        choices=("minmax", "moving-average", "percentile", "mse"),
        help="int8/int16x8: how calibration turns a tensor's values into its range (default "
        "minmax, the official numbers; docs/quantization.md)",
    )
    g.add_argument(
        "--calibration-percentile",
        type=float,
        metavar="P",
        help="--calibration-method=percentile: %% of values kept on each side (default 99.99)",
    )
    g.add_argument(
        "--calibration-averaging-constant",
        type=float,
        metavar="C",
        help="--calibration-method=moving-average: weight of each sample (default 0.01)",
    )
    for which in ("input", "output"):
        g.add_argument(
            f"--inference-{which}-type",
            f"--inference_{which}_type",
            dest=f"inference_{which}_type",
            type=str.lower,  # tflite_convert spells them INT8, UINT8, FLOAT
            choices=("float32", "int8", "uint8", "int16"),
            help=f"model {which} type of an int8/int16x8 model (default float32)",
        )


def configure_quantization(conv: Any, args: Any) -> None:
    """Set a TFLiteConverter's quantization attributes from `add_quantize_arguments` flags."""
    recipe = getattr(args, "quantize", None)
    scheme_file = getattr(args, "recipe", None)
    if scheme_file:
        if not os.path.exists(scheme_file):
            raise ConverterError(f"--recipe {scheme_file}: no such file", phase="options")
        if recipe == "float16":
            raise ConverterError(
                "--recipe applies to --quantize=dynamic/int8/int16x8", phase="options"
            )
        recipe = recipe or "dynamic"
        conv.quantization_recipe = scheme_file
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
    conv.calibration = {
        key: value
        for key, value in (
            ("method", getattr(args, "calibration_method", None)),
            ("percentile", getattr(args, "calibration_percentile", None)),
            ("averaging_constant", getattr(args, "calibration_averaging_constant", None)),
        )
        if value is not None
    }
    conv.inference_input_type = io_in
    conv.inference_output_type = io_out
