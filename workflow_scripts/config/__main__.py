"""``python -m workflow_scripts.config [OVERLAY.yaml ...]``: see :mod:`workflow_scripts.config.cli`."""

import sys

from workflow_scripts.config.cli import main

if __name__ == "__main__":
    sys.exit(main())
