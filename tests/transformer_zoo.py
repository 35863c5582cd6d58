"""keras-hub backbones from small configs (random, seeded weights; nothing is downloaded), the
inputs to feed them, and the conversion routes the tests and benchmarks share.

Every text backbone keeps batch and sequence dynamic (keras-hub declares its inputs
[None, None]); the vision ones keep the batch dynamic.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

VOCAB = 100
SEQ = 8
BATCH = 2


def _text(cls: str, **config: Any) -> Callable[..., Any]:
    def build(**overrides: Any) -> Any:
        import keras_hub

        return getattr(keras_hub.models, cls)(**{**config, **overrides})

    return build


def _mit(**overrides: Any) -> Any:
    import keras_hub

    return keras_hub.models.MiTBackbone(
        layerwise_depths=[1, 1],
        num_layers=2,
        layerwise_num_heads=[1, 2],
        layerwise_sr_ratios=[2, 1],
        max_drop_path_rate=0.0,
        layerwise_patch_sizes=[7, 3],
        layerwise_strides=[4, 2],
        image_shape=(32, 32, 3),
        hidden_dims=[16, 32],
        **overrides,
    )


SMALL = dict(num_layers=2, hidden_dim=32, intermediate_dim=64)

BACKBONES: dict[str, Callable[..., Any]] = {
    # BERT-like encoders
    "bert": _text(
        "BertBackbone", vocabulary_size=VOCAB, num_heads=2, max_sequence_length=32, **SMALL
    ),
    "distil_bert": _text(
        "DistilBertBackbone", vocabulary_size=VOCAB, num_heads=2, max_sequence_length=32, **SMALL
    ),
    "roberta": _text(
        "RobertaBackbone", vocabulary_size=VOCAB, num_heads=2, max_sequence_length=32, **SMALL
    ),
    "albert": _text(
        "AlbertBackbone",
        vocabulary_size=VOCAB,
        num_heads=2,
        embedding_dim=16,
        max_sequence_length=32,
        **SMALL,
    ),
    "deberta_v3": _text(
        "DebertaV3Backbone",
        vocabulary_size=VOCAB,
        num_heads=2,
        max_sequence_length=32,
        bucket_size=8,
        **SMALL,
    ),
    "electra": _text(
        "ElectraBackbone",
        vocab_size=VOCAB,
        num_heads=2,
        embedding_dim=16,
        max_sequence_length=32,
        **SMALL,
    ),
    # decoder LLMs
    "gpt2": _text(
        "GPT2Backbone", vocabulary_size=VOCAB, num_heads=2, max_sequence_length=32, **SMALL
    ),
    "llama": _text(
        "LlamaBackbone", vocabulary_size=VOCAB, num_query_heads=4, num_key_value_heads=2, **SMALL
    ),
    "gemma": _text(
        "GemmaBackbone",
        vocabulary_size=VOCAB,
        num_query_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        **SMALL,
    ),
    "gemma3": _text(
        "Gemma3Backbone",
        vocabulary_size=VOCAB,
        image_size=16,
        num_query_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        **SMALL,
    ),
    "mistral": _text(
        "MistralBackbone",
        vocabulary_size=VOCAB,
        num_query_heads=4,
        num_key_value_heads=2,
        sliding_window=4,
        **SMALL,
    ),
    "qwen": _text(
        "QwenBackbone", vocabulary_size=VOCAB, num_query_heads=4, num_key_value_heads=2, **SMALL
    ),
    "phi3": _text(
        "Phi3Backbone",
        vocabulary_size=VOCAB,
        num_query_heads=4,
        num_key_value_heads=2,
        max_sequence_length=32,
        pretraining_sequence_length=32,
        **SMALL,
    ),
    # encoder-decoders
    "t5": _text("T5Backbone", vocabulary_size=VOCAB, num_heads=2, key_value_dim=16, **SMALL),
    "whisper": _text(
        "WhisperBackbone",
        vocabulary_size=VOCAB,
        num_heads=2,
        num_mels=8,
        max_encoder_sequence_length=16,
        max_decoder_sequence_length=16,
        **SMALL,
    ),
    # vision
    "vit": _text(
        "ViTBackbone",
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        mlp_dim=64,
    ),
    "deit": _text(
        "DeiTBackbone",
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
    ),
    "dinov2": _text(
        "DINOV2Backbone",
        patch_size=8,
        num_layers=2,
        hidden_dim=32,
        num_heads=2,
        intermediate_dim=64,
        image_shape=(32, 32, 3),
        position_embedding_shape=(32, 32, 3),
    ),
    "mit": _mit,
    "vitdet": _text(
        "ViTDetBackbone",
        hidden_size=32,
        num_layers=2,
        intermediate_dim=64,
        num_heads=2,
        global_attention_layer_indices=[1],
        image_shape=(32, 32, 3),
        patch_size=8,
        num_output_channels=16,
        window_size=2,
    ),
}
"""Most common first within each family."""


def build(name: str, seed: int = 0, **overrides: Any) -> Any:
    """Backbone `name` with seeded random weights; `overrides` replace config entries (the
    benchmarks use bigger sizes)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = BACKBONES[name](**overrides)
    perturb_weights(model, seed)
    return model


