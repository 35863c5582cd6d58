"""Rules that need to know what a run-time shape vector holds: `tfl.shape` / `gather` /
`strided_slice` / `pack` / `concatenation` chains read symbolically, entry by entry, as either a
known int or "dim i of value v". With that, reshapes whose target is computed at run time can be
proven to flatten or restore exactly the dims of another value (Keras Dense on inputs with
dynamic batch and sequence: Tensordot's reshape -> fully_connected -> reshape)."""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value, constant
from tflconv.core.rewrite import PatternRewriter, RewritePattern, fused_location
from tflconv.core.types import TensorType
from tflconv.passes.legalize_tf.nn_expr import known_constant

from .util import users_reason

Entry = int | tuple[Value, int]
"""A known size, or (value, axis): the run-time size of that value's dim."""


def strip_identity(v: Value) -> Value:
    """`v` without identity transposes / same-type reshapes by a constant in front (TF's
    Tensordot transposes by [0, 1, ..]; simplify-tfl removes them only later)."""
    while (op := v.defining_op) is not None and op.name in ("tfl.transpose", "tfl.reshape"):
        arg = known_constant(op.operands[1])
        if arg is None or op.operands[0].type != v.type:
            break
        if op.name == "tfl.transpose" and list(arg.reshape(-1)) != list(range(arg.size)):
            break
        if op.name == "tfl.reshape" and sum(d is None for d in v.type.shape or (None, None)) > 1:
            break
        v = op.operands[0]
    return v


def dim(v: Value, axis: int) -> Entry:
    v = strip_identity(v)
    shape = v.type.shape or ()
    d = shape[axis] if axis < len(shape) else None
    return (v, axis) if d is None else int(d)


def same_entry(a: Entry, b: Entry) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return a == b
    return a[0] is b[0] and a[1] == b[1]


def symbolic_vector(v: Value, depth: int = 0) -> list[Entry] | None:
    """The entries of a 1-D integer vector (a shape), or None when not understood."""
    arr = known_constant(v)
    if arr is not None:
        return [int(x) for x in arr.reshape(-1)] if arr.ndim == 1 else None
    op = v.defining_op
    if op is None or depth > 8 or v.type.rank != 1:
        return None
    if op.name == "tfl.shape":
        x = op.operands[0]
        return None if x.type.rank is None else [dim(x, i) for i in range(x.type.rank)]
    if op.name == "tfl.cast" and op.operands[0].type.dtype in ("i32", "i64"):
        return symbolic_vector(op.operands[0], depth + 1)
    if op.name == "tfl.concatenation" and op.attr("axis", 0) in (0, -1):
        out: list[Entry] = []
        for x in op.operands:
            part = symbolic_vector(x, depth + 1)
            if part is None:
                return None
            out.extend(part)
        return out
    if op.name == "tfl.pack" and op.attr("axis", 0) == 0:
        out = []
        for x in op.operands:
            e = symbolic_scalar(x, depth + 1)
            if e is None:
                return None
            out.append(e)
        return out
    if op.name == "tfl.gather" and op.attr("axis", 0) == 0:
        params = symbolic_vector(op.operands[0], depth + 1)
        idx = known_constant(op.operands[1])
        if params is None or idx is None or idx.ndim != 1:
            return None
        n = len(params)
        if any(not -n <= int(i) < n for i in idx):
            return None
        return [params[int(i)] for i in idx]
    if op.name == "tfl.strided_slice":
        sliced = _slice(op, depth)
        return sliced if isinstance(sliced, list) else None
    return None


def symbolic_scalar(v: Value, depth: int = 0) -> Entry | None:
    """A scalar integer as an entry, or None when not understood."""
    arr = known_constant(v)
    if arr is not None:
        return int(arr.reshape(-1)[0]) if arr.size == 1 else None
    op = v.defining_op
    if op is None or depth > 8:
        return None
    if op.name == "tfl.strided_slice":
        sliced = _slice(op, depth)
        return sliced if not isinstance(sliced, list) else None
    if op.name == "tfl.gather" and op.attr("axis", 0) == 0 and v.type.rank == 0:
        params = symbolic_vector(op.operands[0], depth + 1)
        idx = known_constant(op.operands[1])
        if params is None or idx is None or idx.size != 1:
            return None
        i = int(idx.reshape(()))
        return params[i] if -len(params) <= i < len(params) else None
    if op.name == "tfl.reshape" and v.type.rank in (0, 1):
        vec = symbolic_vector(op.operands[0], depth + 1)
        return vec[0] if vec is not None and len(vec) == 1 else None
    return None


