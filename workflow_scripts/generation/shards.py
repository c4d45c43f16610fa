"""The ``shards`` job: one run's shards, read from its model's stores (no engine).

Each part manifest names the run's store files and its units in eval order; the job checks
that the run was generated with what it asks for (``--request``, the run's ``request.json``: its
settings, limits, seed and model; a stale manifest is an error, not silently old samples), gathers the parts' units by
eval position and writes ``{dataset}.jsonl`` (eval order; sample j of a question as ``id#j``)
and ``job.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow_scripts.config.grid import TRAJECTORY
from workflow_scripts.generation.inputs import GenerationError, json_arg
from workflow_scripts.decoding.natural_stop import natural_stop_stats
from workflow_scripts.generation.store import SampleStore
from workflow_scripts.io import read_json, write_json, write_jsonl


def dataset_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(samples)
    mean = (lambda key: sum(s[key] for s in samples) / count) if count else (lambda key: 0.0)
    return {"samples": count, "thinking_tokens_mean": mean("thinking_tokens"), "answer_tokens_mean": mean("answer_tokens"),
            "waits_inserted_mean": mean("waits_inserted"),
            "cap_hit_share": (sum(s["cap_hit"] for s in samples) / count) if count else 0.0}


def run_entries(manifests: list[str], run: str, expect: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(manifest, the run's entry) of every part; an error when a part lacks the run or made it
    with other settings than ``expect``."""
    entries = []
    for path in manifests:
        if not Path(path).is_file():
            raise GenerationError(f"manifest {path} does not exist")
        manifest = read_json(path)
        entry = manifest.get("runs", {}).get(run)
        if entry is None:
            raise GenerationError(f"{path} has no run {run!r}: rerun its generate job")
        if entry["expect"] != expect:
            changed = sorted(k for k in set(expect) | set(entry["expect"]) if expect.get(k) != entry["expect"].get(k))
            raise GenerationError(f"{path}: {run} was generated with other {', '.join(changed)} than this job asks "
                                  "for: rerun its generate job")
        entries.append((path, entry))
    return entries


def write_run_shards(args) -> dict[str, Any]:
    if not Path(args.request).is_file():
        raise GenerationError(f"--request {args.request} does not exist")
    expect = json_arg(f"--request {args.request}", Path(args.request).read_text(encoding="utf-8"), dict)
    entries = run_entries(args.manifests, args.run, expect)
    out_dir = Path(args.out_dir)
    first = entries[0][1]
    datasets: dict[str, Any] = {}
    everything = []
    for dataset in first["datasets"]:
        units = []
        for path, entry in entries:
            part = entry["datasets"][dataset]
            store = SampleStore(part["store"], entry["resume_key"], {u[1]: u[2] for u in part["units"]})
            samples = store.load()
            for position, _, _, keys in part["units"]:
                missing = [k for k in keys if k not in samples]
                if missing:
                    raise GenerationError(f"{part['store']}: {len(missing)} sample(s) of {args.run} missing, e.g. "
                                          f"{missing[:3]} (the store was changed after {path}): rerun its generate job")
                units.append((position, [samples[k] for k in keys]))
        ordered = [sample for _, samples in sorted(units, key=lambda unit: unit[0]) for sample in samples]
        write_jsonl(out_dir / f"{dataset}.jsonl", ordered)
        everything.extend(ordered)
        datasets[dataset] = {
            "resumed_ids": sorted(k for _, e in entries for k in e["datasets"][dataset]["resumed"]),
            "generated_ids": sorted(k for _, e in entries for k in e["datasets"][dataset]["generated"]),
            **(dataset_summary(ordered) if first["method"] != TRAJECTORY else {"samples": len(ordered)}),
        }
    job = {
        "run": args.run, "method": first["method"], "setting": first["setting"], "spec": first["spec"],
        "resume_key": first["resume_key"], "thinking_from": first["thinking_from"], "manifests": list(args.manifests),
        "expect": expect,
        # what generating this run cost in its parts' engine calls (0 when every sample was stored)
        "engine_calls": sum(e.get("engine_calls", 0) for _, e in entries),
        "generated_tokens": sum(e.get("generated_tokens", 0) for _, e in entries),
        "generate_s": round(sum(e.get("generate_s", 0.0) for _, e in entries), 3),
        "rounds": [r for _, e in entries for r in e.get("rounds", [])],
        "datasets": datasets,
        "natural_stop": [] if first["method"] == TRAJECTORY else natural_stop_stats(everything),
    }
    write_json(out_dir / "job.json", job)
    return job

