"""The pass registry and plugins, the PassManager (timing, failures, reproducers, verify-each),
and the generic passes dce / cse / canonicalize on modules built in Python."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import tflconv.passes  # noqa: F401  (registers the built-in passes)
from tflconv.core import passes as passes_mod
from tflconv.core.ir import Block, Function, Module, Operation, Region, constant
from tflconv.core.location import Location
from tflconv.core.opdef import PURE, Dialect, OpDef, declare_dialect, declare_op
from tflconv.core.parser import parse_module
from tflconv.core.pass_manager import PassFailure, PassManager, reproducer_pipeline
from tflconv.core.passes import PASSES, Pass, PassContext, get_pass, load_plugins, register_pass
from tflconv.core.pipeline import PipelineError, parse_pipeline
from tflconv.core.printer import print_module
from tflconv.core.types import TensorType
from tflconv.passes.cleanup.canonicalize import fold_allowed

T = TensorType((4,), "f32")
PLUGIN_DIR = Path(__file__).parent / "plugin_pkg"

declare_dialect(Dialect("ptest", generic_pure=lambda op: "effect" not in op.name))
declare_op(
    OpDef(
        "ptest.double",
        ("x",),
        traits={PURE},
        fold=lambda op, vals: None if vals[0] is None else [vals[0] * 2],
    )
)


def module_with() -> tuple[Module, Function]:
    fn = Function("main", [T], ["x"])
    module = Module([fn])
    return module, fn


def add(fn: Function, name: str, *operands, types=(T,), **attrs) -> Operation:
    return fn.block.append(Operation(name, operands, list(types), attrs))


@register_pass
@dataclass(frozen=True)
class Boom(Pass):
    """Raise from inside a pass (PassManager tests)."""

    name: ClassVar[str] = "test-boom"
    message: str = "kaboom"

    def run(self, module, ctx):
        module.functions[0].attributes["touched"] = True  # partial work before failing
        raise RuntimeError(self.message + "\nsecond line")


@register_pass
@dataclass(frozen=True)
class Corrupt(Pass):
    """Leave invalid IR behind (a constant whose value does not fit its type)."""

    name: ClassVar[str] = "test-corrupt"

    def run(self, module, ctx):
        for op in module.walk():
            if op.name == "arith.constant":
                op.attributes["value"] = np.zeros((7,), np.float32)
        return True


@register_pass
@dataclass(frozen=True)
class Count(Pass):
    """Count ops into ctx.stats and ctx.data (no change)."""

    name: ClassVar[str] = "test-count"

    def run(self, module, ctx):
        ctx.stats["ops seen"] += module.op_count()
        ctx.data.setdefault("runs", []).append(module.op_count())
        return False


# --- PassManager ---------------------------------------------------------------------------------


def small_module() -> Module:
    module, fn = module_with()
    c = fn.block.append(constant(np.ones(4, np.float32), Location.name("c")))
    a = add(fn, "ptest.add", fn.args[0], c.result)
    fn.set_outputs([a.result])
    return module


def test_pass_manager_times_every_pass_and_merges_stats():
    pm = PassManager.from_pipeline("test-count,dce,test-count")
    ctx = PassContext()
    assert pm.run(small_module(), ctx) is False
    assert [str(r.pass_) for r in pm.records] == ["test-count", "dce", "test-count"]
    assert all(r.seconds >= 0 for r in pm.records)
    assert pm.total_seconds == pytest.approx(sum(r.seconds for r in pm.records))
    assert pm.records[0].stats == {"ops seen": 3} and pm.records[1].stats == {}
    assert ctx.stats["ops seen"] == 6  # totals over the run
    assert ctx.data["runs"] == [3, 3]  # non-string inputs travel in ctx.data


def test_pass_failure_is_one_line_and_chains_the_cause():
    pm = PassManager.from_pipeline("dce,test-boom")
    with pytest.raises(PassFailure) as e:
        pm.run(small_module())
    assert str(e.value) == "pass 'test-boom' failed: RuntimeError: kaboom second line"
    assert isinstance(e.value.__cause__, RuntimeError)
    assert e.value.reproducer is None


def test_reproducer_holds_the_ir_the_failing_pass_received(tmp_path):
    path = tmp_path / "repro.mlir"
    module = small_module()
    big = constant(np.arange(100, dtype=np.float32))  # printed whole in reproducers
    module.functions[0].block.insert_before(big, module.functions[0].block.first_op)
    expected = print_module(module, elide_large=False)
    pm = PassManager(parse_pipeline('test-boom{message="a b"}'), reproducer=path)
    with pytest.raises(PassFailure) as e:
        pm.run(module)
    assert str(e.value).endswith(f"(reproducer: {path})")
    text = path.read_text()
    header, body = text.split("\n", 1)
    assert header == '// tflconv-reproducer: pipeline="test-boom{message="a b"}"'
    assert reproducer_pipeline(text) == 'test-boom{message="a b"}'
    assert body == expected  # before the pass touched it, large constants included
    assert "touched" not in body
    assert print_module(parse_module(text)) == print_module(parse_module(expected))


@register_pass
@dataclass(frozen=True)
class FlakyOnRerun(Pass):
    """Succeed on the first run, fail on any later one (reproducer fallback tests)."""

    name: ClassVar[str] = "test-flaky"
    runs: ClassVar[list] = []

    def run(self, module, ctx):
        self.runs.append(1)
        if len(self.runs) > 1:
            raise RuntimeError("flaky")
        module.functions[0].attributes["flaky_ran"] = True
        return True


def test_reproducer_is_rebuilt_by_rerunning_earlier_passes(tmp_path):
    path = tmp_path / "repro.mlir"
    pm = PassManager.from_pipeline("test-count,cse,test-boom", reproducer=path)
    with pytest.raises(PassFailure):
        pm.run(small_module())
    header, body = path.read_text().split("\n", 1)
    assert header == '// tflconv-reproducer: pipeline="test-boom"'
    assert "touched" not in body


def test_reproducer_falls_back_to_the_input_when_the_rerun_diverges(tmp_path):
    FlakyOnRerun.runs.clear()
    path = tmp_path / "repro.mlir"
    module = small_module()
    expected = print_module(module, elide_large=False)
    with pytest.raises(PassFailure, match="test-boom"):
        PassManager.from_pipeline("test-flaky,test-boom", reproducer=path).run(module)
    header, body = path.read_text().split("\n", 1)
    assert header == '// tflconv-reproducer: pipeline="test-flaky,test-boom"'
    assert body == expected


def test_verify_each_turns_invalid_ir_into_a_pass_failure(tmp_path):
    pm = PassManager.from_pipeline("test-corrupt", verify_each=True, reproducer=tmp_path / "r.mlir")
    with pytest.raises(PassFailure, match=r"pass 'test-corrupt' failed: VerifyError: .*shape"):
        pm.run(small_module())
    PassManager.from_pipeline("test-corrupt").run(small_module())  # unchecked without it


def test_reproducer_pipeline_needs_the_header():
    assert reproducer_pipeline("module {}") is None
    assert reproducer_pipeline('// x\n// tflconv-reproducer: pipeline="dce,cse"\n') == "dce,cse"


# --- registry and plugins ------------------------------------------------------------------------


def _install_plugin_metadata(site: Path) -> None:
    """Make `tests/plugin_pkg` importable with its entry points, as `pip install -e` would,
    without pip or network: a dist-info directory built from its pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, eps in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in eps.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    (site / "plugin_pkg.pth").write_text(str(PLUGIN_DIR) + "\n")


