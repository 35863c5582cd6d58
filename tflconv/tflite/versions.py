"""Operator versions and the minimum runtime version, as the official converter computes them.

Sources (google-ai-edge/LiteRT; identical rules in tensorflow/lite/tools/versioning/):
- `tflite/tools/versioning/op_version.cc` (`GetBuiltinOperatorVersion`) and the signature
  details of `tflite/converter/tools/versioning/op_signature.cc` (per-channel, grouped conv,
  "input quantized" = the tensor has quantization parameters, optional inputs count as inputs);
- `tflite/tools/versioning/runtime_version.cc` (`FindMinimumRuntimeVersionForOp`).

`VERSION_RULES[op]` is a list of (version, predicate) tried in order; the first predicate that
holds gives the version, else 1. Ops not listed are version 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tflconv.core.ir import Operation
from tflconv.core.types import NO_VALUE_TYPE, TensorType


def _words(text: str) -> tuple[str, ...]:
    """Op-name lists are written as space-separated strings to keep the tables short."""
    return tuple(text.split())


class Sig:
    """What the version rules look at: operand/result element types, ranks, shapes, attributes."""

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.ins: list[TensorType] = [v.type for v in op.operands]
        self.outs: list[TensorType] = [r.type for r in op.results]

    def i(self, k: int) -> str:
        """Element type of operand k ("none" for absent or missing ones)."""
        return self.ins[k].dtype if k < len(self.ins) else "none"

    def o(self, k: int) -> str:
        return self.outs[k].dtype if k < len(self.outs) else "none"

    def rank(self, k: int) -> int:
        t = self.ins[k] if k < len(self.ins) else NO_VALUE_TYPE
        return len(t.shape) if t.shape is not None else 0

    def shape(self, k: int) -> tuple[int, ...]:
        t = self.ins[k] if k < len(self.ins) else NO_VALUE_TYPE
        return tuple(1 if d is None else d for d in (t.shape or ()))

    def iq(self, k: int) -> Any:
        return self.ins[k].quant if k < len(self.ins) else None

    def oq(self, k: int) -> Any:
        return self.outs[k].quant if k < len(self.outs) else None

    def attr(self, name: str) -> Any:
        return self.op.attr(name)

    def types(self, *ts: str) -> bool:
        """(input0, input1, output0) element types match, e.g. types("i8", "i8", "i8")."""
        return (self.i(0), self.i(1), self.o(0))[: len(ts)] == ts

    def broadcast_over_4d(self) -> bool:
        return (
            len(self.ins) >= 2
            and self.shape(0) != self.shape(1)
            and max(self.rank(0), self.rank(1)) > 4
        )

    def per_channel(self, k: int, dim: int | None, out: bool = False) -> bool:
        """Operand (or result) k has one scale per slice of `dim` (None: its quantized axis)."""
        t = (self.outs if out else self.ins)[k] if k < len(self.outs if out else self.ins) else None
        if t is None or t.quant is None or not t.quant.scale or t.shape is None:
            return False
        d = (t.quant.axis or 0) if dim is None else dim
        return d < len(t.shape) and len(t.quant.scale) == (t.shape[d] or 1)


Rule = tuple[int, Callable[[Sig], bool]]


def _q(*pairs: tuple[int, str]) -> list[Rule]:
    """Rules on operand 0's type: _q((3, "i16"), (2, "i8"))."""
    return [(v, lambda s, t=t: s.i(0) == t) for v, t in pairs]


_I16_3_I8_2 = _q((3, "i16"), (2, "i8"))
_I8_2 = _q((2, "i8"))


def _hybrid(s: Sig) -> bool:
    return s.types("f32", "i8", "f32")


def _mul_rescale(s: Sig) -> float:
    q0, q1, qo = s.iq(0), s.iq(1), s.oq(0)
    if not (q0 and q1 and qo and q0.scale and q1.scale and qo.scale) or not qo.scale[0]:
        return 0.0
    return q0.scale[0] * q1.scale[0] / qo.scale[0]


