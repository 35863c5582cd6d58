"""Sidecar files for the weights of IR text: one append-only blob shared by many texts.

A dump directory holds one `.mlir` file per pass; printing every weight into each of them would
repeat a model's weights once per pass. Instead the texts' resource sections refer to ranges of
one shared file, written once per distinct content:

    {-#
      dialect_resources: {
        builtin: {
          conv1_kernel: "file:weights.bin:0:3456"
        }
      }
    #-}

`file:PATH:OFFSET:SIZE` names SIZE raw little-endian bytes at OFFSET of PATH (relative to the
directory of the text that refers to it). The parser reads them back (`read_blob`); inline
`"0x..."` hex blobs stay valid everywhere.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

FILE_PREFIX = "file:"
ALIGN = 64  # offsets of the blobs (so a memory map could view them as arrays)


class ResourceFile:
    """An append-only sidecar file of constant data, deduplicated by content. `put(raw)` is
    the `store` argument of `print_module`."""

    def __init__(self, path: str | Path, relative_name: str | None = None) -> None:
        self.path = Path(path)
        self.name = relative_name or self.path.name
        self._index: dict[bytes, int] = {}
        self._size = 0
        self._started = False  # the file is (re)created on the first put: no empty sidecars

    def put(self, raw: bytes) -> str:
        key = hashlib.blake2b(raw, digest_size=16).digest() + len(raw).to_bytes(8, "little")
        offset = self._index.get(key)
        if offset is None:
            offset = -(-self._size // ALIGN) * ALIGN
            if not self._started:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_bytes(b"")
                self._started = True
            with open(self.path, "ab") as f:
                f.write(b"\0" * (offset - self._size))
                f.write(raw)
            self._size = offset + len(raw)
            self._index[key] = offset
        return f"{FILE_PREFIX}{self.name}:{offset}:{len(raw)}"

    @property
    def size(self) -> int:
        return self._size


class BlobError(ValueError):
    """A `file:` blob reference that cannot be read."""


def read_blob(ref: str, base_dir: Path) -> bytes:
    """The bytes of a `file:PATH:OFFSET:SIZE` reference (PATH relative to `base_dir`)."""
    body = ref[len(FILE_PREFIX) :]
    try:
        path_text, offset_text, size_text = body.rsplit(":", 2)
        offset, size = int(offset_text), int(size_text)
    except ValueError:
        raise BlobError(f"bad blob reference {ref!r} (expected file:PATH:OFFSET:SIZE)") from None
    path = base_dir / path_text
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
    except OSError as e:
        raise BlobError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) != size:
        raise BlobError(f"{path} ends before byte {offset + size} (has {offset + len(data)})")
    return data
