"""The verifier: a valid module passes; each check fails with a message naming the op and
where it came from."""

from __future__ import annotations

import numpy as np
import pytest

from tflconv.core.diagnostics import Diagnostic, VerifyError
from tflconv.core.ir import REQUIRED, Block, Function, Module, Operation, Region, constant
from tflconv.core.location import Location, SourceLine
from tflconv.core.opdef import TERMINATOR, OpDef, declare_op
from tflconv.core.parser import parse_module
from tflconv.core.types import QuantParams, SymbolRef, TensorType
from tflconv.core.verifier import module_diagnostics, verify, verify_op

F4 = TensorType((4,), "f32")


def _verify_even(op: Operation) -> str | None:
    if op.attributes.get("mode") not in ("a", "b"):
        return f"mode must be 'a' or 'b', not {op.attributes.get('mode')!r}"
    return None


declare_op(
    OpDef(
        "vtest.binary",
        operands=("lhs", "rhs"),
        attributes={"mode": REQUIRED},
        verify=_verify_even,
    )
)
declare_op(OpDef("vtest.yield", operands=("values*",), results=(), traits={TERMINATOR}))

VALID = """module attributes {tfl.description = "ok"} {
  func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) attributes {entry = true, input_names = ["x"], output_names = ["out"]} {
    %c = "arith.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32> loc("const"("m.py":2:0))
    %a = "vtest.binary"(%x, %c) {mode = "a"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("model/add"("m.py":3:0))
    %w = "test.while"(%a) ({
    ^bb0(%i: tensor<4xf32>):
      %n = "vtest.binary"(%i, %a) {mode = "b"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("model/body")
      "vtest.yield"(%n) : (tensor<4xf32>) -> ()
    }) {body = @body, branches = [@body, @main]} : (tensor<4xf32>) -> tensor<4xf32> loc("model/while")
    "func.return"(%w) : (tensor<4xf32>) -> () loc("model/return")
  }
  func.func @body(%y: tensor<4xf32>) -> (tensor<4xf32>) {
    "func.return"(%y) : (tensor<4xf32>) -> ()
  }
}
"""


def valid() -> Module:
    module = parse_module(VALID)
    verify(module)
    return module


def find(module: Module, loc_name: str) -> Operation:
    return next(op for op in module.walk() if loc_name in op.location.names)


def errors(module: Module) -> str:
    with pytest.raises(VerifyError) as info:
        verify(module)
    return str(info.value)


def test_valid_module_passes() -> None:
    module = valid()
    assert module_diagnostics(module) == []
    assert all(verify_op(op) == [] for op in module.walk())


def test_use_before_def() -> None:
    module = valid()
    add = find(module, "model/add")
    add.detach()
    module.functions[0].block.insert_before(add, module.functions[0].block.first_op)
    text = errors(module)
    assert text.startswith(
        "error: 'vtest.binary' op operand #1 (%c) is used before its definition or outside "
        "its scope\n  at model/add (m.py:3) in @main\n"
        '  see: %a = "vtest.binary"(%x, %c) {mode = "a"}'
    )


def test_value_of_nested_region_used_outside() -> None:
    module = valid()
    inner = find(module, "model/body")
    ret = find(module, "model/return")
    ret.set_operand(0, inner.result)
    assert (
        "error: 'func.return' op operand #0 (%n) is used before its definition or outside its "
        "scope\n  at model/return in @main"
    ) in errors(module)


def test_block_argument_of_other_region() -> None:
    module = valid()
    inner_arg = find(module, "model/while").regions[0].blocks[0].args[0]
    find(module, "model/return").set_operand(0, inner_arg)
    assert "'func.return' op operand #0 (%i) is an argument of a block that does not enclose" in (
        errors(module)
    )


def test_value_from_another_function() -> None:
    module = valid()
    body = module.function("body")
    body.return_op.set_operand(0, find(module, "model/add").result)
    assert (
        "error: 'func.return' op operand #0 (%a) is defined in another function (@main)\n"
        "  at <unknown location> in @body"
    ) in errors(module)


def test_erased_value() -> None:
    module = valid()
    dangling = Operation("test.orphan", [], [F4], result_names=["gone"])
    find(module, "model/return").set_operand(0, dangling.result)
    assert "operand #0 (%gone) comes from an op that is not in any function" in errors(module)


def test_values_need_tensor_types() -> None:
    module = valid()
    add = find(module, "model/add")
    add.results[0].type = "f32"  # type: ignore[assignment]
    text = errors(module)
    assert (
        "error: 'vtest.binary' op result #0 has no tensor type: 'f32'\n  at model/add (m.py:3)"
        in text
    )
    module = valid()
    module.functions[0].args[0].type = None  # type: ignore[assignment]
    assert "error: function @main: block argument #0 has no tensor type: None" in errors(module)


def test_inconsistent_quantization_ranges() -> None:
    module = valid()
    add = find(module, "model/add")
    add.results[0].type = TensorType((4,), "i8", QuantParams((0.1,), (0,), None, (-1.0,), ()))
    assert "'vtest.binary' op result #0 has 1 quantization minimums but 0 maximums" in errors(
        module
    )


def test_function_must_end_with_return() -> None:
    module = valid()
    module.function("body").return_op.erase()
    assert "error: function @body: body must end with 'func.return' (it is empty)" in errors(module)
    module = valid()
    fn = module.functions[0]
    fn.block.append(Operation("test.after", [], [], location=Location.name("late")))
    text = errors(module)
    assert "function @main: body must end with 'func.return' (it ends with 'test.after')" in text
    assert (
        "error: 'func.return' op is a terminator but is not the last op of its block\n  at model/return in @main"
        in text
    )