@pytest.fixture
def plugin_site(tmp_path):
    site = tmp_path / "site"
    _install_plugin_metadata(site)
    sys.path[:0] = [str(site), str(PLUGIN_DIR)]
    yield site
    sys.path.remove(str(site))
    sys.path.remove(str(PLUGIN_DIR))
    for name in ("example-rename", "example-tag"):
        PASSES.pop(name, None)
    for mod in [m for m in sys.modules if m.startswith("tflconv_example_plugin")]:
        del sys.modules[mod]  # so the next import registers its passes again
    load_plugins(force=True)  # forget the plugin again


def test_plugin_passes_load_through_entry_points(plugin_site):
    load_plugins(force=True)
    assert get_pass("example-rename").__module__ == "tflconv_example_plugin"
    assert get_pass("example-tag").__name__ == "TagFunctions"  # a Pass class entry point
    module, fn = module_with()
    old = add(fn, "test.old", fn.args[0])
    fn.set_outputs([old.result])
    ctx = PassContext()
    pm = PassManager.from_pipeline('example-rename{dst="test.renamed"},example-tag{key=seen}')
    assert pm.run(module, ctx)
    assert [op.name for op in fn.ops] == ["test.renamed", "func.return"]
    assert fn.attributes["seen"] is True and ctx.stats["renamed"] == 1


