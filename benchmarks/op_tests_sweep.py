"""TensorFlow Lite's own op-level conformance cases, run with tflconv and the official converter.

The cases are LiteRT's `tflite/testing/op_tests/*.py` (the generated-examples zip tests): each
file registers a `make_*_tests(options)` function that crosses a parameter grid and, for each
combination, builds a TF1 graph of placeholders, computes TensorFlow's outputs for seeded random
inputs, saves a SavedModel with a `serving_default` signature and converts it the way LiteRT's
`mlir_convert.py` does (`from_saved_model`; `fully_quantize` cases: int8 or 16x8 with 100
uniform calibration samples in `input_range`; `dynamic_range_quantize`: Optimize.DEFAULT). The
converted model runs in LiteRT on TensorFlow's inputs and each output is checked with LiteRT's
test-driver thresholds (error when |diff| > 1e-4 for |expected| < 1e-2, else when
|diff| > 1e-2 * |expected|; fully quantized cases 0.1 / 0.2; integers and booleans exact).

The op_tests sources are not part of this repository: point `--litert-dir` at a checkout of
https://github.com/google-ai-edge/LiteRT (only `tflite/testing/op_tests/` is read). The modules
import `tflite.testing.zip_test_utils`; this script provides its own small implementation of the
names they use (`make_zip_of_tests`, `create_tensor_data`, ...), which runs the cases instead of
writing zip files.

    python benchmarks/op_tests_sweep.py --litert-dir ../LiteRT --list
    python benchmarks/op_tests_sweep.py --litert-dir ../LiteRT --official --json sweep.json
    python benchmarks/op_tests_sweep.py --litert-dir ../LiteRT --tests conv,pool --max-cases 0
    python benchmarks/op_tests_sweep.py --litert-dir ../LiteRT --tests conv --match "quant_16x8=True"
    python benchmarks/op_tests_sweep.py --report sweep.json

Each op_tests module runs in its own process (a crash costs one module). `--max-cases N` takes
N evenly spaced combinations of each module's grid (0: all of them).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import re
import string
import subprocess
import sys
import tempfile
import time
import traceback
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

RANDOM_SEED = 342  # zip_test_utils' seed
OP_TESTS = Path("tflite/testing/op_tests")
WHO = ("ours", "official")


# ---------------------------------------------------------------------------------------------
# The names the op_tests modules import from tflite.testing.zip_test_utils


class ExtraConvertOptions:
    def __init__(self) -> None:
        self.drop_control_dependency = False
        self.allow_custom_ops = False
        self.rnn_states = None
        self.split_tflite_lstm_inputs = None
        self.inference_input_type = None
        self.inference_output_type = None


class Options:
    """generate_examples_lib.Options as the default generated tests set it."""

    def __init__(self) -> None:
        self.run_with_flex = False
        self.make_edgetpu_tests = False
        self.make_tf_ptq_tests = False
        self.hlo_aware_conversion = True
        self.known_bugs: dict[str, str] = {}
        self.make_forward_compat_test = False
        self.no_tests_limit = True
        self.multi_gen_state = None
        self.mlir_quantizer = False
        self.expected_ops_in_converted_model: list[str] = []
        self.skip_high_dimension_inputs = False
        self.enable_dynamic_update_slice = False
        self.unfold_batchmatmul = False
        self.experimental_low_bit_qat = False
        self.experimental_unsafe_single_batch_rank_reduction = False
        self.use_experimental_converter = True
        self.zip_to_output = ""
        # Some modules wrap it to check the converted model (gelu: one GELU op).
        self.tflite_convert_function = mlir_convert


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _numpy_types() -> dict[Any, Any]:
    tf = _tf()
    return {
        tf.float16: np.float16,
        tf.float32: np.float32,
        tf.float64: np.float64,
        tf.complex64: np.complex64,
        tf.complex128: np.complex128,
        tf.int32: np.int32,
        tf.uint32: np.uint32,
        tf.uint8: np.uint8,
        tf.int8: np.int8,
        tf.uint16: np.uint16,
        tf.int16: np.int16,
        tf.int64: np.int64,
        tf.bool: np.bool_,
        tf.string: np.bytes_,
    }


def create_tensor_data(
    dtype: Any, shape: Any, min_value: float = -100, max_value: float = 100
) -> np.ndarray:
    tf = _tf()
    dtype = _numpy_types().get(dtype, dtype)
    if dtype in (tf.float32, tf.float16, tf.float64):
        value = (max_value - min_value) * np.random.random_sample(shape) + min_value
    elif dtype in (tf.complex64, tf.complex128):
        real = (max_value - min_value) * np.random.random_sample(shape) + min_value
        imag = (max_value - min_value) * np.random.random_sample(shape) + min_value
        value = real + imag * 1j
    elif dtype in (tf.uint32, tf.int32, tf.uint8, tf.int8, tf.int64, tf.uint16, tf.int16):
        value = np.random.randint(min_value, max_value + 1, shape)
    elif dtype == tf.bool:
        value = np.random.choice([True, False], size=shape)
    elif dtype == np.bytes_:
        return np.random.choice(list(string.ascii_uppercase), size=shape).astype(dtype)
    elif dtype == tf.bfloat16:
        import ml_dtypes

        value = (max_value - min_value) * np.random.random_sample(shape) + min_value
        dtype = ml_dtypes.bfloat16
    else:
        raise ValueError(f"Unsupported dtype: {dtype}")
    return np.dtype(dtype).type(value) if np.isscalar(value) else value.astype(dtype)


def create_scalar_data(dtype: Any, min_value: float = -100, max_value: float = 100) -> np.ndarray:
    tf = _tf()
    dtype = _numpy_types().get(dtype, dtype)
    if dtype in (tf.float32, tf.float16, tf.float64):
        value: Any = (max_value - min_value) * np.random.random() + min_value
    elif dtype in (tf.int32, tf.uint8, tf.int64, tf.int16):
        value = np.random.randint(min_value, max_value + 1)
    elif dtype == tf.bool:
        value = np.random.choice([True, False])
    elif dtype == np.bytes_:
        length = np.random.randint(1, 6)
        value = "".join(np.random.choice(list(string.ascii_uppercase), size=length))
    else:
        raise ValueError(f"Unsupported dtype: {dtype}")
    return np.array(value, dtype=dtype)


_MAKE_TEST_FUNCTIONS: dict[str, Any] = {}


def register_make_test_function(name: str | None = None) -> Any:
    def decorate(fn: Any) -> Any:
        _MAKE_TEST_FUNCTIONS[name or fn.__name__] = fn
        return fn

    return decorate


class _Run:
    """What the current module's cases produced (set by the worker)."""

    max_cases = 0
    official = False
    who = "ours"
    match = ""
    results: list[dict[str, Any]] = []
    module = ""


