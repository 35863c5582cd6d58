"""Full-integer quantization inside control flow: WHILE bodies and IF branches are calibrated over
every iteration (calibrate_loops.py) and quantized like the main function, the values a loop
carries share one scale (control_flow.py). Keras recurrent layers that stay loops (GRU,
SimpleRNN, an LSTM whose states are used) and a tf.function with a tf.cond inside a
tf.while_loop become integer end to end; they run in LiteRT with and without XNNPACK, and their
error against the float model is bounded."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tflconv  # noqa: E402
from tflconv.core.ir import Module  # noqa: E402
from tflconv.core.parser import parse_module  # noqa: E402
from tflconv.passes.quantize.calibrate import calibrate_module  # noqa: E402
from tflconv.passes.quantize.calibration_methods import MinMax, make_observer  # noqa: E402
from tflconv.tflite.reader import read_flatbuffer  # noqa: E402

INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
SEQ = (1, 6, 4)
BOUNDARY = {"tfl.quantize", "tfl.dequantize"}
ACT = {"int8": "i8", "16x8": "i16"}
# relative RMSE bounds (RMSE / output range of the float model) on inputs outside the 16
# calibration samples; measured (docs/quantization.md): int8 0.36-1.30 %, 16x8 0.04-0.59 %
# (mostly loop states beyond their calibrated range: on the calibration inputs GRU 16x8 is 0.1 %)
BOUND = {"int8": 0.03, "16x8": 0.015}


# --- models ------------------------------------------------------------------------------------


def _keras_rnn(kind: str):
    import keras

    keras.utils.set_random_seed(0)
    i = keras.Input(SEQ[1:], batch_size=1, name="seq")
    if kind == "gru":
        x = keras.layers.GRU(8, name="rnn")(i)
    elif kind == "simple_rnn":
        x = keras.layers.SimpleRNN(8, name="rnn")(i)
    elif kind == "masked_gru":  # the body selects between the new and the old state
        x = keras.layers.GRU(8, name="rnn")(keras.layers.Masking(0.0)(i))
    else:  # the cell state is used: fuse-recurrent keeps the loop (docs/recurrent.md)
        out, _, c = keras.layers.LSTM(8, return_state=True, name="rnn")(i)
        x = keras.layers.Concatenate()([out, c])
    return keras.Model(i, keras.layers.Dense(3, name="head")(x))


def _seq_data(n: int, seed: int) -> list[list[np.ndarray]]:
    """Random sequences; every third one ends in two all-zero (masked) steps."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        x = rng.uniform(-1, 1, SEQ).astype(np.float32)
        if k % 3 == 2:
            x[:, -2:] = 0.0
        out.append([x])
    return out


