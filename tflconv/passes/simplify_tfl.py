"""`simplify-tfl`: greedy cleanups on tfl ops after legalization and fusion.

Reshape chains collapse, no-op reshapes/transposes/casts/broadcasts/slices disappear, transposes
compose (and cancel), squeeze/expand_dims and transposes that only move size-1 dims become
reshapes, and tfl ops whose operands are all constants are folded with NumPy (TF's size
policy), so the final graph has no computable ops left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Module, Operation, Value, constant, constant_value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.pipeline import check_pattern_options
from tflconv.core.rewrite import (
    PatternRewriter,
    PatternSet,
    RewritePattern,
    apply_greedy,
)

from .cleanup import fold_kernels as K
from .cleanup.fold_kernels import NotFoldable, ints, scalar_int
from .cleanup.fold_tf import FOLDERS, FoldConstant, Folder, replace_with_constants, result_dtype
from .legalize_tf.strided_slice import SliceSpecError, dense_slice_of
from .legalize_tf.tensor_util import shape_with_wildcard

RESHAPE_LIKE = ("tfl.reshape", "tfl.squeeze", "tfl.expand_dims")


def _const_i32(rw: PatternRewriter, values: list[int], op: Operation) -> Value:
    return rw.insert(constant(np.asarray(values, dtype=np.int32), op.location), before=op).result


def _reshape_noop(x: Value, out: Value) -> bool:
    """Same element type and shape with at most one unknown dim: no element moves."""
    return x.type == out.type and shape_with_wildcard(out.type.shape) is not None


class CollapseReshapes(RewritePattern):
    """tfl.reshape(tfl.reshape(x, s1), s2) -> tfl.reshape(x, s2) (also through squeeze and
    expand_dims: none of them moves elements)"""

    root = "tfl.reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        inner = op.operands[0].defining_op
        if inner is None or inner.name not in RESHAPE_LIKE:
            return rw.fail("input is not produced by a reshape/squeeze/expand_dims")
        if inner.operands[0].type.quant != op.result.type.quant:
            return rw.fail("quantization parameters differ")
        rw.set_operand(op, 0, inner.operands[0])
        return None


class RemoveNoopReshape(RewritePattern):
    """tfl.reshape(x: T) -> x when the result type is T (at most one unknown dim)"""

    root = RESHAPE_LIKE

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _reshape_noop(op.operands[0], op.result):
            return rw.fail("the shape changes (or has several unknown dims)")
        rw.replace(op, op.operands[0])
        return None


class ReshapeToStaticShape(RewritePattern):
    """tfl.reshape(x, computed shape) -> tfl.reshape(x, const shape) when the result type has at
    most one unknown dim (it becomes -1); tfl.squeeze/expand_dims likewise -> tfl.reshape"""

    root = RESHAPE_LIKE

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if (
            op.name == "tfl.reshape"
            and op.num_operands > 1
            and constant_value(op.operands[1]) is not None
        ):
            return rw.fail("shape is already a constant")
        target = shape_with_wildcard(op.result.type.shape)
        if target is None:
            return rw.fail("result has several unknown dims (or an ambiguous -1)")
        shape = _const_i32(rw, target, op)
        rw.replace_with_new(op, "tfl.reshape", [op.operands[0], shape])
        return None


def _perm(op: Operation) -> list[int] | None:
    arr = constant_value(op.operands[1])
    return None if arr is None else ints(arr)


class FoldTransposes(RewritePattern):
    """tfl.transpose(tfl.transpose(x, p), q) -> x when p[q[i]] == i, else tfl.transpose(x, p[q])"""

    root = "tfl.transpose"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        inner = op.operands[0].defining_op
        if inner is None or inner.name != "tfl.transpose":
            return rw.fail("input is not produced by a tfl.transpose")
        p, q = _perm(inner), _perm(op)
        if p is None or q is None or len(p) != len(q):
            return rw.fail("permutations are not constants of one length")
        x = inner.operands[0]
        composed = [p[i] for i in q]
        if composed == list(range(len(q))) and x.type == op.result.type:
            rw.replace(op, x)
            return None
        rw.replace_with_new(op, "tfl.transpose", [x, _const_i32(rw, composed, op)])
        return None


class RemoveIdentityTranspose(RewritePattern):
    """tfl.transpose(x, [0, 1, ..., n-1]) -> x"""

    root = "tfl.transpose"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        perm = _perm(op)
        if perm is None or perm != list(range(len(perm))):
            return rw.fail("permutation is not the identity (or not constant)")
        if op.operands[0].type != op.result.type:
            return rw.fail("input and result types differ")
        rw.replace(op, op.operands[0])
        return None


class TransposeToReshape(RewritePattern):
    """tfl.transpose(x, p) -> tfl.reshape(x) when p only moves size-1 dims (the element order
    is unchanged)"""

    root = "tfl.transpose"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        perm = _perm(op)
        shape = op.operands[0].type.shape
        if perm is None or shape is None or len(perm) != len(shape):
            return rw.fail("permutation or input rank unknown")
        moved = [i for i in perm if shape[i] != 1]
        if moved != sorted(moved):
            return rw.fail("the permutation reorders dims larger than 1")
        target = shape_with_wildcard(op.result.type.shape)
        if target is None:
            return rw.fail("result has several unknown dims")
        rw.replace_with_new(op, "tfl.reshape", [op.operands[0], _const_i32(rw, target, op)])
        return None


class RemoveNoopOp(RewritePattern):
    """tfl.cast / tfl.broadcast_to / tfl.slice / tfl.strided_slice / single-input
    tfl.concatenation, tfl.tile by ones, tfl.reverse_v2 of size-1 dims -> x when the result
    equals the (static) input"""

    root = (
        "tfl.cast",
        "tfl.broadcast_to",
        "tfl.slice",
        "tfl.strided_slice",
        "tfl.concatenation",
        "tfl.tile",
    )

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands == 0:
            return rw.fail("no operands")
        x = op.operands[0]
        if x.type != op.result.type:
            return rw.fail("input and result types differ")
        if op.name == "tfl.cast":
            rw.replace(op, x)
            return None
        if op.name == "tfl.concatenation":
            if op.num_operands != 1 or op.attr("fused_activation_function", "NONE") != "NONE":
                return rw.fail("several inputs or a fused activation")
            rw.replace(op, x)
            return None
        if not x.type.is_static:
            return rw.fail("input shape is not static")
        if op.name == "tfl.strided_slice":
            spec = None
            with contextlib.suppress(SliceSpecError):
                spec = dense_slice_of(op, x.type.rank or 0)
            if (
                spec is None
                or op.attr("offset", False)
                or spec.has_new_axes
                or any(s != 1 for s in spec.strides)
            ):
                return rw.fail("not a unit-stride slice with a constant spec")
        if op.name == "tfl.slice" and constant_value(op.operands[1]) is None:
            return rw.fail("begin is not a constant")
        if op.name == "tfl.slice" and any(ints(constant_value(op.operands[1]))):  # type: ignore[arg-type]
            return rw.fail("slice does not start at the origin")
        rw.replace(op, x)
        return None


class FoldShapeOfStatic(RewritePattern):
    """tfl.shape(x: static) -> arith.constant; tfl.rank(x: ranked) -> arith.constant"""

    root = ("tfl.shape", "tfl.rank")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        t = op.operands[0].type
        if op.name == "tfl.shape":
            if not t.is_static:
                return rw.fail("input shape is not static")
            arr = np.asarray(t.shape, dtype=result_dtype(op))
        else:
            if t.rank is None:
                return rw.fail("input rank unknown")
            arr = np.asarray(t.rank, dtype=result_dtype(op))
        reason = replace_with_constants(op, rw, [arr], 0)
        if reason:
            return rw.fail(reason)
        return None


# --- NumPy folders of tfl ops --------------------------------------------------------------------

TFL_FOLDERS: dict[str, Folder] = {}

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "NONE": lambda x: x,
    "RELU": lambda x: np.maximum(x, 0).astype(x.dtype),
    "RELU6": lambda x: np.clip(x, 0, 6).astype(x.dtype),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1).astype(x.dtype),
    "TANH": np.tanh,
}


def _act(op: Operation, x: np.ndarray) -> np.ndarray:
    name = op.attr("fused_activation_function", "NONE") or "NONE"
    f = _ACTIVATIONS.get(name)
    if f is None:
        raise NotFoldable(f"fused activation {name}")
    return f(np.asarray(x))


def _binary(kernel: str) -> Folder:
    return lambda op, a: [_act(op, K.BINARY[kernel](a[0], a[1]))]


for _name, _kernel in {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "div": "div",
    "floor_div": "floor_div",
    "floor_mod": "floor_mod",
    "maximum": "maximum",
    "minimum": "minimum",
    "pow": "pow",
    "squared_difference": "squared_difference",
    "less": "less",
    "less_equal": "less_equal",
    "greater": "greater",
    "greater_equal": "greater_equal",
    "equal": "equal",
    "not_equal": "not_equal",
    "logical_and": "logical_and",
    "logical_or": "logical_or",
    "atan2": "atan2",
    "bitwise_xor": "bitwise_xor",
}.items():
    TFL_FOLDERS["tfl." + _name] = _binary(_kernel)

for _name, _kernel in {
    "abs": "abs",
    "neg": "neg",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "rsqrt": "rsqrt",
    "square": "square",
    "sin": "sin",
    "cos": "cos",
    "floor": "floor",
    "ceil": "ceil",
    "round": "round",
    "sign": "sign",
    "logical_not": "logical_not",
    "relu": "relu",
    "relu6": "relu6",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "zeros_like": "zeros_like",
}.items():
    TFL_FOLDERS["tfl." + _name] = lambda op, a, _f=K.UNARY[_kernel]: [_f(a[0])]


def _axis_attr(op: Operation, rank: int, key: str = "axis") -> int:
    axis = int(op.attr(key, 0))
    if not -rank <= axis < max(rank, 1):
        raise NotFoldable("axis out of range")
    return axis % max(rank, 1)


def _reshape(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    if len(a) > 1 and a[1].size:
        return [K.reshape(a[0], ints(a[1]))]
    shape = op.result.type.shape
    if shape is None or None in shape:
        raise NotFoldable("no shape operand and a dynamic result type")
    return [K.reshape(a[0], list(shape))]  # type: ignore[arg-type]


def _strided_slice(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    if op.attr("offset", False):
        raise NotFoldable("offset strided slice")
    return FOLDERS["tf.StridedSlice"](op, a)


def _cumsum(op: Operation, a: list[np.ndarray]) -> list[np.ndarray]:
    axis = scalar_int(a[1]) % max(a[0].ndim, 1)
    ex, rev = bool(op.attr("exclusive", False)), bool(op.attr("reverse", False))
    return [K.cumulative(a[0], axis, ex, rev, prod=False)]


TFL_FOLDERS.update(
    {
        "tfl.reshape": _reshape,
        "tfl.concatenation": lambda op, a: [
            _act(op, np.concatenate(a, axis=_axis_attr(op, a[0].ndim)))
        ],
        "tfl.unpack": lambda op, a: [
            np.take(a[0], i, axis=_axis_attr(op, a[0].ndim))
            for i in range(a[0].shape[_axis_attr(op, a[0].ndim)])
        ],
        "tfl.split": lambda op, a: K.split(a[1], len(op.results), scalar_int(a[0]) % a[1].ndim),
        "tfl.split_v": lambda op, a: K.split_v(a[0], ints(a[1]), scalar_int(a[2]) % a[0].ndim),
        "tfl.strided_slice": _strided_slice,
        "tfl.gather": lambda op, a: [
            K.gather(a[0], a[1], int(op.attr("axis", 0)), int(op.attr("batch_dims", 0)))
        ],
        "tfl.select": lambda op, a: [K.select_v1(*a)],
        "tfl.select_v2": lambda op, a: [np.where(a[0], a[1], a[2])],
        "tfl.cumsum": _cumsum,
        "tfl.arg_max": lambda op, a: [
            K.arg_reduce(a[0], scalar_int(a[1]) % a[0].ndim, True, result_dtype(op))
        ],
        "tfl.arg_min": lambda op, a: [
            K.arg_reduce(a[0], scalar_int(a[1]) % a[0].ndim, False, result_dtype(op))
        ],
        "tfl.batch_matmul": lambda op, a: [
            K.matmul(a[0], a[1], bool(op.attr("adj_x", False)), bool(op.attr("adj_y", False)))
        ],
    }
)


# tfl ops whose operands and attributes mean what the tf op's do: the tf folder serves both.
_SAME_AS_TF = {
    "tfl.sum": "tf.Sum",
    "tfl.mean": "tf.Mean",
    "tfl.reduce_max": "tf.Max",
    "tfl.reduce_min": "tf.Min",
    "tfl.reduce_prod": "tf.Prod",
    "tfl.reduce_any": "tf.Any",
    "tfl.reduce_all": "tf.All",
    "tfl.cast": "tf.Cast",
    "tfl.transpose": "tf.Transpose",
    "tfl.pack": "tf.Pack",
    "tfl.slice": "tf.Slice",
    "tfl.gather_nd": "tf.GatherNd",
    "tfl.expand_dims": "tf.ExpandDims",
    "tfl.squeeze": "tf.Squeeze",
    "tfl.fill": "tf.Fill",
    "tfl.range": "tf.Range",
    "tfl.shape": "tf.Shape",
    "tfl.rank": "tf.Rank",
    "tfl.broadcast_to": "tf.BroadcastTo",
    "tfl.tile": "tf.Tile",
    "tfl.one_hot": "tf.OneHot",
    "tfl.reverse_v2": "tf.ReverseV2",
    "tfl.topk_v2": "tf.TopKV2",
    "tfl.broadcast_args": "tf.BroadcastArgs",
    "tfl.add_n": "tf.AddN",
    "tfl.where": "tf.Where",
    "tfl.pad": "tf.Pad",
    "tfl.padv2": "tf.PadV2",
}
TFL_FOLDERS.update({name: FOLDERS[tf_name] for name, tf_name in _SAME_AS_TF.items()})


class FoldTflConstant(FoldConstant):
    """tfl.X(constants...) -> arith.constant(s) computed with NumPy (TF's size policy)"""

    def __init__(self) -> None:
        super().__init__(TFL_FOLDERS, tuple(TFL_FOLDERS))


PATTERNS: list[RewritePattern] = [
    FoldTflConstant(),
    FoldShapeOfStatic(),
    CollapseReshapes(),
    RemoveNoopReshape(),
    ReshapeToStaticShape(),
    RemoveIdentityTranspose(),
    FoldTransposes(),
    TransposeToReshape(),
    RemoveNoopOp(),
]


@register_pass
@dataclass(frozen=True)
class SimplifyTfl(Pass):
    """Collapse reshape chains, cancel/compose transposes, drop no-op reshapes, casts,
    broadcasts and slices, turn squeeze/expand_dims/size-1 transposes into reshapes, and fold
    tfl ops on constants."""

    name: ClassVar[str] = "simplify-tfl"
    max_iterations: int = 10
    """Greedy driver cap: sweeps over the module before giving up on a fixpoint."""
    fold: bool = True
    """Fold tfl ops whose operands are all constants."""
    disable_patterns: tuple[str, ...] = ()
    """Pattern names not to apply (bisecting a bad rewrite)."""

    def __post_init__(self) -> None:
        if self.disable_patterns:
            known = [p.name for p in PATTERNS]
            check_pattern_options(known, {"disable-patterns": self.disable_patterns})

    def run(self, module: Module, ctx: PassContext) -> bool:
        disabled = set(self.disable_patterns)
        if not self.fold:
            disabled.add("FoldTflConstant")
        patterns = PatternSet(p for p in PATTERNS if p.name not in disabled)
        return apply_greedy(
            module,
            patterns,
            max_iterations=self.max_iterations,
            tracer=ctx.tracer,
            listener=ctx.listener,
        )
