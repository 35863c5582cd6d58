"""Pattern rewriting: patterns, the rewriter they act through, and the drivers that apply them.

A pattern succeeds iff it changed the IR through the rewriter; `rw.fail(reason)` records why it
did not, so "why didn't this legalize?" has an answer (see `MatchTracer`).

Two tiers, lightest first:
1. `one_to_one({"tf.Relu": "tfl.relu"}, name="LegalizeReluOneToOne")`: table-driven renames,
   each table with its own name (so `disable-patterns` can target it).
2. `RewritePattern` subclasses for anything with logic.

Drivers: `apply_walk` (one pre-order sweep), `apply_greedy` (worklist to a fixpoint, bounded),
`apply_conversion` (rewrite illegal ops until legal; partial or full).
"""

from __future__ import annotations

import difflib
import inspect
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .ir import Block, Function, Module, Operation, Value
from .location import Location, fuse
from .opdef import is_pure
from .types import TensorType


class RewriteError(Exception):
    """A driver could not finish (no fixpoint, or illegal ops left in a full conversion)."""


class RewritePattern:
    """Base class: set `root` to the op name(s) the pattern starts from and implement
    `match_and_rewrite`. The first docstring line is the rewrite in arrow form."""

    root: str | tuple[str, ...] | None = None
    """Op name(s) this pattern applies to; None means every op."""

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def roots(self) -> tuple[str, ...] | None:
        if self.root is None:
            return None
        return (self.root,) if isinstance(self.root, str) else tuple(self.root)

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        raise NotImplementedError

    @property
    def source(self) -> str:
        """file:line where the pattern is defined, for traces."""
        try:
            target = type(self)
            return f"{inspect.getsourcefile(target)}:{inspect.getsourcelines(target)[1]}"
        except (OSError, TypeError):
            return "?"


class RewriteListener:
    """Told about every IR change made through a rewriter (drivers and instruments use it)."""

    def on_insert(self, op: Operation) -> None: ...

    def on_erase(self, op: Operation) -> None: ...

    def on_modify(self, op: Operation) -> None: ...


