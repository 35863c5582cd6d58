"""End-to-end helpers: convert with tflconv, run in LiteRT, compare with TensorFlow."""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.api.converter import DEFAULT_PIPELINE


def run_litert(
    tflite: bytes, inputs: list[np.ndarray], signature_key: str | None = None
) -> list[np.ndarray]:
    """Run a .tflite model in the LiteRT interpreter (resizing dynamic inputs to fit)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    if signature_key is not None:
        runner = interp.get_signature_runner(signature_key)
        names = list(interp.get_signature_list()[signature_key]["inputs"])
        out = runner(**dict(zip(names, inputs)))
        return [out[k] for k in interp.get_signature_list()[signature_key]["outputs"]]
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        if list(d["shape"]) != list(x.shape):
            interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x.astype(d["dtype"]))
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def convert_and_compare(
    model: Any,
    inputs: list[np.ndarray],
    *,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    pipeline: str = DEFAULT_PIPELINE,
    **load_options: Any,
) -> bytes:
    """Convert `model`, run it in LiteRT and in TF on `inputs`, assert the outputs match.

    Returns the .tflite bytes for further checks (op histogram, ...)."""
    from tflconv.api.converter import convert
    from tflconv.frontends.tensorflow.frontend import load_model

    tflite = convert(model, pipeline=pipeline, **load_options)
    expected = load_model(model, **load_options).run_tf(None, inputs)
    got = run_litert(tflite, inputs)
    assert len(got) == len(expected), f"{len(got)} outputs, TF has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, atol=atol, rtol=rtol, err_msg=f"output {i}")
    return tflite


def op_histogram(tflite: bytes) -> dict[str, int]:
    """Builtin/custom op counts of a .tflite file, by our tfl op names."""
    from tflconv.tflite.reader import read_flatbuffer

    module = read_flatbuffer(tflite)
    return {k: v for k, v in module.op_histogram().items() if k.startswith("tfl.")}
