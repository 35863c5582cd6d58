"""`fake-quant-ranges`: quantization-aware-training graphs (tensorflow-model-optimization's
`quantize_model`: FakeQuantWithMinMaxVars / ...PerChannel with learned ranges) quantized the way
the official converter quantizes them: with the FakeQuant ranges, not calibration.

    fake-quant-ranges -> prepare-quantize{legacy-float-scale=false} -> quantize -> modify-io-types

`legalize-tf` has already turned each FakeQuant into `tfl.dequantize(tfl.quantize(x))` with TF's
nudged parameters (legalize_tf/fake_quant.py), which is the float model TF computes. This pass
folds those pairs into what the int8 chain consumes:

- an activation pair (x not a constant, 8-bit per-tensor storage over its full range) is
  removed and x gets the nudged range as its calibration type, `!quant.calibrated<f32<lo:hi>>`
  with lo = (qmin - zp) scale, hi = (qmax - zp) scale; prepare-quantize with
  `legacy-float-scale=false` gives back exactly that scale and zero point (minus 128 for int8
  storage), as the official `fakeQuantAttrsToType` does;
- a weight pair (x a constant) becomes `tfl.dequantize(<int8 constant>)` carrying the
  FakeQuant's per-channel (or per-tensor) scales, with the layout ops between it and its
  affine op (the transposes of HWIO -> OHWI, [in, out] -> [out, in]) applied to the integer
  array and the channel axis; prepare-quantize hands the int8 constant to the op directly
  (its bias then gets input scale x these scales).

A pair the int8 kernels cannot take as is (weights with a nonzero zero point, fewer than 8 bits
or a narrowed activation range: a clamp before the QUANTIZE) stays a quantize/dequantize pair
in float: the ops around it compute TF's fake quantization exactly, in float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import QuantParams, TensorType

from .common import CONSTANT, const_array, erase_dead, new_constant, with_range

FAKE_QUANT_KEY = "fake_quant_ranges"
"""ctx.data key: how many activation ranges and weights this pass folded."""

_STORAGE = {"ui8": (0, 255, 128), "i8": (-128, 127, 0)}
"""storage type -> (qmin, qmax, offset to int8)."""


def _pair(deq: Operation) -> tuple[Operation, Value, QuantParams, str] | None:
    """(quantize op, its float input, parameters, storage) when `deq` reads a tfl.quantize of a
    float value."""
    if deq.name != "tfl.dequantize":
        return None
    q = deq.operands[0].defining_op
    if q is None or q.name != "tfl.quantize":
        return None
    x = q.operands[0]
    t = q.result.type
    if x.type.dtype != "f32" or x.type.is_quantized or t.quant is None or not t.quant.scale:
        return None
    if t.dtype not in _STORAGE:
        return None
    return q, x, t.quant, t.dtype


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.trunc(x + np.copysign(0.5, x))


def _quantize_constant(w: np.ndarray, qp: QuantParams, storage: str) -> np.ndarray:
    """What QUANTIZE computes on the constant, as int8 values (ui8 storage shifted by -128)."""
    qmin, qmax, offset = _STORAGE[storage]
    scale = np.asarray(qp.scale, np.float64)
    zp = np.asarray(qp.zero_point, np.float64)
    if qp.axis is not None:
        shape = [1] * w.ndim
        shape[qp.axis] = scale.size
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    q = np.clip(_round_half_away(w.astype(np.float64) / scale) + zp, qmin, qmax)
    return (q - offset).astype(np.int8)


def _layout_chain(v: Value) -> tuple[list[Operation], Operation | None]:
    """The single-use transposes / reshapes from `v` to the op that consumes it."""
    chain: list[Operation] = []
    while v.num_uses == 1:
        user = next(iter(v.uses)).op
        if user.name not in ("tfl.transpose", "tfl.reshape") or user.operands[0] is not v:
            return chain, user
        chain.append(user)
        v = user.result
    return chain, None


def _apply_layout(
    q: np.ndarray, axis: int | None, chain: list[Operation]
) -> tuple[np.ndarray, int | None] | None:
    """The integer weights and channel axis after the chain's layout ops (None: not foldable)."""
    for op in chain:
        if op.name == "tfl.transpose":
            perm = const_array(op.operands[1])
            if perm is None:
                return None
            perm_l = [int(p) % q.ndim for p in np.asarray(perm).reshape(-1)]
            q = np.transpose(q, perm_l)
            axis = perm_l.index(axis) if axis is not None else None
        else:
            shape = op.result.type.shape
            if shape is None or any(d is None or d < 0 for d in shape):
                return None
            new = q.reshape(shape)
            if axis is not None:
                # the channel must stay one whole dimension at the same position from the end
                back = q.ndim - axis
                if (
                    back > len(shape)
                    or shape[-back] != q.shape[axis]
                    or q.shape[axis:] != new.shape[-back:]
                ):
                    return None
                axis = len(shape) - back
            q = new
    return q, axis


