"""Fuzz the readers of untrusted files: `python -m tflconv.tools.fuzz`.

    python -m tflconv.tools.fuzz --count 300                    # a few seconds (the test's run)
    python -m tflconv.tools.fuzz --count 100000 --official \\
        --save-crashes tests/fixtures/corrupt                   # the long run (docs/cli.md)

Mutates seed models built in code (float conv/fully-connected, int8 per-channel, a WHILE loop
with its subgraphs, TFLite model metadata with an appended associated-files ZIP, and with
`--official` the same models from TensorFlow's own converter) and feeds every mutant to each
target:

- `reader`:   `tflite.reader.read_flatbuffer` (which also runs the IR verifier);
- `inspect`:  `tools.inspect.inspect_model` + `format_report` + the JSON dump;
- `metadata`: `read_model_metadata`, `metadata_entries`, `add_metadata`, `remove_metadata`;
- `parser`:   the IR text parser + verifier, on mutated printed IR of the seeds;
- `analyze`:  `tools.analyze.analyze_tflite` (what `tflconv analyze MODEL.tflite` runs).

A target may refuse an input only with its documented error class (`ReadError`,
`InspectError`, `MetadataError`, `ParseError`, `VerifyError`); anything else, or an input
that takes longer than `--hang-seconds`, is a finding. Mutant `i` of a run depends only on
(`--seed`, target, `i`), so a finding replays alone with `--only-index`. `--save-crashes DIR`
writes each finding's input there (`tests/fixtures/corrupt/` is replayed by the test suite).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tflconv.core.diagnostics import VerifyError
from tflconv.core.lexer import ParseError
from tflconv.core.parser import parse_module
from tflconv.core.printer import print_module
from tflconv.core.verifier import verify
from tflconv.tflite.metadata import (
    AssociatedFile,
    MetadataError,
    ModelInfo,
    TensorInfo,
    add_metadata,
    metadata_entries,
    read_model_metadata,
    remove_metadata,
)
from tflconv.tflite.reader import ReadError, read_flatbuffer
from tflconv.tflite.writer import write_flatbuffer
from tflconv.tools.analyze import AnalyzeError, analyze_tflite
from tflconv.tools.inspect import InspectError, format_report, inspect_model

DOCUMENTED_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "reader": (ReadError,),
    "inspect": (InspectError,),
    "metadata": (MetadataError,),
    "parser": (ParseError, VerifyError),
    "analyze": (AnalyzeError,),
}
"""The error classes each target may raise on a bad input (its documented contract)."""

# --- seeds ---------------------------------------------------------------------------------------

_FLOAT = """\
module attributes {description = "float seed"} {
  func.func @main(%x: tensor<1x6x6x2xf32>) -> (tensor<1x4xf32>) attributes {entry = true, \
signature_key = "serving_default", input_names = ["x"], output_names = ["y"]} {
    %w = "arith.constant"() {value = dense<0.25> : tensor<3x2x2x2xf32>} : () -> tensor<3x2x2x2xf32>
    %b = "arith.constant"() {value = dense<[0.5, -0.5, 1.0]> : tensor<3xf32>} : () -> tensor<3xf32>
    %conv = "tfl.conv_2d"(%x, %w, %b) {dilation_h_factor = 1, dilation_w_factor = 1, \
fused_activation_function = "RELU", padding = "SAME", stride_h = 1, stride_w = 1} : \
(tensor<1x6x6x2xf32>, tensor<3x2x2x2xf32>, tensor<3xf32>) -> tensor<1x6x6x3xf32>
    %s = "arith.constant"() {value = dense<[1, -1]> : tensor<2xi32>} : () -> tensor<2xi32>
    %r = "tfl.reshape"(%conv, %s) : (tensor<1x6x6x3xf32>, tensor<2xi32>) -> tensor<1x108xf32>
    %fw = "arith.constant"() {value = dense<1.0> : tensor<4x108xf32>} : () -> tensor<4x108xf32>
    %none = "tfl.no_value"() : () -> none
    %fc = "tfl.fully_connected"(%r, %fw, %none) {fused_activation_function = "NONE", \
keep_num_dims = false, weights_format = "DEFAULT"} : (tensor<1x108xf32>, tensor<4x108xf32>, none) \
-> tensor<1x4xf32>
    %y = "tfl.softmax"(%fc) {beta = 1.0} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    "func.return"(%y) : (tensor<1x4xf32>) -> ()
  }
}
"""

_Q_IN = "!quant.uniform<i8:f32, 0.0039:-128>"
_Q_W = "!quant.uniform<i8:f32:0, {0.0165:0, 0.0173:0, 0.0181:0}>"
_Q_B = "!quant.uniform<i32:f32:0, {0.0000647:0, 0.0000678:0, 0.0000709:0}>"
_Q_OUT = "!quant.uniform<i8:f32, 0.0327:-128>"
_INT8 = f"""\
module {{
  func.func @main(%x: tensor<1x4x4x2x{_Q_IN}>) -> (tensor<1x4x4x3xf32>) {{
    %w = "arith.constant"() {{value = dense<[[[[1, -2]], [[3, 4]]], [[[5, 6]], [[-7, 8]]], \
[[[9, 10]], [[11, -12]]]]> : tensor<3x2x1x2xi8>}} : () -> tensor<3x2x1x2x{_Q_W}>
    %b = "arith.constant"() {{value = dense<[7721, 7370, 7050]> : tensor<3xi32>}} : () -> \
tensor<3x{_Q_B}>
    %c = "tfl.conv_2d"(%x, %w, %b) {{dilation_h_factor = 1, dilation_w_factor = 1, \
fused_activation_function = "RELU", padding = "SAME", stride_h = 1, stride_w = 1}} : \
(tensor<1x4x4x2x{_Q_IN}>, tensor<3x2x1x2x{_Q_W}>, tensor<3x{_Q_B}>) -> tensor<1x4x4x3x{_Q_OUT}>
    %y = "tfl.dequantize"(%c) : (tensor<1x4x4x3x{_Q_OUT}>) -> tensor<1x4x4x3xf32>
    "func.return"(%y) : (tensor<1x4x4x3xf32>) -> ()
  }}
}}
"""

_WHILE = """\
module {
  func.func @main(%x: tensor<2xf32>, %n: tensor<i32>) -> (tensor<2xf32>) {
    %zero = "arith.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %i, %y, %m = "tfl.while"(%zero, %x, %n) {body_subgraph_index = @body, \
cond_subgraph_index = @cond} : (tensor<i32>, tensor<2xf32>, tensor<i32>) -> \
(tensor<i32>, tensor<2xf32>, tensor<i32>)
    "func.return"(%y) : (tensor<2xf32>) -> ()
  }
  func.func @cond(%a: tensor<i32>, %b: tensor<2xf32>, %c: tensor<i32>) -> (tensor<i1>) {
    %less = "tfl.less"(%a, %c) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "func.return"(%less) : (tensor<i1>) -> ()
  }
  func.func @body(%a: tensor<i32>, %b: tensor<2xf32>, %c: tensor<i32>) -> \
(tensor<i32>, tensor<2xf32>, tensor<i32>) {
    %one = "arith.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %a1 = "tfl.add"(%a, %one) {fused_activation_function = "NONE"} : \
(tensor<i32>, tensor<i32>) -> tensor<i32>
    %two = "arith.constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %b1 = "tfl.mul"(%b, %two) {fused_activation_function = "NONE"} : \
(tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
    "func.return"(%a1, %b1, %c) : (tensor<i32>, tensor<2xf32>, tensor<i32>) -> ()
  }
}
"""

SEED_TEXTS = {"float": _FLOAT, "int8": _INT8, "while": _WHILE}
"""IR text of the seed models the writer turns into .tflite files."""


def seed_models(official: bool = False) -> dict[str, bytes]:
    """name -> .tflite bytes of every seed (with `official`, also TensorFlow's converter's
    output for the same kinds of model: needs TensorFlow, takes a few seconds)."""
    seeds = {name: write_flatbuffer(parse_module(text)) for name, text in SEED_TEXTS.items()}
    labels = AssociatedFile("labels.txt", "the classes", "TENSOR_AXIS_LABELS", data=b"a\nb\nc\nd\n")
    info = ModelInfo(
        name="seed",
        description="metadata seed",
        author="tflconv",
        inputs=[TensorInfo(name="x", description="input")],
        outputs=[TensorInfo(name="y", label_files=[labels])],
        associated_files=[AssociatedFile("notes.txt", data=b"notes")],
    )
    seeds["metadata"] = add_metadata(seeds["float"], info)
    if official:
        seeds.update(_official_seeds_in_subprocess())
    return seeds


def _official_seeds_in_subprocess() -> dict[str, bytes]:
    """`official_seeds()` run in a child process, so TensorFlow's memory (~500 MB) is not
    counted in the fuzzing process's peak."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import sys; from pathlib import Path; from tflconv.tools.fuzz import official_seeds\n"
            "for k, v in official_seeds().items(): (Path(sys.argv[1]) / k).write_bytes(v)"
        )
        subprocess.run(
            [sys.executable, "-c", code, tmp], check=True, capture_output=True, timeout=600
        )
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def official_seeds() -> dict[str, bytes]:
    """Float, int8 and while-loop models from TensorFlow's own converter."""
    import numpy as np
    import tensorflow as tf  # heavy and optional: only the --official long run needs it

    @tf.function(input_signature=[tf.TensorSpec([1, 6, 6, 2], tf.float32)])
    def net(x):
        w = tf.constant(np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 2, 2, 3))
        y = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + 0.5)
        return tf.nn.softmax(tf.matmul(tf.reshape(y, [1, -1]), tf.ones([108, 4])))

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32), tf.TensorSpec([], tf.int32)])
    def loop(x, n):
        return tf.while_loop(lambda i, x: i < n, lambda i, x: (i + 1, x * 2.0 + 1.0), [0, x])[1]

    def converter(fn):
        return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)

    def dataset():
        rng = np.random.default_rng(0)
        for _ in range(4):
            yield [rng.random((1, 6, 6, 2), dtype=np.float32)]

    int8 = converter(net)
    int8.optimizations = [tf.lite.Optimize.DEFAULT]
    int8.representative_dataset = dataset
    int8.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    int8.inference_input_type = int8.inference_output_type = tf.int8
    return {
        "official-float": converter(net).convert(),
        "official-int8": int8.convert(),
        "official-while": converter(loop).convert(),
    }


