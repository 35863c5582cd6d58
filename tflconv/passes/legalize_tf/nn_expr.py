"""Matching small arithmetic expressions over tf.* or tfl.* ops (both spellings, since
legalization converts ops one by one and a pattern may see a mix).

Used to recognise activations that TF writes out as arithmetic: GELU (erf, erfc and tanh
forms) here, hard-swish and friends in the fuse pass. Every intermediate op of a match must
have a single user, so a rewrite never duplicates work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tflconv.core.ir import Operation, Value, constant_value
from tflconv.core.printer import is_elided
from tflconv.core.rewrite import PatternRewriter

MUL = ("tf.Mul", "tfl.mul")
DIV = ("tf.RealDiv", "tf.Div", "tfl.div")
ADD = ("tf.AddV2", "tf.Add", "tfl.add")
SUB = ("tf.Sub", "tfl.sub")
NEG = ("tf.Neg", "tfl.neg")
POW = ("tf.Pow", "tfl.pow")
SQUARE = ("tf.Square", "tfl.square")
ERF = ("tf.Erf",)
ERFC = ("tf.Erfc",)
TANH = ("tf.Tanh", "tfl.tanh")


def known_constant(v: Value) -> np.ndarray | None:
    """The array behind a constant, None when `v` is not a constant or the IR text it was
    parsed from left its data out (a placeholder must not drive a rewrite)."""
    arr = constant_value(v)
    if arr is None or is_elided(arr):
        return None
    return arr


def scalar(v: Value) -> float | None:
    """The value of a constant with one element (any rank), else None."""
    arr = known_constant(v)
    if arr is None or arr.size != 1 or arr.dtype.kind not in "fiu":
        return None
    return float(np.asarray(arr).reshape(()))


def splat_scalar(v: Value) -> float | None:
    """`scalar(v)`, also through a BROADCAST_TO of a one-element constant (POW's exponent
    above rank 4, where LiteRT's POW does not broadcast)."""
    op = v.defining_op
    if op is not None and op.name == "tfl.broadcast_to":
        return scalar(op.operands[0])
    return scalar(v)


def plain(op: Operation | None, names: tuple[str, ...]) -> bool:
    """`op` is one of `names` without a fused activation."""
    if op is None or op.name not in names:
        return False
    return op.attributes.get("fused_activation_function", "NONE") == "NONE"


def close(a: float, b: float, rtol: float = 1e-4) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)


@dataclass
class Expr:
    """Ops an expression match consumed (erased after the rewrite when dead)."""

    ops: list[Operation] = field(default_factory=list)

    def take(self, v: Value) -> Operation | None:
        """The producer of an intermediate value, if it has a single user."""
        op = v.defining_op
        if op is None or v.num_uses != 1 or len(op.results) != 1:
            return None
        return op

    def product(self, v: Value, top: bool = False) -> tuple[float, list[Value]]:
        """`v` as scale * prod(factors): flattens mul, neg and division by a constant."""
        op = v.defining_op if top else self.take(v)
        c = scalar(v)
        if c is not None:
            return c, []
        if plain(op, MUL):
            self.ops.append(op)
            s1, f1 = self.product(op.operands[0])
            s2, f2 = self.product(op.operands[1])
            return s1 * s2, f1 + f2
        if plain(op, DIV) and scalar(op.operands[1]) not in (None, 0.0):
            self.ops.append(op)
            s, f = self.product(op.operands[0])
            return s / scalar(op.operands[1]), f  # type: ignore[operator]
        if plain(op, NEG):
            self.ops.append(op)
            s, f = self.product(op.operands[0])
            return -s, f
        return 1.0, [v]

    def poly(self, v: Value, x: Value, depth: int = 0) -> dict[int, float] | None:
        """`v` as a polynomial in `x` ({power: coefficient}), else None."""
        if v is x:
            return {1: 1.0}
        c = scalar(v)
        if c is not None:
            return {0: c}
        op = self.take(v)
        if op is None or depth > 12:
            return None
        args = op.operands
        result: dict[int, float] | None = None
        if plain(op, MUL) or plain(op, SQUARE):
            a = self.poly(args[0], x, depth + 1)
            b = a if op.name in SQUARE else self.poly(args[1], x, depth + 1)
            result = _poly_mul(a, b) if a is not None and b is not None else None
        elif plain(op, ADD) or plain(op, SUB):
            a, b = self.poly(args[0], x, depth + 1), self.poly(args[1], x, depth + 1)
            if a is not None and b is not None:
                sign = -1.0 if op.name in SUB else 1.0
                result = dict(a)
                for k, coef in b.items():
                    result[k] = result.get(k, 0.0) + sign * coef
        elif plain(op, DIV) and scalar(args[1]) not in (None, 0.0):
            a = self.poly(args[0], x, depth + 1)
            if a is not None:
                result = {k: coef / scalar(args[1]) for k, coef in a.items()}  # type: ignore[operator]
        elif plain(op, NEG):
            a = self.poly(args[0], x, depth + 1)
            result = None if a is None else {k: -coef for k, coef in a.items()}
        elif op.name in POW:
            n = splat_scalar(args[1])
            a = self.poly(args[0], x, depth + 1)
            if a is not None and n is not None and n == int(n) and 1 <= n <= 4:
                result = a
                for _ in range(int(n) - 1):
                    result = _poly_mul(result, a)
        if result is not None:
            self.ops.append(op)
        return result


