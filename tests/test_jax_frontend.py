"""The JAX / StableHLO frontend: every source kind imports to the IR of docs/stablehlo.md
(names, types, attributes, locations), runs the JAX original, refuses bad inputs in one line,
and keeps `import tflconv` free of JAX and the JAX path free of TensorFlow."""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
from jax import export as jax_export  # noqa: E402

from tflconv import passes  # noqa: E402,F401  (registers the passes)
from tflconv.core.parser import parse_module  # noqa: E402
from tflconv.core.pass_manager import PassManager  # noqa: E402
from tflconv.core.passes import PassContext  # noqa: E402
from tflconv.core.printer import print_module  # noqa: E402
from tflconv.core.verifier import verify  # noqa: E402
from tflconv.frontends.base import FrontendError, frontend_for, load_source  # noqa: E402
from tflconv.frontends.jax.frontend import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)


def _line_of(fn, text: str) -> int:
    """The line number of the line of `fn`'s source containing `text`."""
    lines, start = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(f"{text!r} not in {fn.__name__}")


def mlp(x, w1, w2):
    h = jnp.tanh(x @ w1)
    return jax.nn.softmax(h @ w2, axis=-1), jnp.sum(h, axis=1)


def _mlp_args(batch: int = 2) -> tuple[np.ndarray, ...]:
    return (
        RNG.standard_normal((batch, 3)).astype(np.float32),
        RNG.standard_normal((3, 4)).astype(np.float32),
        RNG.standard_normal((4, 2)).astype(np.float32),
    )


def _histogram(imported) -> dict[str, int]:
    return {k: v for k, v in imported.module.op_histogram().items() if k.startswith("stablehlo.")}


@pytest.fixture(scope="module")
def exported():
    args = _mlp_args()
    return jax_export.export(jax.jit(mlp))(*args), args


@pytest.fixture(scope="module")
def files(tmp_path_factory, exported):
    exp, _ = exported
    d = tmp_path_factory.mktemp("jax")
    (d / "model.mlir").write_text(exp.mlir_module())
    (d / "model.mlirbc").write_bytes(exp.mlir_module_serialized)
    (d / "exported.bin").write_bytes(exp.serialize())
    return d


# --- source kinds ----------------------------------------------------------------------------


def test_callable_imports_and_runs_jax():
    args = _mlp_args()
    imported = load_model(mlp, example_args=args)
    verify(imported.module)
    fn = imported.function()
    assert fn.attributes["signature_key"] == "serving_default"
    assert fn.attributes["input_names"] == ["x", "w1", "w2"]
    assert fn.attributes["output_names"] == ["output_0", "output_1"]
    assert [a.type.shape for a in fn.args] == [(2, 3), (3, 4), (4, 2)]
    assert [t.shape for t in fn.output_types] == [(2, 2), (2,)]
    hist = _histogram(imported)
    assert hist["stablehlo.dot_general"] == 2
    assert hist["stablehlo.tanh"] == 1
    assert "stablehlo.constant" not in hist  # constants are arith.constant
    assert imported.has_reference
    got = imported.run_source(None, list(args))
    want = mlp(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-6)


