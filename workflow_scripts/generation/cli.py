"""``python -m workflow_scripts.generation``: a model's samples, on one engine, and each run's shards.

Two commands, one per rule of ``rules/generation.smk``:

``samples`` (rule ``generate``, one job per model and part): every run of the model
(``--runs``: methods at their settings, and the model's thinking trajectory) on one engine.
Samples already in the part's store with the same resume key are kept; the missing ones are
generated with every run's rounds merged into one vLLM call (:mod:`batching`): the
trajectory and the runs that think for themselves first, then the answers of the runs cut
from the trajectory. Writes the part's manifest: for each run, its resume key, what it was
asked for and its samples' keys in eval order (:mod:`samples`).

``shards`` (rule ``shards``, one job per run, no engine): reads the run's samples from the
stores the manifests name and writes its shard ``{dataset}.jsonl`` per eval set (eval
order) and ``job.json`` (:mod:`shards`).
"""

from __future__ import annotations

import argparse

from workflow_scripts.errors import UserError, report_user_error
from workflow_scripts.generation.samples import generate_part
from workflow_scripts.generation.shards import write_run_shards


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.generation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    samples = commands.add_parser("samples", help="generate a model's missing samples (one engine)")
    samples.add_argument("--model", required=True, help="model folder or hub id (weights + tokenizer)")
    samples.add_argument("--model-name", required=True, help="the model's name in generation.models (its folder)")
    samples.add_argument("--prompt-format", choices=["think", "direct"],
                         help="think/answer format or direct answers (default: direct for base, else think)")
    samples.add_argument("--runs", required=True, help='JSON list of {"method": .., "setting": .., '
                         '["thinking_from": a trajectory setting]}; method "trajectory" is the model\'s trajectory')
    samples.add_argument("--settings", required=True, help="the config's generation section as JSON")
    samples.add_argument("--limits", required=True, help='JSON {dataset: first N rows or null}')
    samples.add_argument("--eval-sets", required=True, nargs="+", help="normalised eval sets {dataset}.jsonl")
    samples.add_argument("--seed", type=int, default=42)
    samples.add_argument("--part", default="1of1", help="pof P: this job takes every P-th question from the p-th")
    samples.add_argument("--store", required=True, help="this part's store folder (samples appended as they finish)")
    samples.add_argument("--manifest", required=True, help="where this part's manifest (JSON) goes")
    samples.add_argument("--chunk-size", type=int, default=512,
                         help="samples per run and batch; finished chunks survive a kill")
    shards = commands.add_parser("shards", help="write one run's shards from the stores")
    shards.add_argument("--manifests", required=True, nargs="+", help="the model's part manifests")
    shards.add_argument("--run", required=True, help="the run's folder: model/method/setting")
    shards.add_argument("--request", required=True, help="JSON file: what the run must have been generated with "
                        "(its settings, limits, seed, model); a mismatch means the manifest is stale")
    shards.add_argument("--out-dir", required=True, help="where the run's shards and job.json go")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "samples":
            manifest = generate_part(args)
            print(f"done {args.model_name} part {args.part}: {manifest['engine_starts']} engine start(s), "
                  f"{manifest['generated_tokens']} generated tokens, {manifest['wall_time_s']} s", flush=True)
        else:
            job = write_run_shards(args)
            print(f"done {args.run}: {sum(d['samples'] for d in job['datasets'].values())} samples", flush=True)
    except UserError as error:  # every stage error (methods, budgets, prompts, stores, engine, settings)
        return report_user_error(error)
    return 0
