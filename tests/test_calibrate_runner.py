"""`calibrate` runs the IR through `PassContext.runner` (supplied by the api), never through the
file format itself: a pure-NumPy runner gives exact ranges, no runner is a clear error, and the
LiteRT runner of the api agrees with NumPy."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pytest

from tflconv.core.ir import Module, Value
from tflconv.core.parser import parse_module
from tflconv.core.pass_manager import PassFailure, PassManager
from tflconv.core.passes import PassContext
from tflconv.core.printer import print_module
from tflconv.passes.quantize.calibrate import SUMMARY_KEY
from tflconv.passes.quantize.common import const_array

IR = """
module {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) attributes {entry = true, input_names = ["x"], output_names = ["y"]} {
    %c = "arith.constant"() {value = dense<[1.5, -2.0, 0.5]> : tensor<3xf32>} : () -> tensor<3xf32>
    %m = "tfl.mul"(%x, %c) {fused_activation_function = "NONE"} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %r = "tfl.relu"(%m) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    "func.return"(%r) : (tensor<2x3xf32>) -> ()
  }
}
"""


class NumpyRun:
    """Interprets tfl.mul / tfl.relu in NumPy: a runner without LiteRT or a .tflite file."""

    def __init__(self, module: Module, watch: Collection[Value]) -> None:
        self.fn = module.functions[0]
        self.watch = set(watch)
        self.values: dict[Value, np.ndarray] = {}
        self.runs = 0

    def run(self, inputs: Sequence[np.ndarray]) -> bool:
        env: dict[Value, np.ndarray] = dict(zip(self.fn.args, inputs))
        for op in self.fn.ops:
            if op.name == "arith.constant":
                env[op.results[0]] = const_array(op.results[0])
            elif op.name == "tfl.mul":
                env[op.results[0]] = env[op.operands[0]] * env[op.operands[1]]
            elif op.name == "tfl.relu":
                env[op.results[0]] = np.maximum(env[op.operands[0]], 0)
        self.values = {v: a for v, a in env.items() if v in self.watch}
        self.runs += 1
        return self.runs == 1

    def tensor(self, value: Value) -> np.ndarray | None:
        return self.values.get(value)


def _samples(n: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-3, 3, (2, 3)).astype(np.float32) for _ in range(n)]


def _calibrate(runner, samples) -> tuple[Module, PassContext]:
    module = parse_module(IR)
    ctx = PassContext(data={"representative_dataset": samples}, runner=runner)
    PassManager.from_pipeline("calibrate{progress=false}").run(module, ctx)
    return module, ctx


def _expected(samples) -> dict[str, tuple[float, float]]:
    c = np.array([1.5, -2.0, 0.5], np.float32)
    xs = np.stack(samples)
    m = xs * c
    r = np.maximum(m, 0)
    return {n: (float(a.min()), float(a.max())) for n, a in (("x", xs), ("m", m), ("r", r))}


def test_calibrate_uses_the_context_runner():
    samples = _samples()
    module, ctx = _calibrate(NumpyRun, samples)
    text = print_module(module)
    assert text.count("!quant.calibrated") >= 3, text
    assert "tensor<3x!quant.calibrated" not in text  # constants are not calibrated
    summary = ctx.data[SUMMARY_KEY]
    assert summary.samples == len(samples)
    assert summary.tensors == 3
    expected = _expected(samples)
    for name, (lo, hi) in expected.items():
        assert _range_in(text, lo, hi), (name, lo, hi, text)


def _range_in(text: str, lo: float, hi: float) -> bool:
    for a, b in re.findall(r"f32<([-0-9.e+]+):([-0-9.e+]+)>", text):
        if np.isclose(float(a), lo, rtol=1e-6) and np.isclose(float(b), hi, rtol=1e-6):
            return True
    return False


def test_calibrate_without_runner_is_a_clear_error():
    module = parse_module(IR)
    ctx = PassContext(data={"representative_dataset": _samples()})
    with pytest.raises(PassFailure, match="PassContext.runner"):
        PassManager.from_pipeline("calibrate{progress=false}").run(module, ctx)


def test_litert_runner_agrees_with_numpy():
    pytest.importorskip("ai_edge_litert")
    from tflconv.tflite.runtime import litert_runner

    samples = _samples(seed=1)
    ours = print_module(_calibrate(NumpyRun, samples)[0])
    litert = print_module(_calibrate(litert_runner, samples)[0])
    assert ours == litert
