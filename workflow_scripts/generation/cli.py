"""``python -m workflow_scripts.generation``: the samples of one model's configurations, on one engine.

A configuration is a (method, setting) run of the registry, or a model's shared thinking
trajectory (method ``trajectory``, setting ``Bunbounded-n4``: :mod:`trajectory`); each has
its out_dir, with one shard ``{dataset}.jsonl`` per eval set and a ``job.json``. A run
whose thinking is cut from a trajectory names that trajectory's out_dir (``thinking_from``)
and generates only its answers.

Engine groups: ``--configs`` lists the configurations that share one engine, ``--write`` the
ones this job writes (its declared outputs; default: all). The engine starts only if a
sample of those is missing; it then generates the missing samples of every configuration of
the group (trajectories first), each into its shard's store (:mod:`shards`), and writes the
shards and job.json of ``--write``. The other jobs of the group then find their samples in
their stores and finish without an engine. So one Snakemake rule serves every shape: on a
GPU each run is its own group; on the CPU a model's runs of one budget share an engine (its
start-up would dwarf a tiny model's generation); derived runs share their trajectory's.
Pending samples are batched across datasets, in chunks (a killed job keeps finished chunks).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from workflow_scripts.config.grid import TRAJECTORY
from workflow_scripts.errors import UserError, report_user_error
from workflow_scripts.io import parse_json_object, read_jsonl, write_json
from workflow_scripts.methods import METHODS
from workflow_scripts.methods.base import sample_key

CONFIG_KEYS = {"method", "setting", "out_dir"}  # plus, for a derived run, thinking_from


def checked_config(config: Any, where: str) -> dict[str, Any]:
    """A configuration of --configs or of the engine-group plan, or an error naming ``where``."""
    if not isinstance(config, dict) or not CONFIG_KEYS <= set(config) <= CONFIG_KEYS | {"thinking_from"}:
        raise GenerationError(f"{where} must have method, setting, out_dir (and optionally thinking_from): {config!r}")
    return config


class GenerationError(UserError):
    """Bad CLI input; the message names the argument or file."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.generation", description=__doc__)
    parser.add_argument("--model", required=True, help="model folder or hub id (weights + tokenizer)")
    parser.add_argument("--model-name", required=True, help="the model's name in generation.models (its folder)")
    parser.add_argument("--prompt-format", choices=["think", "direct"],
                        help="think/answer format or direct answers (default: direct for base, else think)")
    parser.add_argument("--method", choices=[*METHODS, TRAJECTORY],
                        help="a method of the registry (workflow_scripts.methods), or trajectory")
    parser.add_argument("--setting", help="the method's setting string, e.g. B500, Bunbounded, B8000-n2, short, long")
    parser.add_argument("--out-dir", help="where this configuration's shards and job.json go")
    parser.add_argument("--thinking-from", help="a trajectory's out_dir: cut this run's thinking from it")
    parser.add_argument("--settings", required=True, help="the config's generation section as JSON")
    parser.add_argument("--limits", required=True, help='JSON {dataset: first N rows or null}')
    parser.add_argument("--eval-sets", required=True, nargs="+", help="normalised eval sets {dataset}.jsonl")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--configs", help='instead of --method/--setting/--out-dir: JSON list of '
                        '{"method": .., "setting": .., "out_dir": .., ["thinking_from": ..]} sharing one engine')
    parser.add_argument("--write", nargs="+", help="out_dirs of --configs this job writes (default: all)")
    parser.add_argument("--engine-groups", help="with --method/--setting/--out-dir: the workflow's engine-group plan "
                        "(JSON {group: [configs]}); the configuration's group-mates share this job's engine")
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


