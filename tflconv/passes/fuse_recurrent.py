"""`fuse-recurrent`: a Keras LSTM loop -> `tfl.unidirectional_sequence_lstm`.

Keras 3 (TF backend) traces every LSTM layer as a `tf.While` over TensorLists, without the
`api_implements` attribute the official converter fuses on; tf-keras wraps the same loop in an
`api_implements = "lstm_<uuid>"` function, which the frontend inlines. After
`lower-tensor-lists` and `legalize-tf` both are the same `tfl.while` (docs/recurrent.md):

    main:  seq = transpose(x, [1, 0, 2])           [T, B, F]
           while(t = 0, (counter = 0), list, h0 = 0, c0 = 0, seq)
    cond:  t < T (and counter < T)
    body:  x_t = gather(seq, t)
           z = fully_connected(x_t, Wx) + fully_connected(h, Wh) + b     [B, 4U]
           i, f, g, o = split(z, 4, axis=1)             (Keras gate order)
           c' = sigmoid(f) * c + sigmoid(i) * act(g)
           h' = sigmoid(o) * act(c')
           list' = h'[None]  (return_sequences=False)  or  list[t] = h'  (True)

This pass recognizes that loop (every op of body and cond must be accounted for, the weights must
be constants, the initial state zeros, the loop bound the sequence length: a constant, or the
sequence's dim 0 when that is dynamic) and replaces it with one fused LSTM op. Keras'
`implementation=1` (one projection pair per gate instead of a split) is matched too. Anything
else (a mask, `return_state`, a GRU, a non-zero initial state, an activation the kernel lacks)
keeps the loop, with the reason in `--trace-patterns=FuseLstmLoop`.

**Stateless calls.** LiteRT's LSTM kernels take the state only as *variable* tensors
(`GetVariableInput`: a non-variable state input is refused at Prepare) and write the final state
back into them, so with the official converter's constant-initialized variables a second
`invoke()` starts from the first call's final state. Here each state is the result of a
`tfl.fill(dims, 0)` marked `_is_variable`: FILL writes zeros into the variable tensor at the start
of every invoke, so every call starts from zero like Keras; with `dims` computed from the input's
shape the state follows a dynamic batch (FILL's output is then a dynamic tensor and LiteRT
prepares the LSTM after it, with the right batch). The pass runs after `cse` so the two fills of
one op are never merged into one tensor, and after `simplify-tfl` so a fill of constant dims is
not folded into a constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from tflconv.core.ir import Function, Module, Operation, Value, constant, constant_value
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.core.rewrite import PatternRewriter, RewritePattern, apply_greedy, apply_walk
from tflconv.core.types import NO_VALUE_TYPE, SymbolRef, TensorType

from .legalize_tf.control_flow import remove_unreferenced
from .simplify_tfl import FoldTransposes, RemoveIdentityTranspose

LSTM = "tfl.unidirectional_sequence_lstm"
VARIABLE = "_is_variable"
"""Attribute of an op whose result the writer stores as a variable tensor (the LSTM state)."""

# Keras `activation` -> the kernel's `fused_activation_function` (lstm_eval.cc applies it with
# tensor_utils::ApplyActivationToVector, which leaves its output unwritten for NONE: a linear
# activation cannot be fused; the kernel knows a sigmoid, but the schema's
# ActivationFunctionType cannot name it). The gates are always a sigmoid in the kernel.
ACTIVATIONS = {"tfl.tanh": "TANH", "tfl.relu": "RELU", "tfl.relu6": "RELU6"}
KERAS_GATES = "ifco"
"""Keras' order of the gates in `kernel`, `recurrent_kernel` and `bias` (i, f, c = g, o): also
the kernel's operand order (input_to_input, _forget, _cell, _output)."""


class NoMatch(Exception):
    """Why a loop is not an LSTM the kernel can run (becomes the pattern's failure reason)."""


