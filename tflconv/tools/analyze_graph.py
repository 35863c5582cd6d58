"""A light, read-only view of a .tflite model for `tflconv analyze`: per subgraph its tensors
(dtype, shape, bytes, constant or not) and operators in execution order, with the shapes
resolved for the input shapes the user asked for.

Shapes come from the LiteRT interpreter when it can load the model (it propagates resized
inputs through every op and, after one invoke on zeros, knows data-dependent shapes too);
otherwise from the file, where a dynamic dim (-1 in `shape_signature`) counts as 1. Either
way, dynamic input dims the user did not fix are set to 1 and reported, so the cost is "per
unit" of those dims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflconv.tflite.generated import tflite_schema as fb
from tflconv.tools.inspect import InspectError, _model

OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
ITEM_BYTES = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "int16": 2,
    "uint16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "complex64": 8,
    "complex128": 16,
    "int4": 1,
}


class GraphError(ValueError):
    """The .tflite cannot be read."""


@dataclass
class Tensor:
    index: int
    name: str
    dtype: str
    shape: list[int]
    signature: list[int]
    constant: bool
    variable: bool
    const_bytes: int = 0

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def bytes(self) -> int:
        if self.dtype == "int4":
            return (self.elements + 1) // 2
        return self.elements * ITEM_BYTES.get(self.dtype, 4)

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.signature)


@dataclass
class Op:
    index: int
    name: str  # builtin name (CONV_2D) or the custom code
    version: int
    inputs: list[int]  # -1: an omitted optional input
    outputs: list[int]
    options: Any
    custom: bool = False


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    variables: list[int] = field(default_factory=list)
    runtime_dynamic: set[int] = field(default_factory=set)
    """Tensors LiteRT could not size before invoke (kTfLiteDynamic: heap, not the arena)."""

    def loc(self, op: Op) -> str:
        """Where the op came from: its first output's name (TF node names, `;`-joined)."""
        for i in op.outputs:
            if i >= 0 and self.tensors[i].name:
                return self.tensors[i].name
        return f"operator #{op.index}"

    def tensor(self, index: int) -> Tensor | None:
        return self.tensors[index] if 0 <= index < len(self.tensors) else None


@dataclass
class Graph:
    subgraphs: list[Subgraph]
    data: bytes
    shapes_from: str  # "interpreter" or "file"
    assumed: list[dict[str, Any]]  # dynamic input dims set to 1 ("per unit")
    interpreter_error: str | None = None


def _names(model: fb.ModelT) -> list[tuple[str, int, bool]]:
    out = []
    for oc in model.operatorCodes or ():
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        if code == fb.BuiltinOperator.CUSTOM:
            custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else oc.customCode
            out.append((str(custom), int(oc.version), True))
        else:
            out.append((OP_NAMES.get(code, f"BUILTIN_{code}"), int(oc.version), False))
    return out


def read_graph(data: bytes, input_shapes: dict[str, list[int]] | None = None) -> Graph:
    """Read `data` (a .tflite) with its shapes resolved; `input_shapes` maps input names (or
    `#index`) of the first subgraph to shapes."""
    try:
        model = _model(bytes(data))
    except InspectError as e:
        raise GraphError(str(e)) from e
    codes = _names(model)
    buffers = model.buffers or []
    subgraphs = []
    for si, sg in enumerate(model.subgraphs or ()):
        tensors = []
        for ti, t in enumerate(sg.tensors or ()):
            shape = [int(d) for d in (t.shape if t.shape is not None else ())]
            sig = [int(d) for d in t.shapeSignature] if t.shapeSignature is not None else shape
            buf = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
            nbytes = 0
            if buf is not None:
                nbytes = len(buf.data) if buf.data is not None else int(buf.size or 0)
            name = t.name.decode() if isinstance(t.name, bytes) else (t.name or "")
            tensors.append(
                Tensor(
                    ti,
                    name,
                    TYPE_NAMES.get(int(t.type), str(t.type)),
                    [max(d, 1) for d in shape],
                    sig,
                    nbytes > 0,
                    bool(t.isVariable),
                    nbytes,
                )
            )
        ops = []
        for oi, op in enumerate(sg.operators or ()):
            name, version, custom = codes[op.opcodeIndex]
            ins = [int(i) for i in (op.inputs if op.inputs is not None else ())]
            outs = [int(i) for i in (op.outputs if op.outputs is not None else ())]
            ops.append(Op(oi, name, version, ins, outs, op.builtinOptions, custom))
        sgname = sg.name.decode() if isinstance(sg.name, bytes) else (sg.name or "")
        subgraphs.append(
            Subgraph(
                si,
                sgname,
                tensors,
                ops,
                [int(i) for i in (sg.inputs if sg.inputs is not None else ())],
                [int(i) for i in (sg.outputs if sg.outputs is not None else ())],
                [t.index for t in tensors if t.variable],
            )
        )
    graph = Graph(subgraphs, bytes(data), "file", [])
    if subgraphs:
        _resolve_shapes(graph, input_shapes or {})
    return graph