class PatternRewriter:
    """The only way patterns change the IR. New ops go before the op being rewritten unless
    `insert_point` is set."""

    def __init__(self, listener: RewriteListener | None = None) -> None:
        self.listener = listener or RewriteListener()
        self.changed = False
        self.current: Operation | None = None
        self.failures: list[str] = []

    # --- failing ---------------------------------------------------------------------------
    def fail(self, reason: str) -> None:
        """Record why the current pattern does not apply; always returns None."""
        self.failures.append(reason)

    # --- creating ----------------------------------------------------------------------------
    def insert(self, op: Operation, before: Operation | None = None) -> Operation:
        """Insert `op` before `before` (default: the op being rewritten)."""
        anchor = before or self.current
        if anchor is None or anchor.parent is None:
            raise RuntimeError("insert needs an anchor op inside a block")
        anchor.parent.insert_before(op, anchor)
        self._notify_insert(op)
        return op

    def insert_after(self, op: Operation, after: Operation) -> Operation:
        assert after.parent is not None
        after.parent.insert_after(op, after)
        self._notify_insert(op)
        return op

    def create(
        self,
        name: str,
        operands: Sequence[Value],
        result_types: Sequence[TensorType],
        attributes: dict[str, Any] | None = None,
        location: Location | None = None,
        before: Operation | None = None,
    ) -> Operation:
        """Build an op and insert it (location defaults to the op being rewritten)."""
        loc = location if location is not None else self._default_location()
        return self.insert(
            Operation(name, operands, result_types, attributes, location=loc), before
        )

    def _default_location(self) -> Location:
        from .location import UNKNOWN

        return self.current.location if self.current is not None else UNKNOWN

    def _notify_insert(self, op: Operation) -> None:
        self.changed = True
        for nested in op.walk():
            self.listener.on_insert(nested)

    # --- replacing and erasing ---------------------------------------------------------------
    def replace(self, op: Operation, new: Operation | Value | Sequence[Value | None]) -> None:
        """Replace every result of `op` with `new` (an op, its inserted if not yet in a block)
        and erase `op`. A None entry means that result must be unused."""
        if isinstance(new, Operation):
            if new.parent is None:
                self.insert(new, before=op)
            values: Sequence[Value | None] = new.results
        elif isinstance(new, Value):
            values = [new]
        else:
            values = list(new)
        if len(values) != len(op.results):
            raise RuntimeError(
                f"replacing {op.name} ({len(op.results)} results) with {len(values)} values"
            )
        for old, value in zip(op.results, values):
            if value is None:
                continue
            if value.name_hint is None:
                value.name_hint = old.name_hint
            for user in old.users:
                self.listener.on_modify(user)
            old.replace_all_uses_with(value)
        self.erase(op)

    def replace_with_new(
        self,
        op: Operation,
        name: str,
        operands: Sequence[Value],
        attributes: dict[str, Any] | None = None,
        result_types: Sequence[TensorType] | None = None,
    ) -> Operation:
        """Replace `op` by a new op `name` (same result types and location unless given)."""
        types = result_types if result_types is not None else op.result_types
        new = Operation(name, operands, types, attributes, location=op.location)
        self.replace(op, new)
        return new

    def replace_value(self, old: Value, new: Value) -> None:
        """Make every user of `old` read `new` instead."""
        for user in old.users:
            self.listener.on_modify(user)
        old.replace_all_uses_with(new)
        self.changed = True

    def erase(self, op: Operation) -> None:
        for nested in op.walk():
            self.listener.on_erase(nested)
        producers = [v.defining_op for v in op.operands if v.defining_op is not None]
        op.erase()
        for producer in producers:
            self.listener.on_modify(producer)  # may have become dead
        self.changed = True

    @contextmanager
    def modify(self, op: Operation) -> Iterator[Operation]:
        """`with rw.modify(op): op.attributes[...] = ...` edits an op in place."""
        yield op
        self.listener.on_modify(op)
        self.changed = True

    def set_operand(self, op: Operation, index: int, value: Value) -> None:
        with self.modify(op):
            op.set_operand(index, value)


# --- tracing -------------------------------------------------------------------------------


