"""Legalization patterns: recurrent family.

Keras 3 recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional) trace as `tf.While` loops over
TensorLists. They convert through the generic path: `lower-tensor-lists` turns the lists into
tensors, `control_flow.PATTERNS` the loop into `tfl.while`, and the other families the cell
math of the body (FULLY_CONNECTED, LOGISTIC, TANH, ...). This works with a dynamic batch and a
dynamic sequence length, and matches the official converter, which also emits WHILE for Keras 3
layers (Keras 3 no longer tags them with `api_implements`).

No pattern fuses them into UNIDIRECTIONAL_SEQUENCE_LSTM/RNN yet: those kernels keep their state
in variable tensors that persist across invocations (a Keras layer starts from zeros on every
call) and are sized for one batch size, so a fused op would change results on the second
`invoke()` and break dynamic batches. See docs/legalize_control_flow.md.
"""

from tflconv.core.rewrite import RewritePattern

PATTERNS: list[RewritePattern] = []
