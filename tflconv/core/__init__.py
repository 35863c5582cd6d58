"""The IR, its text form, rewriting and the pass manager. No TensorFlow, no FlatBuffers."""