def job_resume_key(model: str, spec, engine_args: dict[str, Any], seed: int, settings: dict[str, Any], *,
                   model_files: str | None = None, trajectory: str | None = None) -> str:
    """What must match for a stored sample to count as done: model (and its files' fingerprint),
    method spec, engine, seed, answer limits, for a sampled run how its seeds are derived (greedy
    runs' keys stay as they were), and for a derived run its trajectory's key."""
    from workflow_scripts.decoding.seeds import SEED_SCHEME
    from workflow_scripts.generation.shards import resume_key

    payload = {"model": model, "spec": spec.as_dict(), "engine": engine_args, "seed": seed,
               "answer_reserve_tokens": settings["answer_reserve_tokens"],
               "answer_max_tokens": settings["answer_max_tokens"],
               **({"seeds": SEED_SCHEME} if spec.sampled else {})}
    extra = {"model_files": model_files, "trajectory": trajectory}
    return resume_key({**payload, **{key: value for key, value in extra.items() if value is not None}})


def model_fingerprint(model: str) -> str | None:
    """A local model folder's files (names, sizes, modification times), hashed: a retrained
    checkpoint in the same folder invalidates its stored samples. None for a hub id."""
    folder = Path(model)
    if not folder.is_dir():
        return None
    entries = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                     for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def record_digest(record: dict[str, Any]) -> str:
    """The eval record a sample was made from (question, choices, answer): an edited eval set
    regenerates the samples of the records that changed, a longer one only the new records."""
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dataset_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(samples)
    mean = (lambda key: sum(s[key] for s in samples) / count) if count else (lambda key: 0.0)
    return {"samples": count, "thinking_tokens_mean": mean("thinking_tokens"), "answer_tokens_mean": mean("answer_tokens"),
            "waits_inserted_mean": mean("waits_inserted"),
            "cap_hit_share": (sum(s["cap_hit"] for s in samples) / count) if count else 0.0}


def job_configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The configurations of this job's engine group, from the flags or --configs, each with
    ``write`` (whether this job writes its shards)."""
    single = (args.method, args.setting, args.out_dir)
    if args.configs is not None:
        if any(v is not None for v in single) or args.thinking_from is not None:
            raise GenerationError("give either --configs or --method/--setting/--out-dir, not both")
        configs = _json_arg("--configs", args.configs)
        if not isinstance(configs, list) or not configs:
            raise GenerationError("--configs must be a non-empty JSON list")
        for number, config in enumerate(configs, 1):
            checked_config(config, f"--configs entry {number}")
        out_dirs = [c["out_dir"] for c in configs]
        if len(set(out_dirs)) != len(out_dirs):
            raise GenerationError("--configs has the same out_dir twice")
        written = set(out_dirs if args.write is None else args.write)
        unknown = sorted(written - set(out_dirs))
        if unknown:
            raise GenerationError(f"--write names out_dirs not in --configs: {unknown}")
        return [{**c, "write": c["out_dir"] in written} for c in configs]
    if any(v is None for v in single):
        raise GenerationError("--method, --setting and --out-dir are required (or --configs)")
    if args.write is not None:
        raise GenerationError("--write goes with --configs")
    config = {"method": args.method, "setting": args.setting, "out_dir": args.out_dir, "write": True}
    config |= {"thinking_from": args.thinking_from} if args.thinking_from else {}
    return [config] + group_mates(args.engine_groups, config) if args.engine_groups else [config]


def group_mates(plan_path: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The other configurations of ``config``'s engine group in the plan file (none when it is
    not listed there); they are generated here if missing, not written."""
    path = Path(plan_path)
    if not path.is_file():
        raise GenerationError(f"--engine-groups {plan_path} does not exist")
    plan = _json_arg(f"--engine-groups {plan_path}", path.read_text(encoding="utf-8"))
    if not isinstance(plan, dict) or not all(isinstance(g, list) for g in plan.values()):
        raise GenerationError(f"--engine-groups {plan_path} must be a JSON object of lists of configurations")
    own = Path(config["out_dir"])
    for group in plan.values():
        if any(Path(c.get("out_dir", "")) == own for c in group):
            mates = [c for c in group if Path(c.get("out_dir", "")) != own]
            return [{**checked_config(mate, f"--engine-groups {plan_path}: a configuration"), "write": False}
                    for mate in mates]
    return []