def _slice(op: Operation, depth: int) -> list[Entry] | Entry | None:
    """A 1-D strided_slice of a symbolic vector: the entries, or one entry when shrunk."""
    params = symbolic_vector(op.operands[0], depth + 1)
    b, e, s = (known_constant(x) for x in op.operands[1:4])
    if params is None or b is None or e is None or s is None or b.size != 1:
        return None
    if op.attr("ellipsis_mask", 0) or op.attr("new_axis_mask", 0) or op.attr("offset", False):
        return None
    begin, end, stride = int(b.reshape(-1)[0]), int(e.reshape(-1)[0]), int(s.reshape(-1)[0])
    if op.attr("shrink_axis_mask", 0) & 1:
        n = len(params)
        return params[begin] if -n <= begin < n else None
    start = None if op.attr("begin_mask", 0) & 1 else begin
    stop = None if op.attr("end_mask", 0) & 1 else end
    if stride == 0:
        return None
    return params[slice(start, stop, stride)]


def matches_dims(target: list[Entry], dims: list[Entry]) -> bool:
    """Whether a reshape target (which may hold one -1) certainly equals `dims`."""
    if len(target) != len(dims):
        return False
    wild = [i for i, t in enumerate(target) if t == -1]
    if len(wild) > 1:
        return False
    return all(i in wild or same_entry(t, d) for i, (t, d) in enumerate(zip(target, dims)))


class FuseDynamicDenseReshapes(RewritePattern):
    """tfl.reshape(tfl.fully_connected(tfl.reshape(x, [-1, k]), w, b), shape(x)[:-1] ++ [n]) ->
    tfl.fully_connected(x, w, b){keep_num_dims=true}  when the target is computed at run time
    (Keras Dense / Tensordot with dynamic batch and sequence)"""

    root = "tfl.reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        fc = op.operands[0].defining_op
        if fc is None or fc.name != "tfl.fully_connected":
            return rw.fail("reshape input is not a fully_connected")
        if fc.attr("keep_num_dims", False):
            return rw.fail("fully_connected already keeps its dims")
        if reason := users_reason(op.operands[0], "fully_connected"):
            return rw.fail(reason)
        pre = fc.operands[0].defining_op
        w_shape = fc.operands[1].type.shape
        if pre is None or pre.name != "tfl.reshape" or w_shape is None or len(w_shape) != 2:
            return rw.fail("fully_connected input is not a reshape, or weights are not 2-D")
        if reason := users_reason(fc.operands[0], "reshape"):
            return rw.fail(reason)
        x = pre.operands[0]
        rank = x.type.rank
        # Without keep_num_dims, FC reads its input as [-1, k] whatever its shape, so a reshape
        # in front changes nothing; keeping x's dims needs x's last dim to be k.
        if rank is None or rank < 2 or x.type.shape[-1] != w_shape[1]:  # type: ignore[index]
            return rw.fail("the input's last dim is not the weights' input size")
        target = symbolic_vector(op.operands[1])
        if target is None:
            return rw.fail("the reshape target is not a shape expression understood here")
        expected = [dim(x, i) for i in range(rank - 1)] + [int(w_shape[0])]  # type: ignore[arg-type]
        if not matches_dims(target, expected):
            return rw.fail("the second reshape does not restore the input's leading dims")
        new = fc.clone()
        new.set_operand(0, strip_identity(x))
        new.results[0].type = op.result.type
        new.attributes["keep_num_dims"] = True
        new.location = fused_location([op, fc, pre])
        rw.insert(new, before=op)
        rw.replace(op, new.result)
        rw.erase(fc)
        rw.erase(pre)


