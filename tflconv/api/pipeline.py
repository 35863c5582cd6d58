"""The conversion pipeline, built in code from a `ConversionConfig` (as the official converter's
`AddTFToTFLConversionPasses` builds its pass list from the converter flags).

    config = ConversionConfig(target_ops=("TFLITE_BUILTINS", "SELECT_TF_OPS"))
    format_pipeline(conversion_pipeline(config))   # the string `--pass-pipeline` accepts

A user pipeline (`converter.pipeline = "..."`, `--pass-pipeline`) replaces the built one;
`user_pipeline(text, config)` then adds what the flags need, by one rule (docs/api.md):

- a flag's pass the pipeline already names is taken as is, where the user put it (so a user
  pass written before `select-tf-ops` / `custom-ops` runs before them);
- a missing `select-tf-ops` goes right after the last `legalize-tf` / `legalize-stablehlo`
  (or, when the pipeline names a bare `custom-ops`, right before it); a missing bare `custom-ops` right after
  `select-tf-ops` (or the last `legalize-tf`); without either anchor, before the first
  `check-tflite-legal`, else at the end. `custom-ops{ops=[...]}` (`custom_ops`) goes first;
- with no builtin op set targeted, `lower-tensor-lists`, `legalize-tf` and
  `legalize-stablehlo` are dropped;
- every `check-tflite-legal` gets the op-set options of the config;
- the recipe's quantization passes are appended unless the pipeline names one of them (then
  the user's chain is taken as is: `default,calibrate,prepare-quantize,quantize`).

Passes are looked up by name in the registry, so this module does not depend on where their
modules live.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tflconv.api.options import BUILTIN_SETS, SELECT_TF_OPS, TFLITE_BUILTINS
from tflconv.core.passes import Pass, get_pass
from tflconv.core.pipeline import PipelineError, format_pipeline, parse_pipeline
from tflconv.passes import DEFAULT_PIPELINE  # the named "default" pipeline's text

__all__ = [
    "ConversionConfig",
    "QuantizationConfig",
    "conversion_pipeline",
    "format_pipeline",
    "pipeline_for",
    "user_pipeline",
]


@dataclass(frozen=True)
class QuantizationConfig:
    """A post-training quantization recipe (`api.quantization.plan_quantization` picks it from
    the tf.lite options); the fields are the `quantize` pass's options."""

    mode: str
    """dynamic, float16, int8 or int16x8."""
    keep_float: tuple[str, ...] = ()
    per_channel: bool = True
    input_type: str = "f32"
    output_type: str = "f32"
    integer_only: bool = False
    bias_correction: bool = True
    recipe: str = ""
    """dynamic: a JSON / TOML recipe file (a weight scheme per op; a Python `Recipe` travels in
    the PassContext instead, `api.quantization`)."""
    calibration: tuple[tuple[str, Any], ...] = ()
    """`calibrate` options, e.g. (("method", "percentile"), ("percentile", 99.9))."""
    qat: bool = False
    """A quantization-aware-trained graph (FakeQuant ops): ranges from the FakeQuants (int8
    only); with a representative dataset, `calibrate` fills in the tensors they left out."""
    qat_calibrate: bool = False

    @property
    def calibrated(self) -> bool:
        """Full-integer recipes run `calibrate` (on the representative dataset) first."""
        return self.mode in ("int8", "int16x8")


@dataclass(frozen=True)
class ConversionConfig:
    """Everything in the converter's options that shapes the conversion pipeline."""

    target_ops: tuple[str, ...] = (TFLITE_BUILTINS,)
    """tf.lite.OpsSet names, canonical order (`options.OPS_SETS`)."""
    allow_custom_ops: bool = False
    select_user_ops: tuple[str, ...] = ()
    """TF op types the user's Flex runtime has kernels for (experimental_select_user_tf_ops)."""
    custom_ops: tuple[str, ...] = ()
    """Op types / node-name globs kept as custom ops even when a builtin exists."""
    quantization: QuantizationConfig | None = None
    """None: a float model."""

    @property
    def select(self) -> bool:
        return SELECT_TF_OPS in self.target_ops

    @property
    def builtins(self) -> bool:
        return any(s in BUILTIN_SETS for s in self.target_ops)

    @classmethod
    def from_flags(cls, flags: Any, quantization: QuantizationConfig | None = None) -> Any:
        """The config of `compat.CompatFlags` (and a quantization recipe)."""
        return cls(
            target_ops=tuple(flags.target_ops),
            allow_custom_ops=bool(flags.allow_custom_ops),
            select_user_ops=tuple(flags.select_user_ops),
            custom_ops=tuple(flags.custom_ops),
            quantization=quantization,
        )