def make_zip_of_tests(
    options: Options,
    test_parameters: list[dict[str, list[Any]]],
    make_graph: Any,
    make_test_inputs: Any,
    extra_convert_options: ExtraConvertOptions | None = None,
    use_frozen_graph: bool = False,
    expected_tf_failures: int = 0,
) -> None:
    del use_frozen_graph, expected_tf_failures
    extra = extra_convert_options or ExtraConvertOptions()
    combos = [
        dict(zip(grid.keys(), values))
        for grid in test_parameters
        for values in itertools.product(*grid.values())
    ]
    if _Run.match:
        combos = [c for c in combos if re.search(_Run.match, _label(c))]
    if _Run.max_cases and len(combos) > _Run.max_cases:
        picks = np.linspace(0, len(combos) - 1, _Run.max_cases).round().astype(int)
        combos = [combos[i] for i in sorted(set(picks.tolist()))]
    seen = set()
    for params in combos:
        label = _label(params)
        if label in seen:
            continue
        seen.add(label)
        result = {"module": _Run.module, "test": options.zip_to_output, "label": label}
        result.update(_run_case(options, params, make_graph, make_test_inputs, extra))
        _Run.results.append(result)


def _label(params: dict[str, Any]) -> str:
    """LiteRT's case label: `key=repr(value)` pairs, sorted, without spaces."""
    return ",".join(f"{k}={v!r}" for k, v in sorted(params.items())).replace(" ", "")


