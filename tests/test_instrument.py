"""Instruments (timing, IR printing, dump directories, statistics, pattern tracing) and the
Graphviz output."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv.core.graphviz import render_svg, short_type, to_dot
from tflconv.core.instrument import (
    ChangeRecorder,
    DumpDir,
    PassStatistics,
    PrintIR,
    TimePasses,
    TracePatterns,
    changed_ops,
    fingerprints,
)
from tflconv.core.ir import Block, Operation, Region
from tflconv.core.parser import parse_module
from tflconv.core.pass_manager import PassFailure, PassManager
from tflconv.core.passes import Pass, register_pass
from tflconv.core.rewrite import RewritePattern, apply_greedy
from tflconv.core.types import QuantParams, TensorType

SRC = """\
module {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) attributes {output_names = ["out"]} {
    %c = "arith.constant"() {value = dense<1.0> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
    %d = "arith.constant"() {value = dense<1.0> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
    %a = "tf.AddV2"(%x, %c) : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %b = "tf.AddV2"(%x, %d) : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %r = "tfl.relu"(%a) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %m = "tfl.mul"(%r, %b) {fused_activation_function = "NONE"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    "func.return"(%m) : (tensor<1x4xf32>) -> ()
  }
}
"""


class ReluToTanh(RewritePattern):
    """tfl.relu(x) -> tfl.tanh(x) (instrument tests)"""

    root = "tfl.relu"

    def match_and_rewrite(self, op, rw):
        rw.replace_with_new(op, "tfl.tanh", list(op.operands))


class NeverMatches(RewritePattern):
    """tfl.mul -> (never)"""

    root = "tfl.mul"

    def match_and_rewrite(self, op, rw):
        rw.fail("the test pattern never matches")


@register_pass
@dataclass(frozen=True)
class RewriteRelu(Pass):
    """Rewrite relu to tanh through patterns (instrument tests)."""

    name: ClassVar[str] = "test-relu-to-tanh"

    def run(self, module, ctx):
        return apply_greedy(
            module, [ReluToTanh(), NeverMatches()], tracer=ctx.tracer, listener=ctx.listener
        )


@register_pass
@dataclass(frozen=True)
class RenameBehindTheRewritersBack(Pass):
    """Edit ops directly, without the rewriter (fingerprint fallback tests)."""

    name: ClassVar[str] = "test-direct-edit"

    def run(self, module, ctx):
        for op in module.walk():
            if op.name == "tfl.mul":
                op.attributes["fused_activation_function"] = "RELU"
        return True


@register_pass
@dataclass(frozen=True)
class Nothing(Pass):
    """Change nothing."""

    name: ClassVar[str] = "test-nothing"

    def run(self, module, ctx):
        return False


def run(pipeline: str, *instruments, module=None):
    module = module or parse_module(SRC)
    PassManager.from_pipeline(pipeline, instruments=list(instruments)).run(module)
    return module


def test_time_passes_table():
    out = io.StringIO()
    run("cse,test-nothing", TimePasses(out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "===== Pass execution timing report ====="
    assert re.fullmatch(r"  Total execution time: \d+\.\d{4} s", lines[1])
    assert [line.split()[-1] for line in lines[3:]] == ["cse", "test-nothing", "total"]
    assert re.fullmatch(r"\s+\d+\.\d{4}\s+100\.0%\s+total", lines[-1])


def test_print_ir_before_after_and_change():
    out = io.StringIO()
    run("cse,test-nothing,dce", PrintIR(before={"cse"}, after={"dce"}, stream=out))
    text = out.getvalue()
    banners = re.findall(r"// ----- IR (\w+) ([\w-]+) -----", text)
    assert banners == [("before", "cse"), ("after", "dce")]
    assert text.count('"tf.AddV2"') == 3  # two before cse, one after dce (cse merged them)
    out = io.StringIO()
    run("cse,test-nothing,dce", PrintIR(after_change=True, stream=out))
    assert re.findall(r"IR after ([\w-]+)", out.getvalue()) == ["cse"]  # dce found nothing
    out = io.StringIO()
    run("cse,test-nothing", PrintIR(after_all=True, stream=out))
    assert re.findall(r"IR after ([\w-]+)", out.getvalue()) == ["cse", "test-nothing"]


def test_print_ir_banner_shows_pass_options():
    out = io.StringIO()
    run("canonicalize{max-iterations=3}", PrintIR(after_all=True, stream=out))
    assert out.getvalue().startswith("// ----- IR after canonicalize{max-iterations=3} -----\n")


def test_dump_dir_writes_text_dot_and_svg_when_dot_exists(tmp_path):
    dump = DumpDir(tmp_path / "dump")
    run("cse,test-relu-to-tanh,test-nothing", dump)
    names = sorted(p.name for p in (tmp_path / "dump").iterdir())
    stems = ["00_input", "01_cse", "02_test-relu-to-tanh", "03_test-nothing"]
    expected = {f"{s}.mlir" for s in stems} | {f"{s}.dot" for s in stems} | {"pipeline.txt"}
    if shutil.which("dot"):
        expected |= {f"{s}.svg" for s in stems}
        assert (tmp_path / "dump/01_cse.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert set(names) == expected
    assert (tmp_path / "dump/pipeline.txt").read_text() == "cse,test-relu-to-tanh,test-nothing\n"
    after = parse_module((tmp_path / "dump/02_test-relu-to-tanh.mlir").read_text())
    assert [op.name for op in after.walk()][-3:] == ["tfl.tanh", "tfl.mul", "func.return"]
    # Highlighted: the op the pass created and the op whose operand it rewired; nothing after
    # a pass that changed nothing.
    dot = (tmp_path / "dump/02_test-relu-to-tanh.dot").read_text()
    red = [line.split("\\n")[0] for line in dot.splitlines() if "color=red" in line]
    assert [r.split('"')[1] for r in red] == ["tfl.tanh", "tfl.mul"]
    assert "color=red" not in (tmp_path / "dump/03_test-nothing.dot").read_text()
    assert "color=red" not in (tmp_path / "dump/00_input.dot").read_text()
    if not shutil.which("dot"):
        pytest.skip("Graphviz `dot` is not installed: the .svg dumps are not checked")


def test_dump_dir_keeps_the_ir_a_failing_pass_left(tmp_path):
    @dataclass(frozen=True)
    class EditThenFail(Pass):
        name: ClassVar[str] = "edit-then-fail"

        def run(self, module, ctx):
            RenameBehindTheRewritersBack().run(module, ctx)
            raise ValueError("half way")

    with pytest.raises(PassFailure):
        PassManager([Nothing(), EditThenFail()], [DumpDir(tmp_path, svg=False)]).run(
            parse_module(SRC)
        )
    text = (tmp_path / "02_edit-then-fail.failed.mlir").read_text()
    assert 'fused_activation_function = "RELU"' in text
    dot = (tmp_path / "02_edit-then-fail.failed.dot").read_text()
    assert [ln for ln in dot.splitlines() if "color=red" in ln][0].count("tfl.mul") == 1


def test_changed_ops_fall_back_to_fingerprints():
    module = parse_module(SRC)
    before = fingerprints(module)
    PassManager.from_pipeline("test-direct-edit").run(module)
    changed = changed_ops(before, module, ChangeRecorder())
    assert [op.name for op in changed] == ["tfl.mul"]


def test_change_recorder_forwards_events():
    seen = []

    class Spy(ChangeRecorder):
        def on_insert(self, op):
            seen.append(op.name)

    rec = ChangeRecorder(Spy())
    op = Operation("x.y")
    rec.on_insert(op)
    assert seen == ["x.y"] and op in rec.inserted
    rec.on_erase(op)
    assert op not in rec.inserted


def test_pass_statistics_show_op_count_changes_and_counters():
    out = io.StringIO()
    run("cse,test-nothing,test-relu-to-tanh", PassStatistics(out))
    text = out.getvalue()
    assert text.startswith("===== Pass statistics =====\ncse\n")
    assert re.search(r"  arith\.constant\s+-1 \(2 -> 1\)", text)
    assert re.search(r"  tf\.AddV2\s+-1 \(2 -> 1\)", text)
    assert re.search(r"  ops merged\s+2", text)
    assert "test-nothing\n  (no change)" in text
    assert re.search(
        r"test-relu-to-tanh\n  tfl\.relu\s+-1 \(1 -> 0\)\n  tfl\.tanh\s+\+1 \(0 -> 1\)", text
    )
    assert "tfl.mul" not in text  # unchanged rows are left out


def test_pass_statistics_printed_when_a_pass_fails():
    out = io.StringIO()

    @dataclass(frozen=True)
    class Fail(Pass):
        name: ClassVar[str] = "fail-here"

        def run(self, module, ctx):
            raise ValueError("no")

    with pytest.raises(PassFailure):
        PassManager([Fail()], [PassStatistics(out)]).run(parse_module(SRC))
    assert "fail-here" in out.getvalue()


def test_trace_patterns_lines_and_summary():
    out = io.StringIO()
    run("test-relu-to-tanh", TracePatterns(stream=out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "// ----- patterns in test-relu-to-tanh -----"
    assert any(re.fullmatch(r"tfl\.relu @ .*: ReluToTanh rewrote", line) for line in lines)
    assert any(
        re.fullmatch(r"tfl\.mul @ .*: NeverMatches failed: the test pattern never matches", line)
        for line in lines
    )
    table = lines[lines.index(next(x for x in lines if x.startswith("pattern "))) :]
    rows = {row.split()[0]: row.split()[1:] for row in table[1:]}
    assert rows["ReluToTanh"] == ["1", "1"]
    assert rows["NeverMatches"][1] == "0"


def test_trace_patterns_filter_by_name():
    out = io.StringIO()
    run("test-relu-to-tanh", TracePatterns(only="Never", stream=out))
    text = out.getvalue()
    assert "NeverMatches failed" in text and "ReluToTanh" not in text


# --- graphviz ------------------------------------------------------------------------------------


def test_to_dot_structure_colors_and_highlight():
    module = parse_module(SRC)
    mul = next(op for op in module.walk() if op.name == "tfl.mul")
    dot = to_dot(module, highlight={mul})
    assert dot.startswith("digraph module {") and dot.rstrip().endswith("}")
    assert "subgraph cluster_main {" in dot and 'label="@main"' in dot
    lines = dot.splitlines()
    node = {
        re.search(r'label="([^\\"]+)', ln).group(1): ln
        for ln in lines
        if "[label=" in ln and "->" not in ln
    }
    assert "#fdd0a2" in node["tf.AddV2"]  # tf: orange
    assert "#c6dbef" in node["tfl.relu"]  # tfl: blue
    assert "#e0e0e0" in node["arith.constant"]  # arith: grey
    assert "color=red, penwidth=3" in node["tfl.mul"]
    assert "color=red" not in node["tfl.relu"]
    assert "fused_activation_function=NONE" in node["tfl.mul"]
    assert "shape=ellipse" in node["x"] and "shape=ellipse" in node["out"]
    assert sum(1 for ln in lines if "->" in ln) == 8  # 7 operand uses + 1 output
    assert all('label="1x4xf32"' in ln for ln in lines if "->" in ln)
    assert to_dot(parse_module(SRC), highlight={}) == to_dot(parse_module(SRC))  # deterministic


def test_to_dot_custom_ops_regions_and_cut():
    module = parse_module(SRC)
    fn = module.functions[0]
    custom = Operation("tfl.custom", [fn.args[0]], [fn.args[0].type], {"custom_code": "MyOp"})
    fn.block.insert_before(custom, fn.block.first_op)
    inner = Block()
    inner.append(Operation("tfl.yield", [fn.args[0]], []))
    holder = Operation("tfl.while", [], [], regions=[Region([inner])])
    fn.block.insert_before(holder, fn.block.first_op)
    dot = to_dot(module)
    assert 'style="filled,dashed"' in next(ln for ln in dot.splitlines() if "tfl.custom" in ln)
    assert re.search(r"subgraph cluster_main_n\d+_r0 \{", dot)
    mul = next(op for op in module.walk() if op.name == "tfl.mul")
    cut = to_dot(module, highlight={mul}, max_nodes=3)
    op_nodes = [
        ln for ln in cut.splitlines() if "[label=" in ln and "shape=" not in ln and "->" not in ln
    ]
    assert len(op_nodes) == 3 and any("tfl.mul" in ln for ln in op_nodes)
    assert "ops not shown" in cut


def test_short_types():
    assert short_type(TensorType((1, None, 4), "f32")) == "1x?x4xf32"
    assert short_type(TensorType((), "i32")) == "i32"
    assert short_type(TensorType(None, "f16")) == "*xf16"
    assert short_type(TensorType((2,), "i8", QuantParams((0.5,), (0,)))) == "2xi8!q"


def test_render_svg_reports_missing_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert render_svg("digraph {}", tmp_path / "x.svg") is False
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_render_svg_with_dot(tmp_path):
    assert render_svg(to_dot(parse_module(SRC)), tmp_path / "g.svg")
    assert "<svg" in (tmp_path / "g.svg").read_text()
    assert render_svg("this is not dot", tmp_path / "bad.svg") is False


def test_instruments_big_constants_stay_elided_unless_asked():
    src = SRC.replace(
        '%c = "arith.constant"() {value = dense<1.0> : tensor<1x4xf32>}',
        '%c = "arith.constant"() {value = dense<1.0> : tensor<1x4xf32>}',
    )
    module = parse_module(src)
    fn = module.functions[0]
    from tflconv.core.ir import constant

    fn.block.insert_before(constant(np.arange(64, dtype=np.float32)), fn.block.first_op)
    elided, whole = io.StringIO(), io.StringIO()
    run("test-nothing", PrintIR(after_all=True, stream=elided), module=module)
    run(
        "test-nothing",
        PrintIR(after_all=True, print_options={"elide_large": False}, stream=whole),
        module=module,
    )
    assert "dense_resource<" in elided.getvalue() and "__elided__" not in elided.getvalue()
    assert "0x" in whole.getvalue()
