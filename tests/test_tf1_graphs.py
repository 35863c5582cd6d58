"""TF1 graphs saved from a session (what LiteRT's op_tests build): inputs of unknown rank (a
placeholder without a shape; the official converter writes them with shape [] and LiteRT takes
the real shape at resize_tensor_input; ops that need a rank are refused with the input named and
the `input_shapes` fix), shapes after a tf.function call, and function bodies colocated with
nodes of the calling graph."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import tflconv  # noqa: E402

SHAPES = [(2, 3, 4), (5,), (1, 1)]


def _saved_model(tmp_path, build, shapes=SHAPES):
    """A TF1 SavedModel of `build(x)` for an unranked float placeholder x, and its outputs for
    seeded inputs of `shapes`."""
    path = str(tmp_path / "saved_model")
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, name="x")
        outputs = build(x)
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.saved_model.simple_save(sess, path, {"x": x}, outputs)
            run = lambda value: sess.run(outputs, {x: value})  # noqa: E731
            expected = [
                run(np.random.default_rng(i).random(s).astype(np.float32))
                for i, s in enumerate(shapes)
            ]
    return path, expected


def _run(tflite, value):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite)
    runner = interp.get_signature_runner()
    return runner(x=value)


def test_unranked_input_takes_any_shape_at_run_time(tmp_path):
    path, expected = _saved_model(
        tmp_path,
        lambda x: {
            "rank": tf.rank(x),
            "shape": tf.shape(x),
            "y": tf.abs(x) * 2.0 + 1.0,
            "total": tf.reduce_sum(x),
        },
    )
    tflite = tflconv.TFLiteConverter.from_saved_model(path).convert()
    for i, shape in enumerate(SHAPES):
        got = _run(tflite, np.random.default_rng(i).random(shape).astype(np.float32))
        for name, want in expected[i].items():
            np.testing.assert_allclose(got[name], want, rtol=1e-6, err_msg=f"{name} {shape}")


def test_op_that_needs_a_rank_names_the_unranked_input(tmp_path):
    path, _ = _saved_model(tmp_path, lambda x: {"y": tf.concat([x, x], -1)}, [])
    with pytest.raises(tflconv.ConverterError, match=r"'x' have unknown rank: input_shapes="):
        tflconv.TFLiteConverter.from_saved_model(path).convert()
    fixed = tflconv.convert(path, input_shapes={"x": [2, 3]})
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(_run(fixed, x)["y"], np.concatenate([x, x], -1))


def test_shapes_after_a_tf_function_call_in_a_tf1_graph(tmp_path):
    """Re-imported from the SavedModel's GraphDef, a call of a tf.function has unknown result
    shapes (TF's shape inference does not look into the callee), and so has everything after
    it; the importer inlines the call, asks TF again with the shapes it knows, and the NCHW
    convs that need a rank convert (LiteRT's op_tests conv_bias_relu6)."""
    w1 = np.random.default_rng(1).uniform(-1, 1, [2, 3, 3, 1]).astype(np.float32)
    w2 = np.random.default_rng(2).uniform(-1, 1, [2, 1, 1, 3]).astype(np.float32)

    @tf.function(jit_compile=True)
    def conv_nchw(x, w):
        return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="VALID", data_format="NCHW")

    path = str(tmp_path / "saved_model")
    x_value = np.random.default_rng(0).random([1, 3, 4, 3]).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 3, 4, 3], name="x")
        bias = np.full([1], 0.5, np.float32)
        y = tf.nn.relu6(tf.nn.bias_add(conv_nchw(x, w1), bias))
        y = tf.nn.relu6(tf.nn.bias_add(conv_nchw(y, w2), bias))
        with tf.compat.v1.Session() as sess:
            expected = sess.run(y, {x: x_value})
            tf.compat.v1.saved_model.simple_save(sess, path, {"x": x}, {"y": y})
    tflite = tflconv.TFLiteConverter.from_saved_model(path).convert()
    np.testing.assert_allclose(_run(tflite, x_value)["y"], expected, rtol=1e-5, atol=1e-5)


def test_function_nodes_colocated_with_the_calling_graph(tmp_path):
    """A control-flow-v2 branch built under `colocate_with(op outside it)` carries
    `_class: loc:@op` in its FunctionDef; rebuilding the branch drops the constraint instead of
    failing (LiteRT's op_tests static_rnn_with_control_flow_v2, sequence_length case)."""
    from tensorflow.python.ops import control_flow_util

    path = str(tmp_path / "saved_model")
    enabled = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = True
    try:
        with tf.Graph().as_default():
            x = tf.compat.v1.placeholder(tf.float32, [4], name="x")
            p = tf.compat.v1.placeholder(tf.bool, [], name="p")
            y = x * 2.0

            def true_fn():
                with tf.compat.v1.colocate_with(y.op):
                    return tf.where(x > 0, y, -y)

            out = tf.cond(p, true_fn, lambda: x)
            with tf.compat.v1.Session() as sess:
                feeds = [(np.arange(4.0, dtype=np.float32) - 2, flag) for flag in (True, False)]
                expected = [sess.run(out, {x: a, p: flag}) for a, flag in feeds]
                tf.compat.v1.saved_model.simple_save(sess, path, {"x": x, "p": p}, {"out": out})
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = enabled
    tflite = tflconv.TFLiteConverter.from_saved_model(path).convert()
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=tflite).get_signature_runner()
    for (a, flag), want in zip(feeds, expected):
        np.testing.assert_array_equal(runner(x=a, p=np.array(flag))["out"], want)


def test_band_part_of_an_unranked_input(tmp_path):
    """MatrixBandPart of an input of unknown rank: the matrix dims come from the run-time shape
    counted from the end, and the mask is broadcast to the input's shape (any rank, beyond
    SELECT_V2's 5-D broadcasting) -- LiteRT's op_tests matrix_band_part, input_shape=None."""
    path = str(tmp_path / "saved_model")
    shapes = [(4, 6), (2, 5, 3), (2, 1, 2, 1, 3, 4)]
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, name="x")
        lo = tf.compat.v1.placeholder(tf.int32, [], name="lo")
        up = tf.compat.v1.placeholder(tf.int32, [], name="up")
        y = tf.linalg.band_part(x, lo, up)
        with tf.compat.v1.Session() as sess:
            cases = []
            for i, shape in enumerate(shapes):
                value = np.random.default_rng(i).random(shape).astype(np.float32)
                for bounds in ((1, 0), (-1, 2), (0, -1)):
                    feed = {x: value, lo: bounds[0], up: bounds[1]}
                    cases.append((value, bounds, sess.run(y, feed)))
            tf.compat.v1.saved_model.simple_save(sess, path, {"x": x, "lo": lo, "up": up}, {"y": y})
    tflite = tflconv.TFLiteConverter.from_saved_model(path).convert()
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=tflite).get_signature_runner()
    for value, (a, b), want in cases:
        got = runner(x=value, lo=np.int32(a), up=np.int32(b))["y"]
        np.testing.assert_array_equal(got, want, err_msg=f"{value.shape} {a} {b}")
