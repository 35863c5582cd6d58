"""Every transformation, one registered pass per module. Importing this package registers them."""

from . import check_tflite_legal, legalize_tf  # noqa: F401
from . import canonicalize, cse, dce  # noqa: F401
from . import lower_tensor_lists  # noqa: F401
from . import fuse  # noqa: F401
from . import fold_tf, simplify_tfl  # noqa: F401
from . import custom_ops, select_tf_ops  # noqa: F401
from . import quantize  # noqa: F401