class LazyEngine:
    """Starts the engine the first time a configuration has samples to generate."""

    def __init__(self, args: argparse.Namespace, engine_args: dict[str, Any], settings: dict[str, Any]):
        self.args, self.engine_args, self.settings = args, engine_args, settings
        self.ctx = None

    def get(self):
        if self.ctx is None:
            from workflow_scripts.decoding.engine import Engine
            from workflow_scripts.decoding.pipeline import GenerationContext
            from workflow_scripts.decoding.prompts import FormatTokens
            from workflow_scripts.tokenization import load_tokenizer

            tokenizer = load_tokenizer(self.args.model)
            engine = Engine(self.args.model, self.engine_args, seed=self.args.seed, tokenizer_size=len(tokenizer),
                            progress=True)
            self.ctx = GenerationContext(
                engine=engine, tokenizer=tokenizer, tokens=FormatTokens.from_tokenizer(tokenizer, self.args.model),
                answer_reserve_tokens=self.settings["answer_reserve_tokens"],
                answer_max_tokens=self.settings["answer_max_tokens"], seed=self.args.seed,
                temperature=self.settings["temperature"], top_p=self.settings["top_p"])
        return self.ctx


def member_spec(model_name: str, method: str, setting: str, settings: dict[str, Any], prompt_format: str | None):
    """The generation spec of a configuration; a trajectory's is the spec of the run it thinks
    like (budget forcing with its n, or truncation for n = 0), renamed."""
    from workflow_scripts.generation.methods import MethodError, MethodSpec
    from workflow_scripts.generation.trajectory import parse_trajectory_setting

    if method != TRAJECTORY:
        return MethodSpec.from_cli(model_name, method, setting, settings, prompt_format)
    budget, n = parse_trajectory_setting(setting)
    run = ("budget_forcing", f"B{budget}-n{n}") if n else ("truncation", f"B{budget}")
    spec = MethodSpec.from_cli(model_name, *run, settings, prompt_format)
    if spec.prompt_format != "think":
        raise MethodError(f"a trajectory needs the thinking format; {model_name} answers directly")
    return dataclasses.replace(spec, method=TRAJECTORY, setting=setting)


@dataclasses.dataclass
class Member:
    """One configuration of the engine group: its spec, shards and what is still missing."""

    spec: Any
    out_dir: Path
    write: bool
    key: str
    thinking_from: Path | None = None
    writers: dict[str, Any] = dataclasses.field(default_factory=dict)
    units: dict[str, list] = dataclasses.field(default_factory=dict)  # dataset: [(record, its sample keys)]
    resumed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    generated: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.spec.model}/{self.spec.method}/{self.spec.setting}"

    @property
    def is_trajectory(self) -> bool:
        return self.spec.method == TRAJECTORY

    def open(self, eval_sets: dict[str, list[dict[str, Any]]], seed: int) -> None:
        """The shards' writers and the samples to make: a repeatable run (and a trajectory) has
        one unit per (question, sample); a method that samples itself one per question."""
        from workflow_scripts.generation.shards import ShardWriter

        definition = METHODS.get(self.spec.method)
        for dataset, records in eval_sets.items():
            self.writers[dataset] = ShardWriter(self.out_dir / f"{dataset}.jsonl", self.key,
                                                {r["id"]: record_digest(r) for r in records})
            if definition is None or definition.repeatable:
                self.units[dataset] = [(r, [sample_key(r)]) for r in self.spec.sample_records(records, seed)]
            else:
                self.units[dataset] = [(r, definition.sample_keys(r["id"], self.spec)) for r in records]

    def pending(self) -> list[dict[str, Any]]:
        """Units not (or not all) in the store with this key and record: read again each time,
        since another job of the group may have made them meanwhile."""
        missing = []
        for dataset, writer in self.writers.items():
            done = writer.load()
            missing.extend(r for r, keys in self.units[dataset] if not all(k in done for k in keys))
        return missing

    def ordered_keys(self, dataset: str) -> list[str]:
        return [k for _, keys in self.units[dataset] for k in keys]


