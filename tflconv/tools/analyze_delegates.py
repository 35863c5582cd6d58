"""Delegates for a .tflite model: which ops XNNPACK takes (measured in LiteRT) and a GPU
delegate verdict per op (from the GPU delegate's own rules).

XNNPACK: the interpreter is built with LiteRT's default delegate (XNNPACK) applied; a node the
delegate took no longer owns its output buffers (they are internal to the delegate kernel, or
outputs of a DELEGATE node), a node left to the builtin kernels does. That split is read from
the interpreter, not predicted.

GPU: the rules are those of the GPU delegate in google-ai-edge/LiteRT,
`tflite/delegates/gpu/common/model_builder.cc` (`NewOperationParser`: the op list and maximum
versions; `GetOpsToReplace`: the tensor types a node may have, rank <= 4) and
`tflite/tools/versioning/gpu_compatibility.cc` (per-op constraints). The official
`tf.lite.experimental.Analyzer` checks only the second part, so it misses int64/int32
activations and ops the delegate has no parser for. On top of that: the delegate plans for
static shapes, and it delegates only the largest partition by default
(`max_delegated_partitions = 1`), so every unsupported op in the middle of the graph costs a
GPU<->CPU round trip or leaves the rest on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tflconv.tools.analyze_graph import Graph, Op, Subgraph

GPU_OPS: dict[str, int | None] = {
    "ABS": None, "ADD": None, "ADD_N": None, "AVERAGE_POOL_2D": 2, "BATCH_MATMUL": None,
    "CAST": None, "CONCATENATION": 2, "CONV_2D": 6, "COS": None, "CUMSUM": 1, "DENSIFY": 1,
    "DEPTHWISE_CONV_2D": 6, "DEPTH_TO_SPACE": None, "DEQUANTIZE": 3, "DIV": 2, "EQUAL": 2,
    "ELU": 2, "EXP": 2, "FLOOR": 2, "FLOOR_DIV": 2, "FLOOR_MOD": 2, "FULLY_CONNECTED": 9,
    "GATHER": 1, "GELU": 2, "GREATER": 2, "GREATER_EQUAL": 2, "HARD_SWISH": None, "LESS": 2,
    "LESS_EQUAL": 2, "LOGISTIC": 2, "LOG": 2, "LOGICAL_AND": 2, "LSTM": 4, "MAXIMUM": 2,
    "MAX_POOL_2D": 2, "MEAN": None, "MINIMUM": 2, "MIRROR_PAD": 2, "MUL": 3, "NEG": 2,
    "NOT_EQUAL": 2, "ONE_HOT": 1, "PACK": None, "PAD": 2, "PADV2": 2, "POW": 2,
    "REDUCE_MAX": None, "REDUCE_MIN": None, "REDUCE_PROD": None, "QUANTIZE": 2, "RELU": 2,
    "RELU6": 2, "RELU_0_TO_1": 2, "RELU_N1_TO_1": 2, "LEAKY_RELU": 2, "PRELU": 1, "RESHAPE": 1,
    "RESIZE_BILINEAR": 3, "RESIZE_NEAREST_NEIGHBOR": 3, "RSQRT": 2, "SELECT": 1, "SELECT_V2": 1,
    "SIGN": 2, "SIN": 2, "SLICE": 2, "SOFTMAX": 2, "SPACE_TO_DEPTH": 2, "SPLIT": None,
    "SPLIT_V": None, "SQRT": 2, "SQUARE": 2, "SQUARED_DIFFERENCE": 2, "STRIDED_SLICE": 4,
    "SUB": 2, "SUM": None, "TANH": 2, "TILE": None, "TRANSPOSE": 4, "TRANSPOSE_CONV": 3,
    "UNPACK": None,
}  # fmt: skip
"""Builtins the GPU delegate has a parser for, with the highest op version it accepts (None:
no version check) — model_builder.cc `NewOperationParser`."""
GPU_CUSTOM = {"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D",
              "Resampler"}  # fmt: skip
GPU_TYPES = {"float32", "float16", "int8", "uint8"}
LOGICAL = {"EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL",
           "LOGICAL_AND"}  # fmt: skip
EXTRA_IN = {"CAST": {"bool", "int32"}, "ONE_HOT": {"int32"}, "SELECT": {"bool"},
            "SELECT_V2": {"bool"}, "LOGICAL_AND": {"bool"}, "GATHER": {"int32"}}  # fmt: skip
EXTRA_OUT = {"CAST": {"int32", "bool"}, "LOGICAL_AND": {"bool"}}
DATA_DEPENDENT = {"WHERE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "UNIQUE"}

ALTERNATIVES = {
    "ARG_MAX": "compute the argmax on the CPU after the model (or keep the max with "
    "REDUCE_MAX if the index is not needed); with output_type=tf.int32 it is at least not int64",
    "ARG_MIN": "compute the argmin on the CPU after the model",
    "CUMSUM": "express the cumulative sum as a matmul with a constant triangular matrix",
    "GATHER_ND": "use GATHER with 1-D int32 indices, or a one-hot matmul",
    "SQUEEZE": "use RESHAPE (tf.reshape) to drop the dims",
    "EXPAND_DIMS": "use RESHAPE (tf.reshape) to add the dims",
    "BROADCAST_TO": "let ADD/MUL broadcast, or TILE",
    "LOG_SOFTMAX": "use SOFTMAX followed by LOG",
    "SCATTER_ND": "move the scatter out of the model",
    "TOPK_V2": "do the top-k on the CPU after the model",
    "RANGE": "make the range a constant (static shapes)",
    "SHAPE": "use static shapes so the shape is a constant",
}
"""What to change for common ops the GPU delegate does not take."""


def _types(sg: Subgraph, indices: list[int], arena_only: bool = True) -> list[tuple[str, str]]:
    out = []
    for i in indices:
        t = sg.tensor(i)
        if t is not None and (not arena_only or not t.constant):
            out.append((t.name, t.dtype))
    return out


def gpu_op_verdict(sg: Subgraph, op: Op) -> list[dict[str, str]]:
    """The reasons the GPU delegate would not take `op` (empty: it would), each with what to
    change."""
    problems: list[dict[str, str]] = []

    def bad(kind: str, why: str, fix: str) -> None:
        problems.append({"kind": kind, "why": why, "fix": fix})

    name = op.name
    if op.custom:
        if name not in GPU_CUSTOM:
            bad(
                "unsupported_op",
                f"custom op {name} has no GPU kernel",
                "keep it out of the GPU graph (pre/post-processing) or register a GPU kernel",
            )
        return problems
    if name not in GPU_OPS:
        bad(
            "unsupported_op",
            f"{name} is not an op the GPU delegate implements",
            ALTERNATIVES.get(name, "replace it with supported ops or move it out of the model"),
        )
    limit = GPU_OPS.get(name)
    if limit is not None and op.version > limit:
        bad(
            "op_version",
            f"{name} version {op.version} > {limit}, the highest the GPU "
            "delegate parses (the version marks a feature it lacks: int16, a broadcast, ...)",
            "avoid the feature that raised the version (often int16 or 5-D tensors)",
        )
    allowed_in = GPU_TYPES | EXTRA_IN.get(name, set())
    allowed_out = GPU_TYPES | EXTRA_OUT.get(name, set()) | ({"bool"} if name in LOGICAL else set())
    for tname, dtype in _types(sg, op.inputs):
        if dtype not in allowed_in:
            bad(
                "dtype",
                f"input {tname or '?'} is {dtype}; GPU tensors are float32/float16 "
                "(int8/uint8 quantized)",
                _dtype_fix(dtype),
            )
            break
    for tname, dtype in _types(sg, op.outputs):
        if dtype not in allowed_out and not any(p["kind"] == "dtype" for p in problems):
            bad(
                "dtype",
                f"output {tname or '?'} is {dtype}; GPU tensors are float32/float16 "
                "(int8/uint8 quantized)",
                _dtype_fix(dtype),
            )
            break
    for i in op.inputs + op.outputs:
        t = sg.tensor(i)
        if t is not None and len(t.shape) >= 5:
            bad(
                "rank",
                f"tensor {t.name or i} has rank {len(t.shape)}; the GPU delegate takes rank <= 4",
                "reshape to at most 4 dims around this op",
            )
            break
    problems += _op_rules(sg, op)
    return problems


def _dtype_fix(dtype: str) -> str:
    if dtype == "int64":
        return (
            "produce int32 instead (tf.argmax(..., output_type=tf.int32), tf.cast to "
            "int32/float32), or move the integer part out of the model"
        )
    if dtype in ("int32", "bool"):
        return "keep integer/boolean index math out of the GPU graph, or compute it in float"
    return f"convert {dtype} tensors to float32 (or quantize to int8)"


def _op_rules(sg: Subgraph, op: Op) -> list[dict[str, str]]:
    """The per-op constraints of gpu_compatibility.cc that static shapes and options decide."""
    out: list[dict[str, str]] = []
    o = op.options
    ins = [sg.tensor(i) for i in op.inputs]
    runtime = [t for t in ins if t is not None and not t.constant]
    name = op.name
    if name == "SOFTMAX" and abs(float(getattr(o, "beta", 1.0)) - 1.0) > 1e-6:
        out.append(
            {
                "kind": "option",
                "why": "SOFTMAX with beta != 1",
                "fix": "scale the logits by beta with a MUL before SOFTMAX",
            }
        )
    if name == "CUMSUM":
        if bool(getattr(o, "exclusive", False)) or bool(getattr(o, "reverse", False)):
            out.append(
                {
                    "kind": "option",
                    "why": "CUMSUM with exclusive/reverse: the GPU kernel "
                    "computes only the inclusive forward sum (model_builder.cc reads the axis "
                    "alone)",
                    "fix": "use an inclusive forward cumsum (reverse the input "
                    "with a constant permutation, subtract the input for exclusive)",
                }
            )
        if len(ins) > 1 and ins[1] is not None and not ins[1].constant:
            out.append(
                {
                    "kind": "option",
                    "why": "CUMSUM with a runtime axis",
                    "fix": "make the axis a constant",
                }
            )
    if name == "ADD_N" and len(op.inputs) != 2:
        out.append(
            {
                "kind": "option",
                "why": f"ADD_N of {len(op.inputs)} inputs (GPU: 2)",
                "fix": "chain binary ADDs",
            }
        )
    if name == "FULLY_CONNECTED":
        res = sg.tensor(op.outputs[0]) if op.outputs else None
        x = ins[0] if ins else None
        keep = bool(getattr(o, "keepNumDims", False))
        if keep and x is not None and res is not None and len(x.shape) != len(res.shape):
            out.append(
                {
                    "kind": "option",
                    "why": "FULLY_CONNECTED with keep_num_dims and an output rank that differs "
                    "from the input's",
                    "fix": "flatten to 2-D before the layer and RESHAPE after it",
                }
            )
        if ins and ins[0] is not None and ins[0].constant:
            out.append(
                {
                    "kind": "option",
                    "why": "FULLY_CONNECTED with a constant input",
                    "fix": "fold it at conversion time",
                }
            )
        if len(runtime) > 2:
            out.append(
                {
                    "kind": "option",
                    "why": "FULLY_CONNECTED with runtime weights and bias",
                    "fix": "use BATCH_MATMUL for activation x activation products",
                }
            )
    indices = ins[1] if name == "GATHER" and len(ins) > 1 else None
    if indices is not None and (len(indices.shape) != 1 or indices.dtype != "int32"):
        out.append(
            {
                "kind": "option",
                "why": "GATHER indices must be 1-D int32",
                "fix": "flatten the indices to 1-D int32",
            }
        )
    if name == "STRIDED_SLICE":
        for mask in ("ellipsisMask", "newAxisMask", "shrinkAxisMask"):
            if int(getattr(o, mask, 0) or 0):
                out.append(
                    {
                        "kind": "option",
                        "why": f"STRIDED_SLICE with {mask}",
                        "fix": "slice without that mask and RESHAPE the result",
                    }
                )
        if ins and ins[0] is not None and len(ins[0].shape) not in (3, 4):
            out.append(
                {
                    "kind": "rank",
                    "why": "STRIDED_SLICE of a tensor that is not 3-D/4-D",
                    "fix": "reshape to 4-D before slicing",
                }
            )
    if name in ("ADD", "MUL") and len(op.inputs) != 2:
        out.append(
            {"kind": "option", "why": f"{name} needs two inputs", "fix": "split into binary ops"}
        )
    if name in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD") and len(ins) > 1:
        axes = ins[1]
        if axes is not None and not axes.constant:
            out.append(
                {
                    "kind": "option",
                    "why": f"{name} with runtime axes",
                    "fix": "make the axes a constant",
                }
            )
    return out


def _dynamic(sg: Subgraph, op: Op) -> dict[str, str] | None:
    """An op whose output shape depends on tensor values (data-dependent), not on the input
    shapes: the GPU delegate cannot plan it."""
    outs = [sg.tensor(i) for i in op.outputs]
    if not any(t is not None and t.dynamic for t in outs):
        return None
    ins = [sg.tensor(i) for i in op.inputs]
    if op.name in DATA_DEPENDENT or not any(t is not None and t.dynamic for t in ins):
        return {
            "kind": "dynamic_shape",
            "why": "its output shape depends on tensor values (dynamic tensor)",
            "fix": "give the model static shapes (fixed input shapes, constant sizes)",
        }
    return None


def partition(sg: Subgraph, supported: list[bool]) -> list[tuple[list[int], bool]]:
    """Split the ops into alternating subsets of supported / unsupported ops that can run one
    after the other, each as large as the data dependencies allow (LiteRT's
    `PartitionGraphIntoIndependentNodeSubsets`, graph_info.cc): an op joins the open subset
    when every tensor it reads is ready (a graph input, a constant, or produced by a closed
    subset or the open one); the other kind waits for the next subset."""
    producer = {t: op.index for op in sg.ops for t in op.outputs if t >= 0}
    done: set[int] = set()
    subsets: list[tuple[list[int], bool]] = []
    kind = bool(supported[0]) if supported else True
    stuck = 0
    while len(done) < len(sg.ops):
        subset: list[int] = []
        changed = True
        while changed:
            changed = False
            for op in sg.ops:
                if op.index in done or supported[op.index] != kind:
                    continue
                if all(i < 0 or producer.get(i, -1) in done or i not in producer
                       for i in op.inputs):  # fmt: skip
                    done.add(op.index)
                    subset.append(op.index)
                    changed = True
        if subset:
            subsets.append((sorted(subset), kind))
            stuck = 0
        else:
            stuck += 1
            if stuck > 1:  # an op reads a tensor produced later (not a DAG in this order)
                break
        kind = not kind
    return subsets


def gpu(graph: Graph) -> dict[str, Any]:
    """Per-op GPU verdicts for the main subgraph, the partitions they make and the ops the
    delegate would take with its default max_delegated_partitions = 1."""
    if not graph.subgraphs:
        return {"ops": 0, "supported": 0, "incompatible": []}
    sg = graph.subgraphs[0]
    verdicts = []
    for op in sg.ops:
        problems = gpu_op_verdict(sg, op)
        if (d := _dynamic(sg, op)) is not None:
            problems.append(d)
        verdicts.append(problems)
    supported = [not problems for problems in verdicts]
    partitions = [p for p, kind in partition(sg, supported) if kind]
    largest = max(partitions, key=len) if partitions else []
    dynamic_inputs = [sg.tensors[i].name for i in sg.inputs if sg.tensors[i].dynamic]
    incompatible = [
        {
            "index": op.index,
            "op": op.name,
            "version": op.version,
            "location": sg.loc(op),
            "problems": problems,
        }  # fmt: skip
        for op, problems in zip(sg.ops, verdicts, strict=True)
        if problems
    ]
    return {
        "ops": len(sg.ops),
        "supported": len(sg.ops) - len(incompatible),
        "partitions": len(partitions),
        "delegated_by_default": len(largest),
        "compatible": not incompatible and len(graph.subgraphs) == 1,
        "dynamic_inputs": dynamic_inputs,
        "control_flow": len(graph.subgraphs) > 1,
        "incompatible": incompatible,
    }


def xnnpack(graph: Graph, threads: int = 1) -> dict[str, Any]:
    """Which ops LiteRT's default XNNPACK delegate took, read from the interpreter."""
    try:
        return _xnnpack(graph, threads)
    except Exception as e:  # noqa: BLE001 - Flex/custom ops: nothing to measure
        return {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"}


def _xnnpack(graph: Graph, threads: int) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # heavy: only here

    sg = graph.subgraphs[0]
    interp = Interpreter(
        model_content=graph.data,
        num_threads=threads,
        experimental_op_resolver_type=OpResolverType.AUTO,
    )
    for i in sg.inputs:
        interp.resize_tensor_input(i, sg.tensors[i].shape, strict=False)
    interp.allocate_tensors()
    # one run gives dynamic tensors (WHILE outputs, data-dependent shapes) their buffers, so
    # that a tensor without data is one a delegate kernel owns
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()
    details = interp._get_ops_details()
    delegate_outputs = {int(t) for d in details if d["op_name"] == "DELEGATE" for t in d["outputs"]}
    partitions = sum(1 for d in details if d["op_name"] == "DELEGATE")

    def owns(t: int) -> bool:
        try:
            interp.tensor(t)()
            return True
        except ValueError:
            return False

    taken, left = [], []
    for d in details[: len(sg.ops)]:
        outs = [int(t) for t in d["outputs"] if int(t) >= 0]
        delegated = partitions > 0 and all(t in delegate_outputs or not owns(t) for t in outs)
        (taken if delegated else left).append(d["index"])
    by_type: dict[str, dict[str, int]] = {}
    for op in sg.ops:
        row = by_type.setdefault(op.name, {"xnnpack": 0, "builtin": 0})
        row["xnnpack" if op.index in taken else "builtin"] += 1
    return {
        "ops": len(sg.ops),
        "delegated": len(taken),
        "partitions": partitions,
        "by_op_type": by_type,
        "not_delegated": [
            {
                "index": i,
                "op": sg.ops[i].name,
                "location": sg.loc(sg.ops[i]),
                "dtypes": sorted(
                    {t.dtype for t in (sg.tensor(j) for j in sg.ops[i].inputs) if t is not None}
                ),
            }  # fmt: skip
            for i in left
        ],
    }


def delegates(graph: Graph) -> dict[str, Any]:
    return {"xnnpack": xnnpack(graph), "gpu": gpu(graph)}


def format_delegates(d: dict[str, Any]) -> list[str]:
    lines = ["Delegates:"]
    x = d["xnnpack"]
    if "error" in x:
        lines.append(f"  XNNPACK: not measured ({x['error']})")
    else:
        lines.append(
            f"  XNNPACK (measured in LiteRT): {x['delegated']} of {x['ops']} ops in "
            f"{x['partitions']} partition(s)"
        )
        for r in x["not_delegated"][:10]:
            lines.append(
                f"    builtin kernel: #{r['index']} {r['op']} ({', '.join(r['dtypes'])}) "
                f"at {r['location'][:60]}"
            )
        if len(x["not_delegated"]) > 10:
            lines.append(f"    ... and {len(x['not_delegated']) - 10} more")
    g = d["gpu"]
    verdict = "compatible" if g.get("compatible") else "NOT fully compatible"
    lines.append(
        f"  GPU delegate: {verdict}: {g['supported']} of {g['ops']} ops supported, "
        f"{g.get('partitions', 0)} partition(s); with the default max_delegated_partitions=1 "
        f"{g.get('delegated_by_default', 0)} ops run on the GPU"
    )
    if g.get("dynamic_inputs"):
        lines.append(
            "    dynamic input dims (" + ", ".join(g["dynamic_inputs"]) + "): the GPU delegate "
            "plans one shape; resize the inputs before applying it"
        )
    if g.get("control_flow"):
        lines.append("    control flow subgraphs (WHILE/IF) are not delegated to the GPU")
    for r in g["incompatible"][:20]:
        lines.append(f"    #{r['index']} {r['op']} v{r['version']} at {r['location'][:70]}:")
        for p in r["problems"]:
            lines.append(f"      - {p['why']}; change: {p['fix']}")
    if len(g["incompatible"]) > 20:
        lines.append(f"    ... and {len(g['incompatible']) - 20} more ops")
    return lines
