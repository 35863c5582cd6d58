"""Run .tflite models in TensorFlow 2.18's interpreter, which applies the Flex delegate.

    python run_flex_model.py MODEL.tflite INPUTS.npz OUTPUTS.npz [MODEL2 IN2 OUT2 ...]

Runs in the Flex environment made by `tests/flex_runtime.py` (it must not import tflconv).
Inputs are keyed by signature input name (`arr_<i>` positional arrays follow the model's input
order); outputs are written by signature output name (`output_<i>` without signatures).
A model whose Flex ops the interpreter cannot run fails with its error on stderr.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def run(model: str, inputs_path: str, outputs_path: str) -> None:
    interp = tf.lite.Interpreter(model_path=model)
    with np.load(inputs_path) as data:
        given = {k: data[k] for k in data.files}
    signatures = interp.get_signature_list()
    if signatures:
        key = next(iter(signatures))
        names = list(signatures[key]["inputs"])
        positional = all(f"arr_{i}" in given for i in range(len(names)))
        feeds = {n: given[f"arr_{i}"] if positional else given[n] for i, n in enumerate(names)}
        runner = interp.get_signature_runner(key)
        outputs = runner(**feeds)
    else:
        details = interp.get_input_details()
        interp.allocate_tensors()
        for i, d in enumerate(details):
            interp.set_tensor(d["index"], given[f"arr_{i}"].astype(d["dtype"]))
        interp.invoke()
        outputs = {
            f"output_{i}": interp.get_tensor(d["index"])
            for i, d in enumerate(interp.get_output_details())
        }
    np.savez(outputs_path, **{k: np.asarray(v) for k, v in outputs.items()})


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    for i in range(0, len(argv), 3):
        run(*argv[i : i + 3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
