"""stablehlo.reduce -> tfl.sum / reduce_prod / reduce_max / reduce_min / reduce_any /
reduce_all / arg_max / arg_min; stablehlo.reduce_window -> tfl.max_pool_2d /
average_pool_2d / cumsum (official: legalize_hlo_conversions/reduce.cc, reduce_window.cc,
legalize_hlo.cc's argmax patterns).

The body must be one recognised combiner (`stablehlo.add(a, b)` and `stablehlo.return`); an
init value that is not the combiner's identity is applied once after the reduction, as XLA
does. Variadic reductions are legalized only in JAX's argmax/argmin form (values and an iota).
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.dialects.tfl_kernels import kernel_dtype_reason
from tflconv.dialects.tfl_traits import FUSED_ACTIVATION_OPS

from ..legalize_tf.common import create_tfl, scalar_const
from ..legalize_tf.nn_util import same_pads
from .util import NONE_ACT, i32, ints, pairs, splat_value, transpose

# body combiner -> (reduction for numbers, reduction for booleans, elementwise tfl op)
COMBINERS: dict[str, tuple[str | None, str | None, str]] = {
    "stablehlo.add": ("sum", None, "add"),
    "stablehlo.multiply": ("reduce_prod", None, "mul"),
    "stablehlo.maximum": ("reduce_max", "reduce_any", "maximum"),
    "stablehlo.minimum": ("reduce_min", "reduce_all", "minimum"),
    "stablehlo.and": (None, "reduce_all", "logical_and"),
    "stablehlo.or": (None, "reduce_any", "logical_or"),
}


def body_combiner(op: Operation) -> str | None:
    """The name of the single binary op a 1-result reduction body applies to its two block
    arguments (`stablehlo.add`...), else None."""
    if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        return None
    block = op.regions[0].blocks[0]
    body = list(block.ops)
    if len(block.args) != 2 or len(body) != 2:
        return None
    combine, ret = body
    if ret.name not in ("stablehlo.return", "func.return") or ret.operands != (combine.result,):
        return None
    if set(combine.operands) != set(block.args) or len(combine.operands) != 2:
        return None
    return combine.name if combine.name in COMBINERS else None


def _identity(combiner: str, dtype: str) -> float | int | bool | None:
    if dtype == "i1":
        return {"stablehlo.and": True, "stablehlo.or": False, "stablehlo.maximum": False}.get(
            combiner, {"stablehlo.minimum": True}.get(combiner)
        )
    is_float = dtype in ("f16", "f32", "f64", "bf16")
    if combiner == "stablehlo.add":
        return 0
    if combiner == "stablehlo.multiply":
        return 1
    if combiner == "stablehlo.maximum":
        return -np.inf if is_float else int(np.iinfo(np.dtype(_np_int(dtype))).min)
    if combiner == "stablehlo.minimum":
        return np.inf if is_float else int(np.iinfo(np.dtype(_np_int(dtype))).max)
    return None


def _np_int(dtype: str) -> str:
    return {"i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "ui8": "uint8"}.get(
        dtype, "int64"
    )


def _is_identity(init: Value, combiner: str) -> bool:
    value = splat_value(init)
    return value is not None and value == _identity(combiner, init.type.dtype)


def _apply_init(rw: PatternRewriter, combiner: str, result: Value, init: Value) -> Value:
    """`combiner(result, init)` unless init is the combiner's identity."""
    if _is_identity(init, combiner):
        return result
    name = COMBINERS[combiner][2]
    attrs = dict(NONE_ACT) if "tfl." + name in FUSED_ACTIVATION_OPS else {}
    return create_tfl(rw, name, [result, init], [result.type], **attrs).result


