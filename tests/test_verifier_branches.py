"""Every check of the IR verifier fires on its own defect, and no check fires on valid IR that sits
right at its boundary (an op's result used right after it, a value of an enclosing block used in
a nested region, name lists of exactly the right length). tests/test_verifier.py covers the
messages of the common cases; these tests pin the branches a one-line bug would silently turn
off (benchmarks/mutation.py measures that)."""

from __future__ import annotations

import numpy as np
import pytest

from tflconv.core.diagnostics import VerifyError
from tflconv.core.ir import Block, Function, Module, Operation, Region
from tflconv.core.location import Location
from tflconv.core.opdef import DISCARDABLE, TERMINATOR, DiscardableAttr, OpDef, declare_op
from tflconv.core.types import QuantParams, SymbolRef, TensorType
from tflconv.core.verifier import module_diagnostics, verify, verify_op

F4 = TensorType((4,), "f32")
BAD_Q = TensorType((4,), "i8", QuantParams((0.1,), (0,), None, (-1.0,), ()))

declare_op(OpDef("vbr.yield", operands=("values*",), results=(), traits={TERMINATOR}))
DISCARDABLE.setdefault(
    "vbr.tag",
    DiscardableAttr("vbr.tag", "test only", lambda v: None if v == "ok" else "must be 'ok'"),
)


def build() -> tuple[Module, Operation, Operation]:
    """@main(%x) { %a = test.unary(%x); %r = test.region(%a) ({ ^bb(%i): %n = test.inner(%i, %a)
    vbr.yield(%n) }); return %r }, and @other(%y) { return %y }."""
    fn = Function("main", [F4], ["x"])
    fn.attributes["input_names"] = ["x"]
    fn.attributes["output_names"] = ["out"]
    a = fn.block.append(Operation("test.unary", [fn.args[0]], [F4], location=Location.name("a")))
    body = Block([F4])
    inner = body.append(
        Operation("test.inner", [body.args[0], a.result], [F4], location=Location.name("n"))
    )
    body.append(Operation("vbr.yield", [inner.result], [], location=Location.name("y")))
    region_op = fn.block.append(
        Operation(
            "test.region", [a.result], [F4], regions=[Region([body])], location=Location.name("r")
        )
    )
    fn.set_outputs([region_op.result], Location.name("ret"))
    other = Function("other", [F4], ["y"])
    other.set_outputs([other.args[0]])
    module = Module([fn, other])
    assert module_diagnostics(module) == []
    return module, region_op, inner


def messages(module: Module) -> list[str]:
    return [d.message for d in module_diagnostics(module)]


def test_the_boundary_cases_are_valid() -> None:
    module, region_op, inner = build()
    # an enclosing block's value (%a) and the block's own argument are visible inside the region
    assert inner.operands[1] is region_op.operands[0]
    verify(module)
    assert all(verify_op(op) == [] for op in module.walk())


def test_an_op_result_used_inside_its_own_regions_is_refused() -> None:
    module, region_op, inner = build()
    inner.set_operand(1, region_op.result)
    assert messages(module) == [
        "operand #1 (<OpResult>) is used before its definition or outside its scope"
    ]
    with pytest.raises(VerifyError, match="test.inner"):
        verify(module)


def test_a_later_sibling_in_a_nested_block_is_not_visible() -> None:
    module, region_op, inner = build()
    body = inner.parent
    late = body.insert_before(Operation("test.late", [], [F4]), body.terminator)
    inner.set_operand(0, late.result)
    assert any("operand #0" in m and "before its definition" in m for m in messages(module))


def test_values_of_a_nested_block_do_not_leak_to_the_next_region() -> None:
    module, region_op, inner = build()
    # a second region on the same op using the first region's value and block argument
    second = Block([F4])
    second.append(Operation("vbr.yield", [inner.result], []))
    third = Block([F4])
    third.append(Operation("vbr.yield", [inner.parent.args[0]], []))
    region_op.add_region(Region([second]))
    region_op.add_region(Region([third]))
    found = messages(module)
    assert len(found) == 2, found
    assert "outside its scope" in found[0] and "does not enclose" in found[1]


def test_function_body_must_point_back_and_have_one_block() -> None:
    module, _, _ = build()
    module.functions[0].body.parent = None
    assert "body region does not point back to the function" in messages(module)
    module, _, _ = build()
    fn = module.functions[0]
    fn.body.add_block(Block())
    assert "body has 2 blocks, expected 1" in messages(module)
    module, _, _ = build()
    module.functions[1].body.blocks.clear()
    assert messages(module) == ["has no body block"]


def test_block_and_argument_back_pointers() -> None:
    module, region_op, inner = build()
    inner.parent.parent = None
    assert "a block does not point back to its region" in messages(module)
    module, region_op, inner = build()
    inner.parent.args[0].index = 1
    assert "block argument #0 has a stale block/index" in messages(module)
    module, region_op, inner = build()
    inner.parent.args[0].block = Block()
    assert "block argument #0 has a stale block/index" in messages(module)


def test_block_argument_types() -> None:
    module, region_op, inner = build()
    inner.parent.args[0].type = BAD_Q
    assert "block argument #0 has 1 quantization minimums but 0 maximums" in messages(module)
    module, _, _ = build()
    module.functions[1].args[0].type = "f32"  # type: ignore[assignment]
    assert any(m.startswith("block argument #0 has no tensor type") for m in messages(module))


