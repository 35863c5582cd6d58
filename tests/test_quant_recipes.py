"""Declarative recipes (a weight scheme per op by op type and name regex): the same recipe as a
JSON file, a TOML file, a dict and Python objects gives the same model, from the API
(`converter.quantization_recipe`), the CLI (`--recipe`) and the pass (`recipe=`); each op
computes with the weights its rule chose (LiteRT, with and without XNNPACK)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from e2e_util import op_histogram  # noqa: E402

import tflconv  # noqa: E402
from tflconv.passes.quantize import kernels  # noqa: E402
from tflconv.passes.quantize.recipe import Recipe, Rule, WeightScheme, load_recipe  # noqa: E402

RECIPE = {
    "default": {"weights": "int8"},
    "rules": [
        {"ops": ["FULLY_CONNECTED"], "weights": "int4"},
        {"ops": ["CONV_2D"], "weights": "int8", "granularity": "tensor"},
        {"names": "head", "weights": "float32"},
        {"names": "emb", "weights": "int4", "mode": "weight-only"},
    ],
}
TOML = """
[default]
weights = "int8"

[[rules]]
ops = ["FULLY_CONNECTED"]
weights = "int4"

[[rules]]
ops = ["CONV_2D"]
weights = "int8"
granularity = "tensor"

[[rules]]
names = "head"
weights = "float32"

[[rules]]
names = "emb"
weights = "int4"
mode = "weight-only"
"""
OBJECTS = Recipe(
    default=WeightScheme("int8"),
    rules=(
        Rule(WeightScheme("int4"), ops=("FULLY_CONNECTED",)),
        Rule(WeightScheme("int8", "tensor"), ops=("CONV_2D",)),
        Rule(WeightScheme("float32"), names="head"),
        Rule(WeightScheme("int4", mode="weight-only"), names="emb"),
    ),
)


def _model():
    """conv (int8 per tensor) -> flatten -> fc (int4) -> head (float); + an embedding (int4
    weight-only, per row) added to the head's output."""
    import keras

    keras.utils.set_random_seed(5)
    image = keras.Input((6, 6, 8), batch_size=1, name="image")
    ids = keras.Input((4,), dtype="int32", batch_size=1, name="ids")
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv")(image)  # 1152 weights
    x = keras.layers.Flatten(name="flat")(x)  # 256
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    x = keras.layers.Dense(32, name="head")(x)
    e = keras.layers.Embedding(300, 32, name="emb")(ids)
    e = keras.layers.GlobalAveragePooling1D(name="pool")(e)
    return keras.Model([image, ids], keras.layers.Add(name="sum")([x, e]))


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return [
        rng.standard_normal((1, 6, 6, 8)).astype(np.float32),
        rng.integers(0, 300, (1, 4)).astype(np.int32),
    ]


def _convert(model, recipe=None, **attrs):
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.quantization_recipe = recipe
    for k, v in attrs.items():
        setattr(conv, k, v)
    return conv.convert()


