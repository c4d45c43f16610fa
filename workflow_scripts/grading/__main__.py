"""``python -m workflow_scripts.grading --benchmark B --input IN.jsonl --output OUT.jsonl``."""

from workflow_scripts.grading.cli import main

if __name__ == "__main__":  # guarded: the math-verify worker is spawned and re-imports __main__
    raise SystemExit(main())