class LegalizeReduce(RewritePattern):
    """stablehlo.reduce(x, init){dimensions} ({add}) -> tfl.sum(x, dimensions) (mul, max,
    min, and, or -> reduce_prod, reduce_max, reduce_min, reduce_all, reduce_any)"""

    root = "stablehlo.reduce"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands != 2:
            return rw.fail("variadic reduce: only the argmax/argmin form is legalized")
        x, init = op.operands
        combiner = body_combiner(op)
        if combiner is None:
            return rw.fail("the body is not a single add/multiply/maximum/minimum/and/or")
        number, boolean, _ = COMBINERS[combiner]
        name = boolean if x.type.dtype == "i1" else number
        if name is None:
            return rw.fail(f"{combiner} reduction of {x.type.dtype} has no TFL builtin")
        if why := kernel_dtype_reason("tfl." + name, x):
            return rw.fail(why)
        if init.type.shape != ():
            return rw.fail("init value is not a scalar")
        dims = ints(op, "dimensions")
        if not dims:
            rw.replace(op, _apply_init(rw, combiner, x, init))
            return None
        reduced = create_tfl(rw, name, [x, i32(rw, dims)], [op.result.type], keep_dims=False).result
        rw.replace(op, _apply_init(rw, combiner, reduced, init))
        return None


def _iota_along(value: Value, dim: int) -> bool:
    """Whether `value` is a stablehlo.iota counting along `dim`."""
    op = value.defining_op
    return (
        op is not None
        and op.name == "stablehlo.iota"
        and int(op.attributes.get("iota_dimension", -1)) == dim
    )


def _argminmax_kind(op: Operation) -> str | None:
    """ "arg_max" / "arg_min" when the body of a (values, indices) reduce picks the larger /
    smaller value (JAX's argmax body: select(compare(a, b, GT) or a != a, a, b)), else None."""
    if len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        return None
    block = op.regions[0].blocks[0]
    if len(block.args) != 4:
        return None
    ret = block.terminator
    if ret is None or len(ret.operands) != 2:
        return None
    sel = ret.operands[0].defining_op
    if sel is None or sel.name != "stablehlo.select":
        return None
    pred, on_true, on_false = sel.operands
    if {on_true, on_false} != {block.args[0], block.args[2]}:
        return None
    stack = [pred]
    seen: set[Value] = set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        d = v.defining_op
        if d is None:
            continue
        if d.name == "stablehlo.or":
            stack.extend(d.operands)
        elif d.name == "stablehlo.compare":
            direction = str(d.attributes.get("comparison_direction", "")).upper()
            if direction not in ("GT", "GE", "LT", "LE"):
                continue
            a, b = d.operands
            if (a, b) == (on_true, on_false):
                return "arg_max" if direction in ("GT", "GE") else "arg_min"
            if (a, b) == (on_false, on_true):
                return "arg_min" if direction in ("GT", "GE") else "arg_max"
    return None


class LegalizeArgMinMax(RewritePattern):
    """stablehlo.reduce(x, iota, -inf, 0){dimensions = [d]} (JAX's argmax body) ->
    tfl.arg_max(x, d) (argmin -> tfl.arg_min; the values result -> tfl.reduce_max/min)"""

    root = "stablehlo.reduce"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if op.num_operands != 4:
            return rw.fail("not a (values, indices) reduce")
        x, index, _, index_init = op.operands
        dims = ints(op, "dimensions")
        if len(dims) != 1:
            return rw.fail("argmax over several dims")
        if not _iota_along(index, dims[0]):
            return rw.fail("the index operand is not an iota along the reduced dim")
        if splat_value(index_init) != 0:
            return rw.fail("the index init value is not 0")
        kind = _argminmax_kind(op)
        if kind is None:
            return rw.fail("the body is not an argmax/argmin comparator")
        if why := kernel_dtype_reason("tfl." + kind, x):
            return rw.fail(why)
        idx_type = op.results[1].type
        if idx_type.dtype not in ("i32", "i64"):
            return rw.fail(f"arg_max does not produce {idx_type.dtype}")
        values_t = op.results[0].type
        axis = i32(rw, [dims[0]])
        out_type = "INT32" if idx_type.dtype == "i32" else "INT64"
        arg = create_tfl(rw, kind, [x, axis], [idx_type], output_type=out_type).result
        values = None
        if op.results[0].users:
            reducer = "reduce_max" if kind == "arg_max" else "reduce_min"
            values = create_tfl(rw, reducer, [x, axis], [values_t], keep_dims=False).result
        iota = index.defining_op
        rw.replace(op, [values, arg])
        if iota is not None and not iota.results[0].users:
            rw.erase(iota)
        return None


