"""Pattern names: every pattern table of legalize-tf and fuse has its own name, visible in
`--trace-patterns` and the unsupported-op report, and `enable-patterns` / `disable-patterns`
reject unknown names with the closest known ones (CLI exit 2, `PipelineError` in Python)."""

from __future__ import annotations

from collections import Counter

import pytest

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv import cli
from tflconv.core.pass_manager import PassManager
from tflconv.core.pipeline import PipelineError, parse_pipeline
from tflconv.core.rewrite import OneToOne
from tflconv.passes.fuse.pass_ import Fuse, fuse_phases
from tflconv.passes.legalize_tf.pass_ import LegalizeTf, legalize_tf_patterns

# f64 relu: the activation table refuses it (no f64 kernel); f32 sigmoid: the table renames it.
SRC = """\
module {
  func.func @main(%x: tensor<4xf64>, %y: tensor<4xf32>) -> (tensor<4xf64>, tensor<4xf32>) {
    %a = "tf.Relu"(%x) : (tensor<4xf64>) -> tensor<4xf64>
    %b = "tf.Sigmoid"(%y) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%a, %b) : (tensor<4xf64>, tensor<4xf32>) -> ()
  }
}
"""

# tfl.relu(tfl.add(x, y)) fuses into the add unless FuseActivation is disabled.
FUSE_SRC = """\
module {
  func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>) {
    %a = "tfl.add"(%x, %y) {fused_activation_function = "NONE"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = "tfl.relu"(%a) : (tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%r) : (tensor<4xf32>) -> ()
  }
}
"""

ACTIVATIONS = "LegalizeActivationsOneToOne"


def opt(capsys, text: str, tmp_path, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "in.mlir"
    path.write_text(text)
    code = cli.main(["opt", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_legalize_patterns_have_distinct_names():
    patterns = list(legalize_tf_patterns())
    counts = Counter(p.name for p in patterns)
    assert [name for name, n in counts.items() if n > 1] == []
    tables = [p.name for p in patterns if isinstance(p, OneToOne)]
    assert ACTIVATIONS in tables and "OneToOne" not in tables


@pytest.mark.parametrize("phase", [name for name, _ in fuse_phases()])
def test_fuse_patterns_have_distinct_names_per_phase(phase):
    patterns = dict(fuse_phases())[phase]
    counts = Counter(p.name for p in patterns)
    assert [name for name, n in counts.items() if n > 1] == []


def test_table_name_in_trace_and_unsupported_op_report(capsys, tmp_path):
    code, out, err = opt(
        capsys, SRC, tmp_path, "-p", "legalize-tf,check-tflite-legal", "--trace-patterns"
    )
    assert code != 0  # the f64 relu stays tf.Relu
    assert f"tf.Sigmoid @ <unknown location>: {ACTIVATIONS} rewrote" in err
    assert f"tf.Relu x1: {ACTIVATIONS}: tfl.relu does not run on f64" in err


def test_disable_patterns_targets_one_table(capsys, tmp_path):
    code, out, _ = opt(
        capsys, SRC, tmp_path, "-p", f"legalize-tf{{disable-patterns={ACTIVATIONS}}}"
    )
    assert code == 0
    assert '"tf.Sigmoid"' in out and "tfl.logistic" not in out
    code, out, _ = opt(capsys, SRC, tmp_path, "-p", f"legalize-tf{{enable-patterns={ACTIVATIONS}}}")
    assert code == 0 and '"tfl.logistic"' in out


@pytest.mark.parametrize(
    ("pipeline", "suggestion"),
    [
        ("legalize-tf{disable-patterns=[LegalizeActivationOneToOne]}", ACTIVATIONS),
        ("legalize-tf{enable-patterns=[LegalizeConv2d]}", "LegalizeConv2D"),
        ("fuse{disable-patterns=[FuseActivations]}", "FuseActivation"),
        ("canonicalize{disable-patterns=[FoldTfConstantX]}", "FoldTfConstant"),
        ("simplify-tfl{disable-patterns=[FoldTflConstan]}", "FoldTflConstant"),
    ],
)
def test_cli_rejects_unknown_pattern_names(capsys, tmp_path, pipeline, suggestion):
    code, out, err = opt(capsys, FUSE_SRC, tmp_path, "-p", pipeline)
    assert code == 2 and out == ""
    assert "unknown pattern" in err and f"did you mean '{suggestion}'" in err


def test_cli_fuse_disable_patterns_keeps_the_rule_out(capsys, tmp_path):
    code, out, _ = opt(capsys, FUSE_SRC, tmp_path, "-p", "fuse")
    assert code == 0 and '"tfl.relu"' not in out and 'fused_activation_function = "RELU"' in out
    code, out, _ = opt(capsys, FUSE_SRC, tmp_path, "-p", "fuse{disable-patterns=FuseActivation}")
    assert code == 0 and '"tfl.relu"' in out


@pytest.mark.parametrize(
    "make",
    [
        lambda: LegalizeTf(disable_patterns=("LegalizeActivationOneToOne",)),
        lambda: LegalizeTf(enable_patterns=(ACTIVATIONS, "LegalizeActivationOneToOne")),
        lambda: parse_pipeline("legalize-tf{disable-patterns=[LegalizeActivationOneToOne]}"),
        lambda: PassManager.from_pipeline(
            "legalize-tf{enable-patterns=[LegalizeActivationOneToOne]}"
        ),
    ],
)
def test_api_rejects_unknown_legalize_pattern_names(make):
    with pytest.raises(PipelineError, match=f"did you mean '{ACTIVATIONS}'"):
        make()


def test_api_rejects_unknown_fuse_pattern_names():
    with pytest.raises(PipelineError, match="did you mean 'FuseActivation'"):
        Fuse(disable_patterns=("FuseActivations",))
    with pytest.raises(PipelineError, match="'NoSuchRule'"):
        parse_pipeline("fuse{disable-patterns=[FuseActivation,NoSuchRule]}")
    # Known names are accepted, and a pass without the options costs no check.
    assert Fuse(disable_patterns=("FuseActivation",)).disable_patterns == ("FuseActivation",)
    assert LegalizeTf(disable_patterns=(ACTIVATIONS,)).disable_patterns == (ACTIVATIONS,)


def test_converter_pipeline_rejects_unknown_pattern_names():
    import tensorflow as tf

    import tflconv

    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
    def relu(x):
        return tf.nn.relu(x)

    conv = tflconv.TFLiteConverter.from_concrete_functions([relu.get_concrete_function()])
    conv.pipeline = "legalize-tf{disable-patterns=[LegalizeActivationOneToOne]}"
    # The pipeline string is parsed (and its options checked) before any conversion work.
    with pytest.raises(PipelineError, match=f"did you mean '{ACTIVATIONS}'"):
        conv.convert()
