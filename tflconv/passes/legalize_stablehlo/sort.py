"""stablehlo.sort along the last dim -> tfl.topk_v2 over the whole dim (official:
legalize_hlo_conversions/sort.cc, which also goes through TopK): descending as is, ascending
as topk of the negated values (floats only: negating INT_MIN overflows). The comparator must
compare the two values of operand 0 (JAX canonicalizes NaN and -0 first: those orders are the
only ones that may differ, TopK has no NaN order); a second operand must be an iota (argsort).
"""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..legalize_tf.common import create_tfl, scalar_const
from .util import ints


def _only_from(value: Value, arg: Value, depth: int = 0) -> bool:
    """Whether `value` is computed from `arg` and constants alone (JAX's NaN/-0 canonicalizing
    select/compare chain, or `arg` itself)."""
    if value is arg:
        return True
    op = value.defining_op
    if op is None or depth > 16:
        return False
    if op.name == "arith.constant":
        return True
    if op.name not in ("stablehlo.select", "stablehlo.compare"):
        return False
    return all(_only_from(v, arg, depth + 1) for v in op.operands) and any(
        _uses(v, arg) for v in op.operands
    )


def _uses(value: Value, arg: Value) -> bool:
    if value is arg:
        return True
    op = value.defining_op
    return (
        op is not None and op.name != "arith.constant" and any(_uses(v, arg) for v in op.operands)
    )


def _direction(op: Operation) -> str | None:
    """ "LT" (ascending) / "GT" (descending) when the comparator orders operand 0's values."""
    if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        return None
    block = op.regions[0].blocks[0]
    ret = block.terminator
    if ret is None or len(ret.operands) != 1:
        return None
    cmp = ret.operands[0].defining_op
    if cmp is None or cmp.name != "stablehlo.compare":
        return None
    direction = str(cmp.attributes.get("comparison_direction", "")).upper()
    if direction not in ("LT", "GT"):
        return None
    a, b = cmp.operands
    if _only_from(a, block.args[0]) and _only_from(b, block.args[1]):
        return direction
    if _only_from(a, block.args[1]) and _only_from(b, block.args[0]):
        return "GT" if direction == "LT" else "LT"
    return None


class LegalizeSort(RewritePattern):
    """stablehlo.sort(x[, iota]){dimension = last} ({compare GT}) -> tfl.topk_v2(x, n);
    ({compare LT}) -> tfl.neg(tfl.topk_v2(tfl.neg(x), n)) (the values; the iota operand's
    result -> topk's indices)"""

    root = "stablehlo.sort"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands not in (1, 2):
            return rw.fail("only sorts of values (and an iota: argsort) are legalized")
        x = op.operands[0]
        rank = x.type.rank
        if rank is None or not x.type.is_static:
            return rw.fail("the operand shape is not static")
        dim = int(op.attributes.get("dimension", -1))
        if dim % max(rank, 1) != rank - 1:
            return rw.fail("only sorts along the last dim are legalized (TopK's dim)")
        if op.num_operands == 2:
            iota = op.operands[1].defining_op
            if (
                iota is None
                or iota.name != "stablehlo.iota"
                or ints(iota, "iota_dimension") != [rank - 1]
            ):
                return rw.fail("the second operand is not an iota along the sorted dim")
            if op.results[1].type.dtype not in ("i32", "i64"):
                return rw.fail("indices of an unsupported type")
        direction = _direction(op)
        if direction is None:
            return rw.fail("the comparator is not an LT/GT of operand 0's values")
        if direction == "LT" and not x.type.is_float:
            return rw.fail("ascending integer sorts are not legalized (negation overflows)")
        if why := kernel_dtype_reason("tfl.topk_v2", x):
            return rw.fail(why)
        n = x.type.shape[-1]  # type: ignore[index]
        src = x if direction == "GT" else create_tfl(rw, "neg", [x], [x.type]).result
        top = create_tfl(
            rw, "topk_v2", [src, scalar_const(rw, n, "i32")], [x.type, x.type.with_dtype("i32")]
        )
        values = top.results[0]
        if direction == "LT":
            values = create_tfl(rw, "neg", [values], [x.type]).result
        results: list[Value | None] = [values if op.results[0].users else None]
        if op.num_operands == 2:
            index = top.results[1]
            if op.results[1].type.dtype != "i32":
                index = create_tfl(rw, "cast", [index], [op.results[1].type]).result
            results.append(index)
        if results[0] is None:
            results[0] = values
        iota = op.operands[1].defining_op if op.num_operands == 2 else None
        rw.replace(op, results)
        if iota is not None and not iota.results[0].users:
            rw.erase(iota)
        return None


PATTERNS: list[RewritePattern] = [LegalizeSort()]