@contextlib.contextmanager
def group_lock(members: list[Member]):
    """One engine per group at a time: a second job of the group (e.g. on another node) waits,
    then finds the samples made and starts no engine."""
    import fcntl

    names = sorted(str(m.out_dir) for m in members)
    lock = members[0].out_dir.parent.parent / f".engine-group-{hashlib.sha256(str(names).encode()).hexdigest()[:12]}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stored_trajectories(member: Member) -> dict[tuple, dict[str, Any]]:
    from workflow_scripts.generation.trajectory import trajectory_key

    return {trajectory_key(t): t for writer in member.writers.values() for t in writer.samples.values()}


def generate_member(member: Member, pending: list[dict[str, Any]], lazy: LazyEngine, by_dir: dict[Path, Member],
                    chunk_size: int) -> None:
    """Generate ``member``'s missing samples into its stores (a derived run reads its trajectory's)."""
    from tqdm import tqdm

    from workflow_scripts.generation.methods import generate_samples
    from workflow_scripts.generation.trajectory import derived_samples, generate_trajectories

    ctx = lazy.get()
    stats, rounds_before = ctx.engine.stats, len(ctx.round_stats)
    before = (stats.calls, stats.generated_tokens, stats.generate_seconds)
    # the trajectory's stores were read under the group lock (it comes first) and hold what
    # this job added since
    trajectories = stored_trajectories(by_dir[member.thinking_from]) if member.thinking_from else None
    chunks = [pending[i:i + chunk_size] for i in range(0, len(pending), chunk_size)]
    for chunk in tqdm(chunks, desc=member.label, unit="chunk"):
        if member.is_trajectory:
            samples = generate_trajectories(ctx, chunk, member.spec)
        elif trajectories is not None:
            samples = derived_samples(ctx, chunk, member.spec, trajectories, str(member.thinking_from))
        else:
            samples = generate_samples(ctx, chunk, member.spec)
        for sample in samples:
            member.writers[sample["dataset"]].append([sample])
            member.generated.setdefault(sample["dataset"], []).append(sample_key(sample))
    member.stats = {"engine_calls": stats.calls - before[0], "generated_tokens": stats.generated_tokens - before[1],
                    "generate_s": round(stats.generate_seconds - before[2], 3),
                    "rounds": ctx.round_stats[rounds_before:]}


def finish_member(member: Member, args, engine_args, group: list[str], lazy: LazyEngine, started: float,
                  made_here: dict[str, int]) -> dict:
    """Write the member's shards (eval order) and job.json."""
    from workflow_scripts.decoding.natural_stop import natural_stop_stats

    all_samples = []
    for dataset, writer in member.writers.items():
        ordered = member.ordered_keys(dataset)
        writer.finalize(ordered)
        all_samples.extend(writer.samples[k] for k in ordered)
    stats = lazy.ctx.engine.stats if lazy.ctx else None
    job = {
        "model": str(args.model), "model_name": member.spec.model, "method": member.spec.method,
        "setting": member.spec.setting, "spec": member.spec.as_dict(), "seed": args.seed, "engine": engine_args,
        "resume_key": member.key, "thinking_from": str(member.thinking_from) if member.thinking_from else None,
        "engine_group": group,  # configurations that share an engine with this one
        "engine_starts": stats.starts if stats else 0,  # in this job (0: every sample was in the store)
        "engine_start_s": round(stats.start_seconds, 3) if stats else 0.0,
        "engine_calls": member.stats.get("engine_calls", 0),
        "generated_tokens": member.stats.get("generated_tokens", 0),  # by this job, for this configuration
        "generate_s": member.stats.get("generate_s", 0.0),
        # every configuration this job generated samples for (its group-mates' included): engine tokens
        "generated_for_group": made_here,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "rounds": member.stats.get("rounds", []),
        "datasets": {
            dataset: {"resumed_ids": member.resumed[dataset], "generated_ids": member.generated.get(dataset, []),
                      **({} if member.is_trajectory else
                         dataset_summary([s for s in all_samples if s["dataset"] == dataset]))}
            for dataset in member.writers
        },
        "natural_stop": [] if member.is_trajectory else natural_stop_stats(all_samples),
    }
    write_json(member.out_dir / "job.json", job)
    return job


