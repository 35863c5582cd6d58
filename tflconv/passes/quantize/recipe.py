"""Declarative weight-quantization recipes: a scheme per op, chosen by op type and by regex on
layer / TF node / tensor names (docs/quantization.md, "Recipes per op").

    recipe = Recipe(
        default=WeightScheme("int8"),
        rules=(
            Rule(WeightScheme("int4", "block", block_size=32), ops=("FULLY_CONNECTED",)),
            Rule(WeightScheme("int8"), ops=("CONV_2D", "DEPTHWISE_CONV_2D")),
            Rule(WeightScheme("float32"), names="head|classifier.*"),
        ),
    )

The same recipe as a JSON file (TOML: the same keys, rules as `[[rules]]`):

    {"default": {"weights": "int8"},
     "rules": [{"ops": ["FULLY_CONNECTED"], "weights": "int4", "granularity": "block",
                "block_size": 32},
               {"ops": ["CONV_2D", "DEPTHWISE_CONV_2D"], "weights": "int8"},
               {"names": "head|classifier.*", "weights": "float32"}]}

Later rules override earlier ones (as in ai-edge-quantizer's recipes); an op no rule names gets
the default (int8 per channel when the recipe names none; None / null: the op is left alone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from tflconv.core.ir import Operation
from tflconv.core.opdef import OPDEFS

from .common import NameMatcher, QuantizeError

WEIGHT_TYPES = ("int8", "int4", "float16", "float32")
GRANULARITIES = ("channel", "tensor", "block")
MODES = ("dynamic", "weight-only")
XNNPACK_BLOCK = 32
"""XNNPACK reads blockwise weights only with block sizes that are multiples of 32."""


@dataclass(frozen=True)
class WeightScheme:
    """How one op's weights are stored.

    weights      int8, int4 (symmetric, narrow range: [-127, 127] / [-7, 7], zero point 0),
                 float16 (+ DEQUANTIZE) or float32 (left float)
    granularity  channel (one scale per output channel), tensor, or block (one float16 scale
                 per `block_size` input elements of each output channel; int4 only; needs
                 XNNPACK to run fast: LiteRT's builtin kernel is a slow reference loop)
    mode         dynamic: the op's hybrid kernel reads the integer weights and quantizes its
                 float input on the fly; weight-only: integer weights + DEQUANTIZE, the op
                 itself stays float (smaller file, float speed)
    """

    weights: str = "int8"
    granularity: str = "channel"
    block_size: int = 0
    mode: str = "dynamic"

    def __post_init__(self) -> None:
        if self.weights not in WEIGHT_TYPES:
            raise QuantizeError(
                f"recipe: weights must be one of {WEIGHT_TYPES}, not {self.weights!r}"
            )
        if self.granularity not in GRANULARITIES:
            raise QuantizeError(
                f"recipe: granularity must be one of {GRANULARITIES}, not {self.granularity!r}"
            )
        if self.mode not in MODES:
            raise QuantizeError(f"recipe: mode must be one of {MODES}, not {self.mode!r}")
        if self.granularity == "block":
            if self.weights != "int4":
                raise QuantizeError(
                    f"recipe: blockwise {self.weights} weights: LiteRT reads blockwise int4 only "
                    "(the fully-connected kernel and XNNPACK's qb4w)"
                )
            if self.block_size <= 0 or self.block_size % XNNPACK_BLOCK:
                raise QuantizeError(
                    f"recipe: block_size {self.block_size}: blockwise weights need a block size "
                    f"that is a positive multiple of {XNNPACK_BLOCK} (XNNPACK's requirement)"
                )
            if self.mode != "dynamic":
                raise QuantizeError(
                    "recipe: blockwise weights are read by the fully-connected kernel itself "
                    "(DEQUANTIZE has no blockwise path): mode must be dynamic"
                )
        elif self.block_size:
            raise QuantizeError("recipe: block_size needs granularity = block")

    @property
    def is_integer(self) -> bool:
        return self.weights in ("int8", "int4")

    @property
    def dtype(self) -> str:
        """The IR element type of the stored weights."""
        return {"int8": "i8", "int4": "i4", "float16": "f16", "float32": "f32"}[self.weights]

    def describe(self) -> str:
        if not self.is_integer:
            return self.weights
        gran = f"block{self.block_size}" if self.granularity == "block" else self.granularity
        return f"{self.weights}/{gran}/{self.mode}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"weights": self.weights}
        if self.is_integer:
            out.update(granularity=self.granularity, mode=self.mode)
            if self.block_size:
                out["block_size"] = self.block_size
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "recipe") -> WeightScheme:
        keys = {"weights", "granularity", "block_size", "mode"}
        extra = set(d) - keys - {"ops", "names"}
        if extra:
            raise QuantizeError(f"{where}: unknown key(s) {sorted(extra)} (known: {sorted(keys)})")
        return cls(
            weights=str(d.get("weights", "int8")),
            granularity=str(d.get("granularity", "channel")),
            block_size=int(d.get("block_size", 0)),
            mode=str(d.get("mode", "dynamic")).replace("_", "-"),
        )


FLOAT = WeightScheme("float32")


def op_type_names(op: Operation) -> tuple[str, ...]:
    """The names an op type goes by in a recipe: `tfl.fully_connected`, `FULLY_CONNECTED`."""
    short = op.name.split(".", 1)[-1]
    return op.name, short.upper(), short


@dataclass(frozen=True)
class Rule:
    """Ops whose type is one of `ops` (TFLite names, `FULLY_CONNECTED` or
    `tfl.fully_connected`; empty: any) and, when `names` is set, whose layer / TF node / tensor
    name matches the regex `names` in full (keep-float's matching)."""

    scheme: WeightScheme
    ops: tuple[str, ...] = ()
    names: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        if self.names is not None:
            try:
                re.compile(self.names)
            except re.error as e:
                raise QuantizeError(f"recipe: bad names regex {self.names!r}: {e}") from None

    def matches(self, op: Operation) -> bool:
        if self.ops and not set(op_type_names(op)) & set(self.ops):
            return False
        return self.names is None or NameMatcher([self.names]).matches(op)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ops:
            out["ops"] = list(self.ops)
        if self.names is not None:
            out["names"] = self.names
        return out | self.scheme.to_dict()


@dataclass(frozen=True)
class Recipe:
    """A weight scheme per op: the last rule that matches an op wins, else `default`."""

    rules: tuple[Rule, ...] = ()
    default: WeightScheme | None = WeightScheme()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def scheme_for(self, op: Operation) -> WeightScheme | None:
        for rule in reversed(self.rules):
            if rule.matches(op):
                return rule.scheme
        return self.default

    def check(self, ops: list[Operation]) -> None:
        """Typos are errors: an op type TFLite does not have, or a name regex that matches none
        of `ops` (a rule naming only op types the model lacks is fine: recipes are reused
        across models)."""
        for r in self.rules:
            unknown = [t for t in r.ops if t not in OPDEFS and f"tfl.{t.lower()}" not in OPDEFS]
            if unknown:
                raise QuantizeError(f"recipe: unknown op type(s) {unknown} in rule {r.to_dict()}")
            if r.names is not None and not any(r.matches(op) for op in ops):
                raise QuantizeError(
                    f"recipe: rule {json.dumps(r.to_dict())} matches no op with weights (names "
                    "match TF node names, Keras layer names or tensor names in full)"
                )

    def with_float(self, patterns: tuple[str, ...]) -> Recipe:
        """This recipe with keep-float patterns as last (winning) rules."""
        extra = tuple(Rule(FLOAT, names=p) for p in patterns)
        return Recipe(self.rules + extra, self.default)

    @property
    def float_patterns(self) -> tuple[str, ...]:
        """The name / op-type patterns of the float rules (what full-integer recipes honour as
        keep-float)."""
        out: list[str] = []
        for r in self.rules:
            if r.scheme.weights != "float32":
                continue
            if r.ops and r.names is not None:
                raise QuantizeError(
                    "recipe: a float rule with both ops and names cannot become a keep-float "
                    "pattern in int8 / int16x8 mode; use one of them"
                )
            out += list(r.ops) if r.ops else [r.names or ".*"]
        return tuple(out)

    @classmethod
    def keeping_float(
        cls, patterns: tuple[str, ...] | list[str], default: WeightScheme | None = WeightScheme()
    ) -> Recipe:
        """A recipe that keeps the ops named by `patterns` (names or regexes, as keep-float)
        float and gives the others `default`: what `debug-quant`'s suggestions become."""
        return cls(tuple(Rule(FLOAT, names=p) for p in patterns), default)

    def to_dict(self) -> dict[str, Any]:
        default = None if self.default is None else self.default.to_dict()
        return {"default": default, "rules": [r.to_dict() for r in self.rules]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Recipe:
        extra = set(d) - {"rules", "default"}
        if extra:
            raise QuantizeError(f"recipe: unknown top-level key(s) {sorted(extra)}")
        default = d.get("default", {})
        rules = []
        for i, r in enumerate(d.get("rules", [])):
            ops = r.get("ops", ())
            rules.append(
                Rule(
                    WeightScheme.from_dict(r, f"recipe rule {i}"),
                    ops=(ops,) if isinstance(ops, str) else tuple(ops),
                    names=r.get("names"),
                )
            )
        return cls(
            tuple(rules),
            None if default is None else WeightScheme.from_dict(default, "recipe default"),
        )


def load_recipe(source: str | Path | Mapping[str, Any] | Recipe) -> Recipe:
    """A recipe from a Recipe, a dict, or a .json / .toml file."""
    if isinstance(source, Recipe):
        return source
    if isinstance(source, Mapping):
        return Recipe.from_dict(source)
    path = Path(source)
    try:
        text = path.read_text()
    except OSError as e:
        raise QuantizeError(f"recipe {str(path)!r}: {e.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except ValueError as e:
        raise QuantizeError(f"recipe {str(path)!r}: {e}") from None
    return Recipe.from_dict(data)
