"""Compatibility flags: target op sets, Select TF ops, custom ops.

The flags users set (Python `target_spec.supported_ops`, `allow_custom_ops`,
`experimental_select_user_tf_ops`, `custom_ops`; CLI `--target-ops`, `--allow-custom-ops`,
`--select-user-tf-ops`, `--custom-ops`) become a `CompatFlags`; `api.pipeline` turns them (in a
`ConversionConfig`) into the passes `custom-ops{ops=[...]}`, `select-tf-ops{user-ops=[...]}`,
`custom-ops` and the options of `check-tflite-legal`. `apply_flags` adds them to a pipeline
string by the rule of `api.pipeline.user_pipeline`.

`TFLITE_BUILTINS_INT8` and the 16x8 set count as builtin op sets here; quantization reads them
from the converter. The op-set names live in `api.options` (re-exported here).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tflconv.api.options import (  # noqa: F401  (op-set names re-exported)
    BUILTIN_SETS,
    INT16X8,
    OPS_SETS,
    SELECT_TF_OPS,
    TFLITE_BUILTINS,
    TFLITE_BUILTINS_INT8,
)
from tflconv.api.pipeline import ConversionConfig, user_pipeline
from tflconv.core.io import write_atomic
from tflconv.core.pipeline import format_pipeline


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
    """The pipeline string with the flags' passes added and the gate's options set, by the
    rule of `api.pipeline.user_pipeline` (passes the pipeline already names are kept where
    they are)."""
    return format_pipeline(user_pipeline(pipeline, ConversionConfig.from_flags(flags)))


# --- command line ----------------------------------------------------------------------------

REPORT_SCHEMA = "tflconv.conversion-report/1"


def add_compat_arguments(p: argparse.ArgumentParser) -> None:
    """`tflconv convert`'s compatibility flags (tflite_convert spellings accepted)."""
    g = p.add_argument_group("compatibility (ops beyond the TFLite builtins)")
    g.add_argument(
        "--target-ops",
        "--target_ops",
        dest="target_ops",
        default=TFLITE_BUILTINS,
        metavar="SETS",
        help="comma-separated op sets: TFLITE_BUILTINS, SELECT_TF_OPS (TF kernels via the Flex "
        "delegate), TFLITE_BUILTINS_INT8, EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
        " (default: TFLITE_BUILTINS)",
    )
    g.add_argument(
        "--allow-custom-ops",
        "--allow_custom_ops",
        dest="allow_custom_ops",
        action="store_true",
        help="ops left unconverted become custom ops (custom_code = TF op type, attributes in "
        "a FlexBuffer map); you register their kernels at run time",
    )
    g.add_argument(
        "--custom-ops",
        dest="custom_ops",
        metavar="OPS",
        help="keep these ops custom even when a builtin exists: TF op types or globs on op "
        "type / TF node name, comma-separated (Erf,Cum*,model/head/*)",
    )
    g.add_argument(
        "--select-user-tf-ops",
        "--experimental_select_user_tf_ops",
        dest="select_user_tf_ops",
        metavar="OPS",
        help="more TF op types your Flex runtime has kernels for (with SELECT_TF_OPS)",
    )
    g.add_argument(
        "--report-json",
        dest="report_json",
        metavar="PATH",
        help="write a JSON report (status, flags, unsupported ops with reasons and fixes, "
        "Flex/custom ops emitted); schema in docs/compatibility.md",
    )


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def flags_from_args(args: argparse.Namespace) -> CompatFlags:
    """The CompatFlags of parsed `add_compat_arguments` flags. Raises ValueError."""
    return CompatFlags(
        target_ops=parse_target_ops(args.target_ops),
        allow_custom_ops=bool(args.allow_custom_ops),
        select_user_ops=tuple(_names(args.select_user_tf_ops)),
        custom_ops=tuple(_names(args.custom_ops)),
    )


def configure(converter: Any, flags: CompatFlags) -> None:
    """Set a `TFLiteConverter`'s official attributes (and `custom_ops`) from `flags`."""
    converter.target_spec.supported_ops = set(flags.target_ops)
    converter.target_spec.experimental_select_user_tf_ops = set(flags.select_user_ops)
    converter.allow_custom_ops = flags.allow_custom_ops
    converter.custom_ops = list(flags.custom_ops)


def conversion_report(
    flags: CompatFlags,
    *,
    model: str | None,
    output: str | None = None,
    module: Any = None,
    error: Any = None,
) -> dict[str, Any]:
    """The `--report-json` document of one conversion (success: `module` is the final IR;
    failure: `error` is the ConverterError)."""
    report = getattr(error, "report", None)
    status = "converted" if error is None else "unsupported_ops" if report else "error"
    doc: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "status": status,
        "model": model,
        "output": output if error is None else None,
        "flags": {
            "target_ops": list(flags.target_ops),
            "allow_custom_ops": flags.allow_custom_ops,
            "select_user_tf_ops": list(flags.select_user_ops),
            "custom_ops": list(flags.custom_ops),
        },
        "error": None,
        "unsupported": report.to_json() if report is not None else None,
        "ops": {},
        "flex_ops": {},
        "custom_ops": {},
    }
    if error is not None:
        doc["error"] = {"phase": getattr(error, "phase", None), "message": str(error)}
    if module is not None:
        for op in module.walk():
            if op.dialect != "tfl" or op.name == "tfl.no_value":
                continue
            if op.name == "tfl.custom":
                code = str(op.attributes.get("custom_code", ""))
                key = "flex_ops" if code.startswith("Flex") else "custom_ops"
                doc[key][code] = doc[key].get(code, 0) + 1
            doc["ops"][op.name] = doc["ops"].get(op.name, 0) + 1
    return doc


def write_json(path: str, doc: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=False) + "\n")


def runtime_needs(module: Any) -> list[str]:
    """Lines telling what the converted model needs at run time beyond the builtins."""
    doc = conversion_report(CompatFlags(), model=None, module=module)
    lines = []
    if doc["flex_ops"]:
        listing = ", ".join(f"{k} x{v}" for k, v in sorted(doc["flex_ops"].items()))
        lines.append(f"  needs the Flex delegate (Select TF ops): {listing}")
    if doc["custom_ops"]:
        listing = ", ".join(f"{k} x{v}" for k, v in sorted(doc["custom_ops"].items()))
        lines.append(f"  needs custom op kernels registered in the interpreter: {listing}")
    return lines
