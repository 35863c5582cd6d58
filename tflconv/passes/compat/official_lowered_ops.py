"""Every TF op the official converter lowers to TFLite builtins, and the builtin(s) it becomes.

Read op by op from the official legalization sources (google-ai-edge/LiteRT
`tflite/converter/transforms/`, the same files as tensorflow/tensorflow
`tensorflow/compiler/mlir/lite/transforms/`): `legalize_patterns.td`, `legalize_tf.cc`,
`prepare_tf.cc`, `prepare_patterns.td`, `lower_static_tensor_list.cc` (+ `tensorlist_patterns.td`),
`legalize_hashtables.cc`, `legalize_variables.td`, `legalize_tf_while.cc`, the `tf.If` export in
`flatbuffer_export.cc`, and the TF->TF lowerings LegalizeTF runs first
(`TF::PopulateLoweringTFPatterns`: tensorflow/tensorflow
`tensorflow/compiler/mlir/tensorflow/transforms/lower_tf.td` / `lower_tf.cc`). An op lowered
through other TF ops lists the builtins it ends up as.

Left out on purpose: `tf.Const` / `tf.Identity`-like no-ops are listed (they vanish), but
composite-function fusions (`tf._implements` LSTMs, ...), the optimizer's pattern fusions of
several ops (GELU, HARD_SWISH, ...) and StableHLO/XLA-only ops are not TF ops with a lowering.

`check-tflite-legal` and `analyze` read this table so they never say "no TFLite builtin" for an
op the official converter lowers; `tflconv.tools.op_coverage` probes each entry with our converter
and writes docs/op_coverage.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OfficialLowering:
    """How the official converter lowers one TF op."""

    builtins: tuple[str, ...]
    """TFLite builtin operator names (schema `BuiltinOperator`); empty when the op vanishes."""
    source: str
    """The official file (and pattern) doing it."""
    note: str = ""
    """The official's own constraint, when it only lowers some forms."""


_TABLE: dict[str, OfficialLowering] = {}


def _add(source: str, ops: dict[str, str | tuple[str, str]]) -> None:
    for op, spec in ops.items():
        builtins, note = (spec, "") if isinstance(spec, str) else spec
        names = tuple(b.strip() for b in builtins.split(",") if b.strip())
        assert op not in _TABLE, op
        _TABLE[op] = OfficialLowering(names, source, note)


