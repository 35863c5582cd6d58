"""Build the bundled example model `examples/cnn.keras` (seeded, random weights).

    python examples/make_example.py            # writes examples/cnn.keras next to this script
    python examples/make_example.py -o m.keras

A small MobileNet-flavoured CNN covering the ops most image models use: Conv2D + BatchNorm +
ReLU6, DepthwiseConv2D, average and max pooling, a residual Add, Dense and Softmax. The weights
are random (seed 0) and the BatchNorm statistics are randomised too, so folding them is
actually exercised; the file stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SEED = 0
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "cnn.keras"


def build_model():
    """The example CNN: (batch, 32, 32, 3) float32 -> (batch, 10) class probabilities."""
    import keras
    import numpy as np
    from keras import layers

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu6")(x)

    # Depthwise-separable block with a residual connection.
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw_conv")(x)
    y = layers.BatchNormalization(name="dw_bn")(y)
    y = layers.ReLU(6.0, name="dw_relu6")(y)
    y = layers.Conv2D(16, 1, use_bias=False, name="pw_conv")(y)
    y = layers.BatchNormalization(name="pw_bn")(y)
    x = layers.Add(name="residual")([x, y])

    x = layers.MaxPooling2D(2, name="max_pool")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(32, activation="relu", name="fc1")(x)
    x = layers.Dense(NUM_CLASSES, name="logits")(x)
    outputs = layers.Softmax(name="probs")(x)
    model = keras.Model(inputs, outputs, name="example_cnn")

    # Random BatchNorm statistics: the identity defaults would make BN folding untestable.
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    rng.uniform(-0.5, 0.5, beta.shape).astype("float32"),
                    rng.uniform(-0.5, 0.5, mean.shape).astype("float32"),
                    rng.uniform(0.5, 1.5, var.shape).astype("float32"),
                ]
            )
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    model = build_model()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    print(
        f"wrote {args.output} ({args.output.stat().st_size} bytes, {model.count_params()} params)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
