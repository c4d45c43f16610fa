"""Command line: grade a JSONL file (user responses or a generation shard)."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from workflow_scripts.errors import report_user_error
from workflow_scripts.grading.dispatch import BENCHMARK_NAMES, canonical_benchmark, grade_records
from workflow_scripts.grading.settings import GRADING_DEFAULTS, grading_settings
from workflow_scripts.grading.worker import Grader
from workflow_scripts.io import read_jsonl, write_jsonl


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workflow_scripts.grading",
        description="Grade responses. Each input line has id, response (or a shard's answer_text) and gold "
        "(GPQA: the gold letter, or gold_letter); the output adds extracted, correct, parse_failed, "
        "parse_reason, grade_method and answer_source (docs/grading.md).",
    )
    parser.add_argument("--benchmark", required=True, help=f"one of {', '.join(BENCHMARK_NAMES)}")
    parser.add_argument("--input", required=True, help="JSONL file to grade")
    parser.add_argument("--output", required=True, help="JSONL file to write")
    parser.add_argument("--settings", default="{}",
                        help="the config's grading section as JSON (record_timeout_s, verify_timeout_s); "
                        f"defaults: {json.dumps(GRADING_DEFAULTS, sort_keys=True)}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        benchmark = canonical_benchmark(args.benchmark)
        settings = grading_settings(json.loads(args.settings))
    except ValueError as error:  # json's errors and ConfigError are both ValueErrors
        parser.error(str(error))
    try:
        records = read_jsonl(args.input)
    except (OSError, ValueError) as error:
        return report_user_error(f"cannot read {args.input}: {error}")
    try:
        with Grader(settings["record_timeout_s"], settings["verify_timeout_s"]) as grader:
            graded = list(grade_records(benchmark, records, grader))
    except ValueError as error:
        return report_user_error(f"{args.input}: {error}")
    write_jsonl(args.output, graded)
    correct = sum(g["correct"] for g in graded)
    reasons = Counter(g["parse_reason"] for g in graded if g["parse_failed"])
    failed = sum(reasons.values())
    detail = ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
    print(f"{benchmark}: {len(graded)} graded, {correct} correct, {failed} parse failures"
          f"{f' ({detail})' if detail else ''} -> {args.output}")
    return 0