def test_terminator_in_the_middle_of_a_block() -> None:
    module = valid()
    inner = find(module, "model/body")
    inner.parent.insert_before(Operation("vtest.yield", [], location=Location.name("early")), inner)
    assert (
        "error: 'vtest.yield' op is a terminator but is not the last op of its block\n  at early"
        in (errors(module))
    )


def test_return_only_in_function_body() -> None:
    module = valid()
    inner = find(module, "model/body")
    inner.parent.append(Operation("func.return", [], location=Location.name("nested_ret")))
    assert (
        "error: 'func.return' op 'func.return' may only end a function body\n  at nested_ret"
        in (errors(module))
    )


def test_declared_arity_required_attrs_and_own_verifier() -> None:
    module = valid()
    add = find(module, "model/add")
    add.set_operands([add.operands[0]])
    assert (
        "error: 'vtest.binary' op expects 2 operands, has 1\n  at model/add (m.py:3) in @main"
        in (errors(module))
    )
    module = valid()
    del find(module, "model/add").attributes["mode"]
    assert "error: 'vtest.binary' op needs attribute 'mode'\n  at model/add" in errors(module)
    module = valid()
    find(module, "model/add").attributes["mode"] = "c"
    assert "error: 'vtest.binary' op mode must be 'a' or 'b', not 'c'\n  at model/add" in errors(
        module
    )
    module = valid()
    const = find(module, "const")
    const.attributes["value"] = np.zeros(3, np.float32)
    assert (
        "error: 'arith.constant' op value has shape [3] but the result type has [4]\n"
        "  at const (m.py:2) in @main\n"
        '  see: %c = "arith.constant"() {value = dense<0.0> : tensor<3xf32>} : () -> tensor<4xf32>'
    ) in errors(module)


def test_symbol_refs_must_name_functions() -> None:
    module = valid()
    find(module, "model/while").attributes["branches"] = [SymbolRef("body"), SymbolRef("nope")]
    assert (
        "error: 'test.while' op attribute 'branches' refers to unknown function @nope\n  at model/while in @main"
        in (errors(module))
    )
    module = valid()
    module.attributes["init"] = {"f": SymbolRef("missing")}
    assert "error: module: attribute 'init.f' refers to unknown function @missing" in errors(module)


def test_unique_function_names() -> None:
    module = valid()
    module.function("body").name = "main"
    assert "error: function @main: redefinition of function @main" in errors(module)


def test_function_attribute_name_counts() -> None:
    module = valid()
    module.functions[0].attributes["output_names"] = ["a", "b"]
    assert "error: function @main: attribute 'output_names' has 2 names for 1 results" in errors(
        module
    )


def test_unsupported_attribute_values() -> None:
    module = valid()
    find(module, "model/add").attributes["weird"] = [object()]
    assert "'vtest.binary' op attribute 'weird' has unsupported value type object" in errors(module)


def test_structure_pointers() -> None:
    module = valid()
    fn = module.functions[0]
    fn.module = None
    assert "error: function @main: does not point back to its module" in errors(module)
    module = valid()
    find(module, "model/while").regions[0].parent = None
    assert "'test.while' op region #0 does not point back to the op" in errors(module)
    module = valid()
    add = find(module, "model/add")
    add.parent = Block()
    assert "error: 'vtest.binary' op is not linked into its block consistently\n  at model/add" in (
        errors(module)
    )
    module = valid()
    add = find(module, "model/add")
    add.operands[0]._uses.clear()
    assert "'vtest.binary' op operand #0 is missing from its value's use list" in errors(module)


def test_many_errors_are_capped() -> None:
    fn = Function("main", [F4], ["x"])
    for i in range(25):
        fn.block.append(
            Operation(
                "vtest.binary", [fn.args[0]], [F4], {"mode": "a"}, location=Location.name(f"n{i}")
            )
        )
    fn.set_outputs([])
    with pytest.raises(VerifyError) as info:
        verify(Module([fn]))
    assert len(info.value.diagnostics) == 25
    text = str(info.value)
    assert text.count("error: 'vtest.binary' op expects 2 operands, has 1") == 20
    assert text.endswith("... and 5 more")


def test_verify_op_alone() -> None:
    op = Operation(
        "vtest.binary", [], [F4], {"mode": "z"}, location=Location.name("x", SourceLine("a.py", 1))
    )
    (diag,) = verify_op(op)
    assert isinstance(diag, Diagnostic)
    assert diag.render() == (
        "error: 'vtest.binary' op expects 2 operands, has 0\n"
        "  at x (a.py:1)\n"
        '  see: %0 = "vtest.binary"() {mode = "z"} : () -> tensor<4xf32> loc("x"("a.py":1:0))'
    )
    assert verify_op(constant(np.ones(4, np.float32))) == []


def test_verifier_handles_a_30k_op_chain() -> None:
    fn = Function("main", [F4], ["x"])
    value = fn.args[0]
    for _ in range(30_000):
        value = fn.block.append(
            Operation("vtest.binary", [value, fn.args[0]], [F4], {"mode": "a"})
        ).result
    nested = Operation("test.region", [value], [F4], regions=[Region([Block([F4])])])
    nested.regions[0].blocks[0].append(Operation("vtest.yield", [value]))
    fn.block.append(nested)
    fn.set_outputs([nested.result])
    verify(Module([fn]))  # no recursion limit on a 30k-op chain; its speed: core_scale.py
