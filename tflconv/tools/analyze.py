"""`tflconv analyze MODEL`: will it convert, and with which flags? (and what a .tflite needs)

    from tflconv.tools.analyze import analyze_model, analyze_tflite, format_analysis
    report = analyze_model("saved_model/")        # a TF/Keras model: JSON-able dict
    print(format_analysis(report))

For a TF model it imports the model, runs the pipeline up to legalization (canonicalize,
lower-tensor-lists, legalize-tf; nothing fails) and classifies every TF op type left after
constant folding: how many became TFLite builtins, and for the rest whether Select TF ops
(Flex) or only a custom op can take them, with the reasons legalization gave. Then a verdict
per target (TFLITE_BUILTINS, + SELECT_TF_OPS, + allow_custom_ops, SELECT_TF_OPS alone), the
tensors with dynamic shapes and the ops that made them dynamic, and the model size split into
weights and graph (measured by writing the model with the flags that convert it).

For a .tflite file: operators with versions (builtin / Flex / custom), what the runtime needs,
a quantization summary, metadata entries, signatures and the size split (`tflconv inspect`
has the full dump).

With `evaluation=True` (what the CLI does unless `--no-evaluation`), the converted model or the
.tflite is also evaluated for the device (`tools/analyze_eval.py`): complexity, activation
memory, delegates and, with `benchmark=True`, speed; the report gets an "evaluation" key.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tflconv import passes  # noqa: F401  (registers the passes)
from tflconv.api.compat import SELECT_TF_OPS, TFLITE_BUILTINS, CompatFlags, apply_flags
from tflconv.api.errors import ConverterError
from tflconv.api.quiet import quiet_tensorflow
from tflconv.api.stages import import_source
from tflconv.core.ir import Module, Operation
from tflconv.core.pass_manager import PassManager
from tflconv.core.passes import PassContext
from tflconv.core.printer import print_type
from tflconv.dialects.tfl_kernels import kernel_dtype_errors
from tflconv.passes.compat.check_tflite_legal import KERNEL_DTYPE, explain, explain_kernel_dtypes
from tflconv.passes.compat.official_lowered_ops import official_lowering
from tflconv.passes.compat.select_tf_ops import is_flex_allowed
from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tflite.reader import ReadError, UnsupportedModelError, read_flatbuffer
from tflconv.tflite.writer import write_flatbuffer
from tflconv.tools.analyze_eval import NO_REQUIREMENTS, Requirements, evaluate, format_evaluation
from tflconv.tools.analyze_graph import GraphError
from tflconv.tools.inspect import InspectError, _model, inspect_model

SCHEMA = "tflconv.analysis/1"
PREPARE = "canonicalize,lower-tensor-lists"
MAX_EXAMPLES = 5

BUILTIN, SELECT, CUSTOM, UNSUPPORTED = "builtin", "select", "custom", "unsupported"

TARGETS: list[tuple[tuple[str, ...], bool]] = [
    ((TFLITE_BUILTINS,), False),
    ((TFLITE_BUILTINS, SELECT_TF_OPS), False),
    ((TFLITE_BUILTINS, SELECT_TF_OPS), True),
    ((TFLITE_BUILTINS,), True),
    ((SELECT_TF_OPS,), False),
]
"""The (target op sets, allow_custom_ops) combinations a verdict is given for, best first:
builtins, then TF kernels (Flex), then kernels the user must write (custom ops)."""


class AnalyzeError(ValueError):
    """The model cannot be loaded or read."""


# --- TF models -----------------------------------------------------------------------------------


def analyze_model(
    source: Any,
    *,
    load_options: dict[str, Any] | None = None,
    select_user_ops: tuple[str, ...] = (),
    quiet: bool = True,
    evaluation: bool = False,
    input_shapes: dict[str, list[int]] | None = None,
    benchmark: bool = False,
    threads: int | None = None,
    requirements: Requirements = NO_REQUIREMENTS,
    keep_tflite: bool = False,
) -> dict[str, Any]:
    """Analyze a TF/Keras model (anything `tflconv.convert` takes). Raises AnalyzeError when
    it cannot be loaded. With `evaluation` (the CLI's default), the model as converted (with
    the least permissive flags that convert it) is evaluated too: complexity, memory,
    delegates, and with `benchmark` its speed in LiteRT (`tflconv.tools.analyze_eval`). With
    `keep_tflite`, the evaluated .tflite bytes are under "tflite" (not JSON-able: pop it)."""
    try:
        with quiet_tensorflow(quiet):
            imported = import_source(source, load_options or {})
    except ConverterError as e:
        raise AnalyzeError(str(e)) from e
    module = imported.module
    ctx = PassContext()
    PassManager.from_pipeline(PREPARE).run(module, ctx)
    # TF ops and, from JAX sources, StableHLO ops: both legalize to TFLite builtins
    before = {op: op.name for op in module.walk() if op.dialect in ("tf", "stablehlo")}
    PassManager.from_pipeline("legalize-tf,legalize-stablehlo").run(module, ctx)
    left = [op for op in module.walk() if op.dialect not in ("tfl", "arith", "func")]
    rows = _op_types(before, left, ctx, select_user_ops)
    tf_ops = sum(r["count"] for r in rows)
    rows += _kernel_dtype_rows(module)
    name = source if isinstance(source, str) else type(source).__name__
    size, data = _size(module, rows, select_user_ops)
    report = {
        "schema": SCHEMA,
        "kind": "tf",
        "model": str(name),
        "model_type": getattr(imported, "model_type", None),
        "signatures": _signatures(module),
        "ops": tf_ops,
        "op_types": rows,
        "verdicts": _verdicts(rows, select_user_ops),
        "dynamic_shapes": _dynamic_shapes(module),
        "size": size,
    }
    if evaluation:
        report["evaluation"] = _evaluate(data, size, input_shapes, benchmark, threads, requirements)
    if keep_tflite:
        report["tflite"] = data
    return report


def _evaluate(
    data: bytes | None,
    size: dict[str, Any],
    input_shapes: dict[str, list[int]] | None,
    benchmark: bool,
    threads: int | None,
    requirements: Requirements,
) -> dict[str, Any]:
    if data is None:
        return {"error": f"the model does not convert: {size.get('why')}"}
    try:
        return evaluate(
            data,
            input_shapes=input_shapes,
            benchmark=benchmark,
            threads=threads,
            requirements=requirements,
        )
    except GraphError as e:
        raise AnalyzeError(str(e)) from e


def _op_types(
    before: dict[Operation, str],
    left: list[Operation],
    ctx: PassContext,
    select_user_ops: tuple[str, ...],
) -> list[dict[str, Any]]:
    total = Counter(before.values())
    for op in left:  # leftovers legalization created (rare) count too
        if op not in before:
            total[op.name] += 1
    groups: dict[str, list[Operation]] = {}
    for op in left:
        groups.setdefault(op.name, []).append(op)
    rows = []
    for name in sorted(total):
        ops = groups.get(name, [])
        row: dict[str, Any] = {
            "op": name,
            "count": total[name],
            BUILTIN: total[name] - len(ops),
            SELECT: 0,
            CUSTOM: 0,
            UNSUPPORTED: 0,
            "flex_allowlisted": name.startswith("tf.")
            and is_flex_allowed(name.removeprefix("tf."), select_user_ops),
            "reason": None,
            "locations": [],
        }
        if ops:
            why = explain(
                name,
                ops,
                _failures(ops, ctx),
                (TFLITE_BUILTINS,),
                False,
                select_user_ops,
            )
            category = (
                UNSUPPORTED
                if not name.startswith("tf.") or name in ("tf.PartitionedCall",)
                else SELECT
                if row["flex_allowlisted"]
                else CUSTOM
            )
            row[category] = len(ops)
            row["reason"] = why.detail
            row["reason_kind"] = why.reason
            row["locations"] = [str(loc) for loc in why.locations]
        rows.append(row)
    return rows


def _kernel_dtype_rows(module: Module) -> list[dict[str, Any]]:
    """One row per tfl op type legalization produced on an element type its LiteRT kernel does
    not take (the kernel table): builtins that would fail at invoke(), so every target that
    legalizes is blocked by them."""
    found: dict[str, list[tuple[Operation, list[str]]]] = {}
    for op in module.walk():
        if op.dialect == "tfl" and (errors := kernel_dtype_errors(op)):
            found.setdefault(op.name, []).append((op, errors))
    rows = []
    for name in sorted(found):
        why = explain_kernel_dtypes(name, found[name])
        rows.append(
            {
                "op": name,
                "count": why.count,
                BUILTIN: 0,
                SELECT: 0,
                CUSTOM: 0,
                UNSUPPORTED: why.count,
                "flex_allowlisted": False,
                "reason": why.detail,
                "reason_kind": KERNEL_DTYPE,
                "locations": [str(loc) for loc in why.locations],
            }
        )
    return rows


def _failures(ops: list[Operation], ctx: PassContext) -> list[tuple[str, str]]:
    for op in ops:
        found = ctx.tracer.failure_reasons(op)
        if found:
            return list(found)
    return []


def _verdicts(rows: list[dict[str, Any]], select_user_ops: tuple[str, ...]) -> list[dict]:
    out = []
    for target_ops, custom in TARGETS:
        builtins = TFLITE_BUILTINS in target_ops
        select = SELECT_TF_OPS in target_ops
        flex, customs, blocking = [], [], []
        for row in rows:
            name = row["op"]
            if row.get("reason_kind") == "kernel_dtype" and not builtins:
                continue  # nothing is legalized: its TF op is counted in its own row
            left = row["count"] - row[BUILTIN] if builtins else row["count"]
            if not left:
                continue
            op_type = name.removeprefix("tf.")
            if row[UNSUPPORTED]:
                blocking.append(op_type)
            elif select and is_flex_allowed(op_type, select_user_ops):
                flex.append(op_type)
            elif custom and name.startswith("tf."):
                customs.append(op_type)
            else:
                blocking.append(op_type)
        out.append(
            {
                "target_ops": list(target_ops),
                "allow_custom_ops": custom,
                "converts": not blocking,
                "flex_ops": flex,
                "custom_ops": customs,
                "blocking": blocking,
            }
        )
    return out


def _signatures(module: Module) -> list[dict[str, Any]]:
    out = []
    for fn in module.functions:
        if not fn.attributes.get("entry"):
            continue
        names = list(fn.attributes.get("input_names") or [a.name_hint for a in fn.args])
        out.append(
            {
                "key": fn.attributes.get("signature_key", fn.name),
                "inputs": [
                    {"name": n, "type": print_type(a.type)}
                    for n, a in zip(names, fn.args, strict=False)
                ],
                "outputs": [
                    {"name": n, "type": print_type(v.type)}
                    for n, v in zip(
                        fn.attributes.get("output_names") or [], fn.outputs, strict=False
                    )
                ],
            }
        )
    return out


def _is_dynamic(value: Any) -> bool:
    shape = value.type.shape
    return shape is None or any(d is None for d in shape)


def _dynamic_shapes(module: Module) -> dict[str, Any]:
    """Inputs with dynamic dims, how many tensors are dynamic, and the ops that made a
    dynamic tensor out of static ones (where static shapes stop)."""
    inputs, sources = [], []
    values = dynamic = 0
    for fn in module.functions:
        if fn.attributes.get("entry"):
            names = list(fn.attributes.get("input_names") or [])
            for i, arg in enumerate(fn.args):
                if _is_dynamic(arg):
                    name = names[i] if i < len(names) else arg.name_hint or f"arg{i}"
                    inputs.append({"name": name, "type": print_type(arg.type)})
        for op in fn.walk():
            if op.name in ("arith.constant", "func.return", "tfl.no_value"):
                continue  # constants, and the placeholder of an omitted optional operand
            for r in op.results:
                values += 1
                dynamic += _is_dynamic(r)
            made_dynamic = any(_is_dynamic(r) for r in op.results) and not any(
                _is_dynamic(v) for v in op.operands
            )
            if made_dynamic and len(sources) < MAX_EXAMPLES:
                sources.append(
                    {
                        "op": op.name,
                        "type": ", ".join(print_type(r.type) for r in op.results),
                        "location": str(op.location),
                    }
                )
    return {"inputs": inputs, "tensors": values, "dynamic": dynamic, "introduced_by": sources}


def _size(
    module: Module, rows: list[dict[str, Any]], select_user_ops: tuple[str, ...]
) -> tuple[dict[str, Any], bytes | None]:
    """Write the legalized model with the least permissive flags that convert it; split the
    file into weights (constant buffers) and the rest. Also returns the file."""
    verdicts = _verdicts(rows, select_user_ops)
    chosen = next((v for v in verdicts[:4] if v["converts"]), None)
    if chosen is None:
        return {"measured": False, "why": "no target converts the model"}, None
    flags = CompatFlags(
        tuple(chosen["target_ops"]), chosen["allow_custom_ops"], tuple(select_user_ops)
    )
    clone = module.clone()
    # the rest of the default conversion pipeline, so the evaluation sees what `convert` writes
    rest = "legalize-stablehlo,canonicalize,fuse,simplify-tfl,cse,fuse-recurrent,dce"
    try:
        pipeline = apply_flags(f"legalize-tf,{rest},check-tflite-legal", flags)
        PassManager.from_pipeline(pipeline).run(clone)
        data = write_flatbuffer(clone, conversion_metadata={})
    except Exception as e:  # noqa: BLE001 - the size is a nice-to-have; say why it is missing
        why = f"{type(e).__name__}: {' '.join(str(e).split())}"
        return {"measured": False, "why": why}, None
    weights, largest = _constant_bytes(clone)
    return {
        "measured": True,
        "flags": {"target_ops": list(flags.target_ops), "allow_custom_ops": flags.allow_custom_ops},
        "bytes": len(data),
        "weights": weights,
        "graph": len(data) - weights,
        "largest_constants": largest,
    }, data


def _constant_bytes(module: Module) -> tuple[int, list[dict[str, Any]]]:
    seen: dict[int, tuple[int, str, str]] = {}
    for op in module.walk():
        if op.name == "arith.constant":
            array = op.attributes["value"]
            key = id(array)
            if key not in seen:
                seen[key] = (
                    int(getattr(array, "nbytes", 0)),
                    op.result.name_hint or "",
                    print_type(op.result.type),
                )
    items = sorted(seen.values(), key=lambda t: -t[0])
    largest = [{"name": n, "type": t, "bytes": b} for b, n, t in items[:3]]
    return sum(b for b, _, _ in items), largest


# --- .tflite files -------------------------------------------------------------------------------


def analyze_tflite(
    data: bytes,
    *,
    evaluation: bool = False,
    input_shapes: dict[str, list[int]] | None = None,
    benchmark: bool = False,
    threads: int | None = None,
    requirements: Requirements = NO_REQUIREMENTS,
) -> dict[str, Any]:
    """Analyze a .tflite file: ops (versions, builtin/Flex/custom), runtime needs,
    quantization, metadata, signatures, size; with `evaluation` (the CLI's default; it runs
    the model in LiteRT, so only for files the reader accepted) also complexity, memory,
    delegates (and with `benchmark` speed). Raises AnalyzeError for unreadable files."""
    try:
        info = inspect_model(data, top=3)
        model = _model(bytes(data))
    except InspectError as e:
        raise AnalyzeError(str(e)) from e
    ops = []
    for row in info["operators"]:
        name = row["op"]
        kind = BUILTIN
        if name.startswith("CUSTOM("):
            name = name[len("CUSTOM(") : -1]
            kind = "flex" if name.startswith("Flex") else CUSTOM
        ops.append({"op": name, "version": row["version"], "count": row["count"], "kind": kind})
    meta = {m["name"]: m for m in info["metadata"]}
    runtime = meta.get("min_runtime_version", {}).get("value")
    weights = info["weights"]
    report = {
        "schema": SCHEMA,
        "kind": "tflite",
        "bytes": len(data),
        "subgraphs": [
            {"name": s["name"], "operators": s["operators"], "tensors": s["tensors"]}
            for s in info["subgraphs"]
        ],
        "ops": ops,
        "runtime": {
            "min_runtime_version": runtime if isinstance(runtime, str) else None,
            "flex_ops": [o["op"] for o in ops if o["kind"] == "flex"],
            "custom_ops": [o["op"] for o in ops if o["kind"] == CUSTOM],
        },
        "quantization": _quantization_summary(model),
        "metadata": [{"name": m["name"], "bytes": m["bytes"]} for m in info["metadata"]],
        "conversion_metadata": (meta.get("CONVERSION_METADATA") or {}).get("value"),
        "signatures": _tflite_signatures(info),
        "size": {
            "bytes": len(data),
            "weights": int(weights["weights_bytes"]),
            "graph": len(data) - int(weights["weights_bytes"]),
        },
    }
    if evaluation:
        _check_readable(bytes(data))
        report["evaluation"] = _evaluate(
            bytes(data), report["size"], input_shapes, benchmark, threads, requirements
        )
    return report


def _check_readable(data: bytes) -> None:
    """The evaluation runs the model in LiteRT: refuse a file the reader finds corrupt first
    (a model it merely cannot represent in the IR passes)."""
    try:
        read_flatbuffer(data)
    except UnsupportedModelError:
        pass
    except ReadError as e:
        raise AnalyzeError(f"corrupt .tflite: {' '.join(str(e).split())}") from e


def _tflite_signatures(info: dict[str, Any]) -> list[dict[str, Any]]:
    subgraphs = info["subgraphs"]
    out = []
    for sig in info["signatures"]:
        sg = subgraphs[sig["subgraph"]] if sig["subgraph"] < len(subgraphs) else None
        tensors = {t["index"]: t for t in (sg["inputs"] + sg["outputs"])} if sg else {}

        def describe(entries: list[dict[str, Any]], tensors: dict = tensors) -> list[dict]:
            rows = []
            for e in entries:
                t = tensors.get(e["tensor"], {})
                shape = t.get("shape_signature", t.get("shape"))
                rows.append({"name": e["name"], "dtype": t.get("dtype"), "shape": shape})
            return rows

        out.append(
            {
                "key": sig["key"],
                "inputs": describe(sig["inputs"]),
                "outputs": describe(sig["outputs"]),
            }
        )
    return out


_TYPE_NAMES: dict[int, str] = {}


def _type_name(code: int) -> str:
    if not _TYPE_NAMES:
        _TYPE_NAMES.update(
            {v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
        )
    return _TYPE_NAMES.get(code, str(code))


def _quantization_summary(model: Any) -> dict[str, Any]:
    """Tensor types, quantized tensors (per-tensor / per-channel), constant vs activation
    types, and the scheme they suggest (float, float16 weights, dynamic range, full integer,
    16x8)."""
    types: Counter = Counter()
    weight_types: Counter = Counter()
    activation_types: Counter = Counter()
    per_tensor = per_channel = 0
    io_types: Counter = Counter()
    for sg in model.subgraphs or ():
        io = set(int(i) for i in (sg.inputs if sg.inputs is not None else ())) | set(
            int(i) for i in (sg.outputs if sg.outputs is not None else ())
        )
        for index, t in enumerate(sg.tensors or ()):
            name = _type_name(int(t.type))
            types[name] += 1
            has_data = 0 < t.buffer < len(model.buffers or ()) and (
                model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data)
            )
            (weight_types if has_data else activation_types)[name] += 1
            if index in io:
                io_types[name] += 1
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale):
                if len(q.scale) > 1:
                    per_channel += 1
                else:
                    per_tensor += 1
    integer = {"int8", "uint8", "int16"}
    if activation_types.get("int16") and weight_types.get("int8"):
        scheme = "16x8 (int16 activations, int8 weights)"
    elif any(activation_types.get(t) for t in ("int8", "uint8")) and (per_tensor or per_channel):
        scheme = (
            "full integer"
            if not any(io_types.get(t) for t in ("float32",))
            else ("integer with float inputs/outputs")
        )
    elif weight_types.get("int8") and activation_types.get("float32"):
        scheme = "dynamic range (int8 weights, float activations)"
    elif weight_types.get("float16"):
        scheme = "float16 weights"
    elif not (set(types) & integer) or not (per_tensor or per_channel):
        scheme = "float"
    else:
        scheme = "mixed"
    return {
        "scheme": scheme,
        "tensor_types": dict(sorted(types.items())),
        "weight_types": dict(sorted(weight_types.items())),
        "activation_types": dict(sorted(activation_types.items())),
        "quantized_tensors": {"per_tensor": per_tensor, "per_channel": per_channel},
    }


# --- text ----------------------------------------------------------------------------------------


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"


def _target_text(v: dict[str, Any]) -> str:
    text = ", ".join(v["target_ops"])
    return text + (" + allow_custom_ops" if v["allow_custom_ops"] else "")


def _cli_flags(v: dict[str, Any]) -> str:
    flags = f"--target-ops={','.join(v['target_ops'])}"
    return flags + (" --allow-custom-ops" if v["allow_custom_ops"] else "")


def _official_note(verdict: dict[str, Any]) -> list[str]:
    """A Flex/custom fallback for ops the official converter lowers to builtins is not the
    only way: say so, and that the standard runtime cannot run it."""
    ops = [op for op in verdict["flex_ops"] + verdict["custom_ops"] if official_lowering(op)]
    if not ops:
        return []
    return [
        f"  note: the official converter lowers {', '.join(ops)} to TFLite builtins; tflconv "
        "does not yet (docs/op_coverage.md), so this fallback needs the Flex delegate or "
        "custom kernels, which the standard LiteRT runtime does not include"
    ]


def format_analysis(report: dict[str, Any]) -> str:
    """The report as readable text."""
    text = _format_tflite(report) if report["kind"] == "tflite" else _format_tf(report)
    ev = report.get("evaluation")
    if ev is None:
        return text
    if "error" in ev:
        return text + f"\n\nEvaluation: not done: {ev['error']}"
    return text + "\n\n" + "\n".join(format_evaluation(ev))


def _format_tf(report: dict[str, Any]) -> str:
    lines = [f"Model: {report['model']} ({report.get('model_type') or 'TF'})"]
    for sig in report["signatures"]:
        ins = ", ".join(f"{i['name']}: {i['type']}" for i in sig["inputs"])
        outs = ", ".join(f"{o['name']}: {o['type']}" for o in sig["outputs"])
        lines.append(f"  signature {sig['key']}: ({ins}) -> ({outs})")
    rows = report["op_types"]
    kind = "StableHLO ops" if report.get("model_type") == "jax" else "TF ops"
    lines += ["", f"{kind} after constant folding: {report['ops']} in {len(rows)} types", ""]
    width = max([len("op type")] + [len(r["op"]) for r in rows])
    header = f"  {'op type':<{width}}  count  builtin  select  custom  unsupported"
    lines.append(header)
    for r in rows:
        cells = [r[k] or "-" for k in (BUILTIN, SELECT, CUSTOM, UNSUPPORTED)]
        lines.append(
            f"  {r['op']:<{width}}  {r['count']:>5}  {cells[0]:>7}  {cells[1]:>6}  "
            f"{cells[2]:>6}  {cells[3]:>11}"
        )
    left = [r for r in rows if r["reason"]]
    if left:
        lines += ["", "Not converted to builtins:"]
        for r in left:
            where = f" (at {r['locations'][0]})" if r["locations"] else ""
            allow = "; in the Flex allowlist" if r["flex_allowlisted"] else ""
            lines.append(f"  {r['op']}: {r['reason']}{allow}{where}")
    lines += ["", "Verdict by target:"]
    width = max(len(_target_text(v)) for v in report["verdicts"])
    for v in report["verdicts"]:
        if v["converts"]:
            needs = []
            if v["flex_ops"]:
                needs.append("Flex: " + ", ".join(v["flex_ops"]))
            if v["custom_ops"]:
                needs.append("custom kernels: " + ", ".join(v["custom_ops"]))
            detail = "converts" + (f" ({'; '.join(needs)})" if needs else "")
        else:
            detail = "fails: " + ", ".join(v["blocking"])
        lines.append(f"  {_target_text(v):<{width}}  {detail}")
    best = next((v for v in report["verdicts"][:4] if v["converts"]), None)
    if best is not None:
        lines.append(f"Suggested: tflconv convert {report['model']} {_cli_flags(best)}")
        lines += _official_note(best)
    else:
        lines.append("Suggested: no flag set converts this model; see the reasons above")
    dyn = report["dynamic_shapes"]
    lines += ["", "Dynamic shapes:"]
    if dyn["inputs"]:
        lines.append("  inputs: " + ", ".join(f"{i['name']} {i['type']}" for i in dyn["inputs"]))
    lines.append(f"  {dyn['dynamic']} of {dyn['tensors']} tensors have dynamic dims")
    for s in dyn["introduced_by"]:
        lines.append(f"  made dynamic by {s['op']} -> {s['type']} at {s['location']}")
    size = report["size"]
    lines += ["", "Size:"]
    if size["measured"]:
        total = max(size["bytes"], 1)
        lines.append(
            f"  {_bytes(size['bytes'])} as converted with {_target_text(size['flags'])}: "
            f"weights {_bytes(size['weights'])} ({100 * size['weights'] / total:.1f}%), "
            f"graph {_bytes(size['graph'])}"
        )
        for c in size["largest_constants"]:
            lines.append(f"  {_bytes(c['bytes']):>10}  {c['type']}  {c['name']}")
    else:
        lines.append(f"  not measured: {size['why']}")
    return "\n".join(lines)


def _format_tflite(report: dict[str, Any]) -> str:
    lines = [f"TFLite model: {_bytes(report['bytes'])}, {len(report['subgraphs'])} subgraph(s)"]
    for sig in report["signatures"]:

        def spec(entries: list[dict[str, Any]]) -> str:
            return ", ".join(
                f"{e['name']}: {e['dtype']}[{','.join(str(d) for d in e['shape'] or [])}]"
                for e in entries
            )

        lines.append(
            f"  signature {sig['key']}: ({spec(sig['inputs'])}) -> ({spec(sig['outputs'])})"
        )
    lines += ["", "Ops:"]
    for op in report["ops"]:
        kind = {"flex": "  [Flex]", CUSTOM: "  [custom]"}.get(op["kind"], "")
        lines.append(f"  {op['op']:<32} v{op['version']:<3} x{op['count']}{kind}")
    rt = report["runtime"]
    lines += ["", "Runtime needs:"]
    lines.append(f"  min_runtime_version: {rt['min_runtime_version'] or '(not recorded)'}")
    if rt["flex_ops"]:
        lines.append("  the Flex delegate (Select TF ops) for: " + ", ".join(rt["flex_ops"]))
    if rt["custom_ops"]:
        lines.append("  registered kernels for custom ops: " + ", ".join(rt["custom_ops"]))
    if not rt["flex_ops"] and not rt["custom_ops"]:
        lines.append("  builtin ops only")
    q = report["quantization"]
    lines += ["", f"Quantization: {q['scheme']}"]
    lines.append("  tensor types: " + ", ".join(f"{k} x{v}" for k, v in q["tensor_types"].items()))
    qt = q["quantized_tensors"]
    lines.append(
        f"  quantized tensors: {qt['per_tensor']} per-tensor, {qt['per_channel']} per-channel"
    )
    lines += ["", "Metadata: " + (", ".join(m["name"] for m in report["metadata"]) or "(none)")]
    cm = report.get("conversion_metadata")
    if isinstance(cm, dict):
        opts = ", ".join(
            f"{k}={cm[k]}"
            for k in ("allow_custom_ops", "enable_select_tf_ops", "model_optimization_modes")
            if k in cm
        )
        lines.append(f"  CONVERSION_METADATA: {opts}")
    size = report["size"]
    lines += [
        "",
        f"Size: {_bytes(size['bytes'])}: weights {_bytes(size['weights'])}, "
        f"graph and metadata {_bytes(size['graph'])}",
    ]
    return "\n".join(lines)
