"""Hostile and broken inputs (docs/cli.md): the reader's validation branches, `inspect` and the
metadata reader on corrupt files, the exit-code contract of every subcommand on a matrix of bad
inputs (exit code, one line, no traceback, no output or temporary file, input unchanged), the
fuzz harness's short run and the corrupt-file regressions in tests/fixtures/corrupt/.

Interrupts (SIGINT/SIGTERM) are in tests/test_interrupts.py.
"""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tflconv import cli
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.metadata import MetadataError, read_model_metadata
from tflconv.tflite.reader import ReadError, read_associated_files, read_flatbuffer
from tflconv.tflite.writer import pack_model
from tflconv.tools import fuzz
from tflconv.tools.inspect import InspectError, format_report, inspect_model

CORRUPT = Path(__file__).parent / "fixtures" / "corrupt"
SEEDS = fuzz.seed_models()


def edit(seed: str, change: Callable[[fb.ModelT], None]) -> bytes:
    """The seed model with one field changed through the FlatBuffer object API."""
    model = fb.ModelT.InitFromPackedBuf(SEEDS[seed], 0)
    change(model)
    return pack_model(model)


def _set(path: str, value) -> Callable[[fb.ModelT], None]:
    """A change setting `path` (attributes and [indices] below the model) to `value`."""

    def change(model: fb.ModelT) -> None:
        target = model
        parts = path.split(".")
        for part in parts[:-1]:
            target = target[int(part[1:-1])] if part.startswith("[") else getattr(target, part)
        last = parts[-1]
        if last.startswith("["):
            target[int(last[1:-1])] = value
        else:
            setattr(target, last, value)

    return change


def _quant(**fields) -> Callable[[fb.ModelT], None]:
    def change(model: fb.ModelT) -> None:
        q = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [0.5], [0]
        for k, v in fields.items():
            setattr(q, k, v)
        model.subgraphs[0].tensors[3].quantization = q

    return change


def _union_mismatch(model: fb.ModelT) -> None:
    op = model.subgraphs[0].operators[3]  # softmax carrying Conv2D options
    op.builtinOptionsType = fb.BuiltinOptions.Conv2DOptions
    op.builtinOptions = fb.Conv2DOptionsT()


def _two_producers(model: fb.ModelT) -> None:
    model.subgraphs[0].operators[1].outputs = [3]  # reshape writes conv's result tensor


def _variable(model: fb.ModelT) -> None:
    t = model.subgraphs[0].tensors[6]
    t.isVariable, t.buffer, t.shape = True, 0, [1 << 20, 1 << 20]


def _custom_options_past_end(model: fb.ModelT) -> None:
    model.operatorCodes[3].builtinCode = model.operatorCodes[3].deprecatedBuiltinCode = 32
    model.operatorCodes[3].customCode = "Mine"
    op = model.subgraphs[0].operators[3]
    op.builtinOptionsType, op.builtinOptions = 0, None
    op.largeCustomOptionsOffset, op.largeCustomOptionsSize = 1 << 30, 16


