"""CLI: ``python -m workflow_scripts.world --settings JSON --seed 42 --out-dir DIR``."""

from __future__ import annotations

import argparse

from workflow_scripts.config import ConfigError
from workflow_scripts.errors import UserError, report_user_error
from workflow_scripts.io import parse_json_object
from workflow_scripts.world.settings import parse_world_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.world", description=__doc__)
    parser.add_argument("--settings", default="{}", help="the synthetic_world config section as JSON")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args(argv)
    try:
        settings = parse_world_settings(parse_json_object(args.settings, "--settings", ConfigError))
    except UserError as error:
        return report_user_error(error)

    from workflow_scripts.world.build import build_world

    summary = build_world(settings, args.seed, args.out_dir)
    counts = summary["counts"]
    print(f"synthetic world in {args.out_dir}: {counts['pool_rows']} pool rows "
          f"({len(summary['planted'])} planted), eval {counts['eval_rows']}, "
          f"model {summary['model']['parameters']} parameters, {summary['build_seconds']['total']} s")
    return 0