# --- reduce_window -----------------------------------------------------------------------------


def _window(op: Operation, rank: int) -> tuple[list[int], list[int], list[tuple[int, int]]] | None:
    window = ints(op, "window_dimensions")
    strides = ints(op, "window_strides", [1] * rank)
    pads = pairs(op, "padding", rank)
    if len(window) != rank or len(strides) != rank or pads is None:
        return None
    if any(d != 1 for d in ints(op, "base_dilations", [1] * rank)):
        return None
    if any(d != 1 for d in ints(op, "window_dilations", [1] * rank)):
        return None
    return window, strides, pads


def _pool_layout(window: list[int], strides: list[int], pads) -> str | None:
    """ "NHWC" or "NCHW" from where the window is 1 (batch and feature dims), else None."""
    for layout, unit in (("NHWC", (0, 3)), ("NCHW", (0, 1))):
        if all(window[d] == 1 and strides[d] == 1 and pads[d] == (0, 0) for d in unit):
            return layout
    return None


def _pool(rw: PatternRewriter, op: Operation, name: str, same_ok: bool) -> Value | str:
    """tfl.<name> (max_pool_2d / average_pool_2d) of the 4-D reduce_window `op`, with layout
    transposes (NHWC or NCHW windows); else why not. `same_ok`: whether padding equal to TF's
    SAME may become SAME (max pooling ignores the pads as -inf padding does; an average
    would count them differently)."""
    x = op.operands[0]
    result_type = op.results[0].type
    if x.type.rank != 4:
        return "pooling needs a rank-4 input"
    spec = _window(op, 4)
    if spec is None:
        return "malformed window, or base/window dilation"
    window, strides, pads = spec
    layout = _pool_layout(window, strides, pads)
    if layout is None:
        return "the window covers batch or feature dims (neither NHWC nor NCHW pooling)"
    hw = (1, 2) if layout == "NHWC" else (2, 3)
    to_nhwc = [0, 1, 2, 3] if layout == "NHWC" else [0, 2, 3, 1]
    from_nhwc = [0, 1, 2, 3] if layout == "NHWC" else [0, 3, 1, 2]
    shape = x.type.shape
    padding = "VALID"
    hw_pads = [pads[d] for d in hw]
    if any(p != (0, 0) for p in hw_pads):
        sizes = [shape[d] for d in hw]  # type: ignore[index]
        if not same_ok:
            return "padded average pooling counts the pads (TFL's SAME does not)"
        if all(
            s is not None and same_pads(s, window[d], strides[d]) == p
            for s, d, p in zip(sizes, hw, hw_pads)
        ):
            padding = "SAME"
        else:
            return "padding is neither VALID nor SAME"
    nhwc = transpose(rw, x, to_nhwc)
    out_shape = result_type.shape
    out_nhwc = result_type.with_shape(tuple(out_shape[p] for p in to_nhwc))
    pool = create_tfl(
        rw,
        name,
        [nhwc],
        [out_nhwc],
        padding=padding,
        stride_h=strides[hw[0]],
        stride_w=strides[hw[1]],
        filter_height=window[hw[0]],
        filter_width=window[hw[1]],
        **NONE_ACT,
    ).result
    return transpose(rw, pool, from_nhwc)


def _reduce_window_combiner(op: Operation) -> str | None:
    if op.num_operands != 2 or len(op.results) != 1:
        return None
    return body_combiner(op)


