"""``python -m logmetrics``."""

import sys

from logmetrics.cli import main

sys.exit(main())
