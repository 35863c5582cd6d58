"""Legalization patterns: `SparseToDense`, `TensorScatterAdd`, `TensorScatterUpdate`.

- SparseToDense -> SPARSE_TO_DENSE, as the official legalize_patterns.td (validate_indices is
  dropped there too: TFLite's kernel does not check order or duplicates).
- TFLite has no TENSOR_SCATTER builtin; both ops become SCATTER_ND expressions. The official
  converter writes `TensorScatterAdd(x, i, u)` as `TensorScatterUpdate(x, i, u + GatherNd(x, i))`
  (prepare_patterns.td) and `TensorScatterUpdate(x, i, u)` as
  `x * (1 - ScatterNd(i, 1)) + ScatterNd(i, u)` (lower_tf.td). Both are wrong when indices repeat
  (TF adds every duplicate in TensorScatterAdd; the official form adds one) and the update form
  turns an inf or NaN of `x` at an updated position into NaN. Here:
  - TensorScatterAdd(x, i, u) -> ADD(x, SCATTER_ND(i, u, shape(x))): SCATTER_ND sums duplicates,
    which is exactly TensorScatterAdd (and 2 ops where the official writes 8).
  - TensorScatterUpdate(x, i, u) -> SELECT_V2(updated, SCATTER_ND(i, u, shape(x)), x). With
    constant indices `updated` is a NumPy mask and repeated indices keep the last update (TF's
    CPU kernel applies updates in order); with runtime indices `updated` is a SCATTER_ND of
    `true`s, and repeated runtime indices (for which TF documents a nondeterministic result)
    give the sum of their updates.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, numpy_dtype
from tflconv.dialects.tfl_kernels import KERNELS

from .common import const, constant_value, create_tfl
from .tensor_util import as_i32, i32_const, tfl_shape


def _types(op_name: str, operand: int) -> frozenset[str]:
    return KERNELS[op_name].operand_types(operand) or frozenset()


# Element types of the SPARSE_TO_DENSE and SCATTER_ND kernels (the kernel table); for
# TensorScatterAdd both SCATTER_ND and ADD run in one type.
_SPARSE_TO_DENSE_TYPES = _types("tfl.sparse_to_dense", 2)
_SCATTER_ND_TYPES = _types("tfl.scatter_nd", 1)
_ADD_TYPES = _SCATTER_ND_TYPES & _types("tfl.add", 0)

# Types a kernel lacks, carried through it in a wider type that holds every value exactly (a CAST
# in, a CAST back: int narrowing wraps, which is also how the narrow integer sums of TF wrap).
_WIDER = {"i1": "i32", "i8": "i32", "ui8": "i32", "i16": "i32", "ui16": "i32", "f16": "f32"}


def _carrier(dtype: str, kernel_types: frozenset[str]) -> str | None:
    """The type to run a kernel in for `dtype`: itself, a lossless wider type, or None."""
    if dtype in kernel_types:
        return dtype
    wide = _WIDER.get(dtype)
    return wide if wide in kernel_types else None


def _as(rw: PatternRewriter, v: Value, dtype: str) -> Value:
    """`v` in element type `dtype`: itself, a converted constant, or a tfl.cast."""
    if v.type.dtype == dtype:
        return v
    arr = constant_value(v)
    if arr is not None:
        return const(rw, arr.astype(numpy_dtype(dtype)))
    return create_tfl(rw, "cast", [v], [v.type.with_dtype(dtype)]).result


# Largest all-true update mask written as a constant (else FILL builds it at runtime).
_MAX_CONST_MASK = 1 << 16


class LegalizeSparseToDense(RewritePattern):
    """tf.SparseToDense(indices, shape, values, default){validate_indices} ->
    tfl.sparse_to_dense(indices, shape, values, default)"""

    root = "tf.SparseToDense"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        indices, shape, values, default = op.operands
        dtype = values.type.dtype
        wide = _carrier(dtype, _SPARSE_TO_DENSE_TYPES)
        if wide is None or values.type.is_quantized:
            allowed = ", ".join(sorted(_SPARSE_TO_DENSE_TYPES))
            return rw.fail(
                f"tfl.sparse_to_dense does not produce {dtype} (kernel types: {allowed})"
            )
        if indices.type.dtype not in ("i32", "i64") or shape.type.dtype not in ("i32", "i64"):
            return rw.fail("indices and output shape must be i32 or i64")
        if indices.type.rank is not None and indices.type.rank > 2:
            return rw.fail(f"indices of rank {indices.type.rank}: the kernel takes 0-D to 2-D")
        rank = op.result.type.rank
        if rank is None or rank > 4:
            return rw.fail("the kernel writes outputs of known rank up to 4")
        operands = [indices, shape, _as(rw, values, wide), _as(rw, default, wide)]
        out_t = op.result.type.with_dtype(wide)
        dense = create_tfl(rw, "sparse_to_dense", operands, [out_t]).result
        rw.replace(op, _as(rw, dense, dtype))
        return None


def _scatter_checks(op: Operation) -> str | None:
    x, indices, updates = op.operands
    policy = op.attr("bad_indices_policy", "")
    if isinstance(policy, bytes):
        policy = policy.decode()
    if policy not in ("", "DEFAULT", "ERROR"):
        return f"bad_indices_policy {policy!r}: SCATTER_ND only rejects bad indices"
    if x.type.rank is None or indices.type.rank is None or indices.type.rank < 1:
        return "input and indices need known ranks"
    if indices.type.shape[-1] is None:  # type: ignore[index]
        return "the index depth (last dim of indices) must be known"
    if indices.type.dtype not in ("i32", "i64"):
        return f"indices of type {indices.type.dtype}"
    if x.type.is_quantized or updates.type.dtype != x.type.dtype:
        return "input and updates must share a non-quantized type"
    return None


def _scatter(rw: PatternRewriter, x: Value, indices: Value, updates: Value, dtype: str) -> Value:
    """SCATTER_ND(indices: i32, updates, shape(x)) run in `dtype`: the updates summed into zeros
    of x's shape (cast back to x's type)."""
    shape = tfl_shape(rw, x, "i32")
    operands = [as_i32(rw, indices), _as(rw, updates, dtype), shape]
    out = create_tfl(rw, "scatter_nd", operands, [x.type.with_dtype(dtype)]).result
    return _as(rw, out, x.type.dtype)


class LegalizeTensorScatterAdd(RewritePattern):
    """tf.TensorScatterAdd(x, i, u) -> tfl.add(x, tfl.scatter_nd(i, u, shape(x)))"""

    root = "tf.TensorScatterAdd"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _scatter_checks(op):
            return rw.fail(reason)
        x, indices, updates = op.operands
        dtype = x.type.dtype
        wide = _carrier(dtype, _ADD_TYPES)
        if wide is None:
            allowed = ", ".join(sorted(_ADD_TYPES))
            return rw.fail(f"tfl.add/tfl.scatter_nd do not run on {dtype} ({allowed})")
        wide_x = _as(rw, x, wide)
        scattered = _scatter(rw, wide_x, indices, updates, wide)
        total = create_tfl(
            rw, "add", [wide_x, scattered], [wide_x.type], fused_activation_function="NONE"
        ).result
        rw.replace(op, _as(rw, total, dtype))
        return None


def _last_occurrences(flat: np.ndarray) -> np.ndarray:
    """Positions of the rows of `flat` [N, K] that are the last occurrence of their index."""
    seen: dict[tuple[int, ...], int] = {}
    for pos, row in enumerate(map(tuple, flat.tolist())):
        seen[row] = pos
    return np.asarray(sorted(seen.values()), dtype=np.int32)


class LegalizeTensorScatterUpdate(RewritePattern):
    """tf.TensorScatterUpdate(x, i, u) -> tfl.select_v2(updated, tfl.scatter_nd(i, u, shape(x)),
    x): `updated` a NumPy mask for constant indices (repeats keep the last update), else
    tfl.scatter_nd(i, true, shape(x))"""

    root = "tf.TensorScatterUpdate"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if reason := _scatter_checks(op):
            return rw.fail(reason)
        x, indices, updates = op.operands
        wide = _carrier(x.type.dtype, _SCATTER_ND_TYPES)
        if wide is None:
            allowed = ", ".join(sorted(_SCATTER_ND_TYPES))
            return rw.fail(f"tfl.scatter_nd does not run on {x.type.dtype} ({allowed})")
        rank = x.type.rank
        depth = indices.type.shape[-1]  # type: ignore[index]
        shape = x.type.shape
        assert rank is not None and shape is not None and depth is not None
        if depth > rank:
            return rw.fail(f"index depth {depth} exceeds the input rank {rank}")
        arr = constant_value(indices)
        if arr is not None and all(d is not None for d in shape[:depth]):
            return self._constant_indices(op, rw, arr, wide)
        mask = self._runtime_mask(rw, x, indices, updates)
        if mask is None:
            return rw.fail("updates need a known rank")
        scattered = _scatter(rw, x, indices, updates, wide)
        rw.replace_with_new(op, "tfl.select_v2", [mask, scattered, x])
        return None

    def _constant_indices(
        self, op: Operation, rw: PatternRewriter, arr: np.ndarray, wide: str
    ) -> None:
        x, _, updates = op.operands
        shape = x.type.shape
        assert shape is not None
        depth = arr.shape[-1]
        lead = [int(d) for d in shape[:depth]]  # type: ignore[arg-type]
        flat = arr.reshape(-1, depth).astype(np.int64)
        if flat.size and (np.any(flat < 0) or np.any(flat >= np.asarray(lead))):
            return rw.fail("an index is out of range (TF raises an error)")
        keep = _last_occurrences(flat)
        index_array = arr.astype(np.int32)  # updates keep their batch dims
        if len(keep) < len(flat):
            slice_shape = list(shape[depth:])
            if sum(d is None for d in slice_shape) > 1:
                return rw.fail("repeated indices with two unknown dims in the updated slices")
            target = [len(flat)] + [-1 if d is None else int(d) for d in slice_shape]
            rows = updates.type.with_shape((len(flat), *slice_shape))
            if updates.type.shape != rows.shape:
                shape_v = i32_const(rw, target)
                updates = create_tfl(rw, "reshape", [updates, shape_v], [rows]).result
            kept_t = updates.type.with_shape((len(keep), *slice_shape))
            updates = create_tfl(
                rw, "gather", [updates, const(rw, keep)], [kept_t], axis=0, batch_dims=0
            ).result
            flat = flat[keep]
            index_array = flat.astype(np.int32)
        updated = np.zeros(lead, dtype=bool)
        updated[tuple(flat.T)] = True
        scattered = _scatter(rw, x, const(rw, index_array), updates, wide)
        if updated.all():
            rw.replace(op, scattered)
            return None
        mask = const(rw, updated.reshape(lead + [1] * (len(shape) - depth)))
        rw.replace_with_new(op, "tfl.select_v2", [mask, scattered, x])
        return None

    def _runtime_mask(
        self, rw: PatternRewriter, x: Value, indices: Value, updates: Value
    ) -> Value | None:
        """SCATTER_ND(indices, true of updates' shape, shape(x)): which elements are written."""
        u_shape = updates.type.shape
        if u_shape is None:
            return None
        if updates.type.is_static and updates.type.num_elements <= _MAX_CONST_MASK:  # type: ignore[operator]
            trues = const(rw, np.ones(u_shape, dtype=bool))
        else:
            dims = tfl_shape(rw, updates, "i32")
            true = const(rw, np.asarray(True))
            trues = create_tfl(rw, "fill", [dims, true], [updates.type.with_dtype("i1")]).result
        shape = tfl_shape(rw, x, "i32")
        mask_t = TensorType(x.type.shape, "i1")
        return create_tfl(rw, "scatter_nd", [as_i32(rw, indices), trues, shape], [mask_t]).result


PATTERNS: list[RewritePattern] = [
    LegalizeSparseToDense(),
    LegalizeTensorScatterAdd(),
    LegalizeTensorScatterUpdate(),
]
