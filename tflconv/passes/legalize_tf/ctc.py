"""tf.CTCGreedyDecoder (`tf.nn.ctc_greedy_decoder`, the decoding step of speech and OCR models),
which the official converter refuses, as builtins. TF's rule (ctc_decoder.h), per batch entry b
over its first seq_len[b] steps: the class of each step is the first maximum of its logits; it
is emitted unless it is the blank or (with merge_repeated) the previous step's class, blanks
included; the log probability is minus the sum of the steps' maxima. The emitted classes form a
sparse [batch, longest] tensor in row-major order:

    a = ARG_MAX(logits, 2)                       [T, B]
    keep = t < seq_len & a != blank & a != prev  (prev: `a` one step down, -1 at t = 0)
    idx = WHERE(TRANSPOSE(keep))                 [K, 2] (b, t), batch-major as TF
    values = GATHER_ND(TRANSPOSE(a), idx)        the emitted classes
    indices = (b, CUMSUM(keep over t) - 1 at idx)  each class's position in its sequence
    shape = (B, max over b of the kept count)

Inputs TF rejects (a sequence length above the time axis, a blank index outside the classes)
are not checked at run time: such a length counts every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, create_tfl, scalar_const
from .nn_util import i32
from .tensor_util import dim_size, iota, strided_slice


class LegalizeCTCGreedyDecoder(RewritePattern):
    """tf.CTCGreedyDecoder(logits, seq_len){merge_repeated, blank_index} -> (indices, values,
    shape, log_probability) from ARG_MAX, WHERE, CUMSUM and GATHER_ND"""

    root = "tf.CTCGreedyDecoder"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        logits, seq_len = op.operands
        shape = logits.type.shape
        if shape is None or len(shape) != 3 or shape[2] is None or logits.type.dtype != "f32":
            return rw.fail("logits must be f32 [time, batch, classes] with static classes")
        steps, batch, classes = shape
        blank = int(op.attributes.get("blank_index", -1))
        blank = blank + classes if blank < 0 else blank
        merge = bool(op.attributes.get("merge_repeated", False))

        def tfl(name: str, operands: list[Value], t: TensorType, **attrs: Any) -> Value:
            return create_tfl(rw, name, operands, [t], **attrs).result

        def binary(name: str, a: Value, b: Value, t: TensorType) -> Value:
            return tfl(name, [a, b], t, fused_activation_function="NONE")

        tb_i32, tb_i1 = TensorType((steps, batch), "i32"), TensorType((steps, batch), "i1")
        bt_i32, bt_i1 = TensorType((batch, steps), "i32"), TensorType((batch, steps), "i1")
        cls = tfl("arg_max", [logits, i32(rw, [2])], tb_i32, output_type="INT32")
        best = tfl(
            "reduce_max", [logits, i32(rw, [2])], TensorType((steps, batch), "f32"), keep_dims=False
        )

        # t < seq_len[b]
        times = iota(rw, logits, 0)
        times = tfl("reshape", [times, i32(rw, [-1, 1])], TensorType((steps, 1), "i32"))
        lengths = seq_len
        if seq_len.type.dtype != "i32":
            lengths = tfl("cast", [seq_len], seq_len.type.with_dtype("i32"))
        valid = tfl("less", [times, lengths], tb_i1)

        keep = tfl(
            "logical_and",
            [valid, tfl("not_equal", [cls, scalar_const(rw, blank, "i32")], tb_i1)],
            tb_i1,
        )
        if merge:  # the previous step's class: -1 (no class) above the first step
            shifted = tfl(
                "padv2",
                [cls, i32(rw, [[1, 0], [0, 0]]), scalar_const(rw, -1, "i32")],
                TensorType((None if steps is None else steps + 1, batch), "i32"),
            )
            prev = strided_slice(rw, shifted, [0, 0], [-1, 0], [1, 1], tb_i32, 3, 2)
            keep = tfl("logical_and", [keep, tfl("not_equal", [cls, prev], tb_i1)], tb_i1)

        # log probability: -sum of the maxima over the valid steps
        zero = const(rw, np.float32(0.0))
        counted = tfl("select_v2", [valid, best, zero], TensorType((steps, batch), "f32"))
        total = tfl("sum", [counted, i32(rw, [0])], TensorType((batch,), "f32"), keep_dims=False)
        log_prob = tfl("neg", [total], TensorType((batch,), "f32"))
        log_prob = tfl("reshape", [log_prob, i32(rw, [-1, 1])], op.results[3].type)

        perm = i32(rw, [1, 0])
        keep_bt = tfl("transpose", [keep, perm], bt_i1)
        cls_bt = tfl("transpose", [cls, perm], bt_i32)
        kept = tfl("cast", [keep_bt], bt_i32)
        ends = tfl("cumsum", [kept, i32(rw, 1)], bt_i32, exclusive=False, reverse=False)
        idx = tfl("where", [keep_bt], TensorType((None, 2), "i64"))
        values = tfl("gather_nd", [cls_bt, idx], TensorType((None,), "i32"))
        values = tfl("cast", [values], op.results[1].type)
        position = tfl("gather_nd", [ends, idx], TensorType((None,), "i32"))
        position = binary("sub", position, scalar_const(rw, 1, "i32"), position.type)
        position = tfl("cast", [position], TensorType((None,), "i64"))
        position = tfl("reshape", [position, i32(rw, [-1, 1])], TensorType((None, 1), "i64"))
        rows = strided_slice(rw, idx, [0, 0], [0, 1], [1, 1], TensorType((None, 1), "i64"), 1, 1)
        indices = tfl(
            "concatenation",
            [rows, position],
            op.results[0].type,
            axis=1,
            fused_activation_function="NONE",
        )

        counts = tfl("sum", [kept, i32(rw, [1])], TensorType((batch,), "i32"), keep_dims=False)
        longest = tfl("reduce_max", [counts, i32(rw, [0])], TensorType((), "i32"), keep_dims=False)
        b_count = dim_size(rw, logits, 1)
        dense = tfl("pack", [b_count, longest], TensorType((2,), "i32"), axis=0, values_count=2)
        dense = tfl("cast", [dense], op.results[2].type)
        rw.replace(op, [indices, values, dense, log_prob])
        return None


PATTERNS: list[RewritePattern] = [LegalizeCTCGreedyDecoder()]