# --- legalize_patterns.td: mostly 1:1 ------------------------------------------------------------
_add(
    "legalize_patterns.td",
    {
        "Abs": "ABS",
        "AddN": "ADD_N",
        "AvgPool": ("AVERAGE_POOL_2D", "NHWC; NCHW gets TRANSPOSEs around it"),
        "ArgMax": "ARG_MAX",
        "ArgMin": "ARG_MIN",
        "BroadcastTo": "BROADCAST_TO",
        "Ceil": "CEIL",
        "Cos": "COS",
        "Elu": "ELU",
        "ExpandDims": "EXPAND_DIMS",
        "FakeQuantWithMinMaxArgs": "QUANTIZE, DEQUANTIZE",
        "FakeQuantWithMinMaxVars": "QUANTIZE, DEQUANTIZE",
        "Fill": "FILL",
        "Floor": "FLOOR",
        "LeakyRelu": "LEAKY_RELU",
        "Log": "LOG",
        "Log1p": "ADD, LOG",
        "LogicalNot": "LOGICAL_NOT",
        "LogSoftmax": "LOG_SOFTMAX",
        "MaxPool": ("MAX_POOL_2D", "NHWC; NCHW gets TRANSPOSEs around it"),
        "Maximum": "MAXIMUM",
        "Minimum": "MINIMUM",
        "Neg": "NEG",
        "OneHot": "ONE_HOT",
        "Pow": "POW",
        "Range": "RANGE",
        "Relu6": "RELU6",
        "Relu": ("RELU", "int32/int64 Relu becomes MAXIMUM with 0"),
        "ReverseSequence": "REVERSE_SEQUENCE",
        "Round": "ROUND",
        "Rsqrt": "RSQRT",
        "Sqrt": "SQRT",
        "Square": "SQUARE",
        "SegmentSum": "SEGMENT_SUM",
        "UnsortedSegmentMax": "UNSORTED_SEGMENT_MAX",
        "UnsortedSegmentMin": "UNSORTED_SEGMENT_MIN",
        "UnsortedSegmentProd": "UNSORTED_SEGMENT_PROD",
        "UnsortedSegmentSum": "UNSORTED_SEGMENT_SUM",
        "Select": "SELECT",
        "SelectV2": "SELECT_V2",
        "Shape": "SHAPE",
        "Sigmoid": "LOGISTIC",
        "Sin": "SIN",
        "Slice": "SLICE",
        "Softmax": "SOFTMAX",
        "Softsign": "ABS, ADD, DIV",
        "Softplus": ("EXP, ADD, LOG", "f32 only"),
        "Squeeze": "SQUEEZE",
        "Tanh": "TANH",
        "Transpose": "TRANSPOSE",
        "Where": "WHERE",
        "ZerosLike": "ZEROS_LIKE",
        "BroadcastArgs": "BROADCAST_ARGS",
        "Less": "LESS",
        "Greater": "GREATER",
        "LessEqual": "LESS_EQUAL",
        "GreaterEqual": "GREATER_EQUAL",
        "Gather": "GATHER",
        "GatherNd": "GATHER_ND",
        "GatherV2": "GATHER",
        "FloorDiv": "FLOOR_DIV",
        "NotEqual": "NOT_EQUAL",
        "LogicalAnd": "LOGICAL_AND",
        "LogicalOr": "LOGICAL_OR",
        "Add": "ADD",
        "AddV2": "ADD",
        "BiasAdd": ("ADD", "NHWC; via AddV2"),
        "Sub": "SUB",
        "Mul": "MUL",
        "RealDiv": "DIV",
        "Div": "DIV",
        "QuantizeAndDequantizeV4": "QUANTIZE, DEQUANTIZE",
        "Rank": "RANK",
        "SquaredDifference": "SQUARED_DIFFERENCE",
        "ReverseV2": "REVERSE_V2",
        "Equal": "EQUAL",
        "Pad": "PAD",
        "Tile": "TILE",
        "PadV2": "PADV2",
        "Mean": "MEAN",
        "Sum": "SUM",
        "TopKV2": "TOPK_V2",
        "ApproxTopK": ("TOPK_V2", "is_max_k, last dimension"),
        "Min": "REDUCE_MIN",
        "Max": "REDUCE_MAX",
        "Prod": "REDUCE_PROD",
        "Any": "REDUCE_ANY",
        "All": "REDUCE_ALL",
        "Cast": "CAST",
        "BatchToSpaceND": "BATCH_TO_SPACE_ND",
        "SpaceToBatchND": "SPACE_TO_BATCH_ND",
        "SpaceToDepth": "SPACE_TO_DEPTH",
        "DepthToSpace": "DEPTH_TO_SPACE",
        "ResizeBilinear": "RESIZE_BILINEAR",
        "ResizeNearestNeighbor": "RESIZE_NEAREST_NEIGHBOR",
        "MirrorPad": "MIRROR_PAD",
        "SparseToDense": "SPARSE_TO_DENSE",
        "Unique": "UNIQUE",
        "FloorMod": "FLOOR_MOD",
        "Exp": "EXP",
        "LRN": "LOCAL_RESPONSE_NORMALIZATION",
        "NonMaxSuppressionV4": "NON_MAX_SUPPRESSION_V4",
        "NonMaxSuppressionV5": "NON_MAX_SUPPRESSION_V5",
        "MatrixDiag": "MATRIX_DIAG",
        "Conv2DBackpropInput": ("TRANSPOSE_CONV", "NHWC, no dilation"),
        "MatrixSetDiagV3": "MATRIX_SET_DIAG",
        "ScatterNd": "SCATTER_ND",
        "Cumsum": "CUMSUM",
        "Reshape": "RESHAPE",
        "StridedSlice": "STRIDED_SLICE",
        "RFFT2D": "RFFT2D",
        "ComplexAbs": "COMPLEX_ABS",
        "Real": "REAL",
        "Imag": "IMAG",
        "Bucketize": "BUCKETIZE",
        "RandomUniform": "RANDOM_UNIFORM",
        "RandomStandardNormal": "RANDOM_STANDARD_NORMAL",
        "Multinomial": "MULTINOMIAL",
        "XlaDynamicUpdateSlice": "DYNAMIC_UPDATE_SLICE",
        "Atan2": "ATAN2",
        "Sign": "SIGN",
        "Bitcast": "BITCAST",
        "BitwiseXor": "BITWISE_XOR",
        "RightShift": "RIGHT_SHIFT",
        "SigmoidGrad": "SUB, MUL",
    },
)

