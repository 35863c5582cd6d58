"""What `TFLiteConverter.experimental_from_jax` / `from_jax` hand the jax frontend: functions with
example inputs. JAX-free, so the API can build them without importing JAX."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class JaxFunction:
    """One serving function with its example positional args (arrays or pytrees of arrays)."""

    fn: Callable[..., Any]
    args: Sequence[Any]
    names: list[str] | None = None
    """One per positional arg (a pytree arg's leaves get `name_<key>`); None: JAX's own names
    (the parameter names, `params_dense_kernel` for pytree leaves)."""
    signature_key: str | None = None
    """None: "serving_default" for one function, else the function's name."""


@dataclass
class JaxFunctions:
    """Serving functions, one signature each."""

    functions: list[JaxFunction]
    dynamic_batch: bool = False
    """Make the leading dim of every input a symbolic (dynamic) batch dim."""