def _lstm_hybrid(s: Sig) -> bool:
    return (s.i(0), s.i(2), s.o(0)) == ("f32", "i8", "f32") and s.attr("kernel_type") in (
        "FULL",
        None,
    )


def _rnn_hybrid(s: Sig) -> bool:
    return s.i(1) == "i8" and s.o(0) == "f32"


VERSION_RULES: dict[str, list[Rule]] = {
    "CONV_2D": [
        (8, lambda s: s.types("i16", "i8", "i16") and s.attr("quantized_bias_type") != "FLOAT32"),
        (6, lambda s: s.rank(0) == 4 and s.rank(1) == 4 and s.shape(0)[3] != s.shape(1)[3]),
        (3, lambda s: s.types("i8", "i8", "i8")),
        (7, lambda s: s.types("i8", "i4", "i8")),
        (5, lambda s: _hybrid(s) and s.per_channel(1, 0)),
        (2, _hybrid),
    ],
    "DEPTHWISE_CONV_2D": [
        (6, lambda s: _hybrid(s) and s.per_channel(1, 3)),
        (4, _hybrid),
        (3, lambda s: s.types("i8", "i8", "i8")),
        (7, lambda s: s.types("i8", "i4", "i8")),
        (2, lambda s: s.attr("dilation_w_factor") != 1 or s.attr("dilation_h_factor") != 1),
    ],
    "EMBEDDING_LOOKUP": [
        (4, lambda s: s.i(1) == "i4" or (s.per_channel(1, 0) and len(s.iq(1).scale) > 1))
    ],
    "FAKE_QUANT": [(2, lambda s: bool(s.attr("narrow_range")))],
    "FULLY_CONNECTED": [
        (13, lambda s: s.types("i16", "i4", "i16")),
        (12, lambda s: _hybrid(s) and s.per_channel(1, 0)),
        (11, lambda s: s.types("i16", "i8", "i16") and s.attr("quantized_bias_type") != "FLOAT32"),
        (7, lambda s: s.types("i16", "i16", "i16")),
        (6, lambda s: len(s.ins) == 2),
        (5, lambda s: bool(s.attr("keep_num_dims"))),
        (4, lambda s: s.types("i8", "i8", "i8")),
        (10, lambda s: s.types("i8", "i4", "i8")),
        (9, lambda s: _hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
        (3, _hybrid),
        (2, lambda s: s.attr("weights_format") == "SHUFFLED4x16INT8"),
    ],
    "GATHER": [
        (7, lambda s: s.i(0) == "i4"),
        (6, lambda s: s.i(1) == "i16"),
        (5, lambda s: s.attr("batch_dims") not in (0, None)),
        *_q((4, "i16"), (3, "i1"), (2, "i8")),
    ],
    "SVDF": [
        (3, lambda s: s.i(0) == "i8"),
        (4, lambda s: _hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
        (2, _hybrid),
    ],
    "SIGN": _q((2, "i32")),
    "MUL": [
        (
            7,
            lambda s: (s.i(0) == "i16" and s.iq(0) is None and s.iq(1) is None) or s.i(0) == "ui32",
        ),
        *_q((6, "complex64"), (5, "i64"), (4, "i16")),
        (3, lambda s: _mul_rescale(s) >= 1.0),
        *_I8_2,
    ],
    "MAX_POOL_2D": [(3, lambda s: s.i(0) == "i16" and s.o(0) == "i16"), *_I8_2],
    "AVERAGE_POOL_2D": [(3, lambda s: s.i(0) == "i16" and s.o(0) == "i16"), *_I8_2],
    "TRANSPOSE": [
        (7, lambda s: s.i(0) == "i4"),
        (6, lambda s: s.rank(0) > 5),
        (5, lambda s: s.i(0) == "i16"),
        (4, lambda s: s.rank(0) > 4),
        *_q((3, "i1"), (2, "i8")),
    ],
    "TRANSPOSE_CONV": [
        # op_version.cc tests inputs[0] (the output_shape operand) here; kept as written.
        (5, lambda s: s.types("i16", "i8", "i16") and s.attr("quantized_bias_type") != "FLOAT32"),
        (4, lambda s: s.attr("fused_activation_function") not in ("NONE", None)),
        (3, lambda s: len(s.ins) == 4 and s.i(3) != "none"),
        (2, lambda s: s.i(1) == "i8"),
    ],
    "LSTM": [
        (
            5,
            lambda s: (
                s.attr("kernel_type") == "FULL" and (s.i(0), s.i(2), s.o(0)) == ("i16", "i8", "i16")
            ),
        ),
        (4, lambda s: _lstm_hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
        (3, _lstm_hybrid),
        (2, lambda s: s.attr("kernel_type") == "BASIC"),
    ],
    "SPLIT": [
        (4, lambda s: s.i(1) == "i16"),
        (3, lambda s: s.i(1) == "i32"),
        (2, lambda s: s.i(1) == "i8"),
    ],
    "SPARSE_TO_DENSE": [(3, lambda s: s.i(2) in ("i8", "ui8")), (2, lambda s: s.i(2) == "i64")],
    "SLICE": [
        (6, lambda s: s.i(0) == "ui32"),
        (5, lambda s: s.rank(0) > 4),
        *_q((4, "i16"), (3, "string"), (2, "i8")),
    ],
    "UNPACK": [
        (2, lambda s: s.i(0) in ("i8", "ui8")),
        (3, lambda s: s.i(0) == "i1"),
        (4, lambda s: s.i(0) == "i16" and s.o(0) == "i16"),
    ],
    "DEQUANTIZE": [
        (6, lambda s: s.i(0) == "i4"),
        (3, lambda s: s.i(0) in ("i16", "f16")),
        (
            5,
            lambda s: (
                s.i(0) == "i8"
                and s.iq(0) is not None
                and len(s.iq(0).scale) > 1
                and s.per_channel(0, None)
            ),
        ),
        (2, lambda s: s.i(0) == "i8"),
    ],
    "QUANTIZE": [
        (4, lambda s: s.i(0) == "i4" or s.o(0) == "i4"),
        (
            3,
            lambda s: (
                s.oq(0) is not None and len(s.oq(0).scale) > 1 and s.per_channel(0, None, out=True)
            ),
        ),
        (2, lambda s: s.o(0) == "i16"),
    ],
    "FLOOR_DIV": [(3, lambda s: s.i(0) in ("i16", "i8")), (2, lambda s: s.i(0) == "f32")],
    "FLOOR_MOD": [(2, lambda s: s.i(0) in ("i16", "i8"))],
    "L2_NORMALIZATION": [(2, lambda s: s.o(0) == "i8")],
    "ABS": [
        (5, lambda s: s.i(0) == "i32"),
        (3, lambda s: s.i(0) == "i16" and s.iq(0) is not None),
        (4, lambda s: s.i(0) == "i16"),
        (2, lambda s: s.i(0) in ("i8", "ui8")),
    ],
    "RELU": [(3, lambda s: s.i(0) == "i16"), (2, lambda s: s.i(0) in ("i8", "ui8"))],
    "STRIDED_SLICE": [
        (8, lambda s: bool(s.attr("offset"))),
        (7, lambda s: s.i(0) == "ui32"),
        (6, lambda s: bool(s.attr("ellipsis_mask")) or bool(s.attr("new_axis_mask"))),
        (5, lambda s: s.i(0) == "string"),
        (4, lambda s: s.rank(0) > 4),
        *_q((3, "i1"), (2, "i8")),
    ],
    "REVERSE_V2": _q((3, "i8"), (2, "i1")),
    "RESIZE_BILINEAR": [
        (4, lambda s: s.i(0) == "i16"),
        (3, lambda s: bool(s.attr("half_pixel_centers"))),
        *_I8_2,
    ],
    "RESIZE_NEAREST_NEIGHBOR": [
        (4, lambda s: s.i(0) == "i16"),
        (3, lambda s: bool(s.attr("half_pixel_centers")) or bool(s.attr("align_corners"))),
        *_I8_2,
    ],
    "MAXIMUM": [
        (4, lambda s: s.i(0) == "i16" and s.o(0) == "i16"),
        (3, Sig.broadcast_over_4d),
        *_I8_2,
    ],
    "MINIMUM": [
        (4, lambda s: s.i(0) == "i16" and s.o(0) == "i16"),
        (3, Sig.broadcast_over_4d),
        *_I8_2,
    ],
    "PACK": [
        (2, lambda s: s.i(0) == "i8"),
        (3, lambda s: s.i(0) == "i16" and s.o(0) == "i16"),
        (4, lambda s: s.i(0) == "ui32"),
    ],
    "TILE": _q((3, "i8"), (2, "string")),
    "SQUEEZE": _q((2, "string")),
    "SPACE_TO_BATCH_ND": [(4, lambda s: s.i(0) == "i16"), (3, lambda s: s.rank(0) != 4), *_I8_2],
    "BATCH_TO_SPACE_ND": [(4, lambda s: s.i(0) == "i16"), (3, lambda s: s.rank(0) != 4), *_I8_2],
    "ADD": [
        (5, lambda s: s.i(0) == "i16" and s.iq(0) is None),
        (4, lambda s: s.i(0) == "i64"),
        (3, lambda s: s.i(0) == "i16" and s.o(0) == "i16" and s.attr("pot_scale_int16") is False),
        *_I8_2,
    ],
    "SUB": [
        (5, lambda s: s.i(0) == "i16" and s.o(0) == "i16" and s.attr("pot_scale_int16") is False),
        (4, lambda s: s.i(0) == "i64"),
        (3, Sig.broadcast_over_4d),
        *_I8_2,
    ],
    "GATHER_ND": [
        (5, lambda s: s.i(0) == "i1"),
        (4, lambda s: s.i(1) == "i16"),
        *_q((3, "i16"), (2, "string")),
    ],
    "DIV": [(2, Sig.broadcast_over_4d)],
    "TANH": [(3, lambda s: s.i(0) == "i16" and s.o(0) == "i16"), *_I8_2],
    "LOGISTIC": [(3, lambda s: s.i(0) == "i16" and s.o(0) == "i16"), *_I8_2],
    "FILL": [
        (4, lambda s: s.i(1) == "f16"),
        (3, lambda s: s.i(1) in ("i8", "i16")),
        (2, lambda s: s.i(1) in ("i1", "string")),
    ],
    "EQUAL": _q((4, "i16"), (3, "string"), (2, "i8")),
    "NOT_EQUAL": _q((3, "string"), (2, "i8")),
    "LEAKY_RELU": _q((2, "i16")),
    "RANGE": _q((2, "i64")),
    "BATCH_MATMUL": [
        *_q((3, "i16"), (2, "i8")),
        (4, lambda s: _hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
    ],
    "PAD": [(5, lambda s: s.i(0) == "i1"), (4, lambda s: s.rank(0) > 4), *_I16_3_I8_2],
    "PADV2": [(5, lambda s: s.i(0) == "i1"), (4, lambda s: s.rank(0) > 4), *_I16_3_I8_2],
    "CONCATENATION": _q((4, "ui32"), (3, "i16"), (2, "i8")),
    **{
        op: _I16_3_I8_2
        for op in _words(
            "SOFTMAX MEAN MIRROR_PAD REDUCE_MAX REDUCE_MIN RELU6 RSQRT LESS GREATER_EQUAL"
        )
    },
    **{
        op: [
            (3, lambda s: _rnn_hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
            (2, _rnn_hybrid),
        ]
        for op in _words(
            "RNN UNIDIRECTIONAL_SEQUENCE_RNN BIDIRECTIONAL_SEQUENCE_RNN BIDIRECTIONAL_SEQUENCE_LSTM"
        )
    },
    "UNIDIRECTIONAL_SEQUENCE_LSTM": [
        (5, lambda s: (s.i(0), s.i(2), s.o(0)) == ("i16", "i8", "i16")),
        (4, lambda s: bool(s.attr("diagonal_recurrent_tensors"))),
        (3, lambda s: _lstm_hybrid(s) and bool(s.attr("asymmetric_quantize_inputs"))),
        (2, _lstm_hybrid),
    ],
    "ARG_MAX": _q((3, "i1"), (2, "i8")),
    "ARG_MIN": _q((3, "i1"), (2, "i8")),
    "SELECT": [
        (4, lambda s: s.i(0) == "ui32"),
        (3, lambda s: 5 in (s.rank(0), s.rank(1), s.rank(2))),
        *_I8_2,
    ],
    "SELECT_V2": _q((2, "ui32")),
    **{
        op: _I8_2
        for op in _words(
            "SPACE_TO_DEPTH SPLIT_V SUM LOG_SOFTMAX GREATER LESS_EQUAL SQUARED_DIFFERENCE DEPTH_TO_SPACE"
        )
    },
    "TOPK_V2": [(3, lambda s: "i16" in (s.i(0), s.i(1), s.o(1))), *_I8_2],
    **{op: [(2, lambda s: s.i(0) in ("i8", "i16"))] for op in ("EXP", "LOG", "REDUCE_PROD")},
    "DYNAMIC_UPDATE_SLICE": [*_q((4, "i16"), (3, "f16")), (2, lambda s: s.i(2) == "i64")],
    "BROADCAST_TO": [(3, lambda s: s.i(0) in ("i8", "i16")), (2, lambda s: True)],
    "CAST": [
        (7, lambda s: "bf16" in (s.i(0), s.o(0))),
        (6, lambda s: s.i(0) == "i4" and s.o(0) == "f32"),
        (5, lambda s: bool({"f64", "f16"} & {s.i(0), s.o(0)})),
        (4, lambda s: "ui16" in (s.i(0), s.o(0))),
        (3, lambda s: "i8" in (s.i(0), s.o(0))),
        (2, lambda s: "ui32" in (s.i(0), s.o(0))),
    ],
    "WHERE": [(2, lambda s: s.i(0) != "i1")],
    "GELU": [(2, lambda s: s.i(0) in ("i8", "ui8"))],
}


def op_version(op: Operation) -> int:
    """The version of a tfl builtin op, from its operand/result types and attributes."""
    rules = VERSION_RULES.get(op.name.removeprefix("tfl.").upper())
    if not rules:
        return 1
    sig = Sig(op)
    for version, holds in rules:
        if holds(sig):
            return version
    return 1


# (builtin, version) -> minimum runtime, from runtime_version.cc: "OP": "v1 v2 ..." for
# versions 1, 2, ...; "-" marks a version with no entry.
_RUNTIME: dict[str, str] = {
    "AVERAGE_POOL_2D": "1.5.0 1.14.0 2.3.0",
    "BATCH_MATMUL": "2.3.0 2.3.0 2.4.0 2.5.0",
    "BROADCAST_TO": "- 2.5.0 2.5.0",
    "CONV_2D": "1.5.0 1.14.0 1.14.0 2.3.0 2.4.0 2.9.0 2.11.0 2.15.0",
    "DEPTHWISE_CONV_2D": "1.5.0 1.12.0 1.14.0 2.2.0 2.3.0 2.3.0 2.11.0",
    "ADD": "1.5.0 1.14.0 2.4.0 2.6.0 2.13.0",
    "ADD_N": "1.14.0",
    "SPACE_TO_BATCH_ND": "1.6.0 1.14.0 2.3.0 2.12.0",
    "SUB": "1.6.0 1.14.0 2.3.0 2.4.0 2.4.0",
    "DENSIFY": "2.2.0",
    "DIV": "1.6.0 2.3.0",
    "BATCH_TO_SPACE_ND": "1.6.0 1.14.0 2.3.0 2.12.0",
    "CAST": "1.5.0 2.7.0 2.8.0 2.9.0 2.12.0 2.15.0 2.17.0",
    "CONCATENATION": "1.5.0 1.14.0 2.3.0 2.14.0",
    "DEPTH_TO_SPACE": "2.1.0 2.5.0",
    "EMBEDDING_LOOKUP": "1.13.0 1.14.0 1.14.0 2.18.0",
    "EMBEDDING_LOOKUP_SPARSE": "1.5.0",
    "FAKE_QUANT": "1.5.0 1.10.0",
    "FULLY_CONNECTED": "1.5.0 1.10.0 1.14.0 1.14.0 2.0.0 2.1.0 2.3.0 2.3.0 2.3.0 2.11.0 2.15.0 2.17.0 2.18.0",
    "GATHER": "1.6.0 1.14.0 1.15.0 2.4.0 2.5.0 2.13.0 2.15.0",
    "GATHER_ND": "1.14.0 2.3.0 2.5.0 2.13.0 2.16.0",
    "HASHTABLE_LOOKUP": "1.5.0",
    "SVDF": "1.5.0 1.14.0 2.2.0 2.3.0",
    "L2_NORMALIZATION": "1.5.0 1.14.0",
    "L2_POOL_2D": "1.5.0",
    "LOCAL_RESPONSE_NORMALIZATION": "1.5.0",
    "MAX_POOL_2D": "1.5.0 1.14.0 2.3.0",
    "MAXIMUM": "1.14.0 1.14.0 2.3.0 2.3.0",
    "MINIMUM": "1.14.0 1.14.0 2.3.0 2.3.0",
    "MUL": "1.5.0 1.14.0 1.15.0 2.3.0 2.6.0 2.11.0 2.13.0",
    "NON_MAX_SUPPRESSION_V4": "2.1.0",
    "NON_MAX_SUPPRESSION_V5": "2.1.0",
    "PAD": "1.5.0 1.14.0 2.4.0 2.6.0",
    "TILE": "1.10.1 2.2.0 2.8.0",
    "PADV2": "1.9.0 1.14.0 2.4.0 2.6.0",
    "RESHAPE": "1.5.0",
    "SOFTMAX": "1.5.0 1.14.0 2.3.0",
    "SPACE_TO_DEPTH": "1.5.0 1.14.0",
    "TRANSPOSE": "1.6.0 1.14.0 1.15.0 2.3.0 2.4.0 2.12.0 2.14.4",
    "LSTM": "1.7.0 1.10.0 1.14.0 2.3.0",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "1.13.1 1.14.0 2.3.0 2.12.0",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "1.14.0 1.14.0 1.14.0",
    "BIDIRECTIONAL_SEQUENCE_RNN": "1.14.0 1.14.0 2.3.0",
    "MEAN": "1.6.0 1.14.0 2.4.0",
    "SUM": "1.10.0 1.15.0",
    "REDUCE_MAX": "1.11.0 1.14.0 2.5.0",
    "REDUCE_MIN": "1.11.0 1.14.0 2.5.0",
    "REDUCE_PROD": "1.11.0 2.6.0",
    "REDUCE_ANY": "1.11.0",
    "RELU6": "1.5.0 1.14.0 2.5.0",
    "RESIZE_BILINEAR": "1.7.0 1.14.0 2.2.0 2.5.0",
    "RESIZE_NEAREST_NEIGHBOR": "1.13.1 1.14.0 2.3.0 2.4.0",
    "RNN": "1.5.0 1.14.0 2.3.0",
    "SKIP_GRAM": "1.5.0",
    "SQUEEZE": "1.6.0 2.5.0",
    "SPLIT": "1.5.0 1.14.0 1.14.0 2.3.0",
    "SPLIT_V": "1.13.1 2.3.0",
    "STRIDED_SLICE": "1.6.0 1.14.0 2.1.0 2.2.0 2.5.0 2.6.0 2.14.0 2.14.0",
    "TOPK_V2": "1.7.0 1.14.0 2.13.0",
    "ARG_MAX": "1.9.0 1.14.0 2.9.0",
    "ARG_MIN": "1.9.0 1.14.0 2.9.0",
    "TRANSPOSE_CONV": "1.9.0 2.2.0 2.3.0 2.13.0 2.15.0",
    "SPARSE_TO_DENSE": "1.9.0 1.14.0 1.15.0",
    "EXPAND_DIMS": "1.10.0",
    "PACK": "1.11.0 1.14.0 2.3.0 2.13.0",
    "SHAPE": "1.10.0",
    "SLICE": "1.14.0 1.14.0 1.14.0 2.4.0 2.5.0 2.14.0",
    "TANH": "1.14.0 1.14.0 2.3.0",
    "ONE_HOT": "1.11.0",
    "UNPACK": "1.11.0 1.14.0 2.2.0 2.3.0",
    "LEAKY_RELU": "1.13.1 2.3.0",
    "LOGISTIC": "1.14.0 1.14.0 2.3.0",
    "LOG_SOFTMAX": "1.14.0 1.14.0",
    "LSH_PROJECTION": "1.5.0",
    "SQUARED_DIFFERENCE": "1.13.1 2.5.0",
    "MIRROR_PAD": "1.13.1 2.3.0 2.12.0",
    "UNIQUE": "1.14.0",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "1.14.0 1.14.0 2.3.0",
    "WHERE": "1.14.0 2.8.0",
    "DEQUANTIZE": "1.13.1 1.14.0 1.15.0 2.2.0 2.7.0 2.18.0",
    "REVERSE_SEQUENCE": "1.14.0",
    "EQUAL": "1.14.0 1.14.0 2.3.0 2.13.0",
    "NOT_EQUAL": "1.14.0 1.14.0 2.3.0",
    "GREATER": "1.14.0 1.14.0",
    "GREATER_EQUAL": "1.14.0 1.14.0 2.13.0",
    "LESS": "1.14.0 1.14.0 2.13.0",
    "LESS_EQUAL": "1.14.0 1.14.0",
    "SCATTER_ND": "2.1.0",
    "SEGMENT_SUM": "2.2.0",
    "SELECT": "1.14.0 1.14.0 2.12.0 2.12.0",
    "SELECT_V2": "2.2.0 2.12.0",
    "IF": "1.15.0",
    "FLOOR_DIV": "1.14.0 1.14.0 2.13.0",
    "FLOOR": "1.9.0",
    "CEIL": "1.14.0",
    "MATRIX_DIAG": "1.14.0",
    "MATRIX_SET_DIAG": "1.14.0",
    "ELU": "1.14.0",
    "QUANTIZE": "1.14.0 1.15.0 2.7.0",
    "ROUND": "1.14.0",
    "RELU": "1.5.0 2.1.0 2.5.0",
    "RELU_N1_TO_1": "1.5.0",
    "RELU_0_TO_1": "2.10.0",
    "PRELU": "1.8.0",
    "EXP": "1.7.0 2.12.0",
    "COS": "1.14.0",
    "NEG": "1.9.0",
    "POW": "1.10.0",
    "LOGICAL_OR": "1.11.0",
    "LOGICAL_AND": "1.11.0",
    "LOGICAL_NOT": "1.11.0",
    "FLOOR_MOD": "1.13.0 2.13.0",
    "RANGE": "1.13.0 2.14.0",
    "SIN": "1.9.0",
    "LOG": "1.14.0 2.15.0",
    "SQRT": "1.10.0",
    "RSQRT": "1.10.0 2.5.0 2.15.0",
    "SQUARE": "1.12.0",
    "ZEROS_LIKE": "1.12.0",
    "ABS": "1.13.0 2.4.0 2.5.0 2.6.0 2.12.0",
    "HARD_SWISH": "1.15.0",
    "FILL": "1.13.0 2.3.0 2.5.0 2.12.0",
    "REVERSE_V2": "1.14.0 2.2.0 2.5.0",
    "RANK": "1.14.0",
    "WHILE": "1.15.0",
    "CUMSUM": "2.4.0",
    "CALL_ONCE": "2.5.0",
    "RFFT2D": "2.5.0",
    "CONV_3D": "2.5.0",
    "IMAG": "2.5.0",
    "REAL": "2.5.0",
    "COMPLEX_ABS": "2.5.0",
    "HASHTABLE": "2.5.0",
    "HASHTABLE_FIND": "2.5.0",
    "HASHTABLE_IMPORT": "2.5.0",
    "HASHTABLE_SIZE": "2.5.0",
    "REDUCE_ALL": "2.6.0",
    "CONV_3D_TRANSPOSE": "2.6.0",
    "VAR_HANDLE": "2.6.0",
    "READ_VARIABLE": "2.6.0",
    "ASSIGN_VARIABLE": "2.6.0",
    "BROADCAST_ARGS": "2.6.0",
    "RANDOM_STANDARD_NORMAL": "2.8.0",
    "BUCKETIZE": "2.8.0",
    "RANDOM_UNIFORM": "2.8.0",
    "MULTINOMIAL": "2.8.0",
    "GELU": "2.9.0 2.9.0",
    "DYNAMIC_UPDATE_SLICE": "2.9.0 2.17.0 2.19.0 2.20.0",
    "UNSORTED_SEGMENT_PROD": "2.10.0",
    "UNSORTED_SEGMENT_MAX": "2.10.0",
    "UNSORTED_SEGMENT_MIN": "2.11.0",
    "UNSORTED_SEGMENT_SUM": "2.10.0",
    "ATAN2": "2.10.0",
    "SIGN": "2.11.0 2.12.0",
    "BITCAST": "2.13.0",
    "BITWISE_XOR": "2.13.0",
    "RIGHT_SHIFT": "2.13.0",
    "STABLEHLO_SCATTER": "2.15.0",
    "DILATE": "2.15.0",
    "STABLEHLO_RNG_BIT_GENERATOR": "2.15.0",
    "REDUCE_WINDOW": "2.15.0",
    "STABLEHLO_GATHER": "2.16.0",
    "STABLEHLO_ADD": "2.16.0",
    "STABLEHLO_MULTIPLY": "2.16.0",
    "STABLEHLO_REDUCE_WINDOW": "2.16.0",
    "STABLEHLO_MAXIMUM": "2.16.0",
    "STABLEHLO_MINIMUM": "2.16.0",
    "STABLEHLO_PAD": "2.16.0",
    "STABLEHLO_COMPOSITE": "2.17.0",
    "STABLEHLO_AND": "2.17.0",
    "STABLEHLO_SHIFT_LEFT": "2.17.0",
    "STABLEHLO_CBRT": "2.17.0",
    "STABLEHLO_CASE": "2.17.0",
}


def runtime_version(builtin: str, version: int) -> str | None:
    """The minimum runtime for (op, version), None when the table has no entry."""
    versions = _RUNTIME.get(builtin, "").split()
    if not 1 <= version <= len(versions) or versions[version - 1] == "-":
        return None
    return versions[version - 1]


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def min_runtime_version(ops: Iterable[tuple[str, int]]) -> str:
    """The largest runtime version over (builtin name, version) pairs; "" when none is known."""
    best = ""
    for builtin, version in ops:
        found = runtime_version(builtin, version)
        if found and (not best or _version_key(found) > _version_key(best)):
            best = found
    return best
