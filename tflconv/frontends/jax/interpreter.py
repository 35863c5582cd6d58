"""A reference runner for StableHLO files (text, bytecode): there is no Python function to
compare with, so `run_source` / `--verify` run the module in StableHLO's reference interpreter
(`stablehlo.eval_module`, bundled with jaxlib). Slow, but exact to the spec.

The interpreter aborts the process (an LLVM fatal error) on ops it does not implement, so the
runner only exists for modules whose ops it can run: jax.export's `shape_assertion` custom calls
are erased first, and modules with any other `custom_call` get no runner.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo

from tflconv.core.types import numpy_dtype

from ..base import FrontendError
from .attrs import element_type

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]
SHAPE_ASSERTION = "shape_assertion"


def _walk(block: ir.Block):
    for op in block.operations:
        yield op.operation
        for region in op.operation.regions:
            for inner in region.blocks:
                yield from _walk(inner)


def _all_ops(module: ir.Module):
    for fn in module.body.operations:
        for region in fn.operation.regions:
            for block in region.blocks:
                yield from _walk(block)


def _target(op: ir.Operation) -> str:
    return ir.StringAttr(op.attributes["call_target_name"]).value


def interpretable(module: ir.Module) -> bool:
    """Whether every op can run in the interpreter (shape assertions aside)."""
    for op in _all_ops(module):
        if op.name == "stablehlo.custom_call" and _target(op) != SHAPE_ASSERTION:
            return False
        if op.name.split(".", 1)[0] not in ("stablehlo", "func"):
            return False
    return True


def interpreter_runner(
    module: ir.Module,
    make_context: Callable[[], ir.Context],
    reload: Callable[[ir.Context], ir.Module],
) -> Runner | None:
    """A runner for `module` (its `main`), or None when the interpreter cannot run it.
    `reload(ctx)` reads the module again for each run (the runner keeps no copy of the
    weights; the interpreter's edits stay in its own context)."""
    if not interpretable(module):
        return None

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        with make_context() as ctx, ir.Location.unknown():
            program = reload(ctx)
            for op in list(_all_ops(program)):
                if op.name == "stablehlo.custom_call" and _target(op) == SHAPE_ASSERTION:
                    op.erase()
            main = next(
                f.operation
                for f in program.body.operations
                if ir.StringAttr(f.operation.attributes["sym_name"]).value == "main"
            )
            args = main.regions[0].blocks[0].arguments
            if len(args) != len(arrays):
                raise FrontendError(f"main takes {len(args)} inputs, got {len(arrays)}")
            inputs = []
            for arg, array in zip(args, arrays):
                dtype = numpy_dtype(
                    element_type(ir.RankedTensorType(arg.type).element_type, "input")
                )
                inputs.append(ir.DenseElementsAttr.get(np.ascontiguousarray(array, dtype)))
            try:
                outputs = stablehlo.eval_module(program, inputs)
            except Exception as e:  # noqa: BLE001 - the interpreter's errors, one line
                raise FrontendError(f"the StableHLO interpreter failed: {e}") from None
            return [np.array(o) for o in outputs]

    return run
