"""TFLite model metadata: our writer against the standard, read back by us and independently,
models still run in LiteRT, metadata survives reader -> passes -> writer and conversion."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tflconv.core.ir import Function, Module, Operation, constant
from tflconv.core.types import TensorType
from tflconv.tflite import generate
from tflconv.tflite.generated import metadata_schema as mfb
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.metadata import (
    TFLITE_METADATA,
    AssociatedFile,
    AudioContent,
    BoundingBoxContent,
    FeatureContent,
    ImageContent,
    MetadataError,
    ModelInfo,
    ScoreCalibration,
    TensorInfo,
    add_metadata,
    associated_files,
    attach_to_module,
    from_flatbuffer,
    metadata_entries,
    metadata_table,
    metadata_to_dict,
    min_parser_version,
    read_model_metadata,
    remove_metadata,
    to_flatbuffer,
)
from tflconv.tflite.reader import read_flatbuffer
from tflconv.tflite.writer import write_flatbuffer

Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter

LABELS = b"daisy\nrose\ntulip\n"
CALIBRATION = b"1.0,0.5,0.1\n\n1.0,0.5,0.1,0.2\n"
SCHEMA = Path(generate.SCHEMA_DIR) / "metadata_schema.fbs"


def tiny_module() -> Module:
    """x[?,4] -> fully_connected(3) -> softmax, written by our writer (no TensorFlow)."""
    rng = np.random.default_rng(0)
    fn = Function("main", [TensorType((None, 4), "f32")], ["x"], {"entry": True})
    w = fn.block.append(constant(rng.standard_normal((3, 4)).astype(np.float32), name="w"))
    b = fn.block.append(constant(rng.standard_normal(3).astype(np.float32), name="b"))
    fc = fn.block.append(
        Operation(
            "tfl.fully_connected", [fn.args[0], w.result, b.result], [TensorType((None, 3), "f32")]
        )
    )
    sm = fn.block.append(
        Operation("tfl.softmax", [fc.result], [TensorType((None, 3), "f32")], {"beta": 1.0})
    )
    fn.set_outputs([sm.result])
    fn.attributes["output_names"] = ["probability"]
    return Module([fn])


def run(data: bytes, x: np.ndarray) -> np.ndarray:
    runner = Interpreter(model_content=data, num_threads=1).get_signature_runner()
    return next(iter(runner(x=x).values()))


def full_info(tmp_path: Path) -> ModelInfo:
    (tmp_path / "labels.txt").write_bytes(LABELS)
    return ModelInfo(
        name="flowers",
        description="Classifies flowers.",
        version="v1",
        author="tflconv tests",
        license="Apache-2.0",
        inputs=[
            TensorInfo(
                "x",
                "normalized features",
                content=ImageContent("GRAYSCALE", (2, 2)),
                normalization=([127.5, 127.0], [127.5, 2.0]),
                value_range=(0, 255),
                dimension_names=["batch", "features"],
            )
        ],
        outputs=[
            TensorInfo(
                "probability",
                "class scores",
                content=FeatureContent(),
                content_range=(1, 1),
                label_files=[AssociatedFile(str(tmp_path / "labels.txt"), "labels", locale="en")],
                score_calibration=ScoreCalibration(
                    AssociatedFile("calibration.csv", data=CALIBRATION), "LOG", 0.2
                ),
                score_threshold=0.5,
                value_range=(0, 1),
            )
        ],
        associated_files=[AssociatedFile("README.txt", "readme", "DESCRIPTIONS", data=b"hi")],
    )


# --- the metadata FlatBuffer ---------------------------------------------------------------------


def test_flatbuffer_round_trip(tmp_path):
    info = full_info(tmp_path)
    data = to_flatbuffer(info)
    assert data[4:8] == b"M001"
    assert mfb.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0)
    back = from_flatbuffer(data)
    assert back.min_parser_version == "1.0.0"
    # Everything but file data and paths (only base names are stored) reads back the same.
    expected = full_info(tmp_path)
    expected.outputs[0].label_files[0].path = "labels.txt"
    # Label and calibration files of type UNKNOWN are written with their role's type.
    expected.outputs[0].label_files[0].type = "TENSOR_AXIS_LABELS"
    expected.outputs[0].score_calibration.file.type = "TENSOR_AXIS_SCORE_CALIBRATION"
    expected.min_parser_version = "1.0.0"
    for f in (*back.files(), *expected.files()):
        f.data = None
    back.inputs[0].normalization = tuple(back.inputs[0].normalization)
    assert back.inputs[0].normalization == ([127.5, 127.0], [127.5, 2.0])
    assert back == expected


def test_json_spec_round_trip(tmp_path):
    info = full_info(tmp_path)
    spec = info.to_dict()
    assert spec["inputs"][0]["content"] == {
        "kind": "image",
        "color_space": "GRAYSCALE",
        "default_size": [2, 2],
    }
    assert spec["outputs"][0]["label_files"][0]["locale"] == "en"
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    back = ModelInfo.from_json(tmp_path / "spec.json")
    assert to_flatbuffer(back) == to_flatbuffer(info)
    # Short forms: a path for a file, a kind name for content, [a, b] pairs; paths are
    # relative to the spec.
    short = ModelInfo.from_dict(
        {"inputs": [{"content": "audio"}], "outputs": [{"labels": "labels.txt"}]}, tmp_path
    )
    assert short.inputs[0].content == AudioContent()
    assert short.outputs[0].label_files[0].path == str(tmp_path / "labels.txt")
    assert short.outputs[0].label_files[0].type == "TENSOR_AXIS_LABELS"
    with pytest.raises(MetadataError, match=r"unknown keys \['nmae'\]"):
        ModelInfo.from_dict({"nmae": "x"})
    with pytest.raises(MetadataError, match="content needs a kind"):
        ModelInfo.from_dict({"inputs": [{"content": "picture"}]})


def _variant(mutate: Any) -> str:
    meta = metadata_table(ModelInfo(inputs=[TensorInfo("a")], outputs=[TensorInfo("b")]))
    mutate(meta)
    return min_parser_version(meta)


def _unit(kind: int, options: Any) -> mfb.ProcessUnitT:
    unit = mfb.ProcessUnitT()
    unit.optionsType, unit.options = kind, options
    return unit


def _sg(meta: mfb.ModelMetadataT) -> mfb.SubGraphMetadataT:
    return meta.subgraphMetadata[0]


# Expected values checked against tflite-support 0.4.4's GetMinimumMetadataParserVersion.
PARSER_VERSION_CASES = {
    "base": (lambda m: None, "1.0.0"),
    "vocabulary": (
        lambda m: setattr(m, "associatedFiles", [mfb.AssociatedFileT(name="v", type=5)]),
        "1.0.1",
    ),
    "subgraph process units (even empty)": (
        lambda m: setattr(_sg(m), "inputProcessUnits", []),
        "1.1.0",
    ),
    "bert tokenizer": (
        lambda m: setattr(_sg(m), "outputProcessUnits", [_unit(4, mfb.BertTokenizerOptionsT())]),
        "1.1.0",
    ),
    "regex tokenizer": (
        lambda m: setattr(
            _sg(m).inputTensorMetadata[0], "processUnits", [_unit(6, mfb.RegexTokenizerOptionsT())]
        ),
        "1.2.1",
    ),
    "tensor groups": (
        lambda m: setattr(_sg(m), "outputTensorGroups", [mfb.TensorGroupT()]),
        "1.2.0",
    ),
    "custom metadata": (
        lambda m: setattr(_sg(m), "customMetadata", [mfb.CustomMetadataT()]),
        "1.5.0",
    ),
}


@pytest.mark.parametrize("case", PARSER_VERSION_CASES)
def test_min_parser_version_rules(case):
    mutate, expected = PARSER_VERSION_CASES[case]
    assert _variant(mutate) == expected


def test_min_parser_version_from_the_api():
    def version(info: ModelInfo) -> str:
        return from_flatbuffer(to_flatbuffer(info)).min_parser_version

    assert version(ModelInfo(inputs=[TensorInfo(content=AudioContent(16000, 2))])) == "1.3.0"
    assert version(ModelInfo(associated_files=[AssociatedFile("a", version="2")])) == "1.4.1"
    assert (
        version(ModelInfo(associated_files=[AssociatedFile("i", type="SCANN_INDEX_FILE")]))
        == "1.4.0"
    )
    boxes = TensorInfo(content=BoundingBoxContent([1, 0, 3, 2], "CENTER", "PIXEL"))
    assert version(ModelInfo(outputs=[boxes])) == "1.0.0"
    assert from_flatbuffer(to_flatbuffer(ModelInfo(outputs=[boxes]))).outputs[0] == boxes


def test_flatc_decodes_our_metadata(tmp_path):
    """An independent reader: flatc's JSON decoder with the schema file (not our Python)."""
    try:
        flatc = generate.find_flatc()
    except generate.FlatcNotFoundError:
        pytest.skip("flatc not installed")
    (tmp_path / "m.bin").write_bytes(to_flatbuffer(full_info(tmp_path)))
    subprocess.run(
        [
            flatc,
            "--json",
            "--strict-json",
            "--raw-binary",
            "-o",
            str(tmp_path),
            str(SCHEMA),
            "--",
            str(tmp_path / "m.bin"),
        ],
        check=True,
        capture_output=True,
    )
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["name"] == "flowers" and doc["min_parser_version"] == "1.0.0"
    tensor = doc["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert tensor["content"]["content_properties_type"] == "ImageProperties"
    assert tensor["content"]["content_properties"]["color_space"] == "GRAYSCALE"
    assert tensor["process_units"][0]["options"] == {"mean": [127.5, 127.0], "std": [127.5, 2.0]}
    assert tensor["stats"] == {"max": [255.0], "min": [0.0]}
    out = doc["subgraph_metadata"][0]["output_tensor_metadata"][0]
    assert [f["name"] for f in out["associated_files"]] == ["labels.txt", "calibration.csv"]
    assert out["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"
    assert out["process_units"][0]["options_type"] == "ScoreCalibrationOptions"
    assert out["process_units"][0]["options"]["score_transformation"] == "LOG"


def test_metadata_to_dict_shows_everything(tmp_path):
    d = metadata_to_dict(to_flatbuffer(full_info(tmp_path)))
    out = d["subgraph_metadata"][0]["output_tensor_metadata"][0]
    assert out["process_units"][0]["options"] == {
        "score_transformation": "LOG",
        "default_score": 0.2,
    }
    assert out["process_units"][1]["options"] == {"global_score_threshold": 0.5}
    assert out["content"]["range"] == {"min": 1, "max": 1}
    with pytest.raises(MetadataError, match="file identifier"):
        metadata_to_dict(b"\x00" * 16)


# --- models ----------------------------------------------------------------------------------------


def test_add_metadata_model_runs_and_reads_back(tmp_path):
    plain = write_flatbuffer(tiny_module(), conversion_metadata={})
    data = add_metadata(plain, full_info(tmp_path))
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_array_equal(run(data, x), run(plain, x))
    # Only TFLITE_METADATA was added; the other entries are byte-identical.
    before, after = metadata_entries(plain), metadata_entries(data)
    assert list(after) == [*before, TFLITE_METADATA]
    assert all(after[k] == v for k, v in before.items())
    files = associated_files(data)
    assert files == {"labels.txt": LABELS, "calibration.csv": CALIBRATION, "README.txt": b"hi"}
    info = read_model_metadata(data)
    assert info is not None and info.name == "flowers"
    assert info.outputs[0].label_files[0].data == LABELS
    assert info.outputs[0].score_calibration.file.data == CALIBRATION
    assert read_model_metadata(plain) is None and associated_files(plain) == {}


def test_appended_zip_layout(tmp_path):
    plain = write_flatbuffer(tiny_module())
    data = add_metadata(plain, full_info(tmp_path))
    assert data == add_metadata(plain, full_info(tmp_path))  # deterministic
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["README.txt", "labels.txt", "calibration.csv"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        start = min(i.header_offset for i in infos)
    # The archive directly follows the FlatBuffer, which parses on its own.
    assert data[start : start + 4] == b"PK\x03\x04"
    model = fb.ModelT.InitFromPackedBuf(data[:start], 0)
    assert [m.name for m in model.metadata][-1] == TFLITE_METADATA.encode()
    # Every buffer stays 16-byte aligned after the edit.
    fbm = fb.Model.GetRootAs(data, 0)
    for i in range(fbm.BuffersLength()):
        if fbm.Buffers(i).DataLength():
            assert (
                fbm.Buffers(i).DataAsNumpy().ctypes.data % 16
                == np.frombuffer(data, np.uint8).ctypes.data % 16
            )


def test_replacing_metadata(tmp_path):
    plain = write_flatbuffer(tiny_module())
    first = add_metadata(plain, full_info(tmp_path))
    # New metadata naming a file already packed: its data is reused; unreferenced files go.
    second = add_metadata(
        first,
        ModelInfo(name="v2", outputs=[TensorInfo(label_files=[AssociatedFile("labels.txt")])]),
    )
    names = [m.name for m in fb.ModelT.InitFromPackedBuf(second, 0).metadata]
    assert names.count(TFLITE_METADATA.encode()) == 1
    assert associated_files(second) == {"labels.txt": LABELS}
    info = read_model_metadata(second)
    assert info.name == "v2" and info.inputs[0].name == "x"  # unlisted tensors are named
    assert info.outputs[0].name == "probability"
    removed = remove_metadata(second)
    assert read_model_metadata(removed) is None and associated_files(removed) == {}
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(run(removed, x), run(plain, x))


def test_errors(tmp_path):
    plain = write_flatbuffer(tiny_module())
    with pytest.raises(
        MetadataError, match="describes 2 inputs, but the model's main subgraph has 1"
    ):
        add_metadata(plain, ModelInfo(inputs=[TensorInfo(), TensorInfo()]))
    with pytest.raises(MetadataError, match="'missing.txt': no data"):
        add_metadata(plain, ModelInfo(associated_files=[AssociatedFile("missing.txt")]))
    with pytest.raises(MetadataError, match="two different associated files are named 'a.txt'"):
        add_metadata(
            plain,
            ModelInfo(
                associated_files=[
                    AssociatedFile("x/a.txt", data=b"1"),
                    AssociatedFile("y/a.txt", data=b"2"),
                ]
            ),
        )
    with pytest.raises(MetadataError, match=r"files \['extra.txt'\] are not named"):
        add_metadata(plain, ModelInfo(), files={"extra.txt": b""})
    with pytest.raises(MetadataError, match="color_space: 'CMYK' is not one of"):
        add_metadata(plain, ModelInfo(inputs=[TensorInfo(content=ImageContent("CMYK"))]))
    with pytest.raises(MetadataError, match="std must not be 0"):
        add_metadata(plain, ModelInfo(inputs=[TensorInfo(normalization=(0, 0))]))
    with pytest.raises(MetadataError, match="not a .tflite model"):
        add_metadata(b"not a model at all", ModelInfo())


def test_survives_reader_passes_writer_and_text(tmp_path):
    import tflconv.passes  # noqa: F401  (registers the passes)
    from tflconv.core.parser import parse_module
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext
    from tflconv.core.printer import print_module

    module = tiny_module()
    attach_to_module(module, full_info(tmp_path))
    data = write_flatbuffer(module)
    expected_files = associated_files(data)
    assert set(expected_files) == {"labels.txt", "calibration.csv", "README.txt"}
    # .tflite -> IR -> any pipeline -> .tflite keeps TFLITE_METADATA and the files.
    module = read_flatbuffer(data)
    assert module.attributes["associated_files"] == expected_files
    PassManager.from_pipeline("canonicalize,cse,dce").run(module, PassContext())
    again = write_flatbuffer(module)
    assert metadata_entries(again)[TFLITE_METADATA] == metadata_entries(data)[TFLITE_METADATA]
    assert associated_files(again) == expected_files
    # ... and the IR text form (print -> parse) too.
    reparsed = parse_module(print_module(read_flatbuffer(again), elide_large=False))
    third = write_flatbuffer(reparsed)
    assert read_model_metadata(third) == read_model_metadata(data)
    x = np.ones((3, 4), np.float32)
    np.testing.assert_allclose(run(third, x), run(data, x))


# --- the official converter's models, CONVERSION_METADATA, tflconv convert --metadata -------------


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    tf = pytest.importorskip("tensorflow")
    tmp = tmp_path_factory.mktemp("keras")
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((6, 6, 3), name="image")
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="softmax")(x))
    model.save(tmp / "m.keras")
    (tmp / "official.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    (tmp / "labels.txt").write_bytes(LABELS)
    return tmp


def test_official_model_with_metadata(keras_files):
    official = (keras_files / "official.tflite").read_bytes()
    info = ModelInfo(
        name="cnn",
        inputs=[
            TensorInfo(
                content=ImageContent("RGB"), normalization=(127.5, 127.5), value_range=(0, 255)
            )
        ],
        outputs=[TensorInfo(label_files=[AssociatedFile(str(keras_files / "labels.txt"))])],
    )
    data = add_metadata(official, info)
    x = np.random.default_rng(0).random((1, 6, 6, 3)).astype(np.float32)
    runner = Interpreter(model_content=data).get_signature_runner()
    expected = Interpreter(model_content=official).get_signature_runner()(image=x)
    np.testing.assert_array_equal(runner(image=x)["output_0"], expected["output_0"])
    back = read_model_metadata(data)
    assert back.inputs[0].name == "image" and back.outputs[0].name == "output_0"
    assert associated_files(data) == {"labels.txt": LABELS}
    # Our reader keeps both through a rewrite of an official model.
    rewritten = write_flatbuffer(read_flatbuffer(data))
    assert read_model_metadata(rewritten) == back


def test_conversion_metadata_and_min_runtime_version(keras_files):
    from tflconv import __version__, convert
    from tflconv.tools.inspect import decode_conversion_metadata

    tf = pytest.importorskip("tensorflow")
    ours = convert(str(keras_files / "m.keras"), quiet=True)
    official = (keras_files / "official.tflite").read_bytes()
    mine, theirs = metadata_entries(ours), metadata_entries(official)
    assert mine["min_runtime_version"] == theirs["min_runtime_version"]  # from the ops used
    assert mine["tflconv_version"] == f"tflconv {__version__}".encode()  # converter name+version
    meta = decode_conversion_metadata(mine["CONVERSION_METADATA"])
    official_meta = decode_conversion_metadata(theirs["CONVERSION_METADATA"])
    assert meta["tensorflow_version"] == tf.__version__
    assert meta["model_type"] == official_meta["model_type"] == "KERAS_MODEL"
    for key in (
        "api_version",
        "model_optimization_modes",
        "allow_custom_ops",
        "enable_select_tf_ops",
    ):
        assert meta[key] == official_meta[key], key
    assert meta["model_hash"] != 0


def test_convert_with_metadata_api_and_cli(keras_files, tmp_path):
    from tflconv import TFLiteConverter
    from tflconv.cli import main

    conv = TFLiteConverter(str(keras_files / "m.keras"))
    conv.quiet = True
    conv.metadata = {"name": "cnn", "outputs": [{"labels": str(keras_files / "labels.txt")}]}
    data = conv.convert()
    assert read_model_metadata(data).name == "cnn"
    assert associated_files(data) == {"labels.txt": LABELS}
    assert Interpreter(model_content=data).get_signature_list()  # loads

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"name": "from cli", "outputs": [{"labels": "labels.txt"}]}))
    shutil.copy(keras_files / "labels.txt", tmp_path / "labels.txt")
    out = tmp_path / "out.tflite"
    assert (
        main(["convert", str(keras_files / "m.keras"), "-o", str(out), "--metadata", str(spec)])
        == 0
    )
    assert read_model_metadata(out.read_bytes()).name == "from cli"
    spec.write_text(json.dumps({"name": "x", "outputs": [{}, {}]}))
    assert (
        main(
            [
                "convert",
                str(keras_files / "m.keras"),
                "-o",
                str(tmp_path / "bad.tflite"),
                "--metadata",
                str(spec),
            ]
        )
        == 2
    )
    assert not (tmp_path / "bad.tflite").exists()


