"""Canonicalization of tf ops before legalization: NumPy constant folding, shape folding and
identity removal (registered with `register_canonicalization`, applied by `canonicalize`).

- `FoldTfConstant`: a tf op whose operands are all constants becomes constants, under
  TensorFlow's size policy (results <= 2^16 bits or <= 2x the operands; operands <= 2^30 bits).
- `FoldShapeComputation`: shape arithmetic on partially known shapes. A `tf.Shape` of a
  `[?, 4, 8]` value is known except for element 0, so `StridedSlice(Shape(x), [1], [3])`,
  `Pack`s of known scalars, `Prod`s of known slices ... fold even though `x` is not constant;
  only the truly dynamic parts stay.
- `ReshapeToStaticShape`: a tf.Reshape whose result has at most one unknown dim gets a constant
  shape operand (with -1 for that dim), so the dynamic shape arithmetic feeding it dies.
- `RemoveIdentityLike`: Identity, IdentityN, StopGradient, ... -> their input.
- `RefineTile`: Tile(x, [1, 1, ...]) -> x (TF's own Tile folder); a static x tiled by constant
  multiples gets its static result shape (`tf.image.ssim`'s Gaussian filter, tiled by the
  image's channel count, as a depthwise filter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from tflconv.core.ir import Operation, Value, constant, constant_value
from tflconv.core.passes import register_canonicalization
from tflconv.core.printer import is_elided
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import DTYPES, TensorType

from ..legalize_tf.strided_slice import SliceSpecError, dense_slice_of, evaluate
from ..legalize_tf.tensor_util import returned_from_subgraph, shape_with_wildcard
from . import fold_kernels as K
from .fold_kernels import (
    OPERAND_BITS_LIMIT,
    NotFoldable,
    array_bits,
    fold_allowed,
    ints,
    scalar_int,
)

Folder = Callable[[Operation, list[np.ndarray]], list[np.ndarray]]
"""Computes an op's results from its constant operands (raises NotFoldable when it cannot)."""


def result_dtype(op: Operation, index: int = 0) -> np.dtype:
    dt = DTYPES.get(op.results[index].type.dtype)
    if dt is None:
        raise NotFoldable(f"no numpy type for {op.results[index].type.dtype}")
    return dt


def replace_with_constants(
    op: Operation, rw: PatternRewriter, arrays: list[np.ndarray], operand_bits: int
) -> str | None:
    """Replace `op`'s results with constants; a refusal reason instead when not allowed."""
    if len(arrays) != len(op.results):
        return f"folder made {len(arrays)} values for {len(op.results)} results"
    for r in op.results:
        if not r.type.is_static and returned_from_subgraph(r):
            return "a refined type would change the signature of a called function"
    out = []
    for i, (r, a) in enumerate(zip(op.results, arrays)):
        a = np.asarray(a)
        want = result_dtype(op, i)
        if a.dtype != want:
            a = a.astype(want)
        shape = r.type.shape
        if shape is not None and (
            len(shape) != a.ndim or any(d is not None and d != n for d, n in zip(shape, a.shape))
        ):
            return f"folded shape {list(a.shape)} contradicts the result type {r.type}"
        out.append(a)
    bits = sum(array_bits(a) for a in out)
    if not fold_allowed(bits, operand_bits):
        return f"folded result too large ({bits} bits from {operand_bits} operand bits)"
    values = []
    for r, a in zip(op.results, out):
        ty = TensorType(tuple(int(d) for d in a.shape), r.type.dtype)
        values.append(rw.insert(constant(a, op.location, r.name_hint, ty), before=op).result)
    rw.replace(op, values)
    return None


# --- the tf folders --------------------------------------------------------------------------------

FOLDERS: dict[str, Folder] = {}


def _register(names: str | tuple[str, ...], fn: Folder) -> None:
    for name in (names,) if isinstance(names, str) else names:
        FOLDERS[name] = fn


