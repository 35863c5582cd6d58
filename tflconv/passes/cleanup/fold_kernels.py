"""NumPy reference kernels shared by the tf and tfl constant folders (`fold_tf`, `simplify_tfl`).

Each kernel computes what the TF/TFLite kernel computes on constant operands, or raises
`NotFoldable` when NumPy's answer could differ (integer division by zero, negative gather
indices, non-finite float-to-int casts, ...): folding then simply does not happen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


class NotFoldable(ValueError):
    """The constant operands are outside what the folder reproduces faithfully."""


# --- TensorFlow's constant-folding size policy ---------------------------------------------------
# (tensorflow/compiler/mlir/tensorflow/transforms/constant_fold.cc): fold when the results take
# at most 2^16 bits or at most twice the constant operands' bits, and never when the operands
# take more than 2^30 bits. Shared by `canonicalize` (OpDef folders), `fold_tf` and `simplify_tfl`.
RESULT_BITS_LIMIT = 1 << 16
SIZE_FACTOR = 2
OPERAND_BITS_LIMIT = 1 << 30


def array_bits(a: np.ndarray) -> int:
    if a.dtype == object:
        return 8 * sum(len(x) if isinstance(x, (str, bytes)) else 8 for x in a.ravel())
    return a.nbytes * 8


def fold_allowed(result_bits: int, operand_bits: int) -> bool:
    if operand_bits > OPERAND_BITS_LIMIT:
        return False
    return result_bits <= RESULT_BITS_LIMIT or result_bits <= SIZE_FACTOR * operand_bits


def ints(a: np.ndarray) -> list[int]:
    if a.dtype.kind not in "iu":
        raise NotFoldable(f"expected an integer tensor, got {a.dtype}")
    return [int(x) for x in np.asarray(a).reshape(-1)]


def scalar_int(a: np.ndarray) -> int:
    values = ints(a)
    if len(values) != 1:
        raise NotFoldable("expected one integer")
    return values[0]


# --- elementwise ------------------------------------------------------------------------------


def _int_divisor_check(x: np.ndarray, y: np.ndarray) -> None:
    if y.dtype.kind in "iu" and np.any(y == 0):
        raise NotFoldable("integer division by zero")


def div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """tf.Div / tfl.div: true division for floats, truncating division for integers."""
    if x.dtype.kind in "iu":
        _int_divisor_check(x, y)
        q = np.abs(x) // np.abs(y)
        return np.where((x < 0) != (y < 0), -q, q).astype(x.dtype)
    return np.true_divide(x, y)


def floor_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    _int_divisor_check(x, y)
    if x.dtype.kind == "f":
        return np.floor(np.true_divide(x, y)).astype(x.dtype)
    return np.floor_divide(x, y)


def floor_mod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    _int_divisor_check(x, y)
    return np.mod(x, y)


def power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu" and np.any(y < 0):
        raise NotFoldable("integer power with a negative exponent")
    return np.power(x, y)


def squared_difference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = np.subtract(x, y)
    return np.multiply(d, d)


BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "real_div": np.true_divide,
    "div": div,
    "floor_div": floor_div,
    "floor_mod": floor_mod,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": power,
    "squared_difference": squared_difference,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "equal": np.equal,
    "not_equal": np.not_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "atan2": np.arctan2,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x))).astype(x.dtype)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "neg": np.negative,
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: (1 / np.sqrt(x)).astype(x.dtype),
    "square": np.square,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,  # half to even, as TF and TFLite
    "rint": np.rint,
    "sign": np.sign,
    "reciprocal": lambda x: (1 / x).astype(x.dtype),
    "logical_not": np.logical_not,
    "relu": lambda x: np.maximum(x, 0).astype(x.dtype),
    "relu6": lambda x: np.clip(x, 0, 6).astype(x.dtype),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "erf": _erf,
    "is_finite": np.isfinite,
    "is_nan": np.isnan,
    "is_inf": np.isinf,
    "zeros_like": np.zeros_like,
    "ones_like": np.ones_like,
}


def cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if x.dtype.kind in "fc" and dtype.kind in "iu":
        if not np.all(np.isfinite(x)):
            raise NotFoldable("casting non-finite floats to integers")
        info = np.iinfo(dtype)
        t = np.trunc(x.real if x.dtype.kind == "c" else x)
        if t.size and (t.min() < info.min or t.max() > info.max):
            raise NotFoldable("float to integer cast out of range")
        return t.astype(dtype)
    if x.dtype.kind == "c" and dtype.kind != "c":
        return x.real.astype(dtype)
    return x.astype(dtype)


# --- reductions -------------------------------------------------------------------------------


def _axes(axes: np.ndarray, rank: int) -> tuple[int, ...]:
    out = []
    for a in ints(axes):
        if not -rank <= a < max(rank, 1):
            raise NotFoldable(f"axis {a} out of range for rank {rank}")
        out.append(a % rank if rank else 0)
    return tuple(sorted(set(out)))


def reduce(kind: str, x: np.ndarray, axes: np.ndarray, keep_dims: bool) -> np.ndarray:
    ax = _axes(axes, x.ndim)
    if x.ndim == 0:
        return x.copy()
    if kind in ("max", "min") and any(x.shape[a] == 0 for a in ax):
        raise NotFoldable("max/min over an empty axis")
    if kind == "sum":
        return np.sum(x, axis=ax, keepdims=keep_dims, dtype=x.dtype)
    if kind == "prod":
        return np.prod(x, axis=ax, keepdims=keep_dims, dtype=x.dtype)
    if kind == "max":
        return np.max(x, axis=ax, keepdims=keep_dims)
    if kind == "min":
        return np.min(x, axis=ax, keepdims=keep_dims)
    if kind == "any":
        return np.any(x, axis=ax, keepdims=keep_dims)
    if kind == "all":
        return np.all(x, axis=ax, keepdims=keep_dims)
    if kind == "mean":
        count = int(np.prod([x.shape[a] for a in ax])) if ax else 1
        if count == 0:
            raise NotFoldable("mean over an empty axis")
        if x.dtype.kind in "iu":  # integer mean truncates, as in TF
            s = np.sum(x, axis=ax, keepdims=keep_dims, dtype=np.int64)
            q = np.abs(s) // count
            return np.where(s < 0, -q, q).astype(x.dtype)
        return np.mean(x, axis=ax, keepdims=keep_dims, dtype=x.dtype)
    raise NotFoldable(kind)


def arg_reduce(x: np.ndarray, axis: int, is_max: bool, dtype: np.dtype) -> np.ndarray:
    if x.ndim == 0 or x.shape[axis] == 0:
        raise NotFoldable("arg max/min over an empty axis")
    f = np.argmax if is_max else np.argmin
    return f(x, axis=axis).astype(dtype)


def cumulative(x: np.ndarray, axis: int, exclusive: bool, reverse: bool, prod: bool) -> np.ndarray:
    y = np.flip(x, axis) if reverse else x
    out = (np.cumprod if prod else np.cumsum)(y, axis=axis, dtype=x.dtype)
    if exclusive:
        out = np.roll(out, 1, axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = 0  # type: ignore[call-overload]
        out[tuple(index)] = 1 if prod else 0
    return np.flip(out, axis) if reverse else out


def top_k(x: np.ndarray, k: int, index_dtype: np.dtype) -> list[np.ndarray]:
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise NotFoldable("k out of range")
    order = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[..., :k]
    return [np.take_along_axis(x, order, axis=-1), order.astype(index_dtype)]


# --- shapes and layouts -----------------------------------------------------------------------


def gather(params: np.ndarray, indices: np.ndarray, axis: int, batch_dims: int) -> np.ndarray:
    if indices.dtype.kind not in "iu":
        raise NotFoldable("non-integer indices")
    if batch_dims < 0:
        batch_dims += indices.ndim
    if axis < 0:
        axis += params.ndim
    if not 0 <= axis < params.ndim or axis < batch_dims:
        raise NotFoldable("axis out of range")
    if np.any(indices < 0) or np.any(indices >= params.shape[axis]):
        raise NotFoldable("gather index out of range")
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    batch = params.shape[:batch_dims]
    if indices.shape[:batch_dims] != batch or 0 in batch:
        raise NotFoldable("batch dims differ or are empty")
    parts = [gather(params[i], indices[i], axis - batch_dims, 0) for i in np.ndindex(*batch)]
    return np.stack(parts).reshape(batch + parts[0].shape)


def gather_nd(params: np.ndarray, indices: np.ndarray) -> np.ndarray:
    if indices.ndim == 0 or indices.shape[-1] > params.ndim:
        raise NotFoldable("index depth exceeds the params rank")
    depth = indices.shape[-1]
    bounds = np.asarray(params.shape[:depth])
    if np.any(indices < 0) or np.any(indices >= bounds):
        raise NotFoldable("gather_nd index out of range")
    return params[tuple(np.moveaxis(indices, -1, 0))]


def slice_(x: np.ndarray, begin: list[int], size: list[int]) -> np.ndarray:
    if len(begin) != x.ndim or len(size) != x.ndim:
        raise NotFoldable("begin/size length differs from the rank")
    index = []
    for b, s, d in zip(begin, size, x.shape):
        end = d if s == -1 else b + s
        if b < 0 or end > d or end < b:
            raise NotFoldable("slice out of range")
        index.append(slice(b, end))
    return x[tuple(index)].copy()


def reshape(x: np.ndarray, shape: list[int]) -> np.ndarray:
    try:
        return x.reshape(shape)
    except ValueError as e:
        raise NotFoldable(str(e)) from None


def split_v(x: np.ndarray, sizes: list[int], axis: int) -> list[np.ndarray]:
    sizes = list(sizes)
    if sizes.count(-1) > 1:
        raise NotFoldable("several -1 sizes")
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    if sum(sizes) != x.shape[axis] or any(s < 0 for s in sizes):
        raise NotFoldable("split sizes do not add up")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def split(x: np.ndarray, num: int, axis: int) -> list[np.ndarray]:
    if num <= 0 or x.shape[axis] % num:
        raise NotFoldable("dimension not divisible by the number of splits")
    return np.split(x, num, axis=axis)


def one_hot(
    indices: np.ndarray, depth: int, on: np.ndarray, off: np.ndarray, axis: int
) -> np.ndarray:
    if depth < 0:
        raise NotFoldable("negative depth")
    hot = np.expand_dims(indices, -1) == np.arange(depth)
    out = np.where(hot, on, off).astype(on.dtype)
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


def select_v1(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """tf.Select / tfl.select: a vector condition picks rows of higher-rank x/y."""
    if cond.ndim == 1 and x.ndim > 1:
        cond = cond.reshape(cond.shape + (1,) * (x.ndim - 1))
    return np.where(cond, x, y)


def pad(
    x: np.ndarray, paddings: np.ndarray, value: np.ndarray | None = None, mode: str = "constant"
) -> np.ndarray:
    widths = [tuple(int(v) for v in row) for row in np.asarray(paddings).reshape(-1, 2)]
    if len(widths) != x.ndim or any(w < 0 for row in widths for w in row):
        raise NotFoldable("bad paddings")
    if mode == "constant":
        fill = 0 if value is None else value.reshape(()).item()
        return np.pad(x, widths, mode="constant", constant_values=fill)
    return np.pad(x, widths, mode="reflect" if mode == "REFLECT" else "symmetric")


def matmul(a: np.ndarray, b: np.ndarray, adj_a: bool, adj_b: bool) -> np.ndarray:
    if adj_a:
        a = np.swapaxes(a, -1, -2)
    if adj_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def broadcast_to(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    try:
        return np.broadcast_to(x, tuple(shape)).copy()
    except ValueError as e:
        raise NotFoldable(str(e)) from None


def where(x: np.ndarray) -> np.ndarray:
    return np.argwhere(x).astype(np.int64)


# --- band part, roll, sparse-to-dense, tensor scatters (legalize_tf/matrix_band, roll, scatter) ---


def band_part(x: np.ndarray, lo: int, up: int) -> np.ndarray:
    """tf.linalg.band_part: zero outside `lo` sub- and `up` superdiagonals (negative: all)."""
    if x.ndim < 2:
        raise NotFoldable("band_part needs rank >= 2")
    m, n = x.shape[-2:]
    if lo > m or up > n:
        raise NotFoldable("TF rejects bounds past the matrix dims")
    offset = np.arange(m)[:, None] - np.arange(n)[None, :]
    keep = np.ones((m, n), dtype=bool)
    if lo >= 0:
        keep &= offset <= lo
    if up >= 0:
        keep &= -offset <= up
    return np.where(keep, x, np.zeros((), dtype=x.dtype))


def roll(x: np.ndarray, shift: list[int], axis: list[int]) -> np.ndarray:
    if any(not -x.ndim <= a < x.ndim for a in axis) or len(shift) != len(axis):
        raise NotFoldable("roll axis out of range")
    return np.roll(x, shift, [a % x.ndim for a in axis])


def _flat_indices(indices: np.ndarray, lead: Sequence[int]) -> np.ndarray:
    """Scatter indices [..., K] as [N, K], checked against the first K dims."""
    if indices.dtype.kind not in "iu" or indices.ndim < 1:
        raise NotFoldable("indices must be an integer tensor of rank >= 1")
    flat = indices.reshape(-1, indices.shape[-1]).astype(np.int64)
    if flat.shape[1] > len(lead) or np.any(flat < 0) or np.any(flat >= np.asarray(lead)):
        raise NotFoldable("an index is out of range (TF raises an error)")
    return flat


def sparse_to_dense(
    indices: np.ndarray, shape: np.ndarray, values: np.ndarray, default: np.ndarray
) -> np.ndarray:
    dims = ints(shape)
    if indices.ndim < 2 and len(dims) != 1:
        raise NotFoldable("0-D/1-D indices address a 1-D output")
    idx = indices.reshape(-1, 1) if indices.ndim < 2 else indices
    flat = _flat_indices(idx, dims)
    out = np.full(dims, default.reshape(()), dtype=values.dtype)
    vals = np.broadcast_to(values.reshape(-1), (len(flat),)) if values.size == 1 else values
    if vals.size != len(flat):
        raise NotFoldable("values do not match the indices")
    for row, v in zip(flat, vals.reshape(-1)):
        out[tuple(row)] = v
    return out


def tensor_scatter(
    x: np.ndarray, indices: np.ndarray, updates: np.ndarray, add: bool
) -> np.ndarray:
    """TensorScatterAdd (repeats add up) / TensorScatterUpdate (repeats: the last one wins)."""
    flat = _flat_indices(indices, x.shape)
    slices = updates.reshape((len(flat),) + x.shape[flat.shape[1] :])
    out = x.copy()
    for row, u in zip(flat, slices):
        if add:
            out[tuple(row)] += u
        else:
            out[tuple(row)] = u
    return out