def perturb_weights(model: Any, seed: int = 0) -> None:
    """Make every weight distinct and every bias / norm offset non-zero: keras-hub's seeded
    initializers give equal matrices to same-shaped layers (key and value projections), and
    zero biases vanish in conversion, which would hide swapped or dropped weights."""
    rng = np.random.default_rng(seed + 1)
    for w in model.weights:
        if not str(w.dtype).startswith("float"):
            continue
        value = np.asarray(w.numpy())
        noise = rng.standard_normal(value.shape).astype(value.dtype)
        w.assign(value * (1 + 0.1 * noise) + 0.02 * rng.standard_normal(value.shape))


def inputs_for(model: Any, seed: int = 0, batch: int = BATCH, seq: int = SEQ) -> dict[str, Any]:
    """One array per model input, by input name: token ids below the vocabulary, padding masks
    with some padding in the first row, images and audio features as standard normals."""
    rng = np.random.default_rng(seed)
    feed: dict[str, Any] = {}
    for t in model.inputs:
        name = t.name
        shape = [batch] + [seq if d is None else d for d in t.shape[1:]]
        if "padding_mask" in name:
            m = np.ones(shape, np.int32)
            m[0, shape[1] // 2 :] = 0
            feed[name] = m
        elif "segment_ids" in name:
            feed[name] = rng.integers(0, 2, shape).astype(np.int32)
        elif "token_ids" in name:
            feed[name] = rng.integers(1, VOCAB, shape).astype(np.int32)
        elif "features" in name and len(shape) == 3 and t.shape[1] is None:
            shape[1] = 2 * seq  # whisper's encoder halves the frame count
            feed[name] = rng.standard_normal(shape).astype(np.float32)
        else:
            feed[name] = rng.standard_normal(shape).astype(str(t.dtype))
    return feed


def _call_arg(model: Any, feed: dict[str, Any]) -> Any:
    return feed if len(model.inputs) > 1 else next(iter(feed.values()))


def keras_outputs(model: Any, feed: dict[str, Any]) -> dict[str, np.ndarray]:
    """The model's outputs by name (a single output is named "output_0")."""
    out = model(_call_arg(model, feed), training=False)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return {f"output_{i}": np.asarray(v) for i, v in enumerate(out)}
    return {"output_0": np.asarray(out)}


def concrete_function(model: Any) -> Any:
    """A tf.function over the model's inputs (a dict of TensorSpecs keeping the dynamic dims)
    returning a dict of outputs, traced once."""
    import tensorflow as tf

    specs = {t.name: tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs}

    @tf.function(input_signature=[specs])
    def serve(inputs: dict[str, Any]) -> dict[str, Any]:
        out = model(_call_arg(model, inputs), training=False)
        if isinstance(out, dict):
            return out
        return {"output_0": out}

    return serve.get_concrete_function()


def export_saved_model(model: Any, path: str) -> str:
    """`model.export(path)` (Keras' SavedModel export, endpoint "serve")."""
    if not os.path.exists(path):
        model.export(path, verbose=False)
    return path


def run_signature(tflite: bytes, feed: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run the model's first signature in LiteRT with inputs matched by name (a single input
    takes the single array), outputs by signature name."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    sigs = interp.get_signature_list()
    key = next(iter(sigs))
    names = sigs[key]["inputs"]
    if len(names) == 1 and len(feed) == 1:
        kwargs = {names[0]: next(iter(feed.values()))}
    else:
        kwargs = {n: feed[_match(n, feed)] for n in names}
    runner = interp.get_signature_runner(key)
    return {k: np.asarray(v) for k, v in runner(**kwargs).items()}


def _match(name: str, feed: dict[str, Any]) -> str:
    if name in feed:
        return name
    for k in feed:
        if name.endswith(k) or k.endswith(name):
            return k
    raise KeyError(f"no input for signature input {name!r} among {list(feed)}")


def _pairs(
    got: dict[str, np.ndarray], expected: dict[str, np.ndarray]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Outputs matched by name (or by sorted order when the names differ, e.g. output_0)."""
    if set(got) != set(expected):
        if len(got) != len(expected):
            raise AssertionError(f"outputs {sorted(got)} vs expected {sorted(expected)}")
        got = dict(zip(sorted(expected), [got[k] for k in sorted(got)]))
    out = []
    for k, e in expected.items():
        g = got[k]
        if g.shape != e.shape:
            raise AssertionError(f"output {k}: shape {g.shape} vs {e.shape}")
        out.append((k, g.astype(np.float64), e))
    return out


def max_rel_error(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> float:
    """max |got - expected| / max |expected|, worst over the outputs."""
    worst = 0.0
    for _, g, e in _pairs(got, expected):
        scale = float(np.max(np.abs(e))) or 1.0
        worst = max(worst, float(np.max(np.abs(g - e))) / scale)
    return worst


def max_abs_error(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(g - e))) for _, g, e in _pairs(got, expected))
