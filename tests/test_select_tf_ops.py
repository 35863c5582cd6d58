"""Select TF ops (Flex): the allowlist, the NodeDef codec, byte compatibility of the Flex
custom options with the official converter, the flags -> pipeline mapping, and Flex models
running in TF 2.18's Flex-capable interpreter against TensorFlow.

The Flex-runtime tests use `tests/flex_runtime.py`: the first run creates `~/.cache/tflconv/flex-venv/`
(pip install tensorflow-cpu==2.18.*, ~250 MB, 1-3 minutes); later runs reuse it, and all
models here run in one subprocess (a few seconds).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.api.compat import CompatFlags, apply_flags  # noqa: E402
from tflconv.api.converter import DEFAULT_PIPELINE, TFLiteConverter  # noqa: E402
from tflconv.passes.compat import flex_encoding as fe  # noqa: E402
from tflconv.passes.compat.select_tf_ops import flex_allowlist, is_flex_allowed  # noqa: E402

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from flatbuffers import flexbuffers  # noqa: E402
from flex_runtime import flex_python, run_flex_models  # noqa: E402, F401
from tensorflow.core.framework import node_def_pb2  # noqa: E402

from tflconv.frontends.tensorflow.frontend import load_model  # noqa: E402
from tflconv.tflite.generated import tflite_schema as fb  # noqa: E402

BUILTINS_AND_SELECT = {tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS}


# --- the allowlist ---------------------------------------------------------------------------


def test_allowlist_is_the_official_list():
    names = flex_allowlist()
    # GetFlexAllowlist() has 747 ops; tf.text and SentencePiece add 25.
    assert len(names) == 747 + 19 + 6
    assert {"Cumprod", "MatrixDeterminant", "Erf", "RFFT", "_FusedConv2D"} <= names
    assert "Digamma" not in names and "PartitionedCall" not in names
    assert not is_flex_allowed("StatefulPartitionedCall", ("StatefulPartitionedCall",), True)
    assert is_flex_allowed("Digamma", ("Digam*",)) and is_flex_allowed("Anything", allow_all=True)


# --- the NodeDef codec and the importer's `_node_def` ----------------------------------------------


@tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32, name="x")], autograph=False)
def _many_attrs(x):
    patches = tf.image.extract_patches(
        tf.reshape(x, [1, 3, 3, 1]), [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"
    )
    return (
        tf.math.cumprod(x, axis=1, exclusive=True),
        tf.linalg.det(x),
        tf.strings.as_string(x, precision=3),
        patches,
        tf.cast(x, tf.int64),
        x[::2, tf.newaxis, 1:],
    )


@pytest.fixture(scope="module")
def imported_ops():
    module = load_model([_many_attrs.get_concrete_function()]).module
    return [op for op in module.walk() if op.name.startswith("tf.")]


def test_node_def_codec_reads_what_tensorflow_reads(imported_ops):
    assert len(imported_ops) >= 6
    for op in imported_ops:
        data = op.attributes["_node_def"]
        ours = fe.parse_node_def(data)
        theirs = node_def_pb2.NodeDef.FromString(data)
        assert ours.op == theirs.op and ours.num_inputs == len(theirs.input) == op.num_operands
        # Attributes in name order: the official converter's (MLIR) attribute order.
        assert list(ours.attrs) == sorted(theirs.attr, key=str.encode)
        for key, attr in ours.attrs.items():
            kind = theirs.attr[key].WhichOneof("value")
            assert attr.kind == kind, (op.name, key)
            if kind in ("i", "b", "type", "s"):
                assert attr.value == getattr(theirs.attr[key], kind)
            elif kind == "f":
                assert attr.value == pytest.approx(theirs.attr[key].f)
            elif kind == "list" and attr.list_kind in ("i", "s"):
                assert attr.value == list(getattr(theirs.attr[key].list, attr.list_kind))
        # Re-serializing with the same inputs gives the same bytes; more inputs are added.
        assert ours.with_inputs(op.num_operands) == data
        grown = node_def_pb2.NodeDef.FromString(ours.with_inputs(op.num_operands + 2))
        assert list(grown.input) == [""] * (op.num_operands + 2)
        assert grown.attr == theirs.attr


def test_node_def_from_ir_attributes_matches_the_import(imported_ops):
    """Ops a pass creates (no `_node_def`) get the NodeDef the importer would have made."""
    for op in imported_ops:
        if op.name in ("tf.Cumprod", "tf.MatrixDeterminant", "tf.AsString", "tf.Cast"):
            assert fe.synthesize_node_def(op) == op.attributes["_node_def"], op.name


# --- byte compatibility with the official converter -------------------------------------------------


def _official(fn, **attrs) -> fb.ModelT:
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    for key, value in attrs.items():
        if key == "supported_ops":
            conv.target_spec.supported_ops = value
        else:
            setattr(conv, key, value)
    return fb.ModelT.InitFromPackedBuf(conv.convert(), 0)


def _ours(fn, **attrs) -> fb.ModelT:
    conv = TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    for key, value in attrs.items():
        if key == "supported_ops":
            conv.target_spec.supported_ops = value
        else:
            setattr(conv, key, value)
    return fb.ModelT.InitFromPackedBuf(conv.convert(), 0)


def _custom_ops(model: fb.ModelT) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode:
            out[code.customCode.decode()] = (
                bytes(op.customOptions),
                int(op.customOptionsFormat),
                int(code.version),
            )
    return out


def _attrs_by_name(flex_options: bytes) -> bytes:
    """Official Flex options with the NodeDef's attr entries put in name order.

    The official exporter writes the attr map in C++ protobuf hash order, seeded per map
    instance: the order changes from one conversion to the next (three conversions of one
    model in one process gave three orders). Entry bytes do not change, only their order."""
    vec = flexbuffers.GetRoot(flex_options).AsVector
    op, node_def = vec[0].AsString, bytes(vec[1].AsStringBytes)
    fields = fe._fields(node_def)
    attrs = sorted(
        (raw for number, _, _, raw in fields if number == 5),
        key=lambda raw: fe._fields(fe._fields(raw)[0][2])[0][2],  # the entry's key
    )
    head = b"".join(raw for number, _, _, raw in fields if number < 5)
    tail = b"".join(raw for number, _, _, raw in fields if number > 5)
    return fe.flex_custom_options(op, head + b"".join(attrs) + tail)


def test_flex_custom_options_match_the_official_converter():
    official = _custom_ops(_official(_many_attrs, supported_ops=BUILTINS_AND_SELECT))
    ours = _custom_ops(_ours(_many_attrs, supported_ops=BUILTINS_AND_SELECT))
    flex = {k for k in official if k.startswith("Flex")}
    assert {"FlexCumprod", "FlexMatrixDeterminant", "FlexAsString"} <= flex
    assert set(ours) == set(official)
    for code in sorted(official):
        (theirs, their_format, their_version), (mine, my_format, my_version) = (
            official[code],
            ours[code],
        )
        assert (my_format, my_version) == (their_format, their_version) == (0, 1)  # FLEXBUFFERS
        assert len(mine) == len(theirs), code
        assert mine == _attrs_by_name(theirs), code
        node_def = node_def_pb2.NodeDef.FromString(
            flexbuffers.GetRoot(mine).AsVector[1].AsStringBytes
        )
        if len(node_def.attr) <= 1:  # a single attribute has one order: identical bytes
            assert mine == theirs, code


# --- flags -> pipeline ---------------------------------------------------------------------


def test_flags_become_pass_options():
    assert apply_flags(DEFAULT_PIPELINE, CompatFlags()) == DEFAULT_PIPELINE
    select = apply_flags(
        DEFAULT_PIPELINE,
        CompatFlags(("TFLITE_BUILTINS", "SELECT_TF_OPS"), True, ("MyOp",), ("Erf",)),
    )
    assert select == (
        "custom-ops{ops=[Erf]},canonicalize,lower-tensor-lists,legalize-tf,legalize-stablehlo,"
        "select-tf-ops{user-ops=[MyOp]},custom-ops,canonicalize,fuse,simplify-tfl,cse,"
        "fuse-recurrent,dce,"
        "check-tflite-legal{target-ops=[TFLITE_BUILTINS,SELECT_TF_OPS] allow-custom-ops=true "
        "select-user-ops=[MyOp]}"
    )
    # SELECT_TF_OPS alone: no legalization, every TF op a Flex op (as tf.lite does).
    only = apply_flags(DEFAULT_PIPELINE, CompatFlags(("SELECT_TF_OPS",)))
    assert "legalize-tf" not in only and only.startswith("canonicalize,select-tf-ops,")


def test_conversion_metadata_reflects_the_flags():
    from tflconv.tools.inspect import inspect_model

    def options(ops, allow_custom_ops=False):
        fn = _flex_fn.get_concrete_function()
        conv = TFLiteConverter.from_concrete_functions([fn], _flex_fn)
        conv.target_spec.supported_ops = ops
        conv.allow_custom_ops = allow_custom_ops
        if not allow_custom_ops:
            conv.target_spec.experimental_select_user_tf_ops = {"Digamma"}
        meta = {m["name"]: m["value"] for m in inspect_model(conv.convert())["metadata"]}
        cm = meta["CONVERSION_METADATA"]
        return cm["enable_select_tf_ops"], cm["force_select_tf_ops"], cm["allow_custom_ops"]

    assert options(BUILTINS_AND_SELECT) == (True, False, False)
    assert options({tf.lite.OpsSet.SELECT_TF_OPS}) == (True, True, False)
    assert options({tf.lite.OpsSet.TFLITE_BUILTINS}, True) == (False, False, True)


# --- Flex models run ---------------------------------------------------------------------------


@tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32, name="x")], autograph=False)
def _flex_fn(x):
    y = tf.nn.relu(x) + 0.5
    return {
        "cumprod": tf.math.cumprod(y, axis=1, exclusive=True),
        "det": tf.linalg.det(y),
        "digamma": tf.math.digamma(y),
    }


def _keras_flex_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="features")
    h = keras.layers.Dense(4, name="dense")(inp)
    c = keras.layers.Lambda(lambda t: tf.math.cumprod(t, axis=1), name="running_product")(h)
    return keras.Model(inp, keras.layers.Dense(2, name="head")(c))


@pytest.fixture(scope="module")
def flex_runs(flex_python):  # noqa: F811
    """Convert each case, run all in the Flex interpreter at once; (result, expected, ops)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3)).astype(np.float32)
    fn = _flex_fn.get_concrete_function()
    expected_fn = {k: v.numpy() for k, v in _flex_fn(tf.constant(x)).items()}
    cases = {}

    def flex_conv(ops, user=()):
        conv = TFLiteConverter.from_concrete_functions([fn], _flex_fn)
        conv.target_spec.supported_ops = ops
        conv.target_spec.experimental_select_user_tf_ops = set(user)
        return conv.convert()

    # Digamma is not allowlisted: the user declares their Flex runtime has its kernel.
    cases["builtins+select"] = (flex_conv(BUILTINS_AND_SELECT, ["Digamma"]), {"x": x}, expected_fn)
    cases["select only"] = (
        flex_conv({tf.lite.OpsSet.SELECT_TF_OPS}, ["Digamma"]),
        {"x": x},
        expected_fn,
    )
    model = _keras_flex_model()
    features = rng.standard_normal((2, 4)).astype(np.float32)
    conv = TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = BUILTINS_AND_SELECT
    keras_expected = {"output_0": model(features).numpy()}
    cases["keras"] = (conv.convert(), {"features": features}, keras_expected)
    results = run_flex_models(flex_python, [(t, i) for t, i, _ in cases.values()])
    return {
        name: (got, expected, _custom_ops(fb.ModelT.InitFromPackedBuf(tflite, 0)))
        for (name, (tflite, _, expected)), got in zip(cases.items(), results)
    }