QUANTIZATION_PASSES = frozenset(
    {
        "calibrate",
        "prepare-quantize",
        "bias-correction",
        "quantize",
        "modify-io-types",
        "quantize-dynamic-range",
        "quantize-float16",
        "calibrate-lstm",
        "quantize-lstm",
    }
)
"""A user pipeline naming one of these brings its own quantization chain."""


def _make(name: str, **options: Any) -> Pass:
    cls = get_pass(name)
    if cls is None:
        raise PipelineError(f"pass {name!r} is not registered")
    return cls(**options)


def _gate(config: ConversionConfig) -> Pass:
    return _make(
        "check-tflite-legal",
        target_ops=config.target_ops,
        allow_custom_ops=config.allow_custom_ops,
        select_user_ops=config.select_user_ops,
    )


def quantization_passes(q: QuantizationConfig | None) -> list[Pass]:
    """The recipe's chain, run on the legal float model:

    dynamic   quantize-dynamic-range
    float16   quantize-float16
    int8      calibrate-lstm, calibrate, prepare-quantize, bias-correction, quantize-lstm,
              quantize[, modify-io-types]
    int16x8   calibrate, prepare-quantize{activation=int16}, bias-correction, quantize[, ...]
    """
    if q is None:
        return []
    if q.mode == "dynamic":
        options: dict[str, Any] = {"keep_float": q.keep_float, "per_channel": q.per_channel}
        if q.recipe:
            options["recipe"] = q.recipe
        return [_make("quantize-dynamic-range", **options)]
    if q.mode == "float16":
        return [_make("quantize-float16", keep_float=q.keep_float)]
    if q.mode not in ("int8", "int16x8"):
        raise PipelineError(f"unknown quantization mode {q.mode!r}")
    activation = "int16" if q.mode == "int16x8" else "int8"
    passes = [
        _make("calibrate", **dict(q.calibration)),
        _make("prepare-quantize", activation=activation, keep_float=q.keep_float),
    ]
    if q.qat:  # the FakeQuant ranges and scales, as the official converter (docs/quantization.md)
        passes = [
            _make("fake-quant-ranges"),
            *([_make("calibrate", **dict(q.calibration))] if q.qat_calibrate else []),
            _make(
                "prepare-quantize",
                keep_float=q.keep_float,
                qat=True,
                legacy_float_scale=False,
                # FakeQuants on weights only fold into float constants: float, as tf.lite
                without_ranges="error" if q.qat_calibrate else "float",
            ),
        ]
    if q.bias_correction and not q.qat:
        passes.append(_make("bias-correction", per_channel=q.per_channel))
    if not q.qat and activation == "int8":  # fused LSTMs (LiteRT has no 16x8 LSTM kernel):
        # their inner ranges from the float model, then the op once its neighbours are chosen
        passes.insert(0, _make("calibrate-lstm"))
        passes.append(_make("quantize-lstm", keep_float=q.keep_float))
    passes.append(_make("quantize", per_channel=q.per_channel, integer_only=q.integer_only))
    if (q.input_type, q.output_type) != ("f32", "f32"):
        passes.append(_make("modify-io-types", input_type=q.input_type, output_type=q.output_type))
    return passes


