"""The grading and analysis rules run by real Snakemake on hand-built generation shards.

Upstream rules (world, curation, SFT, generation) are left out with ``--allowed-rules``;
their outputs are written here in the record format of docs/architecture.md. The eval
sets for the grader audit are the first rows of the real MATH500 and AIME24.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from test_report import check_report_against_its_tables
from workflow_scripts.analysis.metrics import budget_trend
from workflow_scripts.analysis.tables import read_runs
from workflow_scripts.config import derives_thinking, evaluation_grid, load_config, trajectory_plan
from workflow_scripts.io import read_jsonl

pytestmark = pytest.mark.slow

ALLOWED = ["grade", "grader_audit", "metrics", "cost", "plots", "failures", "examples", "research_report", "all"]
QUESTIONS = 6
TRAJECTORY_TOKENS = 100  # what each question's shared thinking cost (generation.reuse_thinking, the default)
ANSWER_TOKENS = 3


def _answer(dataset: str, gold: str, correct: bool) -> tuple[str, str]:
    """(answer_text, gold_letter) in the synthetic world's "Answer: X" format."""
    if dataset == "gpqa":
        return f"Answer: {'B' if correct else 'C'}", "B"
    return f"Answer: {gold if correct else int(gold) + 1}", None


def _shard_rows(spec, dataset: str, budget_rank: int, derived: bool) -> list[dict]:
    rows = []
    for q in range(QUESTIONS):
        gold = str(100 + q)
        correct = q < budget_rank  # more budget, more correct answers
        answer_text, letter = _answer(dataset, gold, correct)
        budget = spec.budget
        tokens = 20 + 10 * budget_rank
        direct = spec.model == "base"  # the base model answers directly: its tokens are the response's
        rows.append({
            "dataset": dataset, "id": f"{dataset}-{q}", "index": q, "model": spec.model, "method": spec.method,
            "setting": spec.setting, "budget": budget, "n": spec.n, "forcing_string": "Wait" if spec.n else None,
            "class_prompt": spec.prompt, "prompt_format": "direct" if direct else "think", "prompt_tokens": 30,
            "thinking_text": "" if direct else "12+34\n=46" + (" Wait, again" if spec.n else ""),
            "thinking_tokens": 0 if direct else tokens, "thinking_token_ids": [] if direct else list(range(tokens)),
            "waits_inserted": 1 if spec.n else 0,
            "cap_hit": q % 2 == 0, "round_finish_reasons": ["length" if q % 2 == 0 else "stop"],
            "answer_prefix_text": "\n<|im_start|>answer\nFinal Answer:" if q % 2 == 0 else "<|im_start|>answer\n",
            "answer_text": answer_text, "answer_tokens": tokens if direct else 3, "full_text": "...",
            "gold": gold if dataset != "gpqa" else "choice text", "gold_letter": letter,
            "timings": {"thinking_s": 0.1, "answer_s": 0.1}, "engine": {"dtype": "float32"},
            # token accounting (analysis/cost.tsv): a derived run generated only its answer
            "thinking_engine_tokens": 0 if direct else tokens, "answer_engine_tokens": tokens if direct else ANSWER_TOKENS,
            "generated_tokens": ANSWER_TOKENS if derived else tokens + (0 if direct else ANSWER_TOKENS),
            "derived": derived,
        })
    return rows


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, repo_root, shared_data):
    work = tmp_path_factory.mktemp("dag")
    config = yaml.safe_load((repo_root / "profiles" / "smoke" / "experiment.yaml").read_text())
    config["generation"]["truncation"]["budgets"] = [16, 64]
    config["generation"]["budget_forcing"].update({"budgets": [64], "n": {"default": [1]}})
    # the analysis DAG of the first three methods (the smoke run covers the others end to end)
    for method in ("token_conditional", "token_conditional_forcing", "step_conditional", "step_conditional_forcing",
                   "rejection_sampling"):
        config["generation"][method] = {"budgets": []}
    config["generation"]["parallel"] = {"k": 0}
    config["generation"]["baseline"] = {"methods": ["truncation"]}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    results = work / "results" / config["run_name"]
    rank = {16: 1, 64: 4, "unbounded": 5, None: 3}
    complete = load_config(work / "config.yaml")  # merged over config.yaml, completed
    for spec in evaluation_grid(complete):
        for dataset in ("math500", "aime24", "gpqa"):
            path = Path(spec.path(str(results / "generation"), dataset))
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = _shard_rows(spec, dataset, rank[spec.budget] if spec.method != "class_conditional"
                               else {"short": 2, "long": 3}[spec.prompt], derives_thinking(complete, spec))
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        (path.parent / "job.json").write_text(json.dumps({"run": spec.label}))
    for model in {spec.model for spec in evaluation_grid(complete)}:  # the generate jobs' manifests
        manifest = results / "generation" / model / "parts" / "1of1.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"wall_time_s": 12.5}))
    for model, trajectory in trajectory_plan(complete).items():  # the shared thinking of the derived runs
        for dataset in ("math500", "aime24", "gpqa"):
            path = Path(trajectory.path(str(results / "generation"), dataset))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps({"dataset": dataset, "id": f"{dataset}-{q}", "model": model,
                                                "thinking_engine_tokens": TRAJECTORY_TOKENS,
                                                "thinking_tokens": TRAJECTORY_TOKENS}) + "\n"
                                    for q in range(QUESTIONS)))
    eval_dir = results / "data" / "eval"
    eval_dir.mkdir(parents=True)
    math_rows = read_jsonl(shared_data / "math500" / "test.jsonl")[:20]
    (eval_dir / "math500.jsonl").write_text("".join(
        json.dumps({"id": r["unique_id"], "solution": r["solution"], "answer": r["answer"]}) + "\n" for r in math_rows))
    aime_rows = read_jsonl(shared_data / "aime24" / "aime24_nofigures.jsonl")
    (eval_dir / "aime24.jsonl").write_text("".join(
        json.dumps({"id": str(r["id"]), "solution": r["solution"], "answer": r["answer"]}) + "\n" for r in aime_rows))
    # the report counts every configured eval set's rows (a declared input)
    (eval_dir / "gpqa.jsonl").write_text("".join(
        json.dumps({"id": f"gpqa-{q}", "answer": "choice text", "answer_letter": "A"}) + "\n" for q in range(QUESTIONS)))
    for stage, payload in (("curation", {"input_rows": 1200, "kept": 300, "dropped": 900, "counts_add_up": True,
                                         "dropped_by_reason": {"duplicate": 900}}),
                           ("sft", {"wall_time_s": 60.0, "gpus": 0, "gpu_hours": 0.0, "device": "cpu", "steps": 5,
                                    "examples_trained": 300, "tokens_seen": 1000})):
        (results / stage).mkdir(parents=True)
        (results / stage / "summary.json").write_text(json.dumps(payload))
    # the curation and training figures the report embeds (their rules are not allowed here)
    for figure in ("curation/plots/stages.png", "curation/plots/domains.png", "curation/plots/sources.png",
                   "curation/plots/trace_lengths.png", "sft/loss_curve.png"):
        (results / figure).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(results / figure)
    base = [sys.executable, "-m", "snakemake", "--snakefile", str(repo_root / "Snakefile"), "--directory", str(work),
            "--configfile", str(work / "config.yaml"), "--cores", "2", "--allowed-rules", *ALLOWED]
    run = subprocess.run(base, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    report = subprocess.run(base + ["--report", str(work / "report.html")], capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-4000:]
    return work, results


def test_dag_grades_every_shard_and_keeps_the_samples(smoke_run):
    _, results = smoke_run
    graded = sorted((results / "graded").rglob("*.jsonl"))
    assert len(graded) == 6 * 3  # B16, B64, Bunbounded(base), B64-n1, short, long x 3 datasets
    rows = read_jsonl(results / "graded" / "sft" / "truncation" / "B64" / "gpqa.jsonl")
    assert [r["correct"] for r in rows] == [True] * 4 + [False] * 2
    assert all(r["extracted"] in ("B", "C") and not r["parse_failed"] for r in rows)
    assert all("thinking_token_ids" in r for r in rows)


def test_dag_metrics_and_trend(smoke_run):
    _, results = smoke_run
    runs = read_runs(results / "analysis" / "runs.tsv")
    b16 = runs[(runs["setting"] == "B16") & (runs["dataset"] == "math500")].iloc[0]
    assert (b16["samples"], b16["correct"]) == (QUESTIONS, 1)
    trend = budget_trend(runs).set_index("dataset")
    assert trend["rises"].all() and (trend["budgets"] == 2).all()
    metrics = pd.read_csv(results / "analysis" / "metrics.tsv", sep="\t")
    assert len(metrics) == 3 * 4  # datasets x (sft truncation, budget forcing, class-conditional, base truncation)
    base = runs[runs["model"] == "base"]
    assert (base["compute"] == "response").all() and (base["compute_tokens_mean"] == 20 + 10 * 5).all()
    assert (base["thinking_tokens_mean"] == 0).all()


def test_dag_cost_counts_the_trajectories_once(smoke_run):
    _, results = smoke_run
    total = pd.read_csv(results / "analysis" / "cost.tsv", sep="\t").set_index("model").loc["total"]
    # derived: sft truncation B16 (tokens 30), B64 (60) and budget forcing B64-n1 (60), 3 datasets x 6 questions;
    # trajectories: one per dataset and question, 100 tokens each.
    assert (total["derived_samples"], total["trajectories"]) == (3 * 3 * QUESTIONS, 3 * QUESTIONS)
    assert total["generated_in_trajectories"] == 3 * QUESTIONS * TRAJECTORY_TOKENS
    # from scratch - generated: the derived runs' thinking (30 + 60 + 60 per question) against the trajectories
    assert total["from_scratch"] - total["generated"] == 3 * QUESTIONS * (30 + 60 + 60 - TRAJECTORY_TOKENS)
    # minimum - generated: the longest derived thinking (60) against the trajectory (100), per question
    assert total["generated"] - total["minimum"] == 3 * QUESTIONS * (TRAJECTORY_TOKENS - 60)
    text = (results / "REPORT.md").read_text()
    assert "Engine tokens generated (`analysis/cost.tsv`)" in text
    assert (f"- **Cost**: the grid generated {int(total['generated']):,} engine tokens; from scratch (every run "
            f"thinking on its own, s1's procedure) it would have been {int(total['from_scratch']):,} ") in text


def test_dag_report_has_the_audit_and_the_html_report_exists(smoke_run):
    work, results = smoke_run
    audit = json.loads((results / "analysis" / "grader_audit.json").read_text())
    assert (audit["math500"]["agree"], audit["math500"]["n"]) == (20, 20)
    assert (audit["aime24"]["agree"], audit["aime24"]["n"]) == (29, 30)
    text = (results / "REPORT.md").read_text()
    assert "- **math500**: **20/20** graded correct (100.0 %); no disagreements." in text
    assert "![Accuracy vs. compute tokens: truncation, budget forcing, class-conditional](analysis/scaling.png)" in text
    assert "[Curation: rows per stage](curation/plots/stages.png)" in text  # a declared input of the report
    check_report_against_its_tables(text, results)
    html = (work / "report.html").read_text()
    assert "run <tt class=\\\"docutils literal\\\">smoke</tt>" in html  # workflow.rst, rendered
    for caption in ("The brief&#x27;s figure: accuracy (%) against mean compute tokens",
                    "Every method not in the brief&#x27;s figure", "Representative samples"):
        assert caption.replace("&#x27;", "'") in html or caption in html, caption


def test_the_html_report_renders_in_a_headless_browser(smoke_run, repo_root, tmp_path):
    """snakemake --report's HTML opened in Chromium (scripts/report_screenshot.sh): the page renders
    (a screenshot that is not blank). The script installs Chromium where it can (root with apt-get, as
    in CI); skipped only where there is no Chromium and no way to install it."""
    work, _ = smoke_run
    png = tmp_path / "report.png"
    done = subprocess.run(["bash", str(repo_root / "scripts" / "report_screenshot.sh"), str(work / "report.html"),
                           str(png), "1400,1000"], capture_output=True, text=True, timeout=600)
    if done.returncode == 2 and "no chromium" in done.stderr:
        pytest.skip("no chromium on PATH and none could be installed (Debian: apt-get install -y chromium)")
    assert done.returncode == 0, done.stderr
    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 1000)
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 50  # a rendered page, not a blank one
