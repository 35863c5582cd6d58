"""Weight schemes applied op by op (`recipe.WeightScheme`): int8 / int4 per channel or per
tensor, blockwise int4, float16, float — in dynamic-range form (the op's hybrid kernel reads
the integer weights) or weight-only form (integer constant + DEQUANTIZE, the op stays float).

What LiteRT runs (tflite/kernels/*.cc, XNNPACK's delegate), hence what is refused:

| op | dynamic int8 | dynamic int4 | blockwise int4 | weight-only |
|---|---|---|---|---|
| fully_connected | per channel / tensor | per channel / tensor | yes (XNNPACK qb4w; builtin: reference loop) | yes |
| conv_2d | per channel / tensor | per channel / tensor | no | yes |
| depthwise_conv_2d | per channel / tensor | no (the hybrid Eval rejects int4) | no | yes |
| batch_matmul (constant RHS) | per tensor | no (the hybrid kernel takes int8) | no | yes |
| gather (constant table) | per tensor: int8 GATHER + DEQUANTIZE of the rows (the official recipe) | per row: EMBEDDING_LOOKUP (per tensor: GATHER + DEQUANTIZE) | no | yes |
| embedding_lookup | per row / tensor (hybrid) | per row / tensor | yes (2-D, builtin kernel) | yes |
| unidirectional_sequence_lstm | per tensor, all 8 matrices or none (lstm.py) | no | no | no |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.core.ir import Module, Operation, Value, constant
from tflconv.core.types import QuantParams, TensorType
from tflconv.dialects import tfl
from tflconv.dialects.tfl_traits import ACTIVATION_FUNCTIONS, DYNAMIC_RANGE

from . import kernels
from .common import CONSTANT, const_array, derived_location, new_constant, value_name
from .lstm import LSTM, quantize_hybrid
from .recipe import Recipe, WeightScheme

BLOCKWISE_CONST = tfl.BLOCKWISE_CONST
BLOCKWISE_SCALES = "scales"
"""Attribute of a blockwise constant: its float16 scales [out, in / block_size]."""
BLOCK_SIZE = "block_size"
"""Attribute of a blockwise constant: elements per block along the input dimension."""
REDUCED_PRECISION = "reduced_precision_support"
FP16_ACC_FP32 = b"fp16accfp32"
GATHER_OPS = ("tfl.gather", "tfl.embedding_lookup")


@dataclass
class WeightsReport:
    quantized: list[Operation] = field(default_factory=list)
    skipped: dict[Operation, str] = field(default_factory=dict)
    converted: int = 0
    schemes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WeightSlot:
    """Where an op reads its weights: the operand, its per-channel axis, the axis the hybrid
    kernel reads per channel (None: per tensor only), the hybrid kernel's
    `asymmetric_quantize_inputs` option, and whether the kernel reads int4 / blockwise int4."""

    index: int
    axis: int | None
    hybrid_axis: int | None
    asymmetric_inputs: bool = False
    hybrid_int4: bool = False
    blockwise: bool = False


def weight_slot(op: Operation) -> WeightSlot | None:
    """The weight operand of an op a weight scheme applies to (None: the op has none)."""
    spec = DYNAMIC_RANGE.get(op.name)
    if op.name == "tfl.batch_matmul":
        rhs = op.operands[1].type
        axis = None
        if rhs.rank is not None and rhs.rank >= 2:  # output channels: the RHS's columns
            axis = rhs.rank - (2 if op.attributes.get("adj_y") else 1)
        return WeightSlot(1, axis, None)  # the hybrid kernel reads one RHS scale
    if spec is not None:
        fc = op.name == "tfl.fully_connected"
        # depthwise: Prepare accepts int4 filters but the hybrid Eval does not ("Type FLOAT32
        # with filter type INT4 not currently supported", LiteRT 2.3)
        int4 = op.name != "tfl.depthwise_conv_2d"
        return WeightSlot(spec.weight, spec.axis, spec.axis, spec.asymmetric_inputs, int4, fc)
    if op.name == "tfl.gather":
        return WeightSlot(0, 0, None)
    if op.name == "tfl.embedding_lookup":
        return WeightSlot(1, 0, 0, False, True, True)
    return None


def candidate_ops(module: Module) -> list[Operation]:
    """The ops a recipe can give a scheme: those with a weight operand (for gathers: a
    constant table; a gather of activations is no embedding)."""
    out = []
    for op in module.walk():
        if op.name == LSTM:
            out.append(op)
            continue
        slot = weight_slot(op)
        if slot is None:
            continue
        if op.name in GATHER_OPS and const_array(op.operands[slot.index]) is None:
            continue
        out.append(op)
    return out


class _Applier:
    def __init__(self, min_elements: int) -> None:
        self.min_elements = min_elements
        self.cache: dict[tuple[Any, ...], Value] = {}
        self.report = WeightsReport()
        self.float16 = False

    # --- building blocks -----------------------------------------------------------------

    def _constant(self, w: Value, key: tuple[Any, ...], make: Any) -> Value:
        """A new constant derived from `w` (shared between ops asking for the same scheme)."""
        if (w, *key) not in self.cache:
            anchor = w.defining_op
            assert anchor is not None
            array, t = make()
            self.cache[(w, *key)] = new_constant(anchor, array, t, w.name_hint, anchor.location)
        return self.cache[(w, *key)]

    def _integer(self, w: Value, dtype: str, axis: int | None) -> Value:
        arr = np.asarray(const_array(w))

        def make() -> tuple[np.ndarray, TensorType]:
            q, scales = kernels.quantize_weights_narrow(arr, axis, dtype)
            quant = QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
            return q, TensorType(w.type.shape, dtype, quant)

        return self._constant(w, (dtype, axis), make)

    def _blockwise(self, w: Value, block: int) -> Value:
        if (w, "block", block) not in self.cache:
            anchor = w.defining_op
            assert anchor is not None
            q, scales = kernels.quantize_blockwise(np.asarray(const_array(w)), block, "i4")
            op = Operation(
                BLOCKWISE_CONST,
                [],
                [TensorType(w.type.shape, "i4")],
                {"value": q, BLOCKWISE_SCALES: scales, BLOCK_SIZE: block},
                location=anchor.location,
                result_names=[w.name_hint],
            )
            anchor.parent.insert_before(op, anchor)  # type: ignore[union-attr]
            self.cache[(w, "block", block)] = op.result
        return self.cache[(w, "block", block)]

    def _dequantized(self, w: Value, stored: Value, key: tuple[Any, ...]) -> Value:
        """`stored` -> tfl.dequantize -> float32, right after the stored constant."""
        if (w, "deq", *key) not in self.cache:
            deq = Operation(
                "tfl.dequantize",
                [stored],
                [TensorType(w.type.shape, "f32")],
                location=derived_location(w, "/dequantize"),
                result_names=[value_name(w, "/dequantize")],
            )
            anchor = w.defining_op
            anchor.parent.insert_before(deq, anchor)  # type: ignore[union-attr]
            self.cache[(w, "deq", *key)] = deq.result
        return self.cache[(w, "deq", *key)]

    # --- schemes ---------------------------------------------------------------------------

    def apply(self, op: Operation, scheme: WeightScheme) -> str | None:
        """Apply `scheme` to `op`'s weights; a reason when they stay as they are."""
        if scheme.weights == "float32":
            return "kept float (recipe / keep-float)"
        if scheme.weights == "float16":
            return self._float16(op)
        if op.name == LSTM:
            return self._lstm(op, scheme)
        slot = weight_slot(op)
        assert slot is not None
        w = op.operands[slot.index]
        arr = const_array(w)
        if arr is None or w.type.dtype != "f32" or w.type.quant is not None:
            return "weights are not a float constant"
        if arr.size < self.min_elements:
            return f"weights have {arr.size} < {self.min_elements} elements"
        dtype = scheme.dtype
        channel = scheme.granularity == "channel"
        if scheme.mode == "weight-only":
            axis = slot.axis if channel else None
            stored = self._integer(w, dtype, axis)
            op.set_operand(slot.index, self._dequantized(w, stored, (dtype, axis)))
            return None
        if scheme.granularity == "block":
            return self._block(op, slot, w, scheme.block_size)
        if op.name == "tfl.gather":
            if dtype == "i4" and channel and _lookup_shape(op) is not None:
                return self._gather_as_lookup(op, w)
            return self._gather(op, w, dtype)
        if dtype == "i4" and not slot.hybrid_int4:
            return f"{op.name}'s hybrid kernel reads int8 weights only (int4: use mode=weight-only)"
        op.set_operand(slot.index, self._integer(w, dtype, slot.hybrid_axis if channel else None))
        if slot.asymmetric_inputs:
            op.attributes["asymmetric_quantize_inputs"] = True
        return None

    def _lstm(self, op: Operation, scheme: WeightScheme) -> str | None:
        """LiteRT's hybrid LSTM reads int8 weights with one scale per matrix."""
        if scheme.dtype != "i8" or scheme.mode != "dynamic" or scheme.granularity == "block":
            return f"the hybrid LSTM kernel reads int8 per-tensor weights only, not {scheme.describe()}"
        return quantize_hybrid(op, self.min_elements, lambda w: self._integer(w, "i8", None))

    def _block(self, op: Operation, slot: WeightSlot, w: Value, block: int) -> str | None:
        if not slot.blockwise:
            return f"{op.name} has no blockwise kernel (fully_connected and embedding_lookup do)"
        shape = w.type.shape
        if shape is None or len(shape) != 2 or shape[1] is None or shape[1] % block:
            return f"blockwise weights need a 2-D table whose last dimension divides by {block}"
        if op.name == "tfl.fully_connected" and shape[0] < MIN_BLOCKWISE_UNITS:
            # The builtin kernel reads blockwise weights only on its 4-bit path (>= 4 units);
            # elsewhere it would read them as per-tensor int4 without a scale.
            return f"blockwise fully_connected needs >= {MIN_BLOCKWISE_UNITS} output units"
        act = op.attributes.get("fused_activation_function") or "NONE"
        if act != "NONE" and act not in _UNFUSED:
            return (
                f"the builtin blockwise kernel ignores the fused {act}, which has no op of its own"
            )
        op.set_operand(slot.index, self._blockwise(w, block))
        if slot.asymmetric_inputs:
            op.attributes["asymmetric_quantize_inputs"] = True
        if op.name == "tfl.fully_connected":
            _unfuse_activation(op)
        return None

    def _gather(self, op: Operation, w: Value, dtype: str) -> str | None:
        """The official dynamic-range scheme for embedding tables: the GATHER moves int8 rows
        (one scale for the whole table, the gathered rows keep it) and a DEQUANTIZE turns only
        the gathered rows into float32."""
        result = op.result
        if result.type.dtype != "f32":
            return "gather result is not float32"
        op.set_operand(0, self._integer(w, dtype, None))
        stored = op.operands[0].type
        float_type = result.type
        result.type = TensorType(float_type.shape, dtype, stored.quant)
        deq = Operation(
            "tfl.dequantize",
            [result],
            [float_type],
            location=derived_location(result, "/dequantize"),
            result_names=[value_name(result, "/dequantize")],
        )
        op.parent.insert_after(deq, op)  # type: ignore[union-attr]
        result.replace_uses_where(deq.result, lambda use: use.op is deq)
        return None

    def _gather_as_lookup(self, op: Operation, w: Value) -> str | None:
        """int4 per row: one scale for a whole table at 4 bits loses too much, and a GATHER's
        result can only carry one scale, so the lookup becomes an EMBEDDING_LOOKUP (whose
        hybrid kernel reads per-row int4 and writes float rows): ids reshaped to 1-D, rows
        reshaped back to the gather's shape."""
        ids, result = op.operands[1], op.result
        rows = _lookup_shape(op)
        assert rows is not None and ids.type.shape is not None and result.type.shape is not None
        table = self._integer(w, "i4", 0)
        block = op.parent
        assert block is not None
        flat_ids = ids
        n = rows[0]
        if ids.type.rank != 1:
            name = value_name(ids, "/flat_shape")
            shape = constant(np.array([n], np.int32), derived_location(ids, "/flat_shape"), name)
            block.insert_before(shape, op)
            flat = Operation(
                "tfl.reshape",
                [ids, shape.result],
                [TensorType((n,), "i32")],
                location=derived_location(ids, "/flat"),
                result_names=[value_name(ids, "/flat")],
            )
            block.insert_before(flat, op)
            flat_ids = flat.result
        lookup = Operation(
            "tfl.embedding_lookup",
            [flat_ids, table],
            [TensorType(rows, "f32")],
            location=op.location,
            result_names=[value_name(result, "/rows") if ids.type.rank != 1 else result.name_hint],
        )
        block.insert_before(lookup, op)
        out = lookup.result
        if ids.type.rank != 1:
            name = value_name(result, "/shape")
            dims = constant(
                np.array(result.type.shape, np.int32), derived_location(result, "/shape"), name
            )
            block.insert_before(dims, op)
            back = Operation(
                "tfl.reshape",
                [out, dims.result],
                [result.type],
                location=op.location,
                result_names=[result.name_hint] if result.name_hint else None,
            )
            block.insert_before(back, op)
            out = back.result
        result.replace_all_uses_with(out)
        op.erase()
        return None

    def _float16(self, op: Operation) -> str | None:
        """Every float32 constant operand of `op` -> float16 constant + DEQUANTIZE."""
        done = False
        for i, v in enumerate(op.operands):
            if v.defining_op is None or v.defining_op.name != CONSTANT:
                continue
            if v.type.dtype != "f32" or v.type.quant is not None:
                continue
            arr = np.asarray(const_array(v))

            def make(arr: np.ndarray = arr, v: Value = v) -> Any:
                return kernels.to_float16(arr), TensorType(v.type.shape, "f16")

            stored = self._constant(v, ("f16",), make)
            op.set_operand(i, self._dequantized(v, stored, ("f16",)))
            done = True
        if not done:
            return "no float32 constant operand"
        self.float16 = True
        return None


