"""`check-tflite-legal`: the final gate. Every op the target cannot run is reported once per op
type, with its count, up to three locations (TF node, Python file:line, Keras layer), why it
did not convert, and the flag that would allow it.

    3 op(s) of 2 type(s) cannot be converted (target ops: TFLITE_BUILTINS):
      tf.Cumprod x2: no TFLite builtin
          at model/Cumprod (model.py:12)
          allow: SELECT_TF_OPS (Cumprod is in the Select TF ops allowlist): ...
      tf.Exp x1: LegalizeUnary: tfl.exp does not run on f64 (kernel types: f16, f32)
          a TFLite builtin exists; the op does not meet its constraints (above)
          ...
      tfl.resize_bilinear x1: the LiteRT kernel does not take the element type: operand 0
          (input) is i32; LiteRT RESIZE_BILINEAR takes f32

Why an op stays: "builtin constraint" when legalization patterns for it refused (their
reasons, from `ctx.tracer`, are shown: an NCHW conv or a dtype a kernel lacks is usually fixed
in the model, not by a flag), "no builtin" when none exists, "not in the Flex allowlist" when
Select TF ops cannot take it, "kernel dtype" for a tfl op whose LiteRT kernel does not take an
operand's or result's element type (the kernel table, dialects/tfl_kernels.py: such a model would
convert and then fail at invoke()). `UnsupportedOpsReport.to_json()` is the `--report-json` form
(schema in docs/compatibility.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tflconv.core.ir import Module, Operation
from tflconv.core.passes import Pass, PassContext, register_pass
from tflconv.dialects.tfl_kernels import kernel_dtype_errors

from .official_lowered_ops import official_reason
from .select_tf_ops import is_flex_allowed

LEGAL_DIALECTS = frozenset({"tfl", "arith", "func"})
MAX_LOCATIONS = 3
BUILTIN_SETS = frozenset(
    {
        "TFLITE_BUILTINS",
        "TFLITE_BUILTINS_INT8",
        "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
    }
)

# Reason kinds (also the JSON `reason` field).
BUILTIN_CONSTRAINT = "builtin_constraint"
NO_BUILTIN = "no_builtin"
NOT_IN_FLEX_ALLOWLIST = "not_in_flex_allowlist"
NOT_CONVERTED = "not_converted"
NOT_TF = "not_a_tf_op"
KERNEL_DTYPE = "kernel_dtype"
"""A tfl op whose LiteRT kernel does not take an operand's or result's element type (the kernel
table, dialects/tfl_kernels.py): it would convert and then fail at invoke()."""

# ConverterErrorData.ErrorCode names the official converter attaches to these errors.
ERROR_NEEDS_FLEX_OPS = "ERROR_NEEDS_FLEX_OPS"
ERROR_NEEDS_CUSTOM_OPS = "ERROR_NEEDS_CUSTOM_OPS"

SELECT_FLAG = "SELECT_TF_OPS"
CUSTOM_FLAG = "allow_custom_ops"


@dataclass
class OpLocation:
    """Where one occurrence comes from: TF node name, the user's Python line, the Keras layer
    (the node name's scope) and the function (subgraph) it is in."""

    node: str | None
    file: str | None = None
    line: int | None = None
    layer: str | None = None
    function: str | None = None
    in_body: bool = False
    """In a function that is not an entry (a While/If body)."""

    @staticmethod
    def of(op: Operation) -> OpLocation:
        fn = op.function
        body = fn is not None and not fn.attributes.get("entry")
        entries = op.location.entries
        if not entries:
            return OpLocation(None, function=fn.name if fn else None, in_body=body)
        node, source = entries[0]
        if source is None:  # a fused location: the first entry with a source line
            source = next((s for _, s in entries if s is not None), None)
        layer = node.rsplit("/", 1)[0] if "/" in node else None
        return OpLocation(
            node,
            source.file if source else None,
            source.line if source else None,
            layer,
            fn.name if fn else None,
            body,
        )

    def __str__(self) -> str:
        text = self.node or "<unknown location>"
        if self.file is not None:
            text += f" ({self.file}:{self.line})"
        if self.layer is not None:
            text += f" [layer {self.layer}]"
        if self.in_body:
            text += f" in @{self.function}"
        return text


@dataclass
class UnsupportedOp:
    """One op type the target cannot run."""

    op: str
    """The op name (`tf.Cumprod`)."""
    count: int
    locations: list[OpLocation]
    reason: str
    """BUILTIN_CONSTRAINT, NO_BUILTIN, NOT_IN_FLEX_ALLOWLIST, NOT_CONVERTED, NOT_TF or
    KERNEL_DTYPE."""
    detail: str
    """Human text for the reason (the patterns' refusals for BUILTIN_CONSTRAINT)."""
    flex_allowlisted: bool
    fixes: list[str]
    """What would allow it, best first, in words with the CLI and Python spellings."""
    fix_flags: list[str] = field(default_factory=list)
    """Machine form: SELECT_TF_OPS, allow_custom_ops, custom_ops, select_user_tf_ops."""
    pattern_failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def error_code(self) -> str | None:
        if self.reason in (NOT_TF, KERNEL_DTYPE):
            return None
        return ERROR_NEEDS_FLEX_OPS if self.flex_allowlisted else ERROR_NEEDS_CUSTOM_OPS

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "count": self.count,
            "reason": self.reason,
            "detail": self.detail,
            "pattern_failures": [{"pattern": p, "reason": r} for p, r in self.pattern_failures],
            "flex_allowlisted": self.flex_allowlisted,
            "error_code": self.error_code,
            "fixes": list(self.fixes),
            "fix_flags": list(self.fix_flags),
            "locations": [vars(loc).copy() for loc in self.locations],
        }


