"""Legalization patterns: TF resource variables -> VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE,
as the official `LegalizeVariablesPass` (tflite/converter/transforms/legalize_variables.td)
does with `experimental_enable_resource_variables=True`:

    tf.VarHandleOp(){container, shared_name}  -> tfl.var_handle(){container, shared_name} : tensor<!tf.resource>
    tf.ReadVariableOp(h)                      -> tfl.read_variable(h)
    tf.AssignVariableOp(h, value)             -> tfl.assign_variable(h, value)

The frontend (frontends/tensorflow/variables.py) writes these ops for the captured variables a model
assigns, decomposes AssignAdd/AssignSub into read + add/sub + assign, and assigns the initial
values in the session initializer that `tfl.call_once` runs once per interpreter.

Variables live in the interpreter's resource map under (container, shared_name), shared by
all subgraphs. The kernels copy bytes (resource_variable.cc); the element types are the
official converter's (variables_utils.cc `IsSupportedVariableType`). As the official
AnalyzeVariablesPass, a variable handle used by any op other than a read or an assignment
is left as it is (reported by check-tflite-legal, or left to Flex).
"""

from __future__ import annotations

from tflconv.core.ir import Operation, Value
from tflconv.core.rewrite import PatternRewriter, RewritePattern
from tflconv.core.types import TensorType, TypeAttr

SUPPORTED = frozenset({"f32", "f64", "i1", "i8", "ui8", "i32", "i64", "complex64", "complex128"})
"""Element types of TFLite resource variables (the official variables_utils.cc)."""
HANDLE_USERS = frozenset(
    {"tf.ReadVariableOp", "tf.AssignVariableOp", "tfl.read_variable", "tfl.assign_variable"}
)
RESOURCE = TensorType((), "resource")


def _dtype(attr: object) -> str:
    return attr.dtype if isinstance(attr, TypeAttr) else str(attr)


def _is_handle(value: Value) -> bool:
    op = value.defining_op
    return op is not None and op.name == "tfl.var_handle"


class LegalizeVarHandle(RewritePattern):
    """tf.VarHandleOp(){container, shared_name, dtype} -> tfl.var_handle(){container, shared_name}"""

    root = "tf.VarHandleOp"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        dtype = _dtype(op.attr("dtype"))
        if dtype not in SUPPORTED:
            return rw.fail(
                f"TFLite resource variables hold {', '.join(sorted(SUPPORTED))}; this one is "
                f"{dtype}"
            )
        for use in op.result.uses:
            if use.op.name not in HANDLE_USERS:
                return rw.fail(
                    f"the variable is used by {use.op.name}, which has no TFLite kernel "
                    "(TFLite variables are read and assigned only)"
                )
        rw.replace_with_new(
            op,
            "tfl.var_handle",
            [],
            {
                "container": str(op.attr("container") or ""),
                "shared_name": str(op.attr("shared_name") or ""),
            },
            result_types=[RESOURCE],
        )


class LegalizeReadVariable(RewritePattern):
    """tf.ReadVariableOp(h) -> tfl.read_variable(h)"""

    root = "tf.ReadVariableOp"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if not _is_handle(op.operands[0]):
            return rw.fail("the handle is not a legalized tf.VarHandleOp")
        if op.result.type.dtype not in SUPPORTED:
            return rw.fail(f"TFLite resource variables do not hold {op.result.type.dtype}")
        rw.replace_with_new(op, "tfl.read_variable", [op.operands[0]])


class LegalizeAssignVariable(RewritePattern):
    """tf.AssignVariableOp(h, value) -> tfl.assign_variable(h, value)"""

    root = "tf.AssignVariableOp"

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        handle, value = op.operands
        if not _is_handle(handle):
            return rw.fail("the handle is not a legalized tf.VarHandleOp")
        if value.type.dtype not in SUPPORTED:
            return rw.fail(f"TFLite resource variables do not hold {value.type.dtype}")
        rw.replace_with_new(op, "tfl.assign_variable", [handle, value], result_types=[])


PATTERNS: list[RewritePattern] = [
    LegalizeVarHandle(),
    LegalizeReadVariable(),
    LegalizeAssignVariable(),
]
