"""tf.MaxPoolWithArgmax (`tf.nn.max_pool_with_argmax`, the pooling indices of SegNet-style
decoders), which the official converter makes a `MaxPoolWithArgmax` custom op that LiteRT's
standard resolver lacks, as builtins:

- the pooled values: MAX_POOL_2D;
- the indices: the kh*kw window offsets, each a strided slice of the input (padded with -inf
  for SAME: TF never picks a padded element), stacked; ARG_MAX over them gives the offset
  k = ky*kw + kx of the window's first maximum in row-major order, which is TF's choice (its
  kernel replaces the running max only when an element is strictly larger). TF's index of
  element (b, y, x, c) is ((b*H + y)*W + x)*C + c, the b term only with
  `include_batch_in_index`; with y = oy*sh - pad_top + ky and x = ox*sw - pad_left + kx:

      index = base[oy, ox, c] + k*C + (k // kw) * (W - kw)*C

  where `base` is a constant. Static H, W, C; the batch may be dynamic unless
  `include_batch_in_index`.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, create_tfl
from .nn_util import i32, pool_window, same_pads
from .tensor_util import strided_slice


class LegalizeMaxPoolWithArgmax(RewritePattern):
    """tf.MaxPoolWithArgmax(x){ksize, strides, padding, Targmax, include_batch_in_index} ->
    tfl.max_pool_2d, and tfl.pack of the window's strided slices -> tfl.arg_max -> index math"""

    root = "tf.MaxPoolWithArgmax"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        shape = x.type.shape
        if shape is None or len(shape) != 4 or any(d is None for d in shape[1:]):
            return rw.fail("MaxPoolWithArgmax is lowered for NHWC inputs with static H, W, C")
        if x.type.dtype != "f32":
            return rw.fail(f"MaxPoolWithArgmax is lowered for f32 (got {x.type.dtype})")
        window = pool_window(op, 4)
        if isinstance(window, str):
            return rw.fail(window)
        ksize, strides, padding = window
        n, h, w, c = shape
        (kh, kw), (sh, sw) = ksize[1:3], strides[1:3]
        with_batch = bool(op.attributes.get("include_batch_in_index", False))
        if with_batch and n is None:
            return rw.fail("include_batch_in_index needs a static batch")
        if padding == "SAME":
            (top, bottom), (left, right) = same_pads(h, kh, sh), same_pads(w, kw, sw)
            oh, ow = -(-h // sh), -(-w // sw)
        else:
            oh, ow, top, bottom, left, right = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0, 0, 0
        if oh < 1 or ow < 1:
            return rw.fail("the window is larger than the input")
        values_t, index_t = (r.type for r in op.results)
        pooled = create_tfl(
            rw,
            "max_pool_2d",
            [x],
            [values_t],
            padding=padding,
            stride_h=sh,
            stride_w=sw,
            filter_height=kh,
            filter_width=kw,
            fused_activation_function="NONE",
        ).result
        padded = x
        if top or bottom or left or right:
            pads = i32(rw, [[0, 0], [top, bottom], [left, right], [0, 0]])
            minus_inf = const(rw, np.float32(-np.inf))
            padded_shape = (n, h + top + bottom, w + left + right, c)
            padded = create_tfl(
                rw, "padv2", [x, pads, minus_inf], [x.type.with_shape(padded_shape)]
            ).result
        window_t = x.type.with_shape((n, oh, ow, c))
        windows = [
            strided_slice(
                rw,
                padded,
                [0, ky, kx, 0],
                [0, ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1, c],
                [1, sh, sw, 1],
                window_t,
                begin_mask=1,
                end_mask=1,
            )
            for ky in range(kh)
            for kx in range(kw)
        ]
        stacked = create_tfl(
            rw,
            "pack",
            windows,
            [x.type.with_shape((kh * kw, n, oh, ow, c))],
            axis=0,
            values_count=len(windows),
        ).result
        index_i32 = TensorType((n, oh, ow, c), "i32")
        k = create_tfl(rw, "arg_max", [stacked, i32(rw, [0])], [index_i32], output_type="INT32")
        index = self._index(
            rw, k.result, index_i32, (h, w, c), (kw, sh, sw), (top, left), n if with_batch else None
        )
        if index_t.dtype != "i32":
            index = create_tfl(rw, "cast", [index], [index_t]).result
        rw.replace(op, [pooled, index])
        return None

    @staticmethod
    def _index(
        rw: PatternRewriter,
        k: Value,
        t: TensorType,
        hwc: tuple[int, int, int],
        steps: tuple[int, int, int],
        pads: tuple[int, int],
        batch: int | None,
    ) -> Value:
        (h, w, c), (kw, sh, sw), (top, left) = hwc, steps, pads
        _, oh, ow, _ = t.shape  # type: ignore[misc]
        oy, ox, ch = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(c), indexing="ij")
        base = ((oy * sh - top) * w + (ox * sw - left)) * c + ch
        if batch is not None:
            base = base[None] + (np.arange(batch) * h * w * c).reshape(-1, 1, 1, 1)

        def binary(name: str, a: Value, b: Value) -> Value:
            return create_tfl(rw, name, [a, b], [t], fused_activation_function="NONE").result

        index = binary("mul", k, i32(rw, c))
        if w != kw:  # the row the offset is on: (k // kw) * (W - kw) * C
            row = create_tfl(rw, "floor_div", [k, i32(rw, kw)], [t]).result
            index = binary("add", index, binary("mul", row, i32(rw, (w - kw) * c)))
        return binary("add", index, const(rw, base.astype(np.int32)))


PATTERNS: list[RewritePattern] = [LegalizeMaxPoolWithArgmax()]
