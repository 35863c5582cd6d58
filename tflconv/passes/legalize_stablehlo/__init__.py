"""`legalize-stablehlo`: StableHLO ops (from the JAX frontend) -> TFLite builtins."""
