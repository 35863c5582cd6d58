"""The `tf` dialect: TensorFlow ops as the frontend imports them.

Op name = "tf." + TF op type ("tf.Conv2D"). Attributes keep TF's attr names (see
/work/contracts.md). TensorFlow has thousands of ops, so almost all stay generic: they print,
parse and pass through untouched. Only ops whose named operands make legalization patterns
easier to read are declared below (`op.filter`, `op.strides`, ...), with TF's own argument names
and TF's attr defaults.

Purity of undeclared ops: pure unless the op is known to be stateful (variables, random,
hash tables, I/O, asserts, ...) or the importer marked it with `_stateful = True` (from TF's
`OpDef.is_stateful`). `While`/`If`/`Case` are judged by their bodies: the importer marks them
`_stateful` only when a body holds a stateful op (TF's "stateful" `While` usually only means
it captured variables, which the importer turned into constants).
"""

from __future__ import annotations

from tflconv.core.ir import Operation
from tflconv.core.opdef import (
    COMMUTATIVE,
    ELEMENTWISE,
    PURE,
    SAME_OPERANDS_AND_RESULT_TYPE,
    Dialect,
    OpDef,
    declare_dialect,
    declare_op,
)

# Ops with side effects (or results that differ per run) that the importer might leave in a
# module without a `_stateful` attribute (e.g. ops written by hand in IR text).
STATEFUL_OPS = frozenset(
    {
        "Assert",
        "Print",
        "PrintV2",
        "Assign",
        "AssignAdd",
        "AssignSub",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "VarHandleOp",
        "ReadVariableOp",
        "ResourceGather",
        "ResourceGatherNd",
        "VarIsInitializedOp",
        "DestroyResourceOp",
        "Variable",
        "VariableV2",
        "TemporaryVariable",
        "TruncatedNormal",
        "ParameterizedTruncatedNormal",
        "Multinomial",
        "RngSkip",
        "RngReadAndSkip",
        "NonDeterministicInts",
        "HashTable",
        "HashTableV2",
        "SaveV2",
        "Save",
        "SaveSlices",
        "RestoreV2",
        "Restore",
        "RestoreSlice",
        "MergeV2Checkpoints",
        "ReadFile",
        "WriteFile",
        "StatefulPartitionedCall",
        "CheckNumerics",
        "CheckNumericsV2",
        "EagerPyFunc",
        "PyFunc",
        "Timestamp",
    }
)

# Prefixes of stateful op families (random ops, hash tables, resource updates, summaries).
STATEFUL_PREFIXES = (
    "Random",
    "Stateful",
    "ResourceApply",
    "ResourceScatter",
    "ResourceSparseApply",
    "ResourceStridedSliceAssign",
    "MutableHashTable",
    "MutableDenseHashTable",
    "LookupTable",
    "InitializeTable",
    "AnonymousHashTable",
    "Write",
    "Summary",
    "TensorSummary",
    "ScalarSummary",
    "HistogramSummary",
    "ImageSummary",
    "AudioSummary",
)


def is_stateful_tf_op(op_type: str) -> bool:
    """True for TF op types (without the "tf." prefix) known to have side effects."""
    if op_type.startswith("Stateless"):
        return False
    return op_type in STATEFUL_OPS or op_type.startswith(STATEFUL_PREFIXES)


def _generic_pure(op: Operation) -> bool:
    if op.attributes.get("_stateful"):
        return False
    return not is_stateful_tf_op(op.name[3:])


declare_dialect(
    Dialect(
        "tf",
        generic_pure=_generic_pure,
        summary="TensorFlow ops as imported from a TF graph (undeclared ops stay generic).",
    )
)


# --- verifiers -----------------------------------------------------------------------------


def _rank(op: Operation, index: int) -> int | None:
    return op.operands[index].type.rank


def _check_rank(op: Operation, index: int, want: int | tuple[int, ...], what: str) -> str | None:
    rank = _rank(op, index)
    wants = (want,) if isinstance(want, int) else want
    if rank is not None and rank not in wants:
        return f"{what} must have rank {' or '.join(map(str, wants))}, has rank {rank}"
    return None


def _check_list(op: Operation, key: str, length: int) -> str | None:
    value = op.attributes.get(key)
    if value is not None and (not isinstance(value, list) or len(value) != length):
        return f"attribute {key!r} must be a list of {length} ints, got {value!r}"
    return None


def _verify_conv(op: Operation) -> str | None:
    for check in (
        _check_rank(op, 0, 4, "input"),
        _check_rank(op, 1, 4, "filter"),
        _check_list(op, "strides", 4),
        _check_list(op, "dilations", 4),
    ):
        if check:
            return check
    padding = op.attributes.get("padding")
    if padding is not None and padding not in ("SAME", "VALID", "EXPLICIT"):
        return f"padding must be SAME, VALID or EXPLICIT, got {padding!r}"
    return None


def _verify_matmul(op: Operation) -> str | None:
    return _check_rank(op, 0, 2, "a") or _check_rank(op, 1, 2, "b")


def _verify_bias_add(op: Operation) -> str | None:
    return _check_rank(op, 1, 1, "bias")


def _verify_fused_batch_norm(op: Operation) -> str | None:
    for i, what in enumerate(("scale", "offset", "mean", "variance"), start=1):
        check = _check_rank(op, i, 1, what)
        if check:
            return check
    return None


