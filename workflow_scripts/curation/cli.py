"""CLI: python -m workflow_scripts.curation --pool P --pool-settings JSON --settings JSON
--eval-sets A.jsonl B.jsonl ... --tokenizer T --seed 42 --out-dir DIR"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workflow_scripts.curation.errors import CurationError
from workflow_scripts.errors import report_user_error
from workflow_scripts.io import parse_json_object


def _json_object(parser, flag: str, text: str) -> dict:
    try:
        return parse_json_object(text, flag)
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Curate the distillation set from the pool.")
    parser.add_argument("--pool", required=True, help="hub id or local parquet/jsonl/csv file (overrides pool.source)")
    parser.add_argument("--pool-settings", required=True, help="the config's pool section, as JSON")
    parser.add_argument("--settings", required=True, help="the config's curation section, as JSON")
    parser.add_argument("--eval-sets", nargs="+", required=True, help="normalised eval sets (data/eval/*.jsonl)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer for trace lengths when the pool lacks them")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    pool_settings = _json_object(parser, "--pool-settings", args.pool_settings)
    settings = _json_object(parser, "--settings", args.settings)

    from workflow_scripts.curation.load_pool import load_pool_frame
    from workflow_scripts.curation.outputs import write_outputs
    from workflow_scripts.curation.pipeline import run_curation
    from workflow_scripts.curation.plots import write_plots
    from workflow_scripts.io import read_jsonl

    started = time.perf_counter()
    try:
        if "columns" not in pool_settings:
            raise CurationError("--pool-settings lacks 'columns' (the canonical -> source column mapping)")
        eval_records = []
        for path in args.eval_sets:
            if not Path(path).exists():
                raise CurationError(f"eval set {path} does not exist")
            eval_records.extend(read_jsonl(path))
        raw = load_pool_frame(args.pool, pool_settings.get("split") or "train")
        print(f"pool: {len(raw)} rows from {args.pool}", flush=True)
        result = run_curation(raw, pool_settings["columns"], settings, eval_records, tokenizer_source=args.tokenizer,
                              seed=args.seed, progress=not args.no_progress, pool_name=f"pool {args.pool}")
    except (CurationError, ValueError) as error:
        return report_user_error(error)
    result.summary["pool_source"] = args.pool
    write_outputs(result, args.out_dir)
    write_plots(Path(args.out_dir), result.summary["stages"], result.pool, result.quality_pool, result.curated)
    summary = result.summary
    for stage in summary["stages"]:
        print(f"  {stage['stage']:<16} dropped {stage['dropped']:>7}  left {stage['rows_left']:>7}")
    print(f"kept {summary['kept']} of {summary['input_rows']}; domain max/min ratio "
          f"{summary['domains']['max_min_ratio']}; {time.perf_counter() - started:.1f} s")
    return 0

