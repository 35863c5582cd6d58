"""Model sources -> entry concrete functions -> IR.

Every source kind ends up as a list of `Entry` (signature key + `ConcreteFunction` + SignatureDef
names), imported by `graph.GraphImporter`:

- SavedModel: `tf.saved_model.load(...).signatures[key]`.
- Keras model / .keras / .h5 (Keras 3 or tf-keras): traced in `keras_models`, one
  `serving_default`.
- tf.functions / concrete functions: as given.
- Frozen GraphDef: imported into a wrapped function and pruned to the inputs/outputs.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tflconv.core.ir import Function, Module

from ..base import FrontendError, ImportedModel, InputShapes, check_path
from . import attrs as cv
from .bindings import V1_CONTROL_FLOW, GraphSource, LazyConstant, Resource
from .errors import trace_failure
from .graph import GraphImporter
from .keras_models import is_keras_model, load_keras_file, trace_keras_model
from .library import regenerate_graph

SERVING_DEFAULT = "serving_default"
# GraphDef nodes that can be inputs (a PlaceholderWithDefault when named in input_arrays).
INPUT_OPS = ("Placeholder", "PlaceholderWithDefault")


@dataclass
class Entry:
    """One signature: a concrete function and its SignatureDef names."""

    key: str
    cf: Any
    arg_names: list[str]  # per signature argument, in the concrete function's input order
    output_names: list[str]  # per `cf.outputs` entry
    sort_names: bool  # SignatureDef order (sorted by name) instead of positional order
    positional_inputs: bool = False  # inputs in call order even when sort_names (Keras models)
    flat_call: bool = False  # run with flat positional tensors (pruned GraphDef functions)
    shapes_fixed: bool = False  # input_shapes were already applied (GraphDef)

    @property
    def num_args(self) -> int:
        return len(self.arg_names)


def load(
    source: Any,
    *,
    signature_keys: Sequence[str] | None,
    tags: Sequence[str] | None,
    input_shapes: InputShapes,
    input_arrays: Sequence[str] | None,
    output_arrays: Sequence[str] | None,
) -> ImportedModel:
    if isinstance(source, (str, os.PathLike)):
        path = check_path(source)
        if os.path.isdir(path):
            return _saved_model(path, signature_keys, tags, input_shapes)
        if os.path.basename(path) in ("saved_model.pb", "saved_model.pbtxt"):
            return _saved_model(os.path.dirname(path) or ".", signature_keys, tags, input_shapes)
        kind = _file_kind(path)
        if kind == "keras":
            return _keras_model(load_keras_file(path), input_shapes, path)
        if kind == "h5":
            return _keras_model(load_keras_file(path, legacy=True), input_shapes, path)
        return _graph_def(path, input_arrays, output_arrays, input_shapes)
    if isinstance(source, (list, tuple)):
        return _concrete_functions(list(source), input_shapes)
    if is_keras_model(source):  # before _is_function: tf-keras models are tf.Modules too
        return _keras_model(source, input_shapes, None)
    if _is_function(source):
        return _concrete_functions([source], input_shapes)
    raise FrontendError(
        f"cannot import a {type(source).__name__}: pass a SavedModel directory, a keras.Model "
        "(Keras 3 or tf-keras), "
        "a .keras/.h5/.pb path, or a list of tf.functions / concrete functions"
    )


# --- building the module ---------------------------------------------------------------------


def _build(
    entries: list[Entry],
    model_type: str,
    input_shapes: InputShapes,
    keepalive: Any,
    debug_info: cv.SavedDebugInfo | None = None,
) -> ImportedModel:
    module = Module()
    importer = GraphImporter(
        module,
        use_tracebacks=model_type in ("keras", "concrete_functions"),
        debug_info=debug_info,
    )
    overrides = _shape_overrides(input_shapes, entries)
    runners = {}
    jobs = []
    for entry, override in zip(entries, overrides):
        cf = entry.cf
        n = entry.num_args
        in_order = list(range(n))
        out_order = list(range(len(entry.output_names)))
        if entry.sort_names and not entry.positional_inputs:
            in_order.sort(key=lambda i: entry.arg_names[i])
        if entry.sort_names:
            out_order.sort(key=lambda i: entry.output_names[i])
        arg_types, changed = _arg_types(entry, override)
        fn = Function(
            importer.reserve_name(entry.key),
            [arg_types[i] for i in in_order],
            [entry.arg_names[i] for i in in_order],
            {
                "entry": True,
                "signature_key": entry.key,
                "input_names": [entry.arg_names[i] for i in in_order],
                "output_names": [entry.output_names[i] for i in out_order],
            },
        )
        module.add_function(fn)
        source = GraphSource(cf.graph, cf.graph.name)
        if changed and not entry.shapes_fixed:
            source = _specialized_entry(cf, arg_types)
        jobs.append((fn, entry, source, in_order, out_order))
        runners[entry.key] = _runner(entry, in_order, out_order)
    for fn, entry, source, in_order, out_order in jobs:
        graph = source.graph
        bindings: list[Any] = [None] * len(graph.inputs)
        for arg, i in zip(fn.args, in_order):
            bindings[i] = arg
        captured = list(entry.cf.captured_inputs)
        if len(graph.inputs) != entry.num_args + len(captured):
            raise FrontendError(
                f"signature {entry.key!r}: {len(graph.inputs)} graph inputs but "
                f"{entry.num_args} arguments and {len(captured)} captures"
            )
        for j, value in enumerate(captured):
            placeholder = graph.inputs[entry.num_args + j]
            bindings[entry.num_args + j] = _capture_binding(value, placeholder)
        outputs = [graph.outputs[i] for i in out_order]
        importer.import_entry(fn, source, bindings, outputs)
    importer.finish()
    return ImportedModel(module, model_type, runners, keepalive)


def _arg_types(entry: Entry, override: dict[int, Any]) -> tuple[list[Any], bool]:
    types = []
    changed = False
    for i in range(entry.num_args):
        placeholder = entry.cf.inputs[i]
        where = f"input {entry.arg_names[i]!r} of signature {entry.key!r}"
        shape = placeholder.shape
        if i in override:
            new = tf.TensorShape(override[i])
            if not shape.is_compatible_with(new):
                raise FrontendError(
                    f"input_shapes[{entry.arg_names[i]!r}] = {cv.shape_list(new)} does not fit "
                    f"{where}, which has shape {cv.shape_list(shape)}"
                )
            merged = shape.merge_with(new)
            changed = changed or merged != shape or merged.rank != shape.rank
            shape = merged
        dtype = cv.dtype_name(placeholder.dtype.as_datatype_enum, where)
        # Unknown rank: LiteRT takes the shape at resize_tensor_input, as the official's []
        types.append(cv.TensorType(None if shape.rank is None else tuple(shape.as_list()), dtype))
    return types, changed


def _specialized_entry(cf: Any, arg_types: list[Any]) -> GraphSource:
    """The entry graph re-traced from its FunctionDef with the fixed input shapes; source
    lines still come from the traced ops (matched by node name)."""
    shapes = [tf.TensorShape(t.shape) for t in arg_types]
    for t in cf.inputs[len(arg_types) :]:
        shapes.append(None if t.dtype == tf.resource else t.shape)
    try:
        graph = regenerate_graph(
            cf.function_def, list(cf.graph._functions.values()), shapes, list(cf.graph.inputs)
        )
    except Exception as e:  # noqa: BLE001
        raise FrontendError(
            f"cannot specialize {cv.as_str(cf.name)} to input_shapes: {_first_line(e)}"
        ) from None
    original = {op.name: op for op in cf.graph.get_operations()}
    return GraphSource(graph, cf.graph.name, original)


def _capture_binding(value: Any, placeholder: Any) -> Any:
    name = placeholder.op.name
    if isinstance(value, tf.Variable):
        value = value.handle
    if value.dtype == tf.resource:
        return Resource(value, name)
    if not hasattr(value, "numpy"):
        raise FrontendError(f"capture {name!r} is a symbolic tensor; cannot import it")
    where = f"captured tensor {name!r}"
    return LazyConstant(
        np.asarray(value.numpy()), name, cv.dtype_name(value.dtype.as_datatype_enum, where)
    )


def _runner(entry: Entry, in_order: list[int], out_order: list[int]) -> Any:
    cf = entry.cf

    def run(arrays: list[Any]) -> list[np.ndarray]:
        flat: list[Any] = [None] * entry.num_args
        for array, i in zip(arrays, in_order):
            flat[i] = tf.convert_to_tensor(np.asarray(array), dtype=cf.inputs[i].dtype)
        if entry.flat_call or cf.structured_input_signature is None:
            result = cf(*flat)
        else:
            args, kwargs = tf.nest.pack_sequence_as(
                cf.structured_input_signature, flat, expand_composites=True
            )
            result = cf(*args, **kwargs)
        leaves = [x for x in tf.nest.flatten(result, expand_composites=True) if x is not None]
        return [np.asarray(leaves[j].numpy()) for j in out_order]

    return run


def _shape_overrides(input_shapes: InputShapes, entries: list[Entry]) -> list[dict[int, Any]]:
    """Per entry: signature-argument index -> the shape the user fixed."""
    if input_shapes is None:
        return [{} for _ in entries]
    if isinstance(input_shapes, Mapping):
        known = {name for e in entries for name in e.arg_names}
        unknown = sorted(set(input_shapes) - known)
        if unknown:
            raise FrontendError(
                f"input_shapes names unknown inputs {unknown}; the model's inputs are "
                f"{sorted(known)}"
            )
        return [
            {i: input_shapes[name] for i, name in enumerate(e.arg_names) if name in input_shapes}
            for e in entries
        ]
    shapes = list(input_shapes)
    if shapes and all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        shapes = [shapes]  # one shape for a one-input model
    result = []
    for e in entries:
        order = list(range(e.num_args))
        if e.sort_names and not e.positional_inputs:
            order.sort(key=lambda i: e.arg_names[i])
        if len(shapes) != e.num_args:
            names = [e.arg_names[i] for i in order]
            raise FrontendError(
                f"input_shapes has {len(shapes)} shapes but signature {e.key!r} has "
                f"{e.num_args} inputs {names}; pass a dict by input name instead"
            )
        result.append({i: shapes[k] for k, i in enumerate(order)})
    return result


# --- names -----------------------------------------------------------------------------------


def _arg_names(cf: Any) -> list[str]:
    n = len(cf.inputs) - len(cf.captured_inputs)
    keywords = [str(k) for k in (getattr(cf, "_arg_keywords", None) or [])]
    if len(keywords) == n:
        return keywords
    return [t.op.name for t in cf.inputs[:n]]


def _output_names(cf: Any) -> list[str]:
    """SignatureDef output names (TF's `_normalize_outputs`): dict keys, namedtuple fields,
    `output_<i>` for sequences and single tensors; in `cf.outputs` order."""
    structured = cf.structured_outputs
    if isinstance(structured, Mapping):
        top = [(str(k), structured[k]) for k in sorted(structured)]
    elif hasattr(structured, "_asdict"):
        top = list(structured._asdict().items())
    elif isinstance(structured, (list, tuple)):
        top = [(f"output_{i}", v) for i, v in enumerate(structured)]
    else:
        top = [("output_0", structured)]
    names = []
    for name, value in top:
        leaves = [x for x in tf.nest.flatten(value, expand_composites=True) if x is not None]
        names.extend([name] if len(leaves) == 1 else [f"{name}_{j}" for j in range(len(leaves))])
    if len(names) != len(cf.outputs):
        names = [f"output_{i}" for i in range(len(cf.outputs))]
    return names


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# --- SavedModel ------------------------------------------------------------------------------


def _saved_model(
    path: str,
    signature_keys: Sequence[str] | None,
    tags: Sequence[str] | None,
    input_shapes: InputShapes,
) -> ImportedModel:
    pb = os.path.join(path, "saved_model.pb")
    if not os.path.exists(pb) and not os.path.exists(pb + "txt"):
        raise FrontendError(f"directory {path!r} is not a SavedModel: it has no saved_model.pb")
    if tags is not None:
        _check_tags(path, set(tags))
    try:
        loaded = tf.saved_model.load(path, tags=list(tags) if tags is not None else None)
    except Exception as e:  # noqa: BLE001 - TF raises many error types for bad files
        raise FrontendError(f"cannot load SavedModel {path!r}: {_first_line(e)}") from None
    signatures = loaded.signatures
    available = sorted(signatures.keys(), key=lambda k: (k != SERVING_DEFAULT, k))
    if not available:
        raise FrontendError(
            f"SavedModel {path!r} has no signatures; save it with "
            "tf.saved_model.save(obj, path, signatures=...) or pass concrete functions"
        )
    keys = list(signature_keys) if signature_keys else available
    if not signature_keys and _is_keras_export(loaded, keys):
        # Keras `model.export` saves its `serve` endpoint twice (also as serving_default);
        # like the official converter, convert it once, as serving_default.
        keys = [SERVING_DEFAULT]
    missing = [k for k in keys if k not in signatures]
    if missing:
        raise FrontendError(
            f"SavedModel {path!r} has no signature {missing[0]!r}; valid signature keys: "
            f"{', '.join(available)}"
        )
    entries = []
    for key in keys:
        cf = signatures[key]
        entries.append(Entry(key, cf, _arg_names(cf), _output_names(cf), sort_names=True))
    debug_path = os.path.join(path, "debug", "saved_model_debug_info.pb")
    debug_info = None
    if os.path.exists(debug_path):
        try:
            debug_info = cv.SavedDebugInfo(debug_path, cv.SourceLocator())
        except Exception:  # noqa: BLE001 - debug info is optional; a bad file only loses lines
            debug_info = None
    return _build(entries, "saved_model", input_shapes, loaded, debug_info)


def _is_keras_export(loaded: Any, keys: list[str]) -> bool:
    """A `model.export` artifact: a `serve` endpoint, no `_default_save_signature` (which
    `model.save` / `tf.saved_model.save` objects have), several signatures."""
    return (
        len(keys) > 1
        and SERVING_DEFAULT in keys
        and hasattr(loaded, "serve")
        and not hasattr(loaded, "_default_save_signature")
    )


def _check_tags(path: str, tags: set[str]) -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    pb = os.path.join(path, "saved_model.pb")
    if not os.path.exists(pb):
        return
    try:
        with open(pb, "rb") as f:
            proto = saved_model_pb2.SavedModel.FromString(f.read())
    except Exception as e:  # noqa: BLE001
        raise FrontendError(f"cannot read {pb!r} (corrupt SavedModel?): {_first_line(e)}") from None
    tag_sets = [sorted(m.meta_info_def.tags) for m in proto.meta_graphs]
    if not any(set(t) == tags for t in tag_sets):
        raise FrontendError(
            f"SavedModel {path!r} has no MetaGraph with tags {sorted(tags)}; available tag "
            f"sets: {tag_sets}; pass one of them as tags="
        )


# --- Keras -------------------------------------------------------------------------------------


def _file_kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".keras"):
        return "keras"
    if lower.endswith((".h5", ".hdf5")):
        return "h5"
    if lower.endswith((".pb", ".pbtxt", ".graphdef")):
        return "graph_def"
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if zipfile.is_zipfile(path):
        return "keras"
    return "graph_def"


def _keras_model(model: Any, input_shapes: InputShapes, path: str | None) -> ImportedModel:
    cf = trace_keras_model(model, path)
    # Inputs in `model.inputs` order, as the official converter's subgraph (and the order
    # representative datasets give them in); outputs by SignatureDef name.
    entry = Entry(
        SERVING_DEFAULT,
        cf,
        _arg_names(cf),
        _output_names(cf),
        sort_names=True,
        positional_inputs=True,
    )
    return _build([entry], "keras", input_shapes, (model, cf))


# --- concrete functions ------------------------------------------------------------------------


def _is_function(obj: Any) -> bool:
    return hasattr(obj, "get_concrete_function") or hasattr(obj, "structured_input_signature")


def _concrete_functions(funcs: list[Any], input_shapes: InputShapes) -> ImportedModel:
    if not funcs:
        raise FrontendError("the list of functions to import is empty")
    cfs = []
    for i, f in enumerate(funcs):
        if hasattr(f, "structured_input_signature") and hasattr(f, "graph"):
            cfs.append(f)
        elif hasattr(f, "get_concrete_function"):
            if getattr(f, "input_signature", None) is None:
                name = getattr(f, "__name__", f"#{i}")
                raise FrontendError(
                    f"tf.function {name!r} has no input_signature; pass "
                    "f.get_concrete_function(tf.TensorSpec(shape, dtype), ...) instead"
                )
            try:
                with cv.short_tracebacks():
                    cfs.append(f.get_concrete_function())
            except Exception as e:  # noqa: BLE001 - tracing runs arbitrary user code
                name = getattr(f, "__name__", f"#{i}")
                raise FrontendError(f"cannot trace tf.function {name!r}: {trace_failure(e)}") from e
        else:
            raise FrontendError(
                f"functions[{i}] is a {type(f).__name__}, not a tf.function or concrete function"
            )
    keys = [SERVING_DEFAULT] if len(cfs) == 1 else _function_keys(cfs)
    entries = [
        Entry(key, cf, _arg_names(cf), _output_names(cf), sort_names=False)
        for key, cf in zip(keys, cfs)
    ]
    return _build(entries, "concrete_functions", input_shapes, funcs)


def _function_keys(cfs: list[Any]) -> list[str]:
    keys: list[str] = []
    for cf in cfs:
        name = cv.function_base_name(cv.as_str(cf.name))
        key, i = name, 1
        while key in keys:
            key = f"{name}_{i}"
            i += 1
        keys.append(key)
    return keys


# --- frozen GraphDef -------------------------------------------------------------------------


def _graph_def(
    path: str,
    input_arrays: Sequence[str] | None,
    output_arrays: Sequence[str] | None,
    input_shapes: InputShapes,
) -> ImportedModel:
    from google.protobuf import text_format
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    try:
        with open(path, "rb") as f:
            data = f.read()
        if path.lower().endswith(".pbtxt"):
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
        del data  # the file's bytes: not kept through the import (a large model's weights)
    except Exception as e:  # noqa: BLE001
        raise FrontendError(
            f"cannot read {path!r} as a frozen GraphDef (corrupt file?): {_first_line(e)}"
        ) from None
    if not graph_def.node:
        raise FrontendError(f"{path!r} is not a frozen GraphDef (it has no nodes)")
    _check_v1_control_flow(graph_def, path)
    placeholders = [n.name for n in graph_def.node if n.op in INPUT_OPS]
    if not input_arrays or not output_arrays:
        raise FrontendError(
            f"frozen GraphDef {path!r} needs input_arrays=[...] and output_arrays=[...] "
            f"(its placeholders: {placeholders})"
        )
    in_names = [_node_name(a) for a in input_arrays]
    out_names = [_node_name(a) for a in output_arrays]
    # Signature names: the tensor names without ":0", as the official converter names the
    # tensors ("split", "split:1", ...), so several outputs of one op get distinct names.
    in_keys = [_array_name(a) for a in input_arrays]
    out_keys = [_array_name(a) for a in output_arrays]
    for what, keys in (("input_arrays", in_keys), ("output_arrays", out_keys)):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise FrontendError(f"{what} names the tensor(s) {twice} more than once")
    nodes = {n.name: n for n in graph_def.node}
    for name in in_names + out_names:
        if name not in nodes:
            raise FrontendError(
                f"frozen GraphDef {path!r} has no node {name!r} (its placeholders: {placeholders})"
            )
    for name in in_names:
        _placeholder_with_default_as_input(nodes[name])
    _apply_graph_def_shapes(graph_def, nodes, in_names, input_shapes)

    proto = [graph_def]  # emptied once TF has the graph (the wrapped function keeps this one)

    def import_graph() -> None:
        tf.compat.v1.import_graph_def(proto[0], name="")

    try:
        wrapped = tf.compat.v1.wrap_function(import_graph, [])
        pruned = wrapped.prune(
            [wrapped.graph.get_tensor_by_name(_tensor_name(a)) for a in input_arrays],
            [wrapped.graph.get_tensor_by_name(_tensor_name(a)) for a in output_arrays],
        )
    except Exception as e:  # noqa: BLE001
        raise FrontendError(f"cannot import GraphDef {path!r}: {_first_line(e)}") from None
    # TF's graph holds the constants now: release the proto's copy before the import reads
    # them (the walk views each Const's tensor_content once).
    proto.clear()
    del nodes, graph_def
    entry = Entry(
        SERVING_DEFAULT,
        pruned,
        in_keys,
        out_keys,
        sort_names=False,
        flat_call=True,
        shapes_fixed=True,
    )
    return _build([entry], "graph_def", None, (wrapped, pruned))


def _placeholder_with_default_as_input(node: Any) -> None:
    """A PlaceholderWithDefault named in input_arrays is an input, like in the official
    converter: a Placeholder of its dtype and shape (its default value is no longer read, and
    input_shapes may refine the shape). Unnamed ones keep folding into their default."""
    if node.op != "PlaceholderWithDefault":
        return
    node.op = "Placeholder"
    del node.input[:]


def _node_name(tensor: str) -> str:
    name = tensor.split(":")[0]
    return name[1:] if name.startswith("^") else name


def _array_name(tensor: str) -> str:
    """`x:0` -> `x`, `split:1` -> `split:1`: TF's tensor name with output 0 implicit."""
    name = tensor[1:] if tensor.startswith("^") else tensor
    return name[: -len(":0")] if name.endswith(":0") else name


def _tensor_name(tensor: str) -> str:
    return tensor if ":" in tensor else tensor + ":0"


def _check_v1_control_flow(graph_def: Any, path: str) -> None:
    nodes = list(graph_def.node)
    for fdef in graph_def.library.function:
        nodes.extend(fdef.node_def)
    for node in nodes:
        if node.op in V1_CONTROL_FLOW:
            raise FrontendError(
                f"GraphDef {path!r} uses TF1 control flow ({node.op} node {node.name!r}), "
                "which is not supported; freeze the model with TF2 control flow "
                "(convert_variables_to_constants_v2(..., lower_control_flow=False)) or pass "
                "the SavedModel"
            )


def _apply_graph_def_shapes(
    graph_def: Any, nodes: dict[str, Any], in_names: list[str], input_shapes: InputShapes
) -> None:
    if input_shapes is None:
        return
    if isinstance(input_shapes, Mapping):
        overrides = {_node_name(k): v for k, v in input_shapes.items()}
        unknown = sorted(set(overrides) - set(in_names))
        if unknown:
            raise FrontendError(f"input_shapes names {unknown}, which are not in input_arrays")
    else:
        shapes = list(input_shapes)
        if shapes and all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
            shapes = [shapes]
        if len(shapes) != len(in_names):
            raise FrontendError(
                f"input_shapes has {len(shapes)} shapes for {len(in_names)} input_arrays"
            )
        overrides = dict(zip(in_names, shapes))
    for name, shape in overrides.items():
        node = nodes[name]
        if node.op not in INPUT_OPS:
            continue
        new = tf.TensorShape(shape)
        old = tf.TensorShape(node.attr["shape"].shape) if "shape" in node.attr else None
        if old is not None and not old.is_compatible_with(new):
            raise FrontendError(
                f"input_shapes[{name!r}] = {cv.shape_list(new)} does not fit placeholder "
                f"{name!r} of shape {cv.shape_list(old)}"
            )
        merged = new if old is None else old.merge_with(new)
        node.attr["shape"].shape.CopyFrom(merged.as_proto())
