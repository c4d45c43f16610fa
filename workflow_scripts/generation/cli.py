"""``python -m workflow_scripts.generation``: one job = one (model, method, setting), all datasets.

The engine starts once per job, and only if a sample is missing; pending samples of every
dataset are batched together (in chunks, so a killed job keeps the finished chunks) and each
round is one batched engine call. Writes ``{out_dir}/{dataset}.jsonl`` per eval set and
``{out_dir}/job.json``.

``--configs`` runs several (method, setting, out_dir) configurations of one model on the same
engine, each still with its own shards and job.json (used where engine start-up would
dominate, e.g. the CPU smoke run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from workflow_scripts.errors import UserError, report_user_error
from workflow_scripts.io import parse_json_object, read_jsonl, write_json
from workflow_scripts.methods import METHODS
from workflow_scripts.methods.base import sample_key

class GenerationError(UserError):
    """Bad CLI input; the message names the argument or file."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.generation", description=__doc__)
    parser.add_argument("--model", required=True, help="model folder or hub id (weights + tokenizer)")
    parser.add_argument("--model-name", required=True, help="the model's name in generation.models (its folder)")
    parser.add_argument("--prompt-format", choices=["think", "direct"],
                        help="think/answer format or direct answers (default: direct for base, else think)")
    parser.add_argument("--method", choices=list(METHODS), help="a method of the registry (workflow_scripts.methods)")
    parser.add_argument("--setting", help="the method's setting string, e.g. B500, Bunbounded, B8000-n2, short, long")
    parser.add_argument("--settings", required=True, help="the config's generation section as JSON")
    parser.add_argument("--limits", required=True, help='JSON {dataset: first N rows or null}')
    parser.add_argument("--eval-sets", required=True, nargs="+", help="normalised eval sets {dataset}.jsonl")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", help="where this configuration's shards and job.json go")
    parser.add_argument("--configs", help='instead of --method/--setting/--out-dir: JSON list of '
                        '{"method": .., "setting": .., "out_dir": ..} sharing one engine')
    parser.add_argument("--chunk-size", type=int, default=512,
                        help="samples per batch; finished chunks survive a kill")
    return parser.parse_args(argv)