class RemoveIdentityReshape(RewritePattern):
    """tfl.reshape(x, s) -> x  when s provably equals x's shape (e.g. shape(x) pieces)"""

    root = "tfl.reshape"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        if x.type != op.result.type or x.type.rank is None:
            return rw.fail("reshape changes the static type")
        target = symbolic_vector(op.operands[1])
        if target is None:
            return rw.fail("the reshape target is not a shape expression understood here")
        if not matches_dims(target, [dim(x, i) for i in range(x.type.rank)]):
            return rw.fail("the target is not the input's own shape")
        rw.replace(op, x)


class CompactShapeVector(RewritePattern):
    """tfl.pack(strided_slice(shape(v), i), .., c, ..) -> tfl.concatenation(gather(shape(v),
    [i, ..]), [c, ..])  when that takes fewer ops; as a reshape target one unknown entry
    becomes -1 (a fully known rest gives a constant). The scalars' strided_slices must have
    no other users."""

    root = "tfl.pack"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        out = op.result
        if op.attr("axis", 0) != 0 or out.type.dtype != "i32" or out.type.rank != 1:
            return rw.fail("not an i32 vector packed along axis 0")
        entries = symbolic_vector(out)
        if entries is None:
            return rw.fail("the packed scalars are not shape entries understood here")
        exclusive = []
        for x in op.operands:
            d = x.defining_op
            if known_constant(x) is not None:
                continue
            if d is None or d.name not in ("tfl.strided_slice", "tfl.gather") or x.num_uses != 1:
                return rw.fail("a packed scalar is shared or not a slice of a shape")
            exclusive.append(d)
        as_target = all(u.name == "tfl.reshape" and u.operands[1] is out for u in out.users)
        if as_target:
            unknown = [i for i, e in enumerate(entries) if not isinstance(e, int)]
            if unknown and -1 not in entries:
                entries = list(entries)
                entries[unknown[0]] = -1
        runs = _runs(entries)
        cost = sum(1 for src, _ in runs if src is not None) + (len(runs) > 1)
        # A slice another op duplicates stays after CSE merges the two: it saves nothing.
        saved = 1 + sum(1 for d in exclusive if not _duplicated(d))
        if cost >= saved:
            return rw.fail(f"the rebuilt vector takes {cost} ops, it would save {saved}")
        values = []
        for src, items in runs:
            if src is None:
                values.append(rw.insert(constant(np.asarray(items, np.int32), op.location)).result)
                continue
            shape = rw.create(
                "tfl.shape", [src], [TensorType((src.type.rank,), "i32")], {"out_type": "INT32"}
            )
            idx = rw.insert(constant(np.asarray(items, np.int32), op.location)).result
            t = TensorType((len(items),), "i32")
            g = rw.create("tfl.gather", [shape.result, idx], [t], {"axis": 0, "batch_dims": 0})
            values.append(g.result)
        new = values[0]
        if len(values) > 1:
            attrs = {"axis": 0, "fused_activation_function": "NONE"}
            new = rw.create("tfl.concatenation", values, [out.type], attrs).result
        rw.replace(op, new)
        for dead in exclusive:
            rw.erase(dead)


def _duplicated(d: Operation) -> bool:
    """Whether another scalar read of a shape computes the same entry as `d` (CSE would merge
    them, so erasing `d` saves no op)."""
    entry = symbolic_scalar(d.result)
    if entry is None or isinstance(entry, int):
        return False
    for shape_op in entry[0].users:
        if shape_op.name != "tfl.shape":
            continue
        for other in shape_op.result.users:
            if other is d or other.name not in ("tfl.strided_slice", "tfl.gather"):
                continue
            e = symbolic_scalar(other.result) if other.result.type.rank == 0 else None
            if e is not None and same_entry(e, entry):
                return True
    return False


def _runs(entries: list[Entry]) -> list[tuple[Value | None, list[int]]]:
    """Consecutive constants, and consecutive entries read from one value's shape."""
    runs: list[tuple[Value | None, list[int]]] = []
    for e in entries:
        src, item = (None, e) if isinstance(e, int) else e
        if runs and runs[-1][0] is src:
            runs[-1][1].append(item)
        else:
            runs.append((src, [item]))
    return runs


PATTERNS: list[RewritePattern] = [
    FuseDynamicDenseReshapes(),
    RemoveIdentityReshape(),
    CompactShapeVector(),
]
