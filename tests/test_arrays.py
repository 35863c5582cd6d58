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
    got = arrays.contiguous(np.transpose(a, perm))
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


@pytest.mark.parametrize(("shape", "perm"), CASES)
def test_copy_into_a_scaled_view_keeps_its_values(
    shape: tuple[int, ...], perm: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folded batch norm scales a transposed weight in its memory layout (numpy's order K);
    the writer's copy of that array equals numpy's own C-order copy."""
    monkeypatch.setattr(arrays, "MIN_TILED_BYTES", 1024)
    rng = np.random.default_rng(1)
    view = np.transpose(rng.standard_normal(shape).astype(np.float32), perm)
    scale = rng.standard_normal(view.shape[0]).astype(np.float32)
    scaled = view * scale.reshape(-1, *[1] * (view.ndim - 1))
    assert np.transpose(scaled, np.argsort(perm)).flags.c_contiguous  # still the view's layout
    out = np.empty(scaled.shape, scaled.dtype)
    arrays.copy_into(out, scaled)
    np.testing.assert_array_equal(out, np.ascontiguousarray(scaled))


def test_byte_chunks_are_the_c_order_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrays, "MIN_TILED_BYTES", 1024)
    a = np.arange(3 * 3 * 40 * 70, dtype=np.float32).reshape(3, 3, 40, 70)
    for array in (a, np.transpose(a, (3, 0, 1, 2)), a[:, :, ::2], np.float32(7.0) * np.ones(())):
        array = np.asarray(array)
        chunks = list(arrays.byte_chunks(array, 5000))
        row = array[:1].nbytes if array.ndim else array.nbytes
        assert all(len(c) <= max(5000, row) for c in chunks)
        assert b"".join(chunks) == np.ascontiguousarray(array).tobytes()


def test_populate_keeps_contents_and_ignores_what_it_cannot_map() -> None:
    a = np.arange(3 << 20, dtype=np.uint8)[5:]  # large, not page aligned
    before = a.copy()
    arrays.populate(a)
    np.testing.assert_array_equal(a, before)
    arrays.populate(np.zeros(10))  # small: nothing to do


def test_flat_elements_and_same_bits_see_any_layout() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    view = np.transpose(a, (2, 0, 1))
    positions = np.array([0, 5, 23])
    np.testing.assert_array_equal(
        arrays.flat_elements(view, positions), np.ascontiguousarray(view).reshape(-1)[positions]
    )
    assert arrays.same_bits(view, np.ascontiguousarray(view))
    assert not arrays.same_bits(np.array([0.0]), np.array([-0.0]))  # equal values, other bits
    assert arrays.same_bits(np.array([np.nan]), np.array([np.nan]))


def test_reshaped_is_a_view_when_numpy_can_make_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrays, "MIN_TILED_BYTES", 1024)
    a = np.arange(2 * 30 * 40, dtype=np.float32).reshape(2, 30, 40)
    merged = arrays.reshaped(a, (60, 40))
    assert np.shares_memory(merged, a)
    view = np.transpose(a, (2, 0, 1))  # [40, 2, 30] -> [40, 60]: merges contiguous axes
    assert np.shares_memory(arrays.reshaped(view, (40, 60)), a)
    flat = arrays.reshaped(view, (-1,))  # needs a copy: the tiled one
    assert not np.shares_memory(flat, a)
    np.testing.assert_array_equal(flat, view.reshape(-1))
