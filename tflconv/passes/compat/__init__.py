"""Compatibility passes: Select TF ops (Flex), custom ops and the final TFLite-legality check."""