def _poly_mul(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            out[ka + kb] = out.get(ka + kb, 0.0) + ca * cb
    return out


def poly_is(p: dict[int, float] | None, want: dict[int, float]) -> bool:
    if p is None:
        return False
    keys = {k for k, c in p.items() if c != 0.0} | set(want)
    return all(close(p.get(k, 0.0), want.get(k, 0.0)) for k in keys)


def products_above(v: Value) -> list[Operation]:
    """The single-use mul / div-by-something ops met climbing from `v` (through add ops, the
    `1 + erf(..)` / `1 + tanh(..)` step, before the first product), innermost first: the ops a
    GELU-like match may replace (GeGLU multiplies the GELU by a gate, so the GELU product is
    not always the outermost)."""
    out: list[Operation] = []
    while v.num_uses == 1:
        user = v.users[0]
        if plain(user, MUL) or (plain(user, DIV) and user.operands[0] is v):
            out.append(user)
        elif not (plain(user, ADD) and not out):
            break
        if len(user.results) != 1:
            break
        v = user.result
    return out


SQRT1_2 = math.sqrt(0.5)
SQRT_2_PI = math.sqrt(2.0 / math.pi)


def match_gelu(top: Operation) -> tuple[Value, bool, list[Operation]] | None:
    """`top` computes GELU of some x: returns (x, approximate, consumed ops)."""
    e = Expr()
    scale, factors = e.product(top.result, top=True)
    if len(factors) != 2 or not close(scale, 0.5, 1e-3):
        return None
    for x, special in (factors, factors[::-1]):
        found = _gelu_special(special, x)
        if found is not None and x.type == top.result.type:
            approximate, ops = found
            return x, approximate, e.ops + ops
    return None


def _gelu_special(v: Value, x: Value) -> tuple[bool, list[Operation]] | None:
    """`v` is erfc(-x/sqrt2), 1 + erf(x/sqrt2) or 1 + tanh(sqrt(2/pi)(x + 0.044715x^3))."""
    e = Expr()
    op = e.take(v)
    if op is None:
        return None
    if op.name in ERFC:
        if poly_is(e.poly(op.operands[0], x), {1: -SQRT1_2}):
            return False, [op, *e.ops]
        return None
    if not plain(op, ADD):
        return None
    for one, inner in (op.operands, op.operands[::-1]):
        if scalar(one) is None or not close(scalar(one), 1.0):  # type: ignore[arg-type]
            continue
        fn = e.take(inner)
        if fn is None:
            continue
        if fn.name in ERF and poly_is(e.poly(fn.operands[0], x), {1: SQRT1_2}):
            return False, [op, fn, *e.ops]
        if fn.name in TANH and poly_is(
            e.poly(fn.operands[0], x), {1: SQRT_2_PI, 3: SQRT_2_PI * 0.044715}
        ):
            return True, [op, fn, *e.ops]
    return None


def erase_dead(rw: PatternRewriter, ops: list[Operation]) -> None:
    """Erase the ops of a replaced match that no longer have users (users first)."""
    pending = [op for op in dict.fromkeys(ops) if op.parent is not None]
    progress = True
    while pending and progress:
        progress = False
        for op in list(pending):
            if not op.has_users():
                rw.erase(op)
                pending.remove(op)
                progress = True
