"""The JAX / StableHLO frontend: JAX functions, `jax.export` exports and StableHLO files ->
stablehlo-dialect IR (docs/stablehlo.md). Imports no TensorFlow; JAX only when a model is
loaded."""
