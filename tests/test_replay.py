"""Dumps replay exactly: `tflconv opt DUMP -o model.tflite` writes the conversion's .tflite bit for
bit from every pass dump of a real model; weights live once in the dump's sidecar; a constant
whose data the text left out is an error naming it the moment its values are needed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tflconv.cli import main  # noqa: E402
from tflconv.core.parser import ParseError, parse_module  # noqa: E402
from tflconv.core.printer import (  # noqa: E402
    MissingDataError,
    is_elided,
    print_module,
)
from tflconv.core.resources import ResourceFile  # noqa: E402


def _convert(tmp: Path, model_path: Path, *extra: str) -> tuple[bytes, Path]:
    out, dumps = tmp / "model.tflite", tmp / "dumps"
    # With CONVERSION_METADATA: it is in the IR from the start, so every dump carries it.
    code = main(["convert", str(model_path), "-o", str(out), "--dump-dir", str(dumps), *extra])
    assert code == 0
    return out.read_bytes(), dumps


def _replay_all(tmp: Path, dumps: Path, expected: bytes, *extra: str) -> list[str]:
    replayed = []
    for dump in sorted(dumps.glob("*.mlir")):
        out = tmp / f"replay_{dump.stem}.tflite"
        assert main(["opt", str(dump), "-o", str(out), *extra]) == 0, dump.name
        assert out.read_bytes() == expected, f"{dump.name} does not replay bit for bit"
        replayed.append(dump.stem)
    return replayed


@pytest.fixture(scope="module")
def cnn(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("keras")
    from tests.models import small_cnn

    root = tmp_path_factory.mktemp("replay")
    path = root / "cnn.keras"
    small_cnn(seed=0).save(path)
    return root, path


@pytest.fixture(scope="module")
def float_dumps(cnn) -> tuple[Path, bytes, Path]:
    root, path = cnn
    tmp = root / "float"
    tmp.mkdir()
    tflite, dumps = _convert(tmp, path)
    return tmp, tflite, dumps


def test_every_pass_dump_replays_bit_for_bit(float_dumps) -> None:
    tmp, tflite, dumps = float_dumps
    passes = (dumps / "pipeline.txt").read_text().strip().split(",")
    replayed = _replay_all(tmp, dumps, tflite)
    assert len(replayed) == len(passes) + 1  # the input and one per pass
    # Each dump names the rest of the pipeline in its reproducer header.
    first = (dumps / f"{replayed[1]}.mlir").read_text().splitlines()[0]
    assert first == f'// tflconv-reproducer: pipeline="{",".join(passes[1:])}"'


def test_dumps_share_one_weight_file(float_dumps) -> None:
    _, _, dumps = float_dumps
    texts = [p.read_text() for p in sorted(dumps.glob("*.mlir"))]
    # Weights are not in the texts (no hex blobs) but in weights.bin, each distinct array once:
    # its size stays below two copies of the largest dump's weights, though 10 dumps refer to it.
    assert not any('"0x' in t for t in texts)
    refs = [line for t in texts for line in t.splitlines() if '"file:weights.bin:' in line]
    assert refs
    per_dump = max(
        sum(int(line.rsplit(":", 1)[1].rstrip('",')) for line in t.splitlines()
            if '"file:weights.bin:' in line)
        for t in texts
    )  # fmt: skip
    size = (dumps / "weights.bin").stat().st_size
    assert per_dump <= size < 3 * per_dump


def test_replayed_module_matches_the_dumped_values(float_dumps) -> None:
    _, _, dumps = float_dumps
    path = sorted(dumps.glob("*_legalize-tf.mlir"))[0]
    module = parse_module(path.read_text(), str(path))
    arrays = [op.attributes["value"] for op in module.walk() if op.name == "arith.constant"]
    assert arrays and not any(is_elided(a) for a in arrays)
    big = [a for a in arrays if a.size > 16]
    assert big and all(np.abs(a).sum() > 0 for a in big)  # real weights, not zeros


def test_elided_text_refuses_to_fold_or_write(float_dumps, capsys) -> None:
    tmp, _, dumps = float_dumps
    module = parse_module((dumps / "00_input.mlir").read_text(), str(dumps / "00_input.mlir"))
    elided = tmp / "elided.mlir"
    elided.write_text(print_module(module))  # the default printer elides large constants
    assert "dense_resource<" in elided.read_text()
    capsys.readouterr()
    # A pass that needs the values (legalize-tf transposes filters) fails, naming the constant.
    out = tmp / "never.tflite"
    assert main(["opt", str(elided), "-p", "default", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "has no data" in err and "dense_resource<" in err
    assert not out.exists()
    # The writer needs every value: writing without running a pass fails the same way.
    assert main(["opt", str(elided), "-p", "", "-o", str(out)]) == 1
    assert "has no data" in capsys.readouterr().err
    assert not out.exists()
    # Printing the text back (nothing needs the values) still works.
    assert main(["opt", str(elided), "-p", "canonicalize,cse"]) == 0
    assert "dense_resource<" in capsys.readouterr().out


@pytest.mark.parametrize("dtype", ["float32", "int8", "int32", "float16"])
def test_placeholder_values_raise_instead_of_reading_zeros(dtype) -> None:
    text = (
        "func.func @main() -> (tensor<4x8xDT>) {\n"
        '  %w = "arith.constant"() {value = dense_resource<w> : tensor<4x8xDT>} : () -> '
        "tensor<4x8xDT>\n"
        '  "func.return"(%w) : (tensor<4x8xDT>) -> ()\n}\n'
    ).replace("DT", {"float32": "f32", "int8": "i8", "int32": "i32", "float16": "f16"}[dtype])
    (op, _) = list(parse_module(text).functions[0].ops)
    w = op.attributes["value"]
    assert w.shape == (4, 8) and w.dtype == np.dtype(dtype)
    assert is_elided(w.reshape(8, 4)) and is_elided(np.asarray(w).T)
    for read in (
        lambda: w + 1,
        lambda: np.transpose(w),
        lambda: w.sum(),
        lambda: w.tobytes(),
        lambda: w[0, 0],
        lambda: float(w[:1, :1]),
        lambda: np.concatenate([w, w]),
    ):
        with pytest.raises(MissingDataError, match="dense_resource<w>"):
            read()


def test_sidecar_round_trip_and_errors(tmp_path) -> None:
    from tflconv.core.ir import Function, Module, Operation
    from tflconv.core.types import TensorType

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((5, 7)).astype(np.float32), np.arange(40, dtype=np.int64)]
    fn = Function("main", [], [])
    for i, a in enumerate(arrays + arrays):  # the same data twice: stored once
        fn.block.append(
            Operation("arith.constant", [], [TensorType.of(a)], {"value": a},
                      result_names=[f"c{i}"])
        )  # fmt: skip
    fn.set_outputs([])
    store = ResourceFile(tmp_path / "w.bin")
    text = print_module(Module([fn]), elide_large=False, store=store.put)
    assert store.size < sum(a.nbytes for a in arrays) + 64
    (tmp_path / "m.mlir").write_text(text)
    back = parse_module(text, str(tmp_path / "m.mlir"))
    got = [op.attributes["value"] for op in back.walk() if op.name == "arith.constant"]
    for g, a in zip(got, arrays + arrays):
        assert g.dtype == a.dtype and np.array_equal(g, a)
    # A truncated or missing sidecar is a parse error naming the resource and the file.
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:50])
    with pytest.raises(ParseError, match="w.bin ends before byte"):
        parse_module(text, str(tmp_path / "m.mlir"))
    (tmp_path / "w.bin").unlink()
    with pytest.raises(ParseError, match="cannot read"):
        parse_module(text, str(tmp_path / "m.mlir"))


def test_int8_dumps_replay_bit_for_bit(cnn) -> None:
    root, path = cnn
    tmp = root / "int8"
    tmp.mkdir()
    data = tmp / "rep.npz"
    rng = np.random.default_rng(0)
    np.savez(data, image=rng.uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32))
    tflite, dumps = _convert(tmp, path, "--quantize", "int8", "--representative-data", str(data))
    # Dumps from before `calibrate` need the calibration samples again; later ones do not.
    replayed = _replay_all(tmp, dumps, tflite, "--representative-data", str(data))
    assert any(stem.endswith("_quantize") for stem in replayed)


def test_a_new_run_replaces_the_old_dumps(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    values = ", ".join(f"{x:.3f}" for x in rng.standard_normal(32))
    text = (
        "func.func @main(%x: tensor<32xf32>) -> (tensor<32xf32>) {\n"
        f'  %w = "arith.constant"() {{value = dense<[{values}]> : tensor<32xf32>}} : () -> '
        "tensor<32xf32>\n"
        '  %y = "tf.AddV2"(%x, %w) {T = f32} : (tensor<32xf32>, tensor<32xf32>) -> tensor<32xf32>\n'
        '  "func.return"(%y) : (tensor<32xf32>) -> ()\n}\n'
    )
    src = tmp_path / "in.mlir"
    src.write_text(text)
    dumps = tmp_path / "d"
    dumps.mkdir()
    (dumps / "notes.txt").write_text("mine")
    assert main(["opt", str(src), "-p", "canonicalize,cse,dce", "--dump-dir", str(dumps)]) == 0
    assert (dumps / "03_dce.mlir").exists() and (dumps / "weights.bin").exists()
    assert main(["opt", str(src), "-p", "cse", "--dump-dir", str(dumps)]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in dumps.iterdir() if p.suffix == ".mlir")
    assert names == ["00_input.mlir", "01_cse.mlir"]  # nothing stale from the first run
    assert (dumps / "notes.txt").read_text() == "mine"
    back = parse_module((dumps / "01_cse.mlir").read_text(), str(dumps / "01_cse.mlir"))
    (w,) = [op.attributes["value"] for op in back.walk() if op.name == "arith.constant"]
    assert np.array_equal(w, parse_module(text).functions[0].block.first_op.attributes["value"])