@dataclass
class MatchTracer:
    """Records pattern attempts: counts per pattern, and for each op the reasons the patterns
    that tried it gave (kept until a pattern succeeds on it). With `verbose`, every attempt
    is also kept as a line for `--trace-patterns`."""

    verbose: bool = False
    only: str | None = None
    """With verbose: keep lines only for patterns whose name contains this."""
    attempts: Counter = field(default_factory=Counter)
    successes: Counter = field(default_factory=Counter)
    reasons: dict[Operation, list[tuple[str, str]]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def record(self, pattern: RewritePattern, op: Operation, ok: bool, why: list[str]) -> None:
        name = pattern.name
        self.attempts[name] += 1
        if ok:
            self.successes[name] += 1
            self.reasons.pop(op, None)
        else:
            reason = "; ".join(why) if why else "did not match"
            self.reasons.setdefault(op, []).append((name, reason))
        if self.verbose and (self.only is None or self.only in name):
            outcome = "rewrote" if ok else "failed: " + ("; ".join(why) or "did not match")
            self.lines.append(f"{op.name} @ {op.location}: {name} {outcome}")

    def failure_reasons(self, op: Operation) -> list[tuple[str, str]]:
        return self.reasons.get(op, [])

    def summary(self) -> str:
        rows = [f"{'pattern':<48} {'tried':>8} {'rewrote':>8}"]
        for name, n in self.attempts.most_common():
            rows.append(f"{name:<48} {n:>8} {self.successes[name]:>8}")
        return "\n".join(rows)


# --- pattern sets --------------------------------------------------------------------------


class PatternSet:
    """An ordered set of patterns indexed by root op name; filterable by name for bisecting."""

    def __init__(self, patterns: Iterable[RewritePattern] = ()) -> None:
        self.patterns: list[RewritePattern] = []
        self._index: dict[str, list[RewritePattern]] | None = None
        self._generic: list[RewritePattern] = []
        self.add(*patterns)

    def add(self, *patterns: RewritePattern | Iterable[RewritePattern]) -> PatternSet:
        for p in patterns:
            if isinstance(p, RewritePattern):
                self.patterns.append(p)
            else:
                self.patterns.extend(p)
        self._index = None
        return self

    def filtered(
        self, enable: Iterable[str] | None = None, disable: Iterable[str] = ()
    ) -> PatternSet:
        """Only the patterns named in `enable` (all if None), minus those in `disable`."""
        enabled = set(enable) if enable is not None else None
        disabled = set(disable)
        return PatternSet(
            p
            for p in self.patterns
            if (enabled is None or p.name in enabled) and p.name not in disabled
        )

    def for_op(self, name: str) -> list[RewritePattern]:
        if self._index is None:
            index: dict[str, list[RewritePattern]] = {}
            generic = [p for p in self.patterns if p.roots is None]
            for p in self.patterns:
                for root in p.roots or ():
                    index.setdefault(root, []).append(p)
            self._index = index
            self._generic = generic
        found = self._index.get(name)
        if found is None:
            return self._generic
        return found + self._generic if self._generic else found

    def __iter__(self) -> Iterator[RewritePattern]:
        return iter(self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)


def unknown_pattern_names(names: Iterable[str], known: Iterable[str]) -> str | None:
    """Why `names` (a pass's enable/disable-patterns option) cannot be used, None if every name
    is in `known`: the unknown ones, each with the closest known names (a typo there would
    otherwise silently disable nothing)."""
    known = sorted(set(known))
    problems = []
    for name in dict.fromkeys(names):
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        problems.append(f"{name!r}{hint}")
    if not problems:
        return None
    return f"unknown pattern {'; '.join(problems)}"


def _try_patterns(
    op: Operation, patterns: PatternSet, rw: PatternRewriter, tracer: MatchTracer | None
) -> str | None:
    """Try the op's patterns in order; the name of the one that rewrote it, else None."""
    for pattern in patterns.for_op(op.name):
        rw.changed = False
        rw.failures = []
        rw.current = op
        pattern.match_and_rewrite(op, rw)
        if tracer is not None:
            tracer.record(pattern, op, rw.changed, rw.failures)
        if rw.changed:
            return pattern.name
    return None


def _scopes(target: Module | Function | Block) -> list[Block]:
    if isinstance(target, Module):
        return [fn.block for fn in target.functions]
    if isinstance(target, Function):
        return [target.block]
    return [target]


def _walk_all(blocks: list[Block]) -> Iterator[Operation]:
    for block in blocks:
        yield from block.walk()


# --- drivers -------------------------------------------------------------------------------


def apply_walk(
    target: Module | Function | Block,
    patterns: PatternSet | Iterable[RewritePattern],
    tracer: MatchTracer | None = None,
    listener: RewriteListener | None = None,
) -> bool:
    """One pre-order sweep: each op gets each of its patterns until one rewrites it.
    Ops created by a rewrite are not revisited. Returns whether anything changed."""
    patterns = patterns if isinstance(patterns, PatternSet) else PatternSet(patterns)
    rw = PatternRewriter(listener)
    changed = False
    for op in list(_walk_all(_scopes(target))):
        if op.parent is None:  # erased by an earlier rewrite
            continue
        changed |= _try_patterns(op, patterns, rw, tracer) is not None
    return changed


class _Worklist(RewriteListener):
    def __init__(self, chained: RewriteListener | None) -> None:
        self.queue: deque[Operation] = deque()
        self.queued: set[Operation] = set()
        self.chained = chained

    def push(self, op: Operation) -> None:
        if op not in self.queued:
            self.queued.add(op)
            self.queue.append(op)

    def pop(self) -> Operation:
        op = self.queue.popleft()
        self.queued.discard(op)
        return op

    def on_insert(self, op: Operation) -> None:
        self.push(op)
        for r in op.results:
            for user in r.users:
                self.push(user)
        if self.chained:
            self.chained.on_insert(op)

    def on_erase(self, op: Operation) -> None:
        self.queued.discard(op)
        if self.chained:
            self.chained.on_erase(op)

    def on_modify(self, op: Operation) -> None:
        self.push(op)
        for r in op.results:
            for user in r.users:
                self.push(user)
        if self.chained:
            self.chained.on_modify(op)


Folder = Callable[[Operation, PatternRewriter], bool]
"""A hook the greedy driver tries before the patterns (canonicalize passes constant folding)."""


def apply_greedy(
    target: Module | Function | Block,
    patterns: PatternSet | Iterable[RewritePattern],
    max_iterations: int = 10,
    tracer: MatchTracer | None = None,
    listener: RewriteListener | None = None,
    fold: Folder | None = None,
    remove_dead: bool = True,
) -> bool:
    """Apply patterns until none fires (a fixpoint), via a worklist.

    Each iteration visits every op once plus whatever the rewrites touch; the driver stops
    after an iteration that changed nothing. Unused pure ops are erased on the way when
    `remove_dead`. When `max_iterations` sweeps still change the IR, or one sweep makes more
    than 8 rewrites per op (a ping-pong), it raises `RewriteError` naming the patterns that
    were still firing.
    """
    patterns = patterns if isinstance(patterns, PatternSet) else PatternSet(patterns)
    scopes = _scopes(target)
    worklist = _Worklist(listener)
    rw = PatternRewriter(worklist)
    ever_changed = False
    fired: Counter = Counter()
    for _ in range(max_iterations):
        fired = Counter()
        for op in _walk_all(scopes):
            worklist.push(op)
        budget = 8 * len(worklist.queue) + 64
        changed = False
        while worklist.queue:
            op = worklist.pop()
            if op.parent is None:
                continue
            if remove_dead and not op.has_users() and op.results and is_pure(op):
                rw.current = op
                rw.erase(op)
                changed = True
                continue
            rw.current = op
            rw.changed = False
            if fold is not None and fold(op, rw):
                fired["<fold>"] += 1
            else:
                name = _try_patterns(op, patterns, rw, tracer)
                if name is None:
                    continue
                fired[name] += 1
            changed = True
            budget -= 1
            if budget < 0:
                raise RewriteError(_non_convergence("one sweep", fired))
        if not changed:
            return ever_changed
        ever_changed = True
    raise RewriteError(_non_convergence(f"{max_iterations} iterations", fired))


def _non_convergence(limit: str, fired: Counter) -> str:
    names = ", ".join(f"{n} ({c}x)" for n, c in fired.most_common(8))
    return f"rewriting did not converge within {limit}; still firing: {names}"


# --- conversion ----------------------------------------------------------------------------


@dataclass
class ConversionTarget:
    """What counts as legal after a conversion.

    An op is legal if its name is in `legal_ops`, or its dialect is in `legal_dialects` and
    the name is not in `illegal_ops`; `dynamic` entries (op name -> predicate) decide per op.
    """

    legal_dialects: set[str] = field(default_factory=set)
    legal_ops: set[str] = field(default_factory=set)
    illegal_dialects: set[str] = field(default_factory=set)
    illegal_ops: set[str] = field(default_factory=set)
    dynamic: dict[str, Callable[[Operation], bool]] = field(default_factory=dict)

    def is_legal(self, op: Operation) -> bool:
        check = self.dynamic.get(op.name)
        if check is not None:
            return check(op)
        if op.name in self.illegal_ops:
            return False
        if op.name in self.legal_ops:
            return True
        return op.dialect in self.legal_dialects

    def is_illegal(self, op: Operation) -> bool:
        """Must be converted (explicitly illegal, or failing its dynamic check)."""
        check = self.dynamic.get(op.name)
        if check is not None:
            return not check(op)
        if op.name in self.legal_ops:
            return False
        return op.name in self.illegal_ops or op.dialect in self.illegal_dialects


@dataclass
class ConversionResult:
    changed: bool
    unconverted: list[Operation]
    """Ops still not legal, in IR order (partial mode)."""


def apply_conversion(
    target_ir: Module | Function | Block,
    patterns: PatternSet | Iterable[RewritePattern],
    target: ConversionTarget,
    mode: str = "partial",
    tracer: MatchTracer | None = None,
    listener: RewriteListener | None = None,
    max_rounds: int = 8,
) -> ConversionResult:
    """Rewrite ops that are not legal until they are, or no pattern applies.

    partial: only ops the target calls illegal must convert; leftovers are returned.
    full: every op must end legal, else `RewriteError` listing the leftovers.
    Ops created by patterns are converted too; a pattern may produce ops that another
    pattern legalizes in a later round (bounded by `max_rounds`).
    """
    if mode not in ("partial", "full"):
        raise ValueError("mode must be 'partial' or 'full'")
    patterns = patterns if isinstance(patterns, PatternSet) else PatternSet(patterns)
    scopes = _scopes(target_ir)

    def needs_conversion(op: Operation) -> bool:
        if mode == "full":
            return not target.is_legal(op)
        return target.is_illegal(op)

    worklist = _Worklist(listener)
    rw = PatternRewriter(worklist)
    changed = False
    for _ in range(max_rounds):
        for op in _walk_all(scopes):
            if needs_conversion(op):
                worklist.push(op)
        round_changed = False
        while worklist.queue:
            op = worklist.pop()
            if op.parent is None or not needs_conversion(op):
                continue
            if _try_patterns(op, patterns, rw, tracer) is not None:
                round_changed = True
        changed |= round_changed
        if not round_changed:
            break
    leftovers = [op for op in _walk_all(scopes) if needs_conversion(op)]
    if mode == "full" and leftovers:
        names = Counter(op.name for op in leftovers)
        listing = ", ".join(f"{n} ({c}x)" for n, c in sorted(names.items()))
        raise RewriteError(f"failed to legalize: {listing}")
    return ConversionResult(changed, leftovers)


# --- tier 1: table-driven renames ----------------------------------------------------------


class OneToOne(RewritePattern):
    """tf.X(args) -> tfl.y(args): a rename table, with optional attribute mappings."""

    def __init__(
        self,
        table: dict[str, str],
        attrs: dict[str, dict[str, str] | Callable[[Operation], dict[str, Any]]] | None = None,
        check: Callable[[Operation], str | None] | None = None,
        name: str | None = None,
    ) -> None:
        self.table = dict(table)
        self.attrs = attrs or {}
        self.check = check
        self.root = tuple(self.table)
        # Without a name, the table's source ops name it: still distinct per table.
        self._name = name or "OneToOne[" + ",".join(self.table) + "]"

    @property
    def name(self) -> str:
        return self._name

    def match_and_rewrite(self, op: Operation, rw: PatternRewriter) -> None:
        if self.check is not None:
            reason = self.check(op)
            if reason:
                return rw.fail(reason)
        mapping = self.attrs.get(op.name)
        if mapping is None:
            attributes: dict[str, Any] = {}
        elif callable(mapping):
            attributes = mapping(op)
        else:
            attributes = {
                new: op.attributes[old] for old, new in mapping.items() if old in op.attributes
            }
        rw.replace_with_new(op, self.table[op.name], list(op.operands), attributes)


def one_to_one(
    table: dict[str, str],
    attrs: dict[str, dict[str, str] | Callable[[Operation], dict[str, Any]]] | None = None,
    check: Callable[[Operation], str | None] | None = None,
    *,
    name: str | None = None,
) -> OneToOne:
    """A pattern renaming ops by `table`; `attrs[old_name]` maps attribute names (or is a
    function of the op returning the new attributes); `check` may refuse with a reason. `name`
    (by family: "LegalizeActivationsOneToOne") is what traces, reports and `disable-patterns`
    use."""
    return OneToOne(table, attrs, check, name)


def fused_location(ops: Iterable[Operation]) -> Location:
    """The location of an op that replaces all `ops`."""
    return fuse(op.location for op in ops)
