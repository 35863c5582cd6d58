"""Quantized fused LSTMs (`tfl.unidirectional_sequence_lstm`, as `fuse-recurrent` builds it),
following the official conventions (`tools/optimize/operator_property.cc`, the LSTM without
peepholes, projection or layer norm; LiteRT `kernels/unidirectional_sequence_lstm.cc`):

    int8     calibrate-lstm -> calibrate -> prepare-quantize -> bias-correction
             -> quantize-lstm -> quantize -> modify-io-types
    dynamic  quantize-dynamic-range (`quantize_hybrid`, called by weight_schemes.py)

**Full integer (8x8_16).** int8 input and output (asymmetric); the 8 weight matrices int8
symmetric per tensor; the 4 biases int32 with scale input_scale x input-to-gate weight scale
(`derived_scale = {{0, k}}`: the kernel adds them to the input projection's accumulator); the
output state (operand 18) int8 with the output's parameters (`restrict_scale = {{18, 0}}`); the
cell state (operand 19) int16, zero point 0, scale a power of two covering the cell's range
(`extend_to_power_of_two`: 2^ceil(log2 max|c|) / 32768, at least 2^0 / 32768: see
`cell_scale`); 5 intermediate tensors: 0-3 (the gate pre-activations) are read only with layer
norm (without it the kernel uses Q3.12 and they are empty float32 tensors, as the official
writes them); 4 (the hidden state) is what the kernel rescales `o * tanh(c)` to before it
becomes the output, so without a projection it has the output's parameters. The integer kernel
always applies tanh: relu / relu6 LSTMs stay float in int8 models. The state fills become
int8 / int16 fills of the states' zero (the output zero point, 0), still variable tensors
rewritten on every invoke. LiteRT's kernel has no 16x8 path (its integer path reads an int8
input; `quantizable_int16 = false` in the official tooling): in 16x8 models the LSTM stays float.

The cell state and the gates are inside the op, invisible to `calibrate`: `calibrate-lstm` runs
the float model (ctx.runner) over the representative dataset, keeps each LSTM's input and
computes the cell with the NumPy reference below; the ranges go on the op as
`_quant.lstm_ranges` (gates i, f, c, o pre-activations, cell state, hidden state; private: the
writer ignores it when `calibrate` writes the model, which is why calibrate-lstm runs first,
on the float model). The input and
output parameters are the ones `prepare-quantize` gave the LSTM's neighbours (the int8 value
behind a `tfl.dequantize` feeding it, the `tfl.quantize` reading its output), else the
calibration ranges it consumed (`ctx.data["calibration_ranges"]`); those quantize / dequantize
pairs are folded away. `quantize-lstm{kernel=hybrid}` instead gives the LSTM int8 weights for
the hybrid kernel inside an int8 model (the integer kernel is ~7x slower than float in LiteRT
2.3 on x86).

**Dynamic range (hybrid kernel).** As the official `prepare_quantize_dynamic_range.cc`: the 8
weight matrices int8 symmetric per tensor (the hybrid kernel reads one scale per matrix),
`asymmetric_quantize_inputs = true`, biases and states float; all or nothing: if one matrix has
fewer than `min_elements` elements, none is quantized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.opdef import DiscardableAttr, declare_discardable
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import NO_VALUE_TYPE, QuantParams, TensorType

from . import kernels
from .calibrate import DATASET_KEY, input_specs
from .common import (
    QP,
    RANGES_KEY,
    SUMMARY_KEY,
    NameMatcher,
    QuantizeError,
    QuantizeSummary,
    calibrated_range,
    const_array,
    derived_location,
    erase_dead,
    is_float,
    new_constant,
    qtype,
    value_name,
)
from .dataset import normalize_sample, open_dataset

LSTM = "tfl.unidirectional_sequence_lstm"
INPUT_WEIGHTS = (1, 2, 3, 4)
RECURRENT_WEIGHTS = (5, 6, 7, 8)
WEIGHTS = INPUT_WEIGHTS + RECURRENT_WEIGHTS
BIASES = (12, 13, 14, 15)
OUTPUT_STATE, CELL_STATE = 18, 19
ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)
"""Peepholes, projection and layer-norm coefficients: the form fuse-recurrent builds has none."""
VARIABLE = "_is_variable"
"""fuse-recurrent's mark of the state fills (the writer stores them as variable tensors)."""
INTERMEDIATES = "_intermediates"
"""The writer's op attribute [(name, TensorType)] for intermediate tensors (tflite/writer.py;
passes do not import the writer)."""
INTERMEDIATE_NAMES = (
    "input_to_input_intermediate",
    "input_to_forget_intermediate",
    "input_to_cell_intermediate",
    "input_to_output_intermediate",
    "effective_hidden_scale_intermediate",
)
"""The official names of the 5 intermediates (prepare_quantize_helper.h). Without layer norm the
kernel reads only the last one's parameters (0-3 are empty float32 tensors, as the official
converter writes them; the gates use the kernel's fixed Q3.12 scale)."""

