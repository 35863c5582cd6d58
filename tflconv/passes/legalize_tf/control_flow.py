"""Legalization patterns: functional control flow, plus the function-level helpers the
`lower-tensor-lists` pass uses to prepare it.

TF imports loops and conditionals as ops naming module functions (`SymbolRef` attributes);
TFLite WHILE / IF name subgraphs the same way, so legalization is mostly a rename:

    tf.While/StatelessWhile(vars){cond, body}  -> tfl.while(vars){cond_subgraph_index, body_subgraph_index}
    tf.If/StatelessIf(c, args){then, else}     -> tfl.if(c, args){then_subgraph_index, else_subgraph_index}

TFLite wants a bool scalar predicate (the WHILE cond subgraph output, the IF condition); TF
also accepts numbers (nonzero is true) and one-element tensors, which are normalized here.
`tf.Case` has no TFLite builtin; `lower-tensor-lists` expands it into a chain of `tf.If` first.
Loops that still carry TensorLists or resources are refused with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant
from tflconv.core.opdef import is_pure
from tflconv.core.passes import PassContext
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import SymbolRef, TensorType, TypeAttr

from .common import constant_value

WHILE_OPS = ("tf.While", "tf.StatelessWhile")
IF_OPS = ("tf.If", "tf.StatelessIf")
CASE_OPS = ("tf.Case", "tf.StatelessCase")
CALL_OPS = ("tf.PartitionedCall", "tf.StatefulPartitionedCall")
IDENTITY_OPS = ("tf.Identity", "tf.Snapshot", "tf.StopGradient")
UNSUPPORTED_CARRIED = ("variant", "resource")


# --- small function-level utilities ---------------------------------------------------------


def callee_names(op: Operation) -> list[tuple[Any, str]]:
    """(attribute key, function name) of the functions a control-flow op calls; the key is
    the attribute name, or (attribute, position) inside a list attribute."""
    keys = {
        **dict.fromkeys(WHILE_OPS, ("cond", "body")),
        **dict.fromkeys(IF_OPS, ("then_branch", "else_branch")),
        **dict.fromkeys(CALL_OPS, ("f",)),
    }.get(op.name)
    if keys is not None:
        return [(k, op.attributes[k].name) for k in keys]
    if op.name in CASE_OPS:
        return [(("branches", i), ref.name) for i, ref in enumerate(op.attributes["branches"])]
    return []


def _refs(value: Any) -> list[str]:
    if isinstance(value, SymbolRef):
        return [value.name]
    if isinstance(value, (list, tuple)):
        return [r.name for r in value if isinstance(r, SymbolRef)]
    return []


def reference_counts(module: Module) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in module.walk():
        for value in op.attributes.values():
            for name in _refs(value):
                counts[name] = counts.get(name, 0) + 1
    return counts


def remove_unreferenced(module: Module, candidates: set[str]) -> None:
    """Remove the functions named in `candidates` that no op references (to a fixpoint:
    removing a loop body can unreference the functions of a loop nested in it)."""
    while True:
        counts = reference_counts(module)
        dead = [
            f
            for f in module.functions
            if f.name in candidates
            and not counts.get(f.name)
            and not f.attributes.get("entry")
            and f is not module.functions[0]  # the main subgraph
        ]
        if not dead:
            return
        for fn in dead:
            module.remove_function(fn)


def join_types(a: TensorType, b: TensorType) -> TensorType | None:
    """The most specific type both fit (dims that differ become dynamic); None when the
    element types differ."""
    if a.dtype != b.dtype:
        return None
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return TensorType(None, a.dtype)
    return TensorType(tuple(x if x == y else None for x, y in zip(a.shape, b.shape)), a.dtype)


def own_callees(module: Module, op: Operation, counts: dict[str, int] | None = None) -> None:
    """Clone the functions `op` calls that other ops call too, so their signatures can change."""
    counts = reference_counts(module) if counts is None else counts
    for key, name in callee_names(op):
        if counts.get(name, 0) <= 1:
            continue
        clone = module.function(name).clone(module.unique_function_name(name))
        clone.attributes.pop("entry", None)
        module.add_function(clone)
        counts[name] -= 1
        counts[clone.name] = 1
        _set_callee(op, key, clone.name)


def _set_callee(op: Operation, key: Any, name: str) -> None:
    if isinstance(key, tuple):
        attr, i = key
        refs = list(op.attributes[attr])
        refs[i] = SymbolRef(name)
        op.attributes[attr] = refs
    else:
        op.attributes[key] = SymbolRef(name)


def _through_identity(value: Value) -> Value:
    while value.defining_op is not None and value.defining_op.name in IDENTITY_OPS:
        value = value.defining_op.operands[0]
    return value


def _filter_list_attrs(attrs: dict[str, Any], keys: tuple[str, ...], drop: set[int]) -> None:
    for key in keys:
        if isinstance(attrs.get(key), list):
            attrs[key] = [x for i, x in enumerate(attrs[key]) if i not in drop]


# --- sinking constant operands into callees -------------------------------------------------


def _replace_arg_with_constant(fn: Function, index: int, array: np.ndarray, like: Value) -> None:
    arg = fn.args[index]
    if not arg.uses:
        return
    producer = like.defining_op
    op = constant(
        array,
        producer.location if producer is not None else fn.block.first_op.location,
        like.name_hint,
        like.type,
    )
    first = fn.block.first_op
    if first is None:
        fn.block.append(op)
    else:
        fn.block.insert_before(op, first)
    arg.replace_all_uses_with(op.result)


def _sink_while(module: Module, op: Operation, counts: dict[str, int]) -> bool:
    cond = module.function(op.attributes["cond"].name)
    body = module.function(op.attributes["body"].name)
    outs = body.outputs
    drop = []
    for i, value in enumerate(op.operands):
        if constant_value(value) is None or i >= len(outs):
            continue
        if _through_identity(outs[i]) is body.args[i]:  # loop-invariant
            drop.append(i)
    if not drop:
        return False
    own_callees(module, op, counts)
    cond = module.function(op.attributes["cond"].name)
    body = module.function(op.attributes["body"].name)
    for i in drop:
        array = constant_value(op.operands[i])
        for fn in (cond, body):
            _replace_arg_with_constant(fn, i, array, op.operands[i])
    drop_set = set(drop)
    body.set_outputs([v for i, v in enumerate(body.outputs) if i not in drop_set])
    for fn in (cond, body):
        for i in sorted(drop, reverse=True):
            fn.block.erase_arg(i)
    _rebuild_without(op, drop_set, drop_results=True)
    return True


def _sink_branches(module: Module, op: Operation, counts: dict[str, int]) -> bool:
    offset = 0 if op.name in CALL_OPS else 1
    drop = [
        i - offset
        for i, v in enumerate(op.operands)
        if i >= offset and constant_value(v) is not None
    ]
    if not drop:
        return False
    own_callees(module, op, counts)
    for _, name in callee_names(op):
        fn = module.function(name)
        for i in drop:
            _replace_arg_with_constant(
                fn, i, constant_value(op.operands[i + offset]), op.operands[i + offset]
            )
        for i in sorted(drop, reverse=True):
            fn.block.erase_arg(i)
    _rebuild_without(op, {i + offset for i in drop}, drop_results=False)
    return True


def _rebuild_without(op: Operation, drop: set[int], drop_results: bool) -> Operation:
    """Replace `op` by a copy without operands `drop` (and results, for loops)."""
    attrs = dict(op.attributes)
    offset = 1 if op.name in IF_OPS else 0
    if drop_results:
        _filter_list_attrs(attrs, ("T", "output_shapes"), drop)
        if "_num_original_outputs" in attrs:
            attrs["_num_original_outputs"] = len(op.results) - len(drop)
    else:
        _filter_list_attrs(attrs, ("Tin", "Tinputs"), {i - offset for i in drop})
    keep_results = [r for i, r in enumerate(op.results) if not (drop_results and i in drop)]
    new = Operation(
        op.name,
        [v for i, v in enumerate(op.operands) if i not in drop],
        [r.type for r in keep_results],
        attrs,
        location=op.location,
        result_names=[r.name_hint for r in keep_results],
    )
    op.parent.insert_before(new, op)
    for i, r in enumerate(op.results):
        if drop_results and i in drop:
            r.replace_all_uses_with(op.operands[i])  # the loop never changes it
    for old, fresh in zip(keep_results, new.results):
        old.replace_all_uses_with(fresh)
    op.erase()
    return new


# --- dropping loop values nothing needs ----------------------------------------------------------


def _live_args(cond: Function, body: Function, needed: set[int]) -> tuple[set[int], set]:
    """Grow `needed` (loop value indices) to a fixpoint: a value is needed when its result
    is used, cond reads it, or a needed body output or a side-effecting body op depends on
    it. Returns the indices and the live body ops."""
    needed = set(needed) | {i for i, a in enumerate(cond.args) if a.uses}
    roots = [op for op in body.ops if op.name != "func.return" and not is_pure(op)]
    live: set = set()
    while True:
        stack = list(roots) + [body.outputs[i] for i in needed]
        args: set[int] = set()
        while stack:
            item = stack.pop()
            if isinstance(item, Operation):
                if item in live:
                    continue
                live.add(item)
                stack.extend(item.operands)
                continue
            producer = item.defining_op
            if producer is None:
                if item.owner is body.block:
                    args.add(item.index)
            elif producer not in live:
                stack.append(producer)
        if args <= needed:
            return needed, live
        needed |= args


def _prune_while(module: Module, op: Operation, counts: dict[str, int]) -> bool:
    cond = module.function(op.attributes["cond"].name)
    body = module.function(op.attributes["body"].name)
    used = {i for i, r in enumerate(op.results) if r.uses}
    needed, live = _live_args(cond, body, used)
    drop = set(range(op.num_operands)) - needed
    if not drop or not needed:
        return False
    if counts.get(cond.name, 0) > 1 or counts.get(body.name, 0) > 1:
        own_callees(module, op, counts)
        cond = module.function(op.attributes["cond"].name)
        body = module.function(op.attributes["body"].name)
        needed, live = _live_args(cond, body, used)
    body.set_outputs([v for i, v in enumerate(body.outputs) if i not in drop])
    for dead in reversed([o for o in body.ops if o.name != "func.return"]):
        if dead not in live and not dead.has_users():
            dead.erase()
    if any(body.args[i].uses or cond.args[i].uses for i in drop):
        raise RuntimeError(f"{op.name}: a dropped loop value is still used")
    for fn in (cond, body):
        for i in sorted(drop, reverse=True):
            fn.block.erase_arg(i)
    _rebuild_without(op, drop, drop_results=True)
    return True


def sink_constant_operands(module: Module, ctx: PassContext, prune: bool = True) -> bool:
    """Constant loop-invariant tf.While operands and constant tf.If/call operands are cloned
    into the callees and removed from the op (the official converter captures them
    implicitly and clones them into the outlined subgraphs). With `prune`, loop values that
    nothing needs (unused results not read by cond, like the loop counter tf.while_loop
    adds) are dropped too, like the official ReduceWhileOperandsPass."""
    changed = False
    for _ in range(16):  # nested loops expose new constants one level per round
        counts = reference_counts(module)
        progress = False
        for fn in list(module.functions):
            for op in list(fn.walk()):
                if op.parent is None:
                    continue
                changed_op = False
                if op.name in WHILE_OPS:
                    changed_op = _sink_while(module, op, counts)
                    if op.parent is not None and prune:
                        changed_op |= _prune_while(module, op, counts)
                elif op.name in IF_OPS or op.name in CALL_OPS:
                    changed_op = _sink_branches(module, op, counts)
                if changed_op:  # callees may have been cloned: count the references again
                    counts = reference_counts(module)
                    progress = True
        if not progress:
            break
        ctx.stats["constant operands sunk"] += 1
        changed = True
    return changed


# --- tf.Case -> chain of tf.If ------------------------------------------------------------------


def _with_index_arg(module: Module, name: str, index_type: TensorType) -> Function:
    """A copy of branch `name` taking one more (unused) argument: the branch index."""
    clone = module.function(name).clone(module.unique_function_name(name))
    clone.attributes.pop("entry", None)
    clone.block.add_arg(index_type, "branch_index")
    module.add_function(clone)
    return clone


def _equals(block_op: Operation, index: Value, k: int, before: Operation | None = None) -> Value:
    """Insert `tfl.equal(index, k)` before `before` (or at the end of the block of `block_op`)."""
    k_op = constant(np.array(k, dtype=np.int64 if index.type.dtype == "i64" else np.int32))
    eq = Operation(
        "tfl.equal", [index, k_op.result], [TensorType((), "i1")], location=block_op.location
    )
    block = block_op.parent if before is None else before.parent
    if before is None:
        block.insert_before(k_op, block_op)
        block.insert_before(eq, block_op)
    else:
        block.insert_before(k_op, before)
        block.insert_before(eq, before)
    return eq.result


def _if_op(cond: Value, operands: list[Value], then: str, els: str, like: Operation) -> Operation:
    return Operation(
        "tf.StatelessIf" if like.name == "tf.StatelessCase" else "tf.If",
        [cond, *operands],
        like.result_types,
        {
            "then_branch": SymbolRef(then),
            "else_branch": SymbolRef(els),
            "Tcond": TypeAttr("i1"),
            "Tin": [TypeAttr(v.type.dtype) for v in operands],
            "Tout": [TypeAttr(t.dtype) for t in like.result_types],
        },
        location=like.location,
        result_names=[r.name_hint for r in like.results],
    )


def expand_case_ops(module: Module, ctx: PassContext) -> bool:
    """tf.Case(i, args){b0..bn-1} -> If(i==0){b0} else If(i==1){b1} ... else {bn-1}.

    An out-of-range index runs the last branch, as in TF. Every If of the chain passes the
    index along as a last operand, so the branch copies take it as an extra unused argument."""
    changed = False
    originals: set[str] = set()
    for fn in list(module.functions):
        for op in list(fn.walk()):
            if op.name not in CASE_OPS:
                continue
            index, inputs = op.operands[0], list(op.operands[1:])
            names = [ref.name for ref in op.attributes["branches"]]
            originals.update(names)
            it = index.type
            thens = [_with_index_arg(module, n, it) for n in names]
            # Build from the innermost else outwards.
            else_name = thens[-1].name
            for k in range(len(names) - 2, 0, -1):
                wrapper = Function(
                    module.unique_function_name(f"{fn.name}_case_{k}"),
                    [v.type for v in inputs] + [it],
                    [v.name_hint for v in inputs] + ["branch_index"],
                )
                module.add_function(wrapper)
                args = list(wrapper.args)
                ret = wrapper.set_outputs([], op.location)
                cond = _equals(ret, args[-1], k)
                inner = _if_op(cond, args, thens[k].name, else_name, op)
                wrapper.block.insert_before(inner, ret)
                ret.set_operands(inner.results)
                else_name = wrapper.name
            cond = const_true(op) if len(names) == 1 else _equals(op, index, 0)
            outer = _if_op(cond, [*inputs, index], thens[0].name, else_name, op)
            op.parent.insert_before(outer, op)
            for old, new in zip(op.results, outer.results):
                old.replace_all_uses_with(new)
            op.erase()
            ctx.stats["tf.Case expanded"] += 1
            changed = True
    if changed:
        remove_unreferenced(module, originals)
    return changed


def const_true(before: Operation) -> Value:
    c = constant(np.array(True))
    before.parent.insert_before(c, before)
    return c.result


# --- legalization patterns ---------------------------------------------------------------------


def _carried_problem(values: tuple[Value, ...] | list[Value]) -> str | None:
    for v in values:
        if v.type.dtype in UNSUPPORTED_CARRIED:
            return (
                f"carries a {v.type.dtype} value ({v.name_hint or '?'}); TensorLists are "
                "lowered by the lower-tensor-lists pass, resources are not supported"
            )
    return None


def _bool_scalar(rw: PatternRewriter, value: Value, before: Operation) -> Value | str:
    """`value` as a bool scalar (TF: nonzero numbers are true), or a refusal reason."""
    t = value.type
    if t.shape is not None and t.num_elements not in (None, 1):
        return f"predicate has shape {t.shape}, TFLite needs one element"
    if t.dtype != "i1":
        if t.dtype in ("string", "variant", "resource", "none"):
            return f"predicate of type {t.dtype} is not supported"
        zero = rw.insert(constant(np.zeros((), dtype=_np(t.dtype))), before=before).result
        value = rw.create(
            "tfl.not_equal", [value, zero], [t.with_dtype("i1")], before=before
        ).result
    if value.type.shape != ():
        shape = rw.insert(constant(np.zeros((0,), np.int32)), before=before).result
        value = rw.create(
            "tfl.reshape", [value, shape], [TensorType((), "i1")], before=before
        ).result
    return value


def _np(dtype: str) -> Any:
    from tflconv.core.types import numpy_dtype

    return numpy_dtype(dtype)


def _function(op: Operation, name: str) -> Function | None:
    fn = op.function
    module = fn.module if fn is not None else None
    if module is None:
        return None
    try:
        return module.function(name)
    except KeyError:
        return None


class LegalizeWhile(RewritePattern):
    """tf.While/StatelessWhile(vars){cond, body} -> tfl.while(vars){cond_subgraph_index, body_subgraph_index}"""

    root = WHILE_OPS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        problem = _carried_problem(op.operands)
        if problem:
            return rw.fail(problem)
        cond = _function(op, op.attributes["cond"].name)
        body = _function(op, op.attributes["body"].name)
        if cond is None or body is None:
            return rw.fail("cond/body function not found in the module")
        if len(cond.args) != op.num_operands or len(body.args) != op.num_operands:
            return rw.fail("cond/body take a different number of values than the loop carries")
        if len(body.outputs) != op.num_operands or len(cond.outputs) != 1:
            return rw.fail("body must return every loop value and cond one predicate")
        pred = cond.outputs[0]
        fixed = _bool_scalar(rw, pred, cond.return_op)
        if isinstance(fixed, str):
            return rw.fail(f"cond {fixed}")
        if fixed is not pred:
            rw.set_operand(cond.return_op, 0, fixed)
        rw.replace_with_new(
            op,
            "tfl.while",
            list(op.operands),
            {
                "cond_subgraph_index": SymbolRef(cond.name),
                "body_subgraph_index": SymbolRef(body.name),
            },
        )


class LegalizeIf(RewritePattern):
    """tf.If/StatelessIf(c, args){then, else} -> tfl.if(c, args){then_subgraph_index, else_subgraph_index}"""

    root = IF_OPS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        problem = _carried_problem(list(op.operands[1:]) + list(op.results))
        if problem:
            return rw.fail(problem)
        then = _function(op, op.attributes["then_branch"].name)
        els = _function(op, op.attributes["else_branch"].name)
        if then is None or els is None:
            return rw.fail("then/else function not found in the module")
        for fn in (then, els):
            if len(fn.args) != op.num_operands - 1 or len(fn.outputs) != len(op.results):
                return rw.fail(f"@{fn.name} signature does not match the If op")
        pred = _bool_scalar(rw, op.operands[0], op)
        if isinstance(pred, str):
            return rw.fail(pred)
        rw.replace_with_new(
            op,
            "tfl.if",
            [pred, *op.operands[1:]],
            {
                "then_subgraph_index": SymbolRef(then.name),
                "else_subgraph_index": SymbolRef(els.name),
            },
        )


class RefuseCase(RewritePattern):
    """tf.Case -> (nothing: the lower-tensor-lists pass expands it into tf.If chains)"""

    root = CASE_OPS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        rw.fail("tf.Case is expanded into tf.If by the lower-tensor-lists pass; run it first")


LOWERED_LIST_OPS = frozenset(
    {
        "tf.TensorListReserve",
        "tf.EmptyTensorList",
        "tf.TensorListFromTensor",
        "tf.TensorListStack",
        "tf.TensorListGetItem",
        "tf.TensorListGather",
        "tf.TensorListSetItem",
        "tf.TensorListPushBack",
        "tf.TensorListPopBack",
        "tf.TensorListLength",
        "tf.TensorListElementShape",
        "tf.TensorListResize",
        "tf.TensorListConcat",
        "tf.TensorListConcatV2",
        "tf.TensorListSplit",
        "tf.TensorListScatterIntoExistingList",
    }
)
"""TensorList ops `lower-tensor-lists` knows (kept here to explain the ones left over)."""


OTHER_LIST_OPS = (
    "tf.TensorListPushBackBatch",
    "tf.TensorListScatter",
    "tf.TensorListScatterV2",
    "tf.TensorListConcatLists",
)


class ExplainTensorList(RewritePattern):
    """tf.TensorList* -> (nothing: says why lower-tensor-lists left it, for the legality report)"""

    root = tuple(sorted(LOWERED_LIST_OPS)) + OTHER_LIST_OPS

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.name in LOWERED_LIST_OPS:
            return rw.fail(
                "lower-tensor-lists left this list op: the list comes from an op it cannot "
                "lower, its element rank is unknown, or the element type is not supported "
                "(TensorListResize: string elements; TensorListConcat*: a dynamic element "
                "length; TensorListSplit: unequal lengths)"
            )
        return rw.fail(f"{op.name} is not lowered by lower-tensor-lists (no TFLite builtin)")


PATTERNS: list[RewritePattern] = [LegalizeWhile(), LegalizeIf(), RefuseCase(), ExplainTensorList()]

__all__ = [
    "CALL_OPS",
    "CASE_OPS",
    "IF_OPS",
    "PATTERNS",
    "WHILE_OPS",
    "callee_names",
    "expand_case_ops",
    "join_types",
    "remove_unreferenced",
    "sink_constant_operands",
]