def _def(v: Value, name: str, what: str) -> Operation:
    op = v.defining_op
    if op is None or op.name != name:
        got = "an argument" if op is None else op.name
        raise NoMatch(f"{what} is {got}, not {name}")
    if op.attributes.get("fused_activation_function", "NONE") != "NONE":
        raise NoMatch(f"{what} ({op.name}) has a fused activation")
    return op


def _scalar(v: Value) -> float | None:
    c = constant_value(v)
    if c is None or np.size(c) != 1:
        return None
    return float(np.asarray(c).reshape(-1)[0])


def _is_zero(v: Value) -> bool:
    """A constant of zeros, or tfl.fill(dims, 0)."""
    c = constant_value(v)
    if c is not None:
        return np.ndim(c) == 2 and bool(np.all(np.asarray(c) == 0))
    op = v.defining_op
    return op is not None and op.name == "tfl.fill" and _scalar(op.operands[1]) == 0.0


@dataclass
class _Loop:
    """The roles of a matched loop's values (positions are loop-value indices)."""

    op: Operation
    body: Function
    cond: Function
    matched: set[Operation] = field(default_factory=set)
    seq: int = -1
    t: int = -1
    counters: list[int] = field(default_factory=list)
    h: int = -1
    c: int = -1
    out: int = -1
    every_step: bool = False
    """The output list holds every step (return_sequences=True), else only the last one."""
    units: int = 0
    activation: str = "TANH"
    wx: np.ndarray | None = None
    wh: np.ndarray | None = None
    bias: np.ndarray | None = None

    def arg(self, v: Value) -> int | None:
        """The loop position of a body argument, else None."""
        return self.body.args.index(v) if v in self.body.args else None

    def take(self, op: Operation) -> Operation:
        self.matched.add(op)
        return op


def _step_of(loop: _Loop, result: Value) -> int | None:
    """The position p when `result` is add(arg_p, 1) (a loop counter's step)."""
    op = result.defining_op
    if op is None or op.name != "tfl.add":
        return None
    if op.attributes.get("fused_activation_function", "NONE") != "NONE":
        return None
    for a, b in (op.operands, op.operands[::-1]):
        p = loop.arg(a)
        if p is not None and _scalar(b) == 1.0:
            loop.take(op)
            return p
    return None


def _match_input(loop: _Loop, x_t: Value) -> None:
    """x_t = gather(seq, t): seq a loop-invariant argument, t a counter."""
    g = loop.take(_def(x_t, "tfl.gather", "the input of the input projection"))
    seq, t = loop.arg(g.operands[0]), loop.arg(g.operands[1])
    if seq is None or t is None or g.attributes.get("axis", 0) != 0:
        raise NoMatch("the step input is not gather(sequence argument, counter argument, axis 0)")
    if g.attributes.get("batch_dims", 0) != 0:
        raise NoMatch("the step input gather has batch_dims")
    if loop.body.outputs[seq] is not loop.body.args[seq]:
        raise NoMatch("the input sequence changes inside the loop")
    if t not in loop.counters:
        raise NoMatch("the step index is not a counter starting at 0 and stepping by 1")
    if loop.seq != -1 and (loop.seq, loop.t) != (seq, t):
        raise NoMatch("the gates read different step inputs")
    loop.seq, loop.t = seq, t


def _drops_unit_batch(op: Operation) -> bool:
    """reshape([1, n] -> [n])."""
    a, b = op.operands[0].type.shape, op.result.type.shape
    return a is not None and b is not None and len(a) == 2 and a[0] == 1 and b == (a[1],)


