"""The embedded default, end to end: the real Snakefile on the synthetic world, on CPU.

One full run (module fixture) in a temporary working directory, then checks on what it wrote:
the DAG is complete, up to date afterwards, reruns only what a budget change touches, and
truncation accuracy rises with the budget (the synthetic task needs its trace).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from workflow_scripts.config import evaluation_grid, load_config
from workflow_scripts.decoding.seeds import sample_seed

pytestmark = pytest.mark.slow
TIMEOUT_S = 1500


def snakemake(repo_root, workdir, configfiles, *args, timeout=TIMEOUT_S):
    """snakemake in workdir with config.yaml and then each of ``configfiles`` merged over it."""
    configfiles = [configfiles] if not isinstance(configfiles, (list, tuple)) else configfiles
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(repo_root / "Snakefile"),
        "--directory", str(workdir), "--cores", "2", "--resources", "gpu=0", *args,
        "--configfile", *map(str, configfiles),  # last: --configfile takes every word after it
    ]
    return subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=timeout)


def planned_jobs(result) -> list[str]:
    """Rule names of the jobs a dry run would execute (from its job table)."""
    table = re.search(r"Job stats:\n(.*?)\n\n", result.stdout + result.stderr, re.S)
    if table is None:
        return []
    jobs = []
    for line in table.group(1).splitlines()[2:]:
        name, count = line.split()[:2]
        if name != "total":
            jobs += [name] * int(count)
    return jobs


@pytest.fixture(scope="module")
def smoke_run(repo_root, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    configfile = repo_root / "profiles" / "smoke" / "experiment.yaml"
    result = snakemake(repo_root, workdir, configfile)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    config = load_config(configfile)  # the overlay merged over config.yaml and completed, as the run saw it
    return workdir, configfile, config, workdir / "results" / config["run_name"]


def test_every_stage_wrote_its_outputs(smoke_run):
    _, _, config, results = smoke_run
    for path in ["world/summary.json", "curation/curated.parquet", "curation/dropped.parquet",
                 "curation/summary.json", "sft/model/config.json", "sft/summary.json",
                 "analysis/metrics.tsv", "analysis/runs.tsv", "analysis/scaling.png", "REPORT.md"]:
        assert (results / path).is_file(), path
    for spec in evaluation_grid(config):
        for dataset in ("math500", "aime24", "gpqa"):
            assert (results / "graded" / spec.model / spec.method / spec.setting / f"{dataset}.jsonl").is_file()
    assert len(pd.read_parquet(results / "curation" / "curated.parquet")) == config["curation"]["target_size"]
    report = (results / "REPORT.md").read_text()
    assert "Decontamination rule `distinctive`; flags per benchmark:" in report


def test_the_report_is_headline_first_and_its_numbers_are_its_tables(smoke_run):
    """REPORT.md of the smoke run: at most ~300 lines, sections in order, a headline of at most ten lines
    whose numbers are those of runs.tsv, metrics.tsv and cost.tsv; both scaling figures embedded."""
    from test_report import check_report_against_its_tables

    _, _, _, results = smoke_run
    report = (results / "REPORT.md").read_text()
    check_report_against_its_tables(report, results)
    assert "![Accuracy vs. compute tokens: truncation, budget forcing, class-conditional](analysis/scaling.png)" in report
    assert "![Accuracy vs. compute tokens: the other methods](analysis/scaling_other_methods.png)" in report


def test_nothing_to_do_after_a_complete_run(repo_root, smoke_run):
    workdir, configfile, _, _ = smoke_run
    result = snakemake(repo_root, workdir, configfile, "-n", timeout=300)
    assert result.returncode == 0
    assert planned_jobs(result) == []
    assert "Nothing to be done" in result.stdout + result.stderr


def test_truncation_accuracy_rises_with_the_budget(smoke_run):
    _, _, _, results = smoke_run
    runs = pd.read_csv(results / "analysis" / "runs.tsv", sep="\t")
    truncation = runs[(runs.model == "sft") & (runs.method == "truncation") & (runs.budget != "unbounded")]
    pooled = truncation.groupby(truncation.budget.astype(int)).apply(
        lambda g: (g.accuracy * g.samples).sum() / g.samples.sum()
    ).sort_index()
    assert len(pooled) >= 3
    # The smallest budget cannot finish the trace; the largest finite one mostly can.
    assert pooled.iloc[-1] > pooled.iloc[0] + 0.2, pooled.to_dict()


def test_every_method_has_metrics_a_table3_row_and_its_records(smoke_run):
    from workflow_scripts.methods import METHODS

    _, _, config, results = smoke_run
    grid = evaluation_grid(config)
    metrics = pd.read_csv(results / "analysis" / "metrics.tsv", sep="\t")
    runs = pd.read_csv(results / "analysis" / "runs.tsv", sep="\t", dtype={"setting": str})
    report = (results / "REPORT.md").read_text()
    for method in {s.method for s in grid}:
        assert set(metrics[metrics.method == method].dataset) == {"math500", "aime24", "gpqa"}, method
        assert f"| {METHODS[method].label} |" in report, method
    assert "scaling_per_doubling" in metrics.columns
    # parallel scaling: one run per vote size, from one k-sample shard per model
    k = config["generation"]["parallel"]["k"]
    votes = runs[runs.method == "parallel"]
    assert sorted(set(votes.setting)) == sorted(f"k{k}-m{m}" for m in (1, 2, 4) if m <= k)
    # per-sample records of the new methods
    shard = results / "graded" / "sft"
    steps = [json.loads(line) for line in (shard / "step_conditional" / "S2" / "math500.jsonl").read_text().splitlines()]
    assert all(s["steps_used"] >= 1 and s["instruction"] == "Think for up to 2 steps." for s in steps)
    rejection = [json.loads(line) for line in (shard / "rejection_sampling" / "B64" / "math500.jsonl").read_text().splitlines()]
    assert all(1 <= s["tries"] <= 4 and s["fits"] == (s["thinking_tokens"] <= 64) for s in rejection)
    parallel = (shard / "parallel" / f"k{k}" / "math500.jsonl").read_text().splitlines()
    assert len(parallel) == k * config["eval_sets"]["math500"]["limit"]


def test_a_three_key_override_reruns_only_what_it_changes(repo_root, smoke_run, tmp_path):
    """An override file over the smoke overlay (over config.yaml): one budget changed, one
    class-conditional prompt dropped, fewer examples. Only the new budget's shards are generated,
    and only their answers."""
    workdir, configfile, config, results = smoke_run
    budgets = list(config["generation"]["truncation"]["budgets"])
    old = next(b for b in budgets if b != "unbounded" and b not in config["generation"]["budget_forcing"]["budgets"])
    new = old + 1
    budgets[budgets.index(old)] = new
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({
        "generation": {"truncation": {"budgets": budgets}, "class_conditional": {"prompts": ["short"]}},
        "report": {"examples_per_method": 2},
    }))
    assert load_config(configfile, override)["generation"]["budget_forcing"] == config["generation"]["budget_forcing"]

    dry = snakemake(repo_root, workdir, [configfile, override], "-n", timeout=300)
    assert dry.returncode == 0, dry.stderr[-4000:]
    jobs = planned_jobs(dry)
    # The new budget's request, the SFT model's generate job (its runs changed: it makes only the
    # new budget's samples) and the new budget's shards job; no other run's shards are rewritten,
    # so nothing else is regraded.
    assert sorted(j for j in jobs if j in ("generation_request", "generate", "shards")) == [
        "generate", "generation_request", "shards"], jobs
    assert "sft" not in jobs and "curate" not in jobs and "synthetic_world" not in jobs
    assert {"metrics", "plots", "research_report"} <= set(jobs)
    assert f"truncation/B{new}/" in dry.stdout + dry.stderr
    assert jobs.count("grade") == len(config["eval_sets"])  # the new budget's shards only

    def files():
        return {p: p.stat().st_mtime_ns for p in (results / "generation").rglob("*.jsonl") if ".store" not in p.parts}

    before = files()
    run = snakemake(repo_root, workdir, [configfile, override])
    assert run.returncode == 0, run.stderr[-4000:]
    after = files()
    touched = {p.relative_to(results).parts[:4] for p in after if before.get(p) != after[p]}
    assert touched == {("generation", "sft", "truncation", f"B{new}")}, touched
    manifest = json.loads((results / "generation" / "sft" / "parts" / "1of1.json").read_text())
    # the engine started for the new budget's answers alone: the trajectory's thinking was reused
    assert manifest["engine_starts"] == 1
    made = {run: sum(len(d["generated"]) for d in entry["datasets"].values()) for run, entry in manifest["runs"].items()}
    assert {run for run, count in made.items() if count} == {f"sft/truncation/B{new}"}, made
    job = json.loads((results / "generation" / "sft" / "truncation" / f"B{new}" / "job.json").read_text())
    assert job["thinking_from"] == "Bunbounded-n2" and job["generated_tokens"] > 0
    new_samples = [json.loads(line) for line in (results / "generation" / "sft" / "truncation" / f"B{new}" /
                                                 "math500.jsonl").read_text().splitlines()]
    assert all(s["derived"] and s["generated_tokens"] == s["answer_engine_tokens"] for s in new_samples)
    runs = pd.read_csv(results / "analysis" / "runs.tsv", sep="\t", dtype={"budget": str, "setting": str})
    assert str(new) in set(runs[runs.method == "truncation"].budget) and str(old) not in set(runs.budget)
    assert set(runs[runs.method == "class_conditional"].setting) == {"short"}


def test_repeated_samples_on_the_smoke_config(repo_root, smoke_run, tmp_path):
    """generation.samples: 3 at temperature 0.6 / top-p 0.95 on a trimmed smoke grid: three seeded
    samples per question in every shard, each sample's trajectory serving its derived runs, and
    the mean and spread over samples in runs.tsv. (Runs last: it regenerates the smoke results.)"""
    workdir, configfile, _, results = smoke_run
    override = tmp_path / "samples.yaml"
    override.write_text(yaml.safe_dump({"generation": {
        "samples": 3, "temperature": 0.6, "top_p": 0.95,
        "truncation": {"budgets": [32, 128]},
        "budget_forcing": {"budgets": [128, "unbounded"], "n": {"default": [1], "128": [1], "unbounded": [1]}},
        "class_conditional": {"prompts": []}, "token_conditional": {"budgets": []},
        "token_conditional_forcing": {"budgets": []}, "step_conditional": {"budgets": []},
        "step_conditional_forcing": {"budgets": []}, "rejection_sampling": {"budgets": []}, "parallel": {"k": 0},
    }}))
    run = snakemake(repo_root, workdir, [configfile, override])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-4000:]
    config = load_config(configfile, override)
    questions = config["eval_sets"]["math500"]["limit"]
    trajectory = {(t["id"], t["sample"]): t for t in map(json.loads, (
        results / "generation" / "sft" / "trajectory" / "Bunbounded-n1" / "math500.jsonl").read_text().splitlines())}
    assert len(trajectory) == 3 * questions
    for folder in ("sft/truncation/B32", "sft/budget_forcing/B128-n1", "base/truncation/Bunbounded"):
        graded = [json.loads(line) for line in (results / "graded" / folder / "math500.jsonl").read_text().splitlines()]
        assert len(graded) == 3 * questions and [g["sample"] for g in graded[:3]] == [0, 1, 2]
        # one seed per (question, sample), the same in every run (tests/test_generation_seeds.py)
        assert len({g["sample_seed"] for g in graded}) == 3 * questions
        assert all(g["sample_seed"] == sample_seed(config["seed"], g["dataset"], g["id"], g["sample"]) for g in graded)
        if folder.startswith("sft"):  # cut from the same sample's trajectory
            assert all(g["derived"] and g["thinking_token_ids"] == trajectory[(g["id"], g["sample"])][
                "thinking_token_ids"][:g["thinking_tokens"]] for g in graded)
    runs = pd.read_csv(results / "analysis" / "runs.tsv", sep="\t", dtype={"setting": str})
    repeated = runs[runs.method.isin(["truncation", "budget_forcing"])]
    assert len(repeated) == 4 * 3 + 3  # sft: 4 runs, base: 1 run, on 3 datasets
    assert (repeated.samples_per_question == 3).all()
    assert repeated.accuracy_sample_sd.notna().all()
    assert ((repeated.accuracy_sample_min <= repeated.accuracy + 1e-9)
            & (repeated.accuracy <= repeated.accuracy_sample_max + 1e-9)).all()
    cost = pd.read_csv(results / "analysis" / "cost.tsv", sep="\t").set_index("model")
    rows = sum(len((results / "data" / "eval" / f"{d}.jsonl").read_text().splitlines()[:config["eval_sets"][d]["limit"]])
               for d in ("math500", "aime24", "gpqa"))
    assert cost.loc["sft", "trajectories"] == 3 * rows
    assert cost.loc["total", "from_scratch"] > cost.loc["total", "generated"]
