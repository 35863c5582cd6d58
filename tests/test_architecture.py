"""The import rules of DESIGN.md section 2, enforced.

`lint-imports` checks the contracts in pyproject.toml ([tool.importlinter]): the layers
cli > tools > api > (frontends | passes | tflite) > dialects > core, nothing imports cli, core
imports no third-party package but numpy, TensorFlow only in frontends. A function-local import of
a tflconv module is allowed only when it is listed below with its reason: new ones must not be
added to dodge an import cycle (restructure instead).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tflconv"

# Reasons a function-local import of a tflconv module may stay.
SCHEMA = "tflite.reader/writer/generated load the 20k-line generated schema: only on use"
TF = "the TensorFlow frontend imports TensorFlow: only when a TensorFlow model is loaded"
JAX = "the JAX frontend imports JAX/jaxlib: only when a JAX model is loaded"
CLI = "a CLI subcommand loads only what it runs, so `tflconv --help` stays fast"
# No cycle behind it: the module imports on use (its owner may move it to module level).
ON_USE = "no cycle: imported on use"

ALLOWED_LOCAL_IMPORTS: dict[tuple[str, str], str] = {
    ("tflconv.api.stages", "tflconv"): ON_USE,
    ("tflconv.api.stages", "tflconv.core"): ON_USE,
    ("tflconv.api.stages", "tflconv.core.pass_manager"): ON_USE,
    ("tflconv.api.stages", "tflconv.core.passes"): ON_USE,
    ("tflconv.api.stages", "tflconv.passes.compat.check_tflite_legal"): ON_USE,
    ("tflconv.api.stages", "tflconv.tflite.runtime"): SCHEMA,
    ("tflconv.api.stages", "tflconv.tflite.metadata"): SCHEMA,
    ("tflconv.api.stages", "tflconv.tflite.writer"): SCHEMA,
    ("tflconv.api.files", "tflconv.tflite.writer"): SCHEMA,
    ("tflconv.cli.analyze", "tflconv.tools.analyze"): CLI,
    ("tflconv.cli.analyze", "tflconv.tools.analyze_eval"): CLI,
    ("tflconv.cli.analyze", "tflconv.tools.analyze_graph"): CLI,
    ("tflconv.cli.analyze", "tflconv.tools.analyze_overlay"): CLI,
    ("tflconv.cli.common", "tflconv.core.io"): CLI,
    ("tflconv.cli.common", "tflconv.core.passes"): CLI,
    ("tflconv.cli.common", "tflconv.core"): CLI,
    ("tflconv.cli.convert", "tflconv.api.compat"): CLI,
    ("tflconv.cli.convert", "tflconv.cli.quantize_flags"): CLI,
    ("tflconv.cli.convert", "tflconv.tflite.metadata"): CLI,
    ("tflconv.cli.debug_quant", "tflconv.core.pass_manager"): CLI,
    ("tflconv.cli.debug_quant", "tflconv.passes.quantize.common"): CLI,
    ("tflconv.cli.debug_quant", "tflconv.tools.quant_debug"): CLI,
    ("tflconv.cli.inspect", "tflconv.tflite.reader"): CLI,
    ("tflconv.cli.inspect", "tflconv.tools.inspect"): CLI,
    ("tflconv.cli.inspect", "tflconv.core.printer"): CLI,
    ("tflconv.cli.inspect", "tflconv.core.graphviz"): CLI,
    ("tflconv.cli.inspect", "tflconv.core.io"): CLI,
    ("tflconv.cli.metadata", "tflconv.core.io"): CLI,
    ("tflconv.cli.metadata", "tflconv.tflite.metadata"): CLI,
    ("tflconv.cli.opt", "tflconv.core.pass_manager"): CLI,
    ("tflconv.cli.opt", "tflconv.core.pass_options"): CLI,
    ("tflconv.cli.opt", "tflconv.core.passes"): CLI,
    ("tflconv.cli.opt", "tflconv.core.pipeline"): CLI,
    ("tflconv.cli.opt", "tflconv.core.parser"): CLI,
    ("tflconv.cli.opt", "tflconv.passes"): CLI,
    ("tflconv.cli.opt", "tflconv.core.printer"): CLI,
    ("tflconv.cli.opt", "tflconv.core.verifier"): CLI,
    ("tflconv.cli.opt", "tflconv.tflite.reader"): CLI,
    ("tflconv.cli.opt", "tflconv.tflite.writer"): CLI,
    ("tflconv.core.diagnostics", ".printer"): ON_USE,
    ("tflconv.core.instrument", ".printer"): ON_USE,
    ("tflconv.core.instrument", ".graphviz"): ON_USE,
    ("tflconv.core.rewrite", ".location"): ON_USE,
    ("tflconv.frontends.tensorflow.frontend", "."): TF,
    ("tflconv.frontends.jax.frontend", "."): JAX,
    ("tflconv.passes.compat.check_tflite_legal", "..legalize_tf.pass_"): ON_USE,
    ("tflconv.passes.legalize_tf.control_flow", "tflconv.core.types"): ON_USE,
    ("tflconv.cli.convert", "tflconv.tools.verify"): CLI,
    ("tflconv.cli.common", "tflconv.core.plugins"): CLI,
    ("tflconv.cli.opt", "tflconv.tflite.runtime"): SCHEMA,
    ("tflconv.cli.debug_quant", "tflconv.tools.model_explorer"): CLI,
    ("tflconv.cli.debug_quant", "tflconv.passes.quantize.recipe"): CLI,
    ("tflconv.cli.view", "tflconv.tools.model_explorer"): CLI,
    ("tflconv.cli.__init__", "."): CLI,  # after the interrupt handlers are installed
    ("tflconv.cli.common", "tflconv.tflite.reader"): SCHEMA,
}


def _lint_imports() -> str:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    return exe


def _run(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [_lint_imports(), "--no-cache"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_kept() -> None:
    result = _run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_linter_detects_a_broken_contract(tmp_path: Path) -> None:
    # The linter must see real imports: core.ir imports numpy, so forbidding it has to fail.
    config = tmp_path / "contracts.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "tflconv"
            include_external_packages = true

            [[tool.importlinter.contracts]]
            name = "core without numpy (must break)"
            type = "forbidden"
            source_modules = ["tflconv.core.ir"]
            forbidden_modules = ["numpy"]
            """
        )
    )
    result = _run(config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


# No import cycles between modules (function-local imports count: a local import that closes a
# cycle only hides it; `if TYPE_CHECKING:` imports do not, they never run). Never add an entry.
KNOWN_CYCLES: list[set[str]] = []


def _import_cycles() -> list[set[str]]:
    """Strongly connected components (more than one module) of the import graph of tflconv."""
    grimp = pytest.importorskip("grimp")  # installed with import-linter
    graph = grimp.build_graph("tflconv", cache_dir=None, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan; the graph is small (~200 modules)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(component)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                connect(module)
    finally:
        sys.setrecursionlimit(limit)
    return cycles


def test_no_new_import_cycles() -> None:
    cycles = _import_cycles()
    new = [sorted(c) for c in cycles if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, f"import cycles (restructure; a local import does not break one): {new}"
    stale = [sorted(k) for k in KNOWN_CYCLES if not any(c & k for c in cycles)]
    assert not stale, f"these cycles are gone: remove them from KNOWN_CYCLES: {stale}"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _local_imports(path: Path) -> list[tuple[str, int]]:
    """(imported tflconv module or relative name, line) for each import inside a function."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if in_function and isinstance(child, ast.Import):
                found.extend(
                    (a.name, child.lineno) for a in child.names if a.name.split(".")[0] == "tflconv"
                )
            elif in_function and isinstance(child, ast.ImportFrom):
                name = "." * child.level + (child.module or "")
                if child.level or name.split(".")[0] == "tflconv":
                    found.append((name, child.lineno))
            visit(child, in_function)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def _all_local_imports() -> dict[tuple[str, str], list[str]]:
    result: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "generated" in path.parts:
            continue
        for name, line in _local_imports(path):
            key = (_module_name(path), name)
            result.setdefault(key, []).append(f"{path.relative_to(ROOT)}:{line}")
    return result


def test_function_local_imports_are_allowlisted() -> None:
    found = _all_local_imports()
    new = {k: v for k, v in found.items() if k not in ALLOWED_LOCAL_IMPORTS}
    assert not new, (
        "function-local imports of tflconv modules not in ALLOWED_LOCAL_IMPORTS "
        "(import at module level; if that makes a cycle, restructure): "
        + "; ".join(f"{m} -> {t} at {', '.join(where)}" for (m, t), where in new.items())
    )


def test_local_import_allowlist_has_no_stale_entries() -> None:
    stale = sorted(set(ALLOWED_LOCAL_IMPORTS) - set(_all_local_imports()))
    assert not stale, f"remove these entries from ALLOWED_LOCAL_IMPORTS: {stale}"