def _gate_sum(loop: _Loop, z: Value, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z = fully_connected(x_t, Wx) + fully_connected(h, Wh) + b (any association, biases in
    the projections or added): (Wx [rows, F], Wh [rows, units], b [rows])."""
    terms: list[Value] = []
    stack = [z]
    while stack:
        v = stack.pop()
        op = v.defining_op
        if op is not None and op.name == "tfl.add":
            loop.take(_def(v, "tfl.add", "a gate sum"))
            stack += list(op.operands)
        elif op is not None and op.name == "tfl.reshape" and _drops_unit_batch(op):
            # batch 1: `fuse` treats x @ Wx + h @ Wh as a bias add of squeeze(h @ Wh)
            loop.take(op)
            stack.append(op.operands[0])
        else:
            terms.append(v)
    bias = np.zeros(rows, np.float32)
    wx = wh = None
    for v in terms:
        const = constant_value(v)
        if const is not None:
            if np.shape(const) not in ((), (1,), (rows,), (1, rows)):
                raise NoMatch(f"a constant term of the gate sum has shape {np.shape(const)}")
            bias = bias + np.asarray(const, np.float32).reshape(-1)
            continue
        fc = loop.take(_def(v, "tfl.fully_connected", "a term of the gate sum"))
        x, w, b = fc.operands
        weights = constant_value(w)
        if weights is None or weights.ndim != 2 or weights.shape[0] != rows:
            raise NoMatch(f"a gate projection's weights are not a constant [{rows}, n]")
        if (
            fc.attributes.get("keep_num_dims")
            or fc.attributes.get("weights_format", "DEFAULT") != "DEFAULT"
        ):
            raise NoMatch("a gate projection keeps dims or has shuffled weights")
        if b.type != NO_VALUE_TYPE:
            fb = constant_value(b)
            if fb is None or np.shape(fb) != (rows,):
                raise NoMatch(f"a gate projection's bias is not a constant [{rows}]")
            bias = bias + np.asarray(fb, np.float32).reshape(-1)
        h = loop.arg(x)
        if h is not None and wh is None and loop.h in (-1, h):
            loop.h = h
            wh = weights
        elif x.defining_op is not None and wx is None:
            _match_input(loop, x)
            wx = weights
        else:
            raise NoMatch("the gate sum is not one input and one recurrent projection")
    if wx is None or wh is None:
        raise NoMatch("the gate sum lacks the input or the recurrent projection")
    if wh.shape[1] != loop.units:
        raise NoMatch("the recurrent weights are not [rows, units]")
    return wx, wh, bias


def _match_gates(loop: _Loop, pre: list[Value]) -> None:
    """The gates' pre-activations: the 4 results of split(z, 4, axis=1) (Keras'
    implementation=2), or 4 separate sums (implementation=1, used with recurrent_dropout)."""
    units = loop.units
    split = pre[0].defining_op
    if split is not None and split.name == "tfl.split":
        if any(p.defining_op is not split or p is not split.results[k] for k, p in enumerate(pre)):
            raise NoMatch("the gates i, f, c, o are not results 0-3 of one split")
        loop.take(split)
        if split.attributes.get("num_splits") != 4 or _scalar(split.operands[0]) not in (1, -1):
            raise NoMatch("the gates are not split in 4 along the last axis")
        z = split.operands[1]
        if z.type.dtype != "f32" or z.type.rank != 2 or z.type.shape[1] != 4 * units:
            raise NoMatch("the gate tensor is not f32 [batch, 4 * units]")
        loop.wx, loop.wh, loop.bias = _gate_sum(loop, z, 4 * units)
        return
    for p in pre:
        if p.type.dtype != "f32" or p.type.rank != 2 or p.type.shape[1] != units:
            raise NoMatch("a gate is not f32 [batch, units]")
    wx, wh, bias = zip(*(_gate_sum(loop, p, units) for p in pre))
    loop.wx, loop.wh, loop.bias = np.vstack(wx), np.vstack(wh), np.concatenate(bias)


def _gate_input(loop: _Loop, v: Value, k: int, act: str) -> Value:
    """v = act(pre): pre, gate k's pre-activation."""
    return loop.take(_def(v, act, f"gate {KERAS_GATES[k]}")).operands[0]


def _by_op(values: tuple[Value, ...], name: str) -> tuple[Value, Value]:
    """(the value produced by a `name` op, the other one)."""
    a, b = values
    if b.defining_op is not None and b.defining_op.name == name:
        a, b = b, a
    return a, b


