"""`lower-tensor-lists`: TensorList values become plain tensors `[num_elements, *element_shape]`.

TF's `tf.TensorArray` (Keras RNN layers, `tf.while_loop` collecting per-step outputs) is a
`variant` handle manipulated by `tf.TensorList*` ops and carried through `tf.While` loops.
TFLite has no list type, so, like the official `LowerStaticTensorListPass`, each list becomes
the tensor of its stacked elements:

    TensorListReserve(shape, n) -> tfl.fill([n, *shape], 0)   (unknown dims start as 1)
    EmptyTensorList(shape)      -> tfl.fill([0, *shape], 0)
    TensorListFromTensor(t)     -> t
    TensorListStack(l)          -> l
    TensorListGetItem(l, i)     -> tfl.gather(l, i)
    TensorListGather(l, idx)    -> tfl.gather(l, idx)
    TensorListSetItem(l, i, x)  -> tfl.dynamic_update_slice(l, x[None], [i, 0, ...])
    TensorListPushBack(l, x)    -> tfl.concatenation(l, x[None])
    TensorListScatterIntoExistingList(l, t, idx) -> select(scatter_nd(idx, 1) > 0, scatter_nd(idx, t), l)
    TensorListPopBack(l)        -> (l[:-1], l[-1])
    TensorListLength(l)         -> shape(l)[0];  TensorListElementShape(l) -> shape(l)[1:]
    TensorListResize(l, k)      -> slice(pad(l, [[0, max(k - len, 0)], ...]), 0, [k, -1, ...])
    TensorListConcatV2(l)       -> (reshape(l, [n * d0, *rest]), lengths = fill([n], d0)), d0 static
    TensorListSplit(t, lengths) -> reshape(t, [k, L, *rest]) for k equal constant lengths L

Unlike the official pass, an element shape with unknown dims (Keras RNNs with a dynamic batch:
element shape [-1, units]) does not fail: the list starts with size 1 in those dims and every
write first broadcasts the list to the item's shape (`tfl.broadcast_to(l, max(shape(l),
shape(x[None])))`). Zeros broadcast to zeros, so the first write sizes the list and later
writes leave it as is. Loops carry the list with the dims that change marked dynamic.

Lists cross function boundaries through `tf.While`/`tf.If`/calls: when a loop carries a list,
its cond and body are cloned into specialized functions whose arguments have the tensor type,
lowered, and the loop-carried type is widened until the body's outputs fit its inputs (a
fixpoint: `[5,1,4]` in, `[5,?,4]` out gives `[5,?,4]`). The original functions are removed when
nothing references them anymore.

The pass also prepares functional control flow for legalization (see
`passes/legalize_tf/control_flow.py`): `tf.Case` becomes a chain of `tf.If`, functions shared by
several control-flow ops are cloned before their signatures change, and constant loop operands
that the body passes through unchanged (frozen Keras weights) are sunk into cond/body and
dropped from the loop, so the legalizer sees constant weights inside the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter
from tflconv.core.types import SymbolRef, TensorType, TypeAttr, numpy_dtype
from tflconv.dialects import tf as _tf_dialect  # noqa: F401  (purity of tf ops)
from tflconv.dialects.tfl_kernels import kernel_accepts

from .legalize_tf.common import const, constant_value, create_tfl
from .legalize_tf.control_flow import (
    CALL_OPS,
    IF_OPS,
    WHILE_OPS,
    callee_names,
    expand_case_ops,
    join_types,
    remove_unreferenced,
    sink_constant_operands,
)
from .tensor_list_shapes import (
    I32,
    PASSTHROUGH_OPS,
    as_i32,
    broadcast_list,
    concat,
    elem_type,
    element_shape,
    expand0,
    infer_element_shape,
    list_length,
    shape_of,
    slice1,
    to_vec1,
)

MAX_WIDENINGS = 4
"""Rounds of widening loop-carried list types; each round makes at least one dim dynamic."""


def is_list(value: Value) -> bool:
    return value.type.dtype == "variant"


def _vec(dims: list[int | None] | tuple[int | None, ...]) -> tuple[int | None, ...]:
    return tuple(dims)


class ListLowering:
    """Lowers every TensorList op of a module; see the module docstring."""

    def __init__(self, module: Module, ctx: PassContext) -> None:
        self.module = module
        self.ctx = ctx
        self.rw = PatternRewriter(ctx.listener)
        self.done: set[int] = set()
        self.superseded: set[str] = set()
        self.changed = False

    # --- driving ----------------------------------------------------------------------------
    def run(self) -> bool:
        entries = [f for f in self.module.functions if f.attributes.get("entry")]
        first = self.module.functions[:1]
        order = entries or first
        for fn in order + [f for f in self.module.functions if f not in order]:
            # Originals replaced by specialized copies are dropped below, not lowered.
            if fn.module is self.module and fn.name not in self.superseded:
                self.lower_function(fn)
        if self.superseded:
            remove_unreferenced(self.module, self.superseded)
        return self.changed

    def lower_function(self, fn: Function) -> None:
        """Lower the list ops of `fn` whose list operands are already tensors."""
        if id(fn) in self.done:
            return
        self.done.add(id(fn))
        for op in list(fn.ops):
            if op.parent is None:
                continue
            handler = LOWERINGS.get(op.name)
            if handler is not None:
                if op.operands and op.name not in CREATORS and is_list(op.operands[0]):
                    self.ctx.stats["tensor-list ops left (list not lowered)"] += 1
                    continue
                self.rw.current = op
                if handler(self, op) is not False:
                    self.changed = True
                    self.ctx.stats["tensor-list ops lowered"] += 1
            elif op.name in WHILE_OPS:
                self.lower_while(op)
            elif op.name in IF_OPS or op.name in CALL_OPS:
                self.lower_branches(op)
            elif (
                op.name in PASSTHROUGH_OPS
                and any(is_list(r) for r in op.results)
                and not any(is_list(v) for v in op.operands)
            ):
                self.rw.current = op
                self.rw.replace(op, list(op.operands[: len(op.results)]))
                self.changed = True

    # --- control flow -------------------------------------------------------------------------
    def lower_while(self, op: Operation) -> None:
        cond = self.module.function(op.attributes["cond"].name)
        body = self.module.function(op.attributes["body"].name)
        list_idx = [i for i, a in enumerate(body.args) if a.type.dtype == "variant"]
        if not list_idx:
            self.lower_function(cond)
            self.lower_function(body)
            return
        if any(is_list(op.operands[i]) for i in list_idx):
            return  # the list producer could not be lowered; leave the loop as is
        arg_types = [
            op.operands[i].type if i in list_idx else a.type for i, a in enumerate(body.args)
        ]
        for _ in range(MAX_WIDENINGS):
            new_cond = self._specialize(cond, arg_types)
            new_body = self._specialize(body, arg_types)
            outs = new_body.output_types
            widened = list(arg_types)
            for i in list_idx:
                widened[i] = join_types(arg_types[i], outs[i]) or TensorType(
                    None, arg_types[i].dtype
                )
            if widened == arg_types:
                break
            arg_types = widened
        else:
            raise RuntimeError(f"loop-carried list types of {op.name} do not settle")
        self._install(op, {"cond": new_cond, "body": new_body}, (cond, body))
        result_types = [arg_types[i] if i in list_idx else r.type for i, r in enumerate(op.results)]
        self._retype(op, result_types, list_idx)

    def lower_branches(self, op: Operation) -> None:
        """tf.If / calls: specialize the callees to the lowered operand types."""
        offset = 1 if op.name in IF_OPS else 0
        inputs = op.operands[offset:]
        names = callee_names(op)
        callees = [self.module.function(n) for _, n in names]
        list_idx = [i for i, a in enumerate(callees[0].args) if a.type.dtype == "variant"]
        if not list_idx:
            for fn in callees:
                self.lower_function(fn)
            return
        if any(is_list(inputs[i]) for i in list_idx):
            return
        arg_types = [
            inputs[i].type if i in list_idx else a.type for i, a in enumerate(callees[0].args)
        ]
        specialized = [self._specialize(fn, arg_types) for fn in callees]
        result_types = list(op.result_types)
        changed_results = []
        for k, r in enumerate(op.results):
            if r.type.dtype != "variant":
                continue
            joined: TensorType | None = specialized[0].output_types[k]
            for fn in specialized[1:]:
                joined = join_types(joined, fn.output_types[k]) if joined else None
            result_types[k] = joined or TensorType(None, specialized[0].output_types[k].dtype)
            changed_results.append(k)
        self._install(op, dict(zip([key for key, _ in names], specialized)), callees)
        self._retype(op, result_types, changed_results)

    def _specialize(self, fn: Function, arg_types: list[TensorType]) -> Function:
        """A lowered copy of `fn` whose arguments have `arg_types`."""
        clone = fn.clone(self.module.unique_function_name(fn.name))
        for arg, t in zip(clone.args, arg_types):
            arg.type = t
        self.lower_function(clone)
        return clone

    def _install(self, op: Operation, new: dict, old: tuple | list) -> None:
        """Point `op` at the specialized functions (keys: attribute names, or (attr, i))."""
        for fn in new.values():
            fn.name = self.module.unique_function_name(fn.name)
            self.module.add_function(fn)
        with self.rw.modify(op):
            for key, fn in new.items():
                if isinstance(key, tuple):
                    attr, i = key
                    refs = list(op.attributes[attr])
                    refs[i] = SymbolRef(fn.name)
                    op.attributes[attr] = refs
                else:
                    op.attributes[key] = SymbolRef(fn.name)
        self.superseded.update(f.name for f in old)
        self.changed = True

    def _retype(self, op: Operation, result_types: list[TensorType], changed: list[int]) -> None:
        """Replace `op` by a copy whose results have `result_types`."""
        attrs = dict(op.attributes)
        for key in ("T", "Tout"):
            if isinstance(attrs.get(key), list):
                types = list(attrs[key])
                for i in changed:
                    if i < len(types):
                        types[i] = TypeAttr(result_types[i].dtype)
                attrs[key] = types
        if "Tin" in attrs and isinstance(attrs["Tin"], list):
            offset = 1 if op.name in IF_OPS else 0
            attrs["Tin"] = [TypeAttr(v.type.dtype) for v in op.operands[offset:]]
        if isinstance(attrs.get("output_shapes"), list):
            shapes = list(attrs["output_shapes"])
            for i in changed:
                if i < len(shapes):
                    s = result_types[i].shape
                    shapes[i] = None if s is None else list(s)
            attrs["output_shapes"] = shapes
        new = Operation(
            op.name,
            op.operands,
            result_types,
            attrs,
            location=op.location,
            result_names=[r.name_hint for r in op.results],
        )
        self.rw.current = op
        self.rw.replace(op, new)


# --- the lowerings -----------------------------------------------------------------------------


def _lower_reserve(lw: ListLowering, op: Operation) -> bool | None:
    rw = lw.rw
    elem = element_shape(op, op.operands[0])
    if elem is None:
        elem = infer_element_shape(op.result, lw.module)
    if elem is None:
        lw.ctx.stats["tensor-list ops left (unknown element rank)"] += 1
        return False
    dtype = elem_type(op)
    start = [1 if d is None else d for d in elem]  # unknown dims grow on the first write
    if op.name == "tf.EmptyTensorList":
        n: int | None = 0
        leading = None
    else:
        count = constant_value(op.operands[1])
        n = None if count is None else int(np.asarray(count).reshape(()))
        leading = None if n is not None else to_vec1(rw, op.operands[1])
    if leading is None:
        shape = const(rw, np.array([n, *start], np.int32))
    else:
        dims = const(rw, np.array(start, np.int32))
        shape = concat(rw, [leading, dims], TensorType((len(start) + 1,), I32))
    zero = const(rw, np.zeros((), numpy_dtype(dtype)))
    out = TensorType((n, *start), dtype)
    filled = create_tfl(rw, "fill", [shape, zero], [out]).result
    rw.replace(op, filled)
    return None


def _lower_from_tensor(lw: ListLowering, op: Operation) -> None:
    lw.rw.replace(op, op.operands[0])


def _lower_stack(lw: ListLowering, op: Operation) -> None:
    lw.rw.replace(op, op.operands[0])


def _lower_get_item(lw: ListLowering, op: Operation) -> None:
    rw = lw.rw
    lst, index = op.operands[0], op.operands[1]
    out = op.result.type
    if out.shape is None and lst.type.shape is not None:
        out = out.with_shape(lst.type.shape[1:])
    g = create_tfl(rw, "gather", [lst, as_i32(rw, index)], [out], axis=0, batch_dims=0)
    rw.replace(op, g.result)


def _lower_gather(lw: ListLowering, op: Operation) -> None:
    rw = lw.rw
    lst, indices = op.operands[0], op.operands[1]
    out = op.result.type
    if out.shape is None and lst.type.shape is not None and indices.type.shape is not None:
        out = out.with_shape((*indices.type.shape, *lst.type.shape[1:]))
    g = create_tfl(rw, "gather", [lst, as_i32(rw, indices)], [out], axis=0, batch_dims=0)
    rw.replace(op, g.result)


def _lower_set_item(lw: ListLowering, op: Operation) -> bool | None:
    rw = lw.rw
    lst, index, item = op.operands
    resize = bool(op.attr("resize_if_index_out_of_bounds", False))
    if resize:  # TensorArray(dynamic_size=True): grow the list to index + 1 first
        if lst.type.rank is None:
            lw.ctx.stats["tensor-list ops left (unknown rank)"] += 1
            return False
        lst = _grow_to(rw, lst, as_i32(rw, index))
    item_e = expand0(rw, item)
    if not resize and lst.type.shape is not None and lst.type.shape[:1] == (1,):
        # A one-element list (Keras RNNs without return_sequences write the last output
        # at index 0): the write replaces the whole list, as the official converter does.
        rw.replace(op, item_e)
        return None
    lst = broadcast_list(rw, lst, item_e)
    rank = lst.type.rank
    if rank is None:
        lw.ctx.stats["tensor-list ops left (unknown rank)"] += 1
        return False
    zero = const(rw, np.array(0, np.int32))
    start = create_tfl(
        rw,
        "pack",
        [as_i32(rw, index)] + [zero] * (rank - 1),
        [TensorType((rank,), I32)],
        values_count=rank,
        axis=0,
    ).result
    out = create_tfl(rw, "dynamic_update_slice", [lst, item_e, start], [lst.type]).result
    rw.replace(op, out)
    return None


def _grow_to(rw: PatternRewriter, lst: Value, index: Value) -> Value:
    """lst padded with zero elements up to length index + 1 (unchanged when long enough)."""
    one = const(rw, np.array(1, np.int32))
    act = {"fused_activation_function": "NONE"}
    needed = create_tfl(rw, "add", [index, one], [TensorType((), I32)], **act).result
    return _pad_to_length(rw, lst, needed)


def _pad_to_length(rw: PatternRewriter, lst: Value, needed: Value) -> Value:
    """lst padded with zero elements up to length `needed` (unchanged when long enough)."""
    i32 = TensorType((), I32)
    length = list_length(rw, lst)
    zero = const(rw, np.array(0, np.int32))
    act = {"fused_activation_function": "NONE"}
    new_len = create_tfl(rw, "maximum", [needed, length], [i32]).result
    extra = create_tfl(rw, "sub", [new_len, length], [i32], **act).result
    rank = lst.type.rank
    flat = create_tfl(
        rw,
        "pack",
        [zero, extra] + [zero] * (2 * rank - 2),
        [TensorType((2 * rank,), I32)],
        values_count=2 * rank,
        axis=0,
    ).result
    shape = const(rw, np.array([rank, 2], np.int32))
    paddings = create_tfl(rw, "reshape", [flat, shape], [TensorType((rank, 2), I32)]).result
    out = lst.type.with_shape((None, *lst.type.shape[1:]))
    return create_tfl(rw, "pad", [lst, paddings], [out]).result


def _lower_push_back(lw: ListLowering, op: Operation) -> bool | None:
    rw = lw.rw
    lst, item = op.operands
    if lst.type.rank is None or item.type.rank is None:
        return False
    item_e = expand0(rw, item)
    lst = broadcast_list(rw, lst, item_e)
    n = lst.type.shape[0]
    out_t = lst.type.with_shape((None if n is None else n + 1, *lst.type.shape[1:]))
    rw.replace(op, concat(rw, [lst, item_e], out_t))
    return None


# Element types SCATTER_ND lacks, scattered in a wider type that holds every value (CASTs around).
_SCATTER_WIDER = {"f16": "f32", "i16": "i32", "ui16": "i32"}


def _scatter_type(dtype: str) -> str | None:
    if not kernel_accepts("tfl.select_v2", dtype, 1):
        return None
    if kernel_accepts("tfl.scatter_nd", dtype, 1):
        return dtype
    return _SCATTER_WIDER.get(dtype)


def _lower_scatter(lw: ListLowering, op: Operation) -> bool | None:
    """TensorListScatterIntoExistingList(l, t, idx): l[idx[k]] = t[k] ->
    select(scatter_nd(idx, ones) > 0, scatter_nd(idx, t), l) (f16/i16 rows scattered as
    f32/i32: SCATTER_ND has no kernel for them)."""
    rw = lw.rw
    lst, tensor, indices = op.operands
    lt, tt = lst.type, tensor.type
    if lt.rank is None or tt.rank is None or lt.rank != tt.rank or indices.type.rank != 1:
        return False
    wide = _scatter_type(lt.dtype)
    if wide is None:
        lw.ctx.stats[f"tensor-list ops left (scatter of {lt.dtype} elements)"] += 1
        return False
    rank = lt.rank
    # Grow unknown element dims first, from the first row of `tensor`.
    begin = const(rw, np.zeros((rank,), np.int32))
    size = const(rw, np.array([1] + [-1] * (rank - 1), np.int32))
    first = create_tfl(rw, "slice", [tensor, begin, size], [tt.with_shape((1, *tt.shape[1:]))])
    lst = broadcast_list(rw, lst, first.result)
    k = indices.type.shape[0]
    idx_shape = const(rw, np.array([-1, 1], np.int32))
    idx = create_tfl(
        rw, "reshape", [as_i32(rw, indices), idx_shape], [TensorType((k, 1), I32)]
    ).result
    target = shape_of(rw, lst)
    rows = tensor
    if wide != lt.dtype:
        rows = create_tfl(rw, "cast", [tensor], [tt.with_dtype(wide)]).result
    written = create_tfl(rw, "scatter_nd", [idx, rows, target], [lst.type.with_dtype(wide)]).result
    if wide != lt.dtype:
        written = create_tfl(rw, "cast", [written], [lst.type]).result
    ones_t = tt.with_dtype(I32)
    one = const(rw, np.array(1, np.int32))
    ones = create_tfl(rw, "fill", [shape_of(rw, tensor), one], [ones_t]).result
    count = create_tfl(rw, "scatter_nd", [idx, ones, target], [lst.type.with_dtype(I32)]).result
    zero = const(rw, np.array(0, np.int32))
    mask = create_tfl(rw, "greater", [count, zero], [lst.type.with_dtype("i1")]).result
    out = create_tfl(rw, "select_v2", [mask, written, lst], [lst.type]).result
    rw.replace(op, out)
    return None


def _lower_length(lw: ListLowering, op: Operation) -> bool | None:
    if op.operands[0].type.rank is None:
        return False
    lw.rw.replace(op, list_length(lw.rw, op.operands[0]))
    return None


def _lower_element_shape(lw: ListLowering, op: Operation) -> bool | None:
    rw = lw.rw
    lst = op.operands[0]
    if lst.type.rank is None:
        return False
    want = op.result.type.dtype
    tail = lst.type.shape[1:]
    if all(d is not None for d in tail):
        rw.replace(op, const(rw, np.array(tail, numpy_dtype(want))))
        return None
    elem = slice1(rw, shape_of(rw, lst), 1, len(tail))
    if want != I32:
        elem = create_tfl(rw, "cast", [elem], [elem.type.with_dtype(want)]).result
    rw.replace(op, elem)
    return None


def _lower_pop_back(lw: ListLowering, op: Operation) -> bool | None:
    rw = lw.rw
    lst = op.operands[0]
    lt = lst.type
    if lt.rank is None:
        return False
    last = create_tfl(
        rw,
        "sub",
        [list_length(rw, lst), const(rw, np.array(1, np.int32))],
        [TensorType((), I32)],
        fused_activation_function="NONE",
    ).result
    item = create_tfl(
        rw, "gather", [lst, last], [lt.with_shape(lt.shape[1:])], axis=0, batch_dims=0
    ).result
    begin = const(rw, np.zeros((lt.rank,), np.int32))
    rest = const(rw, np.full((lt.rank - 1,), -1, np.int32))
    size = concat(rw, [to_vec1(rw, last), rest], TensorType((lt.rank,), I32))
    n = lt.shape[0]
    shorter = lt.with_shape((None if n is None else n - 1, *lt.shape[1:]))
    popped = create_tfl(rw, "slice", [lst, begin, size], [shorter]).result
    rw.replace(op, [popped, item])
    return None


PAD_DTYPES = frozenset({"f32", "f16", "bf16", "i64", "i32", "i16", "i8", "ui8", "i1"})
"""Element types tfl.pad takes (tflite/kernels/pad.cc): lists TensorListResize can grow."""


def _lower_resize(lw: ListLowering, op: Operation) -> bool | None:
    """TensorListResize(l, size) -> slice(pad(l, [[0, max(size - len(l), 0)], 0, ...]),
    0, [size, -1, ...]): new elements are zeros, as TF reads unset elements. The official
    pass builds tf.If(size > len){concat(l, reserve(size - len))} else {slice(l, 0, size)};
    pad + slice is the same without a branch."""
    rw = lw.rw
    lst, size = op.operands
    lt = lst.type
    if lt.rank is None:
        lw.ctx.stats["tensor-list ops left (unknown rank)"] += 1
        return False
    if lt.dtype not in PAD_DTYPES:
        lw.ctx.stats[f"tensor-list ops left (TensorListResize of {lt.dtype} elements)"] += 1
        return False
    rank = lt.rank
    count = constant_value(size)
    n = lt.shape[0]
    if count is not None and n is not None:  # both static: constant paddings and sizes
        k = int(np.asarray(count).reshape(()))
        out_t = lt.with_shape((k, *lt.shape[1:]))
        if k > n:
            pads = np.zeros((rank, 2), np.int32)
            pads[0, 1] = k - n
            rw.replace(op, create_tfl(rw, "pad", [lst, const(rw, pads)], [out_t]).result)
        elif k < n:
            begin = const(rw, np.zeros((rank,), np.int32))
            sizes = const(rw, np.array([k] + [-1] * (rank - 1), np.int32))
            rw.replace(op, create_tfl(rw, "slice", [lst, begin, sizes], [out_t]).result)
        else:
            rw.replace(op, lst)
        return None
    k32 = as_i32(rw, size)
    grown = _pad_to_length(rw, lst, k32)
    begin = const(rw, np.zeros((rank,), np.int32))
    rest = const(rw, np.full((rank - 1,), -1, np.int32))
    sizes = concat(rw, [to_vec1(rw, k32), rest], TensorType((rank,), I32))
    k_static = None if count is None else int(np.asarray(count).reshape(()))
    out_t = lt.with_shape((k_static, *lt.shape[1:]))
    rw.replace(op, create_tfl(rw, "slice", [grown, begin, sizes], [out_t]).result)
    return None


def _lower_concat(lw: ListLowering, op: Operation) -> bool | None:
    """TensorListConcatV2(l, element_shape, leading_dims) -> (reshape(l, [n * d0, *rest]),
    lengths = [d0] * n). Every element of a lowered list has the same shape, so
    concatenating along the first element axis is a reshape; unlike the official pass
    (unpack + concat, a static n > 0 only, `lengths` an empty placeholder) n may be dynamic
    and `lengths` holds the real values. The element length d0 must be static: elements of
    different lengths (TF allows them) do not fit a lowered list."""
    rw = lw.rw
    lst = op.operands[0]
    lt = lst.type
    if lt.rank is None:
        lw.ctx.stats["tensor-list ops left (unknown rank)"] += 1
        return False
    if lt.rank < 2:  # TF refuses too: "Concat saw a scalar shape"
        lw.ctx.stats["tensor-list ops left (TensorListConcatV2 of scalars)"] += 1
        return False
    n, d0, rest = lt.shape[0], lt.shape[1], lt.shape[2:]
    if d0 is None:
        # TF concatenates elements of different lengths (the point of concat); a lowered list
        # holds equal-shaped elements, so a dynamic first dim could be silently wrong.
        lw.ctx.stats["tensor-list ops left (TensorListConcatV2, dynamic element length)"] += 1
        return False
    lead = None if n is None else n * d0
    declared = op.results[0].type.shape
    dims = [lead, *rest]
    if declared is not None and len(declared) == len(dims):
        dims = [d if d is not None else e for d, e in zip(dims, declared)]
    out_t = TensorType(tuple(dims), lt.dtype)
    if all(d is not None for d in rest):
        shape = const(rw, np.array([-1 if lead is None else lead, *rest], np.int32))
    else:
        tail = slice1(rw, shape_of(rw, lst), 2, lt.rank - 2)
        minus1 = const(rw, np.array([-1], np.int32))
        shape = concat(rw, [minus1, tail], TensorType((lt.rank - 1,), I32))
    joined = create_tfl(rw, "reshape", [lst, shape], [out_t]).result
    if n is not None:
        lengths = const(rw, np.full((n,), d0, np.int64))
    else:
        d0_value = const(rw, np.array(d0, np.int64))
        count = slice1(rw, shape_of(rw, lst), 0, 1)
        lengths_t = TensorType((None,), "i64")
        lengths = create_tfl(rw, "fill", [count, d0_value], [lengths_t]).result
    rw.replace(op, [joined, lengths])
    return None


def _lower_split(lw: ListLowering, op: Operation) -> bool | None:
    """TensorListSplit(t, element_shape, lengths) with k equal constant lengths L ->
    reshape(t, [k, L, *rest]) (`TensorArray.split` into equal pieces; the reshape fails at
    run time when t does not have k * L rows, where TF fails too). Other lengths would make
    elements of different shapes, which a lowered list cannot hold."""
    rw = lw.rw
    tensor, lengths = op.operands[0], op.operands[2]
    tt = tensor.type
    sizes = constant_value(lengths)
    if tt.rank is None or tt.rank < 1:
        lw.ctx.stats["tensor-list ops left (TensorListSplit of unknown rank)"] += 1
        return False
    if sizes is None or np.size(sizes) == 0 or len(set(np.ravel(sizes).tolist())) != 1:
        lw.ctx.stats["tensor-list ops left (TensorListSplit, unequal or dynamic lengths)"] += 1
        return False
    k, piece = int(np.size(sizes)), int(np.ravel(sizes)[0])
    rest = tt.shape[1:]
    if rest and any(d is None for d in rest):
        tail = slice1(rw, shape_of(rw, tensor), 1, tt.rank - 1)
        head = const(rw, np.array([k, piece], np.int32))
        shape = concat(rw, [head, tail], TensorType((tt.rank + 1,), I32))
    else:
        shape = const(rw, np.array([k, piece, *rest], np.int32))
    out = TensorType((k, piece, *rest), tt.dtype)
    rw.replace(op, create_tfl(rw, "reshape", [tensor, shape], [out]).result)
    return None


LOWERINGS = {
    "tf.TensorListReserve": _lower_reserve,
    "tf.EmptyTensorList": _lower_reserve,
    "tf.TensorListFromTensor": _lower_from_tensor,
    "tf.TensorListStack": _lower_stack,
    "tf.TensorListGetItem": _lower_get_item,
    "tf.TensorListGather": _lower_gather,
    "tf.TensorListSetItem": _lower_set_item,
    "tf.TensorListPushBack": _lower_push_back,
    "tf.TensorListScatterIntoExistingList": _lower_scatter,
    "tf.TensorListPopBack": _lower_pop_back,
    "tf.TensorListLength": _lower_length,
    "tf.TensorListElementShape": _lower_element_shape,
    "tf.TensorListResize": _lower_resize,
    "tf.TensorListConcatV2": _lower_concat,
    "tf.TensorListConcat": _lower_concat,  # v1: element_shape as an attribute
    "tf.TensorListSplit": _lower_split,
}
CREATORS = frozenset(
    {
        "tf.TensorListReserve",
        "tf.EmptyTensorList",
        "tf.TensorListFromTensor",
        "tf.TensorListSplit",
    }
)
"""Lowerings whose first operand is not a list."""


@register_pass
@dataclass(frozen=True)
class LowerTensorLists(Pass):
    """Prepare functional control flow and lower TensorList ops to plain tensors.

    Steps: tf.Case -> tf.If chains; TensorList ops -> tensors (specializing loop and branch
    functions that carry lists); constant loop/branch operands sunk into the callees."""

    name: ClassVar[str] = "lower-tensor-lists"
    sink_constants: bool = True
    """Clone constant operands of tf.While/tf.If into the callees and drop them from the op."""
    prune_loop_values: bool = True
    """Drop loop values nothing needs (unused results that cond does not read)."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        changed = expand_case_ops(module, ctx)
        changed |= ListLowering(module, ctx).run()
        if self.sink_constants:
            changed |= sink_constant_operands(module, ctx, self.prune_loop_values)
        return changed