class _Folder:
    def __init__(self) -> None:
        self.activations = 0
        self.weights = 0
        self.kept = 0

    def fold(self, deq: Operation) -> None:
        found = _pair(deq)
        if found is None:
            return
        q, x, qp, storage = found
        qmin, qmax, offset = _STORAGE[storage]
        w = const_array(x)
        if w is not None:
            self._weights(deq, q, np.asarray(w), qp, storage)
        elif len(qp.scale) == 1:
            lo = (qmin - qp.zero_point[0]) * float(qp.scale[0])
            hi = (qmax - qp.zero_point[0]) * float(qp.scale[0])
            deq.result.replace_all_uses_with(x)
            deq.erase()
            if not q.result.uses:
                q.erase()
            x.type = with_range(x.type, lo, hi)
            self.activations += 1
        else:
            self.kept += 1

    def _weights(
        self, deq: Operation, q: Operation, w: np.ndarray, qp: QuantParams, storage: str
    ) -> None:
        offset = _STORAGE[storage][2]
        if any(int(z) - offset != 0 for z in qp.zero_point):
            self.kept += 1  # int8 conv / fully-connected kernels take symmetric weights only
            return
        qw = _quantize_constant(w, qp, storage)
        chain, _ = _layout_chain(deq.result)
        laid = _apply_layout(qw, qp.axis, chain)
        if laid is None:
            chain, laid = [], (qw, qp.axis)
        arr, axis = laid
        end = chain[-1].result if chain else deq.result
        quant = QuantParams(tuple(float(s) for s in qp.scale), (0,) * len(qp.scale), axis)
        anchor = chain[-1] if chain else deq
        const_op = x_def = q.operands[0].defining_op
        assert x_def is not None and x_def.name == CONSTANT
        wq = new_constant(
            anchor,
            arr,
            TensorType(tuple(arr.shape), "i8", quant),
            end.name_hint or q.operands[0].name_hint,
            const_op.location,
        )
        new_deq = Operation(
            "tfl.dequantize",
            [wq],
            [TensorType(tuple(arr.shape), "f32")],
            location=deq.location,
        )
        anchor.parent.insert_before(new_deq, anchor)  # type: ignore[union-attr]
        end.replace_all_uses_with(new_deq.result)
        self.weights += 1


def has_fake_quant(module: Module) -> bool:
    """Whether the module holds a dequantize(quantize(float)) pair (a legalized FakeQuant)."""
    return any(_pair(op) is not None for op in module.walk() if op.name == "tfl.dequantize")


@register_pass
@dataclass(frozen=True)
class FakeQuantRanges(Pass):
    """Fold legalized FakeQuant pairs of a quantization-aware-trained model: activations get the
    FakeQuant range as their calibration type, weights become int8 constants with the
    FakeQuant scales (the input of `prepare-quantize{legacy-float-scale=false}`)."""

    name: ClassVar[str] = "fake-quant-ranges"

    def run(self, module: Module, ctx: PassContext) -> bool:
        folder = _Folder()
        for fn in module.functions:
            for op in [o for o in fn.ops if o.name == "tfl.dequantize"]:
                if op.parent is not None:
                    folder.fold(op)
        ctx.data[FAKE_QUANT_KEY] = {
            "activations": folder.activations,
            "weights": folder.weights,
            "kept": folder.kept,
        }
        ctx.stats["fake-quant activation ranges"] += folder.activations
        ctx.stats["fake-quant weights"] += folder.weights
        changed = bool(folder.activations or folder.weights)
        if changed:
            erase_dead(module, ctx)
        return changed