_TF_BINARY = {
    "tf.Add": "add",
    "tf.AddV2": "add",
    "tf.Sub": "sub",
    "tf.Mul": "mul",
    "tf.RealDiv": "real_div",
    "tf.Div": "div",
    "tf.TruncateDiv": "div",
    "tf.FloorDiv": "floor_div",
    "tf.FloorMod": "floor_mod",
    "tf.Maximum": "maximum",
    "tf.Minimum": "minimum",
    "tf.Pow": "pow",
    "tf.SquaredDifference": "squared_difference",
    "tf.Less": "less",
    "tf.LessEqual": "less_equal",
    "tf.Greater": "greater",
    "tf.GreaterEqual": "greater_equal",
    "tf.Equal": "equal",
    "tf.NotEqual": "not_equal",
    "tf.LogicalAnd": "logical_and",
    "tf.LogicalOr": "logical_or",
    "tf.Atan2": "atan2",
    "tf.BitwiseAnd": "bitwise_and",
    "tf.BitwiseOr": "bitwise_or",
    "tf.BitwiseXor": "bitwise_xor",
}
for _tf, _k in _TF_BINARY.items():
    _register(_tf, lambda op, a, _f=K.BINARY[_k]: [_f(a[0], a[1])])

_TF_UNARY = {
    "tf.Abs": "abs",
    "tf.Neg": "neg",
    "tf.Exp": "exp",
    "tf.Expm1": "expm1",
    "tf.Log": "log",
    "tf.Log1p": "log1p",
    "tf.Sqrt": "sqrt",
    "tf.Rsqrt": "rsqrt",
    "tf.Square": "square",
    "tf.Sin": "sin",
    "tf.Cos": "cos",
    "tf.Tan": "tan",
    "tf.Floor": "floor",
    "tf.Ceil": "ceil",
    "tf.Round": "round",
    "tf.Rint": "rint",
    "tf.Sign": "sign",
    "tf.Reciprocal": "reciprocal",
    "tf.Inv": "reciprocal",
    "tf.LogicalNot": "logical_not",
    "tf.Relu": "relu",
    "tf.Relu6": "relu6",
    "tf.Sigmoid": "sigmoid",
    "tf.Tanh": "tanh",
    "tf.Erf": "erf",
    "tf.IsFinite": "is_finite",
    "tf.IsNan": "is_nan",
    "tf.IsInf": "is_inf",
    "tf.ZerosLike": "zeros_like",
    "tf.OnesLike": "ones_like",
}
for _tf, _k in _TF_UNARY.items():
    _register(_tf, lambda op, a, _f=K.UNARY[_k]: [_f(a[0])])

_REDUCE = {
    "tf.Sum": "sum",
    "tf.Prod": "prod",
    "tf.Mean": "mean",
    "tf.Max": "max",
    "tf.Min": "min",
    "tf.Any": "any",
    "tf.All": "all",
}
for _tf, _k in _REDUCE.items():
    _register(
        _tf, lambda op, a, _k=_k: [K.reduce(_k, a[0], a[1], bool(op.attr("keep_dims", False)))]
    )