# --- legalize_tf.cc: C++ conversion patterns ----------------------------------------------------
_add(
    "legalize_tf.cc",
    {
        "ConcatV2": "CONCATENATION",
        "BatchMatMul": ("BATCH_MATMUL", "FULLY_CONNECTED when the RHS is a constant 2-D matrix"),
        "BatchMatMulV2": ("BATCH_MATMUL", "FULLY_CONNECTED when the RHS is a constant 2-D matrix"),
        "BatchMatMulV3": ("BATCH_MATMUL", "FULLY_CONNECTED when the RHS is a constant 2-D matrix"),
        "MatMul": "FULLY_CONNECTED",
        "MatrixDiagV2": "MATRIX_DIAG",
        "MatrixDiagV3": "MATRIX_DIAG",
        "Pack": "PACK",
        "Split": "SPLIT",
        "SplitV": "SPLIT_V",
        "Unpack": "UNPACK",
        "Conv3D": ("CONV_3D", "NDHWC"),
        "Conv3DBackpropInputV2": ("CONV_3D_TRANSPOSE", "NDHWC"),
        "Assert": ("", "removed unless preserve_assert_op"),
    },
)

# --- prepare_tf.cc: rewrites before legalization ------------------------------------------------
_add(
    "prepare_tf.cc",
    {
        "Conv2D": ("CONV_2D", "NCHW: TRANSPOSEs around an NHWC conv (layout pass)"),
        "DepthwiseConv2dNative": "DEPTHWISE_CONV_2D",
        "FusedBatchNormV3": ("MUL, ADD", "folded into the preceding conv when it has one"),
        "Einsum": "BATCH_MATMUL, FULLY_CONNECTED, TRANSPOSE, RESHAPE",
        "RFFT": "RFFT2D, EXPAND_DIMS, SQUEEZE",
        "Identity": "",
        "XlaConvV2": ("CONV_2D", "ConvertTf2XlaOps: via HLO back to a TF conv, when it maps"),
        "XlaGather": ("GATHER, GATHER_ND", "ConvertTf2XlaOps: via HLO back to a TF gather"),
    },
)

# --- prepare_patterns.td --------------------------------------------------------------------------
_add(
    "prepare_patterns.td",
    {
        "BatchNormWithGlobalNormalization": "ADD, MUL, RSQRT, SUB",
        "CheckNumerics": "",
        "Snapshot": "",
        "StopGradient": "",
        "PlaceholderWithDefault": "",
        "PreventGradient": "",
        "IdentityN": "",
        "XlaSharding": "",
        "MatrixSetDiag": "MATRIX_SET_DIAG",
        "MatrixSetDiagV2": "MATRIX_SET_DIAG",
        "TensorScatterAdd": "GATHER_ND, ADD, SCATTER_ND, MUL, SUB",
    },
)

