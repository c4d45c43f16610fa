"""The curation on the synthetic world (the smoke run's pool): every planted row is dropped for the
reason the world planted, and the final set is as uniform over domains as supply allows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from workflow_scripts.config import load_config
from workflow_scripts.curation import REASONS, run_curation
from workflow_scripts.curation.load_pool import load_pool_frame
from workflow_scripts.data import load_benchmark

EVAL_FILES = {"math500": "eval/math500.jsonl", "aime24": "eval/aime24.jsonl", "gpqa": "eval/gpqa_diamond.csv"}


@pytest.fixture(scope="module")
def smoke_config(repo_root):
    return load_config(repo_root / "profiles/smoke/experiment.yaml")


@pytest.fixture(scope="module")
def world(tmp_path_factory, repo_root, smoke_config):
    out = tmp_path_factory.mktemp("world")
    # The smoke world's pool and eval sets; the model is not needed here, so no pretraining.
    settings = {**smoke_config["synthetic_world"], "model": {"pretrain_steps": 0}}
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.world", "--settings", json.dumps(settings),
                           "--seed", "42", "--out-dir", str(out)], cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def curated(world, smoke_config):
    records = [r for b, f in EVAL_FILES.items() for r in load_benchmark(b, str(world / f), 42)]
    raw = load_pool_frame(str(world / "pool.jsonl"))
    result = run_curation(raw, smoke_config["pool"]["columns"], smoke_config["curation"], records,
                          tokenizer_source=str(world / "base_model"), seed=42, progress=False)
    return result, json.loads((world / "summary.json").read_text())


def test_every_planted_row_is_dropped_for_the_planted_reason(curated):
    result, world_summary = curated
    planted = {int(i): reason for i, reason in world_summary["planted"].items()}
    assert len(planted) > 100 and set(planted.values()) == set(world_summary["reasons"])
    assert set(world_summary["reasons"]) == set(REASONS) - {"not_selected"}  # one shared vocabulary
    reasons = dict(zip(result.dropped["row_index"], result.dropped["reason"]))
    wrong = {i: (expected, reasons.get(i)) for i, expected in planted.items() if reasons.get(i) != expected}
    assert wrong == {}
    # Unplanted rows are never dropped by a filter: at most left out by the selection.
    clean_drops = {i: r for i, r in reasons.items() if i not in planted and r != "not_selected"}
    assert clean_drops == {}
    for index, control in world_summary["controls"].items():
        assert reasons.get(int(index)) in (None, "not_selected"), control  # e.g. AIME [asy] survives


def test_counts_add_up_and_match_the_world(curated):
    result, world_summary = curated
    summary = result.summary
    assert summary["counts_add_up"] and summary["input_rows"] == world_summary["counts"]["pool_rows"]
    planted = Counter(world_summary["planted"].values())
    for reason, count in planted.items():
        assert summary["dropped_by_reason"][reason] == count, reason
    assert summary["kept"] == 300


def test_final_set_is_as_uniform_over_domains_as_supply_allows(curated):
    result, _ = curated
    final = Counter(result.curated["domain"])
    left_over = set(result.dropped.loc[result.dropped["reason"] == "not_selected", "domain"])
    open_domains = [d for d in final if d in left_over]  # domains that still had candidates
    floor = min(final[d] for d in open_domains)
    sampled = Counter(result.curated.loc[result.curated["keep_reason"] == "domain_sample", "domain"])
    # Least-filled-first: a domain only got a sampled row while it was (one of) the least filled.
    for domain, count in final.items():
        if sampled[domain]:
            assert count - 1 <= floor, (domain, count, floor)
    assert result.summary["domains"]["max_min_ratio"] == round(max(final.values()) / min(final.values()), 4)
    assert sorted(result.summary["selection"]["exhausted_domains"]) == sorted(set(final) - left_over)
