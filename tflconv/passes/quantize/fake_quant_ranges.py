"""`fake-quant-ranges`: quantization-aware-training graphs (tensorflow-model-optimization's
`quantize_model`: FakeQuantWithMinMaxVars / ...PerChannel with learned ranges) quantized the way
the official converter quantizes them: with the FakeQuant ranges, not calibration.

    fake-quant-ranges -> prepare-quantize{qat=true legacy-float-scale=false} -> quantize

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
- a batch norm left behind the affine op (`mul` by one value per channel, then `add`): the
  multiplier goes into the weight scales (its sign into the integers) and the bias, the shift
  into the bias (fuse's FuseBiasAdd), as the official converter's scales show.

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
from tflconv.core.rewrite import PatternRewriter, PatternSet, apply_greedy
from tflconv.core.types import QuantParams, TensorType
from tflconv.dialects.tfl_traits import AFFINE
from tflconv.passes.fuse import affine
from tflconv.passes.fuse.util import absorb, channel_vector, const_operand, set_bias

from .common import CONSTANT, const_array, erase_dead, new_constant, with_range

FAKE_QUANT_KEY = "fake_quant_ranges"
"""ctx.data key: how many activation ranges and weights this pass folded."""
FAKE_QUANT_VALUES = "fake_quant_values"
"""ctx.data key: the values whose range came from a FakeQuant (prepare-quantize{qat=true}
keeps them; ranges `calibrate` adds later follow same-scale ops as usual)."""

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
        self.ranged: set[Value] = set()
        self.scaled: list[tuple[Operation, Operation, np.ndarray]] = []
        """(affine op, the mul after it, its per-channel multiplier) folded into the scales."""

    def fold(self, deq: Operation, weights: bool) -> None:
        found = _pair(deq)
        if found is None:
            return
        q, x, qp, storage = found
        qmin, qmax, _ = _STORAGE[storage]
        w = const_array(x)
        if w is not None:
            if weights:
                self._weights(deq, q, np.asarray(w), qp, storage)
        elif weights:
            return
        elif len(qp.scale) == 1:
            lo = (qmin - qp.zero_point[0]) * float(qp.scale[0])
            hi = (qmax - qp.zero_point[0]) * float(qp.scale[0])
            deq.result.replace_all_uses_with(x)
            deq.erase()
            if not q.result.uses:
                q.erase()
            x.type = with_range(x.type, lo, hi)
            self.ranged.add(x)
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
        chain, user = _layout_chain(deq.result)
        # one scale for a one-element channel axis (a depthwise multiplier of 1): per tensor
        axis0 = qp.axis if len(qp.scale) > 1 else None
        laid = _apply_layout(qw, axis0, chain)
        if laid is None:
            chain, laid, user = [], (qw, axis0), None
        arr, axis = laid
        end = chain[-1].result if chain else deq.result
        anchor = chain[-1] if chain else deq
        const_op = q.operands[0].defining_op
        assert const_op is not None and const_op.name == CONSTANT
        name = end.name_hint or q.operands[0].name_hint
        scales = np.asarray(qp.scale, np.float32)
        if user is not None and (scaled := _channel_multiplier(user)) is not None:
            # A batch norm after the op (tfmot leaves it unfolded): its per-channel multiplier
            # goes into the weight scales (and the sign into the integers), as the official
            # converter folds it; its shift is left to the bias fold below.
            mul, m = scaled
            ch_axis = AFFINE[user.name].axis
            if axis is None:
                scales = np.full(m.shape, scales[0], np.float32)
            elif axis != ch_axis:
                m = None  # type: ignore[assignment]
            if m is not None:
                shape = [1] * arr.ndim
                shape[ch_axis] = m.size
                arr = (arr * np.sign(m).astype(np.int8).reshape(shape)).astype(np.int8)
                scales = (scales.astype(np.float64) * np.abs(m)).astype(np.float32)
                axis = ch_axis
                self.scaled.append((user, mul, m))
        quant = QuantParams(tuple(float(v) for v in scales), (0,) * len(scales), axis)
        wq = new_constant(
            anchor,
            arr,
            TensorType(tuple(arr.shape), "i8", quant),
            name,
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


def _channel_multiplier(op: Operation) -> tuple[Operation, np.ndarray] | None:
    """(mul, per-channel multiplier) when an affine op's only use multiplies it by a constant
    with one nonzero value per output channel (an unfolded batch norm)."""
    if op.name not in AFFINE or len(op.results) != 1 or op.result.num_uses != 1:
        return None
    if op.attributes.get("fused_activation_function", "NONE") != "NONE":
        return None
    mul = next(iter(op.result.uses)).op
    if mul.name != "tfl.mul" or mul.result.type != op.result.type:
        return None
    found = const_operand(mul)
    channels = op.result.type.shape[-1] if op.result.type.shape else None
    if found is None or channels is None or channels < 0:
        return None
    vec = channel_vector(found[1], channels)
    if vec is None or not np.all(vec) or not np.all(np.isfinite(vec)):
        return None
    return mul, vec.astype(np.float32)


def _fold_multiplier(rw: PatternRewriter, op: Operation, mul: Operation, m: np.ndarray) -> None:
    """affine(x, w', b) * m -> affine(x, w', b * m) (w' already carries m in its scales)."""
    b_index = AFFINE[op.name].bias
    if b_index < op.num_operands and op.operands[b_index].type.dtype != "none":
        bias = const_array(op.operands[b_index])
        assert bias is not None
        set_bias(rw, op, (np.asarray(bias) * m).astype(bias.dtype))
    absorb(rw, op, mul, mul.attributes.get("fused_activation_function", "NONE"))


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
        # weights first: folding a batch norm into them rewrites the ops whose results carry
        # the activation ranges
        for weights in (True, False):
            for fn in module.functions:
                for op in [o for o in fn.ops if o.name == "tfl.dequantize"]:
                    if op.parent is not None:
                        folder.fold(op, weights)
            if weights and folder.scaled:  # batch norms: multiplier into the bias, then shifts
                rw = PatternRewriter(ctx.listener)
                for op, mul, m in folder.scaled:
                    _fold_multiplier(rw, op, mul, m)
                apply_greedy(module, PatternSet([affine.FuseBiasAdd()]), listener=ctx.listener)
        ctx.data[FAKE_QUANT_VALUES] = folder.ranged
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