# --- tflconv metadata add | show | remove ----------------------------------------------------------


def test_cli_add_show_remove(tmp_path, capsys):
    from tflconv.cli import main

    model = tmp_path / "m.tflite"
    model.write_bytes(write_flatbuffer(tiny_module()))
    (tmp_path / "labels.txt").write_bytes(LABELS)
    (tmp_path / "README.txt").write_bytes(b"read me")
    out = tmp_path / "out.tflite"
    args = [
        "metadata", "add", str(model), "-o", str(out),
        "--name", "tiny", "--author", "me", "--license", "MIT",
        "--input-image", "rgb", "--input-normalization", "0,1:1,2", "--input-range", "0:255",
        "--labels", str(tmp_path / "labels.txt"), "--output-range", "0:1",
        "--associated-file", f"{tmp_path / 'README.txt'}:descriptions",
    ]  # fmt: skip
    assert main(args) == 0
    info = read_model_metadata(out.read_bytes())
    assert (info.name, info.author, info.license) == ("tiny", "me", "MIT")
    assert info.inputs[0].content == ImageContent("RGB")
    assert info.inputs[0].normalization == ([0.0, 1.0], [1.0, 2.0])
    assert info.outputs[0].label_files[0].data == LABELS
    assert info.associated_files[0].type == "DESCRIPTIONS"
    capsys.readouterr()

    assert main(["metadata", "show", str(out), "--extract-files", str(tmp_path / "files")]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert spec["name"] == "tiny" and spec["min_parser_version"] == "1.0.0"
    assert (tmp_path / "files" / "labels.txt").read_bytes() == LABELS
    # show's output feeds back into add (files come from the model itself).
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    again = tmp_path / "again.tflite"
    assert (
        main(
            [
                "metadata",
                "add",
                str(out),
                "-o",
                str(again),
                "--from-json",
                str(tmp_path / "spec.json"),
                "--version",
                "2",
            ]
        )
        == 0
    )
    assert read_model_metadata(again.read_bytes()).version == "2"
    assert associated_files(again.read_bytes()) == associated_files(out.read_bytes())

    assert main(["metadata", "remove", str(again), "-o", str(again)]) == 0  # explicit in place
    assert read_model_metadata(again.read_bytes()) is None
    assert main(["metadata", "show", str(again)]) == 2
    assert (
        main(
            [
                "metadata",
                "add",
                str(model),
                "-o",
                str(tmp_path / "x.tflite"),
                "--labels",
                "nope.txt",
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.tflite").exists()
    with pytest.raises(SystemExit):  # -o is required
        main(["metadata", "add", str(model)])


# --- the official tflite-support library (opt-in: it needs its own environment) -------------------

TFLITE_SUPPORT_PYTHON = os.environ.get("TFLCONV_TFLITE_SUPPORT_PYTHON")
needs_tflite_support = pytest.mark.skipif(
    not TFLITE_SUPPORT_PYTHON,
    reason="set TFLCONV_TFLITE_SUPPORT_PYTHON to a python with tflite-support installed "
    "(it pins protobuf 3, so it cannot share TensorFlow's environment; see docs/metadata.md)",
)

OFFICIAL_CHECK = r"""
import json, os, sys, shutil
from tflite_support import metadata as md
from tensorflow_lite_support.metadata.cc.python import _pywrap_metadata_version as mv
import tensorflow_lite_support.metadata as pkg
ours, base, work = sys.argv[1:4]
d = md.MetadataDisplayer.with_model_file(ours)
files = d.get_packed_associated_file_list()
result = {
    "metadata": json.loads(d.get_metadata_json()),
    "files": {n: d.get_associated_file_buffer(n).decode() for n in files},
    "min_parser_version": mv.GetMinimumMetadataParserVersion(bytes(d.get_metadata_buffer())),
    "schema": os.path.join(os.path.dirname(pkg.__file__), "metadata_schema.fbs"),
}
# The official populator, given our metadata buffer and the same files, on the plain model.
shutil.copy(base, os.path.join(work, "official.tflite"))
p = md.MetadataPopulator.with_model_file(os.path.join(work, "official.tflite"))
p.load_metadata_buffer(d.get_metadata_buffer())
paths = []
for n in files:
    path = os.path.join(work, n)
    open(path, "wb").write(d.get_associated_file_buffer(n))
    paths.append(path)
p.load_associated_files(paths)
p.populate()
print(json.dumps(result))
"""


@needs_tflite_support
def test_tflite_support_reads_our_metadata(tmp_path):
    plain = write_flatbuffer(tiny_module())
    (tmp_path / "base.tflite").write_bytes(plain)
    ours = add_metadata(plain, full_info(tmp_path))
    (tmp_path / "ours.tflite").write_bytes(ours)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        [
            TFLITE_SUPPORT_PYTHON,
            "-c",
            OFFICIAL_CHECK,
            str(tmp_path / "ours.tflite"),
            str(tmp_path / "base.tflite"),
            str(work),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["metadata"] == metadata_to_dict(metadata_entries(ours)[TFLITE_METADATA])
    assert result["files"] == {k: v.decode() for k, v in associated_files(ours).items()}
    assert result["min_parser_version"] == read_model_metadata(ours).min_parser_version
    # What the official populator writes holds the same metadata and files as ours.
    official = (work / "official.tflite").read_bytes()
    assert read_model_metadata(official) == read_model_metadata(ours)
    assert associated_files(official) == associated_files(ours)
    x = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(run(official, x), run(ours, x))
    # Our schema declares the official one: flatc generates the same code from both.
    flatc = generate.find_flatc()
    for name, fbs in (("ours", SCHEMA), ("official", Path(result["schema"]))):
        (tmp_path / name).mkdir()
        subprocess.run(
            [flatc, *generate.FLATC_ARGS, "-o", str(tmp_path / name), str(fbs)],
            check=True,
            capture_output=True,
        )
    generated = [
        (tmp_path / n / "metadata_schema_generated.py").read_text() for n in ("ours", "official")
    ]
    assert generated[0] == generated[1]


@pytest.mark.parametrize("pipeline", ["quantize-float16", "quantize-dynamic-range{min-elements=1}"])
def test_survives_quantization(tmp_path, pipeline):
    import tflconv.passes  # noqa: F401  (registers the passes)
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext

    module = tiny_module()
    attach_to_module(module, full_info(tmp_path))
    data = write_flatbuffer(module)
    module = read_flatbuffer(data)
    PassManager.from_pipeline(pipeline).run(module, PassContext())
    quantized = write_flatbuffer(module)
    assert quantized != data
    assert metadata_entries(quantized)[TFLITE_METADATA] == metadata_entries(data)[TFLITE_METADATA]
    assert associated_files(quantized) == associated_files(data)
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(run(quantized, x), run(data, x), atol=0.05)