def _match_cell(loop: _Loop, h_new: Value) -> Value:
    """h' = sigmoid(o) * act(c'), c' = sigmoid(f) * c + sigmoid(i) * act(g); returns c'.
    (act is never a sigmoid here, so the sigmoid operand of each product is the gate.)"""
    mul_h = loop.take(_def(h_new, "tfl.mul", "the new output state"))
    a, b = _by_op(mul_h.operands, "tfl.logistic")  # a: sigmoid(o), b: act(c')
    act_c = b.defining_op
    if act_c is None or act_c.name not in ACTIVATIONS:
        raise NoMatch(
            "the output is not sigmoid(o) * act(c) with act in tanh, relu, relu6 (the "
            "activations the LiteRT kernel applies and the schema can name)"
        )
    loop.take(act_c)
    act = act_c.name
    o = _gate_input(loop, a, 3, "tfl.logistic")
    c_new = act_c.operands[0]
    add_c = loop.take(_def(c_new, "tfl.add", "the new cell state"))
    keep = forget = None
    for m in add_c.operands:
        mul = loop.take(_def(m, "tfl.mul", "a term of the new cell state"))
        x, y = mul.operands
        for p, q in ((x, y), (y, x)):
            if loop.arg(q) is not None and p.defining_op is not None:
                forget = (p, loop.arg(q))
                break
        else:
            keep = (x, y)
    if keep is None or forget is None:
        raise NoMatch("the new cell state is not sigmoid(f) * c + sigmoid(i) * act(g)")
    f = _gate_input(loop, forget[0], 1, "tfl.logistic")
    loop.c = forget[1]  # type: ignore[assignment]
    i, g = _by_op(keep, "tfl.logistic")
    pre = [_gate_input(loop, i, 0, "tfl.logistic"), f, _gate_input(loop, g, 2, act), o]
    loop.activation = ACTIVATIONS[act]
    _match_gates(loop, pre)
    return c_new


def _row_write(loop: _Loop, v: Value, h_new: Value) -> None:
    """v = h'[None] (a reshape or expand_dims to [1, batch, units])."""
    op = v.defining_op
    if op is None or op.name not in ("tfl.reshape", "tfl.expand_dims"):
        raise NoMatch("the output list is not written with the new output state")
    if op.operands[0] is not h_new or v.type.rank != 3 or v.type.shape[0] != 1:
        raise NoMatch("the output list row is not the new output state [1, batch, units]")
    loop.take(op)


def _rows_are_steps(loop: _Loop, p: int) -> bool:
    """The output list starts with one row per step: its type says so, or (dynamic length)
    it is fill([steps, ...]) with steps the sequence's dim 0."""
    seq = loop.op.operands[loop.seq]
    init = loop.op.operands[p]
    steps = seq.type.shape[0]  # type: ignore[index]
    if steps is not None:
        return init.type.shape is not None and init.type.shape[0] == steps
    fill = init.defining_op
    concat = fill.operands[0].defining_op if fill is not None and fill.name == "tfl.fill" else None
    if concat is None or concat.name != "tfl.concatenation" or concat.attributes.get("axis"):
        return False
    first = concat.operands[0].defining_op
    return (
        first is not None
        and first.name == "tfl.reshape"
        and first.result.type.shape == (1,)
        and _is_steps(first.operands[0], seq)
    )


def _match_output(loop: _Loop, p: int, h_new: Value) -> None:
    """list' = h'[None] (one-element list) or dynamic_update_slice(list, h'[None], [t, 0, 0])."""
    v = loop.body.outputs[p]
    op = v.defining_op
    shape = v.type.shape
    if op is not None and op.name == "tfl.dynamic_update_slice":
        loop.take(op)
        base, row, index = op.operands
        _row_write(loop, row, h_new)
        pack = loop.take(_def(index, "tfl.pack", "the write index"))
        if loop.arg(pack.operands[0]) != loop.t or any(_scalar(x) != 0 for x in pack.operands[1:]):
            raise NoMatch("the output list is not written at [t, 0, 0]")
        if base.defining_op is not None:  # the list broadcast to the row's batch first
            add = loop.take(_def(base, "tfl.add", "the output list"))
            zl = add.operands[1].defining_op
            if zl is None or zl.name != "tfl.zeros_like" or zl.operands[0] is not row:
                raise NoMatch("the output list is not broadcast with zeros_like(row)")
            loop.take(zl)
            base = add.operands[0]
        if loop.arg(base) != p or shape is None or not _rows_are_steps(loop, p):
            raise NoMatch("the output list is not the loop's list of one row per step")
        loop.every_step = True
    else:
        _row_write(loop, v, h_new)
        loop.every_step = False
    loop.out = p