@pytest.mark.parametrize("name", ["model.mlir", "model.mlirbc", "exported.bin"])
def test_files_import_like_the_function(files, exported, name):
    imported = load_model(str(files / name))
    direct = load_model(exported[0])
    verify(imported.module)
    assert print_module(imported.module) == print_module(direct.module)
    assert imported.function().attributes["input_names"] == ["x", "w1", "w2"]
    # The Exported runs with Exported.call; text and bytecode in StableHLO's interpreter.
    assert imported.has_reference
    args = exported[1]
    for got, want in zip(imported.run_source(None, list(args)), mlp(*args)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_interpreter_runs_dynamic_shapes_and_skips_custom_calls(tmp_path):
    def f(x, i):
        return x.reshape(x.shape[0], -1) * 2, i > 1

    (b,) = jax_export.symbolic_shape("b")
    exp = jax_export.export(jax.jit(f))(
        jax.ShapeDtypeStruct((b, 3, 2), jnp.float32), jax.ShapeDtypeStruct((b,), jnp.int32)
    )
    path = tmp_path / "dyn.mlirbc"
    path.write_bytes(exp.mlir_module_serialized)
    imported = load_model(str(path))
    x = RNG.standard_normal((4, 3, 2)).astype(np.float32)
    i = np.array([1, 2, 3, 0], np.int32)
    for got, want in zip(imported.run_source(None, [x, i]), f(x, i)):
        np.testing.assert_array_equal(got, np.asarray(want))
    # A custom call the interpreter cannot run (it would abort the process): no runner.
    text = tmp_path / "custom.mlir"
    text.write_text(
        "func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %0 = stablehlo.custom_call @my_kernel(%a) : (tensor<2xf32>) -> tensor<2xf32>\n"
        "  return %0 : tensor<2xf32>\n}\n"
    )
    custom = load_model(str(text))
    assert not custom.has_reference
    op = next(op for op in custom.module.walk() if op.name == "stablehlo.custom_call")
    assert op.attributes["call_target_name"] == "my_kernel"
    assert op.attributes["backend_config"] == "" and op.attributes["has_side_effect"] is False


def test_multi_platform_export_selects_cpu():
    exp = jax_export.export(jax.jit(lambda x: jnp.sin(x) * 2), platforms=("cuda", "cpu"))(
        np.ones((2,), np.float32)
    )
    imported = load_model(exp)
    fn = imported.function()
    assert [a.type.shape for a in fn.args] == [(2,)]  # _platform_index is not an input
    x = np.array([0.5, -1.0], np.float32)
    np.testing.assert_allclose(imported.run_source(None, [x])[0], np.sin(x) * 2, rtol=1e-6)


def test_registry_picks_the_jax_frontend(files, exported):
    for name in ("model.mlir", "model.mlirbc", "exported.bin"):
        assert frontend_for(str(files / name)).name == "jax"
    assert frontend_for(exported[0]).name == "jax"
    assert frontend_for(mlp, example_args=()).name == "jax"
    assert load_source(str(files / "model.mlir")).frontend == "jax"
    # Other .bin files (no embedded MLIR bytecode) still reach the TensorFlow fallback.
    other = files / "weights.bin"
    other.write_bytes(b"\x00" * 64)
    assert frontend_for(str(other)).name == "tensorflow"


def test_ir_text_round_trip(exported):
    text = print_module(load_model(exported[0]).module, elide_large=False)
    assert print_module(parse_module(text), elide_large=False) == text


def test_lowered_text_with_chlo_and_private_calls(tmp_path):
    def f(x):
        return jax.nn.relu(x) + jax.lax.erf(x)  # relu: a private func.call; erf: CHLO

    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "lowered.mlir"
    path.write_text(jax.jit(f).lower(x).as_text())
    assert "chlo." in path.read_text() and "call @relu" in path.read_text()
    imported = load_model(str(path))
    verify(imported.module)
    names = {op.name for op in imported.module.walk()}
    assert not any(n.startswith(("chlo.", "func.call")) for n in names), names
    assert len(imported.module.functions) == 1  # @relu inlined


# --- Flax --------------------------------------------------------------------------------------


def test_flax_linen_mlp_params_become_constants():
    nn = pytest.importorskip("flax.linen")

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(8)(x))
            return nn.Dense(3)(x)

    model = MLP()
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    params = model.init(jax.random.PRNGKey(0), x)
    imported = load_model(functools.partial(model.apply, params), example_args=(x,))
    fn = imported.function()
    assert len(fn.args) == 1 and fn.args[0].type.shape == (2, 5)
    shapes = {op.result.type.shape for op in imported.module.walk() if op.name == "arith.constant"}
    assert {(5, 8), (8,), (8, 3), (3,)} <= shapes
    np.testing.assert_allclose(
        imported.run_source(None, [x])[0], np.asarray(model.apply(params, x)), rtol=1e-6
    )
    dots = [op for op in imported.module.walk() if op.name == "stablehlo.dot_general"]
    assert [op.location.names[0] for op in dots] == [
        "jit(apply)/MLP/Dense_0/dot_general",
        "jit(apply)/MLP/Dense_1/dot_general",
    ]


def test_flax_nnx_module():
    nnx = pytest.importorskip("flax.nnx")

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(4, 2, rngs=rngs)

        def __call__(self, x):
            return jax.nn.sigmoid(self.linear(x))

    net = Net(nnx.Rngs(0))
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    for source in (net, lambda x: net(x)):
        imported = load_model(source, example_args=(x,))
        assert len(imported.function().args) == 1
        assert any(
            op.name == "arith.constant" and op.result.type.shape == (4, 2)
            for op in imported.module.walk()
        )
        np.testing.assert_allclose(imported.run_source(None, [x])[0], np.asarray(net(x)), rtol=1e-6)


