"""Every transformation, one registered pass per module. Importing this package registers them,
and the named pipelines below."""

from tflconv.core.pipeline import register_pipeline

from . import lower_tensor_lists, quantize, simplify_tfl  # noqa: F401
from .cleanup import canonicalize, cse, dce, fold_tf  # noqa: F401
from .compat import check_tflite_legal, custom_ops, select_tf_ops  # noqa: F401
from .fuse import pass_ as fuse_pass  # noqa: F401
from .fuse_recurrent import FuseRecurrent  # noqa: F401
from .legalize_stablehlo import pass_ as legalize_stablehlo_pass  # noqa: F401
from .legalize_tf import pass_ as legalize_tf_pass  # noqa: F401

CLEANUP_PIPELINE = "canonicalize,cse,dce"
DEFAULT_PIPELINE = (
    "canonicalize,lower-tensor-lists,legalize-tf,legalize-stablehlo,canonicalize,fuse,"
    "simplify-tfl,cse,fuse-recurrent,dce,check-tflite-legal"
)
"""What `tflconv convert` runs on a float model with default flags; `tflconv/api/pipeline.py`
builds the pipeline for any `ConversionConfig` (this text gives the same passes)."""

register_pipeline("cleanup", CLEANUP_PIPELINE, "Constant folding, CSE and dead-code removal.")
register_pipeline("default", DEFAULT_PIPELINE, "The float TF -> TFLite conversion pipeline.")
