"""Passes without packaging: `--pass-plugin FILE.py` on `tflconv opt` and `convert`, the FileCheck
harness as `python -m tflconv.testing` (CHECK-STDERR on refusal reasons), and the public pattern
helpers of `tflconv.core.builders` (a plugin written with them, run end to end)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.cli import main  # noqa: E402
from tflconv.core.builders import broadcast_type, result_type  # noqa: E402
from tflconv.core.types import QuantParams, TensorType  # noqa: E402
from tflconv.testing.__main__ import main as run_fixtures  # noqa: E402

PLUGIN = '''\
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.builders import constant, location, result_type
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import RewritePattern, apply_greedy


class NegToMul(RewritePattern):
    """tf.Neg(x) -> tf.Mul(x, -1)"""

    root = "tf.Neg"

    def match_and_rewrite(self, op, rw):
        x = op.operands[0]
        if not x.type.is_float:
            return rw.fail("only float tf.Neg becomes a multiply")
        minus_one = constant(rw, np.array(-1, dtype=np.float32))
        mul = rw.create("tf.Mul", [x, minus_one], [result_type(x)], {"T": op.attributes["T"]},
                        location=location(rw))
        rw.replace(op, mul)


@register_pass
@dataclass(frozen=True)
class NegToMulPass(Pass):
    """Rewrite tf.Neg as a multiply by -1."""

    name: ClassVar[str] = "neg-to-mul"

    def run(self, module, ctx: PassContext) -> bool:
        return apply_greedy(module, [NegToMul()], tracer=ctx.tracer, listener=ctx.listener)


@register_pass
@dataclass(frozen=True)
class Describe(Pass):
    """Set the model description (shows that a plugin pass ran in a conversion)."""

    name: ClassVar[str] = "describe"
    text: str = "described by a plugin"

    def run(self, module, ctx: PassContext) -> bool:
        module.attributes["description"] = self.text
        return True
'''

FIXTURE = """\
// RUN: -p neg-to-mul --split-input-file --trace-patterns

// CHECK-LABEL: func.func @float
// CHECK: %[[C:.*]] = "arith.constant"() {value = dense<-1.0> : tensor<f32>}
// CHECK: "tf.Mul"(%x, %[[C]])
// CHECK-NOT: tf.Neg
func.func @float(%x: tensor<4xf32>) -> (tensor<4xf32>) {
  %y = "tf.Neg"(%x) {T = f32} : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%y) : (tensor<4xf32>) -> ()
}

// -----

// CHECK-STDERR: only float tf.Neg becomes a multiply
// CHECK: "tf.Neg"
func.func @int(%x: tensor<4xi32>) -> (tensor<4xi32>) {
  %y = "tf.Neg"(%x) {T = i32} : (tensor<4xi32>) -> tensor<4xi32>
  "func.return"(%y) : (tensor<4xi32>) -> ()
}
"""


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory) -> Path:
    # One file for the whole module: its passes register once per process (another file
    # registering the same pass names would be refused, as it should).
    path = tmp_path_factory.mktemp("plugin") / "my_passes.py"
    path.write_text(PLUGIN)
    return path


@pytest.fixture
def plugin_dir(tmp_path: Path, plugin_file: Path) -> Path:
    (tmp_path / "my_passes.py").symlink_to(plugin_file)
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "neg.mlir").write_text(FIXTURE)
    return tmp_path


def test_fixture_runner_runs_plugin_fixtures(plugin_dir, capsys) -> None:
    code = run_fixtures(
        ["--pass-plugin", str(plugin_dir / "my_passes.py"), str(plugin_dir / "fixtures"), "-v"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ok   neg.mlir:1" in out and "2 passed, 0 failed" in out


def test_fixture_runner_reports_a_wrong_refusal_reason(plugin_dir, capsys) -> None:
    bad = FIXTURE.replace("only float tf.Neg becomes a multiply", "some other reason")
    (plugin_dir / "fixtures" / "neg.mlir").write_text(bad)
    code = run_fixtures(["--pass-plugin", str(plugin_dir / "my_passes.py"), str(plugin_dir)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL fixtures/neg.mlir:13" in out and "'some other reason' not found" in out


def test_opt_loads_a_plugin_file(plugin_dir, capsys) -> None:
    path = plugin_dir / "fixtures" / "neg.mlir"
    plugin = str(plugin_dir / "my_passes.py")
    assert main(["opt", str(path), "--split-input-file", "--pass-plugin", plugin,
                 "-p", "neg-to-mul"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert '"tf.Mul"(%x, %0)' in out and "dense<-1.0> : tensor<f32>" in out
    assert main(["opt", "--pass-plugin", plugin, "--list-passes"]) == 0
    assert "neg-to-mul" in capsys.readouterr().out
    # A missing plugin is a usage error naming it; an unknown pass still says "did you mean".
    assert main(["opt", str(path), "--pass-plugin", str(plugin_dir / "nope.py")]) == 2
    assert "nope.py: no such file" in capsys.readouterr().err


def test_plugin_errors_name_the_file(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    assert main(["opt", "-", "--pass-plugin", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.py" in err and "RuntimeError: boom" in err


def test_convert_runs_a_plugin_pass(plugin_dir, capsys) -> None:
    keras = pytest.importorskip("keras")
    from tflconv.api.converter import DEFAULT_PIPELINE
    from tflconv.tflite.reader import read_flatbuffer

    keras.utils.set_random_seed(0)
    x = keras.Input((4,), name="x")
    model = keras.Model(x, keras.layers.Dense(2)(x))
    model.save(plugin_dir / "m.keras")
    out = plugin_dir / "m.tflite"
    code = main(["convert", str(plugin_dir / "m.keras"), "-o", str(out),
                 "--pass-plugin", str(plugin_dir / "my_passes.py"),
                 "--pass-pipeline", DEFAULT_PIPELINE + ",describe{text=\"from my plugin\"}"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read_flatbuffer(out.read_bytes()).attributes["description"] == "from my plugin"


F32 = TensorType((2, 1, 3), "f32")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((2, 1, 3), (4, 1), (2, 4, 3)),
        ((None, 3), (3,), (None, 3)),
        ((None, 1), (1, 5), (None, 5)),
        ((1,), (None, 7), (None, 7)),
        ((), (2, 2), (2, 2)),
    ],
)
def test_broadcast_type_follows_numpy(a, b, expected) -> None:
    t = broadcast_type(TensorType(a, "f32"), TensorType(b, "f32"))
    assert t == TensorType(expected, "f32")
    static = [tuple(1 if d is None else d for d in s) for s in (a, b)]
    if None not in a and None not in b:
        assert t.shape == np.broadcast_shapes(*static)


def test_broadcast_type_refuses_mismatched_dims() -> None:
    with pytest.raises(ValueError, match="do not broadcast"):
        broadcast_type(TensorType((2, 3), "f32"), TensorType((4,), "f32"))


def test_result_type_derives_from_an_operand() -> None:
    q = TensorType((2, 3), "i8", QuantParams(scale=(0.5,), zero_point=(1,)))
    assert result_type(F32, dtype=np.int32) == TensorType((2, 1, 3), "i32")
    assert result_type(F32, shape=(6,), dtype="f16") == TensorType((6,), "f16")
    assert result_type(F32, shape=None) == TensorType(None, "f32")
    assert result_type(q) == TensorType((2, 3), "i8")  # quantization dropped ...
    assert result_type(q, keep_quant=True) == q  # ... unless asked for