def _axis(a: np.ndarray, rank: int) -> int:
    axis = scalar_int(a)
    if not -rank <= axis < rank:
        raise NotFoldable(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def _concat(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    values, axis = (a[:-1], a[-1]) if op.name == "tf.ConcatV2" else (a[1:], a[0])
    return [np.concatenate(values, axis=_axis(axis, values[0].ndim))]


def _pack(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    return [np.stack(a, axis=int(op.attr("axis", 0)))]


def _unpack(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = int(op.attr("axis", 0)) % max(a[0].ndim, 1)
    return [np.take(a[0], i, axis=axis) for i in range(a[0].shape[axis])]


def _strided_slice(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    try:
        spec = dense_slice_of(op, a[0].ndim)
        assert spec is not None
        return [evaluate(a[0], spec)]
    except (SliceSpecError, IndexError) as e:
        raise NotFoldable(str(e)) from None


def _squeeze(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    dims = [int(d) for d in op.attr("squeeze_dims", []) or []]
    return [np.squeeze(a[0], axis=tuple(dims) if dims else None)]


def _gather_v2(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = scalar_int(a[2]) if op.name == "tf.GatherV2" else 0
    return [K.gather(a[0], a[1], axis, int(op.attr("batch_dims", 0)))]


def _select(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    if op.name == "tf.Select":
        return [K.select_v1(*a)]
    return [np.where(a[0], a[1], a[2])]


def _cast(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    return [K.cast(a[0], result_dtype(op))]


def _range(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    start, limit, delta = (x.reshape(()).item() for x in a)
    if delta == 0:
        raise NotFoldable("zero delta")
    return [np.arange(start, limit, delta, dtype=result_dtype(op))]


def _split(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    return K.split(a[1], len(op.results), _axis(a[0], a[1].ndim))


def _split_v(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    return K.split_v(a[0], ints(a[1]), _axis(a[2], a[0].ndim))


def _one_hot(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    return [K.one_hot(a[0], scalar_int(a[1]), a[2], a[3], int(op.attr("axis", -1)))]


def _cumulative(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = _axis(a[1], a[0].ndim)
    ex, rev = bool(op.attr("exclusive", False)), bool(op.attr("reverse", False))
    return [K.cumulative(a[0], axis, ex, rev, prod=op.name == "tf.Cumprod")]


def _matmul(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    if op.name == "tf.MatMul":
        adj = (bool(op.attr("transpose_a", False)), bool(op.attr("transpose_b", False)))
    else:
        adj = (bool(op.attr("adj_x", False)), bool(op.attr("adj_y", False)))
    return [K.matmul(a[0], a[1], *adj)]


_register(("tf.ConcatV2", "tf.Concat"), _concat)
_register("tf.Pack", _pack)
_register("tf.Unpack", _unpack)
_register("tf.StridedSlice", _strided_slice)
_register("tf.Squeeze", _squeeze)
_register(("tf.GatherV2", "tf.Gather"), _gather_v2)
_register(("tf.Select", "tf.SelectV2"), _select)
_register("tf.Cast", _cast)
_register("tf.Range", _range)
_register("tf.Split", _split)
_register("tf.SplitV", _split_v)
_register("tf.OneHot", _one_hot)
_register(("tf.Cumsum", "tf.Cumprod"), _cumulative)
_register(("tf.MatMul", "tf.BatchMatMul", "tf.BatchMatMulV2", "tf.BatchMatMulV3"), _matmul)
_register("tf.Reshape", lambda op, a: [K.reshape(a[0], ints(a[1]))])
_register("tf.Transpose", lambda op, a: [np.transpose(a[0], ints(a[1]))])
_register("tf.Slice", lambda op, a: [K.slice_(a[0], ints(a[1]), ints(a[2]))])
_register("tf.GatherNd", lambda op, a: [K.gather_nd(a[0], a[1])])
_register("tf.ExpandDims", lambda op, a: [np.expand_dims(a[0], scalar_int(a[1]))])
_register("tf.Fill", lambda op, a: [np.full(ints(a[0]), a[1].reshape(()))])
_register("tf.BroadcastTo", lambda op, a: [K.broadcast_to(a[0], ints(a[1]))])
_register("tf.Tile", lambda op, a: [np.tile(a[0], ints(a[1]))])
_register("tf.ReverseV2", lambda op, a: [np.flip(a[0], tuple(ints(a[1]))).copy()])
_register("tf.AddN", lambda op, a: [np.sum(np.stack(a), axis=0, dtype=a[0].dtype)])
_register("tf.ClipByValue", lambda op, a: [np.clip(a[0], a[1], a[2])])
_register(
    "tf.ArgMax", lambda op, a: [K.arg_reduce(a[0], _axis(a[1], a[0].ndim), True, result_dtype(op))]
)
_register(
    "tf.ArgMin", lambda op, a: [K.arg_reduce(a[0], _axis(a[1], a[0].ndim), False, result_dtype(op))]
)
_register("tf.TopKV2", lambda op, a: K.top_k(a[0], scalar_int(a[1]), result_dtype(op, 1)))
_register("tf.Where", lambda op, a: [K.where(a[0])] if len(a) == 1 else [np.where(*a)])
_register(
    "tf.BroadcastArgs",
    lambda op, a: [np.asarray(np.broadcast_shapes(tuple(ints(a[0])), tuple(ints(a[1]))))],
)
_register(("tf.Pad", "tf.PadV2"), lambda op, a: [K.pad(a[0], a[1], a[2] if len(a) > 2 else None)])
_register("tf.MirrorPad", lambda op, a: [K.pad(a[0], a[1], mode=str(op.attr("mode", "REFLECT")))])
_register("tf.Shape", lambda op, a: [np.asarray(a[0].shape)])
_register("tf.ShapeN", lambda op, a: [np.asarray(x.shape) for x in a])
_register("tf.Size", lambda op, a: [np.asarray(a[0].size)])
_register("tf.Rank", lambda op, a: [np.asarray(a[0].ndim)])
_register(
    "tf.MatrixBandPart", lambda op, a: [K.band_part(a[0], scalar_int(a[1]), scalar_int(a[2]))]
)
_register("tf.Roll", lambda op, a: [K.roll(a[0], ints(a[1]), ints(a[2]))])
_register("tf.SparseToDense", lambda op, a: [K.sparse_to_dense(*a)])
_register("tf.TensorScatterAdd", lambda op, a: [K.tensor_scatter(*a, add=True)])
_register("tf.TensorScatterUpdate", lambda op, a: [K.tensor_scatter(*a, add=False)])
_register("tf.Softsign", lambda op, a: [a[0] / (np.abs(a[0]) + 1)])
_register("tf.SigmoidGrad", lambda op, a: [a[1] * a[0] * (1 - a[0])])
_register("tf.TanhGrad", lambda op, a: [a[1] * (1 - a[0] * a[0])])
_register("tf.SqrtGrad", lambda op, a: [a[1] * 0.5 / a[0]])
_register("tf.RsqrtGrad", lambda op, a: [a[0] * a[0] * a[0] * (a[1] * -0.5)])
_register("tf.Complex", lambda op, a: [(a[0] + 1j * a[1]).astype(result_dtype(op))])
_register("tf.Real", lambda op, a: [np.real(a[0]).astype(result_dtype(op))])
_register("tf.Imag", lambda op, a: [np.imag(a[0]).astype(result_dtype(op))])
_register("tf.ComplexAbs", lambda op, a: [np.abs(a[0]).astype(result_dtype(op))])


def _softmax(op: Operation, a: list[np.ndarray], log: bool) -> list[np.ndarray]:
    """Along the last axis, in float64 then rounded to the result type (TF's kernel computes
    in the input type: results may differ in the last ulp)."""
    x = np.asarray(a[0], dtype=np.float64)
    if x.ndim == 0:
        raise NotFoldable("softmax of a scalar")
    shifted = x - np.max(x, axis=-1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    out = shifted - lse if log else np.exp(shifted - lse)
    return [out.astype(result_dtype(op))]


_register("tf.Softmax", lambda op, a: _softmax(op, a, log=False))
_register("tf.LogSoftmax", lambda op, a: _softmax(op, a, log=True))


class FoldConstant(RewritePattern):
    """X(constants...) -> arith.constant(s) computed with NumPy by `folders[X]` (TF's size
    policy); shared by the tf folds (`FoldTfConstant`) and the tfl folds (`FoldTflConstant`)"""

    def __init__(self, folders: Mapping[str, Folder], root: str | tuple[str, ...]) -> None:
        self.folders = folders
        self.root = root

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        arrays = [constant_value(v) for v in op.operands]
        missing = [i for i, a in enumerate(arrays) if a is None]
        if missing:
            return rw.fail(f"operand #{missing[0]} is not a constant")
        if any(is_elided(a) for a in arrays):
            return rw.fail("a constant's data was elided from the text")
        if any(v.type.quant is not None for v in [*op.operands, *op.results]):
            return rw.fail("quantized operands or results")
        if any(DTYPES.get(v.type.dtype) is None for v in [*op.operands, *op.results]):
            return rw.fail("an element type without a NumPy equivalent")
        operand_bits = sum(array_bits(a) for a in arrays)  # type: ignore[arg-type]
        if operand_bits > OPERAND_BITS_LIMIT:
            return rw.fail("operands too large to fold")
        try:
            with np.errstate(all="ignore"):
                results = self.folders[op.name](op, arrays)  # type: ignore[arg-type]
        except (NotFoldable, ValueError, IndexError, TypeError, ZeroDivisionError) as e:
            return rw.fail(f"not foldable: {e}")
        reason = replace_with_constants(op, rw, results, operand_bits)
        if reason:
            return rw.fail(reason)
        return None


class FoldTfConstant(FoldConstant):
    """tf.X(constants...) -> arith.constant(s) computed with NumPy (TF's size policy)"""

    def __init__(self, op_name: str) -> None:
        super().__init__(FOLDERS, op_name)


# --- shape computations on partially known shapes ----------------------------------------------------

MAX_DEPTH = 12


class Sym:
    """An unknown dim with a known origin: dim `index` of `value` (from a tf.Shape)."""

    __slots__ = ("value", "index")

    def __init__(self, value: Value, index: int) -> None:
        self.value = value
        self.index = index

    def __repr__(self) -> str:
        return f"Sym({self.value.name_hint}[{self.index}])"


def partial_value(value: Value, depth: int = 0) -> np.ndarray | None:
    """A 0-D/1-D integer value as an object array whose entries are ints, `Sym`s (dynamic dims
    of a known tensor) or None (unknown), else None when nothing is known."""
    t = value.type
    if depth > MAX_DEPTH or t.shape is None or len(t.shape) > 1 or not t.is_int:
        return None
    arr = constant_value(value)
    if arr is not None:
        return np.asarray(arr).astype(object)
    op = value.defining_op
    if op is None:
        return None
    index = op.results.index(value)
    try:
        return _partial(op, index, depth + 1)
    except (NotFoldable, ValueError, IndexError, TypeError, SliceSpecError):
        return None


def _known(p: np.ndarray | None) -> bool:
    return p is not None and all(isinstance(x, (int, np.integer)) for x in p.ravel())


def _partial(op: Operation, index: int, depth: int) -> np.ndarray | None:
    name = op.name
    if name in ("tf.Shape", "tf.ShapeN"):
        x = op.operands[index]
        shape = x.type.shape
        if shape is None:
            return None
        return np.array([Sym(x, k) if d is None else d for k, d in enumerate(shape)], dtype=object)
    if name == "tf.Rank":
        rank = op.operands[0].type.rank
        return None if rank is None else np.array(rank, dtype=object)
    if name == "tf.Size":
        return np.array(op.operands[0].type.num_elements, dtype=object)
    if name in ("tf.Identity", "tf.Cast", "tf.StopGradient", "tf.Snapshot"):
        return partial_value(op.operands[0], depth)
    if name == "tf.StridedSlice":
        src = partial_value(op.operands[0], depth)
        if src is None or src.ndim != 1:
            return None
        spec = dense_slice_of(op, 1)
        return None if spec is None else evaluate(src, spec)
    if name == "tf.Slice":
        src = partial_value(op.operands[0], depth)
        begin, size = constant_value(op.operands[1]), constant_value(op.operands[2])
        if src is None or begin is None or size is None or src.ndim != 1:
            return None
        return K.slice_(src, ints(begin), ints(size))
    if name == "tf.GatherV2" or name == "tf.Gather":
        src = partial_value(op.operands[0], depth)
        idx = constant_value(op.operands[1])
        if src is None or idx is None or src.ndim != 1:
            return None
        if name == "tf.GatherV2":
            axis = constant_value(op.operands[2])
            if axis is None or ints(axis) != [0]:
                return None
        return K.gather(src, idx, 0, 0)
    if name == "tf.Pack" and int(op.attr("axis", 0)) == 0:
        parts = [partial_value(v, depth) for v in op.operands]
        if any(p is None or p.ndim != 0 for p in parts):
            return None
        return np.array([p[()] for p in parts], dtype=object)  # type: ignore[index]
    if name == "tf.ConcatV2":
        parts = [partial_value(v, depth) for v in op.operands[:-1]]
        if any(p is None or p.ndim != 1 for p in parts):
            return None
        return np.concatenate(parts)  # type: ignore[arg-type]
    if name == "tf.Reshape":
        src = partial_value(op.operands[0], depth)
        shape = op.results[0].type.shape
        if src is None or shape is None or None in shape:
            return None
        return src.reshape(shape)
    if name in FOLDERS:  # arithmetic on fully known values
        parts = [partial_value(v, depth) for v in op.operands]
        if not all(_known(p) for p in parts):
            return None
        arrays = [
            np.asarray(p.tolist(), dtype=DTYPES[v.type.dtype])  # type: ignore[union-attr]
            for p, v in zip(parts, op.operands)
        ]
        return np.asarray(FOLDERS[name](op, arrays)[index]).astype(object)
    return None


class FoldShapeComputation(RewritePattern):
    """tf.StridedSlice(tf.Shape(x: [?, 4, 8]), [1], [3], [1]) -> arith.constant [4, 8] (any shape
    arithmetic whose result is known although some inputs are not constants)"""

    def __init__(self, op_name: str) -> None:
        self.root = op_name

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if all(constant_value(v) is not None for v in op.operands) and op.name in FOLDERS:
            return rw.fail("all operands are constants (FoldTfConstant's case)")
        arrays = []
        for i, r in enumerate(op.results):
            p = _partial(op, i, 1) if r.type.is_int else None
            if not _known(p):
                return rw.fail(f"result #{i} depends on unknown dims")
            arrays.append(np.asarray(p.tolist(), dtype=result_dtype(op, i)))  # type: ignore[union-attr]
        reason = replace_with_constants(op, rw, arrays, 0)
        if reason:
            return rw.fail(reason)
        return None


SHAPE_OPS = (
    "tf.Shape",
    "tf.ShapeN",
    "tf.Rank",
    "tf.Size",
    "tf.StridedSlice",
    "tf.Slice",
    "tf.GatherV2",
    "tf.Gather",
    "tf.Pack",
    "tf.ConcatV2",
    "tf.Cast",
    "tf.Reshape",
    "tf.Prod",
    "tf.Sum",
    "tf.Mul",
    "tf.Add",
    "tf.AddV2",
    "tf.Sub",
    "tf.FloorDiv",
    "tf.Maximum",
    "tf.Minimum",
    "tf.BroadcastArgs",
)


class FoldLikeOfStaticShape(RewritePattern):
    """tf.ZerosLike(x: static) -> arith.constant 0s (OnesLike: 1s), within the size policy"""

    root = ("tf.ZerosLike", "tf.OnesLike")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        t = op.result.type
        if not t.is_static or t.quant is not None:
            return rw.fail("result shape is not static")
        if constant_value(op.operands[0]) is not None:
            return rw.fail("constant input (FoldTfConstant's case)")
        make = np.zeros if op.name == "tf.ZerosLike" else np.ones
        arr = make(t.shape, dtype=result_dtype(op))
        reason = replace_with_constants(op, rw, [arr], 0)
        if reason:
            return rw.fail(reason)
        return None


class ReshapeToStaticShape(RewritePattern):
    """tf.Reshape(x, computed shape) -> tf.Reshape(x, const shape with -1) when the result type
    has at most one unknown dim; tf.Reshape(x) -> x when nothing changes"""

    root = "tf.Reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, shape = op.operands
        out = op.result.type
        if x.type == out and shape_with_wildcard(out.shape) is not None:
            rw.replace(op, x)  # same shape, at most one unknown dim: nothing moves
            return None
        if constant_value(shape) is not None:
            return rw.fail("shape is already a constant")
        target = shape_with_wildcard(out.shape)
        refined = None
        if target is None:
            resolved = resolve_reshape_target(x, shape)
            if resolved is None:
                return rw.fail("result has several unknown dims that are not dims of the input")
            target, refined = resolved
        dtype = DTYPES.get(shape.type.dtype) or np.dtype(np.int32)
        new = rw.insert(constant(np.asarray(target, dtype=dtype), op.location)).result
        with rw.modify(op):
            op.set_operand(1, new)
            if refined is not None and not returned_from_subgraph(op.result):
                op.result.type = out.with_shape(refined)
        return None


_SAME_SHAPE_UNARY = frozenset(_TF_UNARY) | {
    "tf.Cast",
    "tf.Identity",
    "tf.StopGradient",
    "tf.Snapshot",
    "tf.CheckNumerics",
    "tf.Relu",
    "tf.Relu6",
    "tf.Elu",
    "tf.Selu",
    "tf.LeakyRelu",
    "tf.Softplus",
}
_BROADCASTING = frozenset(_TF_BINARY) | {"tf.BiasAdd", "tf.SelectV2"}


def _dim_is_one_or_absent(value: Value, k: int, rank: int) -> bool:
    shape = value.type.shape
    if shape is None:
        return False
    j = k - (rank - len(shape))
    return j < 0 or shape[j] == 1


def same_dim(source: Value, k: int, x: Value, depth: int = 0) -> bool:
    """Whether dim k of `x` is provably dim k of `source` (x is source, or is computed from it
    by elementwise ops whose other operands do not broadcast along k)."""
    if x is source:
        return True
    op = x.defining_op
    rank = x.type.rank
    if op is None or rank is None or depth > 8:
        return False
    if op.name in _SAME_SHAPE_UNARY:
        return same_dim(source, k, op.operands[0], depth + 1)
    if op.name in _BROADCASTING:
        for o in op.operands:
            rest = [q for q in op.operands if q is not o]
            if (
                o.type.rank == rank
                and all(_dim_is_one_or_absent(q, k, rank) for q in rest)
                and same_dim(source, k, o, depth + 1)
            ):
                return True
    return False


def resolve_reshape_target(x: Value, shape: Value) -> tuple[list[int], tuple] | None:
    """For a shape vector of ints plus one dynamic dim k of `x` itself (`[tf.shape(x)[0], -1]`):
    the constant target with -1 for that dim, and the refined result dims."""
    p = partial_value(shape)
    xs = x.type.shape
    if p is None or p.ndim != 1 or xs is None:
        return None
    syms = [i for i, e in enumerate(p) if isinstance(e, Sym)]
    if len(syms) != 1 or any(e is None for e in p):
        return None
    i, sym = syms[0], p[syms[0]]
    if sym.index >= len(xs) or not same_dim(sym.value, sym.index, x):
        return None
    rest = [int(e) for j, e in enumerate(p) if j != i]
    known = int(np.prod([e for e in rest if e != -1], dtype=np.int64))
    if known == 0 or rest.count(-1) > 1:
        return None
    if -1 in rest:  # the wildcard is what is left of x besides dim k
        others = [d for j, d in enumerate(xs) if j != sym.index]
        if None in others or int(np.prod(others, dtype=np.int64)) % known:
            return None
        rest[rest.index(-1)] = int(np.prod(others, dtype=np.int64)) // known
    target = rest[:i] + [-1] + rest[i:]
    return target, tuple(None if j == i else d for j, d in enumerate(target))


IDENTITY_LIKE = (
    "tf.Identity",
    "tf.IdentityN",
    "tf.StopGradient",
    "tf.Snapshot",
    "tf.CheckNumerics",
    "tf.PreventGradient",
    "tf.EnsureShape",
    "tf.PlaceholderWithDefault",
)


class RemoveIdentityLike(RewritePattern):
    """tf.Identity(x) -> x (IdentityN, StopGradient, Snapshot, CheckNumerics, PreventGradient,
    EnsureShape, PlaceholderWithDefault likewise); also in legalize-tf's patterns, for pipelines
    that do not canonicalize first"""

    root = IDENTITY_LIKE

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        n = len(op.results)
        if op.num_operands < n:
            return rw.fail(f"{n} results but only {op.num_operands} inputs")
        for r, v in zip(op.results, op.operands):
            if r.type.dtype != v.type.dtype:
                return rw.fail("input and result element types differ")
        rw.replace(op, list(op.operands[:n]))
        return None


class RemoveNoopCast(RewritePattern):
    """tf.Cast(x: T) -> x when the result type is T"""

    root = "tf.Cast"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type.dtype != op.result.type.dtype or x.type.quant != op.result.type.quant:
            return rw.fail("element types differ")
        rw.replace(op, x)
        return None


class SignBitTest(RewritePattern):
    """tf.Less(tf.BitwiseAnd(v, INT_MIN), 0) -> tf.Less(v, 0): masking the sign bit of a signed
    integer does not change its sign (Keras' argmax tells -0.0 from 0.0 this way)"""

    root = "tf.Less"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        masked, zero = op.operands
        z = constant_value(zero)
        if z is None or z.size != 1 or z.reshape(()).item() != 0:
            return rw.fail("not a comparison with zero")
        inner = masked.defining_op
        if inner is None or inner.name != "tf.BitwiseAnd":
            return rw.fail("left operand is not a tf.BitwiseAnd")
        for v, mask in (inner.operands, inner.operands[::-1]):
            m = constant_value(mask)
            dt = DTYPES.get(v.type.dtype)
            if (
                m is not None
                and dt is not None
                and dt.kind == "i"
                and m.size == 1
                and int(m.reshape(())) == int(np.iinfo(dt).min)
                and v.type.shape == masked.type.shape
            ):
                rw.set_operand(op, 0, v)
                return None
        return rw.fail("the mask is not the sign bit")


class RefineTile(RewritePattern):
    """tf.Tile(x, multiples = all 1) -> x (TF's own Tile folder); with other constant multiples
    and a static x, the result type gets its static shape (x.shape * multiples), so a consumer
    needing static dims (a depthwise filter) legalizes: `tf.image.ssim`'s Gaussian filter tiled
    by the image's channel count"""

    root = "tf.Tile"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x, multiples = op.operands
        m = constant_value(multiples)
        if m is None:
            return rw.fail("multiples are not constant")
        m = np.asarray(m).reshape(-1)
        if x.type.dtype != op.result.type.dtype or x.type.rank != op.result.type.rank:
            return rw.fail("input and result types differ")
        if np.all(m == 1):
            if x.type != op.result.type and returned_from_subgraph(op.result):
                return rw.fail("a refined type would change the signature of a called function")
            rw.replace(op, x)
            return None
        if op.result.type.is_static:
            return rw.fail("result type is already static")
        if not x.type.is_static or len(m) != x.type.rank:
            return rw.fail("input shape is not static")
        if returned_from_subgraph(op.result):
            return rw.fail("a refined type would change the signature of a called function")
        shape = tuple(int(d) * int(k) for d, k in zip(x.type.shape, m))
        with rw.modify(op):
            op.result.type = op.result.type.with_shape(shape)
        return None


def _register_all() -> None:
    for name in FOLDERS:
        register_canonicalization(name, FoldTfConstant(name))
    for name in SHAPE_OPS:
        register_canonicalization(name, FoldShapeComputation(name))
    for pattern in (
        FoldLikeOfStaticShape(),
        ReshapeToStaticShape(),
        RemoveIdentityLike(),
        RemoveNoopCast(),
        SignBitTest(),
        RefineTile(),
    ):
        for root in pattern.roots or ():
            register_canonicalization(root, pattern)


_register_all()
