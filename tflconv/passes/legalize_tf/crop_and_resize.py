"""tf.CropAndResize (`tf.image.crop_and_resize`, the ROI crops of detection models), which the
official converter refuses, as TF ops the other families legalize: for each box n and output
pixel (i, j), TF's source coordinates (crop_and_resize_op.cc, in float32 and in its order)

    y = y1 (H - 1) + i ((y2 - y1) (H - 1) / (ch - 1))     (ch > 1; else (y1 + y2) (H - 1) / 2)
    x = x1 (W - 1) + j ((x2 - x1) (W - 1) / (cw - 1))

then bilinear: the four pixels around (y, x) gathered from image[box_index[n]] (GatherNd),
mixed by the fractions; nearest: the pixel at (round(y), round(x)), halves away from zero. A pixel whose y or x falls
outside [0, H - 1] / [0, W - 1] is `extrapolation_value`. Needs a static image height and
width and a constant crop size; the output is float32 as in TF.
"""

from __future__ import annotations

import numpy as np

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType

from .common import const, constant_value, scalar_const
from .lower_tf import tf_op
from .nn_util import i32

F32 = "f32"


class LowerCropAndResize(RewritePattern):
    """tf.CropAndResize(image, boxes, box_index, crop_size){method, extrapolation_value} ->
    GatherNd of the source pixels, mixed bilinearly (or the nearest one), masked outside"""

    root = "tf.CropAndResize"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        image, boxes, box_index, crop_size = op.operands
        shape = image.type.shape
        if shape is None or len(shape) != 4 or shape[1] is None or shape[2] is None:
            return rw.fail("the image height and width must be static")
        crop = constant_value(crop_size)
        if crop is None:
            return rw.fail("the crop size is not constant")
        method = op.attributes.get("method", "bilinear")
        method = method.decode() if isinstance(method, bytes) else str(method)
        if method not in ("bilinear", "nearest"):
            return rw.fail(f"method {method!r}")
        height, width = int(shape[1]), int(shape[2])
        ch, cw = (int(v) for v in np.asarray(crop).reshape(-1))
        out = op.result.type
        n = out.shape[0] if out.shape else None
        channels = shape[3]
        if image.type.dtype != F32:
            image = tf_op(rw, "Cast", [image], image.type.with_dtype(F32), Truncate=False)

        def column(k: int) -> Value:  # boxes[:, k:k+1], [N, 1]
            begin, size = i32(rw, [0, k]), i32(rw, [-1, 1])
            return tf_op(rw, "Slice", [boxes, begin, size], TensorType((n, 1), F32))

        y1, x1, y2, x2 = (column(k) for k in range(4))
        ys, y_inside = _source_coordinates(rw, y1, y2, height, ch, n)  # [N, ch]
        xs, x_inside = _source_coordinates(rw, x1, x2, width, cw, n)  # [N, cw]
        batch = tf_op(rw, "Reshape", [box_index, i32(rw, [-1, 1, 1])], TensorType((n, 1, 1), "i32"))
        grid = TensorType((n, ch, cw), "i32")
        ones = const(rw, np.ones((1, ch, cw), np.int32))
        b = tf_op(rw, "Mul", [batch, ones], grid)
        pixels = TensorType((n, ch, cw, channels), F32)

        def gather(y: Value, x: Value) -> Value:  # image[b, y, x, :] for y [N, ch], x [N, cw]
            yi = _index(rw, y, height, (n, ch, 1), grid, ones)
            xi = _index(rw, x, width, (n, 1, cw), grid, ones)
            idx = tf_op(rw, "Pack", [b, yi, xi], TensorType((n, ch, cw, 3), "i32"), axis=3, N=3)
            return tf_op(rw, "GatherNd", [image, idx], pixels)

        if method == "nearest":  # TF's roundf: half away from zero (coordinates inside are >= 0)
            half = scalar_const(rw, 0.5, F32)
            y_near = tf_op(rw, "Floor", [tf_op(rw, "AddV2", [ys, half], ys.type)], ys.type)
            x_near = tf_op(rw, "Floor", [tf_op(rw, "AddV2", [xs, half], xs.type)], xs.type)
            result = gather(y_near, x_near)
        else:
            top, left = tf_op(rw, "Floor", [ys], ys.type), tf_op(rw, "Floor", [xs], xs.type)
            bottom, right = tf_op(rw, "Ceil", [ys], ys.type), tf_op(rw, "Ceil", [xs], xs.type)
            y_frac = _expand(rw, tf_op(rw, "Sub", [ys, top], ys.type), (n, ch, 1, 1))
            x_frac = _expand(rw, tf_op(rw, "Sub", [xs, left], xs.type), (n, 1, cw, 1))
            upper = _lerp(rw, gather(top, left), gather(top, right), x_frac, pixels)
            lower = _lerp(rw, gather(bottom, left), gather(bottom, right), x_frac, pixels)
            result = _lerp(rw, upper, lower, y_frac, pixels)
        inside_y = _expand(rw, y_inside, (n, ch, 1, 1), "i1")
        inside_x = _expand(rw, x_inside, (n, 1, cw, 1), "i1")
        inside = tf_op(rw, "LogicalAnd", [inside_y, inside_x], TensorType((n, ch, cw, 1), "i1"))
        fill = scalar_const(rw, float(op.attributes.get("extrapolation_value", 0.0)), F32)
        rw.replace(op, tf_op(rw, "SelectV2", [inside, result, fill], out))
        return None


