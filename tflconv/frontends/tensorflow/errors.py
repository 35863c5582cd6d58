"""One-line causes of tracing failures.

Keras wraps an exception raised inside a layer's `call` as "Exception encountered when calling
X.call()", a first line that says nothing about what went wrong; TensorFlow adds its own wrapper
lines. `trace_failure` digs out the innermost exception of the chain, the Keras layer that was
running (from the traceback's frames) and the user's source line.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

from tflconv.core.location import SourceLine

from . import attrs as cv

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WRAPPER_LINES = ("Exception encountered when calling", "in user code:")
# Autograph (tf-keras layers, tf.functions) runs generated copies of the user's code and lists
# the user's frames in its error messages.
_AUTOGRAPH_FILE = "__autograph_generated_file"
_AUTOGRAPH_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ')


def innermost(error: BaseException) -> BaseException:
    """The root of the chain of explicitly raised (`from`) or implicitly chained exceptions."""
    seen = {id(error)}
    while True:
        nxt = error.__cause__ or error.__context__
        if nxt is None or id(nxt) in seen:
            return error
        seen.add(id(nxt))
        error = nxt


def message_line(error: BaseException) -> str:
    """The first informative line of an exception's message (Keras/TF wrapper lines and
    terminal colour codes dropped); the type name if there is none."""
    for line in _ANSI.sub("", str(error)).splitlines():
        line = line.strip()
        if line and not line.startswith(_WRAPPER_LINES):
            return line
    return type(error).__name__


def failing_layer(error: BaseException) -> Any:
    """The innermost Keras layer whose `call` is on the stack where `error` was raised."""
    layer = None
    for exc in _chain(error):
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_name in ("call", "tf__call"):  # tf__call: autograph's copy
                obj = frame.f_locals.get("self")
                if _is_layer(obj):
                    layer = obj
            tb = tb.tb_next
        if layer is not None:
            return layer
    return None


def trace_failure(error: BaseException) -> str:
    """`ValueError in layer 'name' (Class) at file.py:12: the innermost message`."""
    root = innermost(error)
    parts = [type(root).__name__]
    layer = failing_layer(error)
    if layer is not None:
        parts.append(f"in layer {getattr(layer, 'name', '?')!r} ({type(layer).__name__})")
    line = _user_line(error)
    if line is not None:
        parts.append(f"at {line.file}:{line.line}")
    return " ".join(parts) + ": " + message_line(root)


def _chain(error: BaseException) -> list[BaseException]:
    """The exception chain, innermost first."""
    chain = [error]
    while True:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or any(nxt is c for c in chain):
            return chain[::-1]
        chain.append(nxt)


def _is_layer(obj: Any) -> bool:
    # Keras 3 and tf-keras layers (without importing either: the check only reads the MRO).
    return any(
        c.__name__ == "Layer" and c.__module__.startswith(("keras", "tf_keras"))
        for c in type(obj).__mro__
    )


def _user_line(error: BaseException) -> Any:
    """The innermost user frame: from autograph's "in user code" report if there is one (its
    generated code hides the user's file), else from the innermost exception whose traceback
    has one (TF errors raised in C++ have only TF frames; the exceptions wrapping them reach
    user code)."""
    try:
        locator = cv.SourceLocator()
        chain = _chain(error)
        for exc in chain:
            for file, line in reversed(_AUTOGRAPH_FRAME.findall(_ANSI.sub("", str(exc)))):
                if not locator.is_internal(file) and _AUTOGRAPH_FILE not in file:
                    return SourceLine(file, int(line))
        for exc in chain:
            frames = [
                f
                for f in traceback.extract_tb(exc.__traceback__)
                if _AUTOGRAPH_FILE not in f.filename
            ]
            line = locator.from_traceback(frames)
            if line is not None:
                return line
    except Exception:  # noqa: BLE001 - a source line is a nicety; never hide the error
        return None
    return None