@dataclass
class UnsupportedOpsReport:
    """Everything the gate found, with the flags it checked against."""

    ops: list[UnsupportedOp]
    target_ops: tuple[str, ...]
    allow_custom_ops: bool
    unranked_inputs: list[str] = field(default_factory=list)
    """Entry inputs of unknown rank: the usual reason shape-bound patterns refused."""

    @property
    def total(self) -> int:
        return sum(u.count for u in self.ops)

    def summary(self) -> str:
        """One line: counts, op types, the first location."""
        kinds = ", ".join(f"{u.op} x{u.count}" for u in self.ops)
        first = self.ops[0].locations[0] if self.ops and self.ops[0].locations else None
        where = f" (first at {first})" if first is not None else ""
        line = f"{self.total} op(s) cannot be converted ({self._flags_text()}): {kinds}{where}"
        return line + self._unranked_text("; ")

    def _unranked_text(self, sep: str) -> str:
        if not self.unranked_inputs:
            return ""
        names = ", ".join(repr(n) for n in self.unranked_inputs)
        shapes = ", ".join(f"{n!r}: [...]" for n in self.unranked_inputs)
        return f"{sep}input(s) {names} have unknown rank: input_shapes={{{shapes}}} gives them one"

    def render(self, header: bool = True) -> str:
        """The report; without `header` only the per-op-type entries (after `summary()`)."""
        lines = []
        if header:
            lines.append(
                f"{self.total} op(s) of {len(self.ops)} type(s) cannot be converted "
                f"({self._flags_text()}):"
            )
        for u in self.ops:
            lines.append(f"  {u.op} x{u.count}: {u.detail}")
            if u.reason == BUILTIN_CONSTRAINT and u.pattern_failures:
                legalizer = "legalize-stablehlo" if u.op.startswith("stablehlo.") else "legalize-tf"
                lines.append(f"      {legalizer} has patterns for this op; they refused it (above)")
            for loc in u.locations:
                lines.append(f"      at {loc}")
            if u.count > len(u.locations):
                lines.append(f"      ... and {u.count - len(u.locations)} more")
            for i, fix in enumerate(u.fixes):
                lines.append(f"      {'allow' if i == 0 else '   or'}: {fix}")
        if self.unranked_inputs:
            lines.append(self._unranked_text("  "))
        return "\n".join(lines)

    def _flags_text(self) -> str:
        text = "target ops: " + ", ".join(self.target_ops)
        return text + (", allow_custom_ops" if self.allow_custom_ops else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "target_ops": list(self.target_ops),
            "allow_custom_ops": self.allow_custom_ops,
            "total": self.total,
            "ops": [u.to_json() for u in self.ops],
        }


class UnsupportedOpsError(Exception):
    """Ops left that the chosen target cannot run. `report` has the details; `ops` maps op
    name -> the ops, `reasons` op name -> reason text."""

    def __init__(self, report: UnsupportedOpsReport, ops: dict[str, list[Operation]]) -> None:
        self.report = report
        self.ops = ops
        self.reasons = {u.op: u.detail for u in report.ops}
        super().__init__(report.render())