# name -> (corrupt file, words the ReadError must contain). Each hits one validation branch.
READER_CASES: dict[str, tuple[bytes, str]] = {
    "input-index-past-end": (edit("float", _set("subgraphs.[0].inputs", [9])), "inputs name tensor 9"),
    "input-index-negative": (edit("float", _set("subgraphs.[0].inputs", [-1])), "inputs name tensor -1"),
    "input-twice": (edit("while", _set("subgraphs.[0].inputs", [0, 0])), "name a tensor twice"),
    "operand-index-past-end": (edit("float", _set("subgraphs.[0].operators.[3].inputs", [9])), "uses tensor 9, but there are 9"),
    "operand-index-minus-2": (edit("float", _set("subgraphs.[0].operators.[3].inputs", [-2])), "uses tensor -2"),
    "output-index-past-end": (edit("float", _set("subgraphs.[0].operators.[3].outputs", [9])), "outputs [9] out of range"),
    "output-written-twice": (edit("float", _set("subgraphs.[0].operators.[3].outputs", [8, 8])), "twice"),
    "two-producers": (edit("float", _two_producers), "already has a value"),
    "graph-output-past-end": (edit("float", _set("subgraphs.[0].outputs", [9])), "the subgraph outputs uses tensor 9"),
    "opcode-index": (edit("float", _set("subgraphs.[0].operators.[0].opcodeIndex", 4)), "opcode index 4 out of range"),
    "unknown-builtin": (edit("float", _set("operatorCodes.[0].builtinCode", 4000)), "builtin code 4000"),
    "buffer-index": (edit("float", _set("subgraphs.[0].tensors.[1].buffer", 7)), "buffer index 7 out of range"),
    "enum-value": (edit("float", _set("subgraphs.[0].operators.[0].builtinOptions.padding", 7)), "option padding has value 7"),
    "activation-enum": (edit("float", _set("subgraphs.[0].operators.[0].builtinOptions.fusedActivationFunction", 42)), "fused_activation_function has value 42"),
    "union-type": (edit("float", _union_mismatch), "carries Conv2DOptions options"),
    "while-subgraph-index": (edit("while", _set("subgraphs.[0].operators.[0].builtinOptions.bodySubgraphIndex", 3)), "refers to subgraph 3; there are 3"),
    "shape-dim": (edit("float", _set("subgraphs.[0].tensors.[5].shape", [1, -3])), "has shape [1, -3]"),
    "shape-signature-rank": (edit("float", _set("subgraphs.[0].tensors.[5].shapeSignature", [-1])), "shape_signature [-1]"),
    "tensor-type": (edit("float", _set("subgraphs.[0].tensors.[5].type", 99)), "has type 99"),
    "quant-min-max": (edit("float", _quant(min=[0.0, 1.0], max=[2.0])), "2 quantization min values but 1 max"),
    "quant-axis": (edit("float", _quant(scale=[0.5, 0.5], zeroPoint=[0, 0], quantizedDimension=4)), "dimension 4 of a rank-4"),
    "intermediate-index": (edit("float", _set("subgraphs.[0].operators.[0].intermediates", [9])), "intermediate tensor 9"),
    "data-size": (edit("float", _set("subgraphs.[0].tensors.[2].shape", [4])), "12 bytes of data, expected 16"),
    "huge-variable": (edit("float", _variable), "would need"),
    "custom-options-past-end": (edit("float", _custom_options_past_end), "custom options"),
    "signature-subgraph": (edit("float", _set("signatureDefs.[0].subgraphIndex", 1)), "names subgraph 1"),
    # The IR verifier's checks, through the reader:
    "operand-count": (edit("float", _set("subgraphs.[0].operators.[3].inputs", [7, 7])), "invalid model structure"),
    "reshape-element-count": (edit("float", _set("subgraphs.[0].tensors.[5].shape", [1, 107])), "invalid model structure"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(READER_CASES))
def test_reader_refuses_with_a_named_read_error(name):
    data, words = READER_CASES[name]
    with pytest.raises(ReadError) as info:
        read_flatbuffer(data)
    message = str(info.value)
    assert "\n" not in message and words in message, message


def test_reader_bounds_are_exact():
    # The last tensor index is valid, one past it is not (an off-by-one in either bound fails).
    last = edit("float", _set("subgraphs.[0].operators.[3].outputs", [8]))
    read_flatbuffer(last)
    with pytest.raises(ReadError, match="uses tensor 9, but there are 9"):
        read_flatbuffer(edit("float", _set("subgraphs.[0].operators.[3].inputs", [9])))
    read_flatbuffer(edit("float", _set("subgraphs.[0].inputs", [0])))
    with pytest.raises(ReadError, match="inputs name tensor 9"):
        read_flatbuffer(edit("float", _set("subgraphs.[0].inputs", [9])))


def test_verify_can_be_skipped_to_read_what_the_verifier_rejects():
    data, _ = READER_CASES["reshape-element-count"]
    module = read_flatbuffer(data, verify_ir=False)
    assert [op.name for op in module.functions[0].ops if op.name == "tfl.reshape"]


def test_signature_output_names_are_positional():
    def rename(model: fb.ModelT) -> None:
        sg = model.subgraphs[0]
        sg.tensors.append(fb.TensorT())
        sg.tensors[-1].shape, sg.tensors[-1].name, sg.tensors[-1].buffer = [1, 4], "z", 0
        sg.operators[3].outputs = [8]
        relu = fb.OperatorT()
        relu.opcodeIndex, relu.inputs, relu.outputs = 3, [7], [9]  # a second softmax
        sg.operators.append(relu)
        sg.outputs = [9, 8]
        out_first = fb.TensorMapT()
        out_first.name, out_first.tensorIndex = "second", 8
        model.signatureDefs[0].outputs = [out_first]  # names only the tensor in position 1

    module = read_flatbuffer(edit("float", rename))
    assert module.functions[0].attributes["output_names"] == ["output_0", "second"]


def _zip_with_empty_name() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("labels.txt", b"a\nb\n")
    raw = bytearray(buf.getvalue())
    # Set the file-name length to 0 in the central directory entry (offset 28 in it).
    central = raw.index(b"PK\x01\x02")
    raw[central + 28 : central + 30] = b"\x00\x00"
    return bytes(raw)


def test_an_unreadable_associated_files_archive_counts_as_none():
    data = SEEDS["float"] + _zip_with_empty_name()
    assert read_associated_files(data) == {}
    assert inspect_model(data)["associated_files"] == []
    read_flatbuffer(data)


def test_associated_files_of_the_metadata_seed_are_read():
    files = read_associated_files(SEEDS["metadata"])
    assert files == {"labels.txt": b"a\nb\nc\nd\n", "notes.txt": b"notes"}
    info = read_model_metadata(SEEDS["metadata"])
    assert info is not None and info.outputs[0].label_files[0].data == b"a\nb\nc\nd\n"


@pytest.mark.parametrize("name", sorted(READER_CASES))
def test_inspect_and_metadata_never_raise_raw_errors(name):
    data, _ = READER_CASES[name]
    try:
        format_report(inspect_model(data))
    except InspectError as e:
        assert "\n" not in str(e)
    try:
        read_model_metadata(data)
    except MetadataError as e:
        assert "\n" not in str(e)


def test_inspect_names_an_input_tensor_out_of_range():
    data, _ = READER_CASES["input-index-past-end"]
    with pytest.raises(InspectError, match="subgraph 0 inputs names tensor 9, but there are 9"):
        inspect_model(data)


# --- fuzzing ---------------------------------------------------------------------------------


def test_fuzz_short_run_finds_nothing():
    result = fuzz.fuzz(list(fuzz.TARGETS), count=150, seed=0)
    assert not result.findings, result.summary()
    # Not vacuous: most mutants are refused with the documented errors, some still read.
    for target, n in result.inputs.items():
        assert n == 150 and 0 < result.refused[target] < n, result.summary()


def test_fuzz_mutants_replay_by_index():
    a = fuzz.mutate(SEEDS["float"], random.Random("0:reader:7"), [SEEDS["int8"]])
    b = fuzz.mutate(SEEDS["float"], random.Random("0:reader:7"), [SEEDS["int8"]])
    assert a == b != SEEDS["float"]


def test_fuzz_reports_an_undocumented_exception(monkeypatch):
    def broken(data: bytes) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setitem(fuzz.TARGETS, "reader", broken)
    result = fuzz.fuzz(["reader"], count=3, seed=0)
    assert len(result.findings) == 3 and "IndexError" in result.findings[0].error


def _corrupt_files() -> list[Path]:
    return sorted(p for p in CORRUPT.iterdir() if p.suffix in (".tflite", ".txt"))


def test_corrupt_regression_files_exist():
    assert len(_corrupt_files()) >= 5


@pytest.mark.parametrize("path", _corrupt_files(), ids=lambda p: p.name)
def test_corrupt_regression_files_are_refused_cleanly(path):
    data = path.read_bytes()
    targets = ["parser"] if path.suffix == ".txt" else ["reader", "inspect", "metadata"]
    for target in targets:
        _, finding = fuzz.run_one(target, data)
        assert finding is None, f"{target}: {finding}"


# --- the command line: exit codes and one-line errors ------------------------------------------


def _files(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in directory.rglob("*")
        if p.is_file()
    }


def run_cli(capsys, tmp_path: Path, *argv: str) -> tuple[int, str]:
    """Run `tflconv ARGV` in-process; returns (exit code, stderr). Asserts the contract of a
    refused input: one line, no traceback, no new or changed file in tmp_path."""
    before = _files(tmp_path)
    try:
        code = cli.main(list(argv))
    except SystemExit as e:  # argparse usage errors
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert _files(tmp_path) == before, "a bad input must leave no file behind and change none"
    return code, err


def _one_error_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tflconv: error: "), err


CORRUPT_FILE_COMMANDS = [
    ["inspect", "{m}"],
    ["inspect", "{m}", "--ir"],
    ["opt", "{m}", "-p", "canonicalize"],
    ["opt", "{m}", "-p", "dce", "-o", "{d}/out.tflite"],
    ["metadata", "show", "{m}"],
    ["metadata", "add", "{m}", "-o", "{d}/out.tflite", "--name", "x"],
    ["metadata", "remove", "{m}", "-o", "{d}/out.tflite"],
    ["analyze", "{m}"],
    ["convert", "{m}", "-o", "{d}/out.tflite"],
]


def _fill(argv: list[str], model: Path, directory: Path) -> list[str]:
    return [a.format(m=model, d=directory) for a in argv]


_PICKS = ["input-index-past-end", "operand-index-past-end", "enum-value", "while-subgraph-index",
          "reshape-element-count", "opcode-index", "quant-min-max", "signature-subgraph"]  # fmt: skip


@pytest.mark.parametrize("argv", CORRUPT_FILE_COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("name", _PICKS)
def test_every_command_refuses_a_corrupt_tflite_with_exit_2(capsys, tmp_path, name, argv):
    model = tmp_path / "model.tflite"
    model.write_bytes(READER_CASES[name][0])
    code, err = run_cli(capsys, tmp_path, *_fill(argv, model, tmp_path))
    assert code == 2, err
    _one_error_line(err)


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage", b"\x00\x00\x00\x00TFL3", b"\x00\x00\x00\x00TFL3" + b"\xff" * 64],
    ids=["empty", "garbage", "identifier-only", "bad-root"],
)
@pytest.mark.parametrize("argv", CORRUPT_FILE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_an_unreadable_tflite_with_exit_2(capsys, tmp_path, content, argv):
    model = tmp_path / "model.tflite"
    model.write_bytes(content)
    code, err = run_cli(capsys, tmp_path, *_fill(argv, model, tmp_path))
    assert code == 2, err
    _one_error_line(err)


@pytest.mark.parametrize("argv", CORRUPT_FILE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_names_a_missing_input(capsys, tmp_path, argv):
    code, err = run_cli(capsys, tmp_path, *_fill(argv, tmp_path / "missing.tflite", tmp_path))
    assert code == 2, err
    _one_error_line(err)
    assert "missing.tflite" in err


def _good_model(tmp_path: Path) -> Path:
    model = tmp_path / "model.tflite"
    model.write_bytes(SEEDS["float"])
    return model


@pytest.mark.parametrize(
    "argv,words",
    [
        (["opt", "{m}", "-p", "dce", "-o", "{d}"], "is a directory"),
        (["opt", "{m}", "-p", "dce", "-o", "{m}/x.tflite"], "cannot write"),
        (["opt", "{m}", "-p", "canonicalize,no-such-pass"], "unknown pass 'no-such-pass'"),
        (["opt", "{m}", "-p", "canonicalize{{bogus=1}}"], "has no option 'bogus'"),
        (["opt", "{m}", "--print-ir-after", "nope"], "unknown pass 'nope'"),
        (["inspect", "{m}", "--extract-files", "{m}"], "cannot write"),
        (["inspect", "{m}", "--graph", "{d}"], "is a directory"),
        (["metadata", "add", "{m}", "-o", "{d}"], "is a directory"),
        (["metadata", "add", "{m}", "-o", "{d}/o.tflite", "--input-range", "1"], "expected A:B"),
        (["metadata", "add", "{m}", "-o", "{d}/o.tflite", "--from-json", "{d}/no.json"], "no.json"),
        (["metadata", "remove", "{m}", "-o", "{m}/sub/x.tflite"], "cannot write"),
        (["metadata", "show", "{m}"], "has no TFLITE_METADATA"),
        (["convert", "{m}"], "already a .tflite model"),
        (["convert", "{d}/model.tflite.pb", "-o", "{d}/o.tflite"], "no such file"),
        (["convert", "{m}", "--pass-pipeline", "canonicalize,no-such-pass"], "already a .tflite"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_bad_paths_and_options_are_one_line_exit_2(capsys, tmp_path, argv, words):
    model = _good_model(tmp_path)
    code, err = run_cli(capsys, tmp_path, *_fill(argv, model, tmp_path))
    assert code == 2, err
    if "-p" in argv:  # a pipeline error: the line, then the pipeline with a caret under the error
        err = err.splitlines()[0]
    _one_error_line(err)
    assert words in err, err


@pytest.mark.parametrize(
    "text,words",
    [
        (b"\xff\xfe\x00garbage", "not UTF-8 text (byte 0"),
        (b"func.func @f() -> () {\n  %x = \n}", "error"),
        (b'"tfl.nope"(', "error"),
    ],
    ids=["non-utf8", "syntax", "truncated"],
)
def test_opt_bad_ir_text_is_exit_2(capsys, tmp_path, text, words):
    path = tmp_path / "in.mlir"
    path.write_bytes(text)
    code, err = run_cli(capsys, tmp_path, "opt", str(path), "-p", "dce", "-o", str(tmp_path / "o"))
    assert code == 2, err
    assert words in err


def test_opt_ir_that_fails_verification_is_exit_2(capsys, tmp_path):
    path = tmp_path / "in.mlir"
    path.write_text(
        "func.func @f(%x: tensor<2xf32>) -> (tensor<2xf32>) {\n"
        '  %y = "tfl.softmax"(%x, %x) {beta = 1.0} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>\n'
        '  "func.return"(%y) : (tensor<2xf32>) -> ()\n}\n'
    )
    code, err = run_cli(capsys, tmp_path, "opt", str(path))
    assert code == 2 and "operand" in err, err


def test_input_shapes_accepts_a_leading_minus_without_equals():
    assert cli._normalize(["convert", "--input_shapes", "-1,4", "m.pb"]) == [
        "convert",
        "--input_shapes=-1,4",
        "m.pb",
    ]
    args = cli.build_parser().parse_args(
        cli._normalize(["convert", "g.pb", "--input-shapes", "-1,4:2", "-o", "x.tflite"])
    )
    assert args.input_shapes == "-1,4:2"


def test_an_escaping_internal_error_is_exit_3_with_one_line(capsys, tmp_path, monkeypatch):
    import tflconv.tools.inspect as inspect_tool

    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(inspect_tool, "inspect_model", bug)
    code, err = run_cli(capsys, tmp_path, "inspect", str(_good_model(tmp_path)))
    assert code == 3, err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError" in err and "--debug" in err


def test_an_escaping_documented_error_is_exit_2(capsys, tmp_path, monkeypatch):
    import tflconv.tools.inspect as inspect_tool

    def refuse(*args, **kwargs):
        raise ReadError("subgraph 0: something named")

    monkeypatch.setattr(inspect_tool, "inspect_model", refuse)
    code, err = run_cli(capsys, tmp_path, "inspect", str(_good_model(tmp_path)))
    assert code == 2 and err == "tflconv: error: subgraph 0: something named\n"


def test_keyboard_interrupt_in_a_command_is_exit_130(capsys, tmp_path, monkeypatch):
    import tflconv.tools.inspect as inspect_tool

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inspect_tool, "inspect_model", interrupted)
    for _ in range(2):  # every call reports its own interrupt
        code, err = run_cli(capsys, tmp_path, "inspect", str(_good_model(tmp_path)))
        assert code == 130 and err == "tflconv: interrupted (SIGINT); no output written\n"


# --- the Python API ----------------------------------------------------------------------------


def _keras_model():
    keras = pytest.importorskip("keras")
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(3, name="d")(inputs))


@pytest.mark.parametrize("where", ["directory", "under-a-file", "missing-parents-under-a-file"])
def test_api_output_path_errors_are_converter_errors(tmp_path, where):
    from tflconv.api.converter import ConverterError
    from tflconv.api.files import check_output_path

    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    path = {
        "directory": tmp_path,
        "under-a-file": blocker / "m.tflite",
        "missing-parents-under-a-file": blocker / "a" / "b" / "m.tflite",
    }[where]
    with pytest.raises(ConverterError) as info:
        check_output_path(path, None)
    assert info.value.phase == "write" and "cannot write" in str(info.value)


def test_api_convert_refuses_a_directory_output_before_converting(tmp_path):
    import tflconv
    from tflconv.api.converter import ConverterError

    with pytest.raises(ConverterError, match="is a directory"):
        tflconv.convert(_keras_model(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_api_a_tflite_source_is_named(tmp_path):
    from tflconv.api.converter import ConverterError, TFLiteConverter

    model = _good_model(tmp_path)
    with pytest.raises(ConverterError, match="already a .tflite model"):
        TFLiteConverter(str(model)).convert()


# --- convert: --verify-inputs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    model = _keras_model()
    path = tmp_path_factory.mktemp("keras") / "dense.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    "arrays,words",
    [
        ({"x": np.zeros((2, 5), np.float32)}, "has shape [2, 5], the model takes [None, 4]"),
        ({"x": np.zeros((4,), np.float32)}, "has shape [4]"),
    ],
    ids=["wrong-dim", "wrong-rank"],
)
def test_verify_inputs_with_a_wrong_shape_is_a_bad_input(
    capsys, tmp_path, keras_file, arrays, words
):
    npz = tmp_path / "inputs.npz"
    np.savez(npz, **arrays)
    out = tmp_path / "out.tflite"
    code, err = run_cli(
        capsys, tmp_path, "convert", str(keras_file), "-o", str(out), "--verify",
        "--verify-inputs", str(npz),
    )  # fmt: skip
    assert code == 2, err
    assert "--verify-inputs" in err and words in err, err
    assert not out.exists()


def test_verify_inputs_with_the_right_shape_verifies(capsys, tmp_path, keras_file):
    npz = tmp_path / "inputs.npz"
    np.savez(npz, x=np.ones((3, 4), np.float32))
    out = tmp_path / "out.tflite"
    code = cli.main(
        ["convert", str(keras_file), "-o", str(out), "--verify", "--verify-inputs", str(npz)]
    )
    assert code == 0, capsys.readouterr().err
    assert "verify: passed" in capsys.readouterr().out and out.exists()


@pytest.mark.parametrize(
    "output",
    ["{d}", "{d}/blocker/x.tflite", "{k}", "{d}/model.keras"],
    ids=["directory", "under-a-file", "same-as-input", "input-copy"],
)
def test_convert_output_path_errors_come_before_converting(capsys, tmp_path, keras_file, output):
    (tmp_path / "blocker").write_bytes(b"x")
    source = keras_file if "{k}" in output else tmp_path / "model.keras"
    if source != keras_file:
        source.write_bytes(keras_file.read_bytes())
    path = output.format(d=tmp_path, k=keras_file)
    before = keras_file.read_bytes()
    code, err = run_cli(capsys, tmp_path, "convert", str(source), "-o", path)
    assert code == 2, err
    _one_error_line(err)
    assert keras_file.read_bytes() == before


@pytest.mark.parametrize(
    "argv,words",
    [
        (["{k}", "--pass-pipeline", "canonicalize,no-such-pass"], "unknown pass 'no-such-pass'"),
        (["{k}", "--input_shapes", "-1,4,4"], "does not fit input"),
        (["{k}", "--verify", "--verify-inputs", "{d}/none.npz"], "no such file"),
        (["{k}", "--verify", "--verify-inputs", "{d}/other.npz"], "no array for input 'x'"),
        (["{d}/garbage.keras"], "garbage.keras"),
        (["{d}/garbage.pb"], "garbage.pb"),
        (["{d}/empty_dir"], "empty_dir"),
        (["{k}", "--target-ops", "NOPE"], "NOPE"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[1:]) or v[0].rsplit("/", 1)[-1],
)
def test_convert_bad_inputs_are_one_line_exit_2(capsys, tmp_path, keras_file, argv, words):
    (tmp_path / "garbage.keras").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "garbage.pb").write_bytes(b"\x0a\xff\xff\xff garbage")
    (tmp_path / "empty_dir").mkdir()
    np.savez(tmp_path / "other.npz", y=np.zeros((1, 4), np.float32))
    out = tmp_path / "out" / "m.tflite"
    filled = [a.format(k=keras_file, d=tmp_path) for a in argv]
    code, err = run_cli(capsys, tmp_path, "convert", *filled, "-o", str(out))
    assert code == 2, err
    _one_error_line(err)
    assert words in err, err


def test_convert_a_write_failure_after_converting_is_exit_2(capsys, tmp_path, keras_file):
    if not Path("/proc/self").exists():
        pytest.skip("needs /proc, where no file can be created")
    code, err = run_cli(capsys, tmp_path, "convert", str(keras_file), "-o", "/proc/m.tflite")
    assert code == 2, err
    _one_error_line(err)
    assert "cannot write /proc/m.tflite" in err


def test_opt_a_constant_too_large_to_build_is_exit_2(capsys, tmp_path):
    path = tmp_path / "in.mlir"
    path.write_text(
        "func.func @f() -> (tensor<99999999999x99999xf32>) {\n"
        '  %c = "arith.constant"() {value = dense<1.0> : tensor<99999999999x99999xf32>} : () -> '
        "tensor<99999999999x99999xf32>\n"
        '  "func.return"(%c) : (tensor<99999999999x99999xf32>) -> ()\n}\n'
    )
    code, err = run_cli(capsys, tmp_path, "opt", str(path))
    assert code == 2, err
    # A parse error: `file:line:col: error: ...` with the line and a caret, like every other.
    assert err.startswith(f"{path}:2:") and "does not fit" in err and "Traceback" not in err


def test_fuzz_reports_a_hang(monkeypatch):
    def slow(data: bytes) -> None:
        while True:
            pass

    monkeypatch.setitem(fuzz.TARGETS, "reader", slow)
    result = fuzz.fuzz(["reader"], count=1, seed=0, hang_seconds=0.2)
    assert [f.error.split(":")[0] for f in result.findings] == ["hang"]
