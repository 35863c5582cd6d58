"""Control flow: stablehlo.while -> tfl.while, stablehlo.case (2 branches) / stablehlo.if ->
tfl.if, the regions moved into functions of the module (TFLite subgraphs); custom_call /
composite / rng_bit_generator refused with the reason.

StableHLO regions may read values of the enclosing function (JAX hoists constants out of
loop bodies). Captured constants are copied into the new function; other captured values
become extra operands: loop-carried values passed through unchanged for tfl.while, branch
inputs for tfl.if. The pass converts the new functions in a further round (the conversion
driver only walks the functions it started with).
"""

from __future__ import annotations

from collections.abc import Iterable

from tflconv.core.ir import Block, Function, Operation, Value, constant, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import SymbolRef, TensorType

from ..legalize_tf.common import create_tfl
from .util import scalar_const


def _region_block(op: Operation, index: int) -> Block | None:
    if index >= len(op.regions) or len(op.regions[index].blocks) != 1:
        return None
    return op.regions[index].blocks[0]


def _captured(blocks: Iterable[Block]) -> list[Value] | str:
    """Values the ops of `blocks` read from outside them, in first-use order; a reason when
    a block has no stablehlo.return terminator."""
    inside: set[Value] = set()
    ops: list[Operation] = []
    for block in blocks:
        term = block.terminator
        if term is None or term.name != "stablehlo.return":
            return "a region does not end with stablehlo.return"
        inside.update(block.args)
        for op in block.walk():
            ops.append(op)
            inside.update(op.results)
            for region in op.regions:
                for b in region.blocks:
                    inside.update(b.args)
    seen: dict[Value, None] = {}
    for op in ops:
        for v in op.operands:
            if v not in inside:
                seen.setdefault(v, None)
    return list(seen)


def _outline(
    op: Operation,
    block: Block,
    name: str,
    captured: list[Value],
    extra_outputs: bool,
) -> Function:
    """Move `block`'s ops into a new function of the module: block arguments, then one
    argument per captured non-constant value (captured constants are copied in); the
    stablehlo.return becomes func.return (with the captured arguments appended when
    `extra_outputs`, for a loop body that must return every carried value).

    The ops leave the IR being rewritten for a function the driver has not walked yet, so
    they are moved directly rather than through the rewriter."""
    fn_parent = op.function
    assert fn_parent is not None and fn_parent.module is not None
    module = fn_parent.module
    passed = [v for v in captured if constant_value(v) is None]
    types = [a.type for a in block.args] + [v.type for v in passed]
    names = [a.name_hint for a in block.args] + [v.name_hint for v in passed]
    fn = Function(module.unique_function_name(name), types, names)
    module.add_function(fn)
    moved = list(block.ops)
    moved_set = {nested for o in moved for nested in o.walk()}
    for arg, new in zip(block.args, fn.args):
        arg.replace_all_uses_with(new)
    for v, new in zip(passed, fn.args[len(block.args) :]):
        v.replace_uses_where(new, lambda use: use.op not in moved_set)
    for v in captured:
        if v in passed or not any(u.op in moved_set for u in v.uses):
            continue
        copy = fn.block.append(constant(constant_value(v), op.location, v.name_hint))
        v.replace_uses_where(copy.result, lambda use: use.op not in moved_set)
    for o in moved:
        o.detach()
        if o.name == "stablehlo.return":
            outputs = list(o.operands) + (list(fn.args[len(block.args) :]) if extra_outputs else [])
            o.drop_operands()
            fn.set_outputs(outputs, o.location)
        else:
            fn.block.append(o)
    return fn


def _check_types(values: Iterable[Value]) -> str | None:
    for v in values:
        if v.type.shape is None or v.type.dtype in ("resource", "variant", "none"):
            return f"a {v.type.dtype} value with unknown rank cannot cross a TFLite subgraph"
    return None


class LegalizeWhile(RewritePattern):
    """stablehlo.while(vars) ({cond}, {body}) -> tfl.while(vars, captured...){cond_subgraph_index
    = @cond, body_subgraph_index = @body}"""

    root = "stablehlo.while"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        cond, body = _region_block(op, 0), _region_block(op, 1)
        if cond is None or body is None:
            return rw.fail("cond/body must be single-block regions")
        captured = _captured([cond, body])
        if isinstance(captured, str):
            return rw.fail(captured)
        passed = [v for v in captured if constant_value(v) is None]
        if why := _check_types([*op.operands, *passed]):
            return rw.fail(why)
        if op.function is None:
            return rw.fail("not inside a function")
        cond_fn = _outline(op, cond, "while_cond", captured, extra_outputs=False)
        body_fn = _outline(op, body, "while_body", captured, extra_outputs=True)
        new = create_tfl(
            rw,
            "while",
            [*op.operands, *passed],
            [*op.result_types, *(v.type for v in passed)],
            cond_subgraph_index=SymbolRef(cond_fn.name),
            body_subgraph_index=SymbolRef(body_fn.name),
        )
        rw.replace(op, new.results[: len(op.results)])
        return None


class LegalizeCase(RewritePattern):
    """stablehlo.case(i) ({b0}, {b1}) -> tfl.if(i == 0, captured...){then = @b0, else = @b1}
    (an index out of range runs the last branch, as in StableHLO); stablehlo.if(p) ({t}, {e})
    -> tfl.if(p, captured...)"""

    root = ("stablehlo.case", "stablehlo.if")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if len(op.regions) != 2:
            return rw.fail(f"{len(op.regions)} branches (only 2 map to tfl.if)")
        branches = [_region_block(op, 0), _region_block(op, 1)]
        if branches[0] is None or branches[1] is None:
            return rw.fail("branches must be single-block regions")
        if any(b.args for b in branches):  # type: ignore[union-attr]
            return rw.fail("branch regions with arguments")
        captured = _captured(branches)  # type: ignore[arg-type]
        if isinstance(captured, str):
            return rw.fail(captured)
        passed = [v for v in captured if constant_value(v) is None]
        if why := _check_types([*op.results, *passed]):
            return rw.fail(why)
        index = op.operands[0]
        if index.type.shape != ():
            return rw.fail("the branch selector is not a scalar")
        if op.function is None:
            return rw.fail("not inside a function")
        if op.name == "stablehlo.if":
            pred = index
            then_block, else_block = branches
        else:
            zero = scalar_const(rw, 0, index.type.dtype)
            pred = create_tfl(rw, "equal", [index, zero], [TensorType((), "i1")]).result
            then_block, else_block = branches
        then_fn = _outline(op, then_block, "case_branch_0", captured, False)  # type: ignore[arg-type]
        else_fn = _outline(op, else_block, "case_branch_1", captured, False)  # type: ignore[arg-type]
        new = create_tfl(
            rw,
            "if",
            [pred, *passed],
            list(op.result_types),
            then_subgraph_index=SymbolRef(then_fn.name),
            else_subgraph_index=SymbolRef(else_fn.name),
        )
        rw.replace(op, new.results)
        return None


class RefuseCustomCall(RewritePattern):
    """stablehlo.custom_call -> (refused: no TFL builtin computes an opaque target)"""

    root = ("stablehlo.custom_call", "stablehlo.composite", "stablehlo.rng_bit_generator")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name == "stablehlo.rng_bit_generator":
            return rw.fail("random bits (rng_bit_generator) have no TFL builtin")
        target = op.attributes.get("call_target_name") or op.attributes.get("name")
        return rw.fail(f"{op.name[10:]} {target!r} has no TFL builtin")


PATTERNS: list[RewritePattern] = [LegalizeWhile(), LegalizeCase(), RefuseCustomCall()]