def _while_cond_fn():
    """A tf.while_loop whose body runs a tf.cond (nested), then a tf.cond on an int input."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = tf.constant(rng.normal(0, 0.5, (8, 8)).astype(np.float32))
    v = tf.constant(rng.normal(0, 0.5, (8, 8)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32), tf.TensorSpec([], tf.int32)])
    def f(x, k):
        def body(i, h):
            h = tf.cond(
                i % 2 == 0,
                lambda: tf.tanh(tf.matmul(h, w) + x),
                lambda: tf.sigmoid(tf.matmul(h, v)) - 0.5,
            )
            return i + 1, h

        _, h = tf.while_loop(lambda i, h: i < 5, body, (tf.constant(0), x))
        return tf.cond(k > 0, lambda: h * 2.0, lambda: tf.nn.relu(h) + 1.0)

    return f


def _fn_data(n: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.uniform(-1, 1, (1, 8)).astype(np.float32), np.int32(i % 2)] for i in range(n)]


# --- helpers -----------------------------------------------------------------------------------


def _convert(conv, calibration, mode: str) -> bytes:
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(calibration)
    # integer only: the conversion fails if any op, in any subgraph, would stay float
    ops = INT16X8 if mode == "16x8" else "TFLITE_BUILTINS_INT8"
    conv.target_spec.supported_ops = [getattr(tflconv.OpsSet, ops)]
    return conv.convert()


def _run(tflite: bytes, inputs: list[np.ndarray], xnnpack: bool) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, num_threads=1, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], np.asarray(x, d["dtype"]).reshape(d["shape"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _relative_rmse(tflite: bytes, reference, data, xnnpack: bool) -> float:
    got = np.stack([_run(tflite, d, xnnpack) for d in data])
    want = np.stack([np.asarray(reference(*d)) for d in data])
    return float(np.sqrt(np.mean(np.square(got - want))) / np.ptp(want))


def _float_ops_outside_main(tflite: bytes) -> dict[str, list[str]]:
    """Per WHILE / IF function, the ops (not quantize / dequantize) with float tensors."""
    module = read_flatbuffer(tflite)
    out = {}
    for fn in module.functions[1:]:
        bad = [
            op.name
            for op in fn.ops
            if op.dialect == "tfl"
            and op.name not in BOUNDARY
            and any(v.type.dtype == "f32" for v in (*op.operands, *op.results))
        ]
        if bad:
            out[fn.name] = bad
    return out


def _carried_types(tflite: bytes) -> set[str]:
    """The element types every WHILE / IF passes on (operands after an IF's predicate)."""
    module = read_flatbuffer(tflite)
    types = set()
    for op in module.walk():
        if op.name == "tfl.while":
            types.update(v.type.dtype for v in op.operands)
        elif op.name == "tfl.if":
            types.update(v.type.dtype for v in (*op.operands[1:], *op.results))
    return types


def _boundary_ops_in_bodies(tflite: bytes) -> int:
    module = read_flatbuffer(tflite)
    return sum(op.name in BOUNDARY for fn in module.functions[1:] for op in fn.ops)


# --- Keras recurrent layers --------------------------------------------------------------------


@pytest.fixture(scope="module", params=["gru", "simple_rnn", "lstm_state", "masked_gru"])
def rnn(request):
    return request.param, _keras_rnn(request.param)


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_keras_recurrent_loop_is_integer(rnn, mode):
    kind, model = rnn
    tflite = _convert(tflconv.TFLiteConverter.from_keras_model(model), _seq_data(16, 0), mode)
    module = read_flatbuffer(tflite)
    assert any(op.name == "tfl.while" for op in module.walk()), f"{kind}: no loop left"
    assert not _float_ops_outside_main(tflite)
    # the loop-carried scales line up: no (re)quantize inside the body
    assert _boundary_ops_in_bodies(tflite) == 0
    assert _carried_types(tflite) <= {"i32", "i1", ACT[mode]}  # i1: the mask
    test = _seq_data(12, 1)
    for xnnpack in (True, False):
        err = _relative_rmse(tflite, lambda x: model(x), test, xnnpack)
        assert err < BOUND[mode], f"{kind} {mode} xnnpack={xnnpack}: relative RMSE {err:.4f}"


def test_keep_float_on_the_layer_keeps_its_loop_float():
    """keep_float=["rnn"] names the Keras layer: the WHILE op and its body ops match, so the loop
    carries float values and computes in float between a quantize and a dequantize."""
    model = _keras_rnn("gru")
    conv = tflconv.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tflconv.Optimize.DEFAULT]
    calibration = _seq_data(8, 0)
    conv.representative_dataset = lambda: iter(calibration)
    conv.keep_float = ["rnn"]
    tflite = conv.convert()
    assert "f32" in _carried_types(tflite)
    assert _float_ops_outside_main(tflite)  # the body stayed float
    head = [op for op in read_flatbuffer(tflite).walk() if op.name == "tfl.fully_connected"]
    assert any(op.results[0].type.dtype == "i8" for op in head)  # the Dense head did not
    err = _relative_rmse(tflite, lambda x: model(x), _seq_data(6, 1), xnnpack=False)
    assert err < BOUND["int8"]


# --- tf.function: tf.cond inside tf.while_loop, tf.cond after it -------------------------------


@pytest.fixture(scope="module")
def while_cond():
    return _while_cond_fn()


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_tf_while_with_nested_cond_is_integer(while_cond, mode):
    conv = tflconv.TFLiteConverter.from_concrete_functions([while_cond.get_concrete_function()])
    tflite = _convert(conv, _fn_data(16, 0), mode)
    names = [op.name for op in read_flatbuffer(tflite).walk()]
    assert names.count("tfl.while") == 1 and names.count("tfl.if") == 2
    assert not _float_ops_outside_main(tflite)
    assert _carried_types(tflite) <= {"i32", "i1", ACT[mode]}
    test = _fn_data(12, 1)  # both branches of the outer cond
    for xnnpack in (True, False):
        err = _relative_rmse(tflite, while_cond, test, xnnpack)
        assert err < BOUND[mode], f"{mode} xnnpack={xnnpack}: relative RMSE {err:.4f}"


