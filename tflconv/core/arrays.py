"""Array helpers for large constants (numpy only).

`small_pages()` turns off numpy's transparent-huge-page advice for the arrays made inside it.

`contiguous(view)` is `np.ascontiguousarray(view)`, done in cache-sized tiles when the view is a
large transposition: numpy copies a transposed matrix element by element along the output rows,
reading the source with a stride of a whole row, so every read misses the cache and the TLB
(a 4096 x 4096 float32 transpose takes ~1 s that way, ~0.3 s tiled). Weight layout changes
(MatMul [in, out] -> FULLY_CONNECTED [out, in], conv HWIO -> OHWI) go through it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

import numpy as np

TILE = 64
"""Tile edge (elements) along the two swapped axes: 64 x 64 float32 = 16 kB, within L1."""
MIN_TILED_BYTES = 1 << 20
"""Smaller arrays are copied directly (the tiling's Python loop would cost more)."""
MAX_TILES = 1 << 18
"""Above this many tile copies the Python loop would cost more than the cache misses."""


def contiguous(view: np.ndarray) -> np.ndarray:
    """A C-contiguous array equal to `view` (`view` itself when it already is one)."""
    view = np.asarray(view)
    if view.flags.c_contiguous or view.nbytes < MIN_TILED_BYTES or view.ndim < 2:
        return np.ascontiguousarray(view)
    if view.ndim == 2 and view.T.flags.c_contiguous:  # a matrix's .T
        return _transpose_rows(view.T)
    # The axis the source is densest along; when it is not the output's last axis, each output
    # row gathers from far-apart source addresses: copy tile by tile over these two axes.
    sizes = [(abs(s), a) for a, s in enumerate(view.strides) if view.shape[a] > 1]
    inner = min(sizes)[1] if sizes else view.ndim - 1
    last = view.ndim - 1
    if inner == last:
        return np.ascontiguousarray(view)
    # Other axes are walked one index at a time, so a tile stays small (H*W of a conv filter
    # would otherwise multiply its size); bounded so the Python loop stays cheap.
    others = [a for a in range(view.ndim) if a not in (inner, last)]
    tiles = -(-view.shape[inner] // TILE) * -(-view.shape[last] // TILE)
    if tiles * int(np.prod([view.shape[a] for a in others])) > MAX_TILES:
        return np.ascontiguousarray(view)
    out = np.empty(view.shape, view.dtype)
    index: list[slice | int] = [slice(None)] * view.ndim
    for position in np.ndindex(*(view.shape[a] for a in others)):
        for a, k in zip(others, position):
            index[a] = k
        for i in range(0, view.shape[inner], TILE):
            index[inner] = slice(i, i + TILE)
            for j in range(0, view.shape[last], TILE):
                index[last] = slice(j, j + TILE)
                out[tuple(index)] = view[tuple(index)]
    return out


def transposed(array: np.ndarray, perm: tuple[int, ...] | list[int]) -> np.ndarray:
    """`np.transpose(array, perm)` as a new C-contiguous array (tiled when large)."""
    perm = tuple(int(p) for p in perm)
    n = array.ndim
    k = perm[0] if perm else 0
    # A rotation of the axes (HWIO -> OHWI: (3, 0, 1, 2)) of a C-contiguous array is the
    # transpose of one matrix: [prod(shape[:k]), prod(shape[k:])].
    if (
        0 < k < n
        and perm == tuple(range(k, n)) + tuple(range(k))
        and array.flags.c_contiguous
        and array.nbytes >= MIN_TILED_BYTES
    ):
        rows = int(np.prod(array.shape[:k]))
        flat = _transpose_rows(array.reshape(rows, -1))
        return flat.reshape(tuple(array.shape[p] for p in perm))
    return contiguous(np.transpose(array, perm))


STRIP_ROWS = 16
STRIP_COLUMNS = 4096
"""`_transpose_rows` copies strips of 16 source rows x up to 4096 columns: each source row is
read sequentially and each output row receives 16 consecutive elements, 2-3x faster than
square tiles or numpy's own copy on 2-64 MB weights (measured on the 2-core VM)."""


def _transpose_rows(matrix: np.ndarray) -> np.ndarray:
    """`matrix.T` (a C-contiguous 2-D array's) as a new C-contiguous array."""
    rows, cols = matrix.shape
    out = np.empty((cols, rows), matrix.dtype)
    for i in range(0, rows, STRIP_ROWS):
        for j in range(0, cols, STRIP_COLUMNS):
            out[j : j + STRIP_COLUMNS, i : i + STRIP_ROWS] = matrix[
                i : i + STRIP_ROWS, j : j + STRIP_COLUMNS
            ].T
    return out


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy arrays allocated inside the block are not advised to use transparent huge pages.

    numpy asks the kernel for huge pages (`madvise(MADV_HUGEPAGE)`) on every array of 4 MB
    or more; with THP in "madvise" mode on a machine whose memory is fragmented (a large page
    cache), each such first touch may compact memory first. A conversion writes each new
    weight array (layout changes, folds) once or twice, so the huge pages save nothing and
    the compaction dominates: ResNet50's pipeline took 0.53-1.31 s with the advice and
    0.35-0.47 s without, on the shared 2-core VM. The previous setting is restored."""
    setter = _hugepage_setter()
    if setter is None:
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def _hugepage_setter() -> Callable[[bool], bool] | None:
    """numpy's private switch (numpy >= 1.20; `numpy._core` since 2.0), if it has one."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        setter = getattr(module, "_set_madvise_hugepage", None)
        if setter is not None:
            return setter
    return None