# ---------------------------------------------------------------------------------------------
# One case


def _build(
    params: dict[str, Any], make_graph: Any, make_test_inputs: Any, saved_model_dir: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[Any]]:
    tf = _tf()
    from tensorflow.python.saved_model import signature_constants

    np.random.seed(RANDOM_SEED)
    tf.compat.v1.reset_default_graph()
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            inputs, outputs = make_graph(params)
            inputs = [x for x in inputs if x is not None]
        sess = tf.compat.v1.Session()
        values_in, values_out = make_test_inputs(params, sess, inputs, outputs)
        values_in = [x for x in values_in if x is not None]
        in_names = [t.name.split(":")[0] for t in inputs]
        out_names = [t.name.split(":")[0] if t.name.endswith(":0") else t.name for t in outputs]
        build_info = tf.compat.v1.saved_model.utils.build_tensor_info
        signature = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={n: build_info(t) for n, t in zip(in_names, inputs)},
            outputs={n: build_info(t) for n, t in zip(out_names, outputs)},
            method_name="op_test",
        )
        builder = tf.compat.v1.saved_model.builder.SavedModelBuilder(saved_model_dir)
        builder.add_meta_graph_and_variables(
            sess,
            [tf.saved_model.SERVING],
            signature_def_map={signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature},
            strip_default_attrs=True,
        )
        builder.save(as_text=False)
        specs = [(n, t.shape, t.dtype) for n, t in zip(in_names, inputs)]
    return dict(zip(in_names, values_in)), dict(zip(out_names, values_out)), specs


def mlir_convert(
    options: Options,
    saved_model_dir: str,
    input_tensors: list[Any],
    output_tensors: list[Any],
    **kwargs: Any,
) -> tuple[bytes | None, str]:
    """LiteRT's `mlir_convert` signature, converting with `_Run.who`'s converter."""
    del options, output_tensors
    try:
        return _convert(
            _Run.who,
            saved_model_dir,
            kwargs.get("test_params", {}),
            kwargs.get("extra_convert_options") or ExtraConvertOptions(),
            input_tensors,
        ), ""
    except Exception as exc:  # noqa: BLE001 - the wrappers read the log
        return None, " ".join(str(exc).split())[:300] or type(exc).__name__


def _convert(
    who: str,
    saved_model_dir: str,
    params: dict[str, Any],
    extra: ExtraConvertOptions,
    specs: list[Any],
) -> bytes:
    """As LiteRT's mlir_convert.py configures the official converter."""
    tf = _tf()
    if who == "ours":
        import tflconv as lib
    else:
        lib = tf.lite
    conv = lib.TFLiteConverter.from_saved_model(saved_model_dir, ["serving_default"])
    conv.allow_custom_ops = extra.allow_custom_ops
    if params.get("dynamic_range_quantize", False):
        conv.optimizations = [lib.Optimize.DEFAULT]
    if params.get("fully_quantize", False):
        conv.optimizations = [lib.Optimize.DEFAULT]
        low, high = params.get("input_range", (-1, 1))
        rng = np.random.RandomState(RANDOM_SEED)

        def representative_dataset() -> Any:
            for _ in range(100):
                yield {
                    name: rng.uniform(
                        low, high, tuple(1 if d is None else d for d in shape.as_list())
                    ).astype(dtype.as_numpy_dtype)
                    for name, shape, dtype in specs
                    if shape
                }

        if params.get("quant_16x8", False):
            conv.target_spec.supported_ops = [
                lib.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
        else:
            conv.target_spec.supported_ops = [lib.OpsSet.TFLITE_BUILTINS_INT8]
        conv.representative_dataset = representative_dataset
        if extra.inference_input_type:
            conv.inference_input_type = extra.inference_input_type
        if extra.inference_output_type:
            conv.inference_output_type = extra.inference_output_type
    return conv.convert()


def _large_errors(got: np.ndarray, want: np.ndarray, relative: float, absolute: float) -> int:
    """How many elements LiteRT's test driver would reject (tflite_driver.cc)."""
    if want.dtype.kind in "fc":
        got = got.astype(np.complex128 if want.dtype.kind == "c" else np.float64)
        want = want.astype(got.dtype)
        diff = np.abs(got - want)
        small = np.abs(want) < relative
        bad = np.where(small, diff > absolute, diff > relative * np.abs(want))
        both_nan = np.isnan(got) & np.isnan(want)
        return int(np.count_nonzero(bad & ~both_nan))
    return int(np.count_nonzero(got != want))


def _check(
    tflite: bytes, feeds: dict[str, np.ndarray], expected: dict[str, np.ndarray], quantized: bool
) -> str:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite, num_threads=1)
    # Tensor by tensor rather than through the signature runner: an input TensorFlow's case
    # leaves unfed (an unread placeholder) stays at its zeros, as in LiteRT's test driver.
    signature = interp._get_full_signature_list()["serving_default"]  # noqa: SLF001
    details = {d["index"]: d for d in interp.get_input_details()}
    inputs = {name: details[index] for name, index in signature["inputs"].items()}
    outputs = signature["outputs"]
    for name, value in feeds.items():
        if name not in inputs:
            return f"run: input {name!r} not in the signature ({sorted(inputs)})"
        value = np.asarray(value)
        if list(value.shape) != list(inputs[name]["shape"]):
            interp.resize_tensor_input(inputs[name]["index"], list(value.shape))
    try:
        interp.allocate_tensors()
        for name, value in feeds.items():
            interp.set_tensor(
                inputs[name]["index"], np.asarray(value).astype(inputs[name]["dtype"])
            )
        interp.invoke()
    except Exception as exc:  # noqa: BLE001 - the runtime's refusal is the result
        return f"run: {str(exc).splitlines()[0][:200]}"
    shapes = {d["index"]: (d["shape"], d["dtype"]) for d in interp.get_output_details()}
    got = {}
    for name, index in outputs.items():
        shape, dtype = shapes[index]
        # LiteRT's Python get_tensor refuses a tensor with no elements.
        got[name] = np.zeros(shape, dtype) if 0 in shape else interp.get_tensor(index)
    relative, absolute = (0.2, 0.1) if quantized else (1e-2, 1e-4)
    for name, want in expected.items():
        want = np.asarray(want)
        if name not in got:
            return f"output {name!r} missing ({sorted(got)})"
        have = np.asarray(got[name])
        if have.size != want.size:
            return f"output {name!r}: shape {list(have.shape)} vs TF's {list(want.shape)}"
        if want.dtype.kind in "SUO":
            if [bytes(v) if not isinstance(v, bytes) else v for v in have.ravel()] != [
                v if isinstance(v, bytes) else str(v).encode() for v in want.ravel()
            ]:
                return f"output {name!r}: strings differ"
            continue
        bad = _large_errors(have.reshape(want.shape), want, relative, absolute)
        if bad:
            diff = np.abs(have.reshape(want.shape).astype(np.float64) - want.astype(np.float64))
            return (
                f"mismatch {name!r}: {bad}/{want.size} elements, max |diff| {np.nanmax(diff):.3g}"
            )
    return "ok"


def _run_case(
    options: Options,
    params: dict[str, Any],
    make_graph: Any,
    make_test_inputs: Any,
    extra: ExtraConvertOptions,
) -> dict[str, Any]:
    tf = _tf()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="op_test") as tmp:
        saved = os.path.join(tmp, "saved_model")
        try:
            feeds, expected, specs = _build(params, make_graph, make_test_inputs, saved)
        except (
            tf.errors.UnimplementedError,
            tf.errors.InvalidArgumentError,
            ValueError,
            TypeError,
        ) as exc:
            # An invalid combination: TensorFlow refuses it too.
            return {"tf": f"fails: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"}
        out["tf"] = "ok"
        quantized = bool(params.get("fully_quantize", False))
        for who in WHO if _Run.official else WHO[:1]:
            start = time.perf_counter()
            _Run.who = who
            try:
                np.random.seed(RANDOM_SEED)
                tflite, log = options.tflite_convert_function(
                    options,
                    saved,
                    specs,
                    list(expected),
                    extra_convert_options=extra,
                    test_params=params,
                )
            except Exception as exc:  # noqa: BLE001 - a wrapper's check failed
                tflite, log = None, " ".join(str(exc).split())[:300] or type(exc).__name__
            out[f"{who}_seconds"] = round(time.perf_counter() - start, 4)
            if tflite is None:
                out[who] = f"convert: {log}"
                continue
            try:
                out[who] = _check(tflite, feeds, expected, quantized)
            except Exception as exc:  # noqa: BLE001
                out[who] = f"run: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return out


# ---------------------------------------------------------------------------------------------
# One module (in a child process)


def _install_shims() -> None:
    tf = _tf()
    utils = types.ModuleType("tflite.testing.zip_test_utils")
    for name in (
        "ExtraConvertOptions",
        "create_tensor_data",
        "create_scalar_data",
        "register_make_test_function",
        "make_zip_of_tests",
    ):
        setattr(utils, name, globals()[name])
    utils.MAP_TF_TO_NUMPY_TYPE = _numpy_types()
    python = types.ModuleType("tflite.python")
    python.lite = tf.lite
    testing = types.ModuleType("tflite.testing")
    testing.zip_test_utils = utils
    root = types.ModuleType("tflite")
    root.testing, root.python = testing, python
    sys.modules.update(
        {
            "tflite": root,
            "tflite.testing": testing,
            "tflite.python": python,
            "tflite.python.lite": tf.lite,
            "tflite.testing.zip_test_utils": utils,
            "tflite.testing.op_tests": types.ModuleType("tflite.testing.op_tests"),
        }
    )


def run_module(litert_dir: Path, module: str) -> list[dict[str, Any]]:
    _install_shims()
    path = litert_dir / OP_TESTS / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"tflite.testing.op_tests.{module}", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    before = set(_MAKE_TEST_FUNCTIONS)
    spec.loader.exec_module(mod)
    _Run.module = module
    for name in sorted(set(_MAKE_TEST_FUNCTIONS) - before):
        options = Options()
        options.zip_to_output = name.removeprefix("make_").removesuffix("_tests")
        try:
            _MAKE_TEST_FUNCTIONS[name](options)
        except Exception as exc:  # noqa: BLE001 - a broken generator costs its own row
            _Run.results.append(
                {
                    "module": module,
                    "test": options.zip_to_output,
                    "label": "",
                    "tf": f"generator: {type(exc).__name__}: {exc}"[:300],
                    "trace": traceback.format_exc()[-800:],
                }
            )
    return _Run.results


