"""Compatibility flags -> the conversion pipeline: target op sets, Select TF ops, custom ops.

The flags users set (Python `target_spec.supported_ops`, `allow_custom_ops`,
`experimental_select_user_tf_ops`, `custom_ops`; CLI `--target-ops`, `--allow-custom-ops`,
`--select-user-tf-ops`, `--custom-ops`) become pass options:

    custom-ops{ops=[...]}            first, when ops are chosen to stay custom
    ..., legalize-tf,                dropped when no builtin op set is targeted (SELECT_TF_OPS
                                     alone: every op a Flex op, as the official converter does)
    select-tf-ops{user-ops=[...]},   with SELECT_TF_OPS
    custom-ops,                      with allow_custom_ops
    ..., check-tflite-legal{target-ops=[...] allow-custom-ops select-user-ops=[...]}

`TFLITE_BUILTINS_INT8` and the 16x8 set count as builtin op sets here; quantization reads them
from the converter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

TFLITE_BUILTINS = "TFLITE_BUILTINS"
SELECT_TF_OPS = "SELECT_TF_OPS"
TFLITE_BUILTINS_INT8 = "TFLITE_BUILTINS_INT8"
INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"

OPS_SETS = (TFLITE_BUILTINS, SELECT_TF_OPS, TFLITE_BUILTINS_INT8, INT16X8)
"""The target op sets tflconv implements (tf.lite.OpsSet names), in canonical order."""

BUILTIN_SETS = frozenset({TFLITE_BUILTINS, TFLITE_BUILTINS_INT8, INT16X8})


def parse_target_ops(value: str | Iterable[object]) -> tuple[str, ...]:
    """Op-set names from "TFLITE_BUILTINS,SELECT_TF_OPS" or an iterable of names / OpsSet
    members (ours or tf.lite's), validated and in canonical order. Raises ValueError."""
    items: Iterable[object] = value.split(",") if isinstance(value, str) else value
    names = set()
    for item in items:
        name = getattr(item, "name", item)  # enum members
        name = str(name).strip().upper()
        if not name:
            continue
        if name not in OPS_SETS:
            raise ValueError(f"unknown target op set {name!r} (known: {', '.join(OPS_SETS)})")
        names.add(name)
    if not names:
        raise ValueError("no target op set given")
    return tuple(n for n in OPS_SETS if n in names)


@dataclass(frozen=True)
class CompatFlags:
    """The compatibility flags of one conversion."""

    target_ops: tuple[str, ...] = (TFLITE_BUILTINS,)
    allow_custom_ops: bool = False
    select_user_ops: tuple[str, ...] = ()
    """TF op types the user's Flex runtime has kernels for (experimental_select_user_tf_ops)."""
    custom_ops: tuple[str, ...] = ()
    """Op types / node-name globs kept as custom ops even when a builtin exists."""

    @property
    def select(self) -> bool:
        return SELECT_TF_OPS in self.target_ops

    @property
    def builtins(self) -> bool:
        return any(s in BUILTIN_SETS for s in self.target_ops)


def apply_flags(pipeline: str, flags: CompatFlags) -> str:
    """The pipeline string with the flags' passes inserted and the gate's options set.
    Passes the pipeline already has (select-tf-ops, custom-ops) are not added twice."""
    from tflconv import passes as _  # noqa: F401  (registers the passes)
    from tflconv.core.pipeline import format_pipeline, parse_pipeline
    from tflconv.passes.check_tflite_legal import CheckTfliteLegal
    from tflconv.passes.custom_ops import CustomOps
    from tflconv.passes.legalize_tf import LegalizeTf
    from tflconv.passes.lower_tensor_lists import LowerTensorLists
    from tflconv.passes.select_tf_ops import SelectTfOps

    passes = parse_pipeline(pipeline)
    legalize = [i for i, p in enumerate(passes) if isinstance(p, LegalizeTf)]
    gates = [i for i, p in enumerate(passes) if isinstance(p, CheckTfliteLegal)]
    at = legalize[-1] + 1 if legalize else gates[0] if gates else len(passes)
    if not flags.builtins:
        # No builtins: no legalization; the new passes go where it was.
        at -= sum(1 for p in passes[:at] if isinstance(p, LegalizeTf | LowerTensorLists))
        passes = [p for p in passes if not isinstance(p, LegalizeTf | LowerTensorLists)]
    extra = []
    if flags.select and not any(isinstance(p, SelectTfOps) for p in passes):
        extra.append(SelectTfOps(user_ops=flags.select_user_ops))
    if flags.allow_custom_ops and not any(isinstance(p, CustomOps) and not p.ops for p in passes):
        extra.append(CustomOps())
    passes[at:at] = extra
    if flags.custom_ops:
        passes.insert(0, CustomOps(ops=flags.custom_ops))
    passes = [
        dataclasses.replace(
            p,
            target_ops=flags.target_ops,
            allow_custom_ops=flags.allow_custom_ops,
            select_user_ops=flags.select_user_ops,
        )
        if isinstance(p, CheckTfliteLegal)
        else p
        for p in passes
    ]
    return format_pipeline(passes)
