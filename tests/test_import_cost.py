"""`import tflconv` stays cheap: no TensorFlow, numba, networkx or generated schema until used.

Each check runs in a fresh interpreter (this test process has most of them loaded already) and
reads `sys.modules`, so it fails as soon as a module-level import of a heavy package sneaks in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tflconv
from tflconv.core.parser import parse_module

HEAVY = ("tensorflow", "numba", "networkx", "tflconv.tflite.generated")

IR = """func.func @f(%x: tensor<2xf32>) -> (tensor<2xf32>) {
  %y = "tfl.abs"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%y) : (tensor<2xf32>) -> ()
}"""


def _loaded_after(code: str) -> list[str]:
    """The heavy modules in `sys.modules` after running `code` in a new interpreter."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import tflconv",
        "from tflconv.core.parser import parse_module",
        f"import tflconv; print(tflconv.print_module(tflconv.parse_module({IR!r})))",
        "import tflconv; tflconv.OpsSet.SELECT_TF_OPS; tflconv.TFLiteConverter",
        # The tfl dialect reads the schema's enums from tflite.fbs: no generated module.
        "import tflconv.passes",
        "from tflconv.dialects import tfl; tfl.enum_names('Padding')",
    ],
)
def test_light_imports_load_no_heavy_module(code):
    assert _loaded_after(code) == []


def test_the_writer_loads_the_generated_schema():
    # The check above is not vacuous: the FlatBuffer writer does need the generated module.
    assert "tflconv.tflite.generated.tflite_schema" in _loaded_after(
        "import tflconv; tflconv.write_flatbuffer"
    )


def test_fbs_enums_equal_the_generated_classes():
    # `schema_enums` numbers the .fbs enums and unions as flatc does; the tfl dialect declares
    # its ops (builtin codes, option enums, union members) from it instead of the generated code.
    from tflconv.dialects.tfl_ops import schema_enums
    from tflconv.tflite.generated import tflite_schema as fb

    generated = {
        name: [(k, v) for k, v in vars(cls).items() if not k.startswith("_") and type(v) is int]
        for name, cls in vars(fb).items()
        if isinstance(cls, type)
        and cls.__module__ == fb.__name__
        and vars(cls).get("__init__") is None  # enum / union classes have no constructor
        and any(type(v) is int for k, v in vars(cls).items() if not k.startswith("_"))
    }
    parsed = {name: list(members.items()) for name, members in schema_enums().items()}
    assert len(parsed) >= 20 and "BuiltinOperator" in parsed
    assert parsed == generated


def test_numba_is_imported_by_the_first_weight_quantization():
    pytest.importorskip("numba")
    code = (
        "import sys, numpy as np\n"
        "from tflconv.passes.quantize import kernels as K\n"
        "assert 'numba' not in sys.modules and K.USE_NUMBA\n"
        "K.quantize_weights_symmetric(np.ones((4, 64), np.float32), 0)"
    )
    assert "numba" in _loaded_after(code)


def test_a_broken_numba_falls_back_to_the_numpy_kernels():
    # sys.modules[name] = None makes `import numba` raise ImportError, as a broken install would.
    w = np.random.default_rng(0).standard_normal((8, 3, 3, 16)).astype(np.float32)
    code = (
        "import sys, json, numpy as np\n"
        "sys.modules['numba'] = None\n"
        "from tflconv.passes.quantize import kernels as K\n"
        f"w = np.array({w.tolist()!r}, np.float32)\n"
        "q, s = K.quantize_weights_symmetric(w, 0)\n"
        "print(json.dumps([K.USE_NUMBA, q.tolist(), s.tolist()]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    use_numba, q, s = json.loads(proc.stdout)
    assert use_numba is False
    from tflconv.passes.quantize import kernels as K

    use = K.USE_NUMBA
    try:
        K.USE_NUMBA = False
        q_np, s_np = K.quantize_weights_symmetric(w, 0)
    finally:
        K.USE_NUMBA = use
    np.testing.assert_array_equal(np.array(q, np.int8), q_np)
    np.testing.assert_array_equal(np.array(s, np.float32), s_np)


def test_the_facade_resolves_every_public_name():
    from tflconv.api import converter, options

    assert tflconv.TFLiteConverter is converter.TFLiteConverter
    assert tflconv.convert is converter.convert
    assert tflconv.OpsSet is options.OpsSet and tflconv.Optimize is options.Optimize
    assert tflconv.parse_module is parse_module
    assert set(tflconv.__all__) <= set(dir(tflconv))
    for name in tflconv.__all__:
        if name != "load_model":  # imports TensorFlow: covered by the frontend tests
            assert getattr(tflconv, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        tflconv.not_a_name  # noqa: B018


def test_star_import_gives_the_public_api():
    ns: dict = {}
    exec("from tflconv import DEFAULT_PIPELINE, TFLiteConverter, convert", ns)
    assert ns["TFLiteConverter"].__name__ == "TFLiteConverter"
    assert isinstance(ns["DEFAULT_PIPELINE"], str) and callable(ns["convert"])


def test_cli_help_works():
    proc = subprocess.run(
        [sys.executable, "-m", "tflconv", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "convert" in proc.stdout


def test_to_networkx_without_networkx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    module = parse_module(IR)
    with pytest.raises(ImportError, match=r"tflconv\[graph\]"):
        module.to_networkx()
