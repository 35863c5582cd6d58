"""Control flow: stablehlo.while -> tfl.while, stablehlo.case (2 branches) / stablehlo.if ->
tfl.if, the regions moved into functions of the module (TFLite subgraphs). Composites: the
"chlo.top_k" composite -> tfl.topk_v2, any other -> its decomposition inlined; custom_call /
rng_bit_generator refused with the reason.

StableHLO regions may read values of the enclosing function (JAX hoists constants out of
loop bodies). Captured constants are copied into the new function; other captured values
become extra operands: loop-carried values passed through unchanged for tfl.while, branch
inputs for tfl.if. The pass converts the new functions in a further round (the conversion
driver only walks the functions it started with).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tflconv.core.ir import Block, Function, Operation, Value, constant, constant_value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import SymbolRef, TensorType, numpy_dtype
from tflconv.dialects.tfl_kernels import kernel_dtype_reason

from ..legalize_tf.common import create_tfl, scalar_const


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


def _inline_invariant_constants(op: Operation, cond: Block, body: Block) -> None:
    """A constant the loop carries unchanged (JAX carries a scan's weights) is read from a copy
    inside cond and body, so their ops see a constant (a matmul by it becomes
    FULLY_CONNECTED); the loop still carries it, the body's return still passes it through."""
    ret = body.terminator
    assert ret is not None
    for i, v in enumerate(op.operands):
        value = constant_value(v)
        if value is None or ret.operands[i] is not body.args[i]:
            continue
        for block in (cond, body):
            arg = block.args[i]
            if all(use.op is ret for use in arg.uses):
                continue
            first = block.first_op
            assert first is not None  # a terminator at least
            copy = constant(value, op.location, v.name_hint)
            block.insert_before(copy, first)
            arg.replace_uses_where(copy.result, lambda use: use.op is ret)


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
        _inline_invariant_constants(op, cond, body)
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


def _else_chain(
    op: Operation, branches: list[Function], index_type: TensorType, arg_types: list[TensorType]
) -> str:
    """Functions (captured..., index) -> results testing index == 1, 2, ... in turn with
    tfl.if, the last branch when none matches; returns the name of the first."""
    module = op.function.module  # type: ignore[union-attr]
    assert module is not None
    name = branches[-1].name
    for i in range(len(branches) - 2, 0, -1):
        fn = module.add_function(
            Function(module.unique_function_name(f"case_from_{i}"), [*arg_types, index_type])
        )
        k = fn.block.append(constant(np.asarray(i, numpy_dtype(index_type.dtype)), op.location))
        eq = fn.block.append(
            Operation(
                "tfl.equal", [fn.args[-1], k.result], [TensorType((), "i1")], location=op.location
            )
        )
        branch = fn.block.append(
            Operation(
                "tfl.if",
                [eq.result, *fn.args],
                list(op.result_types),
                {
                    "then_subgraph_index": SymbolRef(branches[i].name),
                    "else_subgraph_index": SymbolRef(name),
                },
                location=op.location,
            )
        )
        fn.set_outputs(branch.results, op.location)
        name = fn.name
    return name


class LegalizeCase(RewritePattern):
    """stablehlo.case(i) ({b0}, {b1}) -> tfl.if(i == 0, captured...){then = @b0, else = @b1}
    (an index out of range runs the last branch, as in StableHLO; more branches chain further
    tfl.ifs on i == 1, 2, ...); stablehlo.if(p) ({t}, {e}) -> tfl.if(p, captured...)"""

    root = ("stablehlo.case", "stablehlo.if")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        n = len(op.regions)
        if n < 2 or (op.name == "stablehlo.if" and n != 2):
            return rw.fail(f"{n} branches")
        branches = [_region_block(op, i) for i in range(n)]
        if any(b is None for b in branches):
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
        else:
            zero = scalar_const(rw, 0, index.type.dtype)
            pred = create_tfl(rw, "equal", [index, zero], [TensorType((), "i1")]).result
        fns = [
            _outline(op, b, f"case_branch_{i}", captured, False)  # type: ignore[arg-type]
            for i, b in enumerate(branches)
        ]
        inputs = list(passed)
        if n > 2:  # every branch of the chain takes the index too (TFLite IF passes the same)
            for fn in fns:
                fn.block.add_arg(index.type, "index")
            inputs.append(index)
            else_name = _else_chain(op, fns, index.type, [v.type for v in passed])
        else:
            else_name = fns[1].name
        new = create_tfl(
            rw,
            "if",
            [pred, *inputs],
            list(op.result_types),
            then_subgraph_index=SymbolRef(fns[0].name),
            else_subgraph_index=SymbolRef(else_name),
        )
        rw.replace(op, new.results)
        return None


class LegalizeTopK(RewritePattern):
    """stablehlo.composite "chlo.top_k"(x){k} -> tfl.topk_v2(x, k) (the last dim, descending,
    ties in index order; the i32 indices cast when the composite gives i64)"""

    root = "stablehlo.composite"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.attributes.get("name") != "chlo.top_k":
            return rw.fail("not a chlo.top_k composite")
        k = (op.attributes.get("composite_attributes") or {}).get("k")
        x = op.operands[0] if op.num_operands == 1 else None
        if x is None or not isinstance(k, int) or len(op.results) != 2:
            return rw.fail("top_k needs one operand, an integer k and two results")
        if why := kernel_dtype_reason("tfl.topk_v2", x):
            return rw.fail(why)
        values_t, index_t = op.result_types
        if index_t.dtype not in ("i32", "i64"):
            return rw.fail(f"top_k indices of type {index_t.dtype}")
        top = create_tfl(
            rw, "topk_v2", [x, scalar_const(rw, k, "i32")], [values_t, index_t.with_dtype("i32")]
        )
        index = top.results[1]
        if index_t.dtype != "i32":
            index = create_tfl(rw, "cast", [index], [index_t]).result
        rw.replace(op, [top.results[0], index])
        return None


class InlineComposite(RewritePattern):
    """stablehlo.composite(args){decomposition = @f} -> the body of @f inlined (a composite
    no pattern maps to a builtin runs as its decomposition)"""

    root = "stablehlo.composite"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        ref = op.attributes.get("decomposition")
        fn = op.function
        module = fn.module if fn is not None else None
        if not isinstance(ref, SymbolRef) or module is None:
            return rw.fail("no decomposition function")
        try:
            body = module.function(ref.name)
        except Exception:  # noqa: BLE001 - the module raises its own error type
            return rw.fail(f"decomposition @{ref.name} is not in the module")
        if len(body.block.args) != op.num_operands or len(body.outputs) != len(op.results):
            return rw.fail("the decomposition's signature does not match the composite")
        mapping: dict[Value, Value] = dict(zip(body.block.args, op.operands))
        for inner in body.ops:
            if inner.name == "func.return":
                continue
            rw.insert(inner.clone(mapping))
        rw.replace(op, [mapping.get(v, v) for v in body.outputs])
        return None


class RefuseCustomCall(RewritePattern):
    """stablehlo.custom_call -> (refused: no TFL builtin computes an opaque target)"""

    root = ("stablehlo.custom_call", "stablehlo.rng_bit_generator")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name == "stablehlo.rng_bit_generator":
            return rw.fail("random bits (rng_bit_generator) have no TFL builtin")
        target = op.attributes.get("call_target_name")
        return rw.fail(f"custom_call {target!r} has no TFL builtin")


PATTERNS: list[RewritePattern] = [
    LegalizeWhile(),
    LegalizeCase(),
    LegalizeTopK(),
    InlineComposite(),
    RefuseCustomCall(),
]