RANGES_ATTR = declare_discardable(
    DiscardableAttr(
        "_quant.lstm_ranges",
        "the ranges inside a fused LSTM over the calibration data, f32[6, 2] (min, max): the "
        "pre-activations of gates i, f, c, o, the cell state and the hidden state; written by "
        "calibrate-lstm, read by quantize-lstm",
        lambda v: (
            None
            if isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (6, 2)
            else "must be a float32 array of shape [6, 2]"
        ),
    )
).name

_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "TANH": np.tanh,
    "RELU": lambda x: np.maximum(x, 0),
    "RELU6": lambda x: np.clip(x, 0, 6),
}


# --- the form ------------------------------------------------------------------------------------


def plain_form(op: Operation) -> str | None:
    """Why `op` is not an LSTM these recipes handle (None: it is): 24 operands, all 4 gates
    (no CIFG), no peepholes, projection or layer norm, f32 constant weights and biases."""
    if op.num_operands != 24:
        return f"{op.num_operands} operands (the 24-operand form is handled)"
    if any(op.operands[i].type != NO_VALUE_TYPE for i in ABSENT):
        return "peepholes, projection or layer norm (not handled)"
    for i in WEIGHTS + BIASES:
        v = op.operands[i]
        if v.type == NO_VALUE_TYPE:
            return "a CIFG LSTM (no input gate) is not handled"
        if const_array(v) is None or not is_float(v):
            return "its weights and biases must be float32 constants"
    if op.attributes.get("fused_activation_function", "TANH") not in _ACT:
        return f"activation {op.attributes.get('fused_activation_function')}"
    if op.attributes.get("cell_clip") or op.attributes.get("proj_clip"):
        return "cell_clip / proj_clip are not handled"
    return None