def _dim_of(v: Value) -> tuple[Value, int] | None:
    """(x, k) when v = strided_slice(shape(x), [k], [k + 1], [1]) shrunk to a scalar."""
    op = v.defining_op
    if op is None or op.name != "tfl.strided_slice" or op.attributes.get("shrink_axis_mask") != 1:
        return None
    if any(op.attributes.get(m) for m in ("begin_mask", "end_mask", "ellipsis_mask")):
        return None
    if op.attributes.get("new_axis_mask") or op.attributes.get("offset"):
        return None
    shape = op.operands[0].defining_op
    begin, strides = constant_value(op.operands[1]), constant_value(op.operands[3])
    if shape is None or shape.name != "tfl.shape" or begin is None or strides is None:
        return None
    if np.size(begin) != 1 or np.size(strides) != 1 or int(np.ravel(strides)[0]) != 1:
        return None
    return shape.operands[0], int(np.ravel(begin)[0])


def _is_steps(v: Value, seq: Value) -> bool:
    """v is the sequence length: dim 0 of seq, or dim perm[0] of x for seq = transpose(x)."""
    found = _dim_of(v)
    if found is None:
        return False
    x, k = found
    if x is seq:
        return k == 0
    t = seq.defining_op
    perm = constant_value(t.operands[1]) if t is not None and t.name == "tfl.transpose" else None
    return perm is not None and t.operands[0] is x and int(np.ravel(perm)[0]) == k  # type: ignore[union-attr]


def _match_cond(loop: _Loop) -> bool:
    """cond = t < N (and counter < M ...) where the loop runs once per step: min(N, M, ...) is
    the sequence length (constants when it is static; else loop-invariant values computed
    as the sequence's dim 0)."""
    (r,) = loop.cond.outputs
    leaves, stack = [], [r]
    while stack:
        v = stack.pop()
        op = v.defining_op
        if op is not None and op.name == "tfl.logical_and":
            loop.take(op)
            stack += list(op.operands)
        else:
            leaves.append(v)
    seq = loop.op.operands[loop.seq]
    steps = seq.type.shape[0]  # type: ignore[index]
    constants, dynamic = [], 0
    for v in leaves:
        less = loop.take(_def(v, "tfl.less", "the loop condition"))
        a, n = less.operands
        p = loop.cond.args.index(a) if a in loop.cond.args else None
        if p not in loop.counters:
            raise NoMatch("the loop condition is not counter < bound")
        bound = _scalar(n)
        q = loop.cond.args.index(n) if n in loop.cond.args else None
        if bound is not None:
            constants.append(int(bound))
        elif (
            q is not None
            and loop.body.outputs[q] is loop.body.args[q]
            and _is_steps(loop.op.operands[q], seq)
        ):
            dynamic += 1
        else:
            raise NoMatch("a loop bound is neither a constant nor the sequence length")
    if steps is None:
        return not constants and dynamic > 0
    return (min(constants) if constants else steps) == steps


def _covered(fn: Function, matched: set[Operation]) -> None:
    for op in fn.ops:
        if op.name in ("arith.constant", "tfl.no_value", "func.return") or op in matched:
            continue
        raise NoMatch(
            f"the loop {'body' if 'body' in fn.name else 'function'} @{fn.name} has "
            f"{op.name}, which is not part of an LSTM cell"
        )


