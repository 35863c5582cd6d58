"""The op coverage table (docs/op_coverage.md) against the official converter's lowerings, and
the unsupported-op report's reasons for ops the official converter lowers."""

from __future__ import annotations

import pytest

from tflconv.core.parser import parse_module
from tflconv.core.passes import PassContext
from tflconv.passes.compat.check_tflite_legal import (
    BUILTIN_CONSTRAINT,
    NO_BUILTIN,
    NOT_IN_FLEX_ALLOWLIST,
    find_unsupported,
)
from tflconv.passes.compat.official_lowered_ops import OFFICIAL_LOWERED_OPS, official_lowering


@pytest.fixture(scope="module")
def statuses():
    from tflconv.tools import op_coverage

    return op_coverage.coverage()


def test_docs_table_is_up_to_date(statuses):
    from tflconv.tools import op_coverage

    assert op_coverage.DOC.read_text() == op_coverage.render(statuses), (
        "docs/op_coverage.md is out of date: run python -m tflconv.tools.op_coverage --write"
    )


def test_every_official_op_has_a_probe(statuses):
    assert [s.op for s in statuses] == list(OFFICIAL_LOWERED_OPS)
    assert not [s for s in statuses if "no probe" in s.detail]


def test_nothing_converts_to_a_wrong_model(statuses):
    wrong = [(s.op, s.detail) for s in statuses if s.status == "wrong"]
    assert not wrong


def test_ops_left_are_never_reported_as_having_no_builtin(statuses):
    left = [s for s in statuses if s.status == "missing" and s.reason]
    for s in left:
        assert s.reason not in (NO_BUILTIN, NOT_IN_FLEX_ALLOWLIST), (s.op, s.detail)
        assert "stays: no TFLite builtin" not in s.detail, (s.op, s.detail)


def _report(op_names: list[str], target_ops=("TFLITE_BUILTINS",)):
    ops = "\n".join(
        f'    %r{i} = "{name}"(%x) : (tensor<2x8xf32>) -> tensor<2x8xf32>'
        for i, name in enumerate(op_names)
    )
    text = f"""
module {{
  func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {{
{ops}
    "func.return"(%x) : (tensor<2x8xf32>) -> ()
  }}
}}
"""
    report, _ = find_unsupported(parse_module(text), PassContext(), tuple(target_ops))
    return {u.op: u for u in report.ops}


def test_every_official_op_left_is_never_no_builtin():
    """Whatever legalize-tf can do, an official op left over is never "no TFLite builtin"."""
    ops = _report([f"tf.{op}" for op in OFFICIAL_LOWERED_OPS])
    assert len(ops) == len(OFFICIAL_LOWERED_OPS)
    for name, entry in ops.items():
        assert entry.reason not in (NO_BUILTIN, NOT_IN_FLEX_ALLOWLIST), (name, entry.detail)
        assert "no TFLite builtin" not in entry.detail, (name, entry.detail)


def _without_patterns() -> list[str]:
    from tflconv.passes.legalize_tf.pass_ import legalize_tf_patterns

    patterns = legalize_tf_patterns()
    return [op for op in OFFICIAL_LOWERED_OPS if not patterns.for_op(f"tf.{op}")]


@pytest.mark.parametrize("op", _without_patterns())
def test_official_op_without_a_pattern_is_a_builtin_constraint(op):
    entry = _report([f"tf.{op}"])[f"tf.{op}"]
    assert entry.reason == BUILTIN_CONSTRAINT
    builtins = ", ".join(official_lowering(op).builtins) or "nothing (it is removed)"
    assert f"the official converter lowers it to {builtins}" in entry.detail
    # The first fix says a builtin lowering exists; a Flex fallback is never the first advice.
    assert "official converter lowers" in entry.fixes[0]
    assert "SELECT_TF_OPS" not in entry.fixes[0]


def test_render_does_not_claim_patterns_for_official_ops(monkeypatch):
    from tflconv.passes.compat.check_tflite_legal import UnsupportedOpsReport
    from tflconv.passes.legalize_tf import spectral

    # As if tflconv had no RFFT lowering: no pattern refused it, yet a builtin lowering exists.
    monkeypatch.setattr(spectral, "PATTERNS", [])
    ops = _report(["tf.RFFT", "tf.Cumprod"])
    text = UnsupportedOpsReport(list(ops.values()), ("TFLITE_BUILTINS",), False).render()
    assert "tf.RFFT x1: the official converter lowers it to RFFT2D" in text
    assert "legalize-tf has patterns" not in text
    assert "tf.Cumprod x1: no TFLite builtin" in text


def test_op_without_official_lowering_still_has_no_builtin():
    entry = _report(["tf.Cumprod"])["tf.Cumprod"]
    assert entry.reason == NO_BUILTIN
    assert entry.detail == "no TFLite builtin"


def test_analyze_notes_the_official_lowering_instead_of_only_suggesting_flex(monkeypatch):
    import tensorflow as tf

    from tflconv.passes.legalize_tf import lower_tf, nn
    from tflconv.tools.analyze import analyze_model, format_analysis

    # As if tflconv had no DivNoNan lowering (an op the official lowers, in the Flex allowlist).
    kept = [p for p in nn.PATTERNS if not isinstance(p, lower_tf.LowerNoNan)]
    monkeypatch.setattr(nn, "PATTERNS", kept)

    fn = tf.function(
        lambda x: tf.raw_ops.DivNoNan(x=x, y=x - 1.0),
        input_signature=[tf.TensorSpec([2, 3], tf.float32)],
    )
    report = analyze_model([fn])
    row = next(r for r in report["op_types"] if r["op"] == "tf.DivNoNan")
    assert row["reason_kind"] == BUILTIN_CONSTRAINT
    assert "official converter lowers it to EQUAL, SELECT_V2, DIV" in row["reason"]
    text = format_analysis(report)
    assert "no TFLite builtin" not in text
    assert "the official converter lowers DivNoNan to TFLite builtins" in text
