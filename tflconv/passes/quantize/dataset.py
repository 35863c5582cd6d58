"""Representative datasets: where calibration samples come from, and their validation.

Accepted sources (`open_dataset`):
- a callable returning an iterable (tf.lite's `representative_dataset`): called once;
- an iterator or generator: iterated once (never twice: samples are consumed as they are
  calibrated, nothing is materialised up front);
- a list or tuple of samples;
- a path to an `.npz` file, or to a directory of `.npy` files: one array per input, named by
  the input name (or `arr_<i>` / `input_<i>` by position, or any single array for a
  one-input model), whose first axis runs over samples;
  a directory whose file names are not input names holds one sample per file (sorted by name)
  for a one-input model.

A sample is an array (one-input models), a list/tuple of arrays in input order, or a dict keyed
by input name (the SignatureDef names). Each array is checked against the model input: rank,
static dims, dtype kind (float data for float inputs, integers for integer inputs; float64 is
narrowed to float32) and finite values. A bad sample raises `DatasetError` naming the sample
index and the input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tflconv.core.types import TensorType, numpy_dtype

from .common import QuantizeError


class DatasetError(QuantizeError):
    """A representative-dataset problem: unreadable source or a sample that does not fit."""


@dataclass(frozen=True)
class InputSpec:
    """One model input: its SignatureDef name and IR type."""

    name: str
    type: TensorType


def open_dataset(source: Any, inputs: Sequence[InputSpec]) -> tuple[Iterator[Any], int | None]:
    """(iterator over raw samples, number of samples when known) for any accepted source."""
    if isinstance(source, str | os.PathLike):
        return _from_path(Path(source), inputs)
    if callable(getattr(source, "input_gen", None)):  # tf.lite.RepresentativeDataset(gen)
        source = source.input_gen
    if callable(source) and not hasattr(source, "__next__"):
        source = source()
    if isinstance(source, dict):
        raise DatasetError(
            "the representative dataset is a dict; give a list of samples (each sample may be "
            "a dict keyed by input name) or a callable yielding them"
        )
    if isinstance(source, list | tuple):
        return iter(source), len(source)
    if isinstance(source, Iterable):
        return iter(source), _length_hint(source)
    raise DatasetError(
        f"cannot read samples from a {type(source).__name__}: give a callable or iterable of "
        "samples, a list, an .npz file or a directory of .npy files"
    )


def _length_hint(obj: Any) -> int | None:
    try:
        n = len(obj)  # type: ignore[arg-type]
    except TypeError:
        return None
    return int(n)


def _from_path(path: Path, inputs: Sequence[InputSpec]) -> tuple[Iterator[Any], int | None]:
    if not path.exists():
        raise DatasetError(f"representative data {path}: no such file or directory")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".npy")
        if not files:
            raise DatasetError(f"representative data {path}: no .npy files in the directory")
        names = {p.stem for p in files}
        if len(inputs) > 1 or names & {s.name for s in inputs}:
            arrays = {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in files}
            return _stacked(arrays, inputs, str(path))
        return (np.load(p, allow_pickle=False) for p in files), len(files)
    if path.suffix != ".npz":
        raise DatasetError(f"representative data {path}: expected an .npz file or a directory")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - any unreadable file gets one clear message
        raise DatasetError(f"representative data {path}: cannot read: {e}") from e
    return _stacked(arrays, inputs, str(path))


def _stacked(
    arrays: dict[str, np.ndarray], inputs: Sequence[InputSpec], where: str
) -> tuple[Iterator[Any], int | None]:
    """Per-input arrays stacked along a first sample axis -> per-sample lists."""
    chosen: list[np.ndarray] = []
    for i, spec in enumerate(inputs):
        for key in (spec.name, f"arr_{i}", f"input_{i}"):
            if key in arrays:
                chosen.append(arrays[key])
                break
        else:
            if len(inputs) == 1 and len(arrays) == 1:
                chosen.append(next(iter(arrays.values())))
            else:
                raise DatasetError(
                    f"representative data {where}: no array for input {spec.name!r} "
                    f"(has {', '.join(sorted(arrays)) or 'nothing'})"
                )
    splits = [_sample_axis(a, s, where) for a, s in zip(chosen, inputs)]
    counts = {len(s) for s in splits}
    if len(counts) > 1:
        raise DatasetError(f"representative data {where}: inputs have different sample counts")
    n = counts.pop() if counts else 0
    return (list(parts) for parts in zip(*splits)), n


def _sample_axis(array: np.ndarray, spec: InputSpec, where: str) -> Sequence[np.ndarray]:
    rank = spec.type.rank
    if rank is not None and array.ndim == rank + 1:
        return [array[k] for k in range(array.shape[0])]
    if rank is not None and array.ndim == rank and rank > 0 and spec.type.shape[0] in (1, None):
        return [array[k : k + 1] for k in range(array.shape[0])]
    raise DatasetError(
        f"representative data {where}: array for input {spec.name!r} has shape "
        f"{tuple(array.shape)}; expected (samples, *{_shape_text(spec.type)})"
    )


def _shape_text(t: TensorType) -> str:
    if t.shape is None:
        return "(any shape)"
    return "(" + ", ".join("?" if d is None else str(d) for d in t.shape) + ")"


def normalize_sample(raw: Any, index: int, inputs: Sequence[InputSpec]) -> list[np.ndarray]:
    """One sample as a list of arrays in input order, validated (see the module docstring)."""
    if isinstance(raw, dict):
        names = [s.name for s in inputs]
        unknown = sorted(set(map(str, raw)) - set(names))
        if unknown:
            raise DatasetError(
                f"representative dataset sample {index}: unknown input(s) {unknown} "
                f"(the model's inputs are {names})"
            )
        missing = [n for n in names if n not in raw]
        if missing:
            raise DatasetError(
                f"representative dataset sample {index}: no value for input(s) {missing}"
            )
        arrays = [raw[n] for n in names]
    elif isinstance(raw, list | tuple):
        arrays = list(raw)
    else:
        arrays = [raw]
    if len(arrays) != len(inputs):
        raise DatasetError(
            f"representative dataset sample {index}: {len(arrays)} array(s) for "
            f"{len(inputs)} model input(s) ({', '.join(s.name for s in inputs)})"
        )
    return [_check(a, index, spec) for a, spec in zip(arrays, inputs)]


def _check(value: Any, index: int, spec: InputSpec) -> np.ndarray:
    where = f"representative dataset sample {index}, input {spec.name!r}"
    try:
        array = np.asarray(value)
    except Exception as e:  # noqa: BLE001
        raise DatasetError(f"{where}: not an array ({type(value).__name__}: {e})") from None
    want = numpy_dtype(spec.type.dtype)
    kind_ok = (
        (want.kind == "f" and array.dtype.kind == "f")
        or (want.kind in "iu" and array.dtype.kind in "iu")
        or (want.kind == "b" and array.dtype.kind == "b")
        or (want.kind == "O" and array.dtype.kind in "OSU")
    )
    if not kind_ok:
        raise DatasetError(f"{where}: dtype {array.dtype} does not fit the model input {want}")
    t = spec.type
    if t.shape is not None:
        bad_rank = array.ndim != len(t.shape)
        bad_dim = not bad_rank and any(
            d is not None and d != s for d, s in zip(t.shape, array.shape)
        )
        if bad_rank or bad_dim:
            raise DatasetError(
                f"{where}: shape {tuple(array.shape)} does not match the model input "
                f"{_shape_text(t)}"
            )
    if array.dtype != want:
        array = array.astype(want)
    if want.kind == "f" and not np.isfinite(array).all():
        what = "NaN" if np.isnan(array).any() else "Inf"
        raise DatasetError(f"{where}: contains {what} values")
    return np.asarray(array, order="C")


def progress_enabled(stream: Any = None) -> bool:
    """Progress bars only on a terminal and never under CI=true."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    import sys

    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable[Any], total: int | None, desc: str) -> Iterator[Any]:
    """`iterable` wrapped in a tqdm bar (samples/s) when enabled, else unchanged."""
    if not progress_enabled():
        yield from iterable
        return
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with keras; without it just iterate
        yield from iterable
        return
    yield from tqdm(iterable, total=total, desc=desc, unit="sample", leave=False)


SampleSource = Callable[[], Iterable[Any]] | Iterable[Any] | str | os.PathLike