# --- calibration over all iterations -----------------------------------------------------------

LOOP_IR = """
module {
  func.func @main(%x: tensor<1x4xf32>, %n: tensor<i32>) -> (tensor<1x4xf32>) attributes {entry = true, input_names = ["x", "n"], output_names = ["y"]} {
    %zero = "arith.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %i, %h, %m, %xx = "tfl.while"(%zero, %x, %n, %x) {body_subgraph_index = @body, cond_subgraph_index = @cond} : (tensor<i32>, tensor<1x4xf32>, tensor<i32>, tensor<1x4xf32>) -> (tensor<i32>, tensor<1x4xf32>, tensor<i32>, tensor<1x4xf32>)
    "func.return"(%h) : (tensor<1x4xf32>) -> ()
  }
  func.func @cond(%i: tensor<i32>, %h: tensor<1x4xf32>, %n: tensor<i32>, %x: tensor<1x4xf32>) -> (tensor<i1>) {
    %lt = "tfl.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "func.return"(%lt) : (tensor<i1>) -> ()
  }
  func.func @body(%i: tensor<i32>, %h: tensor<1x4xf32>, %n: tensor<i32>, %x: tensor<1x4xf32>) -> (tensor<i32>, tensor<1x4xf32>, tensor<i32>, tensor<1x4xf32>) {
    %one = "arith.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %half = "arith.constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %ii = "tfl.add"(%i, %one) {fused_activation_function = "NONE"} : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %scaled = "tfl.mul"(%h, %half) {fused_activation_function = "NONE"} : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
    %next = "tfl.add"(%scaled, %x) {fused_activation_function = "NONE"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    %odd = "tfl.greater"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    %picked = "tfl.if"(%odd, %next) {else_subgraph_index = @th, then_subgraph_index = @sq} : (tensor<i1>, tensor<1x4xf32>) -> tensor<1x4xf32>
    "func.return"(%ii, %picked, %n, %x) : (tensor<i32>, tensor<1x4xf32>, tensor<i32>, tensor<1x4xf32>) -> ()
  }
  func.func @sq(%a: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
    %s = "tfl.mul"(%a, %a) {fused_activation_function = "NONE"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    "func.return"(%s) : (tensor<1x4xf32>) -> ()
  }
  func.func @th(%a: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
    %s = "tfl.tanh"(%a) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    "func.return"(%s) : (tensor<1x4xf32>) -> ()
  }
}
"""


def _reference_ranges(samples):
    """min/max of the body's and branches' tensors over every iteration (numpy)."""
    seen: dict[str, list[np.ndarray]] = {}

    def add(name, t):
        seen.setdefault(name, []).append(t)

    for x, n in samples:
        h = x
        for i in range(int(n)):
            add("body.h", h)
            add("body.x", x)
            scaled = h * np.float32(0.5)
            add("body.scaled", scaled)
            nxt = scaled + x
            add("body.next", nxt)
            if i > 1:
                add("sq.a", nxt)
                h = nxt * nxt
                add("sq.s", h)
            else:
                add("th.a", nxt)
                h = np.tanh(nxt)
                add("th.s", h)
            add("body.picked", h)
    return {k: (float(np.min(v)), float(np.max(v))) for k, v in seen.items()}


def _names(module: Module) -> dict[str, object]:
    """'fn.value' -> the value, for the values of LOOP_IR's callees."""
    out = {}
    for fn in module.functions[1:]:
        for a in fn.args:
            out[f"{fn.name}.{a.name_hint}"] = a
        for op in fn.ops:
            for r in op.results:
                out[f"{fn.name}.{r.name_hint}"] = r
    return out


@pytest.mark.parametrize(
    "trips",
    [[3, 1, 4], [0, 2], [5]],
    ids=["mixed", "zero-and-two", "then-branch-taken"],
)
def test_calibration_covers_every_iteration(trips):
    from tflconv.tflite.runtime import litert_runner

    rng = np.random.default_rng(len(trips))
    samples = [(rng.uniform(-2, 2, (1, 4)).astype(np.float32), np.int32(n)) for n in trips]
    module = parse_module(LOOP_IR)
    ranges, summary = calibrate_module(
        module, [list(s) for s in samples], litert_runner, show_progress=False
    )
    want = _reference_ranges(samples)
    got = {k: ranges.get(v) for k, v in _names(module).items() if v.type.dtype == "f32"}
    for key, (lo, hi) in want.items():
        assert got[key] is not None, key
        np.testing.assert_allclose(got[key], (lo, hi), rtol=1e-6, err_msg=key)
    # a branch that never ran (or a loop that never iterated) gives no range
    assert {k for k, v in got.items() if v is not None} == set(want)
    assert summary.loop_tensors == len(want)
    # the original module is untouched: one extra subgraph output only in the instrumented copy
    assert len(module.functions[0].outputs) == 1
    assert [op.num_operands for op in module.walk() if op.name == "tfl.while"] == [4]