def test_plugins_load_lazily_once(plugin_site, monkeypatch):
    import importlib.metadata as md

    calls = []
    real = md.entry_points
    monkeypatch.setattr(md, "entry_points", lambda **kw: calls.append(kw) or real(**kw))
    monkeypatch.setattr(passes_mod, "_plugins_loaded", False)
    assert "example-rename" not in PASSES  # nothing loaded before the first lookup
    assert get_pass("dce") is not None
    assert get_pass("example-rename") is not None
    parse_pipeline("example-tag")
    assert calls == [{"group": "tflconv.passes"}]


def test_a_broken_plugin_is_named_when_its_pass_is_missing(tmp_path):
    site = tmp_path / "broken"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tflconv.passes]\nbroken = no_such_module_xyz\n")
    sys.path.insert(0, str(site))
    try:
        load_plugins(force=True)
        assert get_pass("dce") is not None  # other passes still work
        with pytest.raises(PipelineError, match=r"plugins that failed to load: broken"):
            parse_pipeline("broken-pass")
    finally:
        sys.path.remove(str(site))
        load_plugins(force=True)


def test_plugin_pass_runs_from_the_command_line(tmp_path):
    """A fresh process: entry points found on sys.path, pass run through `python -m tflconv`."""
    site = tmp_path / "site"
    _install_plugin_metadata(site)
    src = (
        "func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) {\n"
        '  %0 = "test.old"(%x) : (tensor<4xf32>) -> tensor<4xf32>\n'
        '  "func.return"(%0) : (tensor<4xf32>) -> ()\n'
        "}\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN_DIR)]))
    proc = subprocess.run(
        [sys.executable, "-m", "tflconv", "opt", "-", "-p", "example-rename", "--no-verify-each"],
        input=src,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"test.new"(%x)' in proc.stdout


# --- dce -----------------------------------------------------------------------------------------


def test_dce_erases_dead_chains_and_nested_ops():
    module, fn = module_with()
    live = add(fn, "ptest.neg", fn.args[0])
    d1 = add(fn, "ptest.neg", live.result)
    add(fn, "ptest.add", d1.result, d1.result)
    # An op with a region whose inner ops are dead, itself used: only the inner dead op goes.
    inner = Block([T], ["y"])
    inner.append(Operation("ptest.neg", [inner.args[0]], [T]))
    inner.append(Operation("ptest.yield", [inner.args[0]], []))
    holder = add(fn, "ptest.holder", live.result)
    holder.add_region(Region([inner]))
    add(fn, "ptest.effect", live.result, types=())
    fn.set_outputs([holder.result])
    ctx = PassContext()
    assert PassManager.from_pipeline("dce").run(module, ctx)
    assert [op.name for op in fn.ops] == [
        "ptest.neg",
        "ptest.holder",
        "ptest.effect",
        "func.return",
    ]
    assert [op.name for op in inner.ops] == ["ptest.yield"]
    assert ctx.stats["ops erased"] == 3
    assert not PassManager.from_pipeline("dce").run(module)


# --- cse -----------------------------------------------------------------------------------------


def test_cse_merges_large_equal_constants_and_keeps_different_ones():
    module, fn = module_with()
    base = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    c1 = fn.block.append(constant(base.copy()))
    c2 = fn.block.append(constant(base.copy()))
    other = base.copy()
    other[5001] += 1  # differs in one element the sampled key does not look at
    c3 = fn.block.append(constant(other))
    fn.set_outputs([c1.result, c2.result, c3.result])
    assert PassManager.from_pipeline("cse").run(module)
    outs = fn.outputs
    assert outs[0] is outs[1] and outs[2] is not outs[0]
    assert len([op for op in fn.ops if op.name == "arith.constant"]) == 2


def test_cse_does_not_merge_elided_placeholders_with_different_names():
    text = (
        "func.func @main() -> (tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) {\n"
        '  %a = "arith.constant"() {value = dense_resource<a> : tensor<32xf32>} : () -> tensor<32xf32>\n'
        '  %b = "arith.constant"() {value = dense_resource<b> : tensor<32xf32>} : () -> tensor<32xf32>\n'
        '  "func.return"(%a, %b, %a) : (tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> ()\n'
        "}\n"
    )
    module = parse_module(text)
    assert not PassManager.from_pipeline("cse").run(module)


def test_cse_ignores_private_attributes_and_sees_into_regions():
    module, fn = module_with()
    a = add(fn, "ptest.neg", fn.args[0], _node_def=b"name: 'a'")
    inner = Block()
    dup = inner.append(Operation("ptest.neg", [fn.args[0]], [T], {"_node_def": b"name: 'b'"}))
    inner.append(Operation("ptest.yield", [dup.result], []))
    holder = add(fn, "ptest.holder")
    holder.add_region(Region([inner]))
    b = add(fn, "ptest.neg", fn.args[0], _node_def=b"name: 'c'")
    fn.set_outputs([a.result, b.result, holder.result])
    assert PassManager.from_pipeline("cse").run(module)
    assert fn.outputs[0] is fn.outputs[1] is a.result
    assert inner.last_op.operands[0] is a.result  # the outer op dominates the region


# --- canonicalize --------------------------------------------------------------------------------


def test_fold_size_policy_matches_tensorflow():
    assert fold_allowed(1 << 16, 0)
    assert not fold_allowed((1 << 16) + 1, 32)
    assert fold_allowed(1 << 20, 1 << 19)  # at most twice the operands
    assert not fold_allowed(32, (1 << 30) + 1)  # operands too big


def test_canonicalize_folds_and_counts():
    module, fn = module_with()
    c = fn.block.append(constant(np.arange(4, dtype=np.float32)))
    d = add(fn, "ptest.double", c.result)
    e = add(fn, "ptest.double", d.result)
    fn.set_outputs([e.result])
    ctx = PassContext()
    assert PassManager.from_pipeline("canonicalize").run(module, ctx)
    (op, ret) = list(fn.ops)
    assert op.name == "arith.constant" and ret.name == "func.return"
    np.testing.assert_array_equal(op.attributes["value"], [0, 4, 8, 12])
    assert ctx.stats["ops folded"] == 2


def test_canonicalize_does_not_fold_elided_constants():
    module = parse_module(
        "func.func @main() -> (tensor<32xf32>) {\n"
        '  %a = "arith.constant"() {value = dense_resource<a> : tensor<32xf32>} : () -> tensor<32xf32>\n'
        '  %d = "ptest.double"(%a) : (tensor<32xf32>) -> tensor<32xf32>\n'
        '  "func.return"(%d) : (tensor<32xf32>) -> ()\n'
        "}\n"
    )
    assert not PassManager.from_pipeline("canonicalize").run(module)


def test_the_heap_is_unfrozen_after_a_run_and_after_a_failure():
    import gc

    PassManager.from_pipeline("cse,dce").run(small_module())
    assert gc.get_freeze_count() == 0
    with pytest.raises(PassFailure):
        PassManager.from_pipeline("test-boom").run(small_module())
    assert gc.get_freeze_count() == 0
