"""The transformer family for compare_official.py --transformers: keras-hub backbones from
small configs (tests/transformer_zoo.py: random seeded weights, nothing downloaded), each
exported once with `model.export()`, then converted from that SavedModel by both converters
(the official `from_keras_model` cannot take keras-hub's dict inputs), run in LiteRT through the
model's signature (inputs matched by name) and compared with Keras on the same inputs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

DEFAULT = ["bert", "gpt2", "llama", "gemma", "vit", "t5"]
"""The most common families; any name of transformer_zoo.BACKBONES is accepted."""

_TEXT = dict(num_layers=4, hidden_dim=256, intermediate_dim=1024)
MEDIUM: dict[str, dict[str, Any]] = {
    "bert": dict(num_heads=4, max_sequence_length=256, **_TEXT),
    "gpt2": dict(num_heads=4, max_sequence_length=256, **_TEXT),
    "llama": dict(num_query_heads=4, num_key_value_heads=2, **_TEXT),
    "gemma": dict(num_query_heads=4, num_key_value_heads=1, head_dim=64, **_TEXT),
    "t5": dict(num_heads=4, key_value_dim=64, **_TEXT),
    "vit": dict(
        image_shape=(224, 224, 3),
        patch_size=16,
        num_layers=4,
        num_heads=4,
        hidden_dim=256,
        mlp_dim=1024,
    ),  # fmt: skip
}
"""--transformer-size medium: 4 layers, hidden 256 (~3-5 M parameters), sequence 128,
ViT on 224x224 images (196 patches), so latency means something."""
MEDIUM_SEQ = 128


def names() -> list[str]:
    import transformer_zoo

    return list(transformer_zoo.BACKBONES)


def convert_ours_saved_model(path: str) -> bytes:
    import tflconv

    return tflconv.TFLiteConverter.from_saved_model(path).convert()


def convert_official_saved_model(path: str) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(path).convert()


def _bound_interpreter(tflite: bytes, feed: dict[str, np.ndarray]) -> Any:
    """An interpreter with the signature's inputs resized and set by name, ready to invoke."""
    from ai_edge_litert.interpreter import Interpreter
    from transformer_zoo import _match

    interp = Interpreter(model_content=tflite, num_threads=1)
    key = next(iter(interp.get_signature_list()))
    details = interp.get_signature_runner(key).get_input_details()
    arrays = {}
    for name, d in details.items():
        x = (
            next(iter(feed.values()))
            if len(details) == len(feed) == 1
            else feed[_match(name, feed)]
        )
        arrays[d["index"]] = x.astype(d["dtype"])
        interp.resize_tensor_input(d["index"], list(x.shape))
    interp.allocate_tensors()
    for index, x in arrays.items():
        interp.set_tensor(index, x)
    return interp


def latency(models: list[bytes], feed: dict[str, np.ndarray], runs: int) -> list[list[float]]:
    """Invoke times (ms), models in alternating blocks (compare_official.time_invokes)."""
    import compare_official as co

    return co.time_invokes([_bound_interpreter(m, feed) for m in models], runs)


def bench(name: str, runs: int, size: str = "small") -> Any:
    """One row of compare_official's table for backbone `name` (small: the test configs;
    medium: MEDIUM's, for the names it lists)."""
    import compare_official as co
    import transformer_zoo as zoo

    medium = size == "medium" and name in MEDIUM
    with co._silenced():
        model = zoo.build(name, **(MEDIUM[name] if medium else {}))
    row = co.Row(name if not medium else f"{name} (medium)", params=int(model.count_params()))
    feed = zoo.inputs_for(model, seq=MEDIUM_SEQ) if medium else zoo.inputs_for(model)
    expected = zoo.keras_outputs(model, feed)
    row.out_scale = max(float(np.max(np.abs(e))) for e in expected.values())
    with tempfile.TemporaryDirectory() as tmp:
        with co._silenced():
            path = zoo.export_saved_model(model, str(Path(tmp) / name))
        converted = []
        for side, fn in (
            (row.ours, convert_ours_saved_model),
            (row.official, convert_official_saved_model),
        ):
            tflite = co.measure_conversion(fn, path, side)
            if tflite is None:
                continue
            try:
                with co._silenced():
                    got = zoo.run_signature(tflite, feed)
                side.max_abs_diff = zoo.max_abs_error(got, expected)
                converted.append((side, tflite))
            except Exception as e:  # noqa: BLE001  (report and go on)
                side.status = "runtime failed: " + " ".join(str(e).split())[:160]
    if converted:
        with co._silenced():
            times = latency([t for _, t in converted], feed, runs)
        for (side, _), ts in zip(converted, times):
            side.latency_ms = statistics.median(ts)
            side.latency_iqr = co._rel_iqr(ts)
    return row
