"""`quantize`: the constants of the ops `prepare-quantize` chose, once the parameters of the
activations around them are on the types.

    calibrate -> prepare-quantize -> bias-correction -> quantize -> modify-io-types

- affine weights (conv, depthwise, fully-connected, ...): symmetric int8, per channel on the
  op's quantized dimension (`per-channel=false`: per tensor);
- their biases: int32 (int64 in 16x8 models), scale = input scale x weight scale;
- any other float constant: the shared parameters of a same-scale op, else its own range.

A chosen op is a tfl op with a quantized activation (an operand or result that is not a
constant). `integer-only=true` then fails, naming each op, if any op still computes in float.
The recipe's summary is in `ctx.data["quantization"]`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import QuantParams, TensorType
from tflconv.dialects.tfl_traits import BIAS_TYPE_OPTION, INT8_AFFINE, SAME_SCALE

from . import kernels
from .calibrate_loops import CONTROL_FLOW
from .common import (
    INPUT_MEAN,
    QP,
    QuantizeError,
    calibrated_range,
    const_array,
    erase_dead,
    function_values,
    is_float,
    new_constant,
    qtype,
    summary,
)
from .ops import prefer_result_scale

SKIPPED = frozenset({"tfl.quantize", "tfl.dequantize"})
CARRIERS = frozenset(CONTROL_FLOW)
"""WHILE / IF: they pass tensors on and compute nothing (prepare-quantize typed their values)."""
ACTIVATION_TYPES = ("i8", "i16")

MODE_NAMES = {
    "dynamic": "PTQ_DYNAMIC_RANGE",
    "float16": "PTQ_FLOAT16",
    "int8": "PTQ_FULL_INTEGER",
    "int16x8": "PTQ_INT16",
}
"""Recipe -> CONVERSION_METADATA ModelOptimizationMode."""


class IntegerOnlyError(QuantizeError):
    """Integer-only quantization left float ops; `ops` lists them."""

    def __init__(self, ops: dict[Operation, str], dtype: str) -> None:
        self.ops = ops
        kinds = Counter(op.name for op in ops)
        listing = ", ".join(f"{name} x{n}" for name, n in sorted(kinds.items()))
        first = ", ".join(f"{op.name} ({_where(op)})" for op in list(ops)[:8])
        more = f", ... ({len(ops) - 8} more)" if len(ops) > 8 else ""
        super().__init__(
            f"integer-only quantization: {len(ops)} op(s) have no {dtype} kernel and would stay "
            f"float: {listing}: {first}{more}; allow float fallback (supported_ops "
            "TFLITE_BUILTINS) or keep them out of the model"
        )


def _where(op: Operation) -> str:
    names = op.location.names
    if names:
        return names[0]
    return next((r.name_hint for r in op.results if r.name_hint), "?")


def _quantized(v: Value) -> bool:
    q = v.type.quant
    return v.type.dtype in ACTIVATION_TYPES and q is not None and bool(q.scale)


def _activation_params(v: Value) -> QP | None:
    """The per-tensor parameters of a quantized activation (not a constant)."""
    if const_array(v) is not None or not _quantized(v):
        return None
    q = v.type.quant
    assert q is not None
    return QP(q.scale[0], q.zero_point[0]) if len(q.scale) == 1 else None


class _ConstantQuantizer:
    def __init__(self, fn: Function, per_channel: bool) -> None:
        self.fn = fn
        self.per_channel = per_channel
        self.cache: dict[tuple, Value] = {}
        self.chosen: list[Operation] = []
        self.dtype = "i8"

    def _group_params(self, op: Operation) -> QP | None:
        """The parameters a same-scale op shares (its result's first when it prefers them)."""
        n_float = sum(1 for v in op.operands if _activation_params(v) or is_float(v))
        ins = [p for p in map(_activation_params, op.operands) if p is not None]
        outs = [p for p in map(_activation_params, op.results) if p is not None]
        order = outs + ins if prefer_result_scale(n_float) else ins + outs
        return order[0] if order else None

    def run(self) -> list[Operation]:
        for op in self.fn.ops:
            if op.dialect != "tfl" or op.name in SKIPPED or op.name in CARRIERS:
                continue
            acts = [v for v in (*op.operands, *op.results) if _activation_params(v)]
            if not acts:
                continue
            self.dtype = acts[0].type.dtype
            self.chosen.append(op)
            for i, v in enumerate(op.operands):
                arr = const_array(v)
                if arr is not None and is_float(v):
                    new = self._constant(op, i, v, arr)
                    if new is not v:
                        op.set_operand(i, new)
            if self.dtype == "i16" and op.name in BIAS_TYPE_OPTION:
                op.attributes["quantized_bias_type"] = "INT64"
        return self.chosen

    def _constant(self, op: Operation, index: int, v: Value, arr: np.ndarray) -> Value:
        aff = INT8_AFFINE.get(op.name)
        anchor = v.defining_op
        assert anchor is not None
        loc = anchor.location
        if aff is not None and index == aff.weight:
            axis = aff.axis if self.per_channel else None
            key: tuple = ("w", v, axis)
            if key not in self.cache:
                q, scales = kernels.quantize_weights_symmetric(np.asarray(arr), axis, "i8")
                quant = QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis)
                self.cache[key] = new_constant(
                    anchor, q, TensorType(v.type.shape, "i8", quant), v.name_hint, loc
                )
            return self.cache[key]
        if aff is not None and index == aff.bias:
            return self._bias(op, v, arr)
        # Any other float constant: the op's shared scale, or its own per-tensor range.
        qp = self._group_params(op) if op.name in SAME_SCALE else None
        if qp is None:
            lo, hi, _ = kernels.minmax(np.asarray(arr, np.float32))
            qp = _params(lo, hi, self.dtype)
        key = ("c", v, qp)
        if key not in self.cache:
            q = kernels.quantize_affine(np.asarray(arr), qp.scale, qp.zero_point, self.dtype)
            self.cache[key] = new_constant(
                anchor, q, qtype(v.type, self.dtype, qp), v.name_hint, loc
            )
        return self.cache[key]

    def _bias(self, op: Operation, v: Value, arr: np.ndarray) -> Value:
        """The integer bias of an affine op (its weights are quantized: they come first)."""
        aff = INT8_AFFINE[op.name]
        s_in = _activation_params(op.operands[aff.input])
        w_quant = op.operands[aff.weight].type.quant
        if s_in is None or w_quant is None or not w_quant.scale:
            raise QuantizeError(
                f"{op.name} at {op.location}: its input and weights must be quantized before "
                "its bias"
            )
        w_scales = np.asarray(w_quant.scale, np.float64)
        bias_dtype = "i64" if self.dtype == "i16" else "i32"
        key: tuple = ("b", v, s_in.scale, tuple(w_scales))
        if key not in self.cache:
            q, scales = kernels.quantize_bias(np.asarray(arr), s_in.scale, w_scales, bias_dtype)
            quant = QuantParams(
                tuple(float(s) for s in scales),
                (0,) * len(scales),
                0 if w_quant.axis is not None else None,
            )
            t = TensorType(tuple(np.shape(arr)), bias_dtype, quant)
            anchor = v.defining_op
            assert anchor is not None
            self.cache[key] = new_constant(anchor, q, t, v.name_hint, anchor.location)
        return self.cache[key]


