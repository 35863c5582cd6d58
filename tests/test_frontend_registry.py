"""The frontend seam (`tflconv.frontends.base`): a frontend registered from a test and one from
an entry point convert their own sources end to end (run in LiteRT), an unknown source gets the
one-line error naming the accepted kinds, and the TensorFlow frontend takes each TF kind."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from e2e_util import run_litert

import tflconv
from tflconv.core.parser import parse_module
from tflconv.frontends.base import (
    FRONTENDS,
    FrontendError,
    ImportedModel,
    all_frontends,
    frontend_for,
    load_frontends,
    plugin_errors,
    register_frontend,
    unregister_frontend,
)

PLUGIN_DIR = Path(__file__).parent / "plugin_pkg"

MLIR_DTYPES = {np.float32: "f32", np.int32: "i32"}


def binary_ir(op: str, shape: tuple[int, ...], dtype: type) -> str:
    """tf-dialect IR of `relu(op(x, y))` (float) or `op(x, y)` (int)."""
    t = f"tensor<{'x'.join(map(str, shape))}x{MLIR_DTYPES[dtype]}>"
    e = MLIR_DTYPES[dtype]
    body = f'    %s = "tf.{op}"(%x, %y) {{T = {e}}} : ({t}, {t}) -> {t}\n'
    result = "%s"
    if dtype == np.float32:
        body += f'    %r = "tf.Relu"(%s) {{T = {e}}} : ({t}) -> {t}\n'
        result = "%r"
    return (
        "module {\n"
        f"  func.func @main(%x: {t}, %y: {t}) -> ({t}) {{\n"
        f"{body}"
        f'    "func.return"({result}) : ({t}) -> ()\n'
        "  }\n"
        "}\n"
    )


class DictFrontend:
    """Toy sources: {"toy_ir": IR text, "reference": numpy function of the inputs}."""

    name = "test-dict"
    kinds = 'a {"toy_ir": ...} dict'

    def accepts(self, source: Any, **options: Any) -> bool:
        return isinstance(source, dict) and "toy_ir" in source

    def load(self, source: Any, **options: Any) -> ImportedModel:
        module = parse_module(source["toy_ir"])
        fn = module.functions[0]
        fn.attributes.update(
            entry=True,
            signature_key="serving_default",
            input_names=[f"in{i}" for i in range(len(fn.args))],
            output_names=["out"],
        )

        def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
            return [np.asarray(source["reference"](*arrays))]

        return ImportedModel(module, "toy", {"serving_default": run})


@pytest.fixture
def dict_frontend():
    register_frontend(DictFrontend)
    yield FRONTENDS[DictFrontend.name]
    unregister_frontend(DictFrontend.name)


REFERENCES = {
    "AddV2": np.add,
    "Mul": np.multiply,
    "Sub": np.subtract,
}


@pytest.mark.parametrize("shape", [(4,), (2, 3), (1, 2, 2, 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("op", sorted(REFERENCES))
def test_registered_frontend_converts_its_source(dict_frontend, op, shape, dtype):
    ref = REFERENCES[op]
    fn = (lambda x, y: np.maximum(ref(x, y), 0)) if dtype == np.float32 else ref
    source = {"toy_ir": binary_ir(op, shape, dtype), "reference": fn}
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-5, 5, shape).astype(dtype) for _ in range(2))

    result = tflconv.TFLiteConverter(source).convert_with_report()
    assert result.imported.frontend == "test-dict"
    assert result.model_type == "NONE"  # "toy" is no CONVERSION_METADATA model type
    (got,) = run_litert(result.tflite, [x, y])
    (expected,) = result.imported.run_source(None, {"in0": x, "in1": y})
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got.dtype == dtype
    # The short form and a pinned frontend give the same model.
    assert tflconv.convert(source) == result.tflite
    assert tflconv.convert(source, frontend="test-dict") == result.tflite


def test_unknown_source_one_line_error(dict_frontend):
    with pytest.raises(tflconv.ConverterError) as info:
        tflconv.convert(object())
    message = str(info.value)
    assert info.value.phase == "load"
    assert "\n" not in message
    assert message.startswith("no frontend accepts a builtins.object; accepted: ")
    assert 'test-dict: a {"toy_ir": ...} dict' in message
    assert "tensorflow: a SavedModel directory" in message
    with pytest.raises(tflconv.ConverterError, match="no frontend accepts a builtins.dict"):
        tflconv.convert({"not_toy": 1})


def test_unknown_frontend_name(dict_frontend):
    with pytest.raises(tflconv.ConverterError, match=r"unknown frontend 'onnx' \(registered: "):
        tflconv.convert({"toy_ir": ""}, frontend="onnx")


def test_register_frontend_checks():
    class NotAFrontend:
        name = "half"

    with pytest.raises(TypeError, match="is not a Frontend"):
        register_frontend(NotAFrontend)

    class Clash(DictFrontend):
        name = "tensorflow"

    load_frontends()
    with pytest.raises(ValueError, match="'tensorflow' is taken by TensorFlowFrontend"):
        register_frontend(Clash)


def test_no_reference_is_an_error(dict_frontend):
    imported = DictFrontend().load({"toy_ir": binary_ir("AddV2", (2,), np.int32)})
    imported._runners.clear()
    assert not imported.has_reference
    with pytest.raises(FrontendError, match="gave no way to run the source model"):
        imported.run_source(None, [np.zeros(2, np.int32)] * 2)
    with pytest.raises(FrontendError, match=r"expected 2 inputs \['in0', 'in1'\], got 1"):
        imported.run_source(None, [np.zeros(2, np.int32)])


# --- entry points --------------------------------------------------------------------------------


@pytest.fixture
def plugin_site(tmp_path):
    """`tests/plugin_pkg` importable with its entry points, as `pip install -e` would make it."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    eps = project["entry-points"]["tflconv.frontends"]
    lines = ["[tflconv.frontends]"] + [f"{name} = {target}" for name, target in eps.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    sys.path[:0] = [str(site), str(PLUGIN_DIR)]
    load_frontends(force=True)
    yield site
    sys.path.remove(str(site))
    sys.path.remove(str(PLUGIN_DIR))
    unregister_frontend("example-toyir")
    for mod in [m for m in sys.modules if m.startswith("tflconv_example_plugin")]:
        del sys.modules[mod]
    load_frontends(force=True)  # forget the plugin again


def test_entry_point_frontend_converts_its_file(plugin_site, tmp_path, capsys):
    from tflconv.cli.convert import main

    assert not plugin_errors()
    names = [f.name for f in all_frontends()]
    # Priority: the plugin (0) is asked before the TensorFlow fallback for paths (-1).
    assert names.index("example-toyir") < names.index("tensorflow")
    model = tmp_path / "mul.toyir"
    model.write_text(binary_ir("Mul", (2, 3), np.float32))
    assert frontend_for(str(model)).name == "example-toyir"

    out = tmp_path / "mul.tflite"
    assert main(["convert", str(model), "-o", str(out)]) == 0, capsys.readouterr().err
    rng = np.random.default_rng(1)
    x, y = (rng.uniform(-3, 3, (2, 3)).astype(np.float32) for _ in range(2))
    (got,) = run_litert(out.read_bytes(), [x, y])
    np.testing.assert_allclose(got, np.maximum(x * y, 0), rtol=1e-6)
    assert tflconv.convert(model) == out.read_bytes()

    # --verify needs the source run: this frontend has no reference, so it says so and skips.
    capsys.readouterr()
    assert main(["convert", str(model), "-o", str(out), "--verify"]) == 0
    printed = capsys.readouterr().out
    assert "the example-toyir frontend cannot run the source model: SKIP" in printed
    assert "verify: nothing compared" in printed

    with pytest.raises(tflconv.ConverterError, match="example-toyir: no load options"):
        tflconv.convert(model, signature_keys=["x"])


def test_broken_entry_point_is_named(plugin_site):
    dist = next(plugin_site.glob("*.dist-info"))
    (dist / "entry_points.txt").write_text("[tflconv.frontends]\nbroken = no_such_module_xyz\n")
    load_frontends(force=True)
    assert [e.split(" ")[0] for e in plugin_errors()] == ["broken"]
    with pytest.raises(FrontendError, match=r"plugins that failed to load: broken \("):
        frontend_for(object())


# --- the TensorFlow frontend takes every TF kind ---------------------------------------------------


def test_tensorflow_frontend_takes_each_tf_kind(tmp_path):
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32)])
    def double(x):
        return x * 2.0

    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    module = tf.Module()
    module.f = double
    saved = tmp_path / "saved"
    tf.saved_model.save(module, str(saved), signatures={"serving_default": double})
    model.save(tmp_path / "m.keras")
    pb = tmp_path / "frozen.pb"
    pb.write_bytes(double.get_concrete_function().graph.as_graph_def().SerializeToString())

    sources = {
        "saved_model_dir": saved,
        "saved_model_pb": saved / "saved_model.pb",
        "keras_file": tmp_path / "m.keras",
        "graph_def": pb,
        "keras_model": model,
        "tf_function": double,
        "concrete_function": double.get_concrete_function(),
        "list": [double, double.get_concrete_function()],
    }
    for kind, source in sources.items():
        assert frontend_for(source).name == "tensorflow", kind
    assert frontend_for(str(saved)).name == "tensorflow"

    # Through the registry end to end: the chosen frontend is recorded, the result runs.
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for source in (double, saved):
        result = tflconv.TFLiteConverter(source).convert_with_report()
        assert result.imported.frontend == "tensorflow"
        (got,) = run_litert(result.tflite, [x])
        np.testing.assert_allclose(got, x * 2.0)
        np.testing.assert_allclose(result.imported.run_tf(None, [x])[0], x * 2.0)
    assert tflconv.TFLiteConverter.from_keras_model(model)._frontend == "tensorflow"

    # Lists: the TF frontend takes them when one element is a TF function, and names a stray
    # element itself; a list of plain Python functions is nobody's.
    with pytest.raises(tflconv.ConverterError, match=r"functions\[1\] is a function, not a tf"):
        tflconv.convert([double, lambda x: x])
    with pytest.raises(tflconv.ConverterError, match="no frontend accepts a builtins.list"):
        tflconv.convert([lambda x: x])
    with pytest.raises(tflconv.ConverterError, match="the list of functions to import is empty"):
        tflconv.convert([])
