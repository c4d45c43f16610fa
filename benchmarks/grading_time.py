"""Grading time on pathological answers: the slowest input per benchmark.

Grades every text of :func:`workflow_scripts.grading.stress.pathological_texts` (whitespace
runs, brace soups, repeated lines, random mixtures) at several sizes up to 2 MB, on each
benchmark, through the production path (the grading worker with the default deadlines),
and times each record. A linear grader shows ~100x the time for 100x the size; the table
in benchmarks/RESULTS.md gives the slowest input per benchmark.

    python benchmarks/grading_time.py [--sizes 20000 200000 2000000] [--output grading_time.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from workflow_scripts.grading import Grader, grade_response
from workflow_scripts.grading.stress import pathological_texts

GOLDS = {"math500": "5", "aime24": "33", "gpqa": "C"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 2_000_000])
    parser.add_argument("--output", default="benchmarks/grading_time_results.json")
    args = parser.parse_args(argv)
    rows = []
    with Grader() as grader:
        for benchmark, gold in GOLDS.items():
            grade_response(benchmark, "Answer: 1", gold if benchmark != "aime24" else "1", grader)  # warm start
        for size in args.sizes:
            for name, text in pathological_texts(size).items():
                for benchmark, gold in GOLDS.items():
                    started = time.perf_counter()
                    grade = grade_response(benchmark, text, gold, grader)
                    seconds = time.perf_counter() - started
                    rows.append({"size": len(text), "input": name, "benchmark": benchmark, "seconds": round(seconds, 3),
                                 "parse_reason": grade["parse_reason"], "extracted": (grade["extracted"] or "")[:20]})
                    print(f"{len(text):>9} {name:<30} {benchmark:<8} {seconds:7.3f} s  {grade['parse_reason']}", flush=True)
        deadline = grader.record_timeout_s
    slowest = {b: max((r for r in rows if r["benchmark"] == b), key=lambda r: r["seconds"]) for b in GOLDS}
    result = {"machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
              "record_timeout_s": deadline, "timeouts": sum(r["parse_reason"] == "timeout" for r in rows),
              "slowest": slowest, "rows": rows}
    with open(args.output, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    for benchmark, row in slowest.items():
        print(f"slowest {benchmark}: {row['input']} ({row['size']:,} chars) {row['seconds']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
