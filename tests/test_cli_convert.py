"""`tflconv convert`: input kinds, --verify, --dump-dir, and clean failures (exit 2, one line,
no output file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tflconv.cli.convert import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,), name="features")
    outputs = keras.layers.Dense(2, activation="relu6")(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, outputs)
    model.save(root / "tiny.keras")
    model.save(root / "tiny.h5")

    class Sigs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def double(self, x):
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def square(self, x):
            return {"y": x * x}

    module = Sigs()
    tf.saved_model.save(
        module, str(root / "sm"), signatures={"double": module.double, "square": module.square}
    )

    # A frozen GraphDef with named input/output nodes.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="inp")])
    def graph_fn(inp):
        return tf.identity(tf.nn.relu(tf.matmul(inp, w)), name="result")

    frozen = convert_variables_to_constants_v2(graph_fn.get_concrete_function())
    tf.io.write_graph(frozen.graph.as_graph_def(), str(root), "frozen.pb", as_text=False)

    (root / "corrupt.keras").write_bytes(b"this is not a zip archive")
    return {
        "keras": root / "tiny.keras",
        "h5": root / "tiny.h5",
        "saved_model": root / "sm",
        "graph_def": root / "frozen.pb",
        "corrupt": root / "corrupt.keras",
    }


def signatures(path: Path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_list()


# ---------------------------------------------------------------------------------------------
# Input kinds


def test_positional_keras_model(capsys, models, tmp_path):
    out = tmp_path / "tiny.tflite"
    code, stdout, stderr = run(capsys, str(models["keras"]), "-o", str(out))
    assert code == 0, stderr
    assert out.stat().st_size > 0
    assert f"-> {out}" in stdout and "ops (" in stdout
    assert "fully_connected" in stdout
    assert stderr == ""  # TF's log flood stays hidden


def test_keras_model_file_flag_h5(capsys, models, tmp_path):
    out = tmp_path / "h5.tflite"
    code, _, stderr = run(
        capsys, "--keras_model_file", str(models["h5"]), "--output_file", str(out)
    )
    assert code == 0, stderr
    assert out.exists()


def test_saved_model_dir_with_signature_key(capsys, models, tmp_path):
    out = tmp_path / "sm.tflite"
    code, _, stderr = run(
        capsys,
        "--saved_model_dir",
        str(models["saved_model"]),
        "--saved_model_signature_key",
        "square",
        "--saved_model_tag_set",
        "serve",
        "-o",
        str(out),
    )
    assert code == 0, stderr
    assert list(signatures(out)) == ["square"]


def test_graph_def_file(capsys, models, tmp_path):
    out = tmp_path / "g.tflite"
    code, _, stderr = run(
        capsys,
        "--graph_def_file",
        str(models["graph_def"]),
        "--input_arrays",
        "inp",
        "--output_arrays",
        "result",
        "--input_shapes",
        "2,3",
        "-o",
        str(out),
    )
    assert code == 0, stderr
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(out))
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    assert list(inp["shape"]) == [2, 3]
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    got = interp.get_tensor(interp.get_output_details()[0]["index"])
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_allclose(got, np.maximum(x @ w, 0), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# --verify and instrumentation


def test_verify_reports_errors_per_output(capsys, models, tmp_path):
    out = tmp_path / "v.tflite"
    code, stdout, stderr = run(capsys, str(models["saved_model"]), "-o", str(out), "--verify")
    assert code == 0, stderr
    assert "verify: passed" in stdout
    for key in ("double", "square"):
        assert f"[{key}] y" in stdout
    assert "max abs err" in stdout and "max rel err" in stdout


def test_verify_with_given_inputs(capsys, models, tmp_path):
    inputs = tmp_path / "in.npz"
    np.savez(inputs, features=np.ones((3, 5), np.float32))
    code, stdout, stderr = run(
        capsys, str(models["keras"]), "-o", str(tmp_path / "m.tflite"), "--verify",
        "--verify-inputs", str(inputs),
    )  # fmt: skip
    assert code == 0, stderr
    assert "(3, 2)" in stdout and "inputs from file" in stdout


def test_verify_beyond_tolerance_exits_1(capsys, models, tmp_path):
    out = tmp_path / "m.tflite"
    # A negative tolerance fails every element: exercises the failure path deterministically.
    code, stdout, stderr = run(capsys, str(models["keras"]), "-o", str(out), "--verify",
                               "--verify-atol", "-1")  # fmt: skip
    assert code == 1
    assert "FAIL" in stdout and "verify: FAILED" in stdout
    assert "--verify failed" in stderr
    assert out.exists()  # kept for inspection


def test_dump_dir_and_time_passes(capsys, models, tmp_path):
    dumps = tmp_path / "dumps"
    code, _, stderr = run(
        capsys, str(models["keras"]), "-o", str(tmp_path / "m.tflite"),
        "--dump-dir", str(dumps), "--time-passes",
    )  # fmt: skip
    assert code == 0, stderr
    mlir = sorted(p.name for p in dumps.glob("*.mlir"))
    assert len(mlir) >= 2 and mlir[0].endswith("_input.mlir")
    assert any("legalize-tf" in name for name in mlir)
    assert "legalize-tf" in stderr  # the timing table


# ---------------------------------------------------------------------------------------------
# Failures: exit 2, one line on stderr, no output file


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("missing", [], "no such file or directory"),
        ("corrupt", [], "corrupt.keras"),
        ("bad_signature", ["--saved_model_signature_key", "nope"], "nope"),
        ("two_models", [], "exactly one model"),
    ],
)
def test_bad_input_exits_2(capsys, models, tmp_path, case, extra, message):
    out = tmp_path / "out.tflite"
    model = {
        "missing": [str(tmp_path / "nothing.keras")],
        "corrupt": [str(models["corrupt"])],
        "bad_signature": ["--saved_model_dir", str(models["saved_model"])],
        "two_models": [str(models["keras"]), "--saved_model_dir", str(models["saved_model"])],
    }[case]
    code, stdout, stderr = run(capsys, *model, *extra, "-o", str(out))
    assert code == 2
    assert stderr.startswith("tflconv: error: ") and message in stderr.splitlines()[0]
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stdout == ""
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_unconvertible_op_exits_2(capsys, tmp_path):
    class Unsupported(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
        def serve(self, x):
            return tf.math.digamma(x)

    module = Unsupported()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.serve)
    out = tmp_path / "u.tflite"
    code, _, stderr = run(capsys, str(tmp_path / "sm"), "-o", str(out))
    assert code == 2
    first = stderr.splitlines()[0]
    assert first.startswith("tflconv: error: ") and "tf.Digamma" in first
    assert not out.exists()


def test_entry_point_subprocess(models, tmp_path):
    """The installed command: real exit code and a quiet stderr (no TensorFlow log flood)."""
    out = tmp_path / "cli.tflite"
    proc = subprocess.run(
        [sys.executable, "-m", "tflconv", "convert", str(models["keras"]), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert out.exists()
    missing = subprocess.run(
        [sys.executable, "-m", "tflconv", "convert", str(tmp_path / "x.keras")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
