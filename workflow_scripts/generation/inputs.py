"""What the generation commands read: their JSON flags, the generation settings and the eval
sets, each checked with an error that names the flag or file (:class:`GenerationError`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workflow_scripts.config.validate import complete_section
from workflow_scripts.errors import UserError
from workflow_scripts.io import read_jsonl


class GenerationError(UserError):
    """Bad CLI input; the message names the argument or file."""


def _json_arg(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise GenerationError(f"{name} is not valid JSON ({error.msg}): {text[:80]!r}") from None


def check_settings(settings: Any) -> dict[str, Any]:
    """The generation settings completed from the schema's defaults and checked (ConfigError names the key)."""
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


def expect_payload(settings: dict[str, Any], limits: dict[str, Any], seed: int, model: str,
                   prompt_format: str | None) -> str:
    """What a run's samples were asked for, as the manifest records it and the shards job
    checks it: the run's own settings (:func:`workflow_scripts.config.grid.job_settings`), the
    eval limits, the seed and the model."""
    return json.dumps({"settings": settings, "limits": limits, "seed": seed, "model": str(model),
                       "prompt_format": prompt_format}, sort_keys=True)


def json_arg(name: str, text: str, kind: type) -> Any:
    value = _json_arg(name, text)
    if not isinstance(value, kind):
        raise GenerationError(f"{name} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value
