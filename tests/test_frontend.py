"""The TensorFlow frontend: every input kind imported into tf-dialect IR, checked on the IR
(signatures, types, constants from variables, control-flow bodies, locations) and on the TF
runner; error cases give one clear FrontendError line."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from tensorflow.core.framework import node_def_pb2  # noqa: E402

from tflconv.core.ir import Module, constant_value  # noqa: E402
from tflconv.core.opdef import is_pure  # noqa: E402
from tflconv.core.types import SymbolRef, TensorType  # noqa: E402
from tflconv.dialects import tf as tf_dialect  # noqa: E402, F401  (declares the dialect)
from tflconv.frontends.tensorflow.frontend import (  # noqa: E402
    FrontendError,
    ImportedModel,
    import_concrete_functions,
    load_model,
)

try:
    from tests import models
except ImportError:  # pytest without the repository root on sys.path
    import models  # type: ignore[no-redef]

THIS_FILE = os.path.abspath(__file__)
MODELS_FILE = os.path.abspath(models.__file__)
FORWARDING = {"tf.Identity", "tf.IdentityN", "tf.NoOp", "tf.StopGradient", "tf.Snapshot"}
CALLS = {"tf.PartitionedCall", "tf.StatefulPartitionedCall"}


# --- helpers -----------------------------------------------------------------------------------


def op_names(module: Module) -> set[str]:
    return {op.name for op in module.walk()}


def check_common(imported: ImportedModel) -> None:
    """Invariants of every import: no forwarding/call/placeholder/variable ops, every tf op
    carries its NodeDef and a location naming its TF node; the module prints and verifies."""
    module = imported.module
    names = op_names(module)
    assert not names & FORWARDING, names & FORWARDING
    assert not names & CALLS
    assert "tf.Placeholder" not in names and "tf.ReadVariableOp" not in names
    for op in module.walk():
        if op.name == "func.return":
            continue
        assert op.location.names, op
        if op.name.startswith("tf."):
            node_def = node_def_pb2.NodeDef.FromString(op.attributes["_node_def"])
            assert node_def.name == "" and node_def.op == op.name[3:]
            assert list(node_def.input) == [""] * op.num_operands
            assert list(node_def.experimental_debug_info.original_node_names) == [
                op.location.names[0]
            ]
        for value in op.results:
            assert value.type.dtype not in ("resource",), op
    for fn in module.functions:
        for arg in fn.args:
            assert arg.type.dtype != "resource", fn.name
    check_prints_and_verifies(module)


def check_prints_and_verifies(module: Module) -> None:
    if importlib.util.find_spec("tflconv.core.printer") is not None:
        from tflconv.core.printer import print_module

        text = print_module(module, elide_large=False)
        assert "func.func @" + module.functions[0].name in text
        if importlib.util.find_spec("tflconv.core.parser") is not None:
            from tflconv.core.parser import parse_module

            assert print_module(parse_module(text), elide_large=False) == text
    if importlib.util.find_spec("tflconv.core.verifier") is not None:
        from tflconv.core.verifier import verify

        verify(module)


def tf_ops(fn, name: str) -> list:
    return [op for op in fn.walk() if op.name == name]


def entry(imported: ImportedModel, key: str = "serving_default"):
    return imported.module.function(key)


# --- Keras ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn():
    return models.small_cnn(seed=0)


@pytest.fixture(scope="module")
def cnn_imported(cnn):
    return load_model(cnn)


def test_keras_cnn_signature_and_types(cnn_imported):
    assert cnn_imported.model_type == "keras"
    module = cnn_imported.module
    fn = module.functions[0]
    assert fn.name == "serving_default"
    assert fn.attributes == {
        "entry": True,
        "signature_key": "serving_default",
        "input_names": ["image"],
        "output_names": ["output_0"],
    }
    assert fn.input_types == [TensorType((None, 16, 16, 3), "f32")]
    assert fn.output_types == [TensorType((None, 4), "f32")]
    assert [f.name for f in module.functions] == ["serving_default"]
    check_common(cnn_imported)


def test_keras_cnn_ops(cnn_imported):
    names = op_names(cnn_imported.module)
    for expected in (
        "tf.Conv2D",
        "tf.DepthwiseConv2dNative",
        "tf.Relu6",
        "tf.MaxPool",
        "tf.AvgPool",
        "tf.Mean",
        "tf.MatMul",
        "tf.BiasAdd",
        "tf.Softmax",
        "arith.constant",
    ):
        assert expected in names, expected


def test_keras_variables_become_constants(cnn, cnn_imported):
    fn = entry(cnn_imported)
    (conv,) = [op for op in tf_ops(fn, "tf.Conv2D") if "conv1" in op.location.names[0]]
    kernel = constant_value(conv.operands[1])
    assert kernel is not None
    np.testing.assert_array_equal(kernel, cnn.get_layer("conv1").kernel.numpy())
    (depthwise,) = tf_ops(fn, "tf.DepthwiseConv2dNative")
    np.testing.assert_array_equal(
        constant_value(depthwise.operands[1]), cnn.get_layer("dw").kernel.numpy()
    )
    # named access through the tf dialect declarations
    assert conv.filter is conv.operands[1]
    assert conv.strides == [1, 2, 2, 1] and conv.padding == "SAME"
    assert conv.data_format == "NHWC"


def test_keras_locations_name_node_and_this_file(cnn_imported):
    fn = entry(cnn_imported)
    (conv,) = [op for op in tf_ops(fn, "tf.Conv2D") if "conv1" in op.location.names[0]]
    node = conv.location.names[0]
    assert node.endswith("convolution") and "conv1" in node
    (source,) = conv.location.sources
    assert source.file == THIS_FILE and source.line > 0
    assert conv.result.name_hint == node


def test_keras_run_tf_matches_model(cnn, cnn_imported):
    (x,) = models.random_inputs([(None, 16, 16, 3)], seed=1)
    (out,) = cnn_imported.run_tf("serving_default", [x])
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out, cnn(x).numpy(), rtol=1e-5, atol=1e-6)
    (out_by_name,) = cnn_imported.run_tf(None, {"image": x})
    np.testing.assert_array_equal(out, out_by_name)


def test_mlp_dynamic_batch_and_input_shapes():
    model = models.mlp(seed=0)
    dynamic = load_model(model)
    fn = entry(dynamic)
    assert fn.input_types == [TensorType((None, 8), "f32")]
    assert fn.output_types == [TensorType((None, 3), "f32")]
    fixed = load_model(model, input_shapes={"features": [1, 8]})
    fn = entry(fixed)
    assert fn.input_types == [TensorType((1, 8), "f32")]
    assert fn.output_types == [TensorType((1, 3), "f32")]
    assert all(op.results[0].type.shape[0] == 1 for op in tf_ops(fn, "tf.MatMul"))
    check_common(fixed)
    (out,) = fixed.run_tf(None, models.random_inputs([(1, 8)]))
    assert out.shape == (1, 3)


def test_keras_multi_input_names_like_official_converter():
    keras.utils.set_random_seed(0)
    z = keras.Input((4,), name="zz")
    a = keras.Input((4,), name="aa")
    model = keras.Model([z, a], [keras.layers.Add()([z, a]), keras.layers.Subtract()([z, a])])
    imported = load_model(model)
    fn = entry(imported)
    # inputs in model.inputs order, as TF 2.21's converter orders the subgraph's inputs (and
    # as a representative dataset's lists give them); outputs by SignatureDef name
    assert fn.attributes["input_names"] == ["zz", "aa"]
    assert fn.attributes["output_names"] == ["output_0", "output_1"]
    assert [a.name_hint for a in fn.args] == ["zz", "aa"]
    za = np.ones((2, 4), np.float32)
    aa = np.full((2, 4), 3.0, np.float32)
    add, sub = imported.run_tf(None, {"zz": za, "aa": aa})
    np.testing.assert_array_equal(add, za + aa)
    np.testing.assert_array_equal(sub, za - aa)


def test_transformer_block():
    model = models.transformer_block(seed=0)
    imported = load_model(model)
    check_common(imported)
    names = op_names(imported.module)
    assert "tf.Softmax" in names and "tf.Rsqrt" in names
    assert {"tf.BatchMatMulV2", "tf.Einsum"} & names
    (x,) = models.random_inputs([(None, 6, 8)], seed=2)
    (out,) = imported.run_tf(None, [x])
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_lstm_gru_while_loops_with_tensor_lists():
    model = models.lstm_gru(seed=0)
    imported = load_model(model)
    check_common(imported)
    module = imported.module
    main = entry(imported)
    loops = tf_ops(main, "tf.While")
    assert len(loops) == 2
    for loop in loops:
        body = module.function(loop.attributes["body"].name)
        cond = module.function(loop.attributes["cond"].name)
        assert not body.attributes.get("entry") and not cond.attributes.get("entry")
        assert len(body.args) == len(cond.args) == loop.num_operands
        assert body.output_types == [v.type for v in loop.operands] or len(body.outputs) == len(
            loop.results
        )
        # the cell weights were read inside the body: constants there
        assert any(op.name == "arith.constant" and op.result.type.rank == 2 for op in body.ops)
    names = op_names(module)
    assert "tf.TensorListReserve" in names and "tf.TensorListSetItem" in names
    (x,) = models.random_inputs([(None, 5, 3)], seed=3)
    (out,) = imported.run_tf(None, [x])
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-5, atol=1e-6)


# --- tf.function / concrete functions ------------------------------------------------------------


def test_while_cond_bodies_are_functions():
    fn = models.while_cond_function(seed=0)
    imported = load_model([fn])
    assert imported.model_type == "concrete_functions"
    check_common(imported)
    module = imported.module
    main = module.functions[0]
    assert main.attributes["input_names"] == ["x", "n"]  # positional order
    assert main.attributes["output_names"] == ["out", "steps"]
    assert main.input_types == [TensorType((None, 4), "f32"), TensorType((), "i32")]
    (loop,) = tf_ops(main, "tf.While")
    (branch,) = tf_ops(main, "tf.If")
    for key in ("cond", "body"):
        assert isinstance(loop.attributes[key], SymbolRef)
    body = module.function(loop.attributes["body"].name)
    cond = module.function(loop.attributes["cond"].name)
    then_fn = module.function(branch.attributes["then_branch"].name)
    else_fn = module.function(branch.attributes["else_branch"].name)
    # the captured variable is not a loop variable any more: it is a constant in the body
    assert len(body.args) == len(cond.args) == loop.num_operands == len(loop.results)
    assert len(loop.attributes["T"]) == loop.num_operands
    weight = fn.weight.numpy()
    assert any(
        op.name == "arith.constant" and np.array_equal(op.attributes["value"], weight)
        for op in body.ops
    )
    assert any(
        op.name == "arith.constant" and np.array_equal(op.attributes["value"], weight)
        for op in else_fn.ops
    )
    assert "tf.Relu" in {op.name for op in then_fn.ops}
    assert branch.num_operands == 1 + len(then_fn.args) == 1 + len(else_fn.args)
    # stateful While, but its bodies are pure: no `_stateful` mark, so DCE may drop it
    assert "_stateful" not in loop.attributes and is_pure(loop)
    # locations point at the tf.function's lines in tests/models.py
    (mul,) = [op for op in body.ops if op.name == "tf.Mul"]
    (source,) = mul.location.sources
    assert source.file == MODELS_FILE
    out, steps = imported.run_tf(None, [np.ones((2, 4), np.float32), np.int32(3)])
    assert out.shape == (2, 4) and int(steps) == 3


def test_case_branches_are_functions():
    scale = tf.Variable(np.float32(3.0))

    @tf.function(
        input_signature=[
            tf.TensorSpec((2,), tf.float32, name="x"),
            tf.TensorSpec((), tf.int32, name="k"),
        ]
    )
    def switch(x, k):
        return tf.switch_case(k, [lambda: x + 1.0, lambda: x * scale, lambda: -x])

    imported = load_model([switch])
    check_common(imported)
    main = entry(imported)
    (case,) = [op for op in main.ops if op.name in ("tf.Case", "tf.StatelessCase")]
    branches = [imported.module.function(ref.name) for ref in case.attributes["branches"]]
    assert len(branches) == 3 and all(len(b.args) == case.num_operands - 1 for b in branches)
    assert any(
        op.name == "arith.constant" and op.attributes["value"] == 3.0 for op in branches[1].ops
    )
    (out,) = imported.run_tf(None, [np.array([1.0, 2.0], np.float32), np.int32(1)])
    np.testing.assert_array_equal(out, [3.0, 6.0])


@tf.function
def _scaled(x):
    return x * 2.0 + 1.0


_OUTER_LINE = None


@tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32, name="x")])
def _outer(x):
    return tf.nn.relu(_scaled(x))


def test_nested_tf_function_is_inlined_with_source_lines():
    imported = load_model([_outer])
    check_common(imported)
    module = imported.module
    assert [f.name for f in module.functions] == ["serving_default"]
    names = op_names(module)
    assert {"tf.Mul", "tf.AddV2", "tf.Relu"} <= names
    (mul,) = tf_ops(module.functions[0], "tf.Mul")
    (source,) = mul.location.sources
    assert source.file == THIS_FILE
    assert source.line == _scaled.python_function.__code__.co_firstlineno + 2
    module2 = import_concrete_functions([_outer.get_concrete_function()])
    assert op_names(module2) == names


def test_input_shapes_specialize_inlined_functions():
    variable = tf.Variable(np.arange(4, dtype=np.float32))

    @tf.function
    def inner(x):
        return tf.reshape(x * variable, [-1])

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="x")])
    def outer(x):
        return inner(x) + 1.0

    dynamic = entry(load_model([outer]))
    assert dynamic.output_types == [TensorType((None,), "f32")]
    fixed = load_model([outer], input_shapes=[[2, 4]])
    fn = entry(fixed)
    assert fn.input_types == [TensorType((2, 4), "f32")]
    assert fn.output_types == [TensorType((8,), "f32")]
    (mul,) = tf_ops(fn, "tf.Mul")
    assert mul.result.type == TensorType((2, 4), "f32")
    assert mul.location.sources[0].file == THIS_FILE  # lines survive re-tracing
    check_common(fixed)


def test_several_concrete_functions_and_dtypes():
    @tf.function(input_signature=[tf.TensorSpec((3,), tf.int8, name="q")])
    def ints(q):
        return {"wide": tf.cast(q, tf.int64) * 2, "flag": q > 0}

    @tf.function(input_signature=[tf.TensorSpec((2,), tf.float16, name="h")])
    def halves(h):
        return tf.strings.as_string(h), tf.constant([b"a", b"bc"]), tf.cast(h, tf.uint8)

    imported = load_model([ints, halves.get_concrete_function()])
    assert imported.signature_keys == ["ints", "halves"]
    first, second = imported.module.functions
    assert first.input_types == [TensorType((3,), "i8")]
    assert first.attributes["output_names"] == ["flag", "wide"]
    assert [t.dtype for t in first.output_types] == ["i1", "i64"]
    assert second.input_types == [TensorType((2,), "f16")]
    assert [t.dtype for t in second.output_types] == ["string", "string", "ui8"]
    strings = constant_value(second.outputs[1])
    assert strings.dtype == object and list(strings) == [b"a", b"bc"]
    check_common(imported)
    flag, wide = imported.run_tf("ints", [np.array([-1, 0, 5], np.int8)])
    assert flag.tolist() == [False, False, True] and wide.tolist() == [-2, 0, 10]


def test_stateful_ops_marked_and_resource_gather_decomposed():
    table = tf.Variable(np.arange(12, dtype=np.float32).reshape(6, 2))

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.int32, name="ids")])
    def lookup(ids):
        noise = tf.random.uniform([2])
        return tf.nn.embedding_lookup(table, ids) + noise * 0.0

    imported = load_model([lookup])
    fn = entry(imported)
    (random,) = tf_ops(fn, "tf.RandomUniform")
    assert random.attributes["_stateful"] is True and not is_pure(random)
    (gather,) = tf_ops(fn, "tf.GatherV2")
    np.testing.assert_array_equal(constant_value(gather.operands[0]), table.numpy())
    assert constant_value(gather.operands[2]).item() == 0
    assert is_pure(gather)
    assert "tf.ResourceGather" not in op_names(imported.module)
    check_common(imported)


def test_variable_writes_become_resource_variables():
    counter = tf.Variable(np.float32(1.0))

    @tf.function(input_signature=[tf.TensorSpec((2,), tf.float32, name="x")])
    def bump(x):
        counter.assign_add(1.0)
        return x * counter.read_value()

    imported = load_model([bump])
    names = [op.name for op in entry(imported).ops]
    assert names[0] == "tfl.call_once"
    assert names.index("tf.AssignVariableOp") < names.index("tf.Mul")
    (mul,) = tf_ops(entry(imported), "tf.Mul")
    assert mul.operands[1].defining_op.name == "tf.ReadVariableOp"


def test_tf_function_without_signature_is_rejected():
    @tf.function
    def free(x):
        return x

    with pytest.raises(FrontendError, match="no input_signature.*get_concrete_function"):
        load_model([free])


# --- SavedModel ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory):
    return models.write_multi_signature_saved_model(tmp_path_factory.mktemp("sm") / "model")


def test_saved_model_all_signatures(saved_model_dir):
    imported = load_model(saved_model_dir)
    assert imported.model_type == "saved_model"
    check_common(imported)
    module = imported.module
    assert [f.name for f in module.functions] == ["serving_default", "scale"]
    default, scale = module.functions
    assert default.attributes["input_names"] == ["x"]
    assert default.attributes["output_names"] == ["y"]
    assert scale.attributes["input_names"] == ["a", "b"]
    assert scale.attributes["output_names"] == ["diff", "sum"]
    assert scale.attributes["signature_key"] == "scale" and scale.attributes["entry"] is True
    assert default.input_types == [TensorType((None, 4), "f32")]
    assert scale.output_types == [TensorType((None, 3), "f32")] * 2
    # variables became constants with the saved values
    reference = tf.saved_model.load(saved_model_dir)
    (matmul,) = tf_ops(default, "tf.MatMul")
    np.testing.assert_array_equal(constant_value(matmul.operands[1]), reference.w.numpy())
    (mul,) = tf_ops(scale, "tf.Mul")
    assert constant_value(mul.operands[1]) == pytest.approx(reference.s.numpy())
    # debug info saved with the model gives the Python lines of tests/models.py
    assert matmul.location.names == ("MatMul",)
    (source,) = matmul.location.sources
    assert source.file == MODELS_FILE
    a = np.ones((2, 3), np.float32)
    b = np.full((2, 3), 2.0, np.float32)
    diff, total = imported.run_tf("scale", {"a": a, "b": b})
    np.testing.assert_allclose(diff, a - b)
    np.testing.assert_allclose(total, a + b * reference.s.numpy(), rtol=1e-6)


def test_saved_model_signature_keys_and_shapes(saved_model_dir):
    imported = load_model(saved_model_dir, signature_keys=["scale"], input_shapes={"a": [5, 3]})
    assert [f.name for f in imported.module.functions] == ["scale"]
    fn = entry(imported, "scale")
    assert fn.input_types == [TensorType((5, 3), "f32"), TensorType((None, 3), "f32")]
    (sub,) = tf_ops(fn, "tf.Sub")
    assert sub.result.type == TensorType((5, 3), "f32")


def test_saved_model_errors(saved_model_dir, tmp_path):
    with pytest.raises(FrontendError, match="no signature 'nope'.*serving_default, scale"):
        load_model(saved_model_dir, signature_keys=["nope"])
    with pytest.raises(FrontendError, match=r"no MetaGraph with tags \['train'\].*\['serve'\]"):
        load_model(saved_model_dir, tags=["train"])
    with pytest.raises(FrontendError, match="not a SavedModel"):
        load_model(tmp_path)
    with pytest.raises(FrontendError, match="input_shapes names unknown inputs"):
        load_model(saved_model_dir, input_shapes={"nope": [1]})
    with pytest.raises(FrontendError, match="does not fit"):
        load_model(saved_model_dir, input_shapes={"x": [2, 5]})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"\x00\xffnot a proto" * 4)
    with pytest.raises(FrontendError, match="cannot load SavedModel"):
        load_model(broken)


def test_keras_exported_saved_model(cnn, tmp_path):
    path = str(tmp_path / "exported")
    cnn.export(path, verbose=False)
    imported = load_model(path)
    check_common(imported)
    # `serve` and `serving_default` are the same endpoint: converted once, like the official.
    assert imported.signature_keys == ["serving_default"]
    fn = entry(imported)
    assert fn.attributes["input_names"] == ["image"]
    assert fn.attributes["output_names"] == ["output_0"]
    assert "tf.DepthwiseConv2dNative" in {op.name for op in fn.ops}
    (x,) = models.random_inputs([(None, 16, 16, 3)], seed=4)
    (out,) = imported.run_tf(None, [x])
    np.testing.assert_allclose(out, cnn(x).numpy(), rtol=1e-5, atol=1e-6)


# --- Keras files -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_files(cnn, tmp_path, suffix):
    path = tmp_path / ("cnn" + suffix)
    cnn.save(path)
    imported = load_model(str(path))
    assert imported.model_type == "keras"
    check_common(imported)
    fn = entry(imported)
    assert fn.attributes["input_names"] == ["image"]
    assert fn.input_types == [TensorType((None, 16, 16, 3), "f32")]
    (x,) = models.random_inputs([(None, 16, 16, 3)], seed=5)
    (out,) = imported.run_tf(None, [x])
    np.testing.assert_allclose(out, cnn(x).numpy(), rtol=1e-5, atol=1e-6)


def test_unsafe_keras_file_explains_how_to_proceed(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(FrontendError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    assert "Lambda" in message and "safe_mode=False" in message and str(path) in message


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(FrontendError, match="does not exist"):
        load_model(tmp_path / "missing.keras")
    for name, match in (
        ("bad.keras", "not a .keras zip archive"),
        ("bad.h5", "cannot read legacy HDF5 Keras model"),
        ("bad.pb", "cannot read .* as a frozen GraphDef"),
    ):
        path = tmp_path / name
        path.write_bytes(b"\xff\xfe garbage " * 8)
        with pytest.raises(FrontendError, match=match) as info:
            load_model(path, input_arrays=["x"], output_arrays=["y"])
        assert "\n" not in str(info.value)


# --- frozen GraphDef -----------------------------------------------------------------------------


def _freeze(tmp_path, lower_control_flow: bool) -> str:
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    fn = models.while_cond_function(seed=0)  # keep it (and its variable) alive while freezing
    cf = fn.get_concrete_function()
    frozen = convert_variables_to_constants_v2(cf, lower_control_flow=lower_control_flow)
    path = tmp_path / f"frozen_{lower_control_flow}.pb"
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return str(path)


def test_frozen_graph_def(tmp_path):
    path = _freeze(tmp_path, lower_control_flow=False)
    imported = load_model(
        path,
        input_arrays=["x", "n"],
        output_arrays=["Identity", "Identity_1"],
        input_shapes={"x": [3, 4]},
    )
    assert imported.model_type == "graph_def"
    check_common(imported)
    module = imported.module
    main = module.functions[0]
    assert main.attributes["input_names"] == ["x", "n"]
    assert main.attributes["output_names"] == ["Identity", "Identity_1"]
    assert main.input_types == [TensorType((3, 4), "f32"), TensorType((), "i32")]
    (loop,) = tf_ops(main, "tf.While")
    body = module.function(loop.attributes["body"].name)
    assert len(body.args) == loop.num_operands
    # only node names are known for a GraphDef: no Python lines
    assert all(not op.location.sources for op in module.walk())
    out, steps = imported.run_tf(None, [np.ones((3, 4), np.float32), np.int32(2)])
    assert out.shape == (3, 4) and int(steps) == 2


def test_frozen_graph_def_errors(tmp_path):
    path = _freeze(tmp_path, lower_control_flow=False)
    with pytest.raises(FrontendError, match=r"needs input_arrays.*placeholders: \['x', 'n'\]"):
        load_model(path)
    with pytest.raises(FrontendError, match="has no node 'nope'"):
        load_model(path, input_arrays=["nope"], output_arrays=["Identity"])
    path = _freeze(tmp_path, lower_control_flow=True)
    with pytest.raises(FrontendError, match="TF1 control flow .*(Switch|Merge|Enter|Exit)"):
        load_model(path, input_arrays=["x", "n"], output_arrays=["Identity"])


# --- odds and ends -------------------------------------------------------------------------------


def test_unsupported_source_type():
    with pytest.raises(FrontendError, match="cannot import a int"):
        load_model(3)


def test_tf_dialect_verifier_and_purity(cnn_imported):
    from tflconv.core.opdef import OPDEFS

    fn = entry(cnn_imported)
    (conv,) = [op for op in tf_ops(fn, "tf.Conv2D") if "conv1" in op.location.names[0]]
    assert OPDEFS["tf.Conv2D"].verify(conv) is None
    assert is_pure(conv)
    saved = conv.attributes["padding"]
    conv.attributes["padding"] = "FULL"
    try:
        assert "padding" in OPDEFS["tf.Conv2D"].verify(conv)
    finally:
        conv.attributes["padding"] = saved
    assert tf_dialect.is_stateful_tf_op("AssignVariableOp")
    assert tf_dialect.is_stateful_tf_op("RandomStandardNormal")
    assert not tf_dialect.is_stateful_tf_op("StatelessRandomUniformV2")
    assert not tf_dialect.is_stateful_tf_op("Conv2D")
