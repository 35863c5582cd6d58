"""End to end: TF functional control flow (tf.while_loop, tf.cond, tf.switch_case, TensorArrays)
converted by tflconv and run in LiteRT, outputs compared with TensorFlow.

Every function takes a dynamic batch; each case runs at two batch sizes in one interpreter
session sequence (resizing the input), exercising shape propagation through loop bodies.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tests.e2e_util import convert_and_compare, op_histogram, run_litert  # noqa: E402

RNG = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _check(fn, inputs_list, expect_ops=(), atol=1e-5, rtol=1e-4):
    """Convert `fn` once (compared with TF on the first input set), then run the same model
    on the other input sets (other batch sizes, other branches) and compare again."""
    tflite = convert_and_compare(fn, inputs_list[0], atol=atol, rtol=rtol)
    for inputs in inputs_list[1:]:
        expected = fn(*inputs)
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        got = run_litert(tflite, inputs)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, np.asarray(e), atol=atol, rtol=rtol)
    hist = op_histogram(tflite)
    for name in expect_ops:
        assert hist.get(name, 0) >= 1, f"{name} missing from {hist}"
    assert not any(k.startswith("tfl.custom") for k in hist), hist
    return hist


def test_while_counter_and_accumulation():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        def body(i, acc):
            return i + 1, acc * 0.5 + x * tf.cast(i, tf.float32)

        _, acc = tf.while_loop(lambda i, a: i < 4, body, (tf.constant(0), tf.zeros_like(x)))
        return acc

    hist = _check(f, [[_x(1, 3)], [_x(3, 3)]], expect_ops=["tfl.while"])
    assert hist["tfl.while"] == 1


def test_while_data_dependent_trip_count():
    @tf.function(
        input_signature=[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([], tf.int32)]
    )
    def f(x, n):
        _, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, tf.tanh(y + 1.0)), (0, x))
        return y

    _check(f, [[_x(2, 2), np.array(3, np.int32)], [_x(1, 2), np.array(0, np.int32)]])


def test_while_tensor_array_written_per_step():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        ta = tf.TensorArray(tf.float32, size=5)

        def body(i, acc, ta):
            acc = tf.nn.relu(acc + x * tf.cast(i - 2, tf.float32))
            return i + 1, acc, ta.write(i, acc)

        _, acc, ta = tf.while_loop(lambda i, a, t: i < 5, body, (0, tf.zeros_like(x), ta))
        return acc, ta.stack()

    hist = _check(f, [[_x(1, 3)], [_x(4, 3)]], expect_ops=["tfl.while"])
    assert "tfl.dynamic_update_slice" in hist


def test_while_tensor_array_read_per_step():
    """TensorArray.unstack of the input, read inside the loop (Keras RNN style)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 3], tf.float32)])
    def f(x):
        xs = tf.TensorArray(tf.float32, size=4).unstack(tf.transpose(x, [1, 0, 2]))

        def body(t, h):
            return t + 1, tf.tanh(h + xs.read(t))

        _, h = tf.while_loop(lambda t, h: t < 4, body, (0, tf.zeros_like(x[:, 0])))
        return h

    hist = _check(f, [[_x(2, 4, 3)], [_x(5, 4, 3)]], expect_ops=["tfl.while", "tfl.gather"])
    assert "tfl.dynamic_update_slice" not in hist


def test_cond_on_input_dependent_predicate_runs_both_branches():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        return tf.cond(tf.reduce_sum(x) > 0.0, lambda: x * 2.0, lambda: tf.abs(x) - 1.0)

    pos = np.abs(_x(2, 3)) + 0.1
    _check(f, [[pos], [-pos], [-pos[:1]]], expect_ops=["tfl.if"])


def test_loop_nested_in_cond():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        def looped():
            _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 0.5 + 1.0), (0, x))
            return y

        return tf.cond(tf.reduce_max(x) > 0.0, looped, lambda: x - 3.0)

    pos = np.abs(_x(2, 3)) + 0.1
    _check(f, [[pos], [-pos]], expect_ops=["tfl.if", "tfl.while"])


def test_nested_loops():
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def f(x):
        def outer(i, y):
            _, y = tf.while_loop(lambda j, z: j < i, lambda j, z: (j + 1, z + 1.0), (0, y))
            return i + 1, y * 0.5

        _, y = tf.while_loop(lambda i, y: i < 3, outer, (0, x))
        return y

    hist = _check(f, [[_x(2, 2)], [_x(1, 2)]])
    assert hist["tfl.while"] == 2


def test_switch_case_becomes_if_chain():
    @tf.function(
        input_signature=[tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([], tf.int32)]
    )
    def f(x, i):
        return tf.switch_case(i, [lambda: x * 2.0, lambda: x - 1.0, lambda: x + 5.0])

    x = _x(2, 3)
    # 7 is out of range: TF runs the last branch.
    cases = [[x, np.array(k, np.int32)] for k in (0, 1, 2, 7)]
    hist = _check(f, cases, expect_ops=["tfl.if"])
    assert hist["tfl.if"] == 2


def test_dynamic_size_tensor_array_with_data_dependent_length():
    """TensorArray(dynamic_size=True) writes grow the list (resize_if_index_out_of_bounds)."""

    @tf.function(
        input_signature=[tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([], tf.int32)]
    )
    def f(x, n):
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)

        def body(i, ta):
            return i + 1, ta.write(i, x * tf.cast(i + 1, tf.float32))

        _, ta = tf.while_loop(lambda i, t: i < n, body, (0, ta))
        return ta.stack(), ta.size()

    _check(
        f,
        [[_x(2, 3), np.array(4, np.int32)], [_x(3, 3), np.array(1, np.int32)]],
        expect_ops=["tfl.while", "tfl.pad"],
    )


def test_loop_value_that_grows_each_step():
    """A loop value whose shape changes per iteration (shape_invariants [None, 2])."""

    @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32)])
    def f(x):
        def body(i, acc):
            return i + 1, tf.concat([acc, acc[-1:] * 2.0], axis=0)

        _, acc = tf.while_loop(
            lambda i, a: i < 3,
            body,
            (0, x),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, 2])),
        )
        return acc

    _check(f, [[_x(1, 2)]], expect_ops=["tfl.while"])


def test_tensor_array_scatter_gather_and_inferred_element_shape():
    """TensorArray.scatter / gather / read outside loops; a TensorArray declared without an
    element shape takes it from the items written in the loop."""

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 3], tf.float32)])
    def f(x):
        rows = tf.transpose(x, [1, 0, 2])
        scattered = tf.TensorArray(tf.float32, size=4).scatter([3, 0, 2, 1], rows)
        ta = tf.TensorArray(tf.float32, size=3)  # element shape unknown until written
        _, ta = tf.while_loop(
            lambda i, t: i < 3, lambda i, t: (i + 1, t.write(i, rows[i] * 2.0)), (0, ta)
        )
        return scattered.stack(), scattered.gather([2, 0]), ta.read(1)

    _check(f, [[_x(2, 4, 3)], [_x(3, 4, 3)]], expect_ops=["tfl.scatter_nd", "tfl.while"])
