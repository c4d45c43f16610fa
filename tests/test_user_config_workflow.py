"""A user's real-model config through the whole DAG, as the README tells a CPU user to run it.

No real Qwen2-architecture checkpoint is available offline, so the tiny synthetic model stands
in for one, saved the way a user's converted model is: a local folder as ``model.base`` and a
second local folder as an extra (thinking) model. Everything else is a user's: an overlay over
config.yaml with real MATH500 rows from ../shared/data (one eval set, the others null), two
budgets, and the CPU profile (``--profile profiles/cpu --configfile my.yaml
profiles/cpu/overlay.yaml``). Nothing is trained, so curation and SFT must not be scheduled.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from test_report import check_report_against_its_tables
from test_smoke_workflow import planned_jobs
from workflow_scripts.analysis.tables import read_runs
from workflow_scripts.config import evaluation_grid, load_config, trajectory_plan

pytestmark = pytest.mark.slow
LIMIT = 3
BUDGETS = [8, 16]


def _save_tiny_model(folder, seed: int) -> None:
    from workflow_scripts.world.model import build_base_model, save_model
    from workflow_scripts.world.settings import parse_world_settings
    from workflow_scripts.world.tokenizer import build_world_tokenizer

    tokenizer = build_world_tokenizer()
    settings = parse_world_settings({"model": {"pretrain_steps": 0}}).model  # the schema's model shape
    model, _ = build_base_model(settings, tokenizer, seed, progress=False)
    save_model(model, tokenizer, folder)


@pytest.fixture(scope="module")
def user_run(repo_root, shared_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("user")
    base, extra = work / "models" / "Qwen2.5-tiny-Instruct", work / "models" / "s1-tiny"
    _save_tiny_model(base, seed=42)
    _save_tiny_model(extra, seed=7)
    user = {
        "run_name": "tiny-real",
        "model": {"base": str(base)},
        "eval_sets": {"math500": {"source": str(shared_data / "math500" / "test.jsonl"), "split": "test",
                                  "limit": LIMIT},
                      "aime24": None, "gpqa": None},
        "generation": {
            "models": ["base", {"name": "s1-tiny", "source": str(extra)}],
            "engine": {"max_model_len": 1024},  # the tiny model's context
            "answer_reserve_tokens": 16, "answer_max_tokens": 16,
            "truncation": {"budgets": BUDGETS},
            # the other methods of config.yaml's defaults run nothing (an empty list, k 0)
            "budget_forcing": {"budgets": [], "n": {"default": [1]}},
            "class_conditional": {"prompts": []},
            **{name: {"budgets": []} for name in ("token_conditional", "token_conditional_forcing", "step_conditional",
                                                  "step_conditional_forcing", "rejection_sampling")},
            "parallel": {"k": 0},
            "baseline": {"methods": ["truncation"], "budgets": BUDGETS},
        },
    }
    configfile = work / "my.yaml"
    configfile.write_text(yaml.safe_dump(user))
    overlay = repo_root / "profiles" / "cpu" / "overlay.yaml"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(repo_root / "Snakefile"), "--directory", str(work),
               "--profile", str(repo_root / "profiles" / "cpu"), "--configfile", str(configfile), str(overlay),
               "--cores", "2"]
    dry = subprocess.run(command + ["-n"], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-8000:]
    print(f"user-config DAG: {seconds:.0f} s")
    config = load_config(configfile, overlay)
    return work / "results" / "tiny-real", config, planned_jobs(dry)


def test_existing_checkpoints_are_evaluated_without_curation_or_sft(user_run):
    results, config, plan = user_run
    assert "curate" not in plan and "sft" not in plan and "eval_set" in plan
    # one engine per model; a shards job for each of 2 budgets x 2 models, and the thinking model's trajectory
    assert len(trajectory_plan(config)) == 1  # s1-tiny thinks: its truncation runs share one trajectory
    assert sorted(j for j in plan if j.startswith("generate")) == ["generate"] * 2
    assert plan.count("shards") == 4 + 1
    assert not (results / "curation").exists() and not (results / "sft").exists()
    grid = evaluation_grid(config)
    assert {(s.model, s.method, s.setting) for s in grid} == {
        (m, "truncation", f"B{b}") for m in ("base", "s1-tiny") for b in BUDGETS}
    for spec in grid:
        graded = results / "graded" / spec.model / spec.method / spec.setting
        assert sorted(p.name for p in graded.iterdir()) == ["math500.jsonl"]  # the one configured eval set
        assert len((graded / "math500.jsonl").read_text().splitlines()) == LIMIT


def test_compute_tokens_and_budget_metrics_come_from_the_real_engine(user_run):
    results, _, _ = user_run
    runs = read_runs(results / "analysis" / "runs.tsv").set_index(["model", "setting"])
    for budget in BUDGETS:
        base, thinking = runs.loc[("base", f"B{budget}")], runs.loc[("s1-tiny", f"B{budget}")]
        # The base model answers directly: its compute tokens are its response tokens, within the cap.
        assert base["compute"] == "response" and base["thinking_tokens_mean"] == 0
        assert 0 < base["compute_tokens_mean"] <= budget and base["within_budget_share"] == 1.0
        assert thinking["compute"] == "thinking" and thinking["compute_tokens_mean"] <= budget
        assert thinking["compute_tokens_mean"] == thinking["thinking_tokens_mean"]
    metrics = pd.read_csv(results / "analysis" / "metrics.tsv", sep="\t").set_index("model")
    assert metrics.loc["base", "control_exceed"] == 0.0 and metrics.loc["base", "control_paper"] == 1.0
    means = [runs.loc[("base", f"B{b}"), "compute_tokens_mean"] for b in BUDGETS]
    expected = sum(abs(m - b) / b for m, b in zip(means, BUDGETS)) / len(BUDGETS)
    assert metrics.loc["base", "budget_error"] == pytest.approx(expected, rel=1e-4)


def test_the_report_names_the_users_models_and_data_and_leaves_out_what_did_not_run(user_run):
    results, config, _ = user_run
    text = (results / "REPORT.md").read_text()
    base = config["model"]["base"]
    extra = config["generation"]["models"][1]["source"]
    assert text.startswith(f"# s1 test-time scaling on {base} and {extra}: run `tiny-real`")
    assert f"`s1-tiny`: `{config['generation']['models'][1]['source']}` (think/answer format)" in text
    assert f"`base`: `{base}` (`model.base`) (direct answers)" in text
    assert "- **Data and training: not run.**" in text and "### Curation counts" not in text
    assert f"the first {LIMIT} of 500 rows, {LIMIT} samples per run." in text
    assert "AIME24" not in text.split("## 2.")[0] and "GPQA by the chosen letter" not in text
    assert "Qwen2.5-tiny-Instruct and s1-tiny instead of s1's Qwen2.5-32B-Instruct" in text
    # what did not run is not described: only truncation ran (both models), nothing was trained
    for absent in ("budget forcing", "Budget forcing", "class-conditional", "Class-conditional", "Rejection",
                   "Parallel scaling", "Token-/step", "Predicted for the full grid", "**Curation**"):
        assert absent not in text, absent
    check_report_against_its_tables(text, results)
    for figure in ("scaling.png", "methods.png", "failures.png"):
        assert (results / "analysis" / figure).stat().st_size > 0
