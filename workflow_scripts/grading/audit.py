"""Grader audit on real data: grade the gold solutions against the gold answers.

A correct grader must accept (almost) every reference solution of MATH500 and AIME24;
each disagreement is listed so a reader can judge whether the grader or the data is at
fault (e.g. AoPS solutions that never state the final answer).

    python -m workflow_scripts.grading.audit --math500 test.jsonl --aime24 aime.jsonl --output audit.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from workflow_scripts.errors import report_user_error
from workflow_scripts.grading.dispatch import grade_response
from workflow_scripts.grading.worker import Grader
from workflow_scripts.io import read_jsonl, write_json

# Column names in the original files and in the normalised eval records (data/eval/*.jsonl).
_SOURCES = {"math500": ("unique_id", "solution", "answer"), "aime24": ("id", "solution", "answer")}


def _rows(path: str | Path, benchmark: str) -> list[dict]:
    rows = read_jsonl(path)
    id_key, solution_key, answer_key = _SOURCES[benchmark]
    out = []
    for index, row in enumerate(rows):
        record_id = row.get(id_key, row.get("id", index))
        solution, answer = row.get(solution_key), row.get(answer_key)
        if solution is None or answer is None:
            raise ValueError(f"{path}: row {index} lacks {solution_key!r} or {answer_key!r}")
        out.append({"id": str(record_id), "solution": solution, "answer": str(answer)})
    return out


def audit_solutions(benchmark: str, path: str | Path, grader: Grader | None = None) -> dict:
    """Grade every gold solution against its gold answer; count agreements, list the rest."""
    all_rows = _rows(path, benchmark)
    # Eval sets without reference solutions (e.g. synthetic ones) cannot be audited row by row.
    rows = [row for row in all_rows if row["solution"].strip()]
    disagreements = []
    methods: dict[str, int] = {}
    for row in tqdm(rows, desc=f"audit {benchmark}", mininterval=5):
        grade = grade_response(benchmark, row["solution"], row["answer"], grader)
        methods[grade["grade_method"]] = methods.get(grade["grade_method"], 0) + 1
        if not grade["correct"]:
            disagreements.append({"id": row["id"], "gold": row["answer"], "extracted": grade["extracted"],
                                  "parse_failed": grade["parse_failed"], "parse_reason": grade["parse_reason"]})
    n = len(rows)
    return {
        "benchmark": benchmark,
        "source": str(path),
        "n": n,
        "without_solution": len(all_rows) - n,
        "agree": n - len(disagreements),
        "agreement": (n - len(disagreements)) / n if n else float("nan"),
        "grade_methods": dict(sorted(methods.items())),
        "disagreements": disagreements,
    }


def run_audit(math500: str | None, aime24: str | None) -> dict:
    result = {}
    with Grader() as grader:
        if math500:
            result["math500"] = audit_solutions("math500", math500, grader)
        if aime24:
            result["aime24"] = audit_solutions("aime24", aime24, grader)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.grading.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--math500", help="MATH500 jsonl with solution and answer")
    parser.add_argument("--aime24", help="AIME24 jsonl with solution and answer")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if not (args.math500 or args.aime24):
        parser.error("give --math500 and/or --aime24")
    try:
        result = run_audit(args.math500, args.aime24)
    except (OSError, ValueError) as error:
        return report_user_error(error)
    write_json(args.output, result)
    for name, part in result.items():
        print(f"{name}: {part['agree']}/{part['n']} gold solutions graded correct; "
              f"disagreements: {json.dumps([d['id'] for d in part['disagreements']])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