def _params(lo: float, hi: float, dtype: str) -> QP:
    if dtype == "i16":
        s, z = kernels.symmetric_params(lo, hi, "i16")
    else:
        s, z = kernels.affine_params(lo, hi, "i8")
    return QP(float(s), int(z))


@register_pass
@dataclass(frozen=True)
class Quantize(Pass):
    """Quantize the constants of the ops prepare-quantize chose: int8 weights (per channel),
    int32 / int64 biases, other constants at their op's parameters."""

    name: ClassVar[str] = "quantize"
    per_channel: bool = True
    """Per-channel weights for conv / depthwise / fully-connected (off: per tensor)."""
    integer_only: bool = False
    """Fail (naming each op) if any op would stay float (TFLITE_BUILTINS_INT8)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        chosen: list[Operation] = []
        dtype = "i8"
        for fn in module.functions:
            q = _ConstantQuantizer(fn, self.per_channel)
            found = q.run()
            if found:
                chosen += found
                dtype = q.dtype
        if not chosen and any(calibrated_range(v) for v in _all_values(module)):
            raise QuantizeError(
                "quantize found calibrated but unprepared tensors: run `prepare-quantize` before "
                "`quantize` (calibrate,prepare-quantize,bias-correction,quantize)"
            )
        for op in module.walk():  # statistics nobody consumed (a chain without bias-correction)
            op.attributes.pop(INPUT_MEAN, None)
        done = summary(ctx, "int16x8" if dtype == "i16" else "int8")
        done.quantized += len(chosen)
        ctx.stats["ops quantized"] += len(chosen)
        if self.integer_only:
            leftover = float_ops(module)
            if leftover:
                raise IntegerOnlyError(
                    {op: done.float_ops.get(op, "float") for op in leftover},
                    "int16" if dtype == "i16" else "int8",
                )
        return bool(chosen) | (erase_dead(module, ctx) > 0)


def _all_values(module: Module) -> list[Value]:
    return [v for fn in module.functions for v in function_values(fn)]


def float_ops(module: Module) -> list[Operation]:
    """tfl ops computing in float (quantize/dequantize only convert at the float boundaries)."""
    out = []
    for fn in module.functions:
        for op in fn.walk():
            if op.dialect != "tfl" or op.name in ("tfl.no_value", *SKIPPED):
                continue
            values = (*op.operands, *op.results)
            if any(v.type.dtype in ("f32", "f16") for v in values):
                out.append(op)
    return out


def optimization_mode(mode: str) -> str:
    """The CONVERSION_METADATA mode name of a recipe."""
    return MODE_NAMES[mode]