def _verify_perm(op: Operation) -> str | None:
    rank = _rank(op, 0)
    perm_shape = op.operands[1].type.shape
    if rank is not None and perm_shape is not None and perm_shape != (rank,):
        return f"perm must have shape [{rank}] for a rank-{rank} input, has {list(perm_shape)}"
    return None


def _verify_pad(op: Operation) -> str | None:
    rank = _rank(op, 0)
    shape = op.operands[1].type.shape
    if rank is not None and shape is not None and tuple(shape) != (rank, 2):
        return f"paddings must have shape [{rank}, 2], has {list(shape)}"
    return None


def _verify_concat(op: Operation) -> str | None:
    if op.num_operands < 2:
        return "needs at least one value and the axis"
    return _check_rank(op, op.num_operands - 1, 0, "axis")


# --- declarations --------------------------------------------------------------------------

_CONV_ATTRS = {
    "T": None,
    "strides": None,
    "padding": None,
    "explicit_paddings": [],
    "data_format": "NHWC",
    "dilations": [1, 1, 1, 1],
}

declare_op(
    OpDef(
        "tf.Conv2D",
        operands=("input", "filter"),
        results=("output",),
        attributes={**_CONV_ATTRS, "use_cudnn_on_gpu": True},
        traits={PURE},
        verify=_verify_conv,
        summary="2-D convolution; filter HWIO [kh, kw, in, out].",
    )
)
declare_op(
    OpDef(
        "tf.DepthwiseConv2dNative",
        operands=("input", "filter"),
        results=("output",),
        attributes=dict(_CONV_ATTRS),
        traits={PURE},
        verify=_verify_conv,
        summary="Depthwise 2-D convolution; filter [kh, kw, in, multiplier].",
    )
)
declare_op(
    OpDef(
        "tf.MatMul",
        operands=("a", "b"),
        results=("product",),
        attributes={"T": None, "transpose_a": False, "transpose_b": False},
        traits={PURE},
        verify=_verify_matmul,
    )
)
declare_op(
    OpDef(
        "tf.BatchMatMulV2",
        operands=("x", "y"),
        results=("output",),
        attributes={"T": None, "adj_x": False, "adj_y": False},
        traits={PURE},
    )
)
declare_op(
    OpDef(
        "tf.BiasAdd",
        operands=("value", "bias"),
        results=("output",),
        attributes={"T": None, "data_format": "NHWC"},
        traits={PURE},
        verify=_verify_bias_add,
    )
)
declare_op(
    OpDef(
        "tf.FusedBatchNormV3",
        operands=("x", "scale", "offset", "mean", "variance"),
        results=(
            "y",
            "batch_mean",
            "batch_variance",
            "reserve_space_1",
            "reserve_space_2",
            "reserve_space_3",
        ),
        attributes={
            "T": None,
            "U": None,
            "epsilon": 0.0001,
            "exponential_avg_factor": 1.0,
            "data_format": "NHWC",
            "is_training": True,
        },
        traits={PURE},
        verify=_verify_fused_batch_norm,
    )
)
declare_op(
    OpDef(
        "tf.Reshape",
        operands=("tensor", "shape"),
        results=("output",),
        attributes={"T": None, "Tshape": None},
        traits={PURE},
    )
)
declare_op(
    OpDef(
        "tf.Transpose",
        operands=("x", "perm"),
        results=("y",),
        attributes={"T": None, "Tperm": None},
        traits={PURE},
        verify=_verify_perm,
    )
)
declare_op(
    OpDef(
        "tf.ConcatV2",
        operands=("values*", "axis"),
        results=("output",),
        attributes={"T": None, "N": None, "Tidx": None},
        traits={PURE},
        verify=_verify_concat,
    )
)
declare_op(
    OpDef(
        "tf.Pad",
        operands=("input", "paddings"),
        results=("output",),
        attributes={"T": None, "Tpaddings": None},
        traits={PURE},
        verify=_verify_pad,
    )
)
declare_op(
    OpDef(
        "tf.StridedSlice",
        operands=("input", "begin", "end", "strides"),
        results=("output",),
        attributes={
            "T": None,
            "Index": None,
            "begin_mask": 0,
            "end_mask": 0,
            "ellipsis_mask": 0,
            "new_axis_mask": 0,
            "shrink_axis_mask": 0,
        },
        traits={PURE},
    )
)
declare_op(
    OpDef(
        "tf.Mean",
        operands=("input", "reduction_indices"),
        results=("output",),
        attributes={"T": None, "Tidx": None, "keep_dims": False},
        traits={PURE},
    )
)

for _name, _traits in (
    ("AddV2", {COMMUTATIVE}),
    ("Mul", {COMMUTATIVE}),
    ("Sub", set()),
    ("RealDiv", set()),
):
    declare_op(
        OpDef(
            f"tf.{_name}",
            operands=("x", "y"),
            results=("z",),
            attributes={"T": None},
            traits={PURE, ELEMENTWISE, *_traits},
            summary="Elementwise binary op with numpy broadcasting.",
        )
    )

for _name, _operand, _result in (
    ("Relu", "features", "activations"),
    ("Relu6", "features", "activations"),
    ("Sigmoid", "x", "y"),
    ("Tanh", "x", "y"),
    ("Softmax", "logits", "softmax"),
):
    declare_op(
        OpDef(
            f"tf.{_name}",
            operands=(_operand,),
            results=(_result,),
            attributes={"T": None},
            traits={PURE, SAME_OPERANDS_AND_RESULT_TYPE}
            | ({ELEMENTWISE} if _name != "Softmax" else set()),
        )
    )
