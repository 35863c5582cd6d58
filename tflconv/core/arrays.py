"""Array helpers for large constants (numpy only).

`small_pages()` turns off numpy's transparent-huge-page advice for the arrays made inside it;
`populate(array)` maps a fresh large array's pages in one system call.

Layout changes of weights (MatMul [in, out] -> FULLY_CONNECTED [out, in], conv HWIO -> OHWI)
stay numpy views in the IR: a pass that scales such a view (a folded batch norm) gets an
array of the same memory layout (numpy's order "K"), and the writer copies each one once,
into the output (`copy_into`, `byte_chunks`). The copy is done in cache-sized pieces: numpy
copies a transposed matrix element by element along the output rows, reading the source with
a stride of a whole row, so every read misses the cache and the TLB (a 4096 x 4096 float32
transpose takes ~1 s that way, ~0.3 s in tiles, less in strips).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import mmap
import sys
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
    if view.flags.c_contiguous:
        return view
    out = np.empty(view.shape, view.dtype)
    populate(out)
    copy_into(out, view)
    return out


MIN_POPULATE_BYTES = 1 << 20
MADV_POPULATE_WRITE = 23
"""Linux >= 5.14: fault in (allocate, zero) a range's pages now, writable, in one call."""


def populate(array: np.ndarray) -> None:
    """Map the pages of a freshly allocated large array before it is written.

    Writing a fresh array takes one page fault per 4 kB page: filling 100 MB costs 0.053 s
    on the 2-core VM, 0.037 s after one `madvise(MADV_POPULATE_WRITE)` over it. Weight-sized
    arrays a conversion makes (folded weights, the output file) are written once, so the
    faults are a third of their cost. Elsewhere (other systems, older kernels, small arrays)
    this does nothing and the pages fault in as usual."""
    if array.nbytes < MIN_POPULATE_BYTES:
        return
    madvise = _madvise()
    if madvise is None:
        return
    page = mmap.PAGESIZE
    start = -(-array.ctypes.data // page) * page  # the whole pages inside the array
    end = (array.ctypes.data + array.nbytes) // page * page
    if end > start:
        madvise(start, end - start, MADV_POPULATE_WRITE)  # an error leaves the pages as they were


@functools.cache
def _madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def copy_into(out: np.ndarray, view: np.ndarray) -> None:
    """`out[...] = view` for a C-contiguous `out` of the view's shape and dtype, in a
    cache-friendly order when the view is a large transposition."""
    if view.flags.c_contiguous or view.nbytes < MIN_TILED_BYTES or view.ndim < 2:
        out[...] = view
        return
    matrix = _rotated_matrix(view)
    if matrix is not None:
        _transpose_rows_into(matrix, out.reshape(matrix.shape[1], matrix.shape[0]))
        return
    # The axis the source is densest along; when it is not the output's last axis, each output
    # row gathers from far-apart source addresses: copy tile by tile over these two axes.
    sizes = [(abs(s), a) for a, s in enumerate(view.strides) if view.shape[a] > 1]
    inner = min(sizes)[1] if sizes else view.ndim - 1
    last = view.ndim - 1
    # Other axes are walked one index at a time, so a tile stays small (H*W of a conv filter
    # would otherwise multiply its size); bounded so the Python loop stays cheap.
    others = [a for a in range(view.ndim) if a not in (inner, last)]
    tiles = -(-view.shape[inner] // TILE) * -(-view.shape[last] // TILE)
    if inner == last or tiles * int(np.prod([view.shape[a] for a in others])) > MAX_TILES:
        out[...] = view
        return
    index: list[slice | int] = [slice(None)] * view.ndim
    for position in np.ndindex(*(view.shape[a] for a in others)):
        for a, k in zip(others, position):
            index[a] = k
        for i in range(0, view.shape[inner], TILE):
            index[inner] = slice(i, i + TILE)
            for j in range(0, view.shape[last], TILE):
                index[last] = slice(j, j + TILE)
                out[tuple(index)] = view[tuple(index)]


def reshaped(array: np.ndarray, shape: tuple[int, ...] | list[int]) -> np.ndarray:
    """`array.reshape(shape)`: a view when numpy can make one, else a reshape of the
    cache-friendly `contiguous` copy (numpy's own reshape of a transposed weight copies it
    element by element)."""
    array = np.asarray(array)
    view = array.view()
    try:
        view.shape = tuple(int(d) for d in shape)  # raises when it would need a copy
    except AttributeError:
        return contiguous(array).reshape(shape)
    return view


def byte_chunks(array: np.ndarray, max_bytes: int) -> Iterator[memoryview]:
    """The array's bytes in C order, as pieces of at most ~`max_bytes` (at least one row of
    the first axis): views of a contiguous array, copies of a transposed one."""
    if array.flags.c_contiguous:
        flat = memoryview(array.reshape(-1).view(np.uint8))
        for start in range(0, len(flat), max_bytes):
            yield flat[start : start + max_bytes]
        return
    if array.ndim == 0:
        yield memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        return
    rows = max(1, max_bytes // max(1, array[:1].nbytes))
    for start in range(0, array.shape[0], rows):
        yield memoryview(contiguous(array[start : start + rows]).reshape(-1).view(np.uint8))


def flat_elements(array: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The elements at C-order flat `positions` of an array of any memory layout (a transposed
    view included), without copying the rest of it."""
    if array.flags.c_contiguous:
        return array.reshape(-1)[positions]
    return array[np.unravel_index(positions, array.shape)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays of one shape and dtype hold the same bits (-0.0 is not 0.0, a NaN
    equals itself), whatever their memory layouts."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.itemsize in (1, 2, 4, 8) and a.dtype != object:
        bits = f"u{a.itemsize}"
        return bool(np.array_equal(a.view(bits), b.view(bits)))
    return a.tobytes() == b.tobytes()


def _rotated_matrix(view: np.ndarray) -> np.ndarray | None:
    """The matrix M (unit stride along its rows) with `view` = M.T in C order, when `view`
    is a rotation of its axes (HWIO -> OHWI is (3, 0, 1, 2); a matrix's .T is (1, 0)) of an
    array whose axes merge into M: the whole copy is then one matrix transpose."""
    n = view.ndim
    for k in range(1, n):
        # view = base.transpose(rotation), rotation = (n-k .. n-1, 0 .. n-k-1)
        base = np.transpose(view, tuple(range(k, n)) + tuple(range(k)))
        rows = int(np.prod(base.shape[: n - k]))
        matrix = base.view()
        try:
            matrix.shape = (rows, -1)  # raises when the axes do not merge without a copy
        except AttributeError:
            continue
        if matrix.strides[1] == matrix.itemsize:
            return matrix
    return None


STRIP_ROWS = 16
STRIP_COLUMNS = 4096
"""`_transpose_rows_into` copies strips of 16 source rows x up to 4096 columns: each source
row is read sequentially and each output row receives 16 consecutive elements, 2-3x faster
than square tiles or numpy's own copy on 2-64 MB weights (measured on the 2-core VM)."""


def _transpose_rows_into(matrix: np.ndarray, out: np.ndarray) -> None:
    """`out[...] = matrix.T` for a matrix with unit stride along its rows."""
    rows, cols = matrix.shape
    for i in range(0, rows, STRIP_ROWS):
        for j in range(0, cols, STRIP_COLUMNS):
            out[j : j + STRIP_COLUMNS, i : i + STRIP_ROWS] = matrix[
                i : i + STRIP_ROWS, j : j + STRIP_COLUMNS
            ].T


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
