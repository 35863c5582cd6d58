"""The element types each LiteRT kernel runs on: the one table legalization, `check-tflite-legal`
and `analyze` read.

    from tflconv.dialects.tfl_kernels import kernel_accepts, kernel_dtype_errors
    kernel_accepts("tfl.add", "ui32")          # False: LiteRT's ADD refuses it at invoke()
    kernel_accepts("tfl.gather", "i64", 1)     # True: operand 1 (indices) may be i64
    kernel_dtype_errors(op)    # ["operand 0 (lhs), ... are ui32; LiteRT ADD takes f16, ..."]

Each entry is a signature over type classes: `"T,T->T"` says both operands and the result are
of one class T; a class is a set of element types, a literal element type (`i1`), or `?` (not
checked). `T*` repeats for the remaining operands (concatenation, pack, add_n). Values with
quantization parameters are not checked here: their kernels are the quantizer's business, and a
plain (unquantized) i8/ui8 tensor goes down a quantized kernel path that computes garbage, which is
why i8/ui8 are missing from most arithmetic entries below.

Facts come from the kernels' Prepare/Eval type switches (LiteRT tflite/kernels/*.cc) and every
accepted entry is run in the LiteRT interpreter `ai-edge-litert` 2.x by tests/test_kernel_dtypes.py
(with numerics against numpy), as is a sample of refused ones (LiteRT must really refuse them).
Ops not in the table are not checked. The other kernel facts (affine weight layouts, fused
activations, same-scale / fixed-output / int8 / 16x8 kernels) are in `tfl_traits.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tflconv.core.ir import Operation, Value

from .tfl_ops import OPERANDS


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class KernelTypes:
    """The element types one kernel takes, per operand and result."""

    builtin: str
    operands: tuple[frozenset[str] | None, ...]
    """Per operand (None: not checked); the last one repeats when `variadic`."""
    results: tuple[frozenset[str] | None, ...]
    variadic: bool = False
    """The last operand repeats (concatenation, pack, add_n)."""
    variadic_results: bool = False
    """The last result repeats (unpack)."""
    signature: str = ""
    """The source form (`"T,T->T"`) and its classes, for the docs."""
    classes: tuple[tuple[str, str], ...] = ()

    def operand_types(self, index: int) -> frozenset[str] | None:
        return _nth(self.operands, index, self.variadic)

    def result_types(self, index: int) -> frozenset[str] | None:
        return _nth(self.results, index, self.variadic_results)


def _nth(
    types: tuple[frozenset[str] | None, ...], index: int, repeat: bool
) -> frozenset[str] | None:
    if index < len(types):
        return types[index]
    return types[-1] if repeat and types else None


def _k(builtin: str, signature: str, **classes: str) -> KernelTypes:
    """`_k("ADD", "T,T->T", T="f32 i32")`: a signature over type classes (see the module doc)."""
    ins, outs = signature.split("->")

    def one(token: str) -> frozenset[str] | None:
        token = token.strip().rstrip("*")
        if token == "?":
            return None
        return _set(classes[token]) if token in classes else _set(token)

    in_tokens = [t for t in ins.split(",") if t.strip()]
    out_tokens = [t for t in outs.split(",") if t.strip()]
    return KernelTypes(
        builtin,
        tuple(one(t) for t in in_tokens),
        tuple(one(t) for t in out_tokens),
        in_tokens[-1].strip().endswith("*"),
        out_tokens[-1].strip().endswith("*"),
        signature.replace(" ", ""),
        tuple(classes.items()),
    )


# Type classes shared by several kernels.
FLOAT = "f32 f16"
CMP = "f32 f16 i16 i32 i64"
MINMAX = "f32 f16 i8 i16 i32 i64 ui8"
BITWISE = "i8 i16 i32 ui8 ui16 ui32"
ACTIVATION = "f32 f16"  # i8/ui8/i16 only quantized
INDEX = "i16 i32 i64"
MOVE = "f32 f16 i8 i16 i32 i64 ui8 i1"  # data movement (gather, unpack)
ANY = "f32 f16 f64 i8 i16 i32 i64 ui8 ui16 ui32 ui64 i1"
RESHAPE = ANY + " string complex64 complex128"  # reshape-like: any type, the kernel copies bytes
SLICE = ANY + " string complex64"
PAD = "f32 f16 i8 i16 i32 i64 ui8 i1"
CASTABLE = "f32 f16 f64 bf16 i8 i16 i32 i64 ui8 ui16 ui32 i1 complex64"
SIZED = "f32 f16 f64 bf16 i8 i16 i32 i64 ui8 ui16 ui32 ui64 i1 complex64 complex128"

KERNELS: dict[str, KernelTypes] = {
    # binary arithmetic (add.cc, sub.cc, mul.cc, div.cc, floor_div.cc, floor_mod.cc, pow.cc, ...).
    # complex64: LiteRT loads ADD, SUB, CONCATENATION, PAD, GATHER, PACK, REVERSE_V2 on it and
    # fails at allocate_tensors()/invoke() (tested as refused); MUL and the data movement
    # kernels that list it (RESHAPE, SQUEEZE, TRANSPOSE, STRIDED_SLICE, TILE, BROADCAST_TO,
    # SELECT, FILL, ...) and REAL/IMAG/COMPLEX_ABS run on it (tested against numpy).
    "tfl.add": _k("ADD", "T,T->T", T="f32 f16 i16 i32 i64"),
    "tfl.sub": _k("SUB", "T,T->T", T="f32 f16 i32 i64"),
    "tfl.mul": _k("MUL", "T,T->T", T="f32 f16 i16 i32 i64 ui32 complex64"),
    "tfl.div": _k("DIV", "T,T->T", T="f32 f16 i32"),
    "tfl.floor_div": _k("FLOOR_DIV", "T,T->T", T="f32 i8 i16 i32"),
    "tfl.floor_mod": _k("FLOOR_MOD", "T,T->T", T="f32 i8 i16 i32 i64"),
    "tfl.maximum": _k("MAXIMUM", "T,T->T", T=MINMAX),
    "tfl.minimum": _k("MINIMUM", "T,T->T", T=MINMAX),
    "tfl.pow": _k("POW", "T,T->T", T="f32 i32"),
    "tfl.squared_difference": _k("SQUARED_DIFFERENCE", "T,T->T", T="f32 f16 i32"),
    "tfl.atan2": _k("ATAN2", "T,T->T", T="f32 f64"),
    "tfl.bitwise_xor": _k("BITWISE_XOR", "T,T->T", T=BITWISE),
    "tfl.right_shift": _k("RIGHT_SHIFT", "T,T->T", T=BITWISE),
    "tfl.logical_and": _k("LOGICAL_AND", "i1,i1->i1"),
    "tfl.logical_or": _k("LOGICAL_OR", "i1,i1->i1"),
    "tfl.add_n": _k("ADD_N", "T*->T", T="f32 i32"),
    # comparisons (comparisons.cc); NOT_EQUAL on i16 takes the quantized path
    "tfl.less": _k("LESS", "T,T->i1", T=CMP),
    "tfl.less_equal": _k("LESS_EQUAL", "T,T->i1", T=CMP),
    "tfl.greater": _k("GREATER", "T,T->i1", T=CMP),
    "tfl.greater_equal": _k("GREATER_EQUAL", "T,T->i1", T=CMP),
    "tfl.equal": _k("EQUAL", "T,T->i1", T=CMP + " i1 string"),
    "tfl.not_equal": _k("NOT_EQUAL", "T,T->i1", T="f32 f16 i32 i64 i1 string"),
    # unary (elementwise.cc, exp.cc, floor.cc, ceil.cc, round.cc, neg.cc, sign.cc, ...)
    "tfl.abs": _k("ABS", "T->T", T="f32 f16 i16 i32"),
    "tfl.neg": _k("NEG", "T->T", T="f32 f16 i8 i16 i32 i64"),
    "tfl.sign": _k("SIGN", "T->T", T="f32 f64 i32"),
    "tfl.exp": _k("EXP", "T->T", T=FLOAT),
    "tfl.log": _k("LOG", "T->T", T=FLOAT),
    "tfl.sqrt": _k("SQRT", "T->T", T=FLOAT),
    "tfl.rsqrt": _k("RSQRT", "T->T", T=FLOAT),
    "tfl.square": _k("SQUARE", "T->T", T=FLOAT),
    "tfl.sin": _k("SIN", "T->T", T=FLOAT),
    "tfl.cos": _k("COS", "T->T", T=FLOAT),
    "tfl.floor": _k("FLOOR", "T->T", T=FLOAT),
    "tfl.ceil": _k("CEIL", "T->T", T=FLOAT),
    "tfl.round": _k("ROUND", "T->T", T=FLOAT),
    "tfl.logical_not": _k("LOGICAL_NOT", "i1->i1"),
    "tfl.zeros_like": _k("ZEROS_LIKE", "T->T", T="f32 i32 i64"),
    # activations (activations.cc, gelu.cc)
    "tfl.tanh": _k("TANH", "T->T", T=ACTIVATION),
    "tfl.logistic": _k("LOGISTIC", "T->T", T=ACTIVATION),
    "tfl.relu": _k("RELU", "T->T", T=ACTIVATION),
    "tfl.relu6": _k("RELU6", "T->T", T=ACTIVATION),
    "tfl.relu_n1_to_1": _k("RELU_N1_TO_1", "T->T", T=ACTIVATION),
    "tfl.elu": _k("ELU", "T->T", T=ACTIVATION),
    "tfl.leaky_relu": _k("LEAKY_RELU", "T->T", T=ACTIVATION),
    "tfl.hard_swish": _k("HARD_SWISH", "T->T", T=ACTIVATION),
    "tfl.gelu": _k("GELU", "T->T", T=ACTIVATION),
    # casts (cast.cc: every pair of these; ui64 has no cast), bitcast (any sized type)
    "tfl.cast": _k("CAST", "S->D", S=CASTABLE, D=CASTABLE),
    "tfl.bitcast": _k("BITCAST", "S->D", S=SIZED, D=SIZED),
    # reductions (reduce.cc: axes must be i32), arg_min_max.cc, cumsum.cc
    "tfl.sum": _k("SUM", "T,i32->T", T="f32 f16 i32 i64"),
    "tfl.mean": _k("MEAN", "T,i32->T", T="f32 f16 i32 i64"),
    "tfl.reduce_max": _k("REDUCE_MAX", "T,i32->T", T=MINMAX),
    "tfl.reduce_min": _k("REDUCE_MIN", "T,i32->T", T=MINMAX),
    "tfl.reduce_prod": _k("REDUCE_PROD", "T,i32->T", T="f32 i8 i16 i32 i64 ui8"),
    "tfl.reduce_any": _k("REDUCE_ANY", "i1,i32->i1"),
    "tfl.reduce_all": _k("REDUCE_ALL", "i1,i32->i1"),
    "tfl.arg_max": _k("ARG_MAX", "T,A->O", T="f32 i8 i32 ui8 i1", A="i32 i64", O="i32 i64"),
    "tfl.arg_min": _k("ARG_MIN", "T,A->O", T="f32 i8 i32 ui8 i1", A="i32 i64", O="i32 i64"),
    "tfl.cumsum": _k("CUMSUM", "T,i32->T", T="f32 i32 i64"),
    # resize (resize_bilinear.cc: i8/ui8/i16 only quantized; resize_nearest_neighbor.cc)
    "tfl.resize_bilinear": _k("RESIZE_BILINEAR", "T,i32->T", T="f32"),
    "tfl.resize_nearest_neighbor": _k(
        "RESIZE_NEAREST_NEIGHBOR", "T,i32->T", T="f32 f16 i8 i16 i32 ui8 ui16 ui32 i1"
    ),
    # gather (gather.cc: string params only 1-D), gather_nd.cc
    "tfl.gather": _k("GATHER", "T,I->T", T=MOVE + " string", I=INDEX),
    "tfl.gather_nd": _k("GATHER_ND", "T,I->T", T=MOVE + " string", I=INDEX),
    # concat / pack / unpack / select
    "tfl.concatenation": _k("CONCATENATION", "T*->T", T=MOVE + " ui32"),
    "tfl.pack": _k("PACK", "T*->T", T="f32 i8 i16 i32 i64 ui8 ui32"),
    "tfl.unpack": _k("UNPACK", "T->T*", T="f32 f16 i8 i16 i32 ui8 i1"),
    "tfl.select": _k("SELECT", "i1,T,T->T", T=ANY + " complex64"),
    "tfl.select_v2": _k("SELECT_V2", "i1,T,T->T", T=ANY + " complex64"),
    # data movement (reshape.cc, transpose.cc, tile.cc, slice.cc, strided_slice.cc, pad.cc, ...)
    "tfl.reshape": _k("RESHAPE", "T,?->T", T=RESHAPE),
    "tfl.expand_dims": _k("EXPAND_DIMS", "T,?->T", T=RESHAPE),
    "tfl.squeeze": _k("SQUEEZE", "T->T", T=RESHAPE),
    "tfl.broadcast_to": _k("BROADCAST_TO", "T,?->T", T=ANY + " complex64 complex128"),
    "tfl.transpose": _k("TRANSPOSE", "T,?->T", T=ANY + " complex64"),
    "tfl.tile": _k("TILE", "T,?->T", T=SLICE),
    "tfl.slice": _k("SLICE", "T,?,?->T", T=SLICE),
    "tfl.strided_slice": _k("STRIDED_SLICE", "T,?,?,?->T", T=SLICE),
    "tfl.reverse_v2": _k("REVERSE_V2", "T,?->T", T=PAD),
    "tfl.pad": _k("PAD", "T,?->T", T=PAD),
    "tfl.padv2": _k("PADV2", "T,?,T->T", T=PAD),
    "tfl.split": _k("SPLIT", "?,T->T*", T="f32 f16 i8 i16 i32 i64 ui8"),
    "tfl.split_v": _k("SPLIT_V", "T,?,?->T*", T="f32 i8 i16 i32 i64 ui8"),
    "tfl.unique": _k("UNIQUE", "T->T,I", T="f32 i8 i16 i32 i64 ui8", I="i32 i64"),
    "tfl.fill": _k("FILL", "?,T->T", T=ANY + " string complex64"),
    "tfl.space_to_depth": _k("SPACE_TO_DEPTH", "T->T", T="f32 i8 i32 i64 ui8"),
    "tfl.one_hot": _k("ONE_HOT", "?,?,T,T->T", T="f32 i8 i32 i64 ui8 i1"),
    "tfl.scatter_nd": _k("SCATTER_ND", "?,T,?->T", T="f32 i8 i32 i64 ui8 i1"),
    "tfl.sparse_to_dense": _k("SPARSE_TO_DENSE", "I,I,T,T->T", I="i32 i64", T="f32 i8 i32 i64 ui8"),
    "tfl.topk_v2": _k("TOPK_V2", "T,?->T,i32", T="f32 i8 i16 i32 i64 ui8"),
    "tfl.mirror_pad": _k("MIRROR_PAD", "T,?->T", T=ANY + " complex64"),
    "tfl.depth_to_space": _k("DEPTH_TO_SPACE", "T->T", T="f32 f16 i8 i32 i64 ui8"),
    "tfl.reverse_sequence": _k("REVERSE_SEQUENCE", "T,?->T", T="f32 i16 i32 i64 ui8"),
    "tfl.where": _k("WHERE", "T->i64", T="f32 i8 i32 i64 ui8 ui32 i1"),
    "tfl.range": _k("RANGE", "T,T,T->T", T="f32 i32 i64"),
    "tfl.bucketize": _k("BUCKETIZE", "T->i32", T="f32 f64 i32 i64"),
    # softmax (activations.cc: i8/ui8/i16 quantized only), batch_matmul.cc (i8/i16 quantized)
    "tfl.softmax": _k("SOFTMAX", "T->T", T=ACTIVATION),
    "tfl.log_softmax": _k("LOG_SOFTMAX", "T->T", T="f32"),
    "tfl.batch_matmul": _k("BATCH_MATMUL", "T,T->T", T=ACTIVATION),
    # conv.cc, depthwise_conv.cc, fully_connected.cc (i8/i16 need quantized filters and an
    # integer bias), pooling.cc (MAX_POOL_2D copies values: plain integers work)
    "tfl.conv_2d": _k("CONV_2D", "T,T,T->T", T=ACTIVATION),
    "tfl.depthwise_conv_2d": _k("DEPTHWISE_CONV_2D", "T,T,T->T", T=ACTIVATION),
    "tfl.fully_connected": _k("FULLY_CONNECTED", "T,T,T->T", T=ACTIVATION),
    "tfl.transpose_conv": _k("TRANSPOSE_CONV", "?,T,T,?->T", T="f32"),
    "tfl.conv_3d": _k("CONV_3D", "T,T,?->T", T="f32"),
    "tfl.conv_3d_transpose": _k("CONV_3D_TRANSPOSE", "?,T,T,?->T", T="f32"),
    "tfl.max_pool_2d": _k("MAX_POOL_2D", "T->T", T="f32 i8 i16 ui8"),
    "tfl.average_pool_2d": _k("AVERAGE_POOL_2D", "T->T", T=ACTIVATION),
    # segment reductions (segment_sum.cc, unsorted_segment.cc)
    "tfl.segment_sum": _k("SEGMENT_SUM", "T,?->T", T="f32 i32"),
    "tfl.unsorted_segment_sum": _k("UNSORTED_SEGMENT_SUM", "T,?,?->T", T="f32 i32"),
    "tfl.unsorted_segment_prod": _k("UNSORTED_SEGMENT_PROD", "T,?,?->T", T="f32 i32"),
    "tfl.unsorted_segment_max": _k("UNSORTED_SEGMENT_MAX", "T,?,?->T", T="f32 i32"),
    "tfl.unsorted_segment_min": _k("UNSORTED_SEGMENT_MIN", "T,?,?->T", T="f32 i32"),
    # complex parts (complex_support.cc: complex64 -> f32, complex128 -> f64)
    "tfl.real": _k("REAL", "C->F", C="complex64 complex128", F="f32 f64"),
    "tfl.imag": _k("IMAG", "C->F", C="complex64 complex128", F="f32 f64"),
    "tfl.complex_abs": _k("COMPLEX_ABS", "C->F", C="complex64 complex128", F="f32 f64"),
}
"""tfl op name -> the element types its LiteRT kernel runs on (unquantized tensors)."""


def kernel_types(op_name: str) -> KernelTypes | None:
    """The table entry of a tfl op ("tfl.add"), None when the op is not in the table."""
    return KERNELS.get(op_name)


def kernel_accepts(op_name: str, dtype: str, operand: int = 0) -> bool:
    """Whether the LiteRT kernel of `op_name` runs with element type `dtype` in operand
    `operand` (True for ops the table does not list and for unchecked operands)."""
    entry = KERNELS.get(op_name)
    allowed = entry.operand_types(operand) if entry else None
    return allowed is None or dtype in allowed


def kernel_dtype_reason(op_name: str, value: Value, operand: int = 0) -> str | None:
    """Why `value` cannot be operand `operand` of `op_name` (None when it can). For legalization
    patterns: `if (why := kernel_dtype_reason("tfl.exp", x)): return rw.fail(why)`."""
    if value.type.is_quantized or kernel_accepts(op_name, value.type.dtype, operand):
        return None
    allowed = KERNELS[op_name].operand_types(operand) or frozenset()
    what = "" if operand == 0 else f" in operand {operand}"
    return f"{op_name} does not run on {value.type.dtype}{what} (kernel types: {', '.join(sorted(allowed))})"


def _describe(op: Operation, kind: str, index: int) -> str:
    names = OPERANDS.get(op.name.removeprefix("tfl.").upper())
    if names is not None:
        group = names[0] if kind == "operand" else names[1]
        if group and index < len(group) and not group[index].endswith("*"):
            return f"{kind} {index} ({group[index].rstrip('?')})"
    return f"{kind} {index}"


def kernel_dtype_errors(op: Operation) -> list[str]:
    """What in `op` its LiteRT kernel does not take, one line per offending element type and
    allowed set ("operand 0 (lhs), operand 1 (rhs), result 0 (output) are ui32; LiteRT ADD takes
    f16, f32, i16, i32, i64"). Empty when the op is not in the table or everything fits."""
    entry = KERNELS.get(op.name)
    if entry is None:
        return []
    checks = [("operand", i, v, entry.operand_types(i)) for i, v in enumerate(op.operands)]
    checks += [("result", i, v, entry.result_types(i)) for i, v in enumerate(op.results)]
    found: dict[tuple[str, frozenset[str]], list[str]] = {}
    for kind, i, v, allowed in checks:
        if allowed is None or v.type.is_quantized or v.type.dtype in (*allowed, "none"):
            continue  # ("none": an absent optional operand)
        found.setdefault((v.type.dtype, allowed), []).append(_describe(op, kind, i))
    return [
        f"{', '.join(where)} {'is' if len(where) == 1 else 'are'} {dtype}; "
        f"LiteRT {entry.builtin} takes {', '.join(sorted(allowed))}"
        for (dtype, allowed), where in found.items()
    ]


_ORDER = "f32 f16 f64 bf16 i1 i8 i16 i32 i64 ui8 ui16 ui32 ui64 complex64 complex128 string"


def _sorted(types: str) -> str:
    order = _ORDER.split()
    return " ".join(sorted(types.split(), key=order.index))


def markdown_table() -> str:
    """The table as Markdown (docs/legalize_math_tensor.md holds this text; a test keeps the two
    equal)."""
    lines = ["| TFLite op | operands -> results | types |", "|---|---|---|"]
    for entry in KERNELS.values():
        classes = "; ".join(f"{k}: {_sorted(v)}" for k, v in entry.classes)
        lines.append(f"| `{entry.builtin}` | `{entry.signature}` | {classes} |")
    return "\n".join(lines)
