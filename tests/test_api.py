"""The public API: the tf.lite.TFLiteConverter mirror, the `tflconv.convert` short form,
option checking, conversion metadata and atomic output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from e2e_util import run_litert  # noqa: E402

import tflconv  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Tiny models


def tiny_keras() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,), name="x")
    h = keras.layers.Dense(5, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, outputs)


class TwoSignatures(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="a")])
    def project(self, a):
        return {"y": tf.nn.relu(tf.matmul(a, self.w))}

    @tf.function(
        input_signature=[
            tf.TensorSpec([2, 3], tf.float32, name="p"),
            tf.TensorSpec([2, 3], tf.float32, name="q"),
        ]
    )
    def combine(self, p, q):
        return {"sum": p + q, "prod": p * q}


@pytest.fixture(scope="module")
def keras_model() -> keras.Model:
    return tiny_keras()


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory, keras_model) -> str:
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    keras_model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("sm") / "two_sigs")
    module = TwoSignatures()
    tf.saved_model.save(
        module, path, signatures={"project": module.project, "combine": module.combine}
    )
    return path


X = np.random.default_rng(0).standard_normal((2, 6)).astype(np.float32)


def signature_outputs(tflite: bytes, key: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    return interp.get_signature_runner(key)(**inputs)


def conversion_metadata(tflite: bytes):
    """(metadata names, ConversionMetadataT or None) of a .tflite."""
    from tflconv.tflite.generated import conversion_metadata as cm
    from tflconv.tflite.generated import tflite_schema as fb

    model = fb.ModelT.InitFromPackedBuf(tflite, 0)
    entries = {m.name.decode(): m.buffer for m in model.metadata or []}
    meta = None
    if "CONVERSION_METADATA" in entries:
        data = bytes(model.buffers[entries["CONVERSION_METADATA"]].data)
        meta = cm.ConversionMetadataT.InitFromPackedBuf(data, 0)
    return set(entries), meta


# ---------------------------------------------------------------------------------------------
# The converter mirror


def test_from_keras_model_matches_keras(keras_model):
    tflite = tflconv.TFLiteConverter.from_keras_model(keras_model).convert()
    (got,) = run_litert(tflite, [X])
    np.testing.assert_allclose(got, keras_model(X).numpy(), atol=1e-5, rtol=1e-5)
    names, meta = conversion_metadata(tflite)
    assert {"CONVERSION_METADATA", "min_runtime_version"} <= names
    assert meta.environment.modelType == 2  # KERAS_MODEL
    assert meta.environment.apiVersion == 2
    assert not meta.options.allowCustomOps


def test_from_keras_model_file(keras_file, keras_model):
    tflite = tflconv.TFLiteConverter.from_keras_model_file(keras_file).convert()
    (got,) = run_litert(tflite, [X])
    np.testing.assert_allclose(got, keras_model(X).numpy(), atol=1e-5, rtol=1e-5)


def test_from_saved_model_converts_every_signature(saved_model_dir):
    from ai_edge_litert.interpreter import Interpreter

    tflite = tflconv.TFLiteConverter.from_saved_model(saved_model_dir).convert()
    sigs = Interpreter(model_content=tflite).get_signature_list()
    assert set(sigs) == {"project", "combine"}

    module = TwoSignatures()
    a = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    got = signature_outputs(tflite, "project", a=a)
    np.testing.assert_allclose(got["y"], module.project(a)["y"].numpy(), atol=1e-5)
    p = np.full((2, 3), 1.5, np.float32)
    q = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = signature_outputs(tflite, "combine", p=p, q=q)
    np.testing.assert_allclose(got["sum"], p + q)
    np.testing.assert_allclose(got["prod"], p * q)
    assert conversion_metadata(tflite)[1].environment.modelType == 1  # TF_SAVED_MODEL


def test_from_saved_model_selected_signature(saved_model_dir):
    from ai_edge_litert.interpreter import Interpreter

    conv = tflconv.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["combine"])
    sigs = Interpreter(model_content=conv.convert()).get_signature_list()
    assert list(sigs) == ["combine"]


def test_bad_signature_key_names_it(saved_model_dir):
    conv = tflconv.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=["nope"])
    with pytest.raises(tflconv.ConverterError, match="nope") as info:
        conv.convert()
    assert "\n" not in str(info.value)


def test_from_concrete_functions():
    module = TwoSignatures()
    fn = module.project.get_concrete_function()
    tflite = tflconv.TFLiteConverter.from_concrete_functions([fn], module).convert()
    a = np.ones((2, 4), np.float32)
    (got,) = run_litert(tflite, [a])
    np.testing.assert_allclose(got, module.project(a)["y"].numpy(), atol=1e-5)
    assert conversion_metadata(tflite)[1].environment.modelType == 3  # TF_CONCRETE_FUNCTIONS


def test_exclude_conversion_metadata(keras_model):
    conv = tflconv.TFLiteConverter.from_keras_model(keras_model)
    conv.exclude_conversion_metadata = True
    names, meta = conversion_metadata(conv.convert())
    assert meta is None and "CONVERSION_METADATA" not in names


def test_accepted_official_flags_and_aliases(keras_model, tmp_path):
    conv = tflconv.TFLiteConverter.from_keras_model(keras_model)
    conv.experimental_new_converter = False  # accepted and ignored, as documented
    conv.ir_dump_dir = str(tmp_path / "dumps")  # tf.lite's debug option -> our dump dir
    conv.target_spec.supported_ops = {tf.lite.OpsSet.TFLITE_BUILTINS}  # tf.lite's enum
    conv.target_spec.supported_types = {tf.float32}
    conv.inference_input_type = tf.float32
    conv.convert()
    assert any(p.suffix == ".mlir" for p in (tmp_path / "dumps").iterdir())


# ---------------------------------------------------------------------------------------------
# Options we do not implement yet fail loudly, naming the option (checked before loading)


@pytest.mark.parametrize(
    ("option", "setter"),
    [
        (
            "target_spec.supported_ops",
            lambda c: setattr(
                c.target_spec, "supported_ops", {tflconv.OpsSet.EXPERIMENTAL_STABLEHLO_OPS}
            ),
        ),
        (
            "target_spec.experimental_supported_backends",
            lambda c: setattr(c.target_spec, "experimental_supported_backends", ["GPU"]),
        ),
        ("serialize_debug_metadata", lambda c: setattr(c, "serialize_debug_metadata", True)),
        ("unfold_batchmatmul", lambda c: setattr(c, "unfold_batchmatmul", True)),
        (
            "experimental_use_stablehlo_quantizer",
            lambda c: setattr(c, "experimental_use_stablehlo_quantizer", True),
        ),
    ],
)
def test_unimplemented_option_raises(option, setter):
    conv = tflconv.TFLiteConverter.from_keras_model(None)  # never loaded: options come first
    setter(conv)
    with pytest.raises(tflconv.ConverterError, match=f"option {option}=") as info:
        conv.convert()
    assert info.value.phase == "options"
    assert "not implemented" in str(info.value)


def test_unknown_attribute_is_an_error():
    conv = tflconv.TFLiteConverter.from_keras_model(None)
    with pytest.raises(AttributeError, match="optimisations"):
        conv.optimisations = {tflconv.Optimize.DEFAULT}
    with pytest.raises(AttributeError, match="_experimental_bogus_knob"):
        conv._experimental_bogus_knob = True  # tf.lite's known knobs: test_papercuts.py


def test_short_form_rejects_unknown_option(keras_model):
    with pytest.raises(tflconv.ConverterError, match="optimisations"):
        tflconv.convert(keras_model, optimisations=set())


def test_enums_mirror_tf_lite():
    assert {m.value for m in tflconv.OpsSet} == {m.value for m in tf.lite.OpsSet}
    assert {m.value for m in tflconv.Optimize} == {m.value for m in tf.lite.Optimize}


# ---------------------------------------------------------------------------------------------
# Short form and files


def test_convert_short_form_writes_file(keras_file, keras_model, tmp_path):
    out = tmp_path / "sub" / "tiny.tflite"
    tflite = tflconv.convert(keras_file, out)
    assert out.read_bytes() == tflite
    assert [p.name for p in out.parent.iterdir()] == ["tiny.tflite"]  # no temp files left
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    (got,) = run_litert(tflite, [X])
    np.testing.assert_allclose(got, keras_model(X).numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["keras_model", "keras_file", "saved_model", "functions"])
def test_short_form_records_model_type(kind, keras_model, keras_file, saved_model_dir):
    module = TwoSignatures()
    source, expected = {
        "keras_model": (keras_model, 2),
        "keras_file": (keras_file, 2),
        "saved_model": (saved_model_dir, 1),
        "functions": ([module.project.get_concrete_function()], 3),
    }[kind]
    assert conversion_metadata(tflconv.convert(source))[1].environment.modelType == expected


def test_convert_short_form_load_options(saved_model_dir):
    from ai_edge_litert.interpreter import Interpreter

    tflite = tflconv.convert(saved_model_dir, signature_keys=["project"], time_passes=False)
    assert list(Interpreter(model_content=tflite).get_signature_list()) == ["project"]


def test_failed_conversion_leaves_no_file(tmp_path):
    out = tmp_path / "missing.tflite"
    with pytest.raises(tflconv.ConverterError, match="no such file"):
        tflconv.convert(str(tmp_path / "does_not_exist.keras"), out)
    assert list(tmp_path.iterdir()) == []


def test_failed_conversion_keeps_existing_output(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
    def digamma(x):
        return tf.math.digamma(x)  # no TFLite builtin

    out = tmp_path / "model.tflite"
    out.write_bytes(b"previous model")
    with pytest.raises(tflconv.ConverterError, match="Digamma") as info:
        tflconv.convert([digamma.get_concrete_function()], out)
    assert "\n" not in str(info.value)
    assert out.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_output_may_not_overwrite_input(keras_file):
    before = Path(keras_file).read_bytes()
    with pytest.raises(tflconv.ConverterError, match="overwrite the input"):
        tflconv.convert(keras_file, keras_file)
    assert Path(keras_file).read_bytes() == before


def test_import_does_not_load_tensorflow():
    code = "import sys, tflconv; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