def build_members(args, settings, engine_args) -> list[Member]:
    """The group's members, checked before any engine starts; a derived run's trajectory joins
    the group when --configs does not list it (made if missing, not written)."""
    from workflow_scripts.generation.trajectory import check_cut

    configs = job_configs(args)
    listed = {Path(c["out_dir"]) for c in configs}
    for config in list(configs):
        source = config.get("thinking_from")
        if source is not None and Path(source) not in listed:
            configs.append({"method": TRAJECTORY, "setting": Path(source).name, "out_dir": source, "write": False})
            listed.add(Path(source))
    configs.sort(key=lambda c: c["method"] != TRAJECTORY)  # trajectories first: derived runs read them
    files = model_fingerprint(str(args.model))
    members, by_dir = [], {}
    for config in configs:
        spec = member_spec(args.model_name, config["method"], config["setting"], settings, args.prompt_format)
        source = Path(config["thinking_from"]) if config.get("thinking_from") else None
        trajectory_key = None
        if source is not None:
            trajectory = by_dir.get(source)
            if trajectory is None or not trajectory.is_trajectory:
                raise GenerationError(f"thinking_from {source} is not a trajectory's out_dir")
            check_cut(spec, trajectory.spec)
            trajectory_key = trajectory.key
        key = job_resume_key(str(args.model), spec, engine_args, args.seed, settings, model_files=files,
                             trajectory=trajectory_key)
        member = Member(spec=spec, out_dir=Path(config["out_dir"]), write=config["write"], key=key,
                        thinking_from=source)
        members.append(member)
        by_dir[member.out_dir] = member
    return members


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from workflow_scripts.decoding.dtype import resolve_dtype
    from workflow_scripts.config.validate import engine_settings

    started = time.perf_counter()
    settings = check_settings(parse_json_object(args.settings, "--settings", GenerationError))
    limits = parse_json_object(args.limits, "--limits", GenerationError)
    if args.chunk_size < 1:
        raise GenerationError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    engine_args = engine_settings(settings["engine"])
    engine_args["dtype"], dtype_reason = resolve_dtype(engine_args["dtype"])
    print(dtype_reason, flush=True)
    members = build_members(args, settings, engine_args)  # every spec checked before the eval sets and the engine
    eval_sets = load_eval_sets(args.eval_sets, limits)
    for member in members:
        member.open(eval_sets, args.seed)
    by_dir = {m.out_dir: m for m in members}
    group = [m.label for m in members]
    targets = [m for m in members if m.write]
    target_pending = False
    for member in targets:
        pending = member.pending()
        target_pending = target_pending or bool(pending)
        member.resumed = {d: sorted(w.samples) for d, w in member.writers.items()}
        print(f"{member.label}: {sum(len(u) for u in member.units.values())} units, {len(pending)} to generate "
              f"({sum(w.torn_lines for w in member.writers.values())} torn line(s) dropped, "
              f"{sum(w.foreign_samples for w in member.writers.values())} stored samples from other settings)",
              flush=True)
    lazy = LazyEngine(args, engine_args, settings)
    if target_pending:
        with group_lock(members):
            for member in members:  # the whole group, while the engine is up
                pending = member.pending()
                if pending:
                    generate_member(member, pending, lazy, by_dir, args.chunk_size)
    made_here = {m.label: m.stats["generated_tokens"] for m in members if m.stats}
    return [finish_member(m, args, engine_args, group, lazy, started, made_here) for m in targets]


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
