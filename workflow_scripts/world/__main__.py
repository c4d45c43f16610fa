"""``python -m workflow_scripts.world ...``: see :mod:`workflow_scripts.world.cli`."""

import sys

from workflow_scripts.world.cli import main

if __name__ == "__main__":
    sys.exit(main())
