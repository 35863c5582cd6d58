"""The cases of benchmarks/zoo_sweep.py: what both converters convert (`Subject`: a source, its
inputs and the reference outputs), by family; `CASES` maps each name to (family, builder).
Seeded random weights and inputs only (`weights=None`, never a preset)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "benchmarks"))

import compare_official as co  # noqa: E402
import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Subjects: what both converters convert, and the reference outputs


@dataclass
class Subject:
    """One model as both converters see it.

    `make(lib)` returns a converter of module `lib` (tflconv or tf.lite) for the source;
    `reference(feed)` the source framework's outputs by name; `feed(seed)` inputs by name;
    `quantizable`: float inputs, so int8 calibration with random normal samples makes sense
    (dynamic range and float16 need no samples: every case runs them)."""

    make: Callable[[Any], Any]
    reference: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    feed: Callable[[int], dict[str, np.ndarray]]
    quantizable: bool = True
    keep: Any = None
    """Objects the source needs alive (a tf.Module, a temporary directory)."""


def _normal(specs: dict[str, tuple[tuple[int, ...], str]]) -> Callable[[int], dict]:
    def feed(seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        out = {}
        for name, (shape, dtype) in specs.items():
            if dtype.startswith("int"):
                out[name] = rng.integers(0, 8, shape).astype(dtype)
            else:
                out[name] = rng.standard_normal(shape).astype(dtype)
        return out

    return feed


def keras_subject(model: Any, feed: Callable[[int], dict] | None = None) -> Subject:
    names = [t.name for t in model.inputs]
    if feed is None:
        specs = {
            t.name: (tuple(1 if d is None else int(d) for d in t.shape), str(t.dtype))
            for t in model.inputs
        }
        feed = _normal(specs)

    def reference(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs = co.keras_outputs(model, [x[n] for n in names])
        return {f"output_{i}": o for i, o in enumerate(outs)}

    quantizable = all(str(t.dtype).startswith("float") for t in model.inputs)
    return Subject(
        lambda lib: lib.TFLiteConverter.from_keras_model(model),
        reference,
        feed,
        quantizable,
        keep=model,
    )


def function_subject(
    fn: Any,
    specs: dict[str, tuple[tuple[int, ...], str]],
    feed: Callable[[int], dict] | None = None,
) -> Subject:
    """A tf.function over named TensorSpecs returning a dict of outputs."""
    import tensorflow as tf

    tspecs = [tf.TensorSpec(s, d, name=n) for n, (s, d) in specs.items()]
    concrete = tf.function(fn).get_concrete_function(*tspecs)
    module = tf.Module()
    module.f = concrete

    def reference(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = fn(*[tf.constant(x[n]) for n in specs])
        return {k: np.asarray(v) for k, v in out.items()}

    quantizable = all(d.startswith("float") for _, d in specs.values())
    return Subject(
        lambda lib: lib.TFLiteConverter.from_concrete_functions([concrete], module),
        reference,
        feed or _normal(specs),
        quantizable,
        keep=module,
    )


# ---------------------------------------------------------------------------------------------
# Cases


def _app(name: str, size: int, **kw: Any) -> Callable[[], Subject]:
    def build() -> Subject:
        import keras

        model = getattr(keras.applications, name)(
            weights=None, input_shape=(size, size, 3), classifier_activation=None, **kw
        )
        co.randomize_batch_norm(model)
        return keras_subject(model)

    return build


def _seq_model(body: Callable[[Any], Any], shape: tuple, batch: int | None) -> Any:
    import keras

    inputs = keras.Input(shape, batch_size=batch, name="x")
    return keras.Model(inputs, body(inputs))


def _rnn(
    body: Callable[[Any], Any], shape: tuple = (12, 8), batch: int | None = 2
) -> Callable[[], Subject]:
    """A static batch by default: the official converter refuses Keras 3 RNNs with a dynamic
    one (TensorListReserve needs a static element shape)."""

    def build() -> Subject:
        return keras_subject(_seq_model(body, shape, batch))

    return build


def _simple_rnn(x: Any) -> Any:
    from keras import layers

    x = layers.SimpleRNN(16, return_sequences=True)(x)
    return layers.Dense(4)(layers.SimpleRNN(16)(x))


def _stacked_gru(x: Any) -> Any:
    from keras import layers

    for _ in range(2):
        x = layers.GRU(16, return_sequences=True)(x)
    return layers.Dense(4)(layers.GRU(16)(x))


def _gru_v1(x: Any) -> Any:
    from keras import layers

    return layers.Dense(4)(layers.GRU(16, reset_after=False)(x))


def _bigru(x: Any) -> Any:
    from keras import layers

    x = layers.Bidirectional(layers.GRU(16, return_sequences=True))(x)
    return layers.Dense(4)(x)


def _bilstm(x: Any) -> Any:
    from keras import layers

    x = layers.Bidirectional(layers.LSTM(16))(x)
    return layers.Dense(4)(x)


def _lstm_backwards(x: Any) -> Any:
    from keras import layers

    return layers.LSTM(16, go_backwards=True, return_sequences=True)(x)


def _conv_lstm1d(x: Any) -> Any:
    from keras import layers

    return layers.ConvLSTM1D(4, 3, padding="same")(x)


def _conv_lstm2d(x: Any) -> Any:
    from keras import layers

    return layers.ConvLSTM2D(4, 3)(x)


def _time_distributed(x: Any) -> Any:
    from keras import layers

    x = layers.TimeDistributed(layers.Conv2D(4, 3, activation="relu"))(x)
    x = layers.TimeDistributed(layers.GlobalAveragePooling2D())(x)
    return layers.LSTM(8)(x)


def _conv_lstm3d(x: Any) -> Any:
    from keras import layers

    return layers.ConvLSTM3D(2, 3, padding="same")(x)


def _dot_attention(x: Any) -> Any:
    from keras import layers

    q = layers.Dense(8)(x)
    return layers.Attention(use_scale=True)([q, x])


def _masked_lstm() -> Subject:
    import keras
    from keras import layers

    tokens = keras.Input((10,), batch_size=2, dtype="int32", name="tokens")
    x = layers.Embedding(30, 8, mask_zero=True)(tokens)
    x = layers.LSTM(16)(x)
    model = keras.Model(tokens, layers.Dense(4)(x))

    def feed(seed: int) -> dict[str, np.ndarray]:
        ids = np.random.default_rng(seed).integers(1, 30, (2, 10)).astype(np.int32)
        ids[0, 6:] = 0  # trailing padding
        return {"tokens": ids}

    return keras_subject(model, feed)


def _seq2seq_state() -> Subject:
    import keras
    from keras import layers

    enc_in = keras.Input((10, 8), batch_size=2, name="encoder")
    dec_in = keras.Input((6, 8), batch_size=2, name="decoder")
    _, h, c = layers.LSTM(16, return_state=True)(enc_in)
    y = layers.LSTM(16, return_sequences=True)(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], layers.Dense(5)(y))
    return keras_subject(model)


def _keras(
    body: Callable[[Any], Any], shape: tuple, batch: int | None = 1
) -> Callable[[], Subject]:
    """A functional model around `body` (BatchNorm statistics randomized)."""

    def build() -> Subject:
        model = _seq_model(body, shape, batch)
        co.randomize_batch_norm(model)
        return keras_subject(model)

    return build


def _unet(x: Any) -> Any:
    from keras import layers

    c1 = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    p1 = layers.MaxPooling2D()(c1)
    c2 = layers.Conv2D(16, 3, padding="same", activation="relu")(p1)
    c2 = layers.BatchNormalization()(c2)
    u1 = layers.Conv2DTranspose(8, 2, strides=2, padding="same")(c2)
    m = layers.Concatenate()([u1, c1])
    up = layers.UpSampling2D(interpolation="bilinear")(layers.Conv2D(4, 1)(m))
    return layers.Conv2D(2, 3, padding="same", activation="sigmoid")(up)


def _tcn(x: Any) -> Any:
    from keras import layers

    for rate in (1, 2, 4):
        y = layers.Conv1D(8, 3, padding="causal", dilation_rate=rate, activation="relu")(x)
        y = layers.LayerNormalization()(y)
        x = layers.Add()([layers.Conv1D(8, 1)(x), y]) if x.shape[-1] != 8 else x + y
    return layers.Dense(3)(layers.GlobalAveragePooling1D()(x))


def _video3d(x: Any) -> Any:
    from keras import layers

    x = layers.Conv3D(4, 3, padding="same", activation="relu")(x)
    x = layers.Conv3D(8, (2, 3, 3), strides=(1, 2, 2))(x)
    return layers.Dense(5)(layers.GlobalAveragePooling3D()(x))


def _group_norm_cnn(x: Any) -> Any:
    from keras import layers

    x = layers.Conv2D(8, 3, padding="same")(x)
    x = layers.GroupNormalization(groups=4)(x)
    x = layers.Activation("swish")(x)
    x = layers.SeparableConv2D(16, 3, strides=2, padding="same")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="gelu")(x)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.Cropping2D(((1, 0), (0, 1)))(x)
    x = layers.AveragePooling2D(2)(x)
    return layers.Dense(4)(layers.Flatten()(x))


def _text_attention() -> Subject:
    import keras
    from keras import layers

    tokens = keras.Input((12,), batch_size=2, dtype="int32", name="tokens")
    x = layers.Embedding(50, 16)(tokens)
    pos = layers.Embedding(12, 16)(keras.ops.arange(12)[None])
    x = x + pos
    a = layers.MultiHeadAttention(2, 8)(x, x, use_causal_mask=True)
    x = layers.LayerNormalization(epsilon=1e-6)(x + a)
    f = layers.Dense(16)(layers.Dense(32, activation="gelu")(x))
    x = layers.LayerNormalization(epsilon=1e-6)(x + f)
    model = keras.Model(tokens, layers.Dense(3)(layers.GlobalAveragePooling1D()(x)))

    def feed(seed: int) -> dict[str, np.ndarray]:
        return {"tokens": np.random.default_rng(seed).integers(0, 50, (2, 12)).astype(np.int32)}

    return keras_subject(model, feed)


def _hub_task(task: str, backbone: str, **task_kw: Any) -> Callable[[], Subject]:
    """A keras-hub task model (preprocessor=None) over a transformer_zoo backbone."""

    def build() -> Subject:
        import keras_hub
        import transformer_zoo as zoo

        model = getattr(keras_hub.models, task)(
            backbone=zoo.build(backbone), preprocessor=None, **task_kw
        )
        zoo.perturb_weights(model)
        return _saved_model_subject(model)

    return build


def _saved_model_subject(model: Any) -> Subject:
    import transformer_zoo as zoo

    tmp = tempfile.TemporaryDirectory()
    path = os.path.join(tmp.name, "saved")
    with co._silenced():
        model.export(path, verbose=False)

    def feed(seed: int) -> dict[str, np.ndarray]:
        return zoo.inputs_for(model, seed)

    def reference(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return zoo.keras_outputs(model, x)

    image = all(str(t.dtype).startswith("float") for t in model.inputs)
    return Subject(
        lambda lib: lib.TFLiteConverter.from_saved_model(path),
        reference,
        feed,
        quantizable=image,
        keep=(tmp, model),
    )


def _hub(cls: str, **config: Any) -> Callable[[], Subject]:
    def build() -> Subject:
        import keras
        import keras_hub
        import transformer_zoo as zoo

        keras.utils.set_random_seed(0)
        model = getattr(keras_hub.models, cls)(**config)
        zoo.perturb_weights(model)
        return _saved_model_subject(model)

    return build


_TEXT = dict(vocabulary_size=100, num_layers=2, hidden_dim=32, intermediate_dim=64)


def _tf(
    fn: Callable[..., dict], specs: dict[str, tuple[tuple[int, ...], str]], feed: Any = None
) -> Callable[[], Subject]:
    return lambda: function_subject(fn, specs, feed)


def _image_ops(x: Any) -> dict:
    import tensorflow as tf

    return {
        "bilinear": tf.image.resize(x, (13, 11)),
        "nearest": tf.image.resize(x, (16, 20), method="nearest"),
        "half_pixel_crop": tf.image.crop_to_bounding_box(x, 1, 2, 5, 6),
        "flip": tf.image.flip_left_right(x),
        "gray": tf.image.rgb_to_grayscale(x),
    }


def _crop_and_resize(x: Any, boxes: Any) -> dict:
    import tensorflow as tf

    return {"crops": tf.image.crop_and_resize(x, boxes, tf.zeros([3], tf.int32), (5, 5))}


def _boxes_feed(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 0.5, (3, 2))
    return {
        "x": rng.standard_normal((1, 9, 9, 3)).astype(np.float32),
        "boxes": np.concatenate([lo, lo + rng.uniform(0.2, 0.5, (3, 2))], 1).astype(np.float32),
    }


def _nms(boxes: Any, scores: Any) -> dict:
    import tensorflow as tf

    idx = tf.image.non_max_suppression(boxes, scores, 5, iou_threshold=0.5, score_threshold=0.1)
    selected, valid = tf.raw_ops.NonMaxSuppressionV4(
        boxes=boxes,
        scores=scores,
        max_output_size=5,
        iou_threshold=0.5,
        score_threshold=0.1,
        pad_to_max_output_size=True,
    )
    return {"idx": idx, "padded": selected, "valid": valid}


def _nms_feed(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0, 1, (20, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.1, 0.4, (20, 2))], 1)
    return {
        "boxes": boxes.astype(np.float32),
        "scores": rng.permutation(20).astype(np.float32) / 20,
    }


def _signal(x: Any) -> dict:
    import tensorflow as tf

    stft = tf.signal.stft(x, frame_length=32, frame_step=16, fft_length=32)
    mag = tf.abs(stft)
    mel = tf.signal.linear_to_mel_weight_matrix(8, 17, 8000, 20.0, 4000.0)
    log_mel = tf.math.log(tf.tensordot(mag, mel, 1) + 1e-6)
    return {"mag": mag, "mfcc": tf.signal.mfccs_from_log_mel_spectrograms(log_mel)}


def _segments(data: Any, ids: Any) -> dict:
    import tensorflow as tf

    sorted_ids = tf.sort(ids)
    return {
        "unsorted_sum": tf.math.unsorted_segment_sum(data, ids, 4),
        "unsorted_max": tf.math.unsorted_segment_max(data, ids, 4),
        "unsorted_min": tf.math.unsorted_segment_min(data, ids, 4),
        "unsorted_prod": tf.math.unsorted_segment_prod(data, ids, 4),
        "segment_sum": tf.math.segment_sum(data, sorted_ids),
    }


def _segment_mean(data: Any, ids: Any) -> dict:
    import tensorflow as tf

    return {"mean": tf.math.segment_mean(data, tf.sort(ids))}


def _segments_feed(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(8) % 4).astype(np.int32)
    return {"data": rng.standard_normal((8, 3)).astype(np.float32), "ids": ids}


def _scatter_gather(x: Any) -> dict:
    import tensorflow as tf

    idx = tf.constant([[0, 1], [2, 3], [1, 0]])
    g = tf.gather_nd(x, idx)
    s = tf.scatter_nd(idx, g * 2.0, [3, 4, 5])
    u = tf.tensor_scatter_nd_update(x, idx, tf.zeros_like(g))
    a = tf.tensor_scatter_nd_add(x, idx, g)
    return {"gather": g, "scatter": s, "update": u, "add": a}


def _while_tensor_array(x: Any) -> dict:
    import tensorflow as tf

    n = tf.shape(x)[0]
    ta = tf.TensorArray(tf.float32, size=n)
    acc = tf.zeros_like(x[0])
    for i in tf.range(n):
        acc = acc * 0.5 + tf.tanh(x[i])
        ta = ta.write(i, acc)
    return {"states": ta.stack(), "last": acc}


def _sort_topk(x: Any) -> dict:
    import tensorflow as tf

    values, indices = tf.math.top_k(x, 3)
    return {
        "values": values,
        "indices": indices,
        "cumsum": tf.math.cumsum(x, axis=1, exclusive=True, reverse=True),
        "argmax": tf.argmax(x, 1),
        "sorted": tf.sort(x, direction="DESCENDING"),
    }


def _ctc_greedy(logits: Any) -> dict:
    import tensorflow as tf

    decoded, neg = tf.nn.ctc_greedy_decoder(logits, tf.fill([2], 10), merge_repeated=True)
    return {"dense": tf.sparse.to_dense(decoded[0]), "neg_sum_logits": neg}


def _math_misc(x: Any) -> dict:
    import tensorflow as tf

    return {
        "softplus": tf.math.softplus(x),
        "logsumexp": tf.reduce_logsumexp(x, axis=-1),
        "l2": tf.math.l2_normalize(x, -1),
        "clip": tf.clip_by_value(x, -0.5, 0.5),
        "mod": tf.math.floormod(x, 0.7),
        "sign": tf.sign(x) * tf.math.reciprocal(tf.abs(x) + 1.0),
        "rsqrt": tf.math.rsqrt(tf.abs(x) + 1.0),
        "cos": tf.cos(x) + tf.atan2(x, x + 2.0),
    }


def _image_quality(a: Any, b: Any) -> dict:
    import tensorflow as tf

    a, b = tf.sigmoid(a), tf.sigmoid(b)  # images in [0, 1]
    return {
        "ssim": tf.image.ssim(a, b, 1.0, filter_size=5),
        "psnr": tf.image.psnr(a, b, 1.0),
        "sobel": tf.image.sobel_edges(a),
        "std": tf.math.reduce_std(a, axis=[1, 2]),
    }


def _v1_graph() -> Subject:
    """A TF1-style model: placeholders, tf.compat.v1.layers, frozen to a GraphDef file."""
    import tensorflow as tf

    v1 = tf.compat.v1
    tmp = tempfile.TemporaryDirectory()
    path = os.path.join(tmp.name, "frozen.pb")
    graph = tf.Graph()
    rng = np.random.default_rng(0)

    def var(shape: tuple[int, ...], scale: float = 0.3) -> Any:
        return v1.Variable(rng.normal(0, scale, shape).astype(np.float32))

    with graph.as_default():
        # tf.compat.v1.layers is gone with Keras 3: the same graph from tf.nn ops and variables.
        x = v1.placeholder(tf.float32, [1, 16, 16, 3], name="input")
        y = tf.nn.conv2d(x, var((3, 3, 3, 8)), 1, "SAME") + var((8,))
        y = tf.nn.relu6(y)
        mean, variance = var((8,)), tf.abs(var((8,))) + 0.5
        y = tf.compat.v1.nn.fused_batch_norm(
            y, var((8,)) + 1.0, var((8,)), mean, variance, is_training=False
        )[0]
        y = tf.nn.separable_conv2d(y, var((3, 3, 8, 1)), var((1, 1, 8, 8)), [1, 2, 2, 1], "SAME")
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.matmul(tf.reshape(y, [1, -1]), var((128, 10))) + var((10,))
        tf.identity(tf.nn.log_softmax(y), name="output")
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            frozen = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["output"]
            )
    Path(path).write_bytes(frozen.SerializeToString())

    def reference(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = tf.Graph()
        with g.as_default():
            tf.graph_util.import_graph_def(frozen, name="")
            with v1.Session(graph=g) as sess:
                return {"output": sess.run("output:0", {"input:0": x["input"]})}

    def make(lib: Any) -> Any:
        if lib.__name__.startswith("tensorflow"):
            return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(path, ["input"], ["output"])
        return lib.TFLiteConverter.from_frozen_graph(path, ["input"], ["output"])

    return Subject(make, reference, _normal({"input": ((1, 16, 16, 3), "float32")}), keep=tmp)


F32 = "float32"
CASES: dict[str, tuple[str, Callable[[], Subject]]] = {
    # keras.applications not in compare_official's lists
    "mobilenet_v3_small_min_96": ("keras", _app("MobileNetV3Small", 96, minimalistic=True)),
    "mobilenet_v3_small_96": ("keras", _app("MobileNetV3Small", 96)),
    "mobilenet_v3_large_min_96": ("keras", _app("MobileNetV3Large", 96, minimalistic=True)),
    "efficientnet_v2_b2_64": ("keras", _app("EfficientNetV2B2", 64)),
    "efficientnet_b1_64": ("keras", _app("EfficientNetB1", 64)),
    "mobilenet_v2_a035_96": ("keras", _app("MobileNetV2", 96, alpha=0.35)),
    "mobilenet_v1_a050_128": ("keras", _app("MobileNet", 128, alpha=0.5)),
    "efficientnet_v2_s_64": ("keras", _app("EfficientNetV2S", 64)),
    "resnet152_v2_64": ("keras", _app("ResNet152V2", 64)),
    "resnet101_64": ("keras", _app("ResNet101", 64)),
    "inception_resnet_v2_75": ("keras", _app("InceptionResNetV2", 75)),
    "densenet169_64": ("keras", _app("DenseNet169", 64)),
    "vgg19_32": ("keras", _app("VGG19", 32)),
    "convnext_small_32": ("keras", _app("ConvNeXtSmall", 32)),
    # Keras layers beyond the applications
    "unet_small": ("keras", _keras(_unet, (32, 32, 3))),
    "tcn_causal_dilated": ("keras", _keras(_tcn, (24, 5))),
    "conv3d_video": ("keras", _keras(_video3d, (4, 16, 16, 3))),
    "group_norm_separable_cnn": ("keras", _keras(_group_norm_cnn, (16, 16, 3))),
    "text_attention_causal": ("keras", _text_attention),
    "keras_dot_attention": ("keras", _keras(_dot_attention, (6, 8), batch=2)),
    # recurrent
    "simple_rnn": ("recurrent", _rnn(_simple_rnn)),
    "simple_rnn_dynamic_batch": ("recurrent", _rnn(_simple_rnn, batch=None)),
    "stacked_gru": ("recurrent", _rnn(_stacked_gru)),
    "gru_reset_before": ("recurrent", _rnn(_gru_v1)),
    "bigru_seq": ("recurrent", _rnn(_bigru)),
    "bilstm": ("recurrent", _rnn(_bilstm)),
    "lstm_go_backwards": ("recurrent", _rnn(_lstm_backwards)),
    "conv_lstm1d": ("recurrent", _rnn(_conv_lstm1d, (6, 10, 3))),
    "conv_lstm2d": ("recurrent", _rnn(_conv_lstm2d, (4, 8, 8, 3))),
    "conv_lstm3d": ("recurrent", _rnn(_conv_lstm3d, (3, 4, 4, 4, 2), batch=1)),
    "time_distributed_cnn_lstm": ("recurrent", _rnn(_time_distributed, (5, 12, 12, 3))),
    "masked_lstm": ("recurrent", _masked_lstm),
    "seq2seq_lstm_state": ("recurrent", _seq2seq_state),
    # keras-hub backbones not in tests/transformer_zoo.py (SavedModel route)
    "hub_bart": ("hub", _hub("BartBackbone", num_heads=2, max_sequence_length=32, **_TEXT)),
    "hub_bloom": ("hub", _hub("BloomBackbone", num_heads=2, **_TEXT)),
    "hub_falcon": ("hub", _hub("FalconBackbone", num_attention_heads=2, **_TEXT)),
    "hub_opt": ("hub", _hub("OPTBackbone", num_heads=2, max_sequence_length=32, **_TEXT)),
    "hub_gpt_neox": ("hub", _hub("GPTNeoXBackbone", num_heads=2, max_sequence_length=32, **_TEXT)),
    "hub_mixtral": (
        "hub",
        _hub(
            "MixtralBackbone",
            num_query_heads=4,
            num_key_value_heads=2,
            num_experts=4,
            top_k=2,
            sliding_window=8,
            **_TEXT,
        ),
    ),
    "hub_qwen_moe": (
        "hub",
        _hub(
            "QwenMoeBackbone",
            num_query_heads=4,
            num_key_value_heads=2,
            moe_intermediate_dim=16,
            shared_expert_intermediate_dim=32,
            num_experts=4,
            top_k=2,
            **_TEXT,
        ),
    ),
    "hub_qwen3": (
        "hub",
        _hub("Qwen3Backbone", num_query_heads=4, num_key_value_heads=2, head_dim=8, **_TEXT),
    ),
    "hub_llama3": (
        "hub",
        _hub("Llama3Backbone", num_query_heads=4, num_key_value_heads=2, **_TEXT),
    ),
    "hub_gemma2": (
        "hub",
        _hub(
            "GemmaBackbone",
            num_query_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            query_head_dim_normalize=False,
            use_post_ffw_norm=True,
            use_post_attention_norm=True,
            attention_logit_soft_cap=50.0,
            final_logit_soft_cap=30.0,
            use_sliding_window_attention=True,
            sliding_window_size=4,
            **_TEXT,
        ),
    ),
    "hub_fnet": ("hub", _hub("FNetBackbone", max_sequence_length=32, **_TEXT)),
    "hub_xlnet": ("hub", _hub("XLNetBackbone", num_heads=2, **_TEXT)),
    "hub_roformer_v2": ("hub", _hub("RoformerV2Backbone", num_heads=2, head_size=16, **_TEXT)),
    "hub_esm2": ("hub", _hub("ESM2Backbone", num_heads=2, max_sequence_length=32, **_TEXT)),
    "hub_xlm_roberta": (
        "hub",
        _hub("XLMRobertaBackbone", num_heads=2, max_sequence_length=32, **_TEXT),
    ),
    "hub_swin": (
        "hub",
        _hub(
            "SwinTransformerBackbone",
            image_shape=(32, 32, 3),
            embed_dim=16,
            depths=[2, 2],
            num_heads=[2, 4],
            window_size=4,
            patch_size=2,
            drop_path=0.0,
        ),
    ),
    "hub_resnet_v2": (
        "hub",
        _hub(
            "ResNetBackbone",
            input_conv_filters=[16],
            input_conv_kernel_sizes=[3],
            stackwise_num_filters=[64, 32],
            stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2],
            block_type="bottleneck_block",
            use_pre_activation=True,
            image_shape=(32, 32, 3),
        ),
    ),
    "hub_densenet": (
        "hub",
        _hub("DenseNetBackbone", stackwise_num_repeats=[2, 2], image_shape=(32, 32, 3)),
    ),
    "hub_vgg": (
        "hub",
        _hub(
            "VGGBackbone",
            stackwise_num_repeats=[1, 1],
            stackwise_num_filters=[8, 16],
            image_shape=(32, 32, 3),
        ),
    ),
    # keras-hub task models (preprocessor=None)
    "hub_bert_classifier": ("hub", _hub_task("BertTextClassifier", "bert", num_classes=3)),
    "hub_gpt2_causal_lm": ("hub", _hub_task("GPT2CausalLM", "gpt2")),
    "hub_llama_causal_lm": ("hub", _hub_task("LlamaCausalLM", "llama")),
    "hub_vit_classifier": ("hub", _hub_task("ViTImageClassifier", "vit", num_classes=4)),
    # TF-native graphs
    "tf_image_ops": ("tf", _tf(_image_ops, {"x": ((1, 7, 9, 3), F32)})),
    "tf_crop_and_resize": (
        "tf",
        _tf(_crop_and_resize, {"x": ((1, 9, 9, 3), F32), "boxes": ((3, 4), F32)}, _boxes_feed),
    ),
    "tf_nms": ("tf", _tf(_nms, {"boxes": ((20, 4), F32), "scores": ((20,), F32)}, _nms_feed)),
    "tf_signal_stft_mfcc": ("tf", _tf(_signal, {"x": ((2, 128), F32)})),
    "tf_segment_ops": (
        "tf",
        _tf(_segments, {"data": ((8, 3), F32), "ids": ((8,), "int32")}, _segments_feed),
    ),
    "tf_segment_mean": (
        "tf",
        _tf(_segment_mean, {"data": ((8, 3), F32), "ids": ((8,), "int32")}, _segments_feed),
    ),
    "tf_scatter_gather_nd": ("tf", _tf(_scatter_gather, {"x": ((3, 4, 5), F32)})),
    "tf_while_tensor_array": ("tf", _tf(_while_tensor_array, {"x": ((6, 4), F32)})),
    "tf_sort_topk_cumsum": ("tf", _tf(_sort_topk, {"x": ((3, 7), F32)})),
    "tf_ctc_greedy": ("tf", _tf(_ctc_greedy, {"logits": ((10, 2, 5), F32)})),
    "tf_image_quality": (
        "tf",
        _tf(_image_quality, {"a": ((2, 16, 16, 3), F32), "b": ((2, 16, 16, 3), F32)}),
    ),
    "tf_math_misc": ("tf", _tf(_math_misc, {"x": ((4, 6), F32)})),
    "v1_frozen_cnn": ("v1", _v1_graph),
}
