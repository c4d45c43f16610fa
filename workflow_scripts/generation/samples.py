"""The ``generate`` job: every run of one model (one part of its questions) on one engine.

1. **Plan.** Each run of ``--runs`` becomes a :class:`Run`: its method spec, its resume key,
   and one store file per eval set (:mod:`store`). The units to make are the part's questions
   (every P-th from the p-th), times k samples for a repeatable method; what the store already
   holds with this key, from the same eval record, is kept.
2. **Generate** what is missing, only if anything is: the engine starts once, and the runs go
   through :class:`~workflow_scripts.generation.batching.SharedEngine` together, each run in
   chunks of ``--chunk-size`` units appended to its store as they finish: first the trajectory
   and every run that thinks for itself, then the answers of the runs cut from the trajectory
   (:mod:`trajectory`), which need its thinking.
3. **Manifest.** For each run: its key, what it was asked for (``expect``, checked by the
   shards job), and per eval set its units in eval order with their record digests; for the
   part: engine start-up, engine calls, tokens and wall time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from workflow_scripts.config.grid import TRAJECTORY, GenerationRun, job_settings
from workflow_scripts.generation.batching import SharedEngine
from workflow_scripts.generation.inputs import (GenerationError, check_settings, expect_payload, json_arg,
                                             load_eval_sets)
from workflow_scripts.decoding.dtype import resolve_dtype
from workflow_scripts.decoding.engine import Engine
from workflow_scripts.config.validate import engine_settings
from workflow_scripts.generation.methods import MethodError, MethodSpec, generate_samples
from workflow_scripts.decoding.pipeline import GenerationContext
from workflow_scripts.decoding.prompts import FormatTokens
from workflow_scripts.decoding.seeds import SEED_SCHEME
from workflow_scripts.generation.store import SampleStore, resume_key
from workflow_scripts.generation.trajectory import (check_cut, derived_samples, generate_trajectories,
                                                    parse_trajectory_setting, trajectory_key)
from workflow_scripts.io import parse_json_object, write_json
from workflow_scripts.methods import METHODS
from workflow_scripts.methods.base import sample_key
from workflow_scripts.tokenization import load_tokenizer

PART = re.compile(r"(?P<part>[1-9]\d*)of(?P<parts>[1-9]\d*)")


def parse_part(text: str) -> tuple[int, int]:
    """(p, P) of ``pofP``; an error naming the flag otherwise."""
    match = PART.fullmatch(text)
    if match is None or int(match["part"]) > int(match["parts"]):
        raise GenerationError(f"--part must look like 1of1 or 2of4 (p <= P), got {text!r}")
    return int(match["part"]), int(match["parts"])


def run_spec(model_name: str, method: str, setting: str, settings: dict[str, Any], prompt_format: str | None):
    """The generation spec of a run; a trajectory's is the spec of the run it thinks like
    (budget forcing with its n, or truncation for n = 0), renamed."""
    if method != TRAJECTORY:
        return MethodSpec.from_cli(model_name, method, setting, settings, prompt_format)
    budget, n = parse_trajectory_setting(setting)
    run = ("budget_forcing", f"B{budget}-n{n}") if n else ("truncation", f"B{budget}")
    spec = MethodSpec.from_cli(model_name, *run, settings, prompt_format)
    if spec.prompt_format != "think":
        raise MethodError(f"a trajectory needs the thinking format; {model_name} answers directly")
    return dataclasses.replace(spec, method=TRAJECTORY, setting=setting)


def run_resume_key(model: str, spec, engine_args: dict[str, Any], seed: int, settings: dict[str, Any], *,
                   model_files: str | None = None, trajectory: str | None = None) -> str:
    """What must match for a stored sample to count as done: model (and its files' fingerprint),
    method spec, engine, seed, answer limits, for a sampled run how its seeds are derived (greedy
    runs' keys stay as they were), and for a derived run its trajectory's key."""
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


@dataclasses.dataclass
class Run:
    """One run of the job: its spec, its store files and what is still missing."""

    entry: GenerationRun
    spec: Any
    key: str
    stores: dict[str, SampleStore] = dataclasses.field(default_factory=dict)
    # dataset: [(position in the eval set, record, its sample keys)]
    units: dict[str, list[tuple[int, dict[str, Any], list[str]]]] = dataclasses.field(default_factory=dict)
    resumed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    generated: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.entry.folder

    def open(self, store_dir: Path, eval_sets: dict[str, list[tuple[int, dict[str, Any]]]], seed: int) -> None:
        """The store files and the units: a repeatable run (and a trajectory) has one unit per
        (question, sample); a method that samples itself one per question."""
        definition = METHODS.get(self.spec.method)
        for dataset, records in eval_sets.items():
            self.stores[dataset] = SampleStore(store_dir / self.entry.method / self.entry.setting / f"{dataset}.jsonl",
                                               self.key, {r["id"]: record_digest(r) for _, r in records})
            if definition is None or definition.repeatable:
                positions = {r["id"]: position for position, r in records}
                self.units[dataset] = [(positions[r["id"]], r, [sample_key(r)])
                                       for r in self.spec.sample_records([r for _, r in records], seed)]
            else:
                self.units[dataset] = [(position, r, definition.sample_keys(r["id"], self.spec))
                                       for position, r in records]

    def pending(self) -> list[dict[str, Any]]:
        """The records (one per unit) not, or not wholly, in the store."""
        missing = []
        for dataset, store in self.stores.items():
            done = store.load()
            missing.extend(r for _, r, keys in self.units[dataset] if not all(k in done for k in keys))
        return missing

    def manifest_entry(self, expect: str) -> dict[str, Any]:
        return {
            "method": self.entry.method, "setting": self.entry.setting, "thinking_from": self.entry.thinking_from,
            "spec": self.spec.as_dict(), "resume_key": self.key, "expect": json.loads(expect),
            "datasets": {dataset: {"store": str(store.path),
                                   "units": [[position, record["id"], store.digests[record["id"]], keys]
                                             for position, record, keys in self.units[dataset]],
                                   "resumed": self.resumed[dataset], "generated": self.generated.get(dataset, [])}
                         for dataset, store in self.stores.items()},
            **self.stats,
        }


def plan_runs(args, settings: dict[str, Any], engine_args: dict[str, Any]) -> list[Run]:
    """The job's runs, checked before any engine starts: the trajectory first (a derived run
    needs it in ``--runs``), then the others in the order given."""
    entries = []
    for number, entry in enumerate(json_arg("--runs", args.runs, list), 1):
        if not isinstance(entry, dict) or not {"method", "setting"} <= set(entry) <= {"method", "setting",
                                                                                     "thinking_from"}:
            raise GenerationError(f"--runs entry {number} must have method, setting (and optionally thinking_from): "
                                  f"{entry!r}")
        entries.append(GenerationRun(args.model_name, entry["method"], entry["setting"], entry.get("thinking_from")))
    if not entries:
        raise GenerationError("--runs is empty")
    if len({e.folder for e in entries}) != len(entries):
        raise GenerationError("--runs names the same run twice")
    entries.sort(key=lambda e: e.method != TRAJECTORY)
    files = model_fingerprint(str(args.model))
    runs, trajectories = [], {}
    for entry in entries:
        spec = run_spec(args.model_name, entry.method, entry.setting, settings, args.prompt_format)
        trajectory_resume_key = None
        if entry.thinking_from is not None:
            trajectory = trajectories.get(entry.thinking_from)
            if trajectory is None:
                raise GenerationError(f"{entry.folder} is cut from the trajectory {entry.thinking_from!r}, "
                                      "which --runs does not list")
            check_cut(spec, trajectory.spec)
            trajectory_resume_key = trajectory.key
        key = run_resume_key(str(args.model), spec, engine_args, args.seed, settings, model_files=files,
                             trajectory=trajectory_resume_key)
        run = Run(entry=entry, spec=spec, key=key)
        runs.append(run)
        if entry.method == TRAJECTORY:
            trajectories[entry.setting] = run
    return runs


def start_engine(args, engine_args: dict[str, Any], settings: dict[str, Any]) -> GenerationContext:
    tokenizer = load_tokenizer(args.model)
    engine = Engine(args.model, engine_args, seed=args.seed, tokenizer_size=len(tokenizer), progress=True)
    return GenerationContext(
        engine=engine, tokenizer=tokenizer, tokens=FormatTokens.from_tokenizer(tokenizer, args.model),
        answer_reserve_tokens=settings["answer_reserve_tokens"], answer_max_tokens=settings["answer_max_tokens"],
        seed=args.seed, temperature=settings["temperature"], top_p=settings["top_p"])


def stored_trajectories(run: Run) -> dict[tuple, dict[str, Any]]:
    return {trajectory_key(t): t for store in run.stores.values() for t in store.samples.values()}


def generation_job(run: Run, pending: list[dict[str, Any]], ctx: GenerationContext, runs_by_setting: dict,
                   chunk_size: int):
    """The function that makes ``run``'s missing samples on its engine client (one thread of the
    shared engine), chunk by chunk into its store."""

    def job(client) -> None:
        own = dataclasses.replace(ctx, engine=client, round_stats=[])
        trajectories = (stored_trajectories(runs_by_setting[run.entry.thinking_from])
                        if run.entry.thinking_from else None)
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start:start + chunk_size]
            if run.entry.method == TRAJECTORY:
                samples = generate_trajectories(own, chunk, run.spec)
            elif trajectories is not None:
                samples = derived_samples(own, chunk, run.spec, trajectories,
                                          str(runs_by_setting[run.entry.thinking_from].label))
            else:
                samples = generate_samples(own, chunk, run.spec)
            for sample in samples:
                run.stores[sample["dataset"]].append([sample])
                run.generated.setdefault(sample["dataset"], []).append(sample_key(sample))
            print(f"{run.label}: {min(start + chunk_size, len(pending))}/{len(pending)} units", flush=True)
        run.stats = {"engine_calls": client.stats.calls, "generated_tokens": client.stats.generated_tokens,
                     "generate_s": round(client.stats.generate_seconds, 3), "rounds": own.round_stats}

    return job


def part_records(eval_sets: dict[str, list[dict[str, Any]]], part: int, parts: int):
    """{dataset: [(position, record)]} of this part: every ``parts``-th question from the ``part``-th."""
    return {dataset: [(i, r) for i, r in enumerate(records) if i % parts == part - 1]
            for dataset, records in eval_sets.items()}


def generate_missing(runs: list[Run], pending: dict[str, list], ctx: GenerationContext, chunk_size: int, *,
                     together: bool = True) -> None:
    """Make every run's pending samples on ``ctx``'s engine: the trajectory and the runs that
    think for themselves, then the runs cut from the trajectory; within each phase every run's
    rounds go to the engine together (``together=False``: one run after the other, each in its
    own batches, as each run had its own job before issue 22; benchmarks/gpu_generation.py)."""
    shared = SharedEngine(ctx.engine)
    by_setting = {r.entry.setting: r for r in runs if r.entry.method == TRAJECTORY}
    for phase in ([r for r in runs if r.entry.thinking_from is None], [r for r in runs if r.entry.thinking_from]):
        jobs = [generation_job(r, pending[r.label], ctx, by_setting, chunk_size) for r in phase if pending[r.label]]
        for batch in ([jobs] if together else [[job] for job in jobs]):
            shared.run(batch)


def open_runs(args, settings: dict[str, Any], engine_args: dict[str, Any], limits: dict[str, Any],
              part: tuple[int, int]) -> tuple[list[Run], dict[str, list]]:
    """The job's runs with their stores opened, and each run's pending records."""
    runs = plan_runs(args, settings, engine_args)  # every spec checked before the eval sets and the engine
    eval_sets = part_records(load_eval_sets(args.eval_sets, limits), *part)
    pending = {}
    for run in runs:
        run.open(Path(args.store), eval_sets, args.seed)
        pending[run.label] = run.pending()
        run.resumed = {d: sorted(set(s.samples)) for d, s in run.stores.items()}
        print(f"{run.label}: {sum(len(u) for u in run.units.values())} units, {len(pending[run.label])} to generate "
              f"({sum(s.torn_lines for s in run.stores.values())} torn line(s) dropped, "
              f"{sum(s.foreign_samples for s in run.stores.values())} stored samples from other settings)", flush=True)
    return runs, pending


def generate_part(args) -> dict[str, Any]:
    started = time.perf_counter()
    part = parse_part(args.part)
    settings = check_settings(parse_json_object(args.settings, "--settings", GenerationError))
    limits = parse_json_object(args.limits, "--limits", GenerationError)
    if args.chunk_size < 1:
        raise GenerationError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    engine_args = engine_settings(settings["engine"])
    engine_args["dtype"], dtype_reason = resolve_dtype(engine_args["dtype"])
    print(dtype_reason, flush=True)
    runs, pending = open_runs(args, settings, engine_args, limits, part)
    ctx, generation_s = None, 0.0
    if any(pending.values()):
        ctx = start_engine(args, engine_args, settings)
        generation_started = time.perf_counter()
        generate_missing(runs, pending, ctx, args.chunk_size)
        generation_s = time.perf_counter() - generation_started
    stats = ctx.engine.stats if ctx else None
    manifest = {
        "model": str(args.model), "model_name": args.model_name, "part": args.part, "seed": args.seed,
        "engine": engine_args,
        "engine_starts": stats.starts if stats else 0,  # 0: every sample was in the store
        "engine_start_s": round(stats.start_seconds, 3) if stats else 0.0,
        "engine_calls": stats.calls_log if stats else [],
        "generated_tokens": stats.generated_tokens if stats else 0,
        "generate_s": round(stats.generate_seconds, 3) if stats else 0.0,  # inside vLLM's generate calls
        "generation_s": round(generation_s, 3),  # from the first engine call to the last sample stored
        "wall_time_s": round(time.perf_counter() - started, 3),
        "runs": {run.label: run.manifest_entry(expect_payload(job_settings(settings, run.entry.methods), limits,
                                                              args.seed, args.model, args.prompt_format))
                 for run in runs},
    }
    write_json(args.manifest, manifest)
    return manifest