def conversion_pipeline(config: ConversionConfig | None = None) -> list[Pass]:
    """The conversion pipeline of `config`, in run order."""
    config = config or ConversionConfig()
    passes: list[Pass] = []
    if config.custom_ops:  # before anything rewrites the ops the user keeps custom
        passes.append(_make("custom-ops", ops=config.custom_ops))
    passes.append(_make("canonicalize"))
    if config.builtins:  # SELECT_TF_OPS alone: every TF op becomes a Flex op, as in tf.lite
        passes += [_make("lower-tensor-lists"), _make("legalize-tf"), _make("legalize-stablehlo")]
    if config.select:  # what legalize-tf left, if TF has a kernel for it
        passes.append(_make("select-tf-ops", user_ops=config.select_user_ops))
    if config.allow_custom_ops:  # what is still left
        passes.append(_make("custom-ops"))
    passes += [
        _make("canonicalize"),
        _make("fuse"),
        _make("simplify-tfl"),
        _make("cse"),
        # after cse (the two zero-state fills of a fused LSTM must stay two tensors) and
        # simplify-tfl (a fill of constant dims must not become a constant)
        _make("fuse-recurrent"),
        _make("dce"),
        _gate(config),
    ]
    return passes + quantization_passes(config.quantization)


# --- a user's pipeline -----------------------------------------------------------------------


def _is(p: Pass, name: str) -> bool:
    return p.name == name


def _last(passes: Sequence[Pass], name: str) -> int | None:
    found = [i for i, p in enumerate(passes) if _is(p, name)]
    return found[-1] if found else None


def _first(passes: Sequence[Pass], name: str) -> int | None:
    return next((i for i, p in enumerate(passes) if _is(p, name)), None)


def _bare_custom(p: Pass) -> bool:
    return _is(p, "custom-ops") and not getattr(p, "ops", ())


def _fallback(passes: Sequence[Pass]) -> int:
    """Before the first legality gate, else at the end."""
    gate = _first(passes, "check-tflite-legal")
    return gate if gate is not None else len(passes)


def user_pipeline(pipeline: str | Sequence[Pass], config: ConversionConfig) -> list[Pass]:
    """A user's pipeline with what `config` needs added by the module docstring's rule."""
    passes = list(parse_pipeline(pipeline) if isinstance(pipeline, str) else pipeline)
    found = [i for i, p in enumerate(passes) if p.name in ("legalize-tf", "legalize-stablehlo")]
    legalize = found[-1] if found else None
    anchor = legalize + 1 if legalize is not None else None  # where legalization ends
    if not config.builtins:
        dropped = ("legalize-tf", "lower-tensor-lists", "legalize-stablehlo")
        if anchor is not None:
            anchor -= sum(1 for p in passes[:anchor] if p.name in dropped)
        passes = [p for p in passes if p.name not in dropped]
    if config.select and _first(passes, "select-tf-ops") is None:
        custom = next((i for i, p in enumerate(passes) if _bare_custom(p)), None)
        at = custom if custom is not None else anchor if anchor is not None else _fallback(passes)
        passes.insert(at, _make("select-tf-ops", user_ops=config.select_user_ops))
        if anchor is not None and at <= anchor:
            anchor += 1
    if config.allow_custom_ops and not any(_bare_custom(p) for p in passes):
        select = _last(passes, "select-tf-ops")
        at = select + 1 if select is not None else anchor if anchor is not None else None
        passes.insert(at if at is not None else _fallback(passes), _make("custom-ops"))
    if config.custom_ops and not any(
        _is(p, "custom-ops") and tuple(getattr(p, "ops", ())) == config.custom_ops for p in passes
    ):
        passes.insert(0, _make("custom-ops", ops=config.custom_ops))
    passes = [
        dataclasses.replace(
            p,
            target_ops=config.target_ops,
            allow_custom_ops=config.allow_custom_ops,
            select_user_ops=config.select_user_ops,
        )
        if _is(p, "check-tflite-legal")
        else p
        for p in passes
    ]
    if not any(p.name in QUANTIZATION_PASSES for p in passes):
        passes += quantization_passes(config.quantization)
    return passes


def pipeline_for(pipeline: str | None, config: ConversionConfig) -> list[Pass]:
    """What a conversion runs: the built pipeline when `pipeline` is None (or the default
    pipeline's text), else the user's pipeline with the flags' passes (`user_pipeline`)."""
    if not pipeline or pipeline.strip() in (DEFAULT_PIPELINE, "default"):
        return conversion_pipeline(config)
    return user_pipeline(pipeline, config)