def _python_list(names: list[str]) -> str:
    return "[" + ", ".join(f'"{n}"' for n in names) + "]"


def explain(
    op_name: str,
    ops: list[Operation],
    failures: list[tuple[str, str]],
    target_ops: tuple[str, ...],
    allow_custom_ops: bool,
    user_select_ops: tuple[str, ...] = (),
) -> UnsupportedOp:
    """Why `ops` (all named `op_name`) stay, and which flag would allow them."""
    from ..legalize_tf.pass_ import legalize_tf_patterns

    locations = [OpLocation.of(op) for op in ops[:MAX_LOCATIONS]]
    if op_name.startswith("stablehlo."):
        refusals = list(dict.fromkeys(failures))[:3]
        detail = "; ".join(f"{p}: {r}" for p, r in refusals)
        return UnsupportedOp(
            op_name,
            len(ops),
            locations,
            BUILTIN_CONSTRAINT if refusals else NO_BUILTIN,
            detail or "legalize-stablehlo has no pattern for it",
            False,
            [
                "no flag: Select TF ops (Flex) does not apply to StableHLO ops; change the model "
                "so a legalize-stablehlo pattern applies (see the reasons), or keep it out of the "
                "exported function"
            ],
            pattern_failures=refusals,
        )
    if not op_name.startswith("tf."):
        return UnsupportedOp(
            op_name,
            len(ops),
            locations,
            NOT_TF,
            f"not a TFLite op and not a TensorFlow op (dialect '{op_name.split('.')[0]}')",
            False,
            ["no flag: a pass must convert it to tfl ops"],
        )
    op_type = op_name.removeprefix("tf.")
    flex = is_flex_allowed(op_type, user_select_ops)
    select_on = SELECT_FLAG in target_ops
    patterns = legalize_tf_patterns()
    has_patterns = bool(patterns.for_op(op_name))
    flex_failures = [r for p, r in failures if p == "SelectTfOps"]
    # Only legalization refusals explain a missing builtin (not canonicalize's folds).
    legalizers = {p.name for p in patterns}
    failures = list(dict.fromkeys((p, r) for p, r in failures if p in legalizers))
    official = official_reason(op_type)
    if failures:
        reason = BUILTIN_CONSTRAINT
        detail = "; ".join(f"{p}: {r}" for p, r in failures[:3])
    elif has_patterns and any(s in BUILTIN_SETS for s in target_ops):
        reason, detail = NOT_CONVERTED, "legalize-tf has patterns for it but did not run on it"
    elif official is not None:
        # Never "no builtin" for an op the official converter lowers: a builtin form exists.
        reason, detail = BUILTIN_CONSTRAINT, official
    else:
        reason, detail = NO_BUILTIN, "no TFLite builtin"
    if not flex:
        reason = NOT_IN_FLEX_ALLOWLIST if reason == NO_BUILTIN else reason
        detail += "; not in the Select TF ops (Flex) allowlist"
    if select_on and flex_failures:
        detail += "; " + flex_failures[0]

    custom = (
        f"allow_custom_ops (--allow-custom-ops: every op left) or "
        f"custom_ops={_python_list([op_type])} (--custom-ops={op_type}), then register a "
        f'kernel for custom op "{op_type}" in the interpreter'
    )
    fixes: list[str] = []
    if reason == BUILTIN_CONSTRAINT and official is not None and not failures:
        fixes.append(
            f"none in tflconv yet: the official converter lowers {op_type} to builtins "
            "(docs/op_coverage.md); the fallbacks below need kernels the standard runtime lacks"
        )
    elif reason == BUILTIN_CONSTRAINT:
        fixes.append("change the model so a legalization pattern applies (see the reasons)")
    if flex and not select_on:
        wanted = [*(s for s in target_ops if s != SELECT_FLAG), SELECT_FLAG]
        fixes.append(
            f"SELECT_TF_OPS ({op_type} is in the Select TF ops allowlist): "
            f"--target-ops={','.join(wanted)} / target_spec.supported_ops="
            f"{{{', '.join(wanted)}}}; the model then needs the Flex delegate"
        )
        fix_flags = [SELECT_FLAG, CUSTOM_FLAG, "custom_ops"]
    elif flex and select_on:
        fixes.append("select-tf-ops did not convert it: is the pass in the pipeline?")
        fix_flags = [CUSTOM_FLAG, "custom_ops"]
    elif not allow_custom_ops:
        fix_flags = [CUSTOM_FLAG, "custom_ops", "select_user_tf_ops"]
    else:
        fix_flags = []
    if allow_custom_ops:
        fixes.append("custom-ops did not convert it: is the pass in the pipeline?")
    else:
        fixes.append(custom)
    if not flex:
        fixes.append(
            f"if your Flex runtime links a TF kernel for it: SELECT_TF_OPS with "
            f"experimental_select_user_tf_ops={_python_list([op_type])} "
            f"(--select-user-tf-ops={op_type})"
        )
    return UnsupportedOp(
        op_name, len(ops), locations, reason, detail, flex, fixes, fix_flags, failures[:3]
    )