@pytest.mark.parametrize("case", ["builtins+select", "select only", "keras"])
def test_flex_model_runs_and_matches_tensorflow(flex_runs, case):
    got, expected, custom = flex_runs[case]
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5, err_msg=name)
    assert all(code.startswith("Flex") for code in custom)
    if case == "builtins+select":
        assert set(custom) == {"FlexCumprod", "FlexMatrixDeterminant", "FlexDigamma"}
    elif case == "select only":  # no legalization: the builtin-able ops are Flex ops too
        assert {"FlexRelu", "FlexAddV2", "FlexCumprod"} <= set(custom)
    else:
        assert set(custom) == {"FlexCumprod"}


def test_cli_target_ops_writes_a_flex_model(tmp_path, capsys):
    from tflconv.cli import main

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.cumprod(x)}

    module = M()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.serve)
    out = tmp_path / "m.tflite"
    code = main(
        [
            "convert",
            str(tmp_path / "sm"),
            "-o",
            str(out),
            "--target_ops=TFLITE_BUILTINS,SELECT_TF_OPS",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0
    assert "needs the Flex delegate (Select TF ops): FlexCumprod x1" in stdout
    assert set(_custom_ops(fb.ModelT.InitFromPackedBuf(out.read_bytes(), 0))) == {"FlexCumprod"}