def reference_ranges(op: Operation, x: np.ndarray) -> np.ndarray:
    """The float LSTM cell over input `x` in NumPy: [6, 2] (min, max) of the 4 gate
    pre-activations, the cell state and the hidden state (zero initial state, as the fused
    op's fills)."""
    a = op.attributes
    x = np.asarray(x, np.float32)
    if not a.get("time_major", False):
        x = np.swapaxes(x, 0, 1)  # [T, B, F]
    wx = np.concatenate([const_array(op.operands[i]) for i in INPUT_WEIGHTS]).astype(np.float32)
    wh = np.concatenate([const_array(op.operands[i]) for i in RECURRENT_WEIGHTS]).astype(np.float32)
    b = np.concatenate([const_array(op.operands[i]) for i in BIASES]).astype(np.float32)
    act = _ACT[a.get("fused_activation_function", "TANH")]
    units = wh.shape[1]
    steps, batch = x.shape[0], x.shape[1]
    h = np.zeros((batch, units), np.float32)
    c = np.zeros((batch, units), np.float32)
    lo = np.full(6, np.inf, np.float32)
    hi = np.full(6, -np.inf, np.float32)
    proj = x.reshape(steps * batch, -1) @ wx.T + b  # every step's input projection at once
    proj = proj.reshape(steps, batch, 4 * units)
    for t in range(steps):
        z = proj[t] + h @ wh.T
        zi, zf, zg, zo = np.split(z, 4, axis=1)
        c = _sigmoid(zf) * c + _sigmoid(zi) * act(zg)
        h = _sigmoid(zo) * act(c)
        for k, v in enumerate((zi, zf, zg, zo, c, h)):
            lo[k] = min(lo[k], v.min())
            hi[k] = max(hi[k], v.max())
    if steps == 0:
        lo[:] = hi[:] = 0
    return np.stack([lo, hi], axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


# --- calibrate-lstm ------------------------------------------------------------------------------


def calibrate_lstms(fn: Function, dataset: Any, runner: Any, module: Module) -> int:
    """Run the float module over `dataset`, keeping each plain LSTM's input, and put the
    reference ranges on the ops; the number of LSTMs calibrated."""
    ops = [op for op in fn.ops if op.name == LSTM and plain_form(op) is None]
    ops = [op for op in ops if is_float(op.operands[0])]
    if not ops:
        return 0
    model = runner(module, [op.operands[0] for op in ops])
    specs = input_specs(fn)
    samples, _ = open_dataset(dataset, specs)
    found: dict[Operation, np.ndarray] = {}
    for k, raw in enumerate(samples):
        model.run(normalize_sample(raw, k, specs))
        for op in ops:
            x = _copy(model.tensor(op.operands[0]))  # a view must not outlive the run
            if x is None:
                continue
            r = reference_ranges(op, x)
            old = found.get(op)
            if old is not None:
                r = np.stack([np.minimum(old[:, 0], r[:, 0]), np.maximum(old[:, 1], r[:, 1])], 1)
            found[op] = r
    for op, r in found.items():
        op.attributes[RANGES_ATTR] = np.ascontiguousarray(r, np.float32)
    return len(found)


def _copy(view: np.ndarray | None) -> np.ndarray | None:
    return None if view is None else np.array(view, np.float32)


@register_pass
@dataclass(frozen=True)
class CalibrateLstm(Pass):
    """Run the float model (ctx.runner) over ctx.data["representative_dataset"] and put the
    ranges inside each fused LSTM (gates, cell and hidden state, from a NumPy reference of the
    cell on the op's recorded input) on the op as `_quant.lstm_ranges`."""

    name: ClassVar[str] = "calibrate-lstm"

    def run(self, module: Module, ctx: PassContext) -> bool:
        fn = module.functions[0]
        if not any(op.name == LSTM for op in fn.ops):
            return False
        dataset = ctx.data.get(DATASET_KEY)
        if dataset is None or ctx.runner is None:
            raise QuantizeError(
                "calibrate-lstm needs a representative dataset and ctx.runner (as `calibrate`)"
            )
        if hasattr(dataset, "__next__"):  # a one-shot iterator: `calibrate` needs it too
            dataset = list(dataset)
            ctx.data[DATASET_KEY] = dataset
        n = calibrate_lstms(fn, dataset, ctx.runner, module)
        ctx.stats["LSTMs calibrated"] += n
        return n > 0


# --- quantize-lstm -------------------------------------------------------------------------------


def _per_tensor(v: Value, dtype: str) -> QP | None:
    q = v.type.quant
    if v.type.dtype != dtype or q is None or len(q.scale) != 1 or const_array(v) is not None:
        return None
    return QP(float(q.scale[0]), int(q.zero_point[0]))


def _params(lo: float, hi: float) -> QP:
    s, z = kernels.affine_params(lo, hi, "i8")
    return QP(float(s), int(z))


CELL_BOUNDS = (1.0, 64.0)
"""The cell ranges the integer kernel can represent: it computes tanh(c) with
`ApplyTanh(15 + log2(cell scale))`, defined for 0..6 integer bits (other values leave the
output unwritten), so the power-of-two bound is between 2^0 and 2^6."""


def cell_scale(lo: float, hi: float) -> float | None:
    """The int16 cell state's power-of-two scale, 2^ceil(log2 max|c|) / 32768 (`PowerOfTwoBound`
    in prepare_quantize_helper), raised to 2^0 / 32768 when the cell stays within (-1, 1): the
    official bound would give the kernel's tanh negative integer bits and a garbage output.
    None when the cell exceeds 64 (no scale of the kernel covers it)."""
    bound = 2.0 ** math.ceil(math.log2(max(abs(lo), abs(hi), 2.0**-15)))
    if bound > CELL_BOUNDS[1]:
        return None
    return max(bound, CELL_BOUNDS[0]) / 32768.0


class _LstmQuantizer:
    def __init__(self, ranges: dict[Value, tuple[float, float]]) -> None:
        self.ranges = ranges
        self.cache: dict[tuple[Any, ...], Value] = {}

    def input_params(self, op: Operation) -> tuple[Value, QP] | str:
        """The int8 input (an integer neighbour's value, else the float input to quantize)."""
        x = op.operands[0]
        deq = x.defining_op
        if deq is not None and deq.name == "tfl.dequantize":
            qp = _per_tensor(deq.operands[0], "i8")
            if qp is not None:
                return deq.operands[0], qp
            if deq.operands[0].type.dtype == "i16":
                return "LiteRT's LSTM kernel has no 16x8 path (int16 input)"
        r = self.ranges.get(x) or calibrated_range(x)
        if r is None or not is_float(x):
            return "no calibration range for its input"
        return x, _params(*r)

    def output_params(self, op: Operation) -> QP | str:
        out = op.results[0]
        given = {_per_tensor(u.op.result, "i8") for u in out.uses if u.op.name == "tfl.quantize"}
        given.discard(None)
        r = self.ranges.get(out) or calibrated_range(out)
        if len(given) == 1 and r is None:
            return given.pop()  # type: ignore[return-value]
        if len(given) == 1:
            qp = given.pop()
            assert qp is not None
            # the neighbour's parameters if they cover what the LSTM writes, else its own
            lo, hi = qp.scale * (-128 - qp.zero_point), qp.scale * (127 - qp.zero_point)
            if lo <= r[0] + qp.scale and hi >= r[1] - qp.scale:
                return qp
        if r is None:
            return "no calibration range for its output"
        return _params(*r)

    def quantize(self, op: Operation) -> str | None:
        why = plain_form(op)
        if why is not None:
            return why
        act = op.attributes.get("fused_activation_function", "TANH")
        if act != "TANH":  # lstm_eval.cc: "unlike float/hybrid, the activation is always Tanh"
            return f"the integer kernel always applies tanh, not {act}"
        stats = op.attributes.get(RANGES_ATTR)
        if stats is None:
            return "no ranges inside the LSTM (calibrate-lstm runs on the float model first)"
        got = self.input_params(op)
        if isinstance(got, str):
            return got
        x, in_qp = got
        out_qp = self.output_params(op)
        if isinstance(out_qp, str):
            return out_qp
        block = op.parent
        assert block is not None
        same = [
            u.op.result
            for u in x.uses
            if u.op.name == "tfl.quantize" and _per_tensor(u.op.result, "i8") == in_qp
        ]
        if is_float(x) and same:  # prepare-quantize already quantizes it for another reader
            x = same[0]
        elif is_float(x):  # a float producer: quantize the input here
            q = Operation(
                "tfl.quantize",
                [x],
                [qtype(x.type, "i8", in_qp)],
                location=derived_location(x, "/quantize"),
                result_names=[value_name(x, "/quantize")],
            )
            block.insert_before(q, op)
            x = q.result
        op.set_operand(0, x)
        w_scales: dict[int, float] = {}
        for i in WEIGHTS:
            op.set_operand(i, self.weight(op, op.operands[i]))
            w_scales[i] = op.operands[i].type.quant.scale[0]  # type: ignore[union-attr]
        for i, wi in zip(BIASES, INPUT_WEIGHTS):
            op.set_operand(i, self._bias(op, op.operands[i], in_qp.scale, w_scales[wi]))
        c_lo, c_hi = (float(v) for v in stats[4])
        c_scale = cell_scale(c_lo, c_hi)
        if c_scale is None:
            return (
                f"its cell state reaches {max(-c_lo, c_hi):.3g} (the integer kernel's limit is 64)"
            )
        c_qp = QP(c_scale, 0)
        for i, dtype, qp in ((OUTPUT_STATE, "i8", out_qp), (CELL_STATE, "i16", c_qp)):
            op.set_operand(i, _state(op, op.operands[i], dtype, qp))
        out = op.results[0]
        out.type = qtype(out.type, "i8", out_qp)
        op.attributes[INTERMEDIATES] = [
            *((value_name(out, f"/{n}"), TensorType((0,), "f32")) for n in INTERMEDIATE_NAMES[:4]),
            (value_name(out, f"/{INTERMEDIATE_NAMES[4]}"), TensorType((0,), "i8", out_qp.quant())),
        ]
        op.attributes.pop(RANGES_ATTR, None)
        self._outputs(op, out_qp)
        return None

    def weight(self, op: Operation, w: Value) -> Value:
        """int8 symmetric per tensor (one constant per float constant, shared)."""
        if (w,) not in self.cache:
            q, scales = kernels.quantize_weights_symmetric(np.asarray(const_array(w)), None, "i8")
            t = TensorType(w.type.shape, "i8", QuantParams((float(scales.reshape(-1)[0]),), (0,)))
            anchor = w.defining_op
            assert anchor is not None
            self.cache[(w,)] = new_constant(anchor, q, t, w.name_hint, anchor.location)
        return self.cache[(w,)]

    def _bias(self, op: Operation, b: Value, s_in: float, s_w: float) -> Value:
        """int32 at input scale x input-to-gate weight scale (operator_property.cc)."""
        key = (b, s_in, s_w)
        if key not in self.cache:
            q, scales = kernels.quantize_bias(
                np.asarray(const_array(b)), s_in, np.array([s_w]), "i32"
            )
            t = TensorType(b.type.shape, "i32", QuantParams((float(scales[0]),), (0,)))
            anchor = b.defining_op
            assert anchor is not None
            self.cache[key] = new_constant(anchor, q, t, b.name_hint, anchor.location)
        return self.cache[key]

    @staticmethod
    def _outputs(op: Operation, qp: QP) -> None:
        """Fold the `tfl.quantize` readers that want the LSTM's parameters; the others
        requantize (int8 -> int8); float readers get one `tfl.dequantize`."""
        out = op.results[0]
        float_uses = []
        for use in list(out.uses):
            user = use.op
            if user.name == "tfl.quantize" and _per_tensor(user.result, "i8") == qp:
                user.result.replace_all_uses_with(out)
                user.erase()
            elif user.name != "tfl.quantize":
                float_uses.append(use)
        if float_uses:
            deq = Operation(
                "tfl.dequantize",
                [out],
                [TensorType(out.type.shape, "f32")],
                location=derived_location(out, "/dequantize"),
                result_names=[value_name(out, "/dequantize")],
            )
            op.parent.insert_after(deq, op)  # type: ignore[union-attr]
            for use in float_uses:
                use.op.set_operand(use.index, deq.result)


def _state(op: Operation, state: Value, dtype: str, qp: QP) -> Value:
    """A fill of the quantized zero (the zero point) into a new variable tensor, like the
    float fill fuse-recurrent made (same dims), so every invoke starts from zero."""
    fill = state.defining_op
    if fill is not None and fill.name == "tfl.fill" and fill.attributes.get(VARIABLE):
        dims = fill.operands[0]
    else:
        shape = state.type.shape
        if shape is None or None in shape:
            raise QuantizeError(f"{op.location}: the LSTM state has no static shape or fill")
        dims = new_constant(
            op, np.array(shape, np.int32), TensorType((len(shape),), "i32"), None, op.location
        )
    np_dtype = np.int8 if dtype == "i8" else np.int16
    zero_t = TensorType((), dtype, qp.quant())
    zero = constant(np.array(qp.zero_point, np_dtype), op.location, None, type=zero_t)
    op.parent.insert_before(zero, op)  # type: ignore[union-attr]
    new = Operation(
        "tfl.fill",
        [dims, zero.result],
        [qtype(state.type, dtype, qp)],
        {VARIABLE: True},
        location=fill.location if fill is not None else op.location,
    )
    op.parent.insert_before(new, op)  # type: ignore[union-attr]
    return new.result


@register_pass
@dataclass(frozen=True)
class QuantizeLstm(Pass):
    """Quantize the fused LSTMs prepare-quantize left float to LiteRT's 8x8_16 integer kernel
    (int8 input, output and weights, int32 biases, int16 cell state, 5 intermediates) from the
    ranges of calibrate-lstm; fold the quantize / dequantize pairs around them."""

    name: ClassVar[str] = "quantize-lstm"
    activation: Literal["int8", "int16"] = "int8"
    """The model's activations: int16 (16x8) leaves the LSTM float (no 16x8 kernel)."""
    keep_float: tuple[str, ...] = ()
    """LSTMs to keep in float (names or regexes, as in prepare-quantize)."""
    kernel: Literal["integer", "hybrid"] = "integer"
    """integer: the 8x8_16 kernel (the official recipe; in LiteRT 2.3 on x86 ~7x slower than
    the float LSTM); hybrid: int8 weights for the hybrid kernel between the neighbours'
    quantize / dequantize (float activations: not for integer-only models; as fast as float)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        lstms = [op for fn in module.functions for op in fn.ops if op.name == LSTM]
        lstms = [op for op in lstms if is_float(op.results[0])]
        if not lstms:
            return False
        done = ctx.data.get(SUMMARY_KEY)
        if not isinstance(done, QuantizeSummary):
            done = QuantizeSummary("int16x8" if self.activation == "int16" else "int8")
            ctx.data[SUMMARY_KEY] = done
        matcher = NameMatcher(self.keep_float)
        q = _LstmQuantizer(ctx.data.get(RANGES_KEY) or {})
        n = 0
        for op in lstms:
            if matcher.matches(op):
                why: str | None = "kept float (keep-float)"
            elif self.kernel == "hybrid":
                why = quantize_hybrid(op, 0, lambda w, op=op: q.weight(op, w))
            elif self.activation == "int16":
                why = (
                    "LiteRT's UNIDIRECTIONAL_SEQUENCE_LSTM has no 16x8 kernel (its integer path "
                    "reads int8 activations)"
                )
            else:
                why = q.quantize(op)
            if why is None:
                done.float_ops.pop(op, None)
                done.quantized += 1
                n += 1
            else:
                done.float_ops[op] = why
            op.attributes.pop(RANGES_ATTR, None)
        ctx.stats["LSTMs quantized"] += n
        return bool(n) | (erase_dead(module, ctx) > 0)


# --- dynamic range -------------------------------------------------------------------------------


def quantize_hybrid(
    op: Operation, min_elements: int, integer: Callable[[Value], Value]
) -> str | None:
    """int8 per-tensor weights for LiteRT's hybrid LSTM kernel (`integer(w)` makes the int8
    constant of `w`); the reason when the op stays float."""
    why = plain_form(op)
    if why is not None:
        return why
    small = [i for i in WEIGHTS if const_array(op.operands[i]).size < min_elements]  # type: ignore[union-attr]
    if small:  # prepare_quantize_dynamic_range.cc: no partial quantization of an LSTM
        n = const_array(op.operands[small[0]]).size  # type: ignore[union-attr]
        return (
            f"weight operand {small[0]} has {n} < {min_elements} elements (an LSTM is quantized "
            "all or nothing, as the official converter)"
        )
    for i in WEIGHTS:
        op.set_operand(i, integer(op.operands[i]))
    op.attributes["asymmetric_quantize_inputs"] = True
    return None
