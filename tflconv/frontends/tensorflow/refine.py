"""Result shapes TensorFlow could not know when the graph was built, asked of TensorFlow again
once the importer knows more about the operands.

The usual case: a TF1 graph calls a tf.function (a `jit_compile` one, say); TF's shape
inference does not look into the callee, so everything after the call has unknown shapes in
the GraphDef, while the importer, which inlines the callee, knows them. For such an op the
importer builds the op alone in a scratch graph, its operands as placeholders of the shapes it
knows (constants as themselves, so a Reshape or a Fill still sees its shape operand), and takes
TensorFlow's inferred output shapes. Any failure leaves the types as they were.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tflconv.core.ir import Value, constant_value
from tflconv.core.types import TensorType

_OPAQUE = (tf.resource, tf.variant)


def needs_refinement(op: Any, operands: list[Value], result_types: list[TensorType]) -> bool:
    """Some result is not fully static while some operand of unknown rank in TF's graph has a
    rank here (cheap enough to ask of every op)."""
    if all(t.shape is not None and None not in t.shape for t in result_types):
        return False  # the common case first: no TF graph access
    if len(operands) != len(op.inputs):
        return False
    return any(
        t.shape.rank is None and v.type.shape is not None and t.dtype not in _OPAQUE
        for v, t in zip(operands, op.inputs)
    )


def refined_types(
    op: Any, operands: list[Value], result_types: list[TensorType]
) -> list[TensorType]:
    """`result_types` merged with TF's inference over the importer's operand types."""
    if any(t.dtype in _OPAQUE for t in op.inputs) or any(
        a.HasField("func") or a.list.func for a in op.node_def.attr.values()
    ):
        return result_types
    try:
        with tf.Graph().as_default() as scratch:
            inputs = []
            for v, t in zip(operands, op.inputs):
                value = constant_value(v)
                if value is not None and value.size <= 1024:
                    inputs.append(tf.constant(value, dtype=t.dtype))
                else:
                    inputs.append(tf.compat.v1.placeholder(t.dtype, shape=v.type.shape))
            new = scratch._create_op_internal(  # noqa: SLF001 - the NodeDef's own attrs
                op.type,
                inputs,
                dtypes=[o.dtype for o in op.outputs],
                attrs=dict(op.node_def.attr),
            )
            shapes = [o.shape for o in new.outputs]
    except Exception:  # noqa: BLE001 - TF raises many error types; keep what we had
        return result_types
    refined = []
    for t, shape in zip(result_types, shapes):
        try:
            merged = shape.merge_with(tf.TensorShape(t.shape))
        except ValueError:
            merged = None  # TF disagrees with itself: keep the original
        if merged is None or merged.rank is None:
            refined.append(t)
        else:
            refined.append(t.with_shape(tuple(merged.as_list())))
    return refined
