"""The constant buffers of a .tflite file: their bytes, their sharing, and the two file layouts.

Inline layout (the default): each buffer's data is a `Buffer.data` vector inside the FlatBuffer,
starting at a 16-byte aligned file offset. A FlatBuffer cannot exceed 2 GB.

Offset layout (LiteRT's "buffer offset" layout, the official converter's
`_experimental_use_buffer_offset`; used automatically for large models): the FlatBuffer holds
only the tables; each constant buffer has `data` absent and `offset` / `size` set to an absolute
file offset and byte count, and the data follows the FlatBuffer:

    [FlatBuffer][zeros to a multiple of 16 (1-16 bytes)]
    [data of buffer 1][zeros to 16][data of buffer 2]...[16 zero bytes][zeros to 16]

as `flatbuffer_export.cc` (`Translator::AppendBufferData`) writes it, except that every buffer
starts 16-byte aligned (the official writes them back to back; aligned data keeps every kernel's
loads aligned, as in our inline layout). Metadata buffers stay inline, and the metadata entry
`buffer_location = "outside flatbuffers"` marks the layout: LiteRT (`CheckBufferOutsideModel`)
then refuses to build from a bare `Model*` and resolves offsets against the file allocation.

Identical constants share one buffer (`BufferTable`), in both layouts, as the official Python
`deduplicate_readonly_buffers` does. Identical small vectors of the tables (per-channel zero
points, shapes, quantization scales) are written once and referenced from every table that
holds them (`SharingBuilder`): a FlatBuffer is a DAG, readers cannot tell.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import flatbuffers
import numpy as np

from tflconv.core.arrays import (
    byte_chunks,
    contiguous,
    copy_into,
    flat_elements,
    populate,
    same_bits,
)
from tflconv.core.types import TensorType, numpy_dtype
from tflconv.tflite.generated import tflite_schema as fb

FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16
FLATBUFFER_LIMIT = 2**31
"""A FlatBuffer's maximum size (32-bit signed offsets)."""
BUFFER_OFFSET_THRESHOLD = FLATBUFFER_LIMIT - 512 * 2**20
"""Models whose estimated size exceeds this use the offset layout (the official rule:
"Module size is greater than 2GB" at 2 GB - 512 MB)."""
BUFFER_LOCATION = "buffer_location"
BUFFER_LOCATION_VALUE = b"outside flatbuffers"
XNNPACK_TAIL = 16
"""Zero bytes after the last buffer in the offset layout ("pad 16 bytes ... for XNNPack":
XNNPACK may read up to 16 bytes past a weight)."""
MMAP_BUILDER_BYTES = 1 << 20
"""Builders at least this large are memory maps (see `_builder`)."""
WRITE_CHUNK = 64 * 2**20
"""Largest single `write()` when streaming buffer data to a file."""
_PLACEHOLDER = 1
"""`offset`/`size` written before the layout is known (>= 1: a non-default value, so the field
is stored and can be patched in place; an offset counts as set only when > 1)."""


class WriteError(Exception):
    """The module cannot be written as a .tflite file (message names the op and location)."""


# --- constant bytes ----------------------------------------------------------------------------


