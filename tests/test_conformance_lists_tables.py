"""Conformance: TensorListResize / TensorListConcatV2 and TF hash tables, converted by tflconv,
run in LiteRT and compared with TensorFlow (several element shapes and dtypes, both table
directions, SavedModel and concrete-function routes)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tensorflow.python.ops import gen_list_ops, gen_lookup_ops, list_ops  # noqa: E402

from tests.e2e_util import op_histogram, run_litert  # noqa: E402
from tflconv.api.converter import ConverterError, convert  # noqa: E402

RNG = np.random.default_rng(7)

DTYPES = [tf.float32, tf.int32, tf.int64]
# (element shape with None = dynamic, the shapes fed for it)
ELEMENTS = [
    ((None, 3), [(2, 3), (4, 3)]),
    ((4,), [(4,)]),
    ((2, 3, 2), [(2, 3, 2)]),
]


def _data(shape: tuple[int, ...], dtype) -> np.ndarray:
    if dtype.is_floating:
        return RNG.standard_normal(shape).astype(dtype.as_numpy_dtype)
    return RNG.integers(-50, 50, shape).astype(dtype.as_numpy_dtype)


def _assert_same(got: list[np.ndarray], want, what: str = "") -> None:
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want), f"{what}: {len(got)} outputs, TF has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert g.shape == w.shape, f"{what} output {i}: shape {g.shape}, TF {w.shape}"
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"{what} output {i}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} output {i}")


def _check(fn, input_sets: list[list[np.ndarray]]) -> dict[str, int]:
    """Convert `fn` once, run every input set in LiteRT and in TF, compare exactly."""
    tflite = convert(fn)
    for inputs in input_sets:
        _assert_same(run_litert(tflite, inputs), fn(*inputs), f"inputs {[x.shape for x in inputs]}")
    hist = op_histogram(tflite)
    assert not any(k.startswith("tfl.custom") for k in hist), hist
    return hist


# --- TensorListConcatV2 ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("element,fed", ELEMENTS[1:] + [((1, 5), [(1, 5)])], ids=str)
def test_tensor_array_concat(dtype, element, fed):
    """tf.TensorArray.concat() of elements written in a loop (element rank inferred)."""

    @tf.function(input_signature=[tf.TensorSpec(element, dtype)])
    def f(x):
        ta = tf.TensorArray(dtype, size=3)
        for i in tf.range(3):
            ta = ta.write(i, x * tf.cast(i + 1, dtype))
        return ta.concat()

    hist = _check(f, [[_data(s, dtype)] for s in fed])
    assert "tfl.while" in hist and "tfl.reshape" in hist


@pytest.mark.parametrize("version", ["v2", "v1"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_concat_lengths_of_a_list_grown_to_a_dynamic_length(dtype, version):
    """TensorListConcatV2's both outputs on a list pushed back n times (n an input). (The
    list starts with one element: LiteRT's WHILE fails on a zero-element loop value.)"""

    @tf.function(input_signature=[tf.TensorSpec([3, 2], dtype), tf.TensorSpec([], tf.int32)])
    def f(x, n):
        lst = list_ops.tensor_list_reserve([3, 2], 1, dtype)
        lst = list_ops.tensor_list_set_item(lst, 0, x)
        for i in tf.range(n):
            lst = list_ops.tensor_list_push_back(lst, x + tf.cast(i, dtype))
        if version == "v1":
            return gen_list_ops.tensor_list_concat(lst, dtype, element_shape=[3, 2])
        return gen_list_ops.tensor_list_concat_v2(lst, [-1, 2], tf.zeros([0], tf.int64), dtype)

    x = _data((3, 2), dtype)
    _check(f, [[x, np.array(4, np.int32)], [x, np.array(0, np.int32)]])


@pytest.mark.parametrize("rows", ["dynamic batch", "ragged"])
def test_concat_of_elements_with_a_dynamic_length_is_refused(rows):
    """TF concatenates elements of different lengths; a lowered list holds equal-shaped
    elements, so a dynamic element length is refused rather than converted wrongly."""

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def f(x):
        ta = tf.TensorArray(tf.float32, size=3, element_shape=[None, 2])
        for i in tf.range(3):
            item = x if rows == "dynamic batch" else tf.ones([2 - i % 2, 2])
            ta = ta.write(i, item * tf.cast(i, tf.float32))
        return ta.concat()

    with pytest.raises(ConverterError) as err:
        convert(f)
    assert "TensorListConcatV2" in str(err.value)


# --- TensorListSplit ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("rest", [(), (3,), (2, 2)], ids=str)
def test_tensor_array_split_into_equal_pieces(dtype, rest):
    """TensorArray.split(x, [2, 2, 2]) read back element by element and stacked."""

    @tf.function(input_signature=[tf.TensorSpec([None, *rest], dtype)])
    def f(x):
        ta = tf.TensorArray(dtype, size=3).split(x, [2, 2, 2])
        return ta.read(1), ta.stack(), ta.concat()

    hist = _check(f, [[_data((6, *rest), dtype)]])
    assert "tfl.reshape" in hist


def test_tensor_array_split_into_unequal_pieces_is_refused():
    """Pieces of different lengths do not fit a lowered list: refused, not converted."""

    @tf.function(input_signature=[tf.TensorSpec([6, 3], tf.float32)])
    def f(x):
        return tf.TensorArray(tf.float32, size=3, infer_shape=False).split(x, [1, 2, 3]).read(2)

    with pytest.raises(ConverterError, match="TensorListSplit"):
        convert(f)


# --- TensorListResize ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES + [tf.bool], ids=lambda d: d.name)
@pytest.mark.parametrize("element,fed", ELEMENTS, ids=lambda e: str(e))
def test_resize_inside_a_while_loop(dtype, element, fed):
    """A list grown by one element per step with TensorListResize + SetItem in a loop, then
    resized to m (growing with zero elements, or shrinking)."""

    def scale(x, i):
        if dtype == tf.bool:
            return tf.math.logical_xor(x, tf.equal(i % 2, 0))
        return x * tf.cast(i + 2, dtype)

    @tf.function(
        input_signature=[
            tf.TensorSpec(element, dtype),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def f(x, n, m):
        lst = list_ops.tensor_list_reserve(list(element), 1, dtype)
        lst = list_ops.tensor_list_set_item(lst, 0, x)
        i = tf.constant(0)
        while i < n:
            k = list_ops.tensor_list_length(lst)
            lst = list_ops.tensor_list_resize(lst, k + 1)
            lst = list_ops.tensor_list_set_item(lst, k, scale(x, i))
            i += 1
        lst = list_ops.tensor_list_resize(lst, m)
        return list_ops.tensor_list_stack(lst, dtype, element_shape=list(element))

    def data(shape):
        if dtype == tf.bool:
            return RNG.integers(0, 2, shape).astype(bool)
        return _data(shape, dtype)

    sets = []
    for s in fed:
        x = data(s)
        sets += [
            [x, np.array(3, np.int32), np.array(6, np.int32)],  # grow: 2 zero elements
            [x, np.array(3, np.int32), np.array(2, np.int32)],  # shrink
        ]
    hist = _check(f, sets)
    assert "tfl.pad" in hist and "tfl.slice" in hist


@pytest.mark.parametrize("size", [1, 3, 5])
def test_resize_to_a_constant_size(size):
    """Static list, static size: pad (grow), nothing (same size) or slice (shrink)."""

    @tf.function(input_signature=[tf.TensorSpec([3, 2], tf.float32)])
    def f(x):
        lst = list_ops.tensor_list_from_tensor(x, element_shape=[2])
        lst = list_ops.tensor_list_resize(lst, size)
        return list_ops.tensor_list_stack(lst, tf.float32, element_shape=[2])

    _check(f, [[_data((3, 2), tf.float32)]])


def test_resize_of_string_elements_is_refused():
    """tfl.pad has no string kernel: the op stays and the conversion fails naming it."""

    @tf.function(input_signature=[tf.TensorSpec([2], tf.string), tf.TensorSpec([], tf.int32)])
    def f(x, n):
        lst = list_ops.tensor_list_from_tensor(x, element_shape=[])
        lst = list_ops.tensor_list_resize(lst, n)
        return list_ops.tensor_list_stack(lst, tf.string, element_shape=[])

    with pytest.raises(ConverterError) as err:
        convert(f)
    assert "TensorListResize" in str(err.value) + err.value.details


# --- hash tables ------------------------------------------------------------------------------

WORDS = np.array([b"the", b"quick", b"brown", b"fox", b"jumps", b"", "\u00fcber".encode()])
IDS = np.array([10, -3, 7, 2**40, 0, 5, 123], np.int64)
# key dtype, value dtype, keys, values, default, probe keys (found and missing)
KINDS = {
    "string_to_int64": (
        tf.string,
        tf.int64,
        WORDS,
        IDS,
        -1,
        np.array([b"fox", b"dog", b"", b"the", "\u00fcber".encode(), b"Fox"]),
    ),
    "int64_to_string": (
        tf.int64,
        tf.string,
        IDS,
        WORDS,
        "<unk>",
        np.array([7, 8, 2**40, -3, 0, 1], np.int64),
    ),
}
OFFICIAL_OPS = {
    "tfl.call_once": 1,
    "tfl.hashtable": 2,
    "tfl.hashtable_find": 1,
    "tfl.hashtable_import": 1,
    "tfl.hashtable_size": 1,
}
"""What tf.lite.TFLiteConverter (TF 2.21) writes for a StaticHashTable lookup + size."""


class TableModule(tf.Module):
    def __init__(self, kind: str, key_rank: int = 1):
        super().__init__()
        key_dtype, value_dtype, keys, values, default, _ = KINDS[kind]
        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, key_dtype), tf.constant(values, value_dtype)
        )
        self.table = tf.lookup.StaticHashTable(init, default_value=default)
        spec = tf.TensorSpec([None] * key_rank, key_dtype)
        self.lookup = tf.function(self._lookup, input_signature=[spec])
        self.size = tf.function(self._size, input_signature=[])

    def _lookup(self, keys):
        return {"values": self.table.lookup(keys), "size": self.table.size()}

    def _size(self):
        return {"size": self.table.size()}


