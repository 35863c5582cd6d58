"""Cleanup passes: canonicalization with constant folding, CSE and dead-code removal."""
