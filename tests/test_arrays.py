"""core/arrays.py: tiled copies of large transposed constants equal numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from tflconv.core import arrays

CASES = [
    ((600, 700), (1, 0)),  # FC weights [in, out] -> [out, in]
    ((3, 3, 160, 192), (3, 0, 1, 2)),  # conv HWIO -> OHWI
    ((3, 3, 192, 160), (2, 0, 1, 3)),  # transpose conv
    ((2, 300, 500), (0, 2, 1)),  # batch matmul RHS
    ((24, 24, 24, 24), (3, 2, 1, 0)),
    ((3, 3, 400, 400), (0, 1, 3, 2)),
    ((1, 1000, 1, 300), (3, 1, 2, 0)),  # size-1 axes
    ((5000, 70), (1, 0)),  # edge tiles
    ((37, 5000), (1, 0)),  # edge strips: rows not a multiple of 16, columns past 4096
    ((40, 50, 60), (2, 0, 1)),  # rotations: one matrix transpose
    ((40, 50, 60), (1, 2, 0)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.float64])
@pytest.mark.parametrize(("shape", "perm"), CASES)
def test_transposed_equals_numpy(
    shape: tuple[int, ...], perm: tuple[int, ...], dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrays, "MIN_TILED_BYTES", 1024)  # take the tiled path at test sizes
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 50).astype(dtype)
    got = arrays.transposed(a, perm)
    want = np.ascontiguousarray(np.transpose(a, perm))
    assert got.flags.c_contiguous and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_contiguous_of_a_matrix_transpose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrays, "MIN_TILED_BYTES", 1024)
    a = np.arange(33 * 4100, dtype=np.float32).reshape(33, 4100)
    got = arrays.contiguous(a.T)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, a.T)


def test_contiguous_returns_contiguous_inputs_as_they_are() -> None:
    a = np.arange(1 << 20, dtype=np.float32).reshape(1024, 1024)
    assert arrays.contiguous(a) is a
    sliced = a[:, ::2]  # not a transposition: a plain copy
    np.testing.assert_array_equal(arrays.contiguous(sliced), sliced)
