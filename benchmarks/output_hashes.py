"""sha256 of the .tflite bytes tflconv writes for a fixed set of seeded models.

    python benchmarks/output_hashes.py                      # print {model: sha256} as JSON
    python benchmarks/output_hashes.py --save hashes.json   # also write it
    python benchmarks/output_hashes.py --check hashes.json  # compare; exit 1 on any difference

A restructuring (moving modules, rebuilding the pipeline in code) must not change what the
converter writes: record the hashes before, `--check` after. Each model is converted in-process
with the default pipeline, and again with int8 post-training quantization
(`Optimize.DEFAULT` + a seeded representative dataset).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import models  # noqa: E402


def _mobilenet_v2(seed: int = 0) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    return keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3))


MODELS: dict[str, Callable[[], Any]] = {
    "small_cnn": models.small_cnn,
    "mlp": models.mlp,
    "lstm_gru": models.lstm_gru,
    "transformer_block": models.transformer_block,
    "while_cond_function": models.while_cond_function,
    "mobilenet_v2_96": _mobilenet_v2,
}


def _input_shapes(model: Any) -> list[list[int | None]]:
    if hasattr(model, "inputs"):  # Keras model
        return [list(t.shape) for t in model.inputs]
    return [list(spec.shape) for spec in model.input_signature]


def _representative(shapes: list[list[int | None]]) -> Callable[[], Iterator[list[np.ndarray]]]:
    def dataset() -> Iterator[list[np.ndarray]]:
        rng = np.random.default_rng(1234)
        for _ in range(8):
            yield [
                rng.uniform(-1.0, 1.0, [1 if d is None else d for d in s]).astype(np.float32)
                for s in shapes
            ]

    return dataset


def _converter(model: Any) -> Any:
    import tflconv

    if hasattr(model, "inputs"):
        return tflconv.TFLiteConverter.from_keras_model(model)
    return tflconv.TFLiteConverter.from_concrete_functions([model.get_concrete_function()])


def _is_float_model(model: Any) -> bool:
    if hasattr(model, "inputs"):
        return all(t.dtype == "float32" for t in model.inputs)
    return all(spec.dtype.name == "float32" for spec in model.input_signature)


def output_hashes(names: list[str]) -> dict[str, str]:
    import tflconv

    out: dict[str, str] = {}
    for name in names:
        model = MODELS[name]()
        shapes = _input_shapes(model)
        out[name] = hashlib.sha256(_converter(model).convert()).hexdigest()
        if _is_float_model(model):  # int8 calibration needs float inputs
            conv = _converter(model)
            conv.optimizations = [tflconv.Optimize.DEFAULT]
            conv.representative_dataset = _representative(shapes)
            out[f"{name}:int8"] = hashlib.sha256(conv.convert()).hexdigest()
        print(f"{name}: done", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write the hashes to this JSON file")
    parser.add_argument("--check", type=Path, help="compare with the hashes in this JSON file")
    parser.add_argument("--models", nargs="*", choices=sorted(MODELS), default=list(MODELS))
    args = parser.parse_args(argv)

    hashes = output_hashes(args.models)
    print(json.dumps(hashes, indent=2))
    if args.save:
        args.save.write_text(json.dumps(hashes, indent=2) + "\n")
    if args.check:
        expected = json.loads(args.check.read_text())
        diff = sorted(k for k in hashes if k in expected and expected[k] != hashes[k])
        diff += sorted(k for k in hashes if k not in expected)
        missing = sorted(k for k in expected if k not in hashes and k.split(":")[0] in args.models)
        for key in diff:
            print(f"DIFFERENT {key}: {expected.get(key)} -> {hashes[key]}", file=sys.stderr)
        for key in missing:
            print(f"MISSING {key}", file=sys.stderr)
        if diff or missing:
            return 1
        print(f"OK: {len(hashes)} outputs byte-identical", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
