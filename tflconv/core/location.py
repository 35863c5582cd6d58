"""Where an op came from: TF node names and Python source lines, fused when ops are merged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceLine:
    """A line of the user's Python code that created a TF node."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class LazySourceLine:
    """A source line found when first asked for: finding one in a TF op's traceback costs
    ~12 us an op (more than the rest of importing it), and most locations are never shown."""

    __slots__ = ("_find", "_line")

    def __init__(self, find: Callable[[], SourceLine | None]) -> None:
        self._find: Callable[[], SourceLine | None] | None = find
        self._line: SourceLine | None = None

    def get(self) -> SourceLine | None:
        if self._find is not None:
            self._line, self._find = self._find(), None
        return self._line


Source = SourceLine | LazySourceLine | None


MAX_TENSOR_NAME_PARTS = 8


@dataclass(frozen=True, eq=False)
class Location:
    """The TF node names an op stands for, each with the Python line that made it (if known).

    One entry is a plain name location; several entries are a fused location (after rewrites
    merged ops). The empty location is `UNKNOWN`. Equality and `entries` see the source
    lines, found when first needed (`LazySourceLine`).
    """

    stored: tuple[tuple[str, Source], ...] = ()
    _resolved: list[tuple[tuple[str, SourceLine | None], ...]] = field(
        default_factory=list, compare=False, repr=False
    )

    @staticmethod
    def name(node: str, source: Source = None) -> Location:
        return Location(((node, source),))

    @property
    def entries(self) -> tuple[tuple[str, SourceLine | None], ...]:
        """(TF node name, source line or None) of each node, duplicates dropped."""
        if not self._resolved:
            if any(isinstance(src, LazySourceLine) for _, src in self.stored):
                found = (
                    (n, src.get() if isinstance(src, LazySourceLine) else src)
                    for n, src in self.stored
                )
                self._resolved.append(tuple(dict.fromkeys(found)))
            else:
                self._resolved.append(self.stored)
        return self._resolved[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        if self.stored == other.stored:
            return True
        return self.names == other.names and self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    @property
    def names(self) -> tuple[str, ...]:
        names = tuple(name for name, _ in self.stored)
        if len(set(names)) < len(names):  # entries of one name differ by source, or not
            return tuple(name for name, _ in self.entries)
        return names

    def tensor_name(self, max_parts: int = MAX_TENSOR_NAME_PARTS) -> str:
        """The name of the tensor an op at this location makes: its TF node names joined by
        `;` (the official converter's form for fused ops), at most `max_parts` of them, then
        `;+<how many more>` (a constant CSE merged from a hundred identical ones would
        otherwise carry a hundred names into the file, once per quantized copy)."""
        names = self.names
        if len(names) <= max_parts:
            return ";".join(names)
        return ";".join(names[:max_parts]) + f";+{len(names) - max_parts}"

    @property
    def sources(self) -> tuple[SourceLine, ...]:
        return tuple(src for _, src in self.entries if src is not None)

    @property
    def is_unknown(self) -> bool:
        return not self.stored

    def __str__(self) -> str:
        """Human form for error messages: `node (file.py:12); other (file.py:13)`."""
        if not self.entries:
            return "<unknown location>"
        parts = [f"{name} ({src})" if src else name for name, src in self.entries]
        return "; ".join(parts)


UNKNOWN = Location()


def fuse(locations: Iterable[Location]) -> Location:
    """One location standing for all given ones (duplicates dropped, order kept; source lines
    not looked up)."""
    seen: dict[tuple[str, Source], None] = {}
    for loc in locations:
        for entry in loc.stored:
            seen.setdefault(entry, None)
    return Location(tuple(seen))
