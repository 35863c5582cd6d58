"""The `stablehlo` dialect: StableHLO ops as the JAX frontend imports them (docs/stablehlo.md).

Op name = "stablehlo." + the spec's op name; operands and results in spec order with the spec's
names (`op.lhs`, `op.operand`); attributes with the spec's names, struct attributes flattened
into their fields (`lhs_contracting_dimensions`, `input_spatial_dimensions`, ...), enums as
upper-case strings. Declared below: the ops legalization reads, with cheap verifiers and, for
the ops shape arithmetic uses (jax.export's symbolic dims), constant folders. Undeclared ops
stay generic; they are pure unless they have side effects (`custom_call` with
`has_side_effect`, random numbers, or a body holding such an op).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tflconv.core.ir import REQUIRED, Operation, Value
from tflconv.core.opdef import (
    COMMUTATIVE,
    ELEMENTWISE,
    PURE,
    SAME_OPERANDS_AND_RESULT_TYPE,
    TERMINATOR,
    Dialect,
    OpDef,
    declare_dialect,
    declare_op,
    is_pure,
)
from tflconv.core.types import DTYPES

IMPURE_OPS = frozenset(
    {
        "stablehlo.rng",
        "stablehlo.rng_bit_generator",
        "stablehlo.infeed",
        "stablehlo.outfeed",
        "stablehlo.send",
        "stablehlo.recv",
        "stablehlo.after_all",
        "stablehlo.create_token",
    }
)


def _generic_pure(op: Operation) -> bool:
    if op.name in IMPURE_OPS:
        return False
    if op.name == "stablehlo.custom_call" and op.attributes.get("has_side_effect"):
        return False
    return all(
        is_pure(inner) or inner.name == "stablehlo.return"
        for region in op.regions
        for inner in region_ops(region)
    )


def region_ops(region: Any) -> Any:
    for block in region.blocks:
        yield from block.walk()


declare_dialect(
    Dialect(
        "stablehlo",
        generic_pure=_generic_pure,
        summary="StableHLO ops as imported from jax.export / MLIR (undeclared ops stay generic).",
    )
)

COMPARISON_DIRECTIONS = frozenset({"EQ", "NE", "GE", "GT", "LE", "LT"})
COMPARE_TYPES = frozenset({"FLOAT", "TOTALORDER", "SIGNED", "UNSIGNED", "NOTYPE"})

# --- importer defaults (the spec's defaults for optional attributes) ---------------------------


def fill_defaults(name: str, attributes: dict[str, Any], operands: list[Value]) -> None:
    """Fill the optional attributes the contract promises with the spec's defaults."""
    if name == "stablehlo.convolution":
        rank = operands[0].type.rank
        n = len(attributes.get("input_spatial_dimensions", [])) or (rank - 2 if rank else 0)
        attributes.setdefault("window_strides", [1] * n)
        attributes.setdefault("padding", [[0, 0] for _ in range(n)])
        attributes.setdefault("lhs_dilation", [1] * n)
        attributes.setdefault("rhs_dilation", [1] * n)
        attributes.setdefault("window_reversal", [False] * n)
        attributes.setdefault("feature_group_count", 1)
        attributes.setdefault("batch_group_count", 1)
    elif name == "stablehlo.reduce_window":
        n = len(attributes.get("window_dimensions", []))
        attributes.setdefault("window_strides", [1] * n)
        attributes.setdefault("base_dilations", [1] * n)
        attributes.setdefault("window_dilations", [1] * n)
        attributes.setdefault("padding", [[0, 0] for _ in range(n)])
    elif name == "stablehlo.dot_general":
        for key in (
            "lhs_batching_dimensions",
            "rhs_batching_dimensions",
            "lhs_contracting_dimensions",
            "rhs_contracting_dimensions",
        ):
            attributes.setdefault(key, [])
    elif name == "stablehlo.gather":
        attributes.setdefault("indices_are_sorted", False)
        attributes.setdefault("operand_batching_dims", [])
        attributes.setdefault("start_indices_batching_dims", [])
    elif name == "stablehlo.scatter":
        attributes.setdefault("indices_are_sorted", False)
        attributes.setdefault("unique_indices", False)
        attributes.setdefault("input_batching_dims", [])
        attributes.setdefault("scatter_indices_batching_dims", [])
    elif name == "stablehlo.compare":
        attributes.setdefault("compare_type", _default_compare_type(operands))
    elif name == "stablehlo.sort":
        attributes.setdefault("dimension", -1)
        attributes.setdefault("is_stable", False)
    elif name == "stablehlo.pad":
        rank = operands[0].type.rank or 0
        attributes.setdefault("interior_padding", [0] * rank)


