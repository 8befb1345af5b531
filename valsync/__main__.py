"""``python -m valsync`` is the ``valsync`` command."""

import sys

from valsync.cli import main

sys.exit(main())