def match_lstm_loop(op: Operation) -> _Loop:
    """The roles of an LSTM loop's values, else NoMatch with the reason."""
    module = op.function.module if op.function is not None else None  # type: ignore[union-attr]
    body_ref, cond_ref = (
        op.attributes.get("body_subgraph_index"),
        op.attributes.get("cond_subgraph_index"),
    )
    if module is None or not isinstance(body_ref, SymbolRef) or not isinstance(cond_ref, SymbolRef):
        raise NoMatch("the loop's functions are not in the module")
    loop = _Loop(op, module.function(body_ref.name), module.function(cond_ref.name))
    outputs = loop.body.outputs
    for p, result in enumerate(outputs):
        q = _step_of(loop, result)
        if q == p and _scalar(op.operands[p]) == 0.0:
            loop.counters.append(p)
    # The output list holds the new h; find the h' candidates from the list writes.
    out_candidates = [p for p, v in enumerate(outputs) if v.type.rank == 3 and v.defining_op]
    if len(out_candidates) != 1:
        raise NoMatch("the loop does not write exactly one 3-d output list")
    (p_out,) = out_candidates
    w = outputs[p_out].defining_op
    row = w.operands[1] if w.name == "tfl.dynamic_update_slice" else outputs[p_out]  # type: ignore[union-attr]
    if row.defining_op is None or not row.defining_op.operands:
        raise NoMatch("the output list row is not computed in the loop")
    h_new = row.defining_op.operands[0]
    if h_new.type.rank != 2 or h_new.type.shape[1] is None:
        raise NoMatch("the output list row is not [batch, units]")
    loop.units = int(h_new.type.shape[1])
    c_new = _match_cell(loop, h_new)
    if outputs[loop.h] is not h_new or outputs[loop.c] is not c_new:
        raise NoMatch("the loop does not carry the new h and c states to the next step")
    seq_type = op.operands[loop.seq].type
    if seq_type.rank != 3 or seq_type.shape[0] == 0:
        raise NoMatch("the sequence is not [steps > 0, batch, features]")
    _match_output(loop, p_out, h_new)
    if not _match_cond(loop):
        raise NoMatch("the loop does not provably run once per step of the sequence")
    _covered(loop.body, loop.matched)
    _covered(loop.cond, loop.matched)
    roles = {loop.seq, loop.t, loop.h, loop.c, loop.out, *loop.counters}
    for p in range(len(outputs)):
        if p not in roles and outputs[p] is not loop.body.args[p]:
            raise NoMatch(f"loop value {p} is not part of an LSTM")
    for p in (loop.h, loop.c):
        if not _is_zero(op.operands[p]):
            raise NoMatch(
                "the initial state is not zero (initial_state given, or a stateful layer)"
            )
    for p in (loop.h, loop.c, *loop.counters):
        if op.results[p].num_uses:
            raise NoMatch("the loop's final state or counter is used (return_state=True)")
    if loop.wx is None or loop.wx.shape[1] != seq_type.shape[2]:
        raise NoMatch("the input weights do not match the sequence's feature size")
    return loop


def _const(rw: PatternRewriter, array: np.ndarray) -> Value:
    return rw.insert(constant(np.asarray(array), rw._default_location())).result


def _state(rw: PatternRewriter, init: Value, batch: int | None, units: int) -> Value:
    """A new zero-filled variable tensor [batch, units] (FILL rewrites it on every invoke)."""
    fill = init.defining_op
    if fill is not None and fill.name == "tfl.fill":
        dims = fill.operands[0]  # [B, units], B computed from the input's shape
    else:  # a constant of zeros: its shape is static
        batch = init.type.shape[0]  # type: ignore[index]
        dims = _const(rw, np.array(init.type.shape, np.int32))
    zero = _const(rw, np.zeros((), np.float32))
    op = rw.create("tfl.fill", [dims, zero], [TensorType((batch, units), "f32")], {VARIABLE: True})
    return op.result


