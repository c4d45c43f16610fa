"""``python -m workflow_scripts.training ...``: see :mod:`workflow_scripts.training.cli`."""

import sys

from workflow_scripts.training.cli import main

if __name__ == "__main__":  # guarded: torch.distributed.run re-launches this module per GPU
    sys.exit(main())