def test_histogram_methods_fall_back_to_minmax_in_loops():
    """calibrate{method=percentile}: main-function tensors are clipped, loop tensors keep their
    exact min/max over all iterations (only each run's extremes leave the loop)."""
    from tflconv.tflite.runtime import litert_runner

    rng = np.random.default_rng(7)
    samples = [(rng.uniform(-2, 2, (1, 4)).astype(np.float32), np.int32(4)) for _ in range(4)]
    module = parse_module(LOOP_IR)
    ranges, _ = calibrate_module(
        module,
        [list(s) for s in samples],
        litert_runner,
        show_progress=False,
        observer=lambda: make_observer("percentile", 90.0),
        loop_observer=MinMax,
    )
    by_name = _names(module)
    for key, want in _reference_ranges(samples).items():
        np.testing.assert_allclose(ranges[by_name[key]], want, rtol=1e-6, err_msg=key)
    xs = np.stack([s[0] for s in samples])
    lo, hi = ranges[module.functions[0].args[0]]
    assert xs.min() < lo and hi < xs.max()  # clipped by the percentile


def _reference_output(x: np.ndarray, n: int) -> np.ndarray:
    h = x
    for i in range(n):
        nxt = h * np.float32(0.5) + x
        h = nxt * nxt if i > 1 else np.tanh(nxt)
    return h


def _quantize_ir(samples, ir: str = LOOP_IR) -> tuple[bytes, Module]:
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext
    from tflconv.tflite.runtime import litert_runner
    from tflconv.tflite.writer import write_flatbuffer

    module = parse_module(ir)
    ctx = PassContext(data={"representative_dataset": samples}, runner=litert_runner)
    PassManager.from_pipeline("calibrate{progress=false},prepare-quantize,quantize").run(
        module, ctx
    )
    return write_flatbuffer(module), module


def test_a_branch_calibration_never_took_stays_float():
    """Calibrated with at most 2 iterations, the `i > 1` branch (@sq) never ran: its values have
    no range, so the IF keeps carrying float there (dequantize / quantize around it) instead of
    guessing parameters for what it was never shown (values the loop state takes beyond its
    calibrated range are clipped, as any calibrated tensor's)."""
    rng = np.random.default_rng(3)
    calib = [[rng.uniform(-1, 1, (1, 4)).astype(np.float32), np.int32(1 + k % 2)] for k in range(8)]
    tflite, module = _quantize_ir(calib)
    sq = module.function("sq")
    assert all(v.type.dtype == "f32" for v in (*sq.args, *sq.outputs))
    # the IF's operand and result are shared with @sq: float too; the loop around it is int8
    body = module.function("body")
    assert {op.results[0].type.dtype for op in body.ops if op.name == "tfl.mul"} == {"i8"}
    assert {v.type.dtype for op in body.ops if op.name == "tfl.if" for v in op.results} == {"f32"}
    for x, n in calib[:4]:  # inside the calibrated distribution
        for xnnpack in (True, False):
            got = _run(tflite, [x, np.int32(n)], xnnpack)
            # int8 steps of the [-2, 2]-ish ranges, over a few dependent iterations
            np.testing.assert_allclose(got, _reference_output(x, n), atol=0.15)


def test_loop_ir_quantized_matches_numpy():
    rng = np.random.default_rng(4)
    calib = [[rng.uniform(-1, 1, (1, 4)).astype(np.float32), np.int32(n)] for n in (1, 3, 4, 4)]
    tflite, module = _quantize_ir(calib)
    assert not _float_ops_outside_main(tflite)
    for n in (0, 1, 4):
        x = rng.uniform(-1, 1, (1, 4)).astype(np.float32)
        got = _run(tflite, [x, np.int32(n)], xnnpack=False)
        np.testing.assert_allclose(got, _reference_output(x, n), atol=0.15)


NESTED_IR = """
module {
  func.func @main(%x: tensor<1x3xf32>) -> (tensor<1x3xf32>) attributes {entry = true, input_names = ["x"], output_names = ["y"]} {
    %zero = "arith.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %i, %h = "tfl.while"(%zero, %x) {body_subgraph_index = @outer, cond_subgraph_index = @outer_cond} : (tensor<i32>, tensor<1x3xf32>) -> (tensor<i32>, tensor<1x3xf32>)
    "func.return"(%h) : (tensor<1x3xf32>) -> ()
  }
  func.func @outer_cond(%i: tensor<i32>, %h: tensor<1x3xf32>) -> (tensor<i1>) {
    %n = "arith.constant"() {value = dense<3> : tensor<i32>} : () -> tensor<i32>
    %lt = "tfl.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "func.return"(%lt) : (tensor<i1>) -> ()
  }
  func.func @outer(%i: tensor<i32>, %h: tensor<1x3xf32>) -> (tensor<i32>, tensor<1x3xf32>) {
    %one = "arith.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %zero = "arith.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %ii = "tfl.add"(%i, %one) {fused_activation_function = "NONE"} : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %j, %g = "tfl.while"(%zero, %h) {body_subgraph_index = @inner, cond_subgraph_index = @inner_cond} : (tensor<i32>, tensor<1x3xf32>) -> (tensor<i32>, tensor<1x3xf32>)
    %m = "arith.constant"() {value = dense<-0.75> : tensor<f32>} : () -> tensor<f32>
    %out = "tfl.mul"(%g, %m) {fused_activation_function = "NONE"} : (tensor<1x3xf32>, tensor<f32>) -> tensor<1x3xf32>
    "func.return"(%ii, %out) : (tensor<i32>, tensor<1x3xf32>) -> ()
  }
  func.func @inner_cond(%j: tensor<i32>, %g: tensor<1x3xf32>) -> (tensor<i1>) {
    %n = "arith.constant"() {value = dense<2> : tensor<i32>} : () -> tensor<i32>
    %lt = "tfl.less"(%j, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "func.return"(%lt) : (tensor<i1>) -> ()
  }
  func.func @inner(%j: tensor<i32>, %g: tensor<1x3xf32>) -> (tensor<i32>, tensor<1x3xf32>) {
    %one = "arith.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %jj = "tfl.add"(%j, %one) {fused_activation_function = "NONE"} : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %c = "arith.constant"() {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %next = "tfl.add"(%g, %c) {fused_activation_function = "NONE"} : (tensor<1x3xf32>, tensor<f32>) -> tensor<1x3xf32>
    "func.return"(%jj, %next) : (tensor<i32>, tensor<1x3xf32>) -> ()
  }
}
"""


def test_nested_loops_are_calibrated_over_all_iterations():
    from tflconv.tflite.runtime import litert_runner

    rng = np.random.default_rng(5)
    samples = [[rng.uniform(-1, 1, (1, 3)).astype(np.float32)] for _ in range(3)]
    seen: dict[str, list[np.ndarray]] = {}
    for (x,) in samples:
        h = x
        for _ in range(3):
            seen.setdefault("outer.h", []).append(h)
            g = h
            for _ in range(2):
                seen.setdefault("inner.g", []).append(g)
                g = g + np.float32(0.5)
                seen.setdefault("inner.next", []).append(g)
            seen.setdefault("outer.g", []).append(g)
            h = g * np.float32(-0.75)
            seen.setdefault("outer.out", []).append(h)
    module = parse_module(NESTED_IR)
    ranges, summary = calibrate_module(module, samples, litert_runner, show_progress=False)
    by_name = _names(module)
    for key, values in seen.items():
        want = (float(np.min(values)), float(np.max(values)))
        np.testing.assert_allclose(ranges[by_name[key]], want, rtol=1e-6, err_msg=key)
    assert summary.loop_tensors == len(seen)


def test_nested_loops_quantized_match_numpy():
    rng = np.random.default_rng(6)
    samples = [[rng.uniform(-1, 1, (1, 3)).astype(np.float32)] for _ in range(8)]
    tflite, _ = _quantize_ir(samples, NESTED_IR)
    assert not _float_ops_outside_main(tflite)
    assert _carried_types(tflite) == {"i32", "i8"}
    for (x,) in samples[:3]:
        h = x
        for _ in range(3):
            h = (h + np.float32(1.0)) * np.float32(-0.75)
        for xnnpack in (True, False):
            np.testing.assert_allclose(_run(tflite, [x], xnnpack), h, atol=0.05)