def explain_kernel_dtypes(op_name: str, found: list[tuple[Operation, list[str]]]) -> UnsupportedOp:
    """Why tfl ops named `op_name` cannot run: their kernel does not take an element type."""
    errors = list(dict.fromkeys(e for _, errs in found for e in errs))
    detail = "the LiteRT kernel does not take the element type: " + "; ".join(errors[:3])
    if len(errors) > 3:
        detail += f"; and {len(errors) - 3} more"
    fix = (
        "change the model's element types to ones the kernel takes (e.g. a tf.cast before the "
        "op); no flag helps: the op would convert and then fail at invoke()"
    )
    locations = [OpLocation.of(op) for op, _ in found[:MAX_LOCATIONS]]
    return UnsupportedOp(op_name, len(found), locations, KERNEL_DTYPE, detail, False, [fix])


def _owner(op: Operation) -> Operation | None:
    """The op whose region holds `op` (None at function level)."""
    block = op.parent
    region = getattr(block, "parent", None)
    owner = getattr(region, "parent", None)
    return owner if isinstance(owner, Operation) else None


def find_unsupported(
    module: Module,
    ctx: PassContext,
    target_ops: tuple[str, ...] = ("TFLITE_BUILTINS",),
    allow_custom_ops: bool = False,
    user_select_ops: tuple[str, ...] = (),
) -> tuple[UnsupportedOpsReport, dict[str, list[Operation]]]:
    """The ops of `module` outside the tfl/arith/func dialects, grouped and explained."""
    illegal: dict[str, list[Operation]] = defaultdict(list)
    failures: dict[str, list[tuple[str, str]]] = {}
    bad_dtypes: dict[str, list[tuple[Operation, list[str]]]] = defaultdict(list)
    reported: set[Operation] = set()
    for op in module.walk():
        if op.dialect == "tfl":
            errors = kernel_dtype_errors(op)
            if errors:
                bad_dtypes[op.name].append((op, errors))
                illegal[op.name].append(op)
            continue
        if op.dialect in LEGAL_DIALECTS:
            continue
        if _owner(op) in reported:
            continue  # an op in the body of a refused op (a reduce's add): reported with it
        reported.add(op)
        illegal[op.name].append(op)
        found = ctx.tracer.failure_reasons(op)
        if found and op.name not in failures:
            failures[op.name] = list(found)
    entries = [
        explain_kernel_dtypes(name, bad_dtypes[name])
        if name in bad_dtypes
        else explain(
            name,
            found,
            failures.get(name, []),
            target_ops,
            allow_custom_ops,
            user_select_ops,
        )
        for name, found in sorted(illegal.items())
    ]
    return UnsupportedOpsReport(entries, tuple(target_ops), allow_custom_ops), dict(illegal)


@register_pass
@dataclass(frozen=True)
class CheckTfliteLegal(Pass):
    """Fail with one grouped report when ops the target cannot run are left."""

    name: ClassVar[str] = "check-tflite-legal"
    target_ops: tuple[str, ...] = ("TFLITE_BUILTINS",)
    """The target op sets (tf.lite.OpsSet names) the report explains against."""
    allow_custom_ops: bool = False
    """Whether leftover TF ops were allowed to become custom ops (for the report)."""
    select_user_ops: tuple[str, ...] = ()
    """User-added Select TF ops (`experimental_select_user_tf_ops`), for the report."""

    def run(self, module: Module, ctx: PassContext) -> bool:
        report, ops = find_unsupported(
            module, ctx, self.target_ops, self.allow_custom_ops, self.select_user_ops
        )
        if report.ops:
            report.unranked_inputs = [
                name
                for fn in module.functions
                if fn.attributes.get("entry")
                for name, arg in zip(fn.attributes.get("input_names") or [], fn.args)
                if arg.type.shape is None
            ]
            raise UnsupportedOpsError(report, ops)
        return False