def _default_compare_type(operands: list[Value]) -> str:
    dtype = operands[0].type.dtype if operands else "f32"
    if dtype in ("f16", "bf16", "f32", "f64"):
        return "FLOAT"
    if dtype.startswith("ui") or dtype == "i1":
        return "UNSIGNED"
    return "SIGNED"


# --- verifiers ------------------------------------------------------------------------------


def _rank(value: Value) -> int | None:
    return value.type.rank


def _verify_compare(op: Operation) -> str | None:
    direction = op.attributes.get("comparison_direction")
    if direction not in COMPARISON_DIRECTIONS:
        return f"comparison_direction must be one of {sorted(COMPARISON_DIRECTIONS)}, got {direction!r}"
    kind = op.attributes.get("compare_type")
    if kind is not None and kind not in COMPARE_TYPES:
        return f"compare_type must be one of {sorted(COMPARE_TYPES)}, got {kind!r}"
    return None


def _verify_broadcast_in_dim(op: Operation) -> str | None:
    dims = op.attributes.get("broadcast_dimensions")
    rank, out_rank = _rank(op.operands[0]), op.result.type.rank
    if not isinstance(dims, list):
        return "needs broadcast_dimensions (a list of ints)"
    if rank is not None and len(dims) != rank:
        return f"broadcast_dimensions has {len(dims)} entries for an operand of rank {rank}"
    if out_rank is not None and any(not 0 <= d < out_rank for d in dims):
        return f"broadcast_dimensions {dims} out of range for a result of rank {out_rank}"
    return None


def _verify_transpose(op: Operation) -> str | None:
    perm = op.attributes.get("permutation")
    rank = _rank(op.operands[0])
    if not isinstance(perm, list) or (rank is not None and sorted(perm) != list(range(rank))):
        return f"permutation {perm!r} is not a permutation of the operand's {rank} dims"
    return None


def _verify_concatenate(op: Operation) -> str | None:
    dim = op.attributes.get("dimension")
    rank = _rank(op.operands[0]) if op.operands else None
    if not isinstance(dim, int) or (rank is not None and not 0 <= dim < rank):
        return f"dimension {dim!r} out of range for rank {rank}"
    return None


def _verify_dot_general(op: Operation) -> str | None:
    a = op.attributes
    if len(a.get("lhs_batching_dimensions", [])) != len(a.get("rhs_batching_dimensions", [])):
        return "lhs and rhs batching dimensions differ in number"
    if len(a.get("lhs_contracting_dimensions", [])) != len(a.get("rhs_contracting_dimensions", [])):
        return "lhs and rhs contracting dimensions differ in number"
    return None


def _verify_even_operands(op: Operation) -> str | None:
    """reduce / reduce_window: N inputs then N init values, N results."""
    n = op.num_operands
    if n % 2 or n // 2 != len(op.results):
        return f"needs N inputs, N init values and N results; has {n} operands, {len(op.results)} results"
    if len(op.regions) != 1:
        return "needs one body region"
    return None


def _verify_slice(op: Operation) -> str | None:
    rank = _rank(op.operands[0])
    for key in ("start_indices", "limit_indices", "strides"):
        value = op.attributes.get(key)
        if not isinstance(value, list) or (rank is not None and len(value) != rank):
            return f"{key} must be a list of {rank} ints, got {value!r}"
    return None


# --- folders (shape arithmetic of symbolic dims, small constants) ----------------------------


def _np_dtype(op: Operation) -> np.dtype | None:
    dt = op.result.type.dtype if len(op.results) == 1 else None
    return DTYPES.get(dt) if dt is not None else None


