"""Patterns, the rewriter and the three drivers, including failure reasons and bounds."""

import pytest

from tflconv.core.ir import Function, Module, Operation
from tflconv.core.location import Location
from tflconv.core.opdef import PURE, OpDef, declare_op
from tflconv.core.rewrite import (
    ConversionTarget,
    MatchTracer,
    PatternSet,
    RewriteError,
    RewritePattern,
    apply_conversion,
    apply_greedy,
    apply_walk,
    fused_location,
    one_to_one,
    unknown_pattern_names,
)
from tflconv.core.types import TensorType

T = TensorType((4,), "f32")
for _name in ("rw.add", "rw.relu", "rw.neg", "rw.fused_add"):
    declare_op(OpDef(_name, operands=("inputs*",), traits={PURE}))


def build(ops: list[tuple[str, list[int]]], outputs: list[int]) -> tuple[Module, list[Operation]]:
    """ops: (name, operand indices); index 0/1 are the args, k+2 the k-th op's result."""
    fn = Function("main", [T, T], ["a", "b"])
    values = list(fn.args)
    made = []
    for i, (name, operand_ids) in enumerate(ops):
        op = Operation(name, [values[j] for j in operand_ids], [T], location=Location.name(f"n{i}"))
        fn.block.append(op)
        made.append(op)
        values.append(op.result)
    fn.set_outputs([values[j] for j in outputs])
    return Module([fn]), made


def names(module: Module) -> list[str]:
    return [op.name for op in module.walk() if op.name != "func.return"]


class NegNegToNothing(RewritePattern):
    """rw.neg(rw.neg(x)) -> x"""

    root = "rw.neg"

    def match_and_rewrite(self, op, rw):
        inner = op.operands[0].defining_op
        if inner is None or inner.name != "rw.neg":
            return rw.fail("operand is not produced by rw.neg")
        rw.replace(op, inner.operands[0])


def test_walk_applies_one_to_one_renames():
    m, _ = build([("rw.add", [0, 1]), ("rw.relu", [2])], [3])
    changed = apply_walk(m, [one_to_one({"rw.add": "rw.fused_add"})])
    assert changed and names(m) == ["rw.fused_add", "rw.relu"]
    assert m.functions[0].outputs[0].defining_op.operands[0].defining_op.name == "rw.fused_add"


def test_greedy_reaches_fixpoint_and_removes_dead_ops():
    m, _ = build([("rw.neg", [0]), ("rw.neg", [2]), ("rw.neg", [3]), ("rw.neg", [4])], [5])
    assert apply_greedy(m, [NegNegToNothing()])
    assert names(m) == []
    assert m.functions[0].outputs[0] is m.functions[0].args[0]


def test_tracer_records_failure_reasons():
    m, ops = build([("rw.neg", [0])], [2])
    tracer = MatchTracer(verbose=True)
    assert not apply_walk(m, [NegNegToNothing()], tracer)
    assert tracer.failure_reasons(ops[0]) == [
        ("NegNegToNothing", "operand is not produced by rw.neg")
    ]
    assert "NegNegToNothing failed: operand is not produced by rw.neg" in tracer.lines[0]
    assert tracer.attempts["NegNegToNothing"] == 1 and tracer.successes["NegNegToNothing"] == 0


class PingPong(RewritePattern):
    """rw.add <-> rw.fused_add forever (a broken pattern pair)."""

    root = ("rw.add", "rw.fused_add")

    def match_and_rewrite(self, op, rw):
        other = "rw.fused_add" if op.name == "rw.add" else "rw.add"
        rw.replace_with_new(op, other, list(op.operands))


def test_greedy_names_patterns_that_do_not_converge():
    m, _ = build([("rw.add", [0, 1])], [2])
    with pytest.raises(RewriteError, match=r"did not converge.*PingPong"):
        apply_greedy(m, [PingPong()], max_iterations=3)


class FuseAddRelu(RewritePattern):
    """rw.relu(rw.add(x, y)) -> rw.fused_add(x, y)"""

    root = "rw.relu"

    def match_and_rewrite(self, op, rw):
        add = op.operands[0].defining_op
        if add is None or add.name != "rw.add":
            return rw.fail("operand is not produced by rw.add")
        if add.result.num_uses > 1:
            return rw.fail(f"intermediate rw.add result has {add.result.num_uses} users")
        new = rw.create("rw.fused_add", list(add.operands), [T], location=fused_location([add, op]))
        rw.replace(op, new)


