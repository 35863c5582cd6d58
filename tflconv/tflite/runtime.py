"""Running IR in LiteRT: `litert_runner`, the `core.passes.ModelRunner` the api puts in
`PassContext.runner` (the `calibrate` pass runs the float model with it).

The module is written to a .tflite, loaded in LiteRT with `experimental_preserve_all_tensors`
(every intermediate buffer survives `invoke`, and LiteRT then runs its reference kernels, not
XNNPACK's), and a watched value is read from the tensor the writer made of it
(`tensor_indices`: the writer's walk order).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from tflconv.core.ir import RETURN, Function, Module, Value
from tflconv.dialects import tfl
from tflconv.tflite.writer import INTERMEDIATES, write_flatbuffer


def tensor_indices(fn: Function) -> dict[Value, int]:
    """Value -> tensor index in the subgraph the writer makes of `fn` (same walk order as
    `tflite.writer._Writer._subgraph`: arguments, then per op its constant or results)."""
    index: dict[Value, int] = {}
    n = 0
    for arg in fn.args:
        index[arg] = n
        n += 1
    for op in fn.ops:
        if op.name in (RETURN, tfl.NO_VALUE):
            continue
        for r in op.results:
            index[r] = n
            n += 1
        n += len(op.attributes.get(INTERMEDIATES) or ())
    return index


def tensor_allocated(interp: Any, index: int) -> bool:
    """Whether LiteRT allocated tensor `index` (an unused while-loop result is not). The view
    must not outlive this call: LiteRT refuses to re-allocate while one exists."""
    try:
        interp.tensor(index)()
    except ValueError:
        return False
    return True


class LiteRTRun:
    """The module's main function in LiteRT's builtin kernels, all tensors preserved."""

    def __init__(self, module: Module, watch: Collection[Value]) -> None:
        # Lazy: ai_edge_litert is a heavy optional dependency, needed only to run a model.
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        fn = module.functions[0]
        index = tensor_indices(fn)
        self._index = {v: index[v] for v in watch if v in index}
        tflite = write_flatbuffer(module, conversion_metadata=None)
        with warnings.catch_warnings():  # LiteRT warns that preserving tensors costs memory
            warnings.simplefilter("ignore")
            # No XNNPACK: its float kernels round differently from the builtin ones TF's
            # calibrator runs, which shifts ranges by a few ulps and changes every int8 scale.
            self._interp = Interpreter(
                model_content=tflite,
                experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            )
        _check_layout(self._interp.get_tensor_details(), self._index, fn)
        self._inputs = self._interp.get_input_details()
        self._shapes: list[tuple[int, ...] | None] = [None] * len(self._inputs)
        self._allocated = False

    def run(self, inputs: Sequence[np.ndarray]) -> bool:
        interp = self._interp
        resized = False
        for i, (arr, d) in enumerate(zip(inputs, self._inputs)):
            if self._shapes[i] != arr.shape:
                if tuple(d["shape"]) != arr.shape or self._allocated:
                    interp.resize_tensor_input(d["index"], list(arr.shape), strict=False)
                self._shapes[i] = arr.shape
                resized = True
        reallocated = resized or not self._allocated
        if reallocated:
            interp.allocate_tensors()
            self._allocated = True
        for arr, d in zip(inputs, self._inputs):
            interp.set_tensor(d["index"], arr)
        interp.invoke()
        return reallocated

    def tensor(self, value: Value) -> np.ndarray | None:
        i = self._index.get(value)
        if i is None:  # not watched, or no tensor of its own (tfl.no_value)
            return None
        try:
            return self._interp.tensor(i)()  # a view: no copy of the tensor
        except ValueError:  # not allocated
            return None


def litert_runner(module: Module, watch: Collection[Value]) -> LiteRTRun:
    """The `ModelRunner` of LiteRT (`PassContext.runner`)."""
    return LiteRTRun(module, watch)


def _check_layout(details: list[dict[str, Any]], watched: dict[Value, int], fn: Function) -> None:
    """The writer's tensor order must be the one `tensor_indices` assumed."""
    by_index = {d["index"]: d for d in details}
    for v, i in watched.items():
        d = by_index.get(i)
        want = v.type.shape
        ok = d is not None and (v.type.dtype != "f32" or d["dtype"] == np.float32)
        if ok and want is not None:
            ok = len(d["shape_signature"]) == len(want)
        if not ok:
            raise RuntimeError(
                f"tensor #{i} of @{fn.name} does not match value "
                f"{v.name_hint or v!r} (writer layout changed?)"
            )