def as_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A 1-D uint8 view of `data` (a copy only for non-contiguous arrays)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Two int4 values per byte, element 2i in the low nibble (TFLite's dense int4 layout)."""
    v = (np.asarray(values).reshape(-1).astype(np.int8) & 0x0F).astype(np.uint8)
    if v.size % 2:
        v = np.concatenate([v, np.zeros(1, np.uint8)])
    return v[0::2] | (v[1::2] << 4)


def encode_strings(values: np.ndarray) -> np.ndarray:
    """TFLite string tensor bytes: int32 count, int32 offsets[count + 1], then the data."""
    items = [v if isinstance(v, bytes) else str(v).encode() for v in np.asarray(values).reshape(-1)]
    n = len(items)
    lengths = np.array([len(s) for s in items], dtype=np.int64)
    header = 4 * (n + 2)
    offsets = header + np.concatenate([[0], np.cumsum(lengths)])
    head = np.concatenate([[n], offsets]).astype("<i4")
    return np.frombuffer(head.tobytes() + b"".join(items), dtype=np.uint8)


def _float_to_bf16_bits(values: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + 0x7FFF  # round to nearest even
    return ((bits + rounding) >> 16).astype(np.uint16)


def constant_bytes(array: np.ndarray, type: TensorType) -> np.ndarray:
    """The buffer contents of a constant of `type`: little-endian, strings in TFLite format,
    int4 packed, bf16 as raw bits. A 1-D uint8 view when no conversion is needed; a layout
    change kept as a view (a transposed weight) is returned as it is, its C-order bytes being
    the contents: the writer copies it once, into the output (`core.arrays.copy_into`)."""
    arr = np.asarray(array)
    if type.dtype == "string":
        return encode_strings(arr)
    if type.dtype == "i4":
        return pack_int4(arr)
    if type.dtype == "bf16":
        if arr.dtype.kind == "f":
            arr = _float_to_bf16_bits(arr)
        elif arr.dtype.itemsize != 2:
            raise ValueError(f"bf16 constants hold float or 16-bit raw values, not {arr.dtype}")
    else:
        want = numpy_dtype(type.dtype)
        if arr.dtype != want:
            if not np.can_cast(arr.dtype, want, "same_kind") and arr.dtype.kind != want.kind:
                raise ValueError(f"a {arr.dtype} array cannot hold a {type.dtype} constant")
            arr = arr.astype(want)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if not arr.flags.c_contiguous:
        return arr
    return arr.reshape(-1).view(np.uint8)


def flat_bytes(data: np.ndarray) -> np.ndarray:
    """A buffer's contents (see `constant_bytes`) as a 1-D uint8 array (a copy when it is a
    view of another layout)."""
    return contiguous(data).reshape(-1).view(np.uint8)


# --- the buffer table --------------------------------------------------------------------------


class Buffer:
    """A Buffer table. Its data (see `constant_bytes`, or None) gets a 16-byte aligned `data`
    vector whose bytes are copied in later (`PackedModel` writes them from the array: the
    builder only reserves the space), or, when `external`, is left out of the FlatBuffer with
    placeholder `offset`/`size` fields that `PackedModel` fills in. Duck-types `fb.BufferT`
    for `ModelT.Pack`."""

    __slots__ = ("data", "metadata", "external", "from_end")

    def __init__(self, data: np.ndarray | None, metadata: bool = False) -> None:
        self.data = data
        self.metadata = metadata
        """Metadata buffers stay inside the FlatBuffer in both layouts."""
        self.external = False
        self.from_end = 0
        """Where `Pack` reserved the data: bytes from the end of the builder's buffer (stable
        when the builder grows, since it grows at the front)."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (flatbuffers API name)
        vector = None
        if self.data is not None and not self.external:
            n = int(self.data.nbytes)
            # The builder writes back to front: aligning the vector start relative to the end
            # gives a file offset aligned too, because Finish pads the file to `minalign`.
            builder.StartVector(1, n, BUFFER_ALIGNMENT)
            builder.head -= n
            self.from_end = len(builder.Bytes) - builder.head
            vector = builder.EndVector()
        fb.BufferStart(builder)
        if vector is not None:
            fb.BufferAddData(builder, vector)
        elif self.external:
            fb.BufferAddOffset(builder, _PLACEHOLDER)
            fb.BufferAddSize(builder, _PLACEHOLDER)
        return fb.BufferEnd(builder)


class BufferTable:
    """Buffer 0 (empty) plus constant buffers, de-duplicated by content: two constants with the
    same bytes share one buffer whatever their types or shapes.

    Candidates are found by size and a fingerprint of a sample of the bytes (SHA-1 of at most
    ~4 kB), then compared byte for byte: equal-sized weights (every layer of a transformer)
    cost a sample each, not a hash of all their bytes."""

    def __init__(self) -> None:
        self.buffers: list[Buffer] = [Buffer(None)]
        self._by_size: dict[int, list[int]] = {}  # size -> buffer indices
        self._by_key: dict[tuple[int, bytes], list[int]] = {}  # (size, fingerprint) -> indices

    def add(self, data: np.ndarray, dedup: bool = True) -> int:
        if data.nbytes == 0:
            return 0
        index = len(self.buffers)
        if dedup:
            size = int(data.nbytes)
            same_size = self._by_size.setdefault(size, [])
            if same_size:
                if len(same_size) == 1:  # fingerprint the first one only when a second comes
                    first = same_size[0]
                    key = (size, _fingerprint(self.buffers[first].data))
                    self._by_key.setdefault(key, []).append(first)
                candidates = self._by_key.setdefault((size, _fingerprint(data)), [])
                for i in candidates:
                    if _same_bytes(self.buffers[i].data, data):
                        return i
                candidates.append(index)
            same_size.append(index)
        self.buffers.append(Buffer(data))
        return index

    def add_metadata(self, data: bytes | np.ndarray) -> int:
        self.buffers.append(Buffer(as_bytes(data), metadata=True))
        return len(self.buffers) - 1

    def data_bytes(self) -> int:
        """Bytes of constant data (metadata excluded)."""
        return sum(b.data.nbytes for b in self.buffers if b.data is not None and not b.metadata)


FINGERPRINT_SAMPLE = 4096
"""Bytes sampled (evenly spaced, plus the first and last 64) for a buffer's fingerprint."""


def _fingerprint(data: np.ndarray) -> bytes:
    n = int(data.nbytes)
    if n <= FINGERPRINT_SAMPLE:
        sample = flat_bytes(data)
    else:
        step = n // FINGERPRINT_SAMPLE
        at = np.concatenate([np.arange(64), np.arange(0, n, step), np.arange(n - 64, n)])
        sample = _bytes_at(data, at)
    return hashlib.sha1(np.ascontiguousarray(sample).data, usedforsecurity=False).digest()


def _bytes_at(data: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The bytes at `positions` of the data's C-order bytes, without copying the rest."""
    size = data.itemsize
    elements = np.ascontiguousarray(flat_elements(data, positions // size))
    return elements.view(np.uint8).reshape(-1, size)[np.arange(len(positions)), positions % size]


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two buffers' contents are the same bytes."""
    if a.shape == b.shape and a.dtype == b.dtype:
        return same_bits(a, b)
    return bool(np.array_equal(flat_bytes(a), flat_bytes(b)))


# --- packing -----------------------------------------------------------------------------------


def estimated_size(model: fb.ModelT) -> int:
    """An upper estimate of the inline file size (the builder's initial allocation: when it is
    too small the builder grows into a new bytearray, touching the reserved data pages too)."""
    size = sum(
        data_nbytes(b.data) + BUFFER_ALIGNMENT for b in _buffers(model) if b.data is not None
    )
    for sg in model.subgraphs or ():
        for t in sg.tensors or ():
            size += 512 + len(t.name or "")
            q = t.quantization
            if q is not None:  # per-channel: float32 scale + int64 zero point per channel
                size += 12 * len(q.scale if q.scale is not None else ()) + 8 * (
                    len(q.min if q.min is not None else ())
                    + len(q.max if q.max is not None else ())
                )
        for op in sg.operators or ():
            # A model read back (metadata rewrite) may lack either list.
            n_in = len(op.inputs) if op.inputs is not None else 0
            n_out = len(op.outputs) if op.outputs is not None else 0
            size += 512 + 4 * (n_in + n_out)
            size += len(op.customOptions) if op.customOptions is not None else 0
    return size + 65536


def needs_buffer_offset(model: fb.ModelT) -> bool:
    """Whether the model is too large for the inline layout (the official threshold)."""
    return estimated_size(model) > BUFFER_OFFSET_THRESHOLD


def _buffers(model: fb.ModelT) -> list[Any]:
    return list(model.buffers or [])


def data_nbytes(data: Any) -> int:
    """Bytes of a buffer's data: an array (`Buffer`) or a list of bytes (`fb.BufferT`)."""
    return int(data.nbytes) if isinstance(data, np.ndarray) else len(data)


@dataclass
class PackedModel:
    """A serialized model: the FlatBuffer, then (offset layout) the constant data after it.

    `write_to` streams it to a file without assembling the whole file in memory; `to_bytes`
    assembles it."""

    flatbuffer: memoryview | bytes | bytearray
    pieces: list[tuple[int, np.ndarray]] = field(default_factory=list)
    """(absolute file offset, contents as `constant_bytes` gives them) of each buffer's data,
    ascending: inside the FlatBuffer (space the builder reserved and left unwritten) or after
    it (offset layout)."""
    size: int = 0

    def __post_init__(self) -> None:
        if not self.size:
            self.size = len(self.flatbuffer)

    def segments(self) -> Iterator[tuple[int, memoryview | np.ndarray | int]]:
        """The file's contents in order: (file offset, a view of the FlatBuffer's bytes, a
        buffer's contents, or a count of zero bytes)."""
        head = memoryview(self.flatbuffer)
        pos = 0
        for offset, data in self.pieces:
            if pos < min(offset, len(head)):
                yield pos, head[pos : min(offset, len(head))]
            if offset > max(pos, len(head)):
                yield max(pos, len(head)), offset - max(pos, len(head))
            yield offset, data
            pos = offset + int(data.nbytes)
        if pos < len(head):
            yield pos, head[pos:]
        if self.size > max(pos, len(head)):
            yield max(pos, len(head)), self.size - max(pos, len(head))

    def chunks(self) -> Iterator[memoryview | bytes]:
        """The file's bytes in order, in pieces of at most `WRITE_CHUNK`: views, except the
        copies of transposed weights."""
        for _, part in self.segments():
            if isinstance(part, int):
                yield bytes(part)
            elif isinstance(part, np.ndarray):
                yield from byte_chunks(part, WRITE_CHUNK)
            else:
                yield part

    def write_to(self, f: BinaryIO) -> int:
        for chunk in self.chunks():
            f.write(chunk)
        return self.size

    def to_bytes(self) -> bytes:
        """The file as bytes, assembled in place: one zeroed allocation of the final size into
        which every part is copied once (a transposed weight straight from its view)."""
        zeros = bytes(self.size)  # calloc: pages mapped (zero) when first written
        out = io.BytesIO(zeros)  # shares the bytes object ...
        del zeros  # ... which is then the BytesIO's alone: getbuffer() writes into it in place
        view = out.getbuffer()
        self._copy_into(view)
        view.release()  # getvalue() then hands over the BytesIO's bytes object without a copy
        return out.getvalue()

    def _copy_into(self, view: memoryview) -> None:
        file = np.frombuffer(view, np.uint8)
        populate(file)
        for offset, part in self.segments():
            if isinstance(part, int):
                continue  # already zero
            if isinstance(part, np.ndarray):
                target = file[offset : offset + part.nbytes].view(part.dtype).reshape(part.shape)
                copy_into(target, part)
            else:
                file[offset : offset + len(part)] = np.frombuffer(part, np.uint8)


def pack_model(model: fb.ModelT) -> bytes:
    """Finish a `ModelT` as .tflite bytes (inline layout) with every buffer's data 16-byte
    aligned.

    Buffers may be `Buffer`s or `fb.BufferT`s (e.g. from `ModelT.InitFromPackedBuf`, to
    edit an existing model's tables); buffers stored outside the FlatBuffer (`offset`, the
    >2 GB layout) are refused."""
    buffers = []
    for i, b in enumerate(model.buffers or []):
        if isinstance(b, fb.BufferT):
            if b.offset > 1:
                raise WriteError(f"buffer {i} is stored outside the FlatBuffer; not supported")
            has_data = b.data is not None and len(b.data)
            b = Buffer(as_bytes(b.data) if has_data else None)
        buffers.append(b)
    model.buffers = buffers
    return pack_layout(model, buffer_offset=False).to_bytes()


def pack_layout(model: fb.ModelT, buffer_offset: bool) -> PackedModel:
    """Finish a `ModelT` whose buffers are `Buffer`s, in the inline or the offset layout."""
    buffers: list[Buffer] = _buffers(model)
    external = [b for b in buffers if b.data is not None and not b.metadata and b.data.nbytes]
    for b in external:
        b.external = buffer_offset
    try:
        size = estimated_size(model)
        if buffer_offset:
            size -= sum(b.data.nbytes for b in external)  # type: ignore[union-attr]
        builder = _builder(min(size, FLATBUFFER_LIMIT - 1))
        try:
            builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        except flatbuffers.builder.BuilderSizeError as e:
            raise WriteError(f"the model is too large for one FlatBuffer (2 GB limit): {e}") from e
    finally:
        for b in external:
            b.external = False
    head = memoryview(builder.Bytes)[builder.Head() :]
    end = len(builder.Bytes) - builder.Head()  # file offset = end - from_end
    inline = sorted(
        (end - b.from_end, b.data)
        for b in buffers
        if b.data is not None and b.data.nbytes and (b.metadata or not buffer_offset)
    )
    if not buffer_offset:
        return PackedModel(head, inline)
    flatbuffer = bytearray(head)  # only tables and metadata: small
    for offset, data in inline:
        flatbuffer[offset : offset + data.nbytes] = flat_bytes(data).data
    return _place_after(flatbuffer, buffers)


SHARED_VECTOR_MAX_BYTES = 1 << 16
"""Vectors up to this size are written once per distinct content (`SharingBuilder`)."""


class SharingBuilder(flatbuffers.Builder):
    """A builder that writes each distinct small numeric vector once.

    The object API packs every table's vectors with `CreateNumpyVector`; here a vector whose
    bytes (and element type) were written before returns the earlier vector's offset, so the
    tables reference one copy. What it saves: the int64 zero points of per-channel tensors
    (all zeros: 8 bytes a channel, twice the channel's scale) are stored once per channel
    count, and equal shapes once. Offsets count from the buffer's end, so an earlier vector
    stays valid when the builder grows; FlatBuffers allow any table to point at any vector
    built before it (what `CreateSharedString` does for strings)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._vectors: dict[tuple[str, bytes], int] = {}

    def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers API name)
        if not isinstance(x, np.ndarray) or x.nbytes > SHARED_VECTOR_MAX_BYTES:
            return super().CreateNumpyVector(x)
        little = np.ascontiguousarray(x, x.dtype.newbyteorder("<"))
        key = (little.dtype.str, little.tobytes())
        offset = self._vectors.get(key)
        if offset is None:
            offset = self._vectors[key] = super().CreateNumpyVector(x)
        return offset


def _builder(size: int) -> flatbuffers.Builder:
    """A builder of `size` bytes (sharing identical vectors: `SharingBuilder`). Large ones
    live in an anonymous memory map: the pages the builder never writes (the reserved data of
    every buffer) stay unallocated, so the FlatBuffer costs the size of its tables, not of
    the weights."""
    builder = SharingBuilder(0 if size >= MMAP_BUILDER_BYTES else size)
    if size >= MMAP_BUILDER_BYTES:
        builder.Bytes = mmap.mmap(-1, size)
        builder.head = size
    return builder


def _place_after(flatbuffer: bytearray, buffers: list[Buffer]) -> PackedModel:
    """Lay the constant data out after the FlatBuffer and patch `offset`/`size` in place."""
    pos = len(flatbuffer) + BUFFER_ALIGNMENT - len(flatbuffer) % BUFFER_ALIGNMENT
    root = fb.Model.GetRootAs(flatbuffer, 0)
    pieces = []
    for i, b in enumerate(buffers):
        if b.data is None or b.metadata or not b.data.nbytes:
            continue
        pos = _align(pos)
        table = root.Buffers(i)._tab
        # vtable slots 6 / 8 are Buffer.offset / Buffer.size (uint64): placeholders written by
        # `Buffer.Pack`, so present.
        for slot, value in ((6, pos), (8, int(b.data.nbytes))):
            field_offset = table.Offset(slot)
            if not field_offset:
                raise WriteError(f"buffer {i}: no offset/size field to patch")
            struct.pack_into("<Q", flatbuffer, table.Pos + field_offset, value)
        pieces.append((pos, b.data))
        pos += int(b.data.nbytes)
    size = _align(pos + XNNPACK_TAIL)
    return PackedModel(flatbuffer, pieces, size)


def _align(n: int) -> int:
    return -(-n // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT
