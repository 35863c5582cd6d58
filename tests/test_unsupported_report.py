"""The unsupported-op report: one error, each op type once with its count, up to three
locations (TF node, Python line, Keras layer), the reason and the flag that would allow it;
the CLI exits 2 without a traceback or an output file; `--report-json` for tools."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tflconv.api.converter import ConverterError, TFLiteConverter  # noqa: E402
from tflconv.passes.compat.check_tflite_legal import (  # noqa: E402
    BUILTIN_CONSTRAINT,
    NO_BUILTIN,
    NOT_IN_FLEX_ALLOWLIST,
)

HERE = os.path.abspath(__file__)


@tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32, name="x")], autograph=False)
def _no_builtin(x):
    outs = [tf.math.cumprod(x * float(i), axis=1) for i in range(1, 5)]  # 4 x Cumprod
    return tf.add_n(outs) + tf.linalg.det(x)[..., None, None]


def _error(fn, **attrs) -> ConverterError:
    conv = TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    for key, value in attrs.items():
        target = conv.target_spec if key == "supported_ops" else conv
        setattr(target, key, value)
    with pytest.raises(ConverterError) as info:
        conv.convert()
    return info.value


def test_one_error_per_op_type_with_count_locations_reason_and_flag():
    err = _error(_no_builtin)
    report = err.report
    assert err.phase == "pipeline" and "\n" not in str(err)
    assert [(u.op, u.count) for u in report.ops] == [("tf.Cumprod", 4), ("tf.MatrixDeterminant", 1)]
    cumprod = report.ops[0]
    assert cumprod.reason == NO_BUILTIN and cumprod.flex_allowlisted
    assert cumprod.error_code == "ERROR_NEEDS_FLEX_OPS"
    assert len(cumprod.locations) == 3  # at most three, then "... and 1 more"
    assert all(loc.file == HERE and loc.line for loc in cumprod.locations)
    assert cumprod.fix_flags[0] == "SELECT_TF_OPS"
    text = report.render()
    assert "tf.Cumprod x4: no TFLite builtin" in text
    assert "... and 1 more" in text
    assert "allow: SELECT_TF_OPS (Cumprod is in the Select TF ops allowlist)" in text
    assert "--target-ops=TFLITE_BUILTINS,SELECT_TF_OPS" in text
    assert "--custom-ops=Cumprod" in text  # the alternative
    assert str(err).startswith("5 op(s) cannot be converted (target ops: TFLITE_BUILTINS): ")


@tf.function(input_signature=[tf.TensorSpec([3], tf.float64, name="x")], autograph=False)
def _constraint(x):
    return tf.exp(x)


def test_a_refused_builtin_says_which_constraint_failed():
    """The ecosystem's top complaint: 'enable SELECT_TF_OPS' hides the real cause. The report
    puts the pattern's reason first and suggests fixing the model before any flag."""
    (u,) = _error(_constraint).report.ops
    assert u.op == "tf.Exp" and u.reason == BUILTIN_CONSTRAINT
    assert u.detail == "LegalizeUnary: tfl.exp does not run on f64 (kernel types: f16, f32)"
    assert u.fixes[0].startswith("change the model so a legalization pattern applies")
    assert any(f.startswith("SELECT_TF_OPS") for f in u.fixes[1:])


@tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="x")], autograph=False)
def _not_allowlisted(x):
    return tf.math.digamma(x)


def test_not_in_the_flex_allowlist_points_to_custom_ops():
    err = _error(
        _not_allowlisted,
        supported_ops={tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS},
    )
    (u,) = err.report.ops
    assert u.reason == NOT_IN_FLEX_ALLOWLIST and not u.flex_allowlisted
    assert u.error_code == "ERROR_NEEDS_CUSTOM_OPS"
    assert u.fix_flags == ["allow_custom_ops", "custom_ops", "select_user_tf_ops"]
    assert "(target ops: TFLITE_BUILTINS, SELECT_TF_OPS)" in str(err)
    assert "--select-user-tf-ops=Digamma" in err.report.render()


def test_keras_layer_is_named():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="features")
    out = keras.layers.Lambda(lambda t: tf.math.cumprod(t, axis=1), name="running_product")(inp)
    with pytest.raises(ConverterError) as info:
        TFLiteConverter.from_keras_model(keras.Model(inp, out)).convert()
    (loc,) = info.value.report.ops[0].locations
    assert "running_product" in loc.layer and loc.node.endswith("/Cumprod")
    assert loc.file == HERE  # the line that built the Lambda
    assert f"[layer {loc.layer}]" in info.value.report.render()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("sm") / "sm"

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"c": tf.math.cumprod(x, axis=1), "l": tf.math.digamma(x)}

    module = M()
    tf.saved_model.save(
        module,
        str(path),
        signatures=module.serve,
        options=tf.saved_model.SaveOptions(save_debug_info=True),
    )
    return path


def test_cli_exit_2_report_no_traceback_no_output(saved_model, tmp_path, capsys):
    from tflconv.cli import main

    out = tmp_path / "m.tflite"
    report_path = tmp_path / "report.json"
    code = main(["convert", str(saved_model), "-o", str(out), "--report-json", str(report_path)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.splitlines()
    assert lines[0].startswith("tflconv: error: 2 op(s) cannot be converted")
    assert "tf.Cumprod x1" in lines[0] and "tf.Digamma x1" in lines[0]
    assert any(line.startswith("  tf.Digamma x1: no TFLite builtin") for line in lines)
    assert any("test_unsupported_report.py:" in line for line in lines)  # debug info lines
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()

    doc = json.loads(report_path.read_text())
    assert doc["schema"] == "tflconv.conversion-report/1" and doc["status"] == "unsupported_ops"
    assert doc["output"] is None and doc["flags"]["target_ops"] == ["TFLITE_BUILTINS"]
    ops = {o["op"]: o for o in doc["unsupported"]["ops"]}
    assert ops["tf.Cumprod"]["error_code"] == "ERROR_NEEDS_FLEX_OPS"
    assert ops["tf.Digamma"]["fix_flags"][0] == "allow_custom_ops"
    assert ops["tf.Digamma"]["locations"][0]["node"] == "Digamma"


def test_cli_report_json_on_success(saved_model, tmp_path, capsys):
    from tflconv.cli import main

    out = tmp_path / "m.tflite"
    report_path = tmp_path / "report.json"
    code = main(
        [
            "convert",
            str(saved_model),
            "-o",
            str(out),
            "--target-ops=TFLITE_BUILTINS,SELECT_TF_OPS",
            "--allow-custom-ops",
            "--report-json",
            str(report_path),
        ]
    )
    capsys.readouterr()
    assert code == 0 and out.exists()
    doc = json.loads(report_path.read_text())
    assert doc["status"] == "converted" and doc["output"] == str(out)
    assert doc["flex_ops"] == {"FlexCumprod": 1} and doc["custom_ops"] == {"Digamma": 1}
    assert doc["unsupported"] is None and doc["error"] is None


def test_cli_bad_target_ops_is_a_usage_error(saved_model, tmp_path, capsys):
    from tflconv.cli import main

    code = main(["convert", str(saved_model), "-o", str(tmp_path / "m.tflite"), "--target-ops=X"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown target op set 'X'" in err and len(err.splitlines()) == 1