def _source_coordinates(
    rw: PatternRewriter, lo: Value, hi: Value, size: int, steps: int, n: int | None
) -> tuple[Value, Value]:
    """TF's source coordinates [N, steps] along one axis and whether each is inside."""
    t = TensorType((n, steps), F32)
    extent = scalar_const(rw, float(size - 1), F32)
    if steps > 1:
        span = tf_op(rw, "Sub", [hi, lo], lo.type)
        scale = tf_op(rw, "Mul", [span, extent], lo.type)
        scale = tf_op(rw, "RealDiv", [scale, scalar_const(rw, float(steps - 1), F32)], lo.type)
        start = tf_op(rw, "Mul", [lo, extent], lo.type)
        positions = const(rw, np.arange(steps, dtype=np.float32).reshape(1, steps))
        coords = tf_op(rw, "AddV2", [start, tf_op(rw, "Mul", [positions, scale], t)], t)
    else:
        middle = tf_op(rw, "Mul", [tf_op(rw, "AddV2", [lo, hi], lo.type), extent], lo.type)
        coords = tf_op(rw, "Mul", [middle, scalar_const(rw, 0.5, F32)], lo.type)
    above = tf_op(
        rw, "GreaterEqual", [coords, scalar_const(rw, 0.0, F32)], coords.type.with_dtype("i1")
    )
    below = tf_op(rw, "LessEqual", [coords, extent], coords.type.with_dtype("i1"))
    return coords, tf_op(rw, "LogicalAnd", [above, below], coords.type.with_dtype("i1"))


def _index(
    rw: PatternRewriter,
    coords: Value,
    size: int,
    shape: tuple[int | None, ...],
    grid: TensorType,
    ones: Value,
) -> Value:
    """Integer pixel indices clamped into the image (outside pixels are masked later),
    broadcast to the [N, ch, cw] grid."""
    low = tf_op(rw, "Maximum", [coords, scalar_const(rw, 0.0, F32)], coords.type)
    clamped = tf_op(rw, "Minimum", [low, scalar_const(rw, float(size - 1), F32)], coords.type)
    as_int = tf_op(rw, "Cast", [clamped], coords.type.with_dtype("i32"), Truncate=False)
    reshaped = tf_op(rw, "Reshape", [as_int, i32(rw, [-1, *shape[1:]])], TensorType(shape, "i32"))
    return tf_op(rw, "Mul", [reshaped, ones], grid)


def _expand(
    rw: PatternRewriter, value: Value, shape: tuple[int | None, ...], dtype: str = F32
) -> Value:
    return tf_op(rw, "Reshape", [value, i32(rw, [-1, *shape[1:]])], TensorType(shape, dtype))


def _lerp(rw: PatternRewriter, a: Value, b: Value, frac: Value, t: TensorType) -> Value:
    """a + (b - a) frac, TF's order."""
    return tf_op(rw, "AddV2", [a, tf_op(rw, "Mul", [tf_op(rw, "Sub", [b, a], t), frac], t)], t)


PATTERNS: list[RewritePattern] = [LowerCropAndResize()]
