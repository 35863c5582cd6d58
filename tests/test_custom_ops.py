"""Custom ops: `allow_custom_ops` turns what is left into custom ops carrying the TF attributes
as a FlexBuffer map (byte-identical to the official converter), and `custom_ops` / `--custom-ops`
keeps chosen ops custom even when a builtin exists.

LiteRT cannot register kernels written in Python (`InterpreterWithCustomOps` takes C
registerers), so the proof is the op and its options in the file, plus LiteRT naming the
custom op it lacks a kernel for."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from flatbuffers import flexbuffers  # noqa: E402

from tflconv.api.converter import TFLiteConverter  # noqa: E402
from tflconv.core.ir import Operation  # noqa: E402
from tflconv.core.types import TensorType, TypeAttr  # noqa: E402
from tflconv.passes.compat.flex_encoding import custom_attr_map  # noqa: E402
from tflconv.tflite.generated import tflite_schema as fb  # noqa: E402


@tf.function(input_signature=[tf.TensorSpec([3, 3], tf.float32, name="x")], autograph=False)
def _model(x):
    patches = tf.image.extract_patches(
        tf.reshape(x, [1, 3, 3, 1]), [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"
    )
    return {
        "cumprod": tf.math.cumprod(tf.nn.relu(x), axis=1, exclusive=True),
        "det": tf.linalg.det(x),
        "text": tf.strings.as_string(x, precision=3),
        "patches": patches,
    }


def _convert(fn, *, official: bool = False, **attrs) -> bytes:
    api = tf.lite.TFLiteConverter if official else TFLiteConverter
    conv = api.from_concrete_functions([fn.get_concrete_function()], fn)
    for key, value in attrs.items():
        setattr(conv, key, value)
    return conv.convert()


def _ops(tflite: bytes) -> list[tuple[str, bytes | None]]:
    """(builtin name or custom code, custom options) of each operator of subgraph 0."""
    model = fb.ModelT.InitFromPackedBuf(tflite, 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if code.customCode:
            out.append((code.customCode.decode(), bytes(op.customOptions)))
        else:
            out.append((names[max(code.builtinCode, code.deprecatedBuiltinCode)], None))
    return out


def test_allow_custom_ops_writes_attribute_maps_like_the_official_converter():
    ours = dict(_ops(_convert(_model, allow_custom_ops=True)))
    official = dict(_ops(_convert(_model, official=True, allow_custom_ops=True)))
    custom = {k for k, v in official.items() if v is not None}
    assert custom == {"Cumprod", "MatrixDeterminant", "AsString", "ExtractImagePatches"}
    for code in sorted(custom):
        assert ours[code] == official[code], code  # keys sorted: one valid byte layout
    assert flexbuffers.Loads(ours["Cumprod"]) == {
        "T": 0,  # TensorType FLOAT32
        "Tidx": 2,  # INT32
        "exclusive": True,
        "reverse": False,
    }
    assert flexbuffers.Loads(ours["ExtractImagePatches"]) == {
        "T": 0,
        "ksizes": [1, 2, 2, 1],
        "padding": "VALID",
        "rates": [1, 1, 1, 1],
        "strides": [1, 1, 1, 1],
    }
    assert ours["RELU"] is None  # the rest stays builtin


def test_litert_names_the_custom_op_it_has_no_kernel_for():
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=_convert(_model, allow_custom_ops=True))
    with pytest.raises(RuntimeError, match="Encountered unresolved custom op: Cumprod"):
        interp.allocate_tensors()


def _keras_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,), name="features")
    h = keras.layers.Dense(4, activation="relu", name="body")(inp)
    out = keras.layers.Dense(3, activation="tanh", name="head")(h)
    return keras.Model(inp, out)


def test_chosen_ops_stay_custom_even_with_a_builtin():
    model = _keras_model()
    plain = [name for name, _ in _ops(TFLiteConverter.from_keras_model(model).convert())]
    assert "TANH" in plain and "Tanh" not in plain

    conv = TFLiteConverter.from_keras_model(model)
    conv.custom_ops = ["Tanh"]
    ops = _ops(conv.convert())
    names = [name for name, _ in ops]
    assert "Tanh" in names and "TANH" not in names
    assert "FULLY_CONNECTED" in names  # everything else legalizes as usual
    assert flexbuffers.Loads(dict(ops)["Tanh"]) == {"T": 0}

    # By TF node name: the head layer's ops (its MatMul, bias add and tanh) stay custom.
    conv = TFLiteConverter.from_keras_model(model)
    conv.custom_ops = ["*/head*/*"]
    names = [name for name, _ in _ops(conv.convert())]
    assert "Tanh" in names and "MatMul" in names and names.count("FULLY_CONNECTED") == 1


def test_custom_ops_set_allow_custom_ops_in_conversion_metadata():
    from tflconv.tools.inspect import inspect_model

    conv = TFLiteConverter.from_keras_model(_keras_model())
    conv.custom_ops = ["Tanh"]
    meta = {m["name"]: m["value"] for m in inspect_model(conv.convert())["metadata"]}
    assert meta["CONVERSION_METADATA"]["allow_custom_ops"] is True


def test_cli_custom_ops(tmp_path, capsys):
    from tflconv.cli import main

    model = _keras_model()
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.tflite"
    code = main(["convert", str(tmp_path / "m.keras"), "-o", str(out), "--custom-ops=Tanh,Relu"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "needs custom op kernels registered in the interpreter: Relu x1, Tanh x1" in stdout
    assert {"Relu", "Tanh"} <= {name for name, _ in _ops(out.read_bytes())}


def test_attributes_without_a_flexbuffer_form_are_dropped():
    """From IR attributes (no imported NodeDef): shapes, tensors and functions are left out,
    as the official converter drops them; types become TFLite TensorType ints."""
    op = Operation(
        "tf.MyOp",
        [],
        [TensorType((3,), "f32")],
        {
            "T": TypeAttr("i64"),
            "names": ["a", "b"],
            "scales": [0.5, 2.0],
            "value": np.zeros(2, np.float32),
            "out_shape": [2, None],
            "_stateful": True,
        },
    )
    options, dropped = custom_attr_map(op)
    assert flexbuffers.Loads(options) == {"T": 4, "names": ["a", "b"], "scales": [0.5, 2.0]}
    assert sorted(dropped) == ["out_shape", "value"]
