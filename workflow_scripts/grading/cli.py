"""Command line: grade a JSONL file (user responses or a generation shard)."""

from __future__ import annotations

import argparse
import sys

from workflow_scripts.grading.dispatch import BENCHMARKS, grade_records
from workflow_scripts.grading.math_answers import MathVerifier
from workflow_scripts.io import read_jsonl, write_jsonl


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workflow_scripts.grading",
        description="Grade responses. Each input line has id, response (or a shard's answer_text) and gold "
        "(GPQA: the gold letter, or gold_letter); the output adds extracted, correct and parse_failed.",
    )
    parser.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    parser.add_argument("--input", required=True, help="JSONL file to grade")
    parser.add_argument("--output", required=True, help="JSONL file to write")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per math-verify check (MATH500)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        records = read_jsonl(args.input)
    except (OSError, ValueError) as error:
        print(f"error: cannot read {args.input}: {error}", file=sys.stderr)
        return 2
    try:
        with MathVerifier(timeout_s=args.timeout) as verifier:
            graded = list(grade_records(args.benchmark, records, verifier))
            timeouts = verifier.timeouts
    except ValueError as error:
        print(f"error: {args.input}: {error}", file=sys.stderr)
        return 2
    write_jsonl(args.output, graded)
    correct = sum(g["correct"] for g in graded)
    failed = sum(g["parse_failed"] for g in graded)
    print(f"{args.benchmark}: {len(graded)} graded, {correct} correct, {failed} parse failures, "
          f"{timeouts} math-verify timeouts -> {args.output}")
    return 0
