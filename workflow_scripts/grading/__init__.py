"""Offline, deterministic graders for MATH500, AIME24 and GPQA-Diamond."""

from workflow_scripts.grading.dispatch import BENCHMARKS, grade_record, grade_records, grade_response

__all__ = ["BENCHMARKS", "grade_record", "grade_records", "grade_response"]
