"""Op coverage against the official converter: probe every op of
`tflconv.passes.compat.official_lowered_ops` with our converter and write docs/op_coverage.md.

    python -m tflconv.tools.op_coverage                 # print the table
    python -m tflconv.tools.op_coverage --write         # regenerate docs/op_coverage.md
    python -m tflconv.tools.op_coverage --check         # exit 1 when docs/op_coverage.md is stale

Each probe is a tiny `tf.function` made of one TF op (`tf.raw_ops`, data inputs as function
arguments so nothing constant-folds, attribute-like inputs such as axes as constants). It is
converted with `tflconv.convert` (the default pipeline, TFLITE_BUILTINS only):

- "lowered": it converts, runs in LiteRT and matches TensorFlow (shape and dtype only for the
  random ops), so a legalization pattern for the op exists and is right on the probe;
- "wrong": it converts but LiteRT disagrees with TensorFlow (a bug: never acceptable);
- "missing": not converted; the reason is the converter's.

TensorFlow and LiteRT are imported lazily (this module is a tool, like `analyze`).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tflconv.api.converter import ConverterError, convert
from tflconv.api.quiet import quiet_tensorflow
from tflconv.passes.compat.official_lowered_ops import OFFICIAL_LOWERED_OPS

DOC = Path(__file__).resolve().parents[2] / "docs" / "op_coverage.md"


# --- probe specs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class T:
    """A function argument: shape, dtype, value range for the generated data."""

    shape: tuple[int, ...] = (2, 3)
    dtype: str = "float32"
    lo: float = 0.5
    hi: float = 2.0


@dataclass(frozen=True)
class C:
    """A constant input."""

    value: Any
    dtype: str = "int32"


F = T()
F4 = T((1, 4, 4, 2))
I = T((2, 3), "int32", 0, 3)  # noqa: E741
B = T((2, 3), "bool")


@dataclass
class Probe:
    args: tuple[Any, ...] = (F,)
    attrs: dict[str, Any] = field(default_factory=dict)
    build: Callable[..., Any] | None = None
    """Custom builder `(tf, *arg_tensors) -> outputs` (then `args` lists only T inputs)."""
    exact: bool = True
    """Compare values with TF (False: shape/dtype only, for random ops)."""


def P(*args: Any, **attrs: Any) -> Probe:
    return Probe(args or (F,), attrs)


def B_(build: Callable[..., Any], *args: Any, exact: bool = True) -> Probe:
    return Probe(args, {}, build, exact)


def _list_ops(tf: Any) -> dict[str, Probe]:
    """Probes needing TF at build time (tensor lists, tables, variables, control flow)."""

    def tensor_list(kind: str) -> Callable[..., Any]:
        def build(tf: Any, x: Any) -> Any:
            shape = tf.constant([3], tf.int32)
            lst = tf.raw_ops.TensorListFromTensor(tensor=x, element_shape=shape)
            if kind == "TensorListReserve":
                lst = tf.raw_ops.TensorListReserve(
                    element_shape=shape, num_elements=2, element_dtype=tf.float32
                )
                lst = tf.raw_ops.TensorListSetItem(input_handle=lst, index=0, item=x[0])
            elif kind == "EmptyTensorList":
                lst = tf.raw_ops.EmptyTensorList(
                    element_shape=shape, max_num_elements=4, element_dtype=tf.float32
                )
                lst = tf.raw_ops.TensorListPushBack(input_handle=lst, tensor=x[1])
            elif kind == "TensorListSetItem":
                lst = tf.raw_ops.TensorListSetItem(input_handle=lst, index=1, item=x[0] * 2.0)
            elif kind == "TensorListPushBack":
                lst = tf.raw_ops.TensorListPushBack(input_handle=lst, tensor=x[0])
            elif kind == "TensorListResize":
                lst = tf.raw_ops.TensorListResize(input_handle=lst, size=4)
            elif kind == "TensorListGetItem":
                return tf.raw_ops.TensorListGetItem(
                    input_handle=lst, index=1, element_shape=shape, element_dtype=tf.float32
                )
            elif kind == "TensorListLength":
                return tf.raw_ops.TensorListLength(input_handle=lst)
            elif kind == "TensorListConcatV2":
                return tf.raw_ops.TensorListConcatV2(
                    input_handle=lst,
                    element_shape=tf.constant([-1], tf.int32),
                    leading_dims=tf.constant([], tf.int64),
                    element_dtype=tf.float32,
                )[0]
            return tf.raw_ops.TensorListStack(
                input_handle=lst, element_shape=shape, element_dtype=tf.float32
            )

        return build

    probes = {
        name: B_(tensor_list(name), F)
        for name in (
            "TensorListReserve",
            "EmptyTensorList",
            "TensorListFromTensor",
            "TensorListSetItem",
            "TensorListGetItem",
            "TensorListLength",
            "TensorListStack",
            "TensorListPushBack",
            "TensorListResize",
            "TensorListConcatV2",
        )
    }

    def table(kind: str) -> Callable[..., Any]:
        def build(tf: Any, k: Any) -> Any:
            h = tf.raw_ops.HashTableV2(key_dtype=tf.int64, value_dtype=tf.float32)
            keys = tf.constant([0, 1, 2], tf.int64)
            init = tf.raw_ops.LookupTableImportV2(
                table_handle=h, keys=keys, values=tf.constant([1.5, 2.5, 3.5])
            )
            with tf.control_dependencies([init]):
                if kind == "LookupTableSizeV2":
                    return tf.raw_ops.LookupTableSizeV2(table_handle=h)
                return tf.raw_ops.LookupTableFindV2(
                    table_handle=h, keys=k, default_value=tf.constant(-1.0)
                )

        return build

    for name in ("HashTableV2", "LookupTableFindV2", "LookupTableImportV2"):
        probes[name] = B_(table(name), T((4,), "int64", 0, 4))
    probes["LookupTableSizeV2"] = B_(table("LookupTableSizeV2"), T((4,), "int64", 0, 4))

    def variable(tf: Any, x: Any) -> Any:
        h = tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[2, 3], shared_name="probe_v")
        assign = tf.raw_ops.AssignVariableOp(resource=h, value=x * 2.0)
        with tf.control_dependencies([assign]):
            return tf.raw_ops.ReadVariableOp(resource=h, dtype=tf.float32) + x

    for name in ("VarHandleOp", "ReadVariableOp", "AssignVariableOp"):
        probes[name] = B_(variable, F)

    def while_loop(tf: Any, x: Any) -> Any:
        return tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 1.5), (0, x))[1]

    def if_op(tf: Any, x: Any) -> Any:
        return tf.cond(tf.reduce_sum(x) > 3.0, lambda: x * 2.0, lambda: x - 1.0)

    probes["While"] = probes["StatelessWhile"] = B_(while_loop, F)
    probes["If"] = probes["StatelessIf"] = B_(if_op, F)

    def assert_op(tf: Any, x: Any) -> Any:
        check = tf.raw_ops.Assert(condition=tf.reduce_all(x > 0.0), data=[x])
        with tf.control_dependencies([check]):
            return tf.identity(x) * 2.0

    probes["Assert"] = B_(assert_op, F)
    return probes


def _nms_probe(version: int) -> Probe:
    """NonMaxSuppressionV3/V4/V5 over four boxes, two overlapping (V5: soft-NMS sigma 0; V3:
    the variable-length result, no padding)."""
    extra: dict[str, Any] = {"soft_nms_sigma": 0.0} if version == 5 else {}
    if version >= 4:
        extra["pad_to_max_output_size"] = True

    def build(tf: Any, boxes: Any, scores: Any) -> Any:
        op = getattr(tf.raw_ops, f"NonMaxSuppressionV{version}")
        op = op(
            boxes=boxes,
            scores=scores,
            max_output_size=3,
            iou_threshold=0.5,
            score_threshold=0.0,
            **extra,
        )
        return op if version == 3 else op[0]

    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3], [0, 4, 1, 5]], np.float32)
    return B_(build, C(boxes, "float32"), T((4,), "float32", 0.0, 1.0))


PROBES: dict[str, Probe] = {
    # unary float
    **{
        op: P()
        for op in [
            "Abs",
            "Ceil",
            "Cos",
            "Elu",
            "Exp",
            "Floor",
            "Log",
            "Log1p",
            "LogSoftmax",
            "Neg",
            "Relu",
            "Relu6",
            "Round",
            "Rsqrt",
            "Sqrt",
            "Square",
            "Sigmoid",
            "Sin",
            "Softmax",
            "Softsign",
            "Softplus",
            "Tanh",
            "ZerosLike",
            "OnesLike",
            "Sign",
            "Expm1",
            "IsFinite",
            "IsInf",
            "IsNan",
            "Inv",
            "Reciprocal",
            "Rint",
            "Selu",
            "Identity",
            "Snapshot",
            "StopGradient",
            "PreventGradient",
            "CheckNumerics",
            "L2Loss",
            "Lgamma",
        ]
    },
    "CheckNumerics": P(F, message="probe"),
    "LeakyRelu": P(F, alpha=0.3),
    "LogicalNot": P(B),
    # binary float
    **{
        op: P(F, T((2, 3), "float32", 0.5, 2.0))
        for op in [
            "Add",
            "AddV2",
            "Sub",
            "Mul",
            "RealDiv",
            "Div",
            "Maximum",
            "Minimum",
            "Pow",
            "SquaredDifference",
            "FloorDiv",
            "FloorMod",
            "Atan2",
            "Less",
            "Greater",
            "LessEqual",
            "GreaterEqual",
            "Equal",
            "NotEqual",
            "DivNoNan",
            "MulNoNan",
            "TruncateDiv",
            "Xdivy",
            "Xlog1py",
            "Xlogy",
            "SigmoidGrad",
            "TanhGrad",
            "RsqrtGrad",
            "SqrtGrad",
            "SeluGrad",
        ]
    },
    "BiasAdd": P(F, T((3,))),
    "BiasAddGrad": P(F),
    "LogicalAnd": P(B, B),
    "LogicalOr": P(B, B),
    "BitwiseXor": P(I, I),
    "RightShift": P(I, I),
    "Select": P(B, F, F),
    "SelectV2": P(B, F, F),
    "AddN": P([F, F, F]),
    "IdentityN": P([F, F]),
    "PlaceholderWithDefault": P(F, shape=[2, 3]),
    # shapes
    "Shape": P(F),
    "Size": P(F),
    "Rank": P(F),
    "Cast": P(F, DstT="int32"),
    "Bitcast": P(T((2, 4), "float32"), type="int32"),
    "ExpandDims": P(F, C(1)),
    "Squeeze": P(T((2, 1, 3)), axis=[1]),
    "Reshape": P(F, C([3, 2])),
    "Transpose": P(F, C([1, 0])),
    "BroadcastTo": P(T((1, 3)), C([2, 3])),
    "BroadcastArgs": B_(lambda tf, x: tf.raw_ops.BroadcastArgs(s0=tf.shape(x), s1=[1, 3]), F),
    "Fill": B_(lambda tf, x: tf.raw_ops.Fill(dims=tf.shape(x), value=2.5), F),
    "Empty": B_(
        lambda tf, x: tf.raw_ops.Empty(shape=tf.shape(x), dtype=tf.float32, init=True) + x, F
    ),
    "Tile": P(F, C([2, 1])),
    "Slice": P(T((3, 4)), C([1, 0]), C([2, 3])),
    "StridedSlice": P(T((4, 5)), C([1, 0]), C([4, 5]), C([2, 2])),
    "ConcatV2": P([F, F], C(1)),
    "Pack": P([F, F], axis=1),
    "Unpack": P(F, num=2, axis=0),
    "Split": P(C(1), T((2, 4)), num_split=2),
    "SplitV": P(T((2, 5)), C([2, 3]), C(1), num_split=2),
    "ReverseV2": P(F, C([1])),
    "ReverseSequence": P(T((2, 4)), C([3, 2], "int64"), seq_dim=1, batch_dim=0),
    "Pad": P(F, C([[1, 0], [0, 2]])),
    "PadV2": P(F, C([[1, 0], [0, 2]]), C(9.0, "float32")),
    "MirrorPad": P(T((3, 4)), C([[1, 1], [2, 0]]), mode="REFLECT"),
    "SpaceToDepth": P(T((1, 4, 4, 2)), block_size=2),
    "DepthToSpace": P(T((1, 2, 2, 8)), block_size=2),
    "SpaceToBatchND": P(T((1, 4, 4, 1)), C([2, 2]), C([[0, 0], [0, 0]])),
    "BatchToSpaceND": P(T((4, 2, 2, 1)), C([2, 2]), C([[0, 0], [0, 0]])),
    "Where": P(B),
    "Unique": P(T((6,), "int32", 0, 3)),
    "OneHot": P(T((4,), "int32", 0, 3), C(3), C(1.0, "float32"), C(0.0, "float32")),
    "Range": B_(lambda tf, x: tf.raw_ops.Range(start=0.0, limit=tf.reduce_sum(x), delta=1.0), F),
    "InvertPermutation": P(C([2, 0, 1])),
    "DynamicStitch": P([C([0, 2]), C([1])], [T((2, 3)), T((1, 3))]),
    "ParallelDynamicStitch": P([C([0, 2]), C([1])], [T((2, 3)), T((1, 3))]),
    "Roll": P(T((2, 5)), C([2]), C([1])),
    # gathers, scatters, segments
    "Gather": P(T((4, 3)), C([2, 0])),
    "GatherV2": P(T((4, 3)), C([2, 0]), C(0)),
    "GatherNd": P(T((4, 3)), C([[1, 2], [3, 0]])),
    "ScatterNd": P(C([[1], [3]]), T((2, 3)), C([5, 3])),
    "TensorScatterUpdate": P(T((5, 3)), C([[1], [3]]), T((2, 3))),
    "TensorScatterAdd": P(T((5, 3)), C([[1], [3]]), T((2, 3))),
    "SparseToDense": P(C([[0, 1], [2, 3]]), C([3, 4]), T((2,)), C(0.0, "float32")),
    "SegmentSum": P(T((4, 3)), C([0, 0, 1, 2])),
    **{
        f"UnsortedSegment{k}": P(T((4, 3)), C([0, 2, 0, 1]), C(3))
        for k in ("Max", "Min", "Prod", "Sum")
    },
    "XlaConvV2": B_(lambda tf, x: _xla_conv(tf, x), F4),
    "XlaGather": B_(lambda tf, x: _xla_gather(tf, x), T((4, 3))),
    "XlaSharding": B_(lambda tf, x: _xla().sharding(x) * 2.0, F),
    "Dequantize": B_(
        lambda tf, x: tf.raw_ops.Dequantize(
            input=tf.cast(x, tf.quint8), min_range=0.0, max_range=6.0, mode="MIN_COMBINED"
        ),
        T((2, 3), "uint8", 0, 255),
    ),
    "XlaDynamicUpdateSlice": B_(
        lambda tf, x, u: _xla().dynamic_update_slice(x, u, tf.constant([1, 0])),
        T((4, 3)),
        T((2, 3)),
    ),
    # reductions
    **{op: P(T((2, 3, 4)), C([1])) for op in ("Mean", "Sum", "Min", "Max", "Prod")},
    "Any": P(T((2, 3), "bool"), C([1])),
    "All": P(T((2, 3), "bool"), C([1])),
    "ArgMax": P(F, C(1)),
    "ArgMin": P(F, C(1)),
    "TopKV2": P(T((2, 5)), C(2)),
    "ApproxTopK": P(T((2, 5)), k=2),
    "Cumsum": P(F, C(1)),
    "Bucketize": P(F, boundaries=[0.8, 1.2, 1.6]),
    # matrices
    "MatMul": P(T((2, 3)), T((3, 4))),
    "SparseMatMul": P(T((2, 3)), T((3, 4))),
    **{op: P(T((2, 2, 3)), T((2, 3, 4))) for op in ("BatchMatMul", "BatchMatMulV2")},
    "BatchMatMulV3": P(T((2, 2, 3)), T((2, 3, 4)), Tout="float32"),
    "Einsum": B_(
        lambda tf, a, b: tf.raw_ops.Einsum(inputs=[a, b], equation="bij,bjk->bik"),
        T((2, 2, 3)),
        T((2, 3, 4)),
    ),  # fmt: skip
    "MatrixDiag": P(F),
    "MatrixDiagV2": P(F, C(0), C(-1), C(-1), C(0.0, "float32")),
    "MatrixDiagV3": P(F, C(0), C(-1), C(-1), C(0.0, "float32")),
    "MatrixSetDiag": P(T((3, 3)), T((3,))),
    "MatrixSetDiagV2": P(T((3, 3)), T((3,)), C(0)),
    "MatrixSetDiagV3": P(T((3, 3)), T((3,)), C(0)),
    "MatrixBandPart": P(T((4, 4)), C(1, "int64"), C(0, "int64")),
    # nn
    "Conv2D": P(
        F4,
        C(np.full((2, 2, 2, 3), 0.25, np.float32), "float32"),
        strides=[1, 1, 1, 1],
        padding="VALID",
    ),  # fmt: skip
    "DepthwiseConv2dNative": P(
        F4,
        C(np.full((2, 2, 2, 2), 0.25, np.float32), "float32"),
        strides=[1, 1, 1, 1],
        padding="SAME",
    ),  # fmt: skip
    "Conv2DBackpropInput": P(
        C([1, 4, 4, 2]),
        C(np.full((2, 2, 2, 3), 0.5, np.float32), "float32"),
        T((1, 2, 2, 3)),
        strides=[1, 2, 2, 1],
        padding="SAME",
    ),  # fmt: skip
    "Conv3D": P(
        T((1, 3, 3, 3, 2)),
        C(np.full((2, 2, 2, 2, 3), 0.25, np.float32), "float32"),
        strides=[1, 1, 1, 1, 1],
        padding="VALID",
    ),  # fmt: skip
    "Conv3DBackpropInputV2": P(
        C([1, 4, 4, 4, 2]),
        C(np.full((2, 2, 2, 2, 3), 0.5, np.float32), "float32"),
        T((1, 2, 2, 2, 3)),
        strides=[1, 2, 2, 2, 1],
        padding="SAME",
    ),  # fmt: skip
    "MaxPool": P(F4, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"),
    "AvgPool": P(F4, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID"),
    "LRN": P(F4, depth_radius=1),
    "FusedBatchNormV3": B_(
        lambda tf, x: tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=[1.0, 2.0],
            offset=[0.1, 0.2],
            mean=[0.5, 0.6],
            variance=[1.5, 2.5],
            is_training=False,
        )[0],
        F4,
    ),  # fmt: skip
    "BatchNormWithGlobalNormalization": P(
        F4,
        C([0.5, 0.6], "float32"),
        C([1.5, 2.5], "float32"),
        C([0.1, 0.2], "float32"),
        C([1.0, 2.0], "float32"),
        variance_epsilon=1e-3,
        scale_after_normalization=True,
    ),  # fmt: skip
    "ResizeBilinear": P(F4, C([6, 6])),
    "ResizeNearestNeighbor": P(F4, C([8, 8])),
    "SoftmaxCrossEntropyWithLogits": P(F, T((2, 3), "float32", 0.0, 1.0)),
    "SparseSoftmaxCrossEntropyWithLogits": P(F, T((2,), "int32", 0, 3)),
    "NonMaxSuppressionV3": _nms_probe(3),
    "NonMaxSuppressionV4": _nms_probe(4),
    "NonMaxSuppressionV5": _nms_probe(5),
    # quantization emulation
    "FakeQuantWithMinMaxArgs": P(F, min=-1.0, max=2.0),
    "FakeQuantWithMinMaxVars": P(F, C(-1.0, "float32"), C(2.0, "float32")),
    "QuantizeAndDequantizeV4": P(F, C(-1.0, "float32"), C(2.0, "float32"), range_given=True),
    # spectral, complex
    "RFFT": P(T((2, 8)), C([8])),
    "RFFT2D": P(T((2, 4, 8)), C([4, 8])),
    "ComplexAbs": P(T((2, 3), "complex64")),
    "Real": P(T((2, 3), "complex64")),
    "Imag": P(T((2, 3), "complex64")),
    # random
    "RandomUniform": Probe((C([2, 3]),), {"dtype": "float32", "seed": 1, "seed2": 2}, None, False),
    "RandomStandardNormal": Probe(
        (C([2, 3]),), {"dtype": "float32", "seed": 1, "seed2": 2}, None, False
    ),
    "Multinomial": Probe((F, C(4)), {"seed": 1, "seed2": 2}, None, False),
}


def _xla() -> Any:
    from tensorflow.compiler.tf2xla.python import xla  # the XLA op wrappers (not in raw_ops)

    return xla


def _xla_conv(tf: Any, x: Any) -> Any:
    from tensorflow.compiler.xla import xla_data_pb2

    dn = xla_data_pb2.ConvolutionDimensionNumbers(
        input_batch_dimension=0, input_feature_dimension=3, input_spatial_dimensions=[1, 2],
        kernel_input_feature_dimension=2, kernel_output_feature_dimension=3,
        kernel_spatial_dimensions=[0, 1], output_batch_dimension=0, output_feature_dimension=3,
        output_spatial_dimensions=[1, 2],
    )  # fmt: skip
    w = tf.constant(np.full((2, 2, 2, 3), 0.25, np.float32))
    return _xla().conv(
        x, w, window_strides=[1, 1], padding=[[0, 0], [0, 0]], lhs_dilation=[1, 1],
        rhs_dilation=[1, 1], dimension_numbers=dn, preferred_element_type=tf.float32,
    )  # fmt: skip


def _xla_gather(tf: Any, x: Any) -> Any:
    from tensorflow.compiler.xla import xla_data_pb2

    dn = xla_data_pb2.GatherDimensionNumbers(
        offset_dims=[1], collapsed_slice_dims=[0], start_index_map=[0], index_vector_dim=1
    )
    return _xla().gather(
        x, tf.constant([[2], [0]]), dimension_numbers=dn, slice_sizes=[1, 3],
        indices_are_sorted=False,
    )  # fmt: skip


def _call(tf: Any, op: str, args: list[Any], attrs: dict[str, Any]) -> Any:
    """tf.raw_ops.<op> with positional `args` mapped onto its parameter names."""
    fn = getattr(tf.raw_ops, op)
    names = [n for n in inspect.signature(fn).parameters if n != "name"]
    kwargs = dict(zip(names, args))
    for key, value in attrs.items():
        if key in ("DstT", "type", "dtype", "Tout") and isinstance(value, str):
            value = tf.as_dtype(value)
        kwargs[key] = value
    return fn(**kwargs)


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, list | tuple):
        return [t for o in out for t in _flatten(o)]
    return [out]


def _data(spec: T, rng: np.random.Generator) -> np.ndarray:
    if spec.dtype == "bool":
        return rng.integers(0, 2, spec.shape).astype(bool)
    if np.issubdtype(np.dtype(spec.dtype), np.complexfloating):
        real, imag = (rng.uniform(spec.lo, spec.hi, spec.shape) for _ in range(2))
        return (real + 1j * imag).astype(spec.dtype)
    if np.issubdtype(np.dtype(spec.dtype), np.integer):
        return rng.integers(int(spec.lo), int(spec.hi), spec.shape).astype(spec.dtype)
    return rng.uniform(spec.lo, spec.hi, spec.shape).astype(spec.dtype)


def probe_function(tf: Any, op: str, probe: Probe) -> tuple[Any, list[T]]:
    """A concrete function with the probe op, and its argument specs."""
    flat = [a for arg in probe.args for a in (arg if isinstance(arg, list) else [arg])]
    specs = [a for a in flat if isinstance(a, T)]

    def materialize(arg: Any, tensors: list[Any]) -> Any:
        if isinstance(arg, list):
            return [materialize(a, tensors) for a in arg]
        if isinstance(arg, T):
            return tensors.pop(0)
        return tf.constant(np.asarray(arg.value, dtype=arg.dtype))

    def body(*xs: Any) -> Any:
        tensors = list(xs)
        if probe.build is not None:
            built = [materialize(a, tensors) for a in probe.args]
            return _flatten(probe.build(tf, *built))
        built = [materialize(a, tensors) for a in probe.args]
        return _flatten(_call(tf, op, built, probe.attrs))

    signature = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype)) for s in specs]
    fn = tf.function(body, input_signature=signature, autograph=False)
    return fn.get_concrete_function(), specs


@dataclass
class Status:
    op: str
    status: str
    detail: str = ""
    reason: str = ""
    """check-tflite-legal's reason kind for the op left over (not lowered)."""


