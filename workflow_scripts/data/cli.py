"""CLI: python -m workflow_scripts.data --benchmark B --source S --settings JSON --seed 42 --output OUT.jsonl"""

from __future__ import annotations

import argparse

from workflow_scripts.data.benchmarks import BENCHMARKS, DataError, load_benchmark, record_settings
from workflow_scripts.errors import report_user_error
from workflow_scripts.io import parse_json_object, write_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Normalise one evaluation set (all rows).")
    parser.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    parser.add_argument("--source", required=True, help="hub id or local jsonl/csv/parquet file")
    parser.add_argument("--settings", default="{}", help="the config's eval_sets entry, as JSON")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    try:
        settings = parse_json_object(args.settings, "--settings")
    except ValueError as error:
        parser.error(str(error))
    split, subset = record_settings(settings)
    try:
        records = load_benchmark(args.benchmark, args.source, args.seed, split=split, subset=subset)
    except (DataError, FileNotFoundError, ValueError) as error:
        return report_user_error(error)
    write_jsonl(args.output, records)
    print(f"{args.benchmark}: wrote {len(records)} records to {args.output}")
    return 0

