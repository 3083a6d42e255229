"""``python -m airoute.gateway``: the same as ``airoute gateway``."""

import sys

from airoute.gateway.cli import main

sys.exit(main())
