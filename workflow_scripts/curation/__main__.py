"""``python -m workflow_scripts.curation ...``: see :mod:`workflow_scripts.curation.cli`."""

import sys

from workflow_scripts.curation.cli import main

if __name__ == "__main__":
    sys.exit(main())
