"""Legalization patterns: random family.

`tf.RandomUniform`, `tf.RandomStandardNormal` and `tf.Multinomial` map 1:1 onto the
RANDOM_UNIFORM / RANDOM_STANDARD_NORMAL / MULTINOMIAL builtins, whose `RandomOptions` carry the
op's `seed` and `seed2` attributes unchanged as 64-bit integers (legalize_patterns.td:
`convertIntAttrTo64Bit`). TensorFlow sets them from the graph-level and op-level seeds
(`tf.random.set_seed(a)` + `seed=b` -> 1234-style `seed=a, seed2=b`; an op seed alone gives
`seed=87654321`; no seed at all gives 0, 0).

LiteRT's kernels (tflite/kernels/random_ops.cc) seed a Philox generator with (seed, seed2) when
the interpreter prepares the op and draw from it on every invoke: two interpreters of one model
give the same sequence, successive invokes continue it, and seed = seed2 = 0 draws fresh
non-deterministic seeds. The kernels take an i32 shape vector and produce f32 only (multinomial:
f32 logits of rank 2, i32 or i64 samples), so other types are refused here.
"""

from __future__ import annotations

from tflconv.core.ir import Operation
from tflconv.core.rewrite import PatternRewriter, RewritePattern

from .tensor_util import as_i32

_RANDOM: dict[str, str] = {
    "tf.RandomUniform": "random_uniform",
    "tf.RandomStandardNormal": "random_standard_normal",
}


def _seeds(op: Operation) -> dict[str, int]:
    return {"seed": int(op.attr("seed", 0) or 0), "seed2": int(op.attr("seed2", 0) or 0)}


class LegalizeRandom(RewritePattern):
    """tf.RandomUniform(shape){seed, seed2} -> tfl.random_uniform(shape: i32){seed, seed2}
    (tf.RandomStandardNormal -> tfl.random_standard_normal likewise)"""

    root = tuple(_RANDOM)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        shape = op.operands[0]
        out = op.result.type.dtype
        if out != "f32":
            return rw.fail(f"tfl.{_RANDOM[op.name]} produces f32 only, not {out}")
        if shape.type.rank not in (None, 1):
            return rw.fail(f"the shape operand must be a vector, has rank {shape.type.rank}")
        shape32 = as_i32(rw, shape)
        if shape32.type.dtype != "i32":
            return rw.fail(f"the shape operand is {shape.type.dtype}; the kernel takes i32")
        rw.replace_with_new(op, "tfl." + _RANDOM[op.name], [shape32], _seeds(op))
        return None


class LegalizeMultinomial(RewritePattern):
    """tf.Multinomial(logits, num_samples){seed, seed2} -> tfl.multinomial(logits,
    num_samples){seed, seed2}"""

    root = "tf.Multinomial"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        logits, num_samples = op.operands
        if logits.type.dtype != "f32" or logits.type.is_quantized:
            return rw.fail(f"tfl.multinomial takes f32 logits, not {logits.type.dtype}")
        if logits.type.rank not in (None, 2):
            return rw.fail(f"logits must have rank 2, has rank {logits.type.rank}")
        if op.result.type.dtype not in ("i32", "i64"):
            return rw.fail(f"tfl.multinomial produces i32 or i64, not {op.result.type.dtype}")
        count = as_i32(rw, num_samples)
        if count.type.dtype != "i32" or count.type.rank not in (None, 0):
            return rw.fail("num_samples must be an i32 scalar")
        rw.replace_with_new(op, "tfl.multinomial", [logits, count], _seeds(op))
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeRandom(),
    LegalizeMultinomial(),
]