def _lookup_shape(op: Operation) -> tuple[int, ...] | None:
    """The [ids, row...] shape of an EMBEDDING_LOOKUP doing what a `tfl.gather` does, or None
    when it cannot (axis / batch_dims not 0, int64 or dynamic ids, a table of rank < 2)."""
    table, ids = op.operands[0].type, op.operands[1].type
    if op.attributes.get("axis", 0) != 0 or op.attributes.get("batch_dims", 0) != 0:
        return None
    if ids.dtype != "i32" or not ids.is_static or not table.is_static or (table.rank or 0) < 2:
        return None
    if not op.result.type.is_static:
        return None
    n = int(np.prod(ids.shape, dtype=np.int64))  # type: ignore[arg-type]
    return (n, *table.shape[1:])  # type: ignore[index, misc]


MIN_BLOCKWISE_UNITS = 4
"""LiteRT's fully-connected kernel takes its 4-bit path (the only one that reads blockwise
scales) from `optimized_4bit::FilterWidth` = 4 output units up."""
_UNFUSED = {v: k for k, v in ACTIVATION_FUNCTIONS.items()}


def _unfuse_activation(op: Operation) -> None:
    """LiteRT's builtin blockwise kernel (`EvalBlockwise4Bit`) ignores the fused activation
    (XNNPACK applies it): the activation becomes its own op after the fully-connected."""
    act = op.attributes.get("fused_activation_function", "NONE")
    if act in (None, "NONE"):
        return
    result = op.result
    relu = Operation(
        _UNFUSED[act],
        [result],
        [result.type],
        location=op.location,
        result_names=[result.name_hint] if result.name_hint else None,
    )
    op.parent.insert_after(relu, op)  # type: ignore[union-attr]
    result.replace_uses_where(relu.result, lambda use: use.op is relu)
    result.name_hint = value_name(result, "/linear") if result.name_hint else None
    op.attributes["fused_activation_function"] = "NONE"


def quantize_weights(module: Module, recipe: Recipe, min_elements: int) -> WeightsReport:
    """Apply `recipe` to every op with weights; the report lists what stayed float and why."""
    applier = _Applier(min_elements)
    report = applier.report
    for op in candidate_ops(module):
        scheme = recipe.scheme_for(op)
        if scheme is None:
            continue
        why = applier.apply(op, scheme)
        if why is None:
            report.quantized.append(op)
            key = scheme.describe()
            report.schemes[key] = report.schemes.get(key, 0) + 1
        else:
            report.skipped[op] = why
    if applier.float16:
        mark_float16(module)
    return report


def mark_float16(module: Module) -> None:
    """float16 weights: `reduced_precision_support` metadata "fp16accfp32", as the official."""
    metadata = dict(module.attributes.get("metadata") or {})
    metadata[REDUCED_PRECISION] = FP16_ACC_FP32
    module.attributes["metadata"] = metadata
