"""Evaluation sets: one loader per benchmark, normalised to the record of docs/architecture.md.

The same loaders feed evaluation (first ``limit`` rows) and decontamination (all rows).
"""

from workflow_scripts.data.benchmarks import (
    BENCHMARKS,
    DataError,
    gpqa_choice_order,
    load_benchmark,
    normalise_benchmark,
)
from workflow_scripts.data.sources import load_rows

__all__ = [
    "BENCHMARKS", "DataError", "gpqa_choice_order", "load_benchmark",
    "normalise_benchmark", "load_rows",
]