def _probe(kind: str, shape: tuple[int, ...]) -> np.ndarray:
    keys = KINDS[kind][5]
    if shape == ():
        # Exact width: LiteRT's Python binding reads a 0-d "S4" array's NUL padding too.
        return np.array(keys[0])
    return np.resize(keys, int(np.prod(shape))).reshape(shape)


def _tf_outputs(fn, keys: np.ndarray) -> list[np.ndarray]:
    out = fn(tf.constant(keys))
    return [np.asarray(out[k]) for k in sorted(out)]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("key_rank", [0, 1, 2])
def test_static_hash_table_concrete_function(kind, key_rank):
    """A tf.Module's StaticHashTable through a concrete function: lookups of found and
    missing keys (default value) and the size match TF; the structure is the official one."""
    m = TableModule(kind, key_rank)
    tflite = convert(m.lookup.get_concrete_function())
    assert op_histogram(tflite) == {**OFFICIAL_OPS, "tfl.reshape": 1}
    shapes = {0: [()], 1: [(6,), (3,)], 2: [(2, 3), (3, 1)]}[key_rank]
    for shape in shapes:
        keys = _probe(kind, shape)
        got = run_litert(tflite, [keys], signature_key="serving_default")
        out = m.lookup(tf.constant(keys))
        _assert_same(got, [out["size"], out["values"]], f"{kind} {shape}")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_static_hash_table_saved_model(kind, tmp_path):
    """A SavedModel with two signatures reading one table: each signature calls the
    initializer once (CALL_ONCE), one interpreter serves repeated calls."""
    from ai_edge_litert.interpreter import Interpreter

    m = TableModule(kind)
    path = str(tmp_path / "saved")
    tf.saved_model.save(
        m, path, signatures={"lookup": m.lookup.get_concrete_function(), "size": m.size}
    )
    loaded = tf.saved_model.load(path)
    tflite = convert(path)
    hist = op_histogram(tflite)
    assert hist["tfl.call_once"] == 2 and hist["tfl.hashtable_import"] == 1, hist
    interp = Interpreter(model_content=tflite)
    assert sorted(interp.get_signature_list()) == ["lookup", "size"]
    size = interp.get_signature_runner("size")
    lookup = interp.get_signature_runner("lookup")
    assert int(size()["size"]) == len(KINDS[kind][2])
    for shape in [(6,), (2,), (6,)]:  # the table is filled once, read many times
        keys = _probe(kind, shape)
        got = lookup(keys=keys)
        want = loaded.signatures["lookup"](keys=tf.constant(keys))
        _assert_same([got["values"], got["size"]], [want["values"], want["size"]], kind)


