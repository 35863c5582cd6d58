"""`modify-io-types`: the input/output types of a quantized model's entry functions
(`inference_input_type` / `inference_output_type`), as `ModifyIONodesPass` in the official
quantizer; the last pass of the full-integer chain:

- float32 (default): `tfl.quantize` after each input, `tfl.dequantize` before each output;
- the activation type (int8, or int16 for 16x8): those ops are removed and the inputs/outputs
  carry the quantized type;
- uint8 (int8 models): uint8 inputs/outputs with zero point + 128, joined to the int8 graph by
  `tfl.quantize` uint8 -> int8 at each input and int8 -> uint8 at each output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.types import QuantParams, TensorType

from . import kernels
from .common import (
    QP,
    RANGES_KEY,
    QuantizeError,
    derived_location,
    erase_dead,
    insert_after_def,
    qtype,
    value_name,
)

TYPE_ALIASES = {
    "f32": "f32",
    "float32": "f32",
    "float": "f32",
    "i8": "i8",
    "int8": "i8",
    "ui8": "ui8",
    "uint8": "ui8",
    "i16": "i16",
    "int16": "i16",
}


def normalize_io_type(name: str, activation: str, what: str) -> str:
    t = TYPE_ALIASES.get(str(name).lower())
    allowed = ("f32", "i8", "ui8") if activation == "i8" else ("f32", "i16")
    if t is None or t not in allowed:
        raise QuantizeError(
            f"{what}={name!r} is not allowed for {'int8' if activation == 'i8' else '16x8'} "
            f"models (allowed: {', '.join(allowed)})"
        )
    return t


def _qp(t: TensorType) -> QP:
    q = t.quant
    assert q is not None and len(q.scale) == 1
    return QP(q.scale[0], q.zero_point[0])


def _uint8(qp: QP) -> QP:
    return QP(qp.scale, qp.zero_point + 128)


def set_input_type(
    fn: Function, io: str, activation: str, ranges: dict[Value, tuple[float, float]]
) -> None:
    if io == "f32":
        return
    block = fn.block
    for arg in list(fn.args):
        if arg.type.dtype != "f32":
            continue
        quantizes = [u.op for u in arg.uses if u.op.name == "tfl.quantize"]
        if quantizes:
            qp = _qp(quantizes[0].result.type)
        elif arg in ranges:
            qp = _params(ranges[arg], activation)
        else:
            raise QuantizeError(
                f"input {arg.name_hint or arg!r} has no calibration range; it cannot be {io}"
            )
        float_type = arg.type
        if io == "ui8":
            arg.type = qtype(float_type, "ui8", _uint8(qp))
            to_int = Operation(
                "tfl.quantize",
                [arg],
                [qtype(float_type, activation, qp)],
                location=derived_location(arg, "/int8"),
                result_names=[value_name(arg, "/int8")],
            )
            insert_after_def(block, arg, to_int)
            source: Value = to_int.result
        else:
            arg.type = qtype(float_type, activation, qp)
            source = arg
        for use in list(arg.uses):
            user = use.op
            if io == "ui8" and user is source.defining_op:
                continue
            if user.name == "tfl.quantize" and _qp(user.result.type) == qp:
                user.result.replace_all_uses_with(source)
                user.erase()
            elif user.name == "tfl.quantize":
                user.set_operand(0, source)  # now a requantize
            else:  # a float op read the input directly: dequantize for it
                deq = Operation(
                    "tfl.dequantize",
                    [source],
                    [float_type],
                    location=derived_location(arg, "/dequantize"),
                    result_names=[value_name(arg, "/dequantize")],
                )
                insert_after_def(block, source, deq)
                user.set_operand(use.index, deq.result)


def set_output_type(
    fn: Function, io: str, activation: str, ranges: dict[Value, tuple[float, float]]
) -> None:
    if io == "f32":
        return
    ret = fn.return_op
    for i, v in enumerate(list(ret.operands)):
        if v.type.dtype != "f32":
            continue
        producer = v.defining_op
        if producer is not None and producer.name == "tfl.dequantize":
            q = producer.operands[0]
            if q.type.dtype != activation:
                continue
            out = q
            ret.set_operand(i, out)
            if not v.uses:
                producer.erase()
        elif v in ranges:
            qp = _params(ranges[v], activation)
            quant = Operation(
                "tfl.quantize",
                [v],
                [qtype(v.type, activation, qp)],
                location=derived_location(v, "/quantize"),
                result_names=[value_name(v, "/quantize")],
            )
            insert_after_def(fn.block, v, quant)
            out = quant.result
            ret.set_operand(i, out)
        else:
            raise QuantizeError(
                f"output {v.name_hint or i} has no calibration range; it cannot be {io}"
            )
        if io == "ui8":
            qp = _qp(out.type)
            to_u8 = Operation(
                "tfl.quantize",
                [out],
                [
                    TensorType(
                        out.type.shape, "ui8", QuantParams((qp.scale,), (qp.zero_point + 128,))
                    )
                ],
                location=derived_location(out, "/uint8"),
                result_names=[value_name(out, "/uint8")],
            )
            insert_after_def(fn.block, out, to_u8)
            ret.set_operand(i, to_u8.result)


def _params(r: tuple[float, float], activation: str) -> QP:
    if activation == "i16":
        s, z = kernels.symmetric_params(r[0], r[1], "i16")
    else:
        s, z = kernels.affine_params(r[0], r[1], "i8")
    return QP(float(s), int(z))


def activation_type(fn: Function) -> str | None:
    """i8 or i16: the type prepare-quantize gave the function's activations (None: float)."""
    for op in fn.walk():
        if op.name == "tfl.quantize":
            return op.result.type.dtype if op.result.type.dtype in ("i8", "i16") else None
    return None


@register_pass
@dataclass(frozen=True)
class ModifyIOTypes(Pass):
    """Give a quantized model integer inputs / outputs: int8 or uint8 (int8 models), int16
    (16x8 models); float32 keeps the quantize / dequantize ops at the boundaries."""

    name: ClassVar[str] = "modify-io-types"
    input_type: str = "f32"
    """f32, i8 / ui8 (int8 models), i16 (16x8 models)."""
    output_type: str = "f32"
    """Same choices as input-type."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        if self.input_type == self.output_type == "f32":
            return False
        ranges = ctx.data.get(RANGES_KEY) or {}
        changed = False
        for fn in module.functions:
            if not (fn is module.functions[0] or fn.attributes.get("entry")):
                continue
            dtype = activation_type(fn)
            if dtype is None:
                raise QuantizeError(
                    f"modify-io-types: {fn.name} is not quantized (run prepare-quantize and "
                    "quantize first)"
                )
            set_input_type(
                fn, normalize_io_type(self.input_type, dtype, "input-type"), dtype, ranges
            )
            set_output_type(
                fn, normalize_io_type(self.output_type, dtype, "output-type"), dtype, ranges
            )
            changed = True
        erase_dead(module, ctx)
        return changed