def test_calibrated_loop_ir_text_replays_byte_identical():
    """The body ranges live on the IR types (`!quant.calibrated`): printing the calibrated module
    and quantizing the parsed text writes the same bytes as quantizing the module itself."""
    from tflconv.core.pass_manager import PassManager
    from tflconv.core.passes import PassContext
    from tflconv.core.printer import print_module
    from tflconv.tflite.runtime import litert_runner
    from tflconv.tflite.writer import write_flatbuffer

    rng = np.random.default_rng(8)
    calib = [[rng.uniform(-1, 1, (1, 4)).astype(np.float32), np.int32(n)] for n in (2, 4, 3)]
    module = parse_module(LOOP_IR)
    ctx = PassContext(data={"representative_dataset": calib}, runner=litert_runner)
    PassManager.from_pipeline("calibrate{progress=false}").run(module, ctx)
    text = print_module(module)
    assert "func.func @body(" in text and text.count("!quant.calibrated") > 10
    replayed = parse_module(text)
    rest = "prepare-quantize,quantize"
    PassManager.from_pipeline(rest).run(module, PassContext())
    PassManager.from_pipeline(rest).run(replayed, PassContext())
    assert write_flatbuffer(module) == write_flatbuffer(replayed)


FC_IR = """
module {
  func.func @main(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>) attributes {entry = true, input_names = ["x"], output_names = ["y"]} {
    %zero = "arith.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %i, %h = "tfl.while"(%zero, %x) {body_subgraph_index = @body, cond_subgraph_index = @cond} : (tensor<i32>, tensor<2x4xf32>) -> (tensor<i32>, tensor<2x4xf32>)
    "func.return"(%h) : (tensor<2x4xf32>) -> ()
  }
  func.func @cond(%i: tensor<i32>, %h: tensor<2x4xf32>) -> (tensor<i1>) {
    %n = "arith.constant"() {value = dense<3> : tensor<i32>} : () -> tensor<i32>
    %lt = "tfl.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "func.return"(%lt) : (tensor<i1>) -> ()
  }
  func.func @body(%i: tensor<i32>, %h: tensor<2x4xf32>) -> (tensor<i32>, tensor<2x4xf32>) {
    %one = "arith.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %ii = "tfl.add"(%i, %one) {fused_activation_function = "NONE"} : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %w = "arith.constant"() {value = dense<[[0.5, -0.25, 1.0, 0.1], [0.125, 0.5, -1.0, 0.3], [0.2, 0.4, 0.6, -0.8], [-0.3, 0.7, 0.1, 0.2]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %b = "tfl.no_value"() : () -> none
    %fc = "tfl.fully_connected"(%h, %w, %b) {fused_activation_function = "NONE", keep_num_dims = false, weights_format = "DEFAULT", asymmetric_quantize_inputs = false} : (tensor<2x4xf32>, tensor<4x4xf32>, none) -> tensor<2x4xf32>
    %t = "tfl.tanh"(%fc) : (tensor<2x4xf32>) -> tensor<2x4xf32>
    "func.return"(%ii, %t) : (tensor<i32>, tensor<2x4xf32>) -> ()
  }
}
"""


def test_loop_fully_connected_gets_its_mean_input_over_all_iterations():
    """Bias correction's statistic inside a loop: the mean input row of a fully-connected op
    over every iteration and sample (`quant.input_mean`), as calibrate records in main."""
    from tflconv.passes.quantize.common import INPUT_MEAN
    from tflconv.tflite.runtime import litert_runner

    rng = np.random.default_rng(9)
    samples = [[rng.uniform(-1, 1, (2, 4)).astype(np.float32)] for _ in range(3)]
    module = parse_module(FC_IR)
    calibrate_module(module, samples, litert_runner, show_progress=False)
    w = np.asarray(
        [
            [0.5, -0.25, 1.0, 0.1],
            [0.125, 0.5, -1.0, 0.3],
            [0.2, 0.4, 0.6, -0.8],
            [-0.3, 0.7, 0.1, 0.2],
        ],
        np.float32,
    )
    rows = []
    for (x,) in samples:
        h = x
        for _ in range(3):
            rows.append(h)
            h = np.tanh(h @ w.T)
    fc = next(op for op in module.function("body").ops if op.name == "tfl.fully_connected")
    np.testing.assert_allclose(fc.attributes[INPUT_MEAN], np.concatenate(rows).mean(0), rtol=1e-5)
