import sys

from workflow_scripts.generation.cli import main

# The guard matters: vLLM may spawn worker processes that re-import the main module.
if __name__ == "__main__":
    sys.exit(main())
