"""`tflconv opt`: exit codes, error messages, output files, reproducers, instrument flags."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv import cli
from tflconv.core.passes import Pass, register_pass

SRC = """\
module {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {
    %c = "arith.constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %d = "arith.constant"() {value = dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %a = "tf.AddV2"(%x, %c) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %b = "tf.AddV2"(%x, %d) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %m = "tf.Mul"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    "func.return"(%m) : (tensor<4xf32>) -> ()
  }
}
"""

BIG = """\
func.func @main(%x: tensor<32xf32>) -> (tensor<32xf32>) {
  %c = "arith.constant"() {value = dense<[%s]> : tensor<32xf32>} : () -> tensor<32xf32>
  %a = "tf.AddV2"(%x, %c) : (tensor<32xf32>, tensor<32xf32>) -> tensor<32xf32>
  "func.return"(%a) : (tensor<32xf32>) -> ()
}
""".replace("%s", ", ".join(f"{i}.5" for i in range(32)))


@register_pass
@dataclass(frozen=True)
class FailOnMul(Pass):
    """Fail when the module has a tf.Mul (CLI tests)."""

    name: ClassVar[str] = "test-fail-on-mul"
    why: str = "found a tf.Mul"

    def run(self, module, ctx):
        if any(op.name == "tf.Mul" for op in module.walk()):
            raise ValueError(self.why)
        return False


def opt(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(["opt", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "in.mlir"
    path.write_text(SRC)
    return path


def test_runs_a_pipeline_to_stdout(capsys, src):
    code, out, err = opt(capsys, str(src), "-p", "cse,dce")
    assert code == 0 and err == ""
    assert out.count('"tf.AddV2"') == 1 and out.count("arith.constant") == 1


def test_no_pipeline_prints_the_parsed_module(capsys, src):
    code, out, _ = opt(capsys, str(src))
    assert code == 0 and out == SRC


def test_stdin_and_output_file(capsys, monkeypatch, tmp_path):
    out_path = tmp_path / "out.mlir"
    code, out, _ = opt(
        capsys, "-", "-p", "cse", "-o", str(out_path), stdin=SRC, monkeypatch=monkeypatch
    )
    assert code == 0 and out == ""
    assert out_path.read_text().count('"tf.AddV2"') == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.mlir"]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert out_path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_parse_error_exit_2_with_position_and_caret(capsys, tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text(SRC.replace('"tf.Mul"(%a, %b)', '"tf.Mul"(%a, %zz)'))
    out_path = tmp_path / "out.mlir"
    code, out, err = opt(capsys, str(bad), "-p", "cse", "-o", str(out_path))
    assert code == 2 and out == ""
    first, source, caret = err.splitlines()[:3]
    assert first.startswith(f"{bad}:7:") and "%zz" in first
    assert source.strip().startswith("%m = ")
    assert caret.strip() == "^" and source[len(caret) - 1 : len(caret) + 2] == "%zz"
    assert not out_path.exists()


def test_unknown_pass_exit_2_with_suggestion(capsys, src):
    code, out, err = opt(capsys, str(src), "-p", "cse,dcee")
    assert code == 2 and out == ""
    assert "unknown pass 'dcee'; did you mean 'dce'?" in err
    code, _, err = opt(capsys, str(src), "-p", "canonicalize{max-iteration=2}")
    assert code == 2 and "did you mean 'max-iterations'" in err


def test_print_ir_flags_check_pass_names(capsys, src):
    code, out, err = opt(capsys, str(src), "-p", "cse", "--print-ir-after=cse,dcee")
    assert code == 2 and out == ""
    assert "--print-ir-after: unknown pass 'dcee'; did you mean 'dce'?" in err


def test_missing_input_exit_2(capsys, tmp_path):
    code, _, err = opt(capsys, str(tmp_path / "nope.mlir"))
    assert code == 2 and "cannot read" in err


def test_invalid_input_ir_exit_2(capsys, tmp_path):
    path = tmp_path / "invalid.mlir"
    path.write_text(
        SRC.replace(
            "dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>} : () -> tensor<4xf32>\n    %d",
            "dense<[1.0, 2.0, 3.0]> : tensor<3xf32>} : () -> tensor<4xf32>\n    %d",
            1,
        )
    )
    code, _, err = opt(capsys, str(path), "-p", "cse")
    assert code == 2 and "arith.constant" in err


def test_failing_pass_writes_reproducer_and_replays(capsys, src, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out_path = tmp_path / "out.mlir"
    code, out, err = opt(
        capsys, str(src), "-p", 'cse,test-fail-on-mul{why="no mul"}', "-o", str(out_path)
    )
    assert code == 1 and out == ""
    assert err == (
        "tflconv: error: pass 'test-fail-on-mul' failed: ValueError: no mul "
        "(reproducer: tflconv_reproducer.mlir)\n"
    )
    assert not out_path.exists()
    repro = tmp_path / "tflconv_reproducer.mlir"
    text = repro.read_text()
    assert text.startswith('// tflconv-reproducer: pipeline="test-fail-on-mul{why="no mul"}"\n')
    assert text.count('"tf.AddV2"') == 1  # the IR after cse: what the failing pass received
    # Replaying (no -p) fails the same way.
    again = tmp_path / "again.mlir"
    code, _, err2 = opt(capsys, str(repro), "--reproducer", str(again))
    assert code == 1
    assert err2 == err.replace("tflconv_reproducer.mlir", str(again))
    assert (tmp_path / "again.mlir").read_text() == text


def test_reproducer_keeps_large_constants(capsys, tmp_path):
    path = tmp_path / "big.mlir"
    path.write_text(BIG.replace('"tf.AddV2"', '"tf.Mul"'))
    repro = tmp_path / "r.mlir"
    code, out, _ = opt(capsys, str(path), "-p", "test-fail-on-mul", "--reproducer", str(repro))
    assert code == 1
    text = repro.read_text()
    assert "dense_resource<c>" in text and "__elided__" not in text and "0x" in text
    # Output elides the same constant by default and keeps it with --print-large-constants.
    code, out, _ = opt(capsys, str(path))
    assert "dense_resource<c>" in out and "0x" not in out
    code, out, _ = opt(capsys, str(path), "--print-large-constants")
    assert "0x" in out


def test_debug_shows_the_traceback(capsys, src, tmp_path):
    code, _, err = opt(
        capsys,
        str(src),
        "-p",
        "test-fail-on-mul",
        "--debug",
        "--reproducer",
        str(tmp_path / "r.mlir"),
    )
    assert code == 1
    assert "Traceback (most recent call last)" in err and "ValueError: found a tf.Mul" in err


def test_split_input_file(capsys, tmp_path):
    path = tmp_path / "split.mlir"
    path.write_text(SRC + "// -----\n" + BIG)
    code, out, _ = opt(capsys, str(path), "-p", "cse", "--split-input-file")
    assert code == 0
    parts = out.split("// -----\n")
    assert len(parts) == 2 and parts[0].count('"tf.AddV2"') == 1 and "tensor<32xf32>" in parts[1]


def test_split_input_file_error_lines_are_file_lines(capsys, tmp_path):
    path = tmp_path / "split.mlir"
    path.write_text(SRC + "// -----\n" + BIG.replace("%c)", "%nope)"))
    code, out, err = opt(capsys, str(path), "--split-input-file")
    assert code == 2 and out == ""
    assert err.startswith(f"{path}:14:")  # the BIG chunk starts on line 12


def test_list_passes(capsys):
    code, out, _ = opt(capsys, "--list-passes")
    assert code == 0
    assert "Passes:" in out and "Named pipelines:" in out
    assert "  canonicalize " in out and "      max-iterations: int = 10" in out
    assert "Greedy driver cap" in out
    assert "  test-fail-on-mul " in out and '      why: str = "found a tf.Mul"' in out


def test_instrument_flags(capsys, src, tmp_path):
    dump = tmp_path / "dump"
    code, out, err = opt(
        capsys,
        str(src),
        "-p",
        "cse,dce",
        "--time-passes",
        "--print-ir-before=cse",
        "--print-ir-after",
        "dce",
        "--pass-statistics",
        "--trace-patterns",
        "--dump-dir",
        str(dump),
    )
    assert code == 0 and out.count('"tf.AddV2"') == 1
    assert "// ----- IR before cse -----" in err and "// ----- IR after dce -----" in err
    assert "===== Pass execution timing report =====" in err
    assert "===== Pass statistics =====" in err
    assert "// ----- patterns in cse -----" in err
    assert (dump / "02_dce.mlir").exists() and (dump / "00_input.dot").exists()


def test_print_ir_after_change_and_all(capsys, src):
    _, _, err = opt(capsys, str(src), "-p", "dce,cse", "--print-ir-after-change")
    assert err.count("// ----- IR after") == 1 and "IR after cse" in err
    _, _, err = opt(capsys, str(src), "-p", "dce,cse", "--print-ir-after-all")
    assert err.count("// ----- IR after") == 2


def test_trace_patterns_takes_a_name_only_with_equals(capsys, src):
    code, out, err = opt(capsys, "--trace-patterns", str(src), "-p", "canonicalize")
    assert code == 0 and "// ----- patterns in canonicalize -----" in err
    code, out, err = opt(capsys, str(src), "-p", "canonicalize", "--trace-patterns=Nothing")
    assert code == 0 and "(no pattern attempts)" in err


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2


def test_python_dash_m(tmp_path, src):
    proc = subprocess.run(
        [sys.executable, "-m", "tflconv", "opt", str(src), "-p", "cse,dce"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"tf.AddV2"') == 1
