"""``python -m digitpad.cli``: the same command as ``digitpad``."""

import sys

from . import main

sys.exit(main())
