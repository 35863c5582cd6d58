"""The conversion pipeline built in code from a ConversionConfig (api/pipeline.py), the rule
that adds the flags' passes to a user's pipeline, and `tflconv convert --print-pipeline`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from e2e_util import op_histogram, run_litert  # noqa: E402

from tflconv.api.pipeline import (  # noqa: E402
    ConversionConfig,
    QuantizationConfig,
    conversion_pipeline,
    format_pipeline,
    quantization_passes,
    user_pipeline,
)
from tflconv.core.ir import constant  # noqa: E402
from tflconv.core.passes import Pass, PassContext, register_pass  # noqa: E402
from tflconv.core.pipeline import parse_pipeline  # noqa: E402
from tflconv.passes import DEFAULT_PIPELINE  # noqa: E402

B, S, I8 = "TFLITE_BUILTINS", "SELECT_TF_OPS", "TFLITE_BUILTINS_INT8"

CONFIGS = [
    ConversionConfig(),
    ConversionConfig(target_ops=(B, S)),
    ConversionConfig(target_ops=(S,)),
    ConversionConfig(target_ops=(S,), allow_custom_ops=True, custom_ops=("Erf",)),
    ConversionConfig(target_ops=(B, S), allow_custom_ops=True, select_user_ops=("MyOp",)),
    ConversionConfig(allow_custom_ops=True, custom_ops=("Cum*", "model/head/*")),
    ConversionConfig(quantization=QuantizationConfig("dynamic", keep_float=("dense",))),
    ConversionConfig(quantization=QuantizationConfig("float16")),
    ConversionConfig(
        target_ops=(I8,),
        quantization=QuantizationConfig("int8", input_type="i8", integer_only=True),
    ),
    ConversionConfig(
        target_ops=(B, S), quantization=QuantizationConfig("int16x8", bias_correction=False)
    ),
]


def test_default_config_builds_the_default_pipeline():
    assert format_pipeline(conversion_pipeline(ConversionConfig())) == DEFAULT_PIPELINE


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: format_pipeline(conversion_pipeline(c)))
def test_built_pipeline_equals_the_default_text_with_the_flags(config):
    """Building in code and adding the flags to the default pipeline's text agree, and the
    printed pipeline parses back to the same passes (what --pass-pipeline gets)."""
    built = conversion_pipeline(config)
    assert format_pipeline(built) == format_pipeline(user_pipeline(DEFAULT_PIPELINE, config))
    assert parse_pipeline(format_pipeline(built)) == built


def test_the_config_shapes_the_pipeline():
    text = format_pipeline(
        conversion_pipeline(
            ConversionConfig(
                target_ops=(B, S),
                allow_custom_ops=True,
                select_user_ops=("MyOp",),
                custom_ops=("Erf",),
                quantization=QuantizationConfig("int8"),
            )
        )
    )
    assert text == (
        "custom-ops{ops=[Erf]},canonicalize,lower-tensor-lists,legalize-tf,legalize-stablehlo,"
        "select-tf-ops{user-ops=[MyOp]},custom-ops,canonicalize,fuse,simplify-tfl,cse,"
        "fuse-recurrent,dce,"
        "check-tflite-legal{target-ops=[TFLITE_BUILTINS,SELECT_TF_OPS] allow-custom-ops=true "
        "select-user-ops=[MyOp]},calibrate-lstm,calibrate,prepare-quantize,bias-correction,"
        "quantize-lstm,quantize"
    )
    only_select = format_pipeline(conversion_pipeline(ConversionConfig(target_ops=(S,))))
    assert "legalize-tf" not in only_select and only_select.startswith("canonicalize,select-")


# --- the rule for a user's pipeline ----------------------------------------------------------

SELECT_AND_CUSTOM = ConversionConfig(target_ops=(B, S), allow_custom_ops=True)


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        # Nothing named: select-tf-ops, then custom-ops, right after legalize-tf.
        (
            "legalize-tf,dce,check-tflite-legal",
            "legalize-tf,select-tf-ops,custom-ops,dce,check-tflite-legal{*}",
        ),
        # select-tf-ops named: kept where the user put it; custom-ops follows it.
        (
            "legalize-tf,test-expand-sinh,select-tf-ops,dce,check-tflite-legal",
            "legalize-tf,test-expand-sinh,select-tf-ops,custom-ops,dce,check-tflite-legal{*}",
        ),
        # custom-ops named: select-tf-ops goes right before it (Flex first, as built).
        (
            "legalize-tf,test-expand-sinh,custom-ops,dce",
            "legalize-tf,test-expand-sinh,select-tf-ops,custom-ops,dce",
        ),
        # Both named: the pipeline is taken as is.
        (
            "custom-ops,test-expand-sinh,select-tf-ops,legalize-tf",
            "custom-ops,test-expand-sinh,select-tf-ops,legalize-tf",
        ),
        # No legalize-tf: before the gate, else at the end.
        ("dce,check-tflite-legal", "dce,select-tf-ops,custom-ops,check-tflite-legal{*}"),
        ("dce", "dce,select-tf-ops,custom-ops"),
    ],
)
def test_flags_add_only_the_passes_a_user_pipeline_lacks(pipeline, expected):
    gate = "target-ops=[TFLITE_BUILTINS,SELECT_TF_OPS] allow-custom-ops=true"
    got = format_pipeline(user_pipeline(pipeline, SELECT_AND_CUSTOM))
    assert got == expected.replace("{*}", "{" + gate + "}")


def test_quantization_passes_are_appended_unless_named():
    config = ConversionConfig(quantization=QuantizationConfig("dynamic"))
    assert format_pipeline(user_pipeline("legalize-tf", config)) == (
        "legalize-tf,quantize-dynamic-range"
    )
    named = "legalize-tf,quantize-float16,dce"
    assert format_pipeline(user_pipeline(named, config)) == named


def test_each_recipe_is_a_chain_of_passes():
    def chain(**options):
        return format_pipeline(quantization_passes(QuantizationConfig(**options)))

    assert chain(mode="float16", keep_float=("head",)) == "quantize-float16{keep-float=[head]}"
    assert chain(mode="int16x8", bias_correction=False, integer_only=True) == (
        "calibrate,prepare-quantize{activation=int16},quantize{integer-only=true}"
    )
    assert chain(mode="int8", per_channel=False, input_type="i8", output_type="ui8") == (
        "calibrate-lstm,calibrate,prepare-quantize,bias-correction{per-channel=false},"
        "quantize-lstm,quantize{per-channel=false},modify-io-types{input-type=i8 output-type=ui8}"
    )


def test_without_builtins_legalization_is_dropped_and_its_place_kept():
    got = user_pipeline("canonicalize,lower-tensor-lists,legalize-tf,dce", ConversionConfig((S,)))
    assert format_pipeline(got) == "canonicalize,select-tf-ops,dce"


# --- a user pass before select-tf-ops, end to end ---------------------------------------------


@register_pass
@dataclass(frozen=True)
class ExpandSinh(Pass):
    """tf.Sinh(x: f32) -> (tfl.exp(x) - tfl.exp(-x)) * 0.5  (test pass; no builtin exists)."""

    name: ClassVar[str] = "test-expand-sinh"

    def run(self, module, ctx: PassContext) -> bool:
        from tflconv.core.rewrite import PatternRewriter

        changed = False
        for op in [o for o in module.walk() if o.name == "tf.Sinh"]:
            rw = PatternRewriter()
            rw.current = op
            x = op.operands[0]
            t = x.type
            act = {"fused_activation_function": "NONE"}
            half = rw.insert(constant(np.asarray(0.5, np.float32), op.location)).result
            up = rw.create("tfl.exp", [x], [t]).result
            down = rw.create("tfl.exp", [rw.create("tfl.neg", [x], [t]).result], [t]).result
            diff = rw.create("tfl.sub", [up, down], [t], act).result
            rw.replace_with_new(op, "tfl.mul", [diff, half], act)
            changed = True
        return changed


@pytest.fixture(scope="module")
def sinh_fn():
    tf = pytest.importorskip("tensorflow")

    @tf.function(input_signature=[tf.TensorSpec([2, 5], tf.float32, name="x")], autograph=False)
    def f(x):
        return tf.math.sinh(x) * 2.0

    return f


def _convert(fn, pipeline: str) -> bytes:
    from tflconv.api.converter import TFLiteConverter

    conv = TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    conv.target_spec.supported_ops = {"TFLITE_BUILTINS", "SELECT_TF_OPS"}
    conv.pipeline = pipeline
    return conv.convert()


def test_user_pass_before_select_tf_ops_runs_first(sinh_fn):
    tail = "canonicalize,fuse,simplify-tfl,cse,fuse-recurrent,dce,check-tflite-legal"
    before = f"canonicalize,lower-tensor-lists,legalize-tf,test-expand-sinh,select-tf-ops,{tail}"
    tflite = _convert(sinh_fn, before)
    hist = op_histogram(tflite)
    assert "tfl.custom" not in hist and hist.get("tfl.exp") == 2, hist
    x = np.random.default_rng(0).uniform(-3, 3, (2, 5)).astype(np.float32)
    (got,) = run_litert(tflite, [x])
    np.testing.assert_allclose(got, sinh_fn(x).numpy(), rtol=1e-5, atol=1e-5)

    # Placed after select-tf-ops, the pass finds no tf.Sinh: Flex took it.
    after = f"canonicalize,lower-tensor-lists,legalize-tf,select-tf-ops,test-expand-sinh,{tail}"
    hist = op_histogram(_convert(sinh_fn, after))
    assert hist.get("tfl.custom") == 1 and "tfl.exp" not in hist, hist


# --- the converter and the CLI print what they run -------------------------------------------


def test_converter_prints_its_pipeline(sinh_fn):
    from tflconv.api.converter import TFLiteConverter

    conv = TFLiteConverter.from_concrete_functions([sinh_fn.get_concrete_function()], sinh_fn)
    conv.target_spec.supported_ops = {"SELECT_TF_OPS"}
    conv.optimizations = {"DEFAULT"}
    expected = format_pipeline(
        conversion_pipeline(ConversionConfig((S,), quantization=QuantizationConfig("dynamic")))
    )
    assert conv.conversion_pipeline() == expected
    conv.pipeline = "canonicalize,check-tflite-legal"
    assert conv.conversion_pipeline() == (
        "canonicalize,select-tf-ops,check-tflite-legal{target-ops=[SELECT_TF_OPS]},"
        "quantize-dynamic-range"
    )


def test_cli_print_pipeline(tmp_path, capsys, sinh_fn):
    tf = pytest.importorskip("tensorflow")
    from tflconv.cli import main

    module = tf.Module()
    module.f = sinh_fn
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=sinh_fn.get_concrete_function())
    out = tmp_path / "m.tflite"
    argv = ["convert", str(tmp_path / "sm"), "-o", str(out), "--target-ops", "SELECT_TF_OPS"]
    assert main([*argv, "--print-pipeline"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == format_pipeline(conversion_pipeline(ConversionConfig((S,))))
    assert not out.exists()  # printing does not convert

    # A user pipeline gets the flags' passes by the rule; a bad one is the user's error.
    assert main([*argv, "--pass-pipeline", "legalize-tf,test-expand-sinh", "--print-pipeline"]) == 0
    assert capsys.readouterr().out.strip() == "select-tf-ops,test-expand-sinh"
    assert main([*argv, "--pass-pipeline", "legalize-tf,no-such-pass", "--print-pipeline"]) != 0
    assert "--pass-pipeline: unknown pass 'no-such-pass'" in capsys.readouterr().err