def _json_arg(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GenerationError(f"{name} is not valid JSON ({error.msg}): {text[:80]!r}") from None


def check_settings(settings: Any) -> dict[str, Any]:
    """The generation settings completed from the schema's defaults and checked (ConfigError names the key)."""
    from workflow_scripts.config.validate import complete_section

    return complete_section("generation", settings)


def load_eval_sets(paths: list[str], limits: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{dataset: first `limit` records} with ``dataset`` added; the dataset is the file's stem."""
    if not isinstance(limits, dict):
        raise GenerationError(f"--limits must be a JSON object, got {limits!r}")
    eval_sets = {}
    for path in paths:
        dataset = Path(path).stem
        if dataset not in limits:
            raise GenerationError(f"--limits has no entry for eval set {dataset!r} ({path}); keys: {sorted(limits)}")
        limit = limits[dataset]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise GenerationError(f"--limits[{dataset!r}] must be a positive integer or null, got {limit!r}")
        if not Path(path).exists():
            raise GenerationError(f"eval set {path} does not exist")
        records = read_jsonl(path)[:limit] if limit else read_jsonl(path)
        seen = set()
        for number, record in enumerate(records, 1):
            for key in ("id", "question"):
                if record.get(key) in (None, ""):
                    raise GenerationError(f"{path}: record {number} has no {key!r}")
            if str(record["id"]) in seen:
                raise GenerationError(f"{path}: duplicate id {record['id']!r}")
            seen.add(str(record["id"]))
        eval_sets[dataset] = [{**r, "dataset": dataset, "id": str(r["id"])} for r in records]
    return eval_sets


def job_resume_key(model: str, spec, engine_args: dict[str, Any], seed: int, settings: dict[str, Any]) -> str:
    """What must match for a stored sample to count as done: model, method spec, engine, seed, answer limits."""
    from workflow_scripts.generation.shards import resume_key

    return resume_key({"model": model, "spec": spec.as_dict(), "engine": engine_args, "seed": seed,
                       "answer_reserve_tokens": settings["answer_reserve_tokens"],
                       "answer_max_tokens": settings["answer_max_tokens"]})


def dataset_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(samples)
    mean = (lambda key: sum(s[key] for s in samples) / count) if count else (lambda key: 0.0)
    return {"samples": count, "thinking_tokens_mean": mean("thinking_tokens"), "answer_tokens_mean": mean("answer_tokens"),
            "waits_inserted_mean": mean("waits_inserted"),
            "cap_hit_share": (sum(s["cap_hit"] for s in samples) / count) if count else 0.0}


def job_configs(args: argparse.Namespace) -> list[dict[str, str]]:
    """The (method, setting, out_dir) configurations of this job, from the flags or --configs."""
    single = (args.method, args.setting, args.out_dir)
    if args.configs is not None:
        if any(v is not None for v in single):
            raise GenerationError("give either --configs or --method/--setting/--out-dir, not both")
        configs = _json_arg("--configs", args.configs)
        if not isinstance(configs, list) or not configs:
            raise GenerationError("--configs must be a non-empty JSON list")
        for number, config in enumerate(configs, 1):
            if not isinstance(config, dict) or set(config) != {"method", "setting", "out_dir"}:
                raise GenerationError(f"--configs entry {number} must have exactly method, setting, out_dir: {config!r}")
        out_dirs = [c["out_dir"] for c in configs]
        if len(set(out_dirs)) != len(out_dirs):
            raise GenerationError("--configs has the same out_dir twice")
        return configs
    if any(v is None for v in single):
        raise GenerationError("--method, --setting and --out-dir are required (or --configs)")
    return [{"method": args.method, "setting": args.setting, "out_dir": args.out_dir}]


class LazyEngine:
    """Starts the engine the first time a configuration has samples to generate."""

    def __init__(self, args: argparse.Namespace, engine_args: dict[str, Any], settings: dict[str, Any]):
        self.args, self.engine_args, self.settings = args, engine_args, settings
        self.ctx = None

    def get(self):
        if self.ctx is None:
            from workflow_scripts.generation.engine import Engine
            from workflow_scripts.generation.pipeline import GenerationContext
            from workflow_scripts.generation.prompts import FormatTokens
            from workflow_scripts.tokenization import load_tokenizer

            tokenizer = load_tokenizer(self.args.model)
            engine = Engine(self.args.model, self.engine_args, seed=self.args.seed, tokenizer_size=len(tokenizer),
                            progress=True)
            self.ctx = GenerationContext(
                engine=engine, tokenizer=tokenizer, tokens=FormatTokens.from_tokenizer(tokenizer, self.args.model),
                answer_reserve_tokens=self.settings["answer_reserve_tokens"],
                answer_max_tokens=self.settings["answer_max_tokens"], seed=self.args.seed)
        return self.ctx


def run_config(args, spec, out_dir: Path, eval_sets, settings, engine_args, lazy: LazyEngine,
               group: list[str]) -> dict[str, Any]:
    """Generate the missing samples of one configuration and write its shards and job.json."""
    from tqdm import tqdm

    from workflow_scripts.generation.methods import generate_samples
    from workflow_scripts.generation.natural_stop import natural_stop_stats
    from workflow_scripts.generation.shards import ShardWriter

    started = time.perf_counter()
    key = job_resume_key(str(args.model), spec, engine_args, args.seed, settings)
    keys_of = METHODS[spec.method].sample_keys  # a question's sample keys (k of them for parallel runs)
    writers, resumed, pending = {}, {}, []
    for dataset, records in eval_sets.items():
        writer = ShardWriter(out_dir / f"{dataset}.jsonl", key)
        done = writer.load()
        writers[dataset] = writer
        complete = [r["id"] for r in records if all(k in done for k in keys_of(r["id"], spec))]
        resumed[dataset] = sorted(complete)
        pending.extend(r for r in records if r["id"] not in set(complete))
        print(f"{spec.model}/{spec.method}/{spec.setting} {dataset}: {len(records)} samples, "
              f"{len(resumed[dataset])} already done ({writer.torn_lines} torn line(s) dropped, "
              f"{writer.foreign_samples} from other settings ignored)", flush=True)

    generated_ids = {dataset: [] for dataset in eval_sets}
    starts_before = lazy.ctx.engine.stats.starts if lazy.ctx else 0
    tokens_before = lazy.ctx.engine.stats.generated_tokens if lazy.ctx else 0
    seconds_before = lazy.ctx.engine.stats.generate_seconds if lazy.ctx else 0.0
    calls_before = lazy.ctx.engine.stats.calls if lazy.ctx else 0
    rounds_before = len(lazy.ctx.round_stats) if lazy.ctx else 0
    if pending:
        ctx = lazy.get()
        chunks = [pending[i:i + args.chunk_size] for i in range(0, len(pending), args.chunk_size)]
        for chunk in tqdm(chunks, desc=f"{spec.model}/{spec.method}/{spec.setting}", unit="chunk"):
            for sample in generate_samples(ctx, chunk, spec):
                writers[sample["dataset"]].append([sample])
                if sample_key(sample) == keys_of(sample["id"], spec)[0]:
                    generated_ids[sample["dataset"]].append(sample["id"])

    all_samples = []
    for dataset, records in eval_sets.items():
        ordered = [k for r in records for k in keys_of(r["id"], spec)]
        writers[dataset].finalize(ordered)
        all_samples.extend(writers[dataset].samples[k] for k in ordered)

    stats = lazy.ctx.engine.stats if lazy.ctx else None
    job = {
        "model": str(args.model), "model_name": spec.model, "method": spec.method, "setting": spec.setting,
        "spec": spec.as_dict(), "seed": args.seed, "engine": engine_args, "resume_key": key,
        "engine_group": group,  # configurations that shared this job's engine
        "engine_starts": (stats.starts - starts_before) if stats else 0,
        "engine_start_s": round(stats.start_seconds, 3) if stats and stats.starts > starts_before else 0.0,
        "engine_calls": (stats.calls - calls_before) if stats else 0,
        "generated_tokens": (stats.generated_tokens - tokens_before) if stats else 0,
        "generate_s": round(stats.generate_seconds - seconds_before, 3) if stats else 0.0,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "rounds": lazy.ctx.round_stats[rounds_before:] if lazy.ctx else [],
        "datasets": {
            dataset: {**dataset_summary([s for s in all_samples if s["dataset"] == dataset]),
                      "resumed_ids": resumed[dataset], "generated_ids": generated_ids[dataset]}
            for dataset in eval_sets
        },
        "natural_stop": natural_stop_stats(all_samples),
    }
    write_json(out_dir / "job.json", job)
    return job


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from workflow_scripts.generation.dtype import resolve_dtype
    from workflow_scripts.generation.engine import engine_settings
    from workflow_scripts.generation.methods import MethodSpec

    settings = check_settings(parse_json_object(args.settings, "--settings", GenerationError))
    limits = parse_json_object(args.limits, "--limits", GenerationError)
    if args.chunk_size < 1:
        raise GenerationError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    configs = job_configs(args)
    # Validate everything before the engine starts.
    specs = [MethodSpec.from_cli(args.model_name, c["method"], c["setting"], settings, args.prompt_format)
             for c in configs]
    engine_args = engine_settings(settings["engine"])
    engine_args["dtype"], dtype_reason = resolve_dtype(engine_args["dtype"])
    print(dtype_reason, flush=True)
    eval_sets = load_eval_sets(args.eval_sets, limits)
    lazy = LazyEngine(args, engine_args, settings)
    group = [f"{s.model}/{s.method}/{s.setting}" for s in specs]
    return [run_config(args, spec, Path(config["out_dir"]), eval_sets, settings, engine_args, lazy, group)
            for spec, config in zip(specs, configs)]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        jobs = run(args)
    except UserError as error:  # every stage error (methods, budgets, prompts, shards, engine, settings)
        return report_user_error(error)
    for job in jobs:
        print(f"done {job['model_name']}/{job['method']}/{job['setting']}: {job['engine_starts']} engine start(s), "
              f"{job['generated_tokens']} generated tokens, {job['wall_time_s']} s", flush=True)
    return 0