def _last_step_slices(v: Value) -> list[Operation] | None:
    """The users of a one-element output list when every one is `list[-1]` / `list[0]` as
    [batch, units] (Keras' `outputs[-1]`): these can read the fused op's last step directly."""
    users = v.users
    for u in users:
        if u.name == "tfl.reshape" and u.operands[0] is v:
            # [1, B, U] -> [B, U] (what simplify-tfl makes of the slice when B is static)
            if u.result.type.shape != tuple(v.type.shape[1:]) or not v.type.is_static:  # type: ignore[index]
                return None
            continue
        if u.name != "tfl.strided_slice" or u.operands[0] is not v:
            return None
        a = u.attributes
        if (
            a.get("shrink_axis_mask") != 1
            or a.get("ellipsis_mask")
            or a.get("new_axis_mask")
            or (a.get("begin_mask", 0) & 6) != 6
            or (a.get("end_mask", 0) & 6) != 6
        ):
            return None
        strides = constant_value(u.operands[3])
        if strides is None or np.any(np.asarray(strides) != 1) or u.result.type.rank != 2:
            return None
    return users


def _is_time_major_of(op: Operation) -> bool:
    """op = transpose(x, [1, 0, 2]), or a reshape that swaps dims 0 and 1 of size-1 batch
    ([1, T, F] <-> [T, 1, F]: what simplify-tfl makes of that transpose at batch 1)."""
    if op.name == "tfl.transpose":
        perm = constant_value(op.operands[1])
        return perm is not None and list(np.ravel(perm)) == [1, 0, 2]
    if op.name == "tfl.reshape":
        a, b = op.operands[0].type.shape, op.result.type.shape
        return (
            a is not None
            and len(a) == 3
            and b == (a[1], a[0], a[2])
            and 1 in (a[0], a[1])
            and None not in a
        )
    return False


def _batch_major_input(rw: PatternRewriter, seq: Value) -> Value | None:
    """x when seq = transpose(x, [1, 0, 2]) (Keras' time-major copy of its input);
    reverse_v2(x, [1]) when seq = reverse_v2(transpose(x), [0]) (go_backwards, and the
    backward half of Bidirectional): the fused op then reads batch-major, no transpose."""
    op = seq.defining_op
    if op is None:
        return None
    if _is_time_major_of(op):
        return op.operands[0]
    if op.name != "tfl.reverse_v2" or list(np.ravel(constant_value(op.operands[1]))) != [0]:
        return None
    inner = op.operands[0].defining_op
    if inner is None or not _is_time_major_of(inner):
        return None
    x = inner.operands[0]
    axis = _const(rw, np.array([1], np.int32))
    return rw.create("tfl.reverse_v2", [x, axis], [x.type]).result


