"""``python -m valsync.dashboard``: the dashboard without going through the valsync CLI."""

import sys

from valsync.dashboard import main_dashboard

sys.exit(main_dashboard(sys.argv[1:]))