def test_fused_location_names_every_replaced_op():
    m, _ = build([("rw.add", [0, 1]), ("rw.relu", [2])], [3])
    assert apply_greedy(m, [FuseAddRelu()])
    assert names(m) == ["rw.fused_add"]
    assert m.functions[0].outputs[0].defining_op.location.names == ("n0", "n1")


def test_one_to_one_tables_have_their_own_names():
    named = one_to_one({"rw.add": "rw.fused_add"}, name="RwAddOneToOne")
    assert named.name == "RwAddOneToOne"
    # Unnamed tables are still told apart (by their source ops), never a shared "OneToOne".
    a, b = one_to_one({"rw.add": "ok.add"}), one_to_one({"rw.neg": "ok.neg"})
    assert a.name != b.name
    m, _ = build([("rw.add", [0, 1]), ("rw.neg", [2])], [3])
    filtered = PatternSet([named, b]).filtered(disable=["RwAddOneToOne"])
    assert apply_walk(m, filtered)
    assert names(m) == ["rw.add", "ok.neg"]


def test_unknown_pattern_names_suggest_the_closest():
    known = ["LegalizeConv2D", "LegalizeConv3D", "LegalizeRelu"]
    assert unknown_pattern_names(["LegalizeRelu"], known) is None
    assert unknown_pattern_names([], known) is None
    msg = unknown_pattern_names(["LegalizeConv2d", "Nothing"], known)
    assert msg is not None
    assert "'LegalizeConv2d' (did you mean 'LegalizeConv2D'" in msg
    assert "'Nothing'" in msg and "'Nothing' (" not in msg


def test_partial_conversion_returns_leftovers():
    m, ops = build([("rw.add", [0, 1]), ("rw.neg", [2])], [3])
    target = ConversionTarget(legal_dialects={"ok"}, illegal_dialects={"rw"})
    result = apply_conversion(m, [one_to_one({"rw.add": "ok.add"})], target, mode="partial")
    assert result.changed
    assert [op.name for op in result.unconverted] == ["rw.neg"]


def test_full_conversion_fails_naming_leftovers():
    m, _ = build([("rw.add", [0, 1]), ("rw.neg", [2])], [3])
    target = ConversionTarget(legal_dialects={"ok", "func"})
    with pytest.raises(RewriteError, match=r"failed to legalize: rw.neg \(1x\)"):
        apply_conversion(m, [one_to_one({"rw.add": "ok.add"})], target, mode="full")


def test_conversion_chains_through_intermediate_ops():
    m, _ = build([("rw.add", [0, 1])], [2])
    patterns = [one_to_one({"rw.add": "rw.relu"}), one_to_one({"rw.relu": "ok.relu"})]
    target = ConversionTarget(legal_dialects={"ok", "func"})
    apply_conversion(m, patterns, target, mode="full")
    assert names(m) == ["ok.relu"]


def test_dynamic_legality():
    m, _ = build([("rw.add", [0, 1])], [2])
    target = ConversionTarget(dynamic={"rw.add": lambda op: op.num_operands == 2})
    assert not target.is_illegal(m.functions[0].block.first_op)


def test_pattern_set_filtering_for_bisecting():
    fuse = FuseAddRelu()
    patterns = PatternSet([NegNegToNothing(), fuse])
    assert [p.name for p in patterns.filtered(disable=["FuseAddRelu"])] == ["NegNegToNothing"]
    assert [p.name for p in patterns.filtered(enable=["FuseAddRelu"])] == ["FuseAddRelu"]
    assert patterns.for_op("rw.relu") == [fuse]


def test_modify_in_place_counts_as_change():
    class SetAttr(RewritePattern):
        """rw.neg -> rw.neg {seen}"""

        root = "rw.neg"

        def match_and_rewrite(self, op, rw):
            if op.attributes.get("seen"):
                return rw.fail("already seen")
            with rw.modify(op):
                op.attributes["seen"] = True

    m, ops = build([("rw.neg", [0])], [2])
    assert apply_greedy(m, [SetAttr()])
    assert ops[0].attributes["seen"] is True


def test_pattern_that_fails_silently_is_not_a_change():
    class DoesNothing(RewritePattern):
        root = "rw.neg"

        def match_and_rewrite(self, op, rw):
            return None

    m, _ = build([("rw.neg", [0])], [2])
    assert not apply_greedy(m, [DoesNothing()])


def test_empty_pattern_sets_match_nothing():
    assert PatternSet().for_op("rw.neg") == []
    assert PatternSet([FuseAddRelu()]).filtered(enable=[]).for_op("rw.relu") == []
