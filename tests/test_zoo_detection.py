"""Detection post-processing the held-out zoo sweep (benchmarks/zoo_sweep.py) caught:
`tf.image.non_max_suppression` emits NonMaxSuppressionV3, which the official converter
lowers (its TF canonicalization turns V3 into V4) and we refused. Converted with tflconv, run in
LiteRT and compared exactly with TensorFlow, including TF's dynamic-size result."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import convert  # noqa: E402


def _boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n boxes in clusters (so some overlap), distinct scores."""
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 4, (n, 2)) * 0.6 + rng.uniform(0, 0.2, (n, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.5, 1.0, (n, 2))], 1).astype(np.float32)
    return boxes, (rng.permutation(n) / n).astype(np.float32)


def _check(fn, boxes: np.ndarray, scores: np.ndarray) -> dict[str, int]:
    spec = [tf.TensorSpec(boxes.shape, tf.float32), tf.TensorSpec(scores.shape, tf.float32)]
    cf = tf.function(fn, input_signature=spec).get_concrete_function()
    tflite = convert([cf])
    want = cf(tf.constant(boxes), tf.constant(scores))
    want = [np.asarray(w) for w in (want if isinstance(want, list | tuple) else [want])]
    got = run_litert(tflite, [boxes, scores])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)  # same length: TF's unpadded result
    return op_histogram(tflite)


@pytest.mark.parametrize("n,max_out", [(6, 2), (12, 4), (20, 30)])
@pytest.mark.parametrize("score_threshold", [None, 0.4])
@pytest.mark.parametrize("iou", [0.3, 0.7])
def test_image_non_max_suppression(n, max_out, score_threshold, iou):
    boxes, scores = _boxes(n, seed=n + max_out)
    kw = {} if score_threshold is None else {"score_threshold": score_threshold}

    def fn(b, s):
        return tf.image.non_max_suppression(b, s, max_out, iou_threshold=iou, **kw)

    hist = _check(fn, boxes, scores)
    assert hist.get("tfl.non_max_suppression_v4") == 1, hist


def test_non_max_suppression_v3_feeds_a_gather():
    """The usual detector tail: the selected boxes, gathered by the unpadded indices."""
    boxes, scores = _boxes(16, seed=3)

    def fn(b, s):
        idx = tf.image.non_max_suppression(b, s, 5, iou_threshold=0.5, score_threshold=0.2)
        return tf.gather(b, idx), tf.gather(s, idx)

    _check(fn, boxes, scores)
