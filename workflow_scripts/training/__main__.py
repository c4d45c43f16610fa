import sys

from workflow_scripts.training.cli import main

sys.exit(main())
