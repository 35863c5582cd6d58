"""Every transformation, one registered pass per module. Importing this package registers them."""

from . import check_tflite_legal, legalize_tf  # noqa: F401