def _input_key(sg: Subgraph, pos: int) -> list[str]:
    t = sg.tensors[sg.inputs[pos]]
    return [t.name, f"#{pos}", t.name.split(":")[0]]


def _resolve_shapes(graph: Graph, input_shapes: dict[str, list[int]]) -> None:
    sg = graph.subgraphs[0]
    wanted: dict[int, list[int]] = {}
    used: set[str] = set()
    for pos, index in enumerate(sg.inputs):
        t = sg.tensors[index]
        key = next((k for k in _input_key(sg, pos) if k in input_shapes), None)
        if key is not None:
            used.add(key)
            wanted[index] = [int(d) for d in input_shapes[key]]
        elif t.dynamic:
            wanted[index] = [d if d >= 0 else 1 for d in t.signature]
            graph.assumed.append(
                {"input": t.name, "signature": t.signature, "assumed": wanted[index]}
            )
    unknown = set(input_shapes) - used
    if unknown:
        names = ", ".join(sg.tensors[i].name for i in sg.inputs)
        raise GraphError(
            f"--input-shapes names no input of the model: {sorted(unknown)}; inputs: {names}"
        )
    for index, shape in wanted.items():
        sg.tensors[index].shape = shape
    try:
        shapes, sg.runtime_dynamic = interpreter_shapes(graph.data, wanted)
    except Exception as e:  # noqa: BLE001 - Flex/custom ops: fall back to the file's shapes
        graph.interpreter_error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        return
    for t in sg.tensors:
        if t.index in shapes:
            t.shape = shapes[t.index]
    graph.shapes_from = "interpreter"


def interpreter_shapes(
    data: bytes, wanted: dict[int, list[int]]
) -> tuple[dict[int, list[int]], set[int]]:
    """Every tensor shape of subgraph 0 as LiteRT computes it for these input shapes (one
    invoke on zeros settles data-dependent shapes), and the tensors that had no buffer after
    allocate_tensors() (dynamic tensors, sized only at invoke)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # heavy: only here

    interp = Interpreter(
        model_content=data,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    for index, shape in wanted.items():
        interp.resize_tensor_input(index, shape, strict=False)
    interp.allocate_tensors()
    unsized = set()
    for d in interp.get_tensor_details():
        try:
            interp.tensor(d["index"])()
        except ValueError:  # "Tensor data is null"
            unsized.add(int(d["index"]))
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interp.invoke()
    shapes = {d["index"]: [int(x) for x in d["shape"]] for d in interp.get_tensor_details()}
    return shapes, unsized


def parse_input_shapes(text: str | None) -> dict[str, list[int]]:
    """`name:1,224,224,3;other:1,8` (or `#0:...` by position) -> {name: [dims]}."""
    out: dict[str, list[int]] = {}
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, dims = part.rpartition(":")
        if not sep or not name:
            raise GraphError(f"--input-shapes entry {part!r}: expected NAME:D0,D1,...")
        try:
            out[name] = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError as e:
            raise GraphError(f"--input-shapes entry {part!r}: dims must be integers") from e
    return out
