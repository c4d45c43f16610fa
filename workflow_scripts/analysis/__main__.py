"""``python -m workflow_scripts.analysis {metrics,plots,report} ...``."""

from workflow_scripts.analysis.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
