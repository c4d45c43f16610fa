"""Where n > 1 matters: how often thinking ended naturally before the budget.

A sample stops naturally when its first thinking round ended with a stop id rather than at
the cap (for truncation: ``not cap_hit``; for the base model's one-phase answers: the
response ended before its cap). Budget forcing with n > 1 can only act where this happens.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from workflow_scripts.io import read_jsonl


def stopped_naturally(sample: dict[str, Any]) -> bool:
    reasons = sample.get("round_finish_reasons") or []
    if reasons:
        return reasons[0] == "stop"
    return sample.get("answer_finish_reason") == "stop"


def natural_stop_stats(samples: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, method, setting, dataset, budget): samples, natural stops, share."""
    groups: dict[tuple, list[bool]] = defaultdict(list)
    for sample in samples:
        key = (sample["model"], sample["method"], sample["setting"], sample["dataset"], str(sample["budget"]))
        groups[key].append(stopped_naturally(sample))
    rows = []
    for (model, method, setting, dataset, budget), flags in sorted(groups.items()):
        rows.append({"model": model, "method": method, "setting": setting, "dataset": dataset, "budget": budget,
                     "samples": len(flags), "natural_stops": sum(flags), "share": sum(flags) / len(flags)})
    return rows


def natural_stop_table(shard_paths: Iterable[str | Path], methods: tuple[str, ...] = ("truncation",)) -> list[dict]:
    """Natural-stop rows over generation (or graded) shards; by default truncation runs only."""
    samples = (s for path in shard_paths for s in read_jsonl(path) if not methods or s["method"] in methods)
    return natural_stop_stats(samples)