def probe(op: str, seed: int = 0) -> Status:
    """Convert the probe of `op` with tflconv, run it in LiteRT, compare with TF."""
    import tensorflow as tf

    probes = _probes(tf)
    if op not in probes:
        return Status(op, "missing", "no probe written for it")
    try:
        cf, specs = probe_function(tf, op, probes[op])
    except Exception as e:  # noqa: BLE001 - a probe TF cannot build is reported, not raised
        if "not available in GraphDef version" in str(e):
            return Status(op, "obsolete", "TF 2 cannot create it any more (GraphDef version)")
        return Status(op, "missing", f"probe does not build in TF: {type(e).__name__}: {e}")
    try:
        tflite = convert([cf])
    except ConverterError as e:
        report = getattr(e, "report", None)
        if report is not None:
            entry = next((u for u in report.ops if u.op == f"tf.{op}"), None)
            left = entry or report.ops[0]
            return Status(op, "missing", f"`{left.op}` stays: {left.detail}", left.reason)
        return Status(op, "missing", " ".join(str(e).split())[:200])
    rng = np.random.default_rng(seed)
    inputs = [_data(s, rng) for s in specs]
    try:
        got = _run_litert(tflite, inputs)
    except Exception as e:  # noqa: BLE001
        return Status(op, "wrong", f"converts but LiteRT fails: {type(e).__name__}: {e}")
    want = [np.asarray(t) for t in _flatten(cf(*[tf.constant(x) for x in inputs]))]
    if len(got) != len(want):
        return Status(op, "wrong", f"{len(got)} outputs, TF has {len(want)}")
    for g, w in zip(got, want):
        if g.shape != w.shape and probes[op].exact:
            return Status(op, "wrong", f"shape {g.shape}, TF {w.shape}")
        if probes[op].exact and not np.allclose(g, w, rtol=1e-4, atol=1e-5, equal_nan=True):
            return Status(op, "wrong", f"max abs diff {np.max(np.abs(g - w.astype(g.dtype)))}")
    return Status(op, "lowered")


