"""Large-model I/O without copies: conversions stream the .tflite to their output file (the same
bytes `convert()` returns, whole or not at all), `convert()` of a large model goes through a
temporary file, and `read_flatbuffer_file` memory-maps a .tflite instead of reading it."""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("ai_edge_litert.interpreter")

from e2e_util import run_litert  # noqa: E402

import tflconv  # noqa: E402
from tflconv.api import converter as api  # noqa: E402
from tflconv.api import files  # noqa: E402
from tflconv.cli import main as cli_main  # noqa: E402
from tflconv.core import arrays  # noqa: E402
from tflconv.core import io as file_io  # noqa: E402
from tflconv.core.printer import print_module  # noqa: E402
from tflconv.tflite import buffers  # noqa: E402
from tflconv.tflite.reader import ReadError, read_flatbuffer, read_flatbuffer_file  # noqa: E402
from tflconv.tflite.writer import write_flatbuffer  # noqa: E402


def mlp(widths: tuple[int, ...], seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((widths[0],), name="x")
    x = inputs
    for i, w in enumerate(widths[1:]):
        x = keras.layers.Dense(w, activation="relu" if i < len(widths) - 2 else None)(x)
    return keras.Model(inputs, x)


def conv_net(channels: int, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


MODELS = {
    "mlp-f32": lambda: mlp((16, 64, 8)),
    "mlp-wide": lambda: mlp((300, 257, 10), seed=3),
    "conv-bn": lambda: conv_net(12),
}


def _inputs(model: keras.Model, batch: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((batch, *t.shape[1:])).astype(np.float32) for t in model.inputs]


def _temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --- streamed output ---------------------------------------------------------------------------


@pytest.mark.parametrize("buffer_offset", [False, True], ids=["inline", "offset-layout"])
@pytest.mark.parametrize("name", list(MODELS))
def test_convert_to_a_path_writes_the_bytes_convert_returns(tmp_path, name, buffer_offset):
    model = MODELS[name]()
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv._experimental_use_buffer_offset = buffer_offset
    expected = conv.convert()
    out = tmp_path / "sub" / "model.tflite"
    result = conv.convert_with_report(out)
    assert result.path == os.fspath(out) and result.data is None
    assert out.read_bytes() == expected and result.size == len(expected)
    assert result.tflite == expected
    assert _temp_files(out.parent) == []
    x = _inputs(model)
    (got,) = run_litert(out.read_bytes(), x)
    np.testing.assert_allclose(got, model(x[0]).numpy(), rtol=1e-5, atol=1e-5)


def test_short_form_streams_and_returns_the_file_bytes(tmp_path):
    model = MODELS["mlp-wide"]()
    out = tmp_path / "m.tflite"
    returned = tflconv.convert(model, out)
    assert returned == out.read_bytes() == tflconv.convert(model)


def test_a_failure_while_streaming_leaves_no_file(tmp_path, monkeypatch):
    """The writer fails half-way through the weights: no output, no temporary file, and an
    existing file at the path is left as it was."""
    model = MODELS["mlp-wide"]()
    out = tmp_path / "m.tflite"
    out.write_bytes(b"old contents")

    def write_half(self, f):
        chunks = list(self.chunks())
        for chunk in chunks[: len(chunks) // 2]:
            f.write(chunk)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(buffers.PackedModel, "write_to", write_half)
    with pytest.raises(tflconv.ConverterError, match="cannot write .*No space left"):
        tflconv.convert(model, out)
    assert out.read_bytes() == b"old contents"
    assert _temp_files(tmp_path) == []


def test_a_write_failure_is_a_converter_error(tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(file_io, "atomic_file", refuse)
    with pytest.raises(tflconv.ConverterError, match="cannot write .*Permission denied") as e:
        tflconv.convert(MODELS["mlp-f32"](), tmp_path / "m.tflite")
    assert e.value.phase == "write"
    assert not (tmp_path / "m.tflite").exists()


def test_an_unconvertible_model_writes_nothing(tmp_path):
    class Digamma(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
        def __call__(self, x):
            return tf.math.digamma(x)

    out = tmp_path / "m.tflite"
    with pytest.raises(tflconv.ConverterError, match="Digamma"):
        tflconv.convert([Digamma().__call__], out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["mlp-wide", "conv-bn"])
def test_large_models_spill_through_a_temporary_file(monkeypatch, name):
    """`convert()` of a model over SPILL_BYTES streams to a temporary file and reads it back
    after the IR is released: same bytes, and the temporary file is gone."""
    model = MODELS[name]()
    in_memory = tflconv.TFLiteConverter.from_keras_model(model).convert()
    before = set(os.listdir(tempfile.gettempdir()))
    monkeypatch.setattr(files, "SPILL_BYTES", 0)
    spilled = tflconv.TFLiteConverter.from_keras_model(model).convert()
    assert isinstance(spilled, bytes) and spilled == in_memory
    mine = f"tflconv-{os.getpid()}-"
    assert not {f for f in os.listdir(tempfile.gettempdir()) if f.startswith(mine)} - before


def test_cli_streams_the_same_bytes(tmp_path, capsys):
    model = MODELS["conv-bn"]()
    path = tmp_path / "m.keras"
    model.save(path)
    expected = tflconv.convert(str(path))
    out = tmp_path / "out" / "m.tflite"
    assert cli_main(["convert", str(path), "-o", str(out)]) == 0, capsys.readouterr().err
    assert out.read_bytes() == expected
    verified = tmp_path / "verified.tflite"
    assert cli_main(["convert", str(path), "-o", str(verified), "--verify"]) == 0
    assert "verify: passed" in capsys.readouterr().out
    assert verified.read_bytes() == expected
    assert _temp_files(tmp_path) == [] and _temp_files(out.parent) == []


# --- memory-mapped reading ---------------------------------------------------------------------


def _open_paths() -> tuple[set[str], str]:
    """The files this process holds open, and its memory map listing (Linux /proc)."""
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return fds, Path("/proc/self/maps").read_text()


@pytest.mark.parametrize("buffer_offset", [False, True], ids=["inline", "offset-layout"])
@pytest.mark.parametrize("name", list(MODELS))
def test_mapped_reader_round_trips(tmp_path, name, buffer_offset):
    model = MODELS[name]()
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv._experimental_use_buffer_offset = buffer_offset
    path = tmp_path / "m.tflite"
    data = conv.convert_with_report(path).tflite
    mapped = read_flatbuffer_file(path)
    copied = read_flatbuffer(data)
    assert print_module(mapped, elide_large=False) == print_module(copied, elide_large=False)
    rewritten = write_flatbuffer(mapped, buffer_offset=buffer_offset or None)
    assert rewritten == write_flatbuffer(copied, buffer_offset=buffer_offset or None)
    x = _inputs(model)
    np.testing.assert_allclose(
        run_litert(rewritten, x)[0], model(x[0]).numpy(), rtol=1e-5, atol=1e-5
    )
    weights = [
        op.attributes["value"]
        for op in mapped.walk()
        if op.name == "arith.constant" and op.attributes["value"].size >= 64
    ]
    assert weights and all(not w.flags.writeable for w in weights)  # views of the mapping


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_mapped_file_is_not_held_open_after(tmp_path):
    path = tmp_path / "m.tflite"
    tflconv.convert(MODELS["mlp-wide"](), path)
    original = path.read_bytes()
    module = read_flatbuffer_file(path)
    text = print_module(module, elide_large=False)
    # Replacing the file (as every tflconv writer does: a new file renamed over it) leaves the
    # mapped constants as they were.
    file_io.write_atomic(path, b"replaced")
    assert print_module(module, elide_large=False) == text
    assert print_module(read_flatbuffer(original), elide_large=False) == text
    del module
    gc.collect()
    fds, maps = _open_paths()
    assert not any(str(tmp_path) in p for p in fds), fds
    assert str(tmp_path) not in maps


@pytest.mark.parametrize(
    "contents,words",
    [(b"", "not a .tflite model"), (b"12345678 not a model", "not a .tflite model")],
    ids=["empty", "garbage"],
)
def test_mapped_reader_refuses_bad_files_like_the_bytes_reader(tmp_path, contents, words):
    path = tmp_path / "bad.tflite"
    path.write_bytes(contents)
    with pytest.raises(ReadError, match=words) as mapped:
        read_flatbuffer_file(path)
    with pytest.raises(ReadError) as copied:
        read_flatbuffer(contents)
    assert str(mapped.value) == str(copied.value)
    gc.collect()
    assert not any(str(tmp_path) in p for p in _open_paths()[0])


# --- numpy page advice -------------------------------------------------------------------------


def _hugepage_advice() -> bool:
    setter = arrays._hugepage_setter()
    current = setter(True)
    setter(current)
    return current


@pytest.mark.skipif(arrays._hugepage_setter() is None, reason="numpy without the switch")
@pytest.mark.parametrize("initial", [True, False])
def test_conversions_run_without_huge_page_advice_and_restore_it(monkeypatch, initial):
    setter = arrays._hugepage_setter()
    previous = setter(initial)
    try:
        seen = []
        real_write = api.write_tflite

        def spy(module, buffer_offset=False):
            seen.append(_hugepage_advice())
            return real_write(module, buffer_offset)

        monkeypatch.setattr(api, "write_tflite", spy)
        tflite = tflconv.convert(MODELS["mlp-f32"]())
        assert seen == [False] and _hugepage_advice() is initial
        with pytest.raises(ZeroDivisionError), arrays.small_pages():
            assert _hugepage_advice() is False
            _ = 1 / 0
        assert _hugepage_advice() is initial
        x = _inputs(MODELS["mlp-f32"]())
        (got,) = run_litert(tflite, x)
        np.testing.assert_allclose(got, MODELS["mlp-f32"]()(x[0]).numpy(), rtol=1e-5, atol=1e-5)
    finally:
        setter(previous)
