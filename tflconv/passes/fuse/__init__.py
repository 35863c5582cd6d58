"""Fusion rules of the `fuse` pass, by concept: expression recognition and activation fusion
(activation.py), constant folding into weights and biases (affine.py), structural rewrites
(structure.py). Each rule's docstring gives the rewrite in arrow form."""