def _run(tflite, inputs, xnnpack=True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    by_name = {d["name"]: d["index"] for d in it.get_input_details()}
    for name, x in zip(("image", "ids"), inputs):
        index = next(i for n, i in by_name.items() if name in n)
        it.set_tensor(index, x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _stored(w, bits, axis):
    q, s = kernels.quantize_weights_narrow(w, axis, f"i{bits}")
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    return q.astype(np.float32) * s.reshape(shape)


def _recipe_reference(model):
    """The float model with the weights the recipe stores."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    conv = clone.get_layer("conv")
    k = conv.kernel.numpy().transpose(3, 0, 1, 2)
    conv.kernel.assign(_stored(k, 8, None).transpose(1, 2, 3, 0))
    fc = clone.get_layer("fc")
    fc.kernel.assign(_stored(fc.kernel.numpy().T, 4, 0).T)
    emb = clone.get_layer("emb")
    emb.embeddings.assign(_stored(emb.embeddings.numpy(), 4, 0))
    return clone


def test_json_toml_dict_and_objects_give_the_same_model(model, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(RECIPE))
    (tmp_path / "r.toml").write_text(TOML)
    assert load_recipe(tmp_path / "r.toml") == load_recipe(tmp_path / "r.json") == OBJECTS
    assert Recipe.from_dict(json.loads(OBJECTS.to_json())) == OBJECTS
    models = {
        "json": _convert(model, str(tmp_path / "r.json")),
        "toml": _convert(model, str(tmp_path / "r.toml")),
        "dict": _convert(model, RECIPE),
        "objects": _convert(model, OBJECTS),
    }
    assert len(set(models.values())) == 1, {k: len(v) for k, v in models.items()}


@pytest.mark.parametrize("xnnpack", [True, False], ids=["xnnpack", "builtin"])
def test_each_op_computes_with_its_rules_weights(model, inputs, xnnpack):
    tflite = _convert(model, OBJECTS)
    got = _run(tflite, inputs, xnnpack)
    want = _recipe_reference(model)(inputs).numpy()
    exact = model(inputs).numpy()
    scale = np.abs(want).max()
    # conv and fc are hybrid (int8 input quantized on the fly): a few % of the output range
    np.testing.assert_allclose(got, want, atol=3e-2 * scale, rtol=0)
    assert np.abs(got - exact).max() > np.abs(got - want).max()
    hist = op_histogram(tflite)
    assert hist["tfl.dequantize"] == 1  # the embedding's weight-only table
    assert hist["tfl.gather"] == 1


def test_rules_for_op_types_the_model_lacks_are_fine(model):
    """A recipe is reusable: a rule for an op type the model does not have is no error."""
    lstm_rule = {"ops": ["UNIDIRECTIONAL_SEQUENCE_LSTM"], "weights": "float32"}
    assert _convert(model, {"rules": [lstm_rule]}) == _convert(model, {"rules": []})


def test_later_rules_override_earlier_ones_and_float_rules_keep_ops_float(model):
    everything_int4 = {"rules": [{"weights": "int4"}, {"names": "fc|head", "weights": "float32"}]}
    int8 = len(_convert(model, {"rules": []}))
    float_fc = len(_convert(model, everything_int4))
    fc_and_head_bytes = (256 * 64 + 64 * 32) * 4
    assert float_fc > int8 + fc_and_head_bytes * 0.6  # they stayed float32
    all_int4 = len(_convert(model, {"rules": [{"weights": "int4"}]}))
    assert all_int4 < int8


def test_recipe_as_pass_option_and_cli(model, inputs, tmp_path):
    from tflconv.api.converter import convert
    from tflconv.cli.convert import main

    path = tmp_path / "r.json"
    path.write_text(json.dumps(RECIPE))
    api = _convert(model, str(path))
    pipeline = convert(model, pipeline=f"default,quantize-dynamic-range{{recipe={path}}}")
    np.testing.assert_array_equal(_run(api, inputs), _run(pipeline, inputs))
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.tflite"
    assert main(["convert", str(tmp_path / "m.keras"), "-o", str(out), "--recipe", str(path)]) == 0
    np.testing.assert_array_equal(_run(out.read_bytes(), inputs), _run(api, inputs))


def test_int8_mode_takes_the_float_rules_as_keep_float(model, inputs):
    data = [{"image": inputs[0], "ids": inputs[1]} for _ in range(3)]
    float_head = {"default": None, "rules": [{"names": "head", "weights": "float32"}]}
    tflite = _convert(
        model,
        float_head,
        optimizations=[tflconv.Optimize.DEFAULT],
        representative_dataset=data,
    )
    from tflconv.tflite.reader import read_flatbuffer

    fcs = [op for op in read_flatbuffer(tflite).walk() if op.name == "tfl.fully_connected"]
    kinds = sorted(op.operands[1].type.dtype for op in fcs)
    assert kinds == ["f32", "i8"]  # head float, fc int8
    with pytest.raises(Exception, match="apply to dynamic range"):
        _convert(
            model, RECIPE, optimizations=[tflconv.Optimize.DEFAULT], representative_dataset=data
        )


@pytest.mark.parametrize(
    "recipe,message",
    [
        ({"rules": [{"names": "no_such_layer", "weights": "int4"}]}, "matches no op"),
        ({"rules": [{"ops": ["FULLY_CONECTED"], "weights": "int4"}]}, "unknown op type"),
        ({"rules": [{"weights": "int3"}]}, "weights must be one of"),
        ({"rules": [{"weights": "int4", "blocksize": 32}]}, "unknown key"),
        ({"rules": [{"weights": "int8", "granularity": "block", "block_size": 32}]}, "int4 only"),
        ({"rules": [{"names": "(", "weights": "int4"}]}, "bad names regex"),
    ],
)
def test_bad_recipes_are_refused(model, recipe, message):
    with pytest.raises(Exception, match=message):
        _convert(model, recipe)


def test_keep_float_suggestions_become_a_recipe(model, tmp_path):
    """`Recipe.keeping_float` (what debug-quant's suggestions become) round-trips through JSON
    and keeps those ops float."""
    recipe = Recipe.keeping_float(["fc", "head"])
    path = tmp_path / "suggested.json"
    path.write_text(recipe.to_json())
    assert load_recipe(path) == recipe
    same = {
        "rules": [{"names": "fc", "weights": "float32"}, {"names": "head", "weights": "float32"}]
    }
    kept = _convert(model, recipe)
    assert kept == _convert(model, same)
    assert len(kept) > len(_convert(model, {"rules": []})) + (256 * 64 + 64 * 32) * 2


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--recipe", "missing.json"], "no such file"),
        (["--recipe", "RECIPE", "--quantize", "float16"], "--recipe applies to"),
    ],
)
def test_cli_recipe_errors(model, tmp_path, capsys, argv, message):
    from tflconv.cli.convert import main

    path = tmp_path / "r.json"
    path.write_text(json.dumps(RECIPE))
    model.save(tmp_path / "m.keras")
    argv = [str(path) if a == "RECIPE" else a for a in argv]
    out = tmp_path / "m.tflite"
    assert main(["convert", str(tmp_path / "m.keras"), "-o", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("xnnpack", [True, False], ids=["xnnpack", "builtin"])
def test_float16_rule(model, inputs, xnnpack):
    """A float16 rule: the op's float32 constants (weights and bias) become float16 +
    DEQUANTIZE; the rest of the recipe still applies."""
    import keras

    recipe = {"default": None, "rules": [{"ops": ["CONV_2D"], "weights": "float16"}]}
    tflite = _convert(model, recipe)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    conv = clone.get_layer("conv")
    for var in (conv.kernel, conv.bias):
        var.assign(var.numpy().astype(np.float16).astype(np.float32))
    want = clone(inputs).numpy()
    np.testing.assert_allclose(_run(tflite, inputs, xnnpack), want, rtol=1e-4, atol=1e-4)
    hist = op_histogram(tflite)
    assert hist["tfl.dequantize"] == 2  # the conv's filter and bias; fc / head / emb untouched
    from tflconv.tflite.reader import read_flatbuffer

    fcs = [op for op in read_flatbuffer(tflite).walk() if op.name == "tfl.fully_connected"]
    assert all(op.operands[1].type.dtype == "f32" for op in fcs)
