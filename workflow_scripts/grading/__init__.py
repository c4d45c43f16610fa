"""Offline, deterministic graders for MATH500, AIME24 and GPQA-Diamond (docs/grading.md)."""

from workflow_scripts.grading.dispatch import (
    BENCHMARKS, canonical_benchmark, grade_record, grade_records, grade_response,
)
from workflow_scripts.grading.worker import Grader

__all__ = ["BENCHMARKS", "Grader", "canonical_benchmark", "grade_record", "grade_records", "grade_response"]
