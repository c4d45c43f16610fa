"""``python -m workflow_scripts.data ...``: see :mod:`workflow_scripts.data.cli`."""

import sys

from workflow_scripts.data.cli import main

if __name__ == "__main__":
    sys.exit(main())