def test_text_file_initializer_saved_model(tmp_path):
    """A vocabulary file (line -> line number): the contents travel in the model, the file
    is not needed once the SavedModel is written."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("apple\nbanana\ncherry\n")
    init = tf.lookup.TextFileInitializer(
        str(vocab),
        tf.string,
        tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    module = tf.Module()
    module.table = tf.lookup.StaticHashTable(init, -1)
    module.f = tf.function(
        lambda x: module.table.lookup(x), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    path = str(tmp_path / "saved")
    tf.saved_model.save(module, path, signatures=module.f.get_concrete_function())
    vocab.unlink()
    tflite = convert(path)
    keys = np.array([b"banana", b"kiwi", b"apple", b"cherry"])
    got = run_litert(tflite, [keys], signature_key="serving_default")
    want = tf.saved_model.load(path).signatures["serving_default"](tf.constant(keys))
    _assert_same(got, list(want.values()), "vocabulary")


def test_two_tables_and_a_lookup_inside_a_loop():
    """string -> id -> string through two tables, the first also read in a while body (the
    table handle crosses into the loop subgraph)."""
    words = TableModule("string_to_int64").table
    names = TableModule("int64_to_string").table

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32)])
    def f(keys, n):
        def body(i, acc):
            return i + 1, acc + words.lookup(keys) * tf.cast(i + 1, tf.int64)

        zeros = tf.zeros(tf.shape(keys), tf.int64)
        _, acc = tf.while_loop(lambda i, a: i < n, body, (0, zeros))
        return acc, names.lookup(words.lookup(keys)), words.size() + names.size()

    tflite = convert(f)
    hist = op_histogram(tflite)
    assert hist["tfl.hashtable_import"] == 2 and hist["tfl.call_once"] == 1, hist
    keys = _probe("string_to_int64", (6,))
    for n in (1, 3):
        got = run_litert(tflite, [keys, np.array(n, np.int32)])
        _assert_same(got, f(tf.constant(keys), n), f"n={n}")


# Tables no TFLite kernel takes directly: int32 sides widened to int64, other pairs looked up
# through an index table and gathered. (key, values, default, probe keys)
BEYOND_KERNELS = {
    "int32_to_string": ([3, 4, -9], ["x", "y", ""], "?", [4, 5, -9, 0]),
    "string_to_int32": (["a", "b", "c"], [7, -8, 2**31 - 1], -1, ["b", "z", "c", ""]),
    "int32_to_float32": ([1, 2, -7], [0.5, -1.5, 2.5], -1.0, [2, 3, -7, 1]),
    "int64_to_int64": ([5, 9, 2**40], [1, 2, 3], 0, [5, 7, 2**40, 9]),
    "int32_to_int32": ([3, 4], [30, 40], 0, [4, 5, 3, 3]),
    "string_to_float32": (["a", "b"], [0.5, 1.5], 9.0, ["b", "c", "a", "a"]),
    "string_to_string": (["a", "b"], ["x", "y"], "?", ["b", "c", "a", ""]),
    "string_to_bool": (["a", "b"], [True, False], True, ["b", "c", "a", "b"]),
}
_TF_DTYPES = {"int32": tf.int32, "int64": tf.int64, "string": tf.string}


@pytest.mark.parametrize("kind", sorted(BEYOND_KERNELS))
def test_tables_beyond_the_kernels(kind):
    """Key/value pairs the HASHTABLE kernels do not take (the official converter leaves them
    to Flex) convert to builtins and match TF, at two key shapes."""
    keys, values, default, probe = BEYOND_KERNELS[kind]
    key_dtype = _TF_DTYPES[kind.split("_to_")[0]]
    value_dtype = {"float32": tf.float32, "bool": tf.bool, **_TF_DTYPES}[kind.split("_to_")[1]]
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, key_dtype), tf.constant(values, value_dtype)
    )
    table = tf.lookup.StaticHashTable(init, default)

    @tf.function(input_signature=[tf.TensorSpec([None, None], key_dtype)])
    def f(k):
        return table.lookup(k), table.size()

    tflite = convert(f)
    hist = op_histogram(tflite)
    assert hist["tfl.call_once"] == 1 and not any("custom" in k for k in hist), hist
    probe = np.array(probe, dtype=object if key_dtype == tf.string else key_dtype.as_numpy_dtype)
    if key_dtype == tf.string:
        probe = np.array([p.encode() for p in probe], dtype=object)
    for shape in [(2, 2), (4, 1)]:
        k = probe.reshape(shape)
        _assert_same(run_litert(tflite, [k]), f(tf.constant(k)), f"{kind} {shape}")


def test_lookups_in_the_branches_of_a_cond():
    """A kernel table and an indexed table read inside tf.cond branches (IF subgraphs)."""
    words = TableModule("string_to_int64").table
    scores = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(["fox", "the"]), tf.constant([0.5, 2.0])),
        -1.0,
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.bool)])
    def f(k, p):
        ids = tf.cond(p, lambda: words.lookup(k), lambda: -words.lookup(k))
        s = tf.cond(p, lambda: scores.lookup(k), lambda: scores.lookup(k) * 3.0)
        return ids, s

    tflite = convert(f)
    assert op_histogram(tflite)["tfl.if"] == 2
    k = np.array([b"fox", b"x", b"the"])
    for p in (True, False):
        _assert_same(run_litert(tflite, [k, np.array(p)]), f(tf.constant(k), p), f"p={p}")


def test_indexed_table_with_a_computed_default():
    """A default that is not a constant: gathered value, then select against the default."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant([1, 2, 5]), tf.constant([0.5, 1.5, 3.0])),
        -1.0,
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.float32)])
    def f(k, d):
        return gen_lookup_ops.lookup_table_find_v2(table.resource_handle, k, d * 2.0)

    tflite = convert(f)
    for d in (0.25, -3.0):
        k = np.array([5, 4, 1, 0], np.int32)
        _assert_same(run_litert(tflite, [k, np.array(d, np.float32)]), f(k, d), f"d={d}")