# --- lower_tf.td / lower_tf.cc: TF->TF lowerings LegalizeTF applies first --------------------------
_add(
    "lower_tf.td",
    {
        "BiasAddGrad": "SUM",
        "SoftmaxCrossEntropyWithLogits": "LOG_SOFTMAX, SOFTMAX, MUL, NEG, SUM, SUB",
        "SparseSoftmaxCrossEntropyWithLogits": "ONE_HOT, SELECT_V2, LOG_SOFTMAX, SOFTMAX, SUM, SUB",
        "DivNoNan": "EQUAL, SELECT_V2, DIV",
        "MulNoNan": "EQUAL, SELECT_V2, MUL",
        "TruncateDiv": "DIV",
        "Empty": ("BROADCAST_TO", "init=true"),
        "Inv": "DIV",
        "Reciprocal": "DIV",
        "IsInf": "ABS, EQUAL",
        "IsNan": "NOT_EQUAL",
        "L2Loss": "MUL, SUM, DIV",
        "Rint": "ROUND",
        "RsqrtGrad": "MUL, DIV",
        "Size": "SHAPE, REDUCE_PROD",
        "SqrtGrad": "MUL, DIV",
        "TanhGrad": "SQUARE, SUB, MUL",
        "OnesLike": "SHAPE, BROADCAST_TO",
        "Xdivy": "EQUAL, SELECT_V2, DIV",
        "Xlog1py": "EQUAL, SELECT_V2, LOG, ADD, MUL",
        "Xlogy": "EQUAL, SELECT_V2, LOG, MUL",
        "IsFinite": "SUB, EQUAL",
        "TensorScatterUpdate": "SCATTER_ND, MUL, SUB, ADD",
        "Selu": "GREATER, SELECT_V2, MUL, EXP, SUB",
        "SeluGrad": "GREATER, SELECT_V2, MUL, ADD",
        "Expm1": "EXP, SUB",
        "MatrixBandPart": "RANGE, LESS_EQUAL, LOGICAL_AND, SELECT_V2",
        "Dequantize": ("CAST, ADD, MUL", "MIN_COMBINED mode, qint8/quint8 input"),
    },
)
_add(
    "lower_tf.cc",
    {
        "DynamicStitch": ("RESHAPE, UNPACK, CONCATENATION", "constant indices, static shapes"),
        "ParallelDynamicStitch": ("RESHAPE, UNPACK, CONCATENATION", "constant indices"),
        "InvertPermutation": "RANGE, SCATTER_ND",
        "Lgamma": "LOG, DIV, ADD, SIN, FLOOR, SELECT_V2 (Lanczos approximation)",
        "SparseMatMul": "FULLY_CONNECTED",
        "Roll": ("SLICE, CONCATENATION", "constant shift and axis"),
    },
)

# --- tensor lists, hash tables, variables, control flow -------------------------------------------
_add(
    "lower_static_tensor_list.cc",
    {
        "TensorListReserve": "FILL",
        "EmptyTensorList": "FILL",
        "TensorListFromTensor": "",
        "TensorListSetItem": "SLICE, CONCATENATION (or DYNAMIC_UPDATE_SLICE)",
        "TensorListGetItem": "GATHER",
        "TensorListLength": "SHAPE, GATHER",
        "TensorListStack": "RESHAPE",
        "TensorListPushBack": "EXPAND_DIMS, CONCATENATION",
        "TensorListResize": "SLICE, CONCATENATION, FILL",
        "TensorListConcatV2": "RESHAPE",
    },
)
_add(
    "legalize_hashtables.cc",
    {
        "HashTableV2": "HASHTABLE",
        "LookupTableFindV2": "HASHTABLE_FIND",
        "LookupTableImportV2": "HASHTABLE_IMPORT",
        "LookupTableSizeV2": "HASHTABLE_SIZE",
    },
)
_add(
    "legalize_variables.td",
    {
        "VarHandleOp": ("VAR_HANDLE", "mutable resource variables"),
        "ReadVariableOp": ("READ_VARIABLE", "mutable resource variables"),
        "AssignVariableOp": ("ASSIGN_VARIABLE", "mutable resource variables"),
    },
)
_add("legalize_tf_while.cc", {"While": "WHILE", "StatelessWhile": "WHILE"})
_add("flatbuffer_export.cc", {"If": "IF", "StatelessIf": "IF"})
# the TF dialect's canonicalization (canonicalize.td) rewrites V3 as V4 before legalization
_add("tf canonicalize.td", {"NonMaxSuppressionV3": "NON_MAX_SUPPRESSION_V4"})

OFFICIAL_LOWERED_OPS: dict[str, OfficialLowering] = dict(sorted(_TABLE.items()))
"""TF op type (no `tf.` prefix) -> how the official converter lowers it."""


def official_lowering(op_type: str) -> OfficialLowering | None:
    """The official lowering of `op_type` (`RFFT` or `tf.RFFT`), None when it has none."""
    return OFFICIAL_LOWERED_OPS.get(op_type.removeprefix("tf."))


def official_reason(op_type: str) -> str | None:
    """Why an op left as tf.* is not "no TFLite builtin": the official converter lowers it."""
    lowering = official_lowering(op_type)
    if lowering is None:
        return None
    target = ", ".join(lowering.builtins) or "nothing (it is removed)"
    return (
        f"the official converter lowers it to {target} ({lowering.source}); tflconv does not "
        f"lower it yet, or not under these constraints"
    )