def test_result_owner_and_index() -> None:
    module, region_op, inner = build()
    inner.results[0].index = 3
    assert "result #0 has a stale owner/index" in messages(module)
    module, region_op, inner = build()
    inner.results[0].op = region_op
    assert "result #0 has a stale owner/index" in messages(module)


def test_operand_types_and_use_lists() -> None:
    module, region_op, inner = build()
    region_op.operands[0].type = "f32"  # type: ignore[assignment]
    found = messages(module)
    assert "operand #0 has no tensor type: 'f32'" in found
    module, region_op, inner = build()
    inner._uses_held[1].index = 0
    assert "operand #1 is missing from its value's use list" in messages(module)
    module, region_op, inner = build()
    inner._uses_held[0].op = region_op
    assert "operand #0 is missing from its value's use list" in messages(module)
    module, region_op, inner = build()
    inner._uses_held.pop()
    assert "operand #1 is missing from its value's use list" in messages(module)


def test_block_op_list_consistency() -> None:
    module, region_op, inner = build()
    block = module.functions[0].block
    block._len += 1
    assert messages(module) == ["a block's op list is inconsistent (length or last op)"]
    module, region_op, inner = build()
    inner.parent._last = inner
    assert "a block's op list is inconsistent (length or last op)" in messages(module)


def test_discardable_attribute_checks() -> None:
    module, region_op, inner = build()
    inner.attributes["vbr.tag"] = "ok"
    assert messages(module) == []
    inner.attributes["vbr.tag"] = "bad"
    assert messages(module) == ["attribute vbr.tag: must be 'ok'"]
    assert [d.message for d in verify_op(inner)] == ["attribute vbr.tag: must be 'ok'"]


def test_attribute_values_nested_in_lists_and_dicts() -> None:
    module, region_op, inner = build()
    region_op.attributes["cfg"] = {"branches": [SymbolRef("other"), (SymbolRef("main"),)]}
    region_op.attributes["ok"] = [1, 2.0, "s", b"b", np.zeros(2), np.float32(1), F4, None, True]
    assert messages(module) == []
    region_op.attributes["cfg"] = {"branches": [SymbolRef("other"), (SymbolRef("gone"),)]}
    assert messages(module) == ["attribute 'cfg.branches' refers to unknown function @gone"]
    module, region_op, inner = build()
    region_op.attributes["cfg"] = {1: "x"}
    assert messages(module) == ["attribute 'cfg' has a non-string key 1"]
    module, region_op, inner = build()
    region_op.attributes["cfg"] = {"k": {1, 2}}
    assert messages(module) == ["attribute 'cfg.k' has unsupported value type set"]


def test_verify_op_does_not_check_symbols_but_checks_kinds() -> None:
    _, region_op, _ = build()
    region_op.attributes["f"] = SymbolRef("nowhere")
    assert verify_op(region_op) == []
    region_op.attributes["g"] = [object()]
    assert [d.message for d in verify_op(region_op)] == [
        "attribute 'g' has unsupported value type object"
    ]


def test_function_and_module_attributes_are_checked() -> None:
    module, _, _ = build()
    module.functions[0].attributes["init"] = SymbolRef("other")
    module.attributes["entry"] = [SymbolRef("main")]
    assert messages(module) == []
    module.functions[0].attributes["init"] = SymbolRef("none")
    assert messages(module) == ["attribute 'init' refers to unknown function @none"]
    module, _, _ = build()
    module.attributes["x"] = object()
    (diag,) = module_diagnostics(module)
    assert diag.op is None and diag.message == "attribute 'x' has unsupported value type object"


def test_name_lists_must_match_exactly() -> None:
    module, _, _ = build()
    fn = module.functions[0]
    fn.attributes["input_names"] = []
    assert messages(module) == ["attribute 'input_names' has 0 names for 1 arguments"]
    fn.attributes["input_names"] = ("x", "y")
    assert messages(module) == ["attribute 'input_names' has 2 names for 1 arguments"]
    fn.attributes["input_names"] = ("x",)
    fn.attributes["output_names"] = []
    assert messages(module) == ["attribute 'output_names' has 0 names for 1 results"]
    fn.attributes["output_names"] = "not a list"  # only lists are counted
    assert messages(module) == []


def test_a_function_body_ending_in_another_terminator() -> None:
    module, _, _ = build()
    fn = module.functions[1]
    fn.return_op.erase()
    fn.block.append(Operation("vbr.yield", [fn.args[0]], []))
    assert messages(module) == ["body must end with 'func.return' (it ends with 'vbr.yield')"]


def test_a_terminator_last_in_its_block_is_fine_and_one_before_the_end_is_not() -> None:
    module, region_op, inner = build()
    body = inner.parent
    body.insert_after(Operation("vbr.yield", [], [], location=Location.name("mid")), inner)
    found = module_diagnostics(module)
    assert [d.message for d in found] == ["is a terminator but is not the last op of its block"]
    assert found[0].op.location == Location.name("mid")


def test_duplicate_function_names_are_reported_once_per_extra_definition() -> None:
    module, _, _ = build()
    module.functions[1].name = "main"
    third = Function("main", [F4], ["z"])
    third.set_outputs([third.args[0]])
    module.functions.append(third)  # add_function refuses a duplicate name
    third.module = module
    assert messages(module).count("redefinition of function @main") == 2