def _run_litert(tflite: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        if list(d["shape"]) != list(x.shape):
            interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x.astype(d["dtype"]))
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


_PROBE_CACHE: dict[str, Probe] = {}


def _probes(tf: Any) -> dict[str, Probe]:
    if not _PROBE_CACHE:
        _PROBE_CACHE.update(PROBES)
        _PROBE_CACHE.update(_list_ops(tf))
    return _PROBE_CACHE


def coverage(ops: list[str] | None = None) -> list[Status]:
    """Probe every op of the official table (or `ops`)."""
    with quiet_tensorflow(True):
        return [probe(op) for op in (ops or list(OFFICIAL_LOWERED_OPS))]


def render(statuses: list[Status]) -> str:
    """docs/op_coverage.md."""
    counts = {k: sum(s.status == k for s in statuses) for k in _ORDER}
    lines = [
        "# Op coverage against the official converter",
        "",
        "Every TF op the official converter (`tf.lite.TFLiteConverter`) lowers to TFLite builtins,",
        "read op by op from its legalization sources (see",
        "`tflconv/passes/compat/official_lowered_ops.py` for the files), and what tflconv does with it.",
        "Generated by `python -m tflconv.tools.op_coverage --write`; `tests/test_op_coverage.py` fails",
        "when this file is out of date. Each status comes from a probe: a one-op `tf.function`",
        "converted with `tflconv.convert` (TFLITE_BUILTINS only) and run in LiteRT against",
        "TensorFlow (random ops: shapes and dtypes only).",
        "",
        "- **lowered**: converts to builtins and matches TensorFlow on the probe;",
        "- **missing**: not converted; the reason is the converter's;",
        "- **wrong**: converts but differs from TensorFlow (a bug);",
        "- **obsolete**: TensorFlow 2 can no longer create the op (no probe possible).",
        "",
        "Summary: " + ", ".join(f"{counts[k]} {k}" for k in _ORDER if counts[k]) + f" of "
        f"{len(statuses)}.",
        "",
        "| TF op | official builtins | official source | tflconv | detail |",
        "|---|---|---|---|---|",
    ]
    for s in statuses:
        lowering = OFFICIAL_LOWERED_OPS[s.op]
        builtins = ", ".join(lowering.builtins) or "(removed)"
        if lowering.note:
            builtins += f" ({lowering.note})"
        detail = s.detail.replace("|", "\\|").replace("\n", " ")
        if len(detail) > 160:
            detail = detail[:157] + "..."
        lines.append(f"| {s.op} | {builtins} | {lowering.source} | {s.status} | {detail} |")
    return "\n".join(lines) + "\n"


_ORDER = ("lowered", "missing", "wrong", "obsolete")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tflconv.tools.op_coverage", description=__doc__
    )
    parser.add_argument("--write", action="store_true", help=f"write {DOC}")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {DOC} is stale")
    parser.add_argument("ops", nargs="*", help="only these TF ops (print only)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    unknown = [op for op in args.ops if op not in OFFICIAL_LOWERED_OPS]
    if unknown:
        parser.error(f"not in the official table: {', '.join(unknown)}")
    statuses = coverage(args.ops or None)
    text = render(statuses)
    if args.write:
        DOC.write_text(text)
        print(f"wrote {DOC}")
    elif args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date: run python -m tflconv.tools.op_coverage --write")
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