# --- attributes, locations, dynamic dims -----------------------------------------------------


def conv_model(x, k):
    y = jax.lax.conv_general_dilated(
        x, k, (2, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    z = jnp.where(y > 0, y, -y)
    return jnp.take(z, jnp.array([1, 0]), axis=3)


def test_attributes_follow_the_contract():
    x = RNG.standard_normal((1, 6, 6, 2)).astype(np.float32)
    k = RNG.standard_normal((3, 3, 2, 4)).astype(np.float32)
    imported = load_model(conv_model, example_args=(x, k))
    ops = {op.name: op for op in imported.module.walk()}
    conv = ops["stablehlo.convolution"].attributes
    assert conv["window_strides"] == [2, 1]
    assert conv["padding"] == [[0, 1], [1, 1]]
    assert conv["lhs_dilation"] == [1, 1] and conv["rhs_dilation"] == [1, 1]
    assert conv["window_reversal"] == [False, False]  # spec default filled in
    assert (conv["input_batch_dimension"], conv["input_feature_dimension"]) == (0, 3)
    assert conv["input_spatial_dimensions"] == [1, 2]
    assert conv["kernel_spatial_dimensions"] == [0, 1]
    assert (conv["kernel_input_feature_dimension"], conv["kernel_output_feature_dimension"]) == (
        2,
        3,
    )
    assert conv["output_spatial_dimensions"] == [1, 2]
    assert (conv["feature_group_count"], conv["batch_group_count"]) == (1, 1)
    compare = ops["stablehlo.compare"].attributes
    assert compare["comparison_direction"] in ("GT", "LT", "GE", "LE")
    assert compare["compare_type"] in ("FLOAT", "SIGNED")
    gather = ops["stablehlo.gather"].attributes
    for key in (
        "offset_dims",
        "collapsed_slice_dims",
        "operand_batching_dims",
        "start_indices_batching_dims",
        "start_index_map",
        "index_vector_dim",
        "slice_sizes",
        "indices_are_sorted",
    ):
        assert key in gather, key
    verify(imported.module)


def test_locations_name_the_jax_op_and_python_line():
    imported = load_model(mlp, example_args=_mlp_args())
    dots = [op for op in imported.module.walk() if op.name == "stablehlo.dot_general"]
    tanh = next(op for op in imported.module.walk() if op.name == "stablehlo.tanh")
    assert dots[0].location.names == ("jit(mlp)/dot_general",)
    src = tanh.location.sources[0]
    assert Path(src.file).name == "test_jax_frontend.py"
    assert src.line == _line_of(mlp, "jnp.tanh")
    assert dots[1].location.sources[0].line == _line_of(mlp, "softmax")


@pytest.mark.parametrize("batch", [1, 5])
def test_dynamic_batch(batch):
    def f(x, y):
        return jnp.maximum(x * 2.0, y).reshape(x.shape[0], -1)

    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    imported = load_model(f, example_args=(x, x), dynamic_batch=True)
    verify(imported.module)
    fn = imported.function()
    assert [a.type.shape for a in fn.args] == [(None, 3, 4), (None, 3, 4)]
    assert fn.output_types[0].shape == (None, 12)
    names = [op.name for op in imported.module.walk()]
    assert "stablehlo.custom_call" not in names  # shape_assertion dropped
    assert "stablehlo.compare" not in names  # ... and what computed its operands
    a = RNG.standard_normal((batch, 3, 4)).astype(np.float32)
    b = RNG.standard_normal((batch, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(imported.run_source(None, [a, b])[0], np.asarray(f(a, b)))


SHAPE_ARITHMETIC = """
module {
  func.func @main(%x: tensor<?x3x4xf32>) -> (tensor<3xi32>) attributes {entry = true, input_names = ["x"], output_names = ["y"], signature_key = "serving_default"} {
    %d = "stablehlo.get_dimension_size"(%x) {dimension = 1} : (tensor<?x3x4xf32>) -> tensor<i32>
    %b = "stablehlo.get_dimension_size"(%x) {dimension = 0} : (tensor<?x3x4xf32>) -> tensor<i32>
    %c = "arith.constant"() {value = dense<-7> : tensor<i32>} : () -> tensor<i32>
    %m = "stablehlo.multiply"(%d, %c) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %q = "stablehlo.divide"(%m, %d) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %r = "stablehlo.divide"(%c, %d) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %v = "stablehlo.broadcast_in_dim"(%q) {broadcast_dimensions = []} : (tensor<i32>) -> tensor<1xi32>
    %w = "stablehlo.reshape"(%r) : (tensor<i32>) -> tensor<1xi32>
    %u = "stablehlo.reshape"(%b) : (tensor<i32>) -> tensor<1xi32>
    %y = "stablehlo.concatenate"(%v, %w, %u) {dimension = 0} : (tensor<1xi32>, tensor<1xi32>, tensor<1xi32>) -> tensor<3xi32>
    "func.return"(%y) : (tensor<3xi32>) -> ()
  }
}
"""


def test_canonicalize_folds_static_shape_arithmetic():
    from tflconv.dialects import stablehlo  # noqa: F401  (declares the folders)

    module = parse_module(SHAPE_ARITHMETIC)
    PassManager.from_pipeline("canonicalize,dce").run(module, PassContext())
    verify(module)
    hist = module.op_histogram()
    # Static dims fold (-7 * 3 / 3 = -7; -7 / 3 truncates to -2, not -3); the dynamic one stays.
    assert hist.get("stablehlo.multiply", 0) == 0 and hist.get("stablehlo.divide", 0) == 0
    assert hist["stablehlo.get_dimension_size"] == 1
    concat = next(op for op in module.walk() if op.name == "stablehlo.concatenate")
    folded = [op.defining_op.attributes.get("value") for op in concat.operands[:2]]
    assert [int(np.asarray(v).reshape(())) for v in folded] == [-7, -2]


# --- errors ----------------------------------------------------------------------------------


def test_corrupt_bytecode(tmp_path, files):
    data = (files / "model.mlirbc").read_bytes()
    path = tmp_path / "bad.mlirbc"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrontendError, match="not a StableHLO portable artifact or MLIR bytecode"):
        load_model(str(path))


def test_non_stablehlo_mlir(tmp_path):
    path = tmp_path / "arith.mlir"
    path.write_text(
        "func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n"
        "  %0 = arith.addf %a, %a : tensor<2xf32>\n  return %0 : tensor<2xf32>\n}\n"
    )
    with pytest.raises(FrontendError, match="not StableHLO: it holds ops of the arith dialect"):
        load_model(str(path))
    tf_text = tmp_path / "tf.mlir"
    tf_text.write_text('"tf.Relu"() : () -> ()\n')
    with pytest.raises(FrontendError, match="not StableHLO MLIR"):
        load_model(str(tf_text))


def test_unknown_stablehlo_op(tmp_path):
    path = tmp_path / "unknown.mlir"
    path.write_text(
        "func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n"
        '  %0 = "stablehlo.frobnicate"(%a) : (tensor<2xf32>) -> tensor<2xf32>\n'
        "  return %0 : tensor<2xf32>\n}\n"
    )
    with pytest.raises(FrontendError, match="stablehlo.frobnicate"):
        load_model(str(path))


def test_garbage_exported_file(tmp_path):
    path = tmp_path / "exported.bin"
    path.write_bytes(b"\x00not a flatbuffer at all")
    with pytest.raises(FrontendError, match="not a serialized jax.export.Exported"):
        load_model(str(path))


def test_function_without_example_args_and_bad_options(files):
    with pytest.raises(FrontendError, match="needs example inputs"):
        load_model(mlp)
    with pytest.raises(FrontendError, match="apply to a JAX function, not to a file"):
        load_model(str(files / "model.mlir"), dynamic_batch=True)
    with pytest.raises(FrontendError, match="takes no option tags"):
        load_source(str(files / "model.mlir"), frontend="jax", tags=["serve"])


# --- the converter API -----------------------------------------------------------------------


def test_unsupported_report_names_jax_lines_and_no_select_tf_ops(tmp_path):
    from tflconv import TFLiteConverter
    from tflconv.api.converter import ConverterError

    def f(key, x):
        # rng_bit_generator has no TFLite builtin: it stays stablehlo.* and is reported.
        _, bits = jax.lax.rng_bit_generator(key, (2, 3), dtype=jnp.uint32)
        return x + bits.astype(jnp.float32)

    key = np.array([1, 2, 3, 4], np.uint32)
    x = np.ones((2, 3), np.float32)
    conv = TFLiteConverter.experimental_from_jax([f], [[("key", key), ("x", x)]])
    conv.target_spec.supported_ops = {"TFLITE_BUILTINS", "SELECT_TF_OPS"}
    with pytest.raises(ConverterError) as info:
        conv.convert()
    ops = {u.op: u for u in info.value.report.ops}
    rng = ops["stablehlo.rng_bit_generator"]
    assert rng.locations[0].node == "jit(f)/rng_bit_generator"
    assert Path(rng.locations[0].file).name == "test_jax_frontend.py"
    assert rng.locations[0].line == _line_of(f, "rng_bit_generator(")
    assert not rng.flex_allowlisted
    assert not any("SELECT_TF_OPS" in fix for fix in rng.fixes)
    assert "SELECT_TF_OPS (" not in info.value.details


def test_converter_input_names_and_signatures():
    from tflconv import TFLiteConverter
    from tflconv.api.stages import import_source

    x, w1, w2 = _mlp_args()

    def first(x):
        return mlp(x, w1, w2)[0]

    def second(x, y):
        return x * y

    conv = TFLiteConverter.experimental_from_jax(
        [first, second], [[("input1", x)], [("a", x), ("b", x)]]
    )
    imported = import_source(conv._source, {}, "jax")
    assert imported.signature_keys == ["first", "second"]
    assert imported.function("first").attributes["input_names"] == ["input1"]
    assert imported.function("second").attributes["input_names"] == ["a", "b"]
    np.testing.assert_allclose(imported.run_source("second", {"a": x, "b": x})[0], x * x)

    conv = TFLiteConverter.from_jax(first, x, dynamic_batch=True, input_names=["image"])
    imported = import_source(conv._source, {}, "jax")
    fn = imported.function()
    assert fn.attributes["input_names"] == ["image"]
    assert fn.args[0].type.shape == (None, 3)
    assert conv._model_type == "JAX"


def test_experimental_from_jax_validates_like_tf_lite():
    from tflconv import TFLiteConverter
    from tflconv.api.converter import ConverterError

    with pytest.raises(ConverterError, match="No serving func"):
        TFLiteConverter.experimental_from_jax([], [])
    with pytest.raises(ConverterError, match="does not match serving func len"):
        TFLiteConverter.experimental_from_jax([mlp, mlp], [[("x", np.ones(1))]])
    with pytest.raises(ConverterError, match="tuple list"):
        TFLiteConverter.experimental_from_jax([mlp], [[np.ones(1)]])


def test_select_tf_ops_leaves_stablehlo_alone(exported):
    imported = load_model(exported[0])
    before = imported.module.op_histogram()
    PassManager.from_pipeline("select-tf-ops{allow-all=true}").run(imported.module, PassContext())
    assert imported.module.op_histogram() == before


# --- no JAX on import, no TensorFlow on the JAX path -----------------------------------------


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_import_tflconv_imports_no_jax():
    out = _python(
        """
        import sys, tflconv
        from tflconv.api import converter
        from tflconv.frontends import base
        base.load_frontends()
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'flax')))
        """
    )
    assert out.strip() == "[]"


def test_jax_conversion_imports_no_tensorflow():
    out = _python(
        """
        import sys
        import numpy as np
        import jax.numpy as jnp
        import tflconv
        conv = tflconv.TFLiteConverter.from_jax(lambda x: jnp.tanh(x) * 2.0, np.ones((2, 3), np.float32))
        try:
            conv.convert()
        except tflconv.api.converter.ConverterError as e:
            pass
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras')))
        """
    )
    assert out.strip().splitlines()[-1] == "[]"


def test_bf16_and_bool_constants():
    def f(x, ids):
        scale = jnp.array([1.5, 2.25, -0.375], jnp.bfloat16)
        return (x.astype(jnp.bfloat16) * scale).astype(jnp.float32), ids > jnp.array([0, 2, 4])

    x = RNG.standard_normal((2, 3)).astype(np.float32)
    ids = np.array([[1, 2, 3], [0, 5, 4]], np.int32)
    imported = load_model(f, example_args=(x, ids))
    verify(imported.module)
    text = print_module(imported.module, elide_large=False)
    assert print_module(parse_module(text), elide_large=False) == text
    # bf16 constants: an f32 constant of the same values, converted to bf16.
    consts = [op for op in imported.module.walk() if op.name == "arith.constant"]
    f32 = next(
        op for op in consts if op.result.type.shape == (3,) and op.result.type.dtype == "f32"
    )
    np.testing.assert_array_equal(f32.attributes["value"], [1.5, 2.25, -0.375])
    (user,) = f32.result.users
    assert user.name == "stablehlo.convert" and user.result.type.dtype == "bf16"
    got, mask = imported.run_source(None, [x, ids])
    np.testing.assert_array_equal(mask, ids > np.array([0, 2, 4]))


CUSTOM_CALL_MODEL = """\
func.func public @main(%x: tensor<2x3xf32> loc("x")) -> tensor<2x3xf32> {
  %0 = stablehlo.custom_call @my_kernel(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32> loc(#k)
  return %0 : tensor<2x3xf32>
}
#f = loc("model.py":12:4)
#k = loc("jit(f)/my_kernel"(#f))
"""


def test_cli_convert_reports_stablehlo_ops_with_jax_lines(tmp_path, capsys):
    from tflconv.cli.convert import main

    path = tmp_path / "custom.mlir"
    path.write_text(CUSTOM_CALL_MODEL)
    code = main(["convert", str(path), "-o", str(tmp_path / "out.tflite")])
    err = capsys.readouterr().err
    assert code != 0
    assert "stablehlo.custom_call x1" in err
    assert "at jit(f)/my_kernel (model.py:12)" in err
    assert "SELECT_TF_OPS" not in err
    assert not (tmp_path / "out.tflite").exists()


# --- end to end: JAX -> tflconv -> LiteRT, compared with JAX (ops legalize-stablehlo covers) --


def _litert(tflite: bytes, inputs, signature_key=None):
    from e2e_util import run_litert

    return run_litert(tflite, inputs, signature_key)


def _dense_model():
    nn = pytest.importorskip("flax.linen")

    class Dense2(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(nn.relu(nn.Dense(8)(x)))

    model = Dense2()
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    return model, model.init(jax.random.PRNGKey(1), x), x


def test_e2e_experimental_from_jax_signature_names():
    pytest.importorskip("ai_edge_litert")
    from ai_edge_litert.interpreter import Interpreter

    from tflconv import TFLiteConverter

    model, params, x = _dense_model()
    serving = functools.partial(model.apply, params)
    tflite = TFLiteConverter.experimental_from_jax([serving], [[("features", x)]]).convert()
    signature = Interpreter(model_content=tflite).get_signature_list()["serving_default"]
    assert signature["inputs"] == ["features"]
    assert signature["outputs"] == ["output_0"]
    (got,) = _litert(tflite, [x], "serving_default")
    np.testing.assert_allclose(got, np.asarray(serving(x)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("batch", [1, 7])
def test_e2e_from_jax_dynamic_batch(batch):
    pytest.importorskip("ai_edge_litert")
    from tflconv import TFLiteConverter
    from tflconv.tflite.reader import read_flatbuffer

    model, params, x = _dense_model()
    serving = functools.partial(model.apply, params)
    tflite = TFLiteConverter.from_jax(serving, x, dynamic_batch=True).convert()
    fn = read_flatbuffer(tflite).functions[0]
    assert fn.args[0].type.shape == (None, 5)  # shape_signature [-1, 5]
    xs = RNG.standard_normal((batch, 5)).astype(np.float32)
    (got,) = _litert(tflite, [xs])
    np.testing.assert_allclose(got, np.asarray(serving(xs)), atol=1e-5, rtol=1e-4)


def test_e2e_nnx_module_two_signatures():
    pytest.importorskip("ai_edge_litert")
    nnx = pytest.importorskip("flax.nnx")
    from tflconv import TFLiteConverter

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(4, 2, rngs=rngs)

        def __call__(self, x):
            return jax.nn.relu(self.linear(x))

    net = Net(nnx.Rngs(0))
    x = RNG.standard_normal((3, 4)).astype(np.float32)

    def predict(x):
        return net(x)

    def scaled(x):
        return net(x) * 2.0

    tflite = TFLiteConverter.experimental_from_jax(
        [predict, scaled], [[("x", x)], [("x", x)]]
    ).convert()
    for key, fn in (("predict", predict), ("scaled", scaled)):
        (got,) = _litert(tflite, [x], key)
        np.testing.assert_allclose(got, np.asarray(fn(x)), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", ["exported.bin", "model.mlirbc"])
def test_e2e_cli_convert_and_verify(tmp_path, capsys, kind):
    pytest.importorskip("ai_edge_litert")
    from tflconv.cli.convert import main

    model, params, x = _dense_model()
    exp = jax_export.export(jax.jit(functools.partial(model.apply, params)))(x)
    path = tmp_path / kind
    path.write_bytes(exp.serialize() if kind == "exported.bin" else exp.mlir_module_serialized)
    out = tmp_path / "model.tflite"
    code = main(["convert", str(path), "-o", str(out), "--verify"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.exists()
    (got,) = _litert(out.read_bytes(), [x])
    np.testing.assert_allclose(got, np.asarray(model.apply(params, x)), atol=1e-5, rtol=1e-4)


def test_e2e_int8_ptq_flax_cnn():
    pytest.importorskip("ai_edge_litert")
    nn = pytest.importorskip("flax.linen")
    from e2e_util import op_histogram

    import tflconv

    class SmallCNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.max_pool(nn.relu(nn.Conv(8, (3, 3))(x)), (2, 2), (2, 2))
            return nn.Dense(4)(x.reshape(x.shape[0], -1))

    model = SmallCNN()
    x = RNG.random((1, 8, 8, 3), dtype=np.float32)
    params = model.init(jax.random.PRNGKey(0), x)
    conv = tflconv.TFLiteConverter.from_jax(functools.partial(model.apply, params), x)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    samples = [RNG.random((1, 8, 8, 3), dtype=np.float32) for _ in range(16)]
    conv.representative_dataset = lambda: ([s] for s in samples)
    tflite = conv.convert()
    assert op_histogram(tflite).keys() >= {"tfl.conv_2d", "tfl.fully_connected"}
    from tflconv.tflite.reader import read_flatbuffer

    weights = [
        op.result.type
        for op in read_flatbuffer(tflite).walk()
        if op.name == "arith.constant" and op.result.type.rank == 4
    ]
    assert weights and all(t.dtype == "i8" for t in weights)  # the conv filter is int8
    want = np.asarray(model.apply(params, x))
    (got,) = _litert(tflite, [x])
    np.testing.assert_allclose(got, want, atol=0.05 * np.abs(want).max())


def test_pytree_arguments_are_named_by_their_keys():
    from tflconv import TFLiteConverter
    from tflconv.api.stages import import_source

    def f(params, x):
        return x @ params["w"] + params["b"]

    params = {"w": RNG.standard_normal((3, 2)).astype(np.float32), "b": np.ones(2, np.float32)}
    x = RNG.standard_normal((1, 3)).astype(np.float32)
    imported = load_model(f, example_args=(params, x))
    assert imported.function().attributes["input_names"] == ["params_b", "params_w", "x"]
    conv = TFLiteConverter.experimental_from_jax([f], [[("p", params), ("features", x)]])
    imported = import_source(conv._source, {}, "jax")
    assert imported.function().attributes["input_names"] == ["p_b", "p_w", "features"]
    (got,) = imported.run_source(None, {"p_b": params["b"], "p_w": params["w"], "features": x})
    np.testing.assert_allclose(got, x @ params["w"] + params["b"], rtol=1e-6)


def test_purity_of_generic_ops():
    from tflconv.core.opdef import is_pure

    def f(xs, h0):
        def step(h, x):
            return jnp.tanh(h + x), h

        return jax.lax.scan(step, h0, xs)[0]

    xs = RNG.standard_normal((4, 2)).astype(np.float32)
    imported = load_model(f, example_args=(xs, np.zeros(2, np.float32)))
    loop = next(op for op in imported.module.walk() if op.name == "stablehlo.while")
    assert is_pure(loop)  # its body only computes
    imported = load_model(
        lambda key: jax.lax.rng_bit_generator(key, (2,), dtype=jnp.uint32)[1],
        example_args=(np.array([1, 2, 3, 4], np.uint32),),
    )
    rng = next(op for op in imported.module.walk() if op.name == "stablehlo.rng_bit_generator")
    assert not is_pure(rng)
