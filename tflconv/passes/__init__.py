"""Every transformation, one registered pass per module. Importing this package registers them,
and the named pipelines below."""

from tflconv.core.pipeline import register_pipeline

from . import (  # noqa: F401
    canonicalize,
    check_tflite_legal,
    cse,
    custom_ops,
    dce,
    fold_tf,
    fuse,
    legalize_tf,
    lower_tensor_lists,
    quantize,
    select_tf_ops,
    simplify_tfl,
)

CLEANUP_PIPELINE = "canonicalize,cse,dce"
DEFAULT_PIPELINE = (
    "canonicalize,lower-tensor-lists,legalize-tf,canonicalize,fuse,simplify-tfl,cse,dce,"
    "check-tflite-legal"
)
"""What `tflconv convert` runs on a float model; compatibility flags add select-tf-ops and
custom-ops after legalize-tf (tflconv/api/compat.py), quantization runs after it."""

register_pipeline("cleanup", CLEANUP_PIPELINE, "Constant folding, CSE and dead-code removal.")
register_pipeline("default", DEFAULT_PIPELINE, "The float TF -> TFLite conversion pipeline.")