# --- mutations -----------------------------------------------------------------------------------


def _interesting(data: bytes, old: int) -> list[int]:
    n = len(data)
    return [0, 1, 2, 3, 4, 8, 16, 255, -1, -2, 0x7FFFFFFF, -0x80000000, n, n - 4, n + 4,
            old + 1, old - 1, old * 2, old + 4, old - 4, 0xFFFF, 0x10000]  # fmt: skip


def mutate(data: bytes, rng: random.Random, donors: list[bytes]) -> bytes:
    """1-4 stacked mutations of `data`: 32-bit fields set to boundary values (offsets,
    indices, lengths, enum values), bit flips, random bytes, truncation, chunks deleted,
    duplicated or spliced in from another seed."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if len(buf) < 9:
            break
        kind = rng.random()
        if kind < 0.45:  # a FlatBuffer scalar (offsets, indices, vector lengths) at 4-alignment
            at = rng.randrange(0, len(buf) - 3) & ~3
            (old,) = struct.unpack_from("<i", buf, at)
            value = rng.choice(_interesting(buf, old))
            struct.pack_into("<I", buf, at, value & 0xFFFFFFFF)
        elif kind < 0.55:  # a small field (enum values, bools, int8 data)
            at = rng.randrange(len(buf))
            buf[at] = rng.choice((0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif kind < 0.7:
            at = rng.randrange(len(buf))
            buf[at] ^= 1 << rng.randrange(8)
        elif kind < 0.78:
            del buf[rng.randrange(8, len(buf)) :]
        elif kind < 0.86:
            at = rng.randrange(len(buf))
            del buf[at : at + rng.randrange(1, 64)]
        elif kind < 0.93:
            at = rng.randrange(len(buf))
            chunk = buf[at : at + rng.randrange(1, 64)]
            buf[at:at] = chunk
        else:
            donor = rng.choice(donors)
            start = rng.randrange(len(donor))
            chunk = donor[start : start + rng.randrange(1, 128)]
            at = rng.randrange(len(buf))
            buf[at : at + len(chunk)] = chunk
    return bytes(buf)


_TEXT_TOKENS = ["%", "@", "(", ")", "{", "}", "<", ">", "x", ",", ":", "=", '"', "-1", "0",
                "99999999999", "tensor", "none", "dense", "!quant.uniform", "->", "\n", "// -----",
                "func.func", "tfl.while", "i32", "f32", "?"]  # fmt: skip


def mutate_text(text: str, rng: random.Random, donors: list[str]) -> str:
    """IR text with 1-4 token-level edits (insert/delete/replace/duplicate/splice)."""
    s = text
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        if not s:
            break
        at = rng.randrange(len(s))
        kind = rng.random()
        if kind < 0.3:
            s = s[:at] + rng.choice(_TEXT_TOKENS) + s[at:]
        elif kind < 0.55:
            s = s[:at] + s[at + rng.randrange(1, 16) :]
        elif kind < 0.7:
            s = s[:at] + rng.choice(_TEXT_TOKENS) + s[at + rng.randrange(1, 8) :]
        elif kind < 0.8:
            end = at + rng.randrange(1, 80)
            s = s[:end] + s[at:end] + s[end:]
        elif kind < 0.9:
            donor = rng.choice(donors)
            start = rng.randrange(len(donor))
            s = s[:at] + donor[start : start + rng.randrange(1, 120)] + s[at:]
        else:
            raw = bytearray(s.encode())
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            s = raw.decode("utf-8", errors="replace")
    return s


# --- targets -------------------------------------------------------------------------------------


def _target_reader(data: bytes) -> None:
    read_flatbuffer(data)


def _target_inspect(data: bytes) -> None:
    report = inspect_model(data, top=3)
    format_report(report)
    json.dumps(report)


def _target_metadata(data: bytes) -> None:
    read_model_metadata(data)
    metadata_entries(data)
    remove_metadata(data)
    add_metadata(data, ModelInfo(name="fuzz"))


def _target_analyze(data: bytes) -> None:
    analyze_tflite(data)


def _target_parser(data: bytes) -> None:
    verify(parse_module(data.decode("utf-8", errors="replace"), "<fuzz>"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "reader": _target_reader,
    "inspect": _target_inspect,
    "metadata": _target_metadata,
    "parser": _target_parser,
    "analyze": _target_analyze,
}


# --- the run -------------------------------------------------------------------------------------


class Hang(Exception):
    """An input took longer than the hang limit."""


@dataclass
class Finding:
    target: str
    index: int
    seed_name: str
    error: str
    where: str
    data: bytes = field(repr=False)


@dataclass
class FuzzResult:
    inputs: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    slowest: float = 0.0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{t}: {n} inputs, {self.refused.get(t, 0)} refused with the documented error"
            for t, n in self.inputs.items()
        ]
        lines.append(
            f"{len(self.findings)} finding(s); slowest input {self.slowest:.2f} s; "
            f"{self.seconds:.1f} s; peak RSS {self.peak_rss_mb:.0f} MB"
        )
        for f in self.findings[:20]:
            lines.append(f"  [{f.target} #{f.index} from {f.seed_name}] {f.error} at {f.where}")
        return "\n".join(lines)


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the main thread after `seconds` (no-op off the main thread)."""

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    try:
        old = signal.signal(signal.SIGALRM, on_alarm)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_one(target: str, data: bytes, hang_seconds: float = 5.0) -> tuple[bool, str | None]:
    """Feed one input to a target: (refused with its documented error, finding or None)."""
    with _time_limit(hang_seconds):
        try:
            TARGETS[target](data)
        except DOCUMENTED_ERRORS[target] as e:
            _one_line(e)  # the message itself must render
            return True, None
        except Hang as e:
            return False, f"hang: {e}"
        except Exception as e:  # noqa: BLE001 (this is what the fuzzer looks for)
            return False, f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return False, None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _where(tb: BaseException | None) -> str:
    if tb is None or tb.__traceback__ is None:
        return "?"
    frame = traceback.extract_tb(tb.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"


def fuzz(
    targets: list[str] | None = None,
    count: int = 300,
    seed: int = 0,
    *,
    official: bool = False,
    hang_seconds: float = 5.0,
    only_index: int | None = None,
    save_crashes: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzResult:
    """Run `count` mutants through each target; returns what was found."""
    seeds = seed_models(official)
    names = sorted(seeds)
    texts = {n: print_module(read_flatbuffer(seeds[n]), elide_large=False) for n in names}
    result = FuzzResult()
    start = time.perf_counter()
    for target in targets or list(TARGETS):
        result.inputs[target] = result.refused[target] = 0
        indices = range(count) if only_index is None else [only_index]
        for i in indices:
            rng = random.Random(f"{seed}:{target}:{i}")
            name = rng.choice(names)
            if target == "parser":
                data = mutate_text(texts[name], rng, list(texts.values())).encode()
            else:
                data = mutate(seeds[name], rng, list(seeds.values()))
            t = time.perf_counter()
            refused, finding = run_one(target, data, hang_seconds)
            result.slowest = max(result.slowest, time.perf_counter() - t)
            result.inputs[target] += 1
            result.refused[target] += refused
            if finding is not None:
                where = _replay_where(target, data, hang_seconds)
                result.findings.append(Finding(target, i, name, finding, where, data))
                if save_crashes is not None:
                    _save(Path(save_crashes), target, data)
            if progress is not None and i and i % 10000 == 0:
                progress(f"{target}: {i} inputs, {len(result.findings)} finding(s)")
    result.seconds = time.perf_counter() - start
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _replay_where(target: str, data: bytes, hang_seconds: float) -> str:
    """file:line of the failure, from a second run (bounded, like the first)."""
    try:
        with _time_limit(hang_seconds):
            TARGETS[target](data)
    except Exception as e:  # noqa: BLE001
        return _where(e)
    return "?"


def _save(directory: Path, target: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    ext = "mlir.txt" if target == "parser" else "tflite"
    path = directory / f"{target}-{hashlib.sha1(data).hexdigest()[:12]}.{ext}"
    path.write_bytes(data)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tflconv.tools.fuzz", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--target", action="append", choices=list(TARGETS), help="default: all")
    p.add_argument("--count", type=int, default=300, help="mutants per target")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--official", action="store_true", help="add TensorFlow-converted seeds")
    p.add_argument("--hang-seconds", type=float, default=5.0)
    p.add_argument("--only-index", type=int, help="replay one mutant (with --target)")
    p.add_argument("--save-crashes", metavar="DIR", help="write each finding's input here")
    args = p.parse_args(argv)
    result = fuzz(
        args.target,
        args.count,
        args.seed,
        official=args.official,
        hang_seconds=args.hang_seconds,
        only_index=args.only_index,
        save_crashes=args.save_crashes,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(result.summary())
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