def _child(litert_dir: Path, module: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    # LiteRT's RNN cases build tf.compat.v1 cells, which Keras 3 no longer has.
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        module,
        "--litert-dir",
        str(litert_dir),
        "--max-cases",
        str(args.max_cases),
        "--match",
        args.match,
    ] + (["--official"] if args.official else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return [
            {
                "module": module,
                "test": module,
                "label": "",
                "tf": "ok",
                "ours": f"timeout after {args.timeout} s",
            }
        ]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
        return [
            {
                "module": module,
                "test": module,
                "label": "",
                "tf": "ok",
                "ours": f"crashed (exit code {proc.returncode}): {tail}",
            }
        ]
    return json.loads(lines[-1])["results"]


# ---------------------------------------------------------------------------------------------
# Report


def _bucket(status: str | None) -> str:
    if status is None:
        return "-"
    return "ok" if status == "ok" else status.split(":")[0].split(" ")[0]


def report(results: list[dict[str, Any]]) -> str:
    valid = [r for r in results if r.get("tf") == "ok"]
    lines = [f"{len(valid)} cases TensorFlow runs ({len(results) - len(valid)} it refuses)."]
    has_official = any("official" in r for r in valid)
    for who in WHO if has_official else WHO[:1]:
        ok = sum(r.get(who) == "ok" for r in valid)
        lines.append(f"{who}: {ok} pass ({100 * ok / max(len(valid), 1):.1f} %)")
    if has_official:
        pairs = {("ok", "ok"): 0, ("ok", "fail"): 0, ("fail", "ok"): 0, ("fail", "fail"): 0}
        for r in valid:
            key = (
                "ok" if r.get("ours") == "ok" else "fail",
                "ok" if r.get("official") == "ok" else "fail",
            )
            pairs[key] += 1
        lines.append("ours/official: " + ", ".join(f"{a}/{b} {n}" for (a, b), n in pairs.items()))
    lines += [
        "",
        "| test | cases | ours ok | official ok | ours fails where official passes |",
        "|---|---|---|---|---|",
    ]
    by_test: dict[str, list[dict[str, Any]]] = {}
    for r in valid:
        by_test.setdefault(r["test"], []).append(r)
    for test, rows in sorted(by_test.items()):
        ours = sum(r.get("ours") == "ok" for r in rows)
        official = sum(r.get("official") == "ok" for r in rows) if has_official else "-"
        worse = [
            r
            for r in rows
            if r.get("ours") != "ok" and (r.get("official") == "ok" or not has_official)
        ]
        example = f"{len(worse)}: {worse[0].get('ours')} [{worse[0]['label']}]" if worse else ""
        lines.append(f"| {test} | {len(rows)} | {ours} | {official} | {example[:240]} |")
    broken = [r for r in results if str(r.get("tf", "")).startswith("generator")]
    for r in broken:
        lines.append(f"\ngenerator of {r['test']} failed: {r['tf']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--litert-dir", type=Path, default=Path(os.environ.get("LITERT_DIR", "../LiteRT"))
    )
    parser.add_argument("--tests", default="", help="comma-separated op_tests modules")
    parser.add_argument(
        "--max-cases", type=int, default=24, help="evenly spaced combinations per module (0: all)"
    )
    parser.add_argument("--official", action="store_true", help="also the official converter")
    parser.add_argument("--match", default="", help="only cases whose label matches (regex)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--report", type=Path, nargs="*")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.report:
        results = [r for path in args.report for r in json.loads(path.read_text())["results"]]
        print(report(results))
        return 0
    if args.worker:
        _Run.max_cases, _Run.official, _Run.match = args.max_cases, args.official, args.match
        print(json.dumps({"results": run_module(args.litert_dir, args.worker)}, default=str))
        return 0
    folder = args.litert_dir / OP_TESTS
    if not folder.is_dir():
        print(
            f"error: {folder} not found: --litert-dir must point at a LiteRT checkout "
            "(https://github.com/google-ai-edge/LiteRT)",
            file=sys.stderr,
        )
        return 2
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    if args.tests:
        wanted = args.tests.split(",")
        unknown = sorted(set(wanted) - set(modules))
        if unknown:
            print(f"error: unknown op_tests modules {unknown}; see --list", file=sys.stderr)
            return 2
        modules = wanted
    if args.list:
        print("\n".join(modules))
        return 0
    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for module, rows in zip(
            modules, pool.map(lambda m: _child(args.litert_dir, m, args), modules)
        ):
            results += rows
            ours = sum(r.get("ours") == "ok" for r in rows if r.get("tf") == "ok")
            total = sum(r.get("tf") == "ok" for r in rows)
            print(f"{module}: ours {ours}/{total}", file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps({"results": results}, indent=1, default=str))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
