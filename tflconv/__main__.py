"""`python -m tflconv ...` runs the command line."""

import sys

from tflconv.cli import main

sys.exit(main())