def test_keras_string_and_integer_lookup_layers():
    """Keras StringLookup (string -> int64 kernel table) and IntegerLookup (int64 -> int64,
    indexed) from from_keras_model's route."""
    import keras

    words = keras.Input(shape=(3,), dtype="string")
    numbers = keras.Input(shape=(3,), dtype="int64")
    ids = keras.layers.StringLookup(vocabulary=["a", "b", "c"])(words)
    codes = keras.layers.IntegerLookup(vocabulary=[5, 9, 11])(numbers)
    model = keras.Model([words, numbers], [ids, codes])
    w = np.array([[b"a", b"z", b"c"], [b"b", b"b", b""]], dtype=object)
    n = np.array([[5, 7, 11], [9, 9, 0]], np.int64)
    tflite = convert(model)
    want = model([tf.constant(w), tf.constant(n)])
    _assert_same(run_litert(tflite, [w, n]), [np.asarray(x) for x in want], "lookup layers")


def test_table_of_float64_values_is_refused():
    """float64 values have no TFLite gather: refused with the reason at import."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(["a"]), tf.constant([0.5], tf.float64)),
        0.0,
    )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def f(k):
        return table.lookup(k)

    with pytest.raises(ConverterError, match="string -> f64 lookup table cannot be converted"):
        convert(f)


def test_table_written_by_the_model_is_refused():
    """A MutableHashTable the function inserts into cannot become a static TFLite table."""
    table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def f(keys):
        table.insert(keys, tf.zeros(tf.shape(keys), tf.int64))
        return table.lookup(keys)

    with pytest.raises(ConverterError, match="writes a captured lookup table"):
        convert(f)


def test_select_tf_ops_only_still_calls_the_initializer():
    """With SELECT_TF_OPS alone (no legalization) the tables are Flex ops; the signature must
    still run the initializer once, or the Flex table would be empty. (No Flex runtime
    here: checked on the structure.)"""
    from tflconv.api.converter import TFLiteConverter
    from tflconv.api.options import OpsSet

    m = TableModule("string_to_int64")
    conv = TFLiteConverter.from_concrete_functions([m.lookup.get_concrete_function()])
    conv.target_spec.supported_ops = [OpsSet.SELECT_TF_OPS]
    hist = op_histogram(conv.convert())
    assert hist == {"tfl.call_once": 1, "tfl.custom": 5}, hist


# --- tables the function creates and fills itself ----------------------------------------------

# (key dtype, value dtype, keys, values, default, probe keys): kernel pairs and pairs stored
# as position tables.
LOCAL_TABLES = {
    "int64_to_string": (
        tf.int64, tf.string, [3, -7, 2**40], [b"c", b"minus", b"big"], b"?", [3, 4, 2**40, -7],
    ),
    "string_to_int64": (
        tf.string, tf.int64, [b"a", b"bb", b""], [1, 22, -5], -1, [b"bb", b"x", b"", b"a"],
    ),
    "int64_to_float32": (
        tf.int64, tf.float32, [0, 1, 2], [1.5, 2.5, 3.5], -1.0, [2, 0, 9, 1],
    ),
    "string_to_int32": (
        tf.string, tf.int32, [b"x", b"y"], [10, 20], 0, [b"y", b"z", b"x", b"x"],
    ),
}  # fmt: skip


def _local_table_fn(kind: str, via: str):
    key_dtype, value_dtype, keys, values, default, _ = LOCAL_TABLES[kind]

    @tf.function(input_signature=[tf.TensorSpec([None], key_dtype)])
    def f(k):
        if via == "static_hash_table":
            init = tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, key_dtype), tf.constant(values, value_dtype)
            )
            table = tf.lookup.StaticHashTable(init, default)
            return {"size": table.size(), "values": table.lookup(k)}
        h = tf.raw_ops.HashTableV2(key_dtype=key_dtype, value_dtype=value_dtype)
        init = tf.raw_ops.LookupTableImportV2(
            table_handle=h,
            keys=tf.constant(keys, key_dtype),
            values=tf.constant(values, value_dtype),
        )
        with tf.control_dependencies([init]):
            found = tf.raw_ops.LookupTableFindV2(
                table_handle=h, keys=k, default_value=tf.constant(default, value_dtype)
            )
            return {"size": tf.raw_ops.LookupTableSizeV2(table_handle=h), "values": found}

    return f


@pytest.mark.parametrize("via", ["raw_ops", "static_hash_table"])
@pytest.mark.parametrize("kind", sorted(LOCAL_TABLES))
def test_table_created_and_filled_inside_the_function(kind, via):
    """HashTableV2 + LookupTableImportV2 of constants + Find/Size in one function: the
    import stays in the main subgraph (HASHTABLE_IMPORT fills the table on the first invoke,
    later imports are no-ops, as TF's re-import of the same contents), no CALL_ONCE. A
    StaticHashTable built in the function is lifted out of it by TF (a captured table whose
    import stays in the function): its constant contents go to the initializer. Several
    invokes with different keys on one interpreter match TF."""
    from ai_edge_litert.interpreter import Interpreter

    f = _local_table_fn(kind, via)
    tflite = convert(f)
    hist = op_histogram(tflite)
    assert ("tfl.call_once" in hist) == (via == "static_hash_table"), hist
    assert hist["tfl.hashtable_import"] >= 1, hist
    interp = Interpreter(model_content=tflite, num_threads=1)
    runner = interp.get_signature_runner("serving_default")
    probe = np.array(LOCAL_TABLES[kind][5])
    for n in (4, 1, 3, 4):
        keys = probe[:n]
        out = runner(k=keys)
        want = f(tf.constant(keys))
        _assert_same([out["size"], out["values"]], [want["size"], want["values"]], f"{n} keys")


def test_table_filled_with_computed_contents_is_refused():
    """TFLite keeps the first import for every later invoke; TF fails on other contents."""

    @tf.function(input_signature=[tf.TensorSpec([3], tf.int64), tf.TensorSpec([None], tf.int64)])
    def f(values, k):
        h = tf.raw_ops.HashTableV2(key_dtype=tf.int64, value_dtype=tf.int64)
        init = tf.raw_ops.LookupTableImportV2(
            table_handle=h, keys=tf.constant([1, 2, 3], tf.int64), values=values
        )
        with tf.control_dependencies([init]):
            return tf.raw_ops.LookupTableFindV2(
                table_handle=h, keys=k, default_value=tf.constant(-1, tf.int64)
            )

    with pytest.raises(ConverterError, match="computed keys or values"):
        convert(f)
