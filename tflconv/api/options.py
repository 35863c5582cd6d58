"""The conversion options with tf.lite's names and values: `OpsSet`, `Optimize`, `TargetSpec`.

tf.lite's own enum members are accepted wherever ours are (the converter compares values).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


class OpsSet(enum.Enum):
    """Op sets a model may use, as `tf.lite.OpsSet`."""

    TFLITE_BUILTINS = "TFLITE_BUILTINS"
    SELECT_TF_OPS = "SELECT_TF_OPS"
    TFLITE_BUILTINS_INT8 = "TFLITE_BUILTINS_INT8"
    EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 = (
        "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
    )
    EXPERIMENTAL_STABLEHLO_OPS = "EXPERIMENTAL_STABLEHLO_OPS"

    def __str__(self) -> str:
        return self.value


TFLITE_BUILTINS = OpsSet.TFLITE_BUILTINS.value
SELECT_TF_OPS = OpsSet.SELECT_TF_OPS.value
TFLITE_BUILTINS_INT8 = OpsSet.TFLITE_BUILTINS_INT8.value
INT16X8 = OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8.value

OPS_SETS = (TFLITE_BUILTINS, SELECT_TF_OPS, TFLITE_BUILTINS_INT8, INT16X8)
"""The target op sets tflconv implements (tf.lite.OpsSet names), in canonical order."""

BUILTIN_SETS = frozenset({TFLITE_BUILTINS, TFLITE_BUILTINS_INT8, INT16X8})
"""Op sets that mean TFLite builtin kernels (legalize-tf runs)."""


class Optimize(enum.Enum):
    """Optimization goals, as `tf.lite.Optimize`."""

    DEFAULT = "DEFAULT"
    OPTIMIZE_FOR_SIZE = "OPTIMIZE_FOR_SIZE"
    OPTIMIZE_FOR_LATENCY = "OPTIMIZE_FOR_LATENCY"
    EXPERIMENTAL_SPARSITY = "EXPERIMENTAL_SPARSITY"

    def __str__(self) -> str:
        return self.value


class TargetSpec:
    """What the target runtime supports, as `tf.lite.TargetSpec`."""

    def __init__(
        self,
        supported_ops: Iterable[Any] | None = None,
        supported_types: Iterable[Any] | None = None,
        experimental_select_user_tf_ops: Iterable[str] | None = None,
        experimental_supported_backends: list[str] | None = None,
    ) -> None:
        self.supported_ops = set(supported_ops) if supported_ops else {OpsSet.TFLITE_BUILTINS}
        self.supported_types = set(supported_types) if supported_types else set()
        self.experimental_select_user_tf_ops = set(experimental_select_user_tf_ops or ())
        self.experimental_supported_backends = experimental_supported_backends

    def __repr__(self) -> str:
        return (
            f"TargetSpec(supported_ops={self.supported_ops}, supported_types="
            f"{self.supported_types}, experimental_select_user_tf_ops="
            f"{self.experimental_select_user_tf_ops})"
        )