class FuseLstmLoop(RewritePattern):
    """tfl.while(LSTM cell loop) -> tfl.unidirectional_sequence_lstm(x, weights, zero state)"""

    root = "tfl.while"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        try:
            loop = match_lstm_loop(op)
        except NoMatch as e:
            return rw.fail(str(e))
        seq = op.operands[loop.seq]
        steps, batch, _ = seq.type.shape  # type: ignore[misc]
        units = loop.units
        x = _batch_major_input(rw, seq)
        batch_major = x is not None
        x = x if x is not None else seq

        def gates(w: np.ndarray) -> list[Value]:
            return [
                _const(rw, np.ascontiguousarray(w[k * units : (k + 1) * units], np.float32))
                for k in range(4)
            ]

        none = rw.create("tfl.no_value", [], [NO_VALUE_TYPE]).result
        h0 = _state(rw, op.operands[loop.h], batch, units)
        c0 = _state(rw, op.operands[loop.c], batch, units)
        operands = [
            x,
            *gates(loop.wx),  # type: ignore[arg-type]
            *gates(loop.wh),  # type: ignore[arg-type]
            none,
            none,
            none,  # no peepholes
            *gates(loop.bias),  # type: ignore[arg-type]
            none,
            none,  # no projection
            h0,
            c0,
            none,
            none,
            none,
            none,  # no layer normalization
        ]
        shape = (batch, steps, units) if batch_major else (steps, batch, units)
        lstm = rw.create(
            LSTM,
            operands,
            [TensorType(shape, "f32")],
            {
                "fused_activation_function": loop.activation,
                "cell_clip": 0.0,
                "proj_clip": 0.0,
                "time_major": not batch_major,
                "asymmetric_quantize_inputs": False,
                "diagonal_recurrent_tensors": False,
            },
        ).result
        out = op.results[loop.out]
        if out.num_uses:
            self._replace_outputs(rw, op, loop, lstm, batch_major)
        for p, result in enumerate(op.results):
            if result.num_uses:  # loop-invariant values: the loop's own operand
                rw.replace_value(result, op.operands[p])
        rw.erase(op)
        return None

    @staticmethod
    def _replace_outputs(
        rw: PatternRewriter, op: Operation, loop: _Loop, y: Value, batch_major: bool
    ) -> None:
        out = op.results[loop.out]
        batch, units = y.type.shape[1 if not batch_major else 0], loop.units
        i32 = lambda *v: _const(rw, np.array(v, np.int32))  # noqa: E731
        if loop.every_step:
            if not batch_major:
                rw.replace_value(out, y)
            elif all(_is_time_major_of(u) and u.result.type == y.type for u in out.users):
                for u in out.users:  # Keras' transpose back to batch-major: y itself
                    rw.replace(u, y)
            else:
                rw.replace_value(
                    out, rw.create("tfl.transpose", [y, i32(1, 0, 2)], [out.type]).result
                )
            return
        if batch_major:  # y[:, -1, :]
            last = _strided_slice(rw, y, (0, -1, 0), 0b101, 0b101, 0b010, (batch, units))
            slices = _last_step_slices(out)
            if slices is not None:  # Keras' outputs[-1] reads the last step directly
                for s in slices:
                    rw.replace(s, last)
                return
            row = rw.create("tfl.reshape", [last, i32(1, -1, units)], [out.type]).result
        else:  # y[-1:]
            row = _strided_slice(rw, y, (-1, 0, 0), 0b110, 0b111, 0, tuple(out.type.shape))
        rw.replace_value(out, row)


def _strided_slice(
    rw: PatternRewriter,
    x: Value,
    begin: tuple[int, ...],
    begin_mask: int,
    end_mask: int,
    shrink: int,
    shape: tuple[int | None, ...],
) -> Value:
    def i32(v: tuple[int, ...]) -> Value:
        return _const(rw, np.array(v, np.int32))

    return rw.create(
        "tfl.strided_slice",
        [x, i32(begin), i32((0,) * len(begin)), i32((1,) * len(begin))],
        [TensorType(shape, "f32")],
        {
            "begin_mask": begin_mask,
            "end_mask": end_mask,
            "ellipsis_mask": 0,
            "new_axis_mask": 0,
            "shrink_axis_mask": shrink,
            "offset": False,
        },
    ).result


PATTERNS: list[RewritePattern] = [FuseLstmLoop()]


@register_pass
@dataclass(frozen=True)
class FuseRecurrent(Pass):
    """Replace Keras LSTM loops (`tfl.while` over an LSTM cell) by LiteRT's fused
    UNIDIRECTIONAL_SEQUENCE_LSTM, stateless across invokes; other loops stay as they are."""

    name: ClassVar[str] = "fuse-recurrent"

    def run(self, module: Module, ctx: PassContext) -> bool:
        callees = {
            ref.name
            for op in module.walk()
            if op.name == "tfl.while"
            for ref in (
                op.attributes.get("body_subgraph_index"),
                op.attributes.get("cond_subgraph_index"),
            )
            if isinstance(ref, SymbolRef)
        }
        changed = apply_walk(module, PATTERNS, tracer=ctx.tracer, listener=ctx.listener)
        if changed:
            remove_unreferenced(module, callees)
            # transpose(x) -> LSTM(time-major) -> transpose back became LSTM(batch-major)
            # plus a transpose pair: cancel it.
            apply_greedy(
                module,
                [FoldTransposes(), RemoveIdentityTranspose()],
                tracer=ctx.tracer,
                listener=ctx.listener,
            )
        return changed