def _elementwise(fn: Callable[..., np.ndarray]) -> Any:
    def fold(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
        dtype = _np_dtype(op)
        if dtype is None or any(v is None for v in values):
            return None
        if any(np.asarray(v).dtype != dtype for v in values) and op.name != "stablehlo.compare":
            return None
        with np.errstate(all="ignore"):
            out = fn(*values)
        if out is None:
            return None
        return [np.asarray(out).astype(dtype, copy=False)]

    return fold


def _int_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    if a.dtype.kind not in "iu":
        return np.divide(a, b)
    if np.any(b == 0):
        return None  # implementation-defined in the spec: left to the runtime
    q = np.abs(a) // np.abs(b)  # StableHLO integer division truncates toward zero
    return np.where((a < 0) != (b < 0), -q, q)


_COMPARE = {
    "EQ": np.equal,
    "NE": np.not_equal,
    "GE": np.greater_equal,
    "GT": np.greater,
    "LE": np.less_equal,
    "LT": np.less,
}


def _fold_compare(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    a, b = values
    fn = _COMPARE.get(op.attributes.get("comparison_direction", ""))
    if a is None or b is None or fn is None or op.attributes.get("compare_type") == "TOTALORDER":
        return None
    return [fn(a, b)]


def _fold_convert(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    (a,) = values
    dtype = _np_dtype(op)
    if a is None or dtype is None:
        return None
    if a.dtype.kind == "f" and dtype.kind in "iu":
        return None  # float -> int overflow/NaN behaviour is implementation-defined
    return [a.astype(dtype)]


def _fold_reshape(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    (a,) = values
    if a is None or not op.result.type.is_static:
        return None
    return [np.reshape(a, op.result.type.shape)]


def _fold_broadcast_in_dim(
    op: Operation, values: list[np.ndarray | None]
) -> list[np.ndarray] | None:
    (a,) = values
    out = op.result.type
    dims = op.attributes.get("broadcast_dimensions")
    if a is None or not out.is_static or not isinstance(dims, list) or len(dims) != a.ndim:
        return None
    shape = [1] * len(out.shape)
    for src, dst in enumerate(dims):
        shape[dst] = a.shape[src]
    order = sorted(range(a.ndim), key=lambda i: dims[i])
    moved = np.transpose(a, order).reshape(shape)
    return [np.broadcast_to(moved, out.shape).copy()]


def _fold_concatenate(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    if any(v is None for v in values) or not values:
        return None
    return [np.concatenate(values, axis=op.attributes["dimension"])]


def _fold_slice(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    (a,) = values
    if a is None:
        return None
    a_ = op.attributes
    index = tuple(
        slice(s, e, st) for s, e, st in zip(a_["start_indices"], a_["limit_indices"], a_["strides"])
    )
    return [a[index]]


def _fold_select(op: Operation, values: list[np.ndarray | None]) -> list[np.ndarray] | None:
    pred, t, f = values
    if pred is None or t is None or f is None:
        return None
    return [np.where(pred, t, f).astype(t.dtype)]


def _fold_get_dimension_size(
    op: Operation, values: list[np.ndarray | None]
) -> list[np.ndarray] | None:
    shape = op.operands[0].type.shape
    dim = op.attributes.get("dimension", 0)
    if shape is None or shape[dim] is None:
        return None
    return [np.array(shape[dim], np.int32)]


# --- declarations ---------------------------------------------------------------------------

UNARY_ELEMENTWISE = (
    "abs",
    "cbrt",
    "ceil",
    "cosine",
    "count_leading_zeros",
    "exponential",
    "exponential_minus_one",
    "floor",
    "is_finite",
    "log",
    "log_plus_one",
    "logistic",
    "negate",
    "not",
    "popcnt",
    "round_nearest_afz",
    "round_nearest_even",
    "rsqrt",
    "sign",
    "sine",
    "sqrt",
    "tan",
    "tanh",
)
BINARY_ELEMENTWISE = (
    "add",
    "and",
    "atan2",
    "divide",
    "maximum",
    "minimum",
    "multiply",
    "or",
    "power",
    "remainder",
    "shift_left",
    "shift_right_arithmetic",
    "shift_right_logical",
    "subtract",
    "xor",
)
_COMMUTATIVE_BINARY = frozenset({"add", "and", "maximum", "minimum", "multiply", "or", "xor"})

_BINARY_FOLDERS: dict[str, Callable[..., Any]] = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "divide": _int_divide,
}
_UNARY_FOLDERS: dict[str, Callable[..., Any]] = {"negate": np.negative}

for _name in UNARY_ELEMENTWISE:
    _traits = {PURE, ELEMENTWISE}
    if _name not in ("is_finite",):
        _traits.add(SAME_OPERANDS_AND_RESULT_TYPE)
    declare_op(
        OpDef(
            f"stablehlo.{_name}",
            operands=("operand",),
            results=("result",),
            traits=_traits,
            fold=_elementwise(_UNARY_FOLDERS[_name]) if _name in _UNARY_FOLDERS else None,
        )
    )
for _name in BINARY_ELEMENTWISE:
    _traits = {PURE, ELEMENTWISE, SAME_OPERANDS_AND_RESULT_TYPE}
    if _name in _COMMUTATIVE_BINARY:
        _traits.add(COMMUTATIVE)
    declare_op(
        OpDef(
            f"stablehlo.{_name}",
            operands=("lhs", "rhs"),
            results=("result",),
            traits=_traits,
            fold=_elementwise(_BINARY_FOLDERS[_name]) if _name in _BINARY_FOLDERS else None,
        )
    )


def _op(name: str, operands: tuple[str, ...], **kwargs: Any) -> None:
    kwargs.setdefault("traits", {PURE})
    kwargs.setdefault("results", ("result",))
    declare_op(OpDef(f"stablehlo.{name}", operands=operands, **kwargs))


_op(
    "compare",
    ("lhs", "rhs"),
    attributes={"comparison_direction": REQUIRED, "compare_type": None},
    traits={PURE, ELEMENTWISE},
    verify=_verify_compare,
    fold=_fold_compare,
)
_op("convert", ("operand",), traits={PURE, ELEMENTWISE}, fold=_fold_convert)
_op("bitcast_convert", ("operand",))
_op("select", ("pred", "on_true", "on_false"), fold=_fold_select)
_op("clamp", ("min", "operand", "max"))
_op(
    "broadcast_in_dim",
    ("operand",),
    attributes={"broadcast_dimensions": REQUIRED},
    verify=_verify_broadcast_in_dim,
    fold=_fold_broadcast_in_dim,
)
_op("dynamic_broadcast_in_dim", ("operand", "output_dimensions"))
_op("reshape", ("operand",), fold=_fold_reshape)
_op("dynamic_reshape", ("operand", "output_shape"))
_op("transpose", ("operand",), attributes={"permutation": REQUIRED}, verify=_verify_transpose)
_op(
    "concatenate",
    ("inputs*",),
    attributes={"dimension": REQUIRED},
    verify=_verify_concatenate,
    fold=_fold_concatenate,
)
_op(
    "slice",
    ("operand",),
    attributes={"start_indices": REQUIRED, "limit_indices": REQUIRED, "strides": REQUIRED},
    verify=_verify_slice,
    fold=_fold_slice,
)
_op("dynamic_slice", ("operand", "start_indices*"), attributes={"slice_sizes": REQUIRED})
_op("dynamic_update_slice", ("operand", "update", "start_indices*"))
_op("real_dynamic_slice", ("operand", "start_indices", "limit_indices", "strides"))
_op(
    "pad",
    ("operand", "padding_value"),
    attributes={
        "edge_padding_low": REQUIRED,
        "edge_padding_high": REQUIRED,
        "interior_padding": REQUIRED,
    },
)
_op("iota", (), attributes={"iota_dimension": REQUIRED})
_op("dynamic_iota", ("output_shape",), attributes={"iota_dimension": REQUIRED})
_op("reverse", ("operand",), attributes={"dimensions": REQUIRED})
_op(
    "dot_general",
    ("lhs", "rhs"),
    attributes={
        "lhs_batching_dimensions": [],
        "rhs_batching_dimensions": [],
        "lhs_contracting_dimensions": [],
        "rhs_contracting_dimensions": [],
        "precision_config": None,
    },
    verify=_verify_dot_general,
)
_op(
    "convolution",
    ("lhs", "rhs"),
    attributes={
        "feature_group_count": 1,
        "batch_group_count": 1,
        "input_batch_dimension": REQUIRED,
        "input_feature_dimension": REQUIRED,
        "input_spatial_dimensions": REQUIRED,
        "kernel_input_feature_dimension": REQUIRED,
        "kernel_output_feature_dimension": REQUIRED,
        "kernel_spatial_dimensions": REQUIRED,
        "output_batch_dimension": REQUIRED,
        "output_feature_dimension": REQUIRED,
        "output_spatial_dimensions": REQUIRED,
    },
)
_op(
    "reduce",
    ("inputs*",),
    results=("results*",),
    attributes={"dimensions": REQUIRED},
    verify=_verify_even_operands,
)
_op(
    "reduce_window",
    ("inputs*",),
    results=("results*",),
    attributes={"window_dimensions": REQUIRED},
    verify=_verify_even_operands,
)
_op("gather", ("operand", "start_indices"), attributes={"slice_sizes": REQUIRED})
_op("scatter", ("inputs*",), results=("results*",))
_op("sort", ("inputs*",), results=("results*",), attributes={"dimension": -1, "is_stable": False})
_op(
    "get_dimension_size",
    ("operand",),
    attributes={"dimension": REQUIRED},
    fold=_fold_get_dimension_size,
)
_op(
    "reduce_precision",
    ("operand",),
    attributes={"exponent_bits": REQUIRED, "mantissa_bits": REQUIRED},
)
_op("real", ("operand",))
_op("imag", ("operand",))
_op("optimization_barrier", ("operand*",), results=("result*",))
declare_op(
    OpDef(
        "stablehlo.return",
        operands=("results*",),
        results=(),
        traits={TERMINATOR},
        summary="The results of a region (reduce / sort / while bodies, ...).",
    )
)
