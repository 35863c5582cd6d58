"""`tflconv opt` on .tflite files: read any model, run passes, print IR or write a .tflite."""

from __future__ import annotations

import numpy as np
from e2e_util import run_litert

from tflconv import cli


def official_model(tmp_path):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([2, 8], tf.float32)])
    def f(x):
        return tf.nn.relu(tf.matmul(x, tf.ones([8, 4])) + 1.0) * 2.0

    path = tmp_path / "official.tflite"
    path.write_bytes(
        tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()
    )
    return path


def test_opt_prints_ir_of_a_tflite_file(tmp_path, capsys):
    path = official_model(tmp_path)
    assert cli.main(["opt", str(path), "-p", "canonicalize,dce"]) == 0
    out = capsys.readouterr().out
    assert '"tfl.fully_connected"' in out and "func.func @main" in out


def test_opt_writes_a_tflite_that_runs_the_same(tmp_path):
    path = official_model(tmp_path)
    out = tmp_path / "rewritten.tflite"
    assert cli.main(["opt", str(path), "-p", "dce", "-o", str(out)]) == 0
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    (want,) = run_litert(path.read_bytes(), [x])
    (got,) = run_litert(out.read_bytes(), [x])
    np.testing.assert_array_equal(got, want)


def test_opt_corrupt_tflite_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00\x00\x00\x00TFL3" + b"\xff" * 8)
    assert cli.main(["opt", str(bad), "-p", "dce", "-o", str(tmp_path / "o.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err
    assert not (tmp_path / "o.tflite").exists()


def test_opt_refuses_to_overwrite_its_input(tmp_path, capsys):
    path = official_model(tmp_path)
    before = path.read_bytes()
    assert cli.main(["opt", str(path), "-p", "dce", "-o", str(path)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert path.read_bytes() == before
