"""Canonicalization: read the real parts of a spectrum before the complex arithmetic on it.

`tf.signal.dct` (and so MFCCs) computes `Real(RFFT(x, [2 n])[..., :n] * twiddles)`. When the
RFFT length is not a power of two, only the DFT-rows lowering (`spectral.LegalizeRfftAsDft`)
computes it, and that lowering needs the spectrum to be read through Real / Imag / ComplexAbs
alone. These patterns move `tf.Real` / `tf.Imag` up through slicing ops and products with a
complex constant, which is exact:

    Real(slice(z)) = slice(Real(z))
    Real(z * c)    = Real(z) * Re(c) - Imag(z) * Im(c)
    Imag(z * c)    = Real(z) * Im(c) + Imag(z) * Re(c)

They fire only on chains that start at such an RFFT: a power-of-two RFFT stays complex through
the (shorter) complex MUL / STRIDED_SLICE builtins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.passes import register_canonicalization
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TypeAttr

from .common import const, int_list

SLICING = ("tf.StridedSlice", "tf.Slice", "tf.Reshape", "tf.Squeeze", "tf.ExpandDims")
"""Ops that only select or rearrange elements of their first operand (the others are indices)."""

PARTS = ("tf.Real", "tf.Imag")
MAX_CHAIN = 8


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _complex_factor(op: Operation) -> tuple[Value, np.ndarray] | None:
    """(z, c) for a tf.Mul of a complex value z by a complex constant c."""
    if op.name != "tf.Mul":
        return None
    for z, c in (op.operands, op.operands[::-1]):
        value = constant_value(c)
        if value is not None and constant_value(z) is None and np.iscomplexobj(value):
            return z, value
    return None


def from_dft_only_rfft(value: Value, depth: int = 0) -> bool:
    """Whether `value` is an RFFT (possibly sliced, or scaled by a complex constant) whose length
    the RFFT2D kernel does not compute (not a power of two, or 1)."""
    op = value.defining_op
    if op is None or depth > MAX_CHAIN:
        return False
    if op.name == "tf.RFFT":
        lengths = int_list(op.operands[1])
        return (
            lengths is not None
            and len(lengths) == 1
            and not (_power_of_two(lengths[0]) and lengths[0] >= 2)
        )
    if op.name in SLICING:
        return from_dft_only_rfft(op.operands[0], depth + 1)
    factor = _complex_factor(op)
    return factor is not None and from_dft_only_rfft(factor[0], depth + 1)


def _with_type_attr(attributes: dict[str, Any], dtype: str) -> dict[str, Any]:
    out = {k: v for k, v in attributes.items() if not k.startswith("_")}
    if "T" in out:
        out["T"] = TypeAttr(dtype)
    return out


def _part(rw: PatternRewriter, name: str, z: Value, dtype: str) -> Value:
    """tf.Real / tf.Imag of z (as `name`), with the real element type `dtype`."""
    attrs = {"T": TypeAttr(z.type.dtype), "Tout": TypeAttr(dtype)}
    return rw.create(name, [z], [z.type.with_dtype(dtype)], attrs).result


class PushPartThroughSlicing(RewritePattern):
    """tf.Real(tf.StridedSlice(z, ...)) -> tf.StridedSlice(tf.Real(z), ...) (tf.Imag; Slice,
    Reshape, Squeeze, ExpandDims likewise) on a spectrum only the DFT rows compute"""

    root = PARTS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        inner = op.operands[0].defining_op
        if inner is None or inner.name not in SLICING:
            return rw.fail("the complex operand is not sliced")
        if not from_dft_only_rfft(inner.operands[0]):
            return rw.fail("not a spectrum of an RFFT the RFFT2D kernel cannot compute")
        dtype = op.result.type.dtype
        part = _part(rw, op.name, inner.operands[0], dtype)
        sliced = rw.create(
            inner.name,
            [part, *inner.operands[1:]],
            [op.result.type],
            _with_type_attr(inner.attributes, dtype),
        )
        rw.replace(op, sliced.result)
        return None


class SplitPartOfComplexProduct(RewritePattern):
    """tf.Real(z * c) -> Real(z) * Re(c) - Imag(z) * Im(c); tf.Imag(z * c) -> Real(z) * Im(c) +
    Imag(z) * Re(c) (c a complex constant) on a spectrum only the DFT rows compute"""

    root = PARTS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        inner = op.operands[0].defining_op
        factor = None if inner is None else _complex_factor(inner)
        if factor is None:
            return rw.fail("the complex operand is not a product with a complex constant")
        z, c = factor
        if not from_dft_only_rfft(z):
            return rw.fail("not a spectrum of an RFFT the RFFT2D kernel cannot compute")
        dtype = op.result.type.dtype
        out_t = op.result.type
        re_c = const(rw, np.ascontiguousarray(np.real(c)))
        im_c = const(rw, np.ascontiguousarray(np.imag(c)))
        re_z, im_z = _part(rw, "tf.Real", z, dtype), _part(rw, "tf.Imag", z, dtype)
        attrs = {"T": TypeAttr(dtype)}
        if op.name == "tf.Real":
            a = rw.create("tf.Mul", [re_z, re_c], [out_t], attrs).result
            b = rw.create("tf.Mul", [im_z, im_c], [out_t], attrs).result
            rw.replace_with_new(op, "tf.Sub", [a, b], attrs)
        else:
            a = rw.create("tf.Mul", [re_z, im_c], [out_t], attrs).result
            b = rw.create("tf.Mul", [im_z, re_c], [out_t], attrs).result
            rw.replace_with_new(op, "tf.AddV2", [a, b], attrs)
        return None


for _pattern in (PushPartThroughSlicing(), SplitPartOfComplexProduct()):
    for _root in PARTS:
        register_canonicalization(_root, _pattern)
