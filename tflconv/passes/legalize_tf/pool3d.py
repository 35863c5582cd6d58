"""tf.MaxPool3D / tf.AvgPool3D as two 2-D pools, which run on any LiteRT build (the official
converter emits `MaxPool3D` / `AveragePool3D` custom ops, which LiteRT's standard op resolver
does not register).

A 3-D window is the product of a (depth) interval and an (height, width) box, and so is its
intersection with the unpadded input under SAME padding. So the max over it is the max over
depth of the per-frame (H, W) max, and the average (TF counts only the unpadded elements) is the
depth average of the per-frame (H, W) averages, each over its own valid count:

    x [N, D, H, W, C] -> reshape [N*D, H, W, C] -> pool (kh, kw) -> [N*D, H', W', C]
      -> reshape [N, D, H'*W', C] -> pool (kd, 1) -> [N, D', H'*W', C] -> reshape [N, D', H', W', C]

Each 2-D pool pads as the 3-D one along its axes (TF's SAME split is per axis). A pool with a
1x1 window and stride is left out. NDHWC with static D, H, W, C; the batch may be dynamic.
"""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .lower_tf import tf_op
from .nn_util import data_format, i32, pool_window


def _pooled(size: int, window: int, stride: int, padding: str) -> int:
    span = size if padding == "SAME" else size - window + 1
    return -(-span // stride)


class LowerPool3D(RewritePattern):
    """tf.MaxPool3D / AvgPool3D(x){ksize, strides, padding} -> tf.Reshape, tf.MaxPool /
    AvgPool over (H, W), tf.Reshape, tf.MaxPool / AvgPool over D, tf.Reshape"""

    root = ("tf.MaxPool3D", "tf.AvgPool3D")

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        x = op.operands[0]
        shape = x.type.shape
        if shape is None or len(shape) != 5 or any(d is None for d in shape[1:]):
            return rw.fail("3-D pooling is lowered for NDHWC inputs with static D, H, W, C")
        if data_format(op, "NDHWC") != "NDHWC":
            return rw.fail(f"data_format {data_format(op, 'NDHWC')} (NDHWC only)")
        window = pool_window(op, 5)
        if isinstance(window, str):
            return rw.fail(window)
        ksize, strides, padding = window
        n = shape[0]
        d, h, w, c = (int(v) for v in shape[1:])
        (kd, kh, kw), (sd, sh, sw) = ksize[1:4], strides[1:4]
        out_d, out_h, out_w = (
            _pooled(size, k, s, padding) for size, k, s in ((d, kd, sd), (h, kh, sh), (w, kw, sw))
        )
        if min(out_d, out_h, out_w) < 1:
            return rw.fail("the window is larger than the input")
        pool = "MaxPool" if op.name == "tf.MaxPool3D" else "AvgPool"
        dtype = x.type.dtype

        def pool2d(
            v: Value, window: tuple[int, int], step: tuple[int, int], out: TensorType
        ) -> Value:
            return tf_op(
                rw,
                pool,
                [v],
                out,
                ksize=[1, *window, 1],
                strides=[1, *step, 1],
                padding=padding,
                data_format="NHWC",
            )

        frames = None if n is None else n * d
        v = tf_op(rw, "Reshape", [x, i32(rw, [-1, h, w, c])], TensorType((frames, h, w, c), dtype))
        if (kh, kw, sh, sw) != (1, 1, 1, 1):
            v = pool2d(v, (kh, kw), (sh, sw), TensorType((frames, out_h, out_w, c), dtype))
        if (kd, sd) != (1, 1):
            plane = out_h * out_w
            v = tf_op(
                rw, "Reshape", [v, i32(rw, [-1, d, plane, c])], TensorType((n, d, plane, c), dtype)
            )
            v = pool2d(v, (kd, 1), (sd, 1), TensorType((n, out_d, plane, c), dtype))
        out = tf_op(rw, "Reshape", [v, i32(rw, [-1, out_d, out_h, out_w, c])], op.result.type)
        rw.replace(op, out)
        return None


PATTERNS: list[RewritePattern] = [LowerPool3D()]
