"""Graphs from FunctionDefs: re-tracing library functions with more static input shapes.

TF's own `function_def_to_graph` creates the argument placeholders inside the imported graph,
so shape inference of the body never sees a resource's handle data (variable shapes) and
`_output_shapes` arg attrs override the requested shapes; this variant creates the placeholders
first (with shapes and handle data) and imports the body onto them.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from tensorflow.python.framework import function_def_to_graph


def regenerate_graph(
    definition: Any,
    children: list[Any],
    shapes: list[Any] | None,
    handle_sources: list[Any] | None = None,
) -> Any:
    """A FuncGraph built from a FunctionDef with the given input shapes, so TF's shape
    inference runs with them. Like `function_def_to_graph`, except that the argument
    placeholders exist (with their shapes and the resource handle data of `handle_sources`,
    e.g. variable shapes) before the body is imported, so every op sees them."""
    from tensorflow.python.framework import func_graph as func_graph_module
    from tensorflow.python.ops import array_ops, handle_data_util

    graph_def, flat_names = function_def_to_graph.function_def_to_graph_def(definition)
    args = list(definition.signature.input_arg)
    if shapes is None:
        shapes = _declared_input_shapes(definition)
    arg_names = {a.name for a in args}
    body = [n for n in graph_def.node if n.name not in arg_names]
    used: set[str] = set()
    for node in body:
        # Colocation with nodes of the calling graph (`_class: loc:@...`): not ours to keep,
        # and the import refuses a node colocated with one it cannot see.
        if "_class" in node.attr:
            del node.attr["_class"]
        inputs = [i for i in node.input if not (i.startswith("^") and i[1:] in arg_names)]
        if len(inputs) != len(node.input):  # control edges from arguments: not needed
            del node.input[:]
            node.input.extend(inputs)
        used.update(i if ":" in i else i + ":0" for i in inputs)
    del graph_def.node[:]
    graph_def.node.extend(body)
    graph = func_graph_module.FuncGraph(definition.signature.name)
    with graph.as_default():
        for f in children:
            graph._add_function_recursive(f)
        placeholders = []
        for i, arg in enumerate(args):
            shape = shapes[i] if i < len(shapes) else None
            dtype = tf.dtypes.as_dtype(arg.type)
            ph = array_ops.placeholder(
                dtype, shape=None if dtype == tf.resource else shape, name=arg.name
            )
            if handle_sources is not None and i < len(handle_sources) and dtype in _HANDLES:
                handle_data_util.copy_handle_data(handle_sources[i], ph)
            placeholders.append(ph)
        input_map = {
            flat_names[a.name]: ph
            for a, ph in zip(args, placeholders)
            if flat_names[a.name] in used
        }
        tf.compat.v1.import_graph_def(graph_def, input_map=input_map, name="")
    graph.inputs = placeholders
    graph.outputs = [
        graph.get_tensor_by_name(flat_names[definition.ret[arg.name]])
        for arg in definition.signature.output_arg
    ]
    return graph


_HANDLES = (tf.resource, tf.variant)  # dtypes whose handle data carries shapes


def _declared_input_shapes(definition: Any) -> list[Any]:
    """Input shapes recorded in a FunctionDef (`_input_shapes` or per-arg `_output_shapes`)."""
    args = definition.signature.input_arg
    if "_input_shapes" in definition.attr:
        shapes = list(definition.attr["_input_shapes"].list.shape)
        if len(shapes) == len(args):
            return [tf.TensorShape(s) for s in shapes]
    result: list[Any] = []
    for i in range(len(args)):
        attrs = definition.arg_attr[i].attr if i in definition.arg_attr else {}
        declared = attrs["_output_shapes"].list.shape if "_output_shapes" in attrs else []
        result.append(tf.TensorShape(declared[0]) if declared else None)
    return result
