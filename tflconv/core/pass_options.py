"""The options of a pass: its dataclass fields, their pipeline spelling (`max-fusions=3`), types,
defaults and help (the attribute docstrings), and `format_pass`, the text of one configured
pass. `pipeline.py` parses and prints whole pipelines with these."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
import textwrap
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .passes import Pass


@dataclass(frozen=True)
class OptionInfo:
    """One option of a pass: its pipeline spelling, field, type, default and help text."""

    key: str
    field: str
    type: Any
    default: Any
    doc: str

    @property
    def type_name(self) -> str:
        return _type_name(self.type)


def pass_options(cls: type[Pass]) -> list[OptionInfo]:
    """The options of a pass class, in field order."""
    return list(_pass_options(cls))


@cache
def _pass_options(cls: type[Pass]) -> tuple[OptionInfo, ...]:
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation its module cannot resolve (a local import)
        hints = {f.name: f.type for f in dataclasses.fields(cls)}
    docs = _field_docs(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_") or str(hints[f.name]).startswith("ClassVar"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        out.append(
            OptionInfo(
                f.name.replace("_", "-"), f.name, hints[f.name], default, docs.get(f.name, "")
            )
        )
    return tuple(out)


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (a string right after a field) of the class and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
            tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            continue
        node = tree.body[0] if tree.body else None
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for stmt, nxt in zip(body, body[1:]):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def pass_summary(cls: type[Pass]) -> str:
    """`summary`, else the docstring's first paragraph on one line (the signature dataclass
    puts in `__doc__` when there is no docstring is ignored)."""
    if cls.summary:
        return cls.summary
    doc = cls.__doc__ or ""
    if not doc or doc.startswith(cls.__name__ + "("):
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "{" + "|".join(str(a) for a in args) + "}"
    if origin is tuple:
        return f"[{_type_name(args[0])},...]" if args else "[...]"
    if tp is type(None):
        return "none"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "{" + "|".join(m.name for m in tp) + "}"
    return getattr(tp, "__name__", str(tp))


# --- formatting ----------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_.\-+/:@]+")


def format_value(value: Any) -> str:
    """The pipeline-string spelling of an option value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _BARE.fullmatch(value) and value != "none":
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise TypeError(f"cannot spell option value {value!r} in a pipeline string")


def format_pass(p: Pass) -> str:
    """`name{opt=value ...}` with only the options that differ from their defaults."""
    opts = []
    for info in _pass_options(type(p)):
        value = getattr(p, info.field)
        if info.default is dataclasses.MISSING or value != info.default:
            opts.append(f"{info.key}={format_value(value)}")
    return p.name + ("{" + " ".join(opts) + "}" if opts else "")