_BROADCASTS = ("stablehlo.broadcast_in_dim", "stablehlo.dynamic_broadcast_in_dim")


def _constant_through_broadcast(value: Value) -> float | int | bool | None:
    """The splat value of a constant, looking through an explicit broadcast of it."""
    op = value.defining_op
    broadcasts = ("stablehlo.broadcast_in_dim", "stablehlo.dynamic_broadcast_in_dim")
    if op is not None and op.name in (*broadcasts, "tfl.broadcast_to"):
        value = op.operands[0]
    return splat_value(value)


_WINDOW_ATTRS = ("window_dimensions", "window_strides", "padding", "base_dilations")


def _counts_window(value: Value, window: Operation) -> bool:
    """Whether `value` is (a broadcast of) a sum window of ones with `window`'s geometry: the
    number of unpadded elements under each window (Flax's count_include_pad=False)."""
    op = value.defining_op
    while op is not None and op.name in _BROADCASTS:
        if ints(op, "broadcast_dimensions") != list(range(op.operands[0].type.rank or 0)):
            return False
        op = op.operands[0].defining_op
    if (
        op is None
        or op.name != "stablehlo.reduce_window"
        or _reduce_window_combiner(op) != ("stablehlo.add")
    ):
        return False
    ones, init = op.operands
    same = all(op.attributes.get(k) == window.attributes.get(k) for k in _WINDOW_ATTRS)
    return same and splat_value(init) == 0 and _constant_through_broadcast(ones) == 1


def _average_divide(op: Operation) -> tuple[Operation, bool] | None:
    """(the stablehlo.divide, whether it divides by the count of unpadded elements) when that
    divide is the only user of the sum window `op` and divides by the window size or by that
    count (an average pool), else None."""
    users = op.results[0].users
    if len(users) != 1 or users[0].name != "stablehlo.divide":
        return None
    div = users[0]
    if div.operands[0] is not op.results[0]:
        return None
    size = int(np.prod(ints(op, "window_dimensions")))
    if _constant_through_broadcast(div.operands[1]) == size:
        return div, False
    return (div, True) if _counts_window(div.operands[1], op) else None


class LegalizeMaxPool(RewritePattern):
    """stablehlo.reduce_window(x: NHWC, -inf){window [1, kh, kw, 1]} ({maximum}) ->
    tfl.max_pool_2d(x) (NCHW windows through transposes)"""

    root = "stablehlo.reduce_window"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if _reduce_window_combiner(op) != "stablehlo.maximum":
            return rw.fail("not a single-operand maximum window")
        x, init = op.operands
        if not x.type.is_float or splat_value(init) != -np.inf:
            return rw.fail("max pooling needs a float input and a -inf init value")
        if why := kernel_dtype_reason("tfl.max_pool_2d", x):
            return rw.fail(why)
        pool = _pool(rw, op, "max_pool_2d", same_ok=True)
        if isinstance(pool, str):
            return rw.fail(pool)
        rw.replace(op, pool)
        return None


def _erase_dead(rw: PatternRewriter, value: Value) -> None:
    """Erase the now unused stablehlo ops that computed `value` (the count window)."""
    op = value.defining_op
    if op is None or op.results[0].users or not op.name.startswith("stablehlo."):
        return
    operands = list(op.operands)
    rw.erase(op)
    for v in operands:
        _erase_dead(rw, v)


class LegalizeAvgPool(RewritePattern):
    """stablehlo.divide(stablehlo.reduce_window(x, 0) ({add}), kh * kw) ->
    tfl.average_pool_2d(x) (VALID: TFL's SAME average does not count the pads); divided by the
    same window over ones (the unpadded count) -> SAME average_pool_2d too"""

    root = "stablehlo.divide"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        window = op.operands[0].defining_op
        if window is None or window.name != "stablehlo.reduce_window":
            return rw.fail("the dividend is not a reduce_window")
        found = (
            _average_divide(window) if _reduce_window_combiner(window) == "stablehlo.add" else None
        )
        if found is None or found[0] is not op:
            return rw.fail("not a sum window divided by its size or its unpadded count")
        x, init = window.operands
        if not x.type.is_float or splat_value(init) != 0:
            return rw.fail("average pooling needs a float input and a 0 init value")
        if why := kernel_dtype_reason("tfl.average_pool_2d", x):
            return rw.fail(why)
        # Divided by the unpadded count, SAME padding is exactly TFL's SAME average.
        pool = _pool(rw, window, "average_pool_2d", same_ok=found[1])
        if isinstance(pool, str):
            return rw.fail(pool)
        divisor = op.operands[1]
        rw.replace(op, pool)
        rw.erase(window)
        _erase_dead(rw, divisor)
        return None


class LegalizeCumsum(RewritePattern):
    """stablehlo.reduce_window(x, 0){window n along axis a, padding (n-1, 0)} ({add}) ->
    tfl.cumsum(x, a) (padding (0, n-1): reverse = true)"""

    root = "stablehlo.reduce_window"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if _reduce_window_combiner(op) != "stablehlo.add":
            return rw.fail("not a single-operand add window")
        x, init = op.operands
        rank = x.type.rank
        if rank is None or not x.type.is_static or splat_value(init) != 0:
            return rw.fail("cumsum needs a static input and a 0 init value")
        spec = _window(op, rank)
        if spec is None:
            return rw.fail("malformed window, or base/window dilation")
        window, strides, pads = spec
        axes = [d for d in range(rank) if window[d] != 1 or pads[d] != (0, 0)]
        if len(axes) != 1 or any(s != 1 for s in strides):
            return rw.fail("not a window along one axis with unit strides")
        (a,) = axes
        n = x.type.shape[a]  # type: ignore[index]
        if window[a] != n or pads[a] not in ((n - 1, 0), (0, n - 1)):
            return rw.fail("the window is not a full prefix / suffix of its axis")
        if why := kernel_dtype_reason("tfl.cumsum", x):
            return rw.fail(why)
        rw.replace_with_new(
            op,
            "tfl.cumsum",
            [x, i32(rw, a)],
            {"exclusive": False, "reverse": pads[a] == (0, n - 1)},
        )
        return None


class LegalizeSumPool(RewritePattern):
    """stablehlo.reduce_window(x: NHWC, 0){window [1, kh, kw, 1], VALID} ({add}) ->
    tfl.mul(tfl.average_pool_2d(x), kh * kw) (a sum window no divide follows)"""

    root = "stablehlo.reduce_window"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if _reduce_window_combiner(op) != "stablehlo.add":
            return rw.fail("not a single-operand add window")
        if _average_divide(op) is not None:
            return rw.fail("divided by its size: left for the average-pool pattern")
        x, init = op.operands
        if not x.type.is_float or splat_value(init) != 0:
            return rw.fail("sum pooling needs a float input and a 0 init value")
        if x.type.rank != 4:
            return rw.fail("sum pooling needs a rank-4 input")
        if why := kernel_dtype_reason("tfl.average_pool_2d", x):
            return rw.fail(why)
        pool = _pool(rw, op, "average_pool_2d", same_ok=False)
        if isinstance(pool, str):
            return rw.fail(pool)
        size = scalar_const(rw, float(np.prod(ints(op, "window_dimensions"))), x.type.dtype)
        k = create_tfl(rw, "mul", [pool, size], [pool.type], **NONE_ACT)
        rw.replace(op, k.result)
        return None


PATTERNS: list[RewritePattern] = [
    LegalizeReduce(),
    LegalizeArgMinMax(),
    LegalizeMaxPool(),
    LegalizeAvgPool(),
    LegalizeCumsum(),
    LegalizeSumPool(),
]
