"""REPORT.md with every optional input present, and the Snakemake report wiring."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from test_analysis_records import run_samples
from workflow_scripts.analysis.bootstrap import PairedBootstrap, matched_budget_differences
from workflow_scripts.analysis.cli import EXAMPLE_INDEX_COLUMNS
from workflow_scripts.analysis.cost import cost_table
from workflow_scripts.analysis.compute import compute_tokens
from workflow_scripts.analysis.examples import choose_examples
from workflow_scripts.analysis.tables import write_tsv
from workflow_scripts.analysis.failures import detect_failures
from workflow_scripts.analysis.metrics import method_metrics, natural_stop_rows, run_table
from workflow_scripts.analysis.report import compute_rows, junit_summary, markdown_table, render_report
from workflow_scripts.config import evaluation_grid
from workflow_scripts.grading.audit import run_audit

CATEGORIES = {"Curation", "Training", "Scaling", "Examples"}
# The research_report rule's inputs (rules/analysis.smk), by name, relative to results/<run>/.
REPORT_FILES = {
    "metrics": "analysis/metrics.tsv", "runs": "analysis/runs.tsv", "natural_stop": "analysis/natural_stop.tsv",
    "differences": "analysis/paired_differences.tsv", "cost": "analysis/cost.tsv", "failures": "analysis/failures.tsv",
    "failures_plot": "analysis/failures.png", "examples": "analysis/examples.md",
    "examples_index": "analysis/examples.tsv", "scaling": "analysis/scaling.png",
    "scaling_others": "analysis/scaling_other_methods.png", "methods": "analysis/methods.png",
    "audit": "analysis/grader_audit.json", "curation": "curation/summary.json",
    "curation_stages": "curation/plots/stages.png", "curation_domains": "curation/plots/domains.png",
    "curation_sources": "curation/plots/sources.png", "curation_lengths": "curation/plots/trace_lengths.png",
    "sft": "sft/summary.json", "loss_curve": "sft/loss_curve.png", "tests": "tests/junit.xml",
}


def report_inputs(results, config, predicted=None) -> dict:
    """The --inputs mapping the research_report rule passes, for a results folder that lacks some files
    (those are left out, as optional inputs are; the generate jobs' manifests are always listed)."""
    inputs = {name: str(results / path) for name, path in REPORT_FILES.items() if (results / path).exists()}
    inputs["jobs"] = [str(results / "generation" / s.model / s.method / s.setting / "job.json")
                      for s in evaluation_grid(config)]
    inputs["generate_jobs"] = [str(results / "generation" / model / "parts" / "1of1.json")
                               for model in dict.fromkeys(s.model for s in evaluation_grid(config))]
    inputs["eval_sets"] = [str(path) for path in sorted((results / "data" / "eval").glob("*.jsonl"))]
    if predicted is not None:  # the desk estimate of the full grid (benchmarks/generation_cost_results.json)
        inputs["predicted"] = str(predicted)
    return inputs

GENERATION = {"truncation": {"budgets": [16, 64]}, "budget_forcing": {"string": "Wait", "budgets": [64],
              "n": {"default": [1]}}, "class_conditional": {"prompts": ["short", "long"]},
              "baseline": {"methods": ["truncation"], "budgets": [64]}, "models": ["sft"], "gpus_per_job": 1,
              "engine": {"max_model_len": 4096}, "answer_reserve_tokens": 64, "samples": 1, "temperature": 0.0}
CONFIG = {"run_name": "full", "seed": 42, "synthetic_world": None, "model": {"base": "Qwen/Qwen2.5-3B-Instruct"},
          "curation": {"ngram": 8, "target_size": 1000, "domain_sampling": "uniform", "require_gemini_correct": True},
          "training": {"epochs": 5, "learning_rate": 1e-5, "global_batch_size": 16, "block_size": 32768},
          "eval_sets": {"math500": {"source": "nlile/hendrycks-MATH-benchmark", "limit": None}},
          "generation": GENERATION}


def _write_results(results, shared_data):
    samples = pd.DataFrame(
        run_samples([16] * 4, [True, False, False, False], setting="B16", budget=16, cap_hit=True)
        + run_samples([60] * 4, [True, True, True, False], setting="B64", budget=64)
        + run_samples([60] * 4, [True, True, False, False], method="budget_forcing", setting="B64-n1", budget=64, n=1))
    samples["shard"] = "graded/x.jsonl"
    boot = PairedBootstrap(samples)
    runs = run_table(samples, boot)
    analysis = results / "analysis"
    write_tsv(runs, analysis / "runs.tsv")
    write_tsv(method_metrics(runs, samples, GENERATION, boot), analysis / "metrics.tsv")
    write_tsv(matched_budget_differences(boot, runs), analysis / "paired_differences.tsv")
    write_tsv(natural_stop_rows(samples), analysis / "natural_stop.tsv")
    # q0 of B16 and B64 cut from one 64-token trajectory (answers 4 and 5), one class-conditional run of 30:
    # generated 4 + 5 + 30 + 64 = 103, minimum 30 + 9 + 60 = 99, from scratch (16 + 4) + (60 + 5) + 30 = 115.
    keys = {"model": "sft", "dataset": "math500", "id": "q0", "sample": 0}
    write_tsv(cost_table(pd.DataFrame([
        {**keys, "generated_tokens": 4, "thinking_engine_tokens": 16, "answer_engine_tokens": 4, "derived": True},
        {**keys, "generated_tokens": 5, "thinking_engine_tokens": 60, "answer_engine_tokens": 5, "derived": True},
        {**keys, "generated_tokens": 30, "thinking_engine_tokens": 20, "answer_engine_tokens": 10, "derived": False}]),
        pd.DataFrame([{**keys, "thinking_engine_tokens": 64}])), analysis / "cost.tsv")
    write_tsv(detect_failures(runs, samples), analysis / "failures.tsv")
    (analysis / "examples.md").write_text("# Example traces\n")
    examples = choose_examples(samples.assign(compute_tokens=compute_tokens(samples), shard=[f"graded/sft/{m}/{st}/math500.jsonl" for m, st in
                                                     zip(samples["method"], samples["setting"])]), per_kind=1)
    write_tsv(examples[EXAMPLE_INDEX_COLUMNS], analysis / "examples.tsv")
    (analysis / "grader_audit.json").write_text(json.dumps(run_audit(None, str(shared_data / "aime24" / "aime24_nofigures.jsonl"))))
    (results / "data" / "eval").mkdir(parents=True)
    (results / "data" / "eval" / "math500.jsonl").write_text("".join(json.dumps({"id": f"q{i}"}) + "\n" for i in range(4)))
    (results / "curation").mkdir()
    (results / "curation" / "summary.json").write_text(json.dumps({
        "input_rows": 59029, "kept": 1000, "dropped": 58029, "counts_add_up": True,
        "dropped_by_reason": {"contaminated": 120, "duplicate": 900}, "domains": {"final_count": 50},
        "deviations_from_s1": ["Every Gemini-wrong row is dropped."],
        "warnings": ["the curated set has 990 rows, fewer than curation.target_size 1000"],
        "decontamination": {"rule": "distinctive", "ngram": 8, "min_eval_coverage": 0.7, "min_shared_run_words": 20,
                            "template_eval_rows": 2, "template_pool_rows": 50, "rows_sharing_an_ngram": 3100,
                            "flags_by_benchmark": {"aime24": 30, "gpqa": 60, "math500": 30},
                            "top_ignored_template_ngrams": [{"ngram": "where m and n are relatively prime positive",
                                                             "pool_rows_ignored": 900, "pool_rows": 950, "eval_rows": 6}]}}))
    (results / "sft").mkdir()
    (results / "sft" / "summary.json").write_text(json.dumps({
        "wall_time_s": 7200.0, "gpus": 1, "gpu_hours": 2.0, "device": "NVIDIA H100", "steps": 315,
        "examples_trained": 1000, "tokens_seen": 123456}))
    for setting, method in (("B16", "truncation"), ("B64", "truncation"), ("B64-n1", "budget_forcing")):
        job = results / "generation" / "sft" / method / setting / "job.json"
        job.parent.mkdir(parents=True)
        job.write_text(json.dumps({"run": f"sft/{method}/{setting}"}))
    (results / "generation" / "sft" / "parts").mkdir()
    (results / "generation" / "sft" / "parts" / "1of1.json").write_text(json.dumps({"wall_time_s": 5400.0}))
    (results / "sft" / "loss_curve.png").write_bytes(b"\x89PNG")
    (results / "tests").mkdir()
    (results / "tests" / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="10" failures="1" errors="0" skipped="2"/></testsuites>')


SECTIONS = ["## Headline", "## 1. Accuracy vs. thinking tokens", "## 2. The methods compared", "## 3. Where scaling fails",
            "## 4. Example traces", "## 5. Approach and deviations from s1", "## 6. Verification evidence",
            "## 7. Computational trade-offs", "## Appendix: files"]
MAX_REPORT_LINES = 300
MAX_HEADLINE_LINES = 10


def check_report_against_its_tables(text: str, results) -> None:
    """The report's shape (length, sections in order, a headline of at most ten lines) and every
    headline number against the TSV it comes from (runs.tsv, metrics.tsv, cost.tsv)."""
    from workflow_scripts.analysis.comparison import method_name
    from workflow_scripts.analysis.metrics import best_run
    from workflow_scripts.analysis.plots import DATASET_TITLES
    from workflow_scripts.analysis.report import scaling_of
    from workflow_scripts.analysis.tables import read_metrics, read_runs

    lines = text.splitlines()
    assert len(lines) <= MAX_REPORT_LINES, len(lines)
    positions = [next(i for i, line in enumerate(lines) if line.startswith(section)) for section in SECTIONS]
    assert positions == sorted(positions)
    headline = [line for line in lines[positions[0] + 1:positions[1]] if line.startswith("- ")]
    assert 1 <= len(headline) <= MAX_HEADLINE_LINES
    runs, metrics = read_runs(results / "analysis" / "runs.tsv"), read_metrics(results / "analysis" / "metrics.tsv")
    scaling = scaling_of(metrics)
    titles = {title: dataset for dataset, title in DATASET_TITLES.items()}
    checked = 0
    for line in headline:
        found = re.match(r"- \*\*(.+?)\*\*: (.*)$", line)
        if found.group(1) not in titles:
            continue
        dataset = titles[found.group(1)]
        best = best_run(runs[runs["dataset"] == dataset])
        assert (f"Best: {method_name(best['model'], best['method'])} `{best['setting']}`, "
                f"{100 * best['accuracy']:.1f} % [{100 * best['accuracy_ci_low']:.1f}, "
                f"{100 * best['accuracy_ci_high']:.1f}]") in line
        chance = runs.loc[runs["dataset"] == dataset, "chance_accuracy"].dropna()
        if len(chance):
            below = 100 * best["accuracy_ci_high"] < 100 * chance.iloc[0]
            assert f"; chance {100 * chance.iloc[0]:.1f} %" in line
            assert ("even the best run's interval stays below" in line) == below
        else:
            assert "chance" not in line
        for verdict in ("rises", "falls"):
            for row in scaling[(scaling["dataset"] == dataset) & (scaling["verdict"] == verdict)].itertuples():
                assert (f"{method_name(row.model, row.method)} {row.scaling:+.1f} [{row.low:+.1f}, {row.high:+.1f}]"
                        in line.split(f"{verdict}: ", 1)[1]), (line, row)
        named = len(re.findall(r"[+-]\d+\.\d \[", line))
        assert named == int(scaling[(scaling["dataset"] == dataset)]["verdict"].isin(["rises", "falls"]).sum())
        checked += 1
    assert checked == runs["dataset"].nunique()
    cost_line = [line for line in headline if line.startswith("- **Cost**")]
    if cost_line:
        total = pd.read_csv(results / "analysis" / "cost.tsv", sep="\t").set_index("model").loc["total"]
        assert (f"generated {int(total['generated']):,} engine tokens" in cost_line[0]
                and f"would have been {int(total['from_scratch']):,} " in cost_line[0])


def test_report_with_every_input_renders_real_numbers(tmp_path, repo_root, shared_data):
    results = tmp_path / "results" / "full"
    _write_results(results, shared_data)
    inputs = report_inputs(results, CONFIG, repo_root / "benchmarks" / "generation_cost_results.json")
    text = render_report(inputs, repo_root / "report" / "REPORT.md.j2", CONFIG, results / "REPORT.md")
    check_report_against_its_tables(text, results)
    assert "synthetic world" not in text
    # B16 1/4 and B64 3/4 of four questions: the interval of the Scaling holds zero
    assert "- **MATH500**: no method rises; no detectable scaling: truncation. Best: truncation `B64`, 75.0 %" in text
    assert ("- **Cost**: the grid generated 103 engine tokens; from scratch (every run thinking on its own, s1's "
            "procedure) it would have been 115 (1.12x).") in text
    assert "`failures.tsv` lists 2 case(s)" in text
    assert "- **aime24**: **29/30** graded correct (96.7 %)." in text
    assert "  - id `60`: gold `204`, extracted `None` (no final answer found)" in text
    assert "**Tests**: pytest: 7 passed, 1 failed, 0 errors, 2 skipped (of 10)." in text
    assert "pool 59029 rows, kept **1000**, dropped 58029" in text and "contaminated 120, duplicate 900" in text
    assert "- **Warning: the curated set has 990 rows, fewer than curation.target_size 1000.**" in text
    assert "flags per benchmark: aime24 30, gpqa 60, math500 30." in text
    assert "- Curation: Every Gemini-wrong row is dropped." in text
    # Compute: SFT 2 GPU-hours; generation: the SFT model's generate job, 1.5 h x 1 GPU = 1.5 GPU-hours.
    assert "| SFT | 1 | 2 | 1 | 2 | NVIDIA H100 |" in text
    assert "| generation | 1 | 1.5 | 1 | 1.5 | GPU |\n" in text
    assert "| sft | 3 | 2 | 1 | 39 | 64 | 103 | 115 | 99 | 1.04 | 1.117 | True |" in text
    # the desk estimate, from the declared JSON (not grepped from RESULTS.md): 47.2 M tokens, 1.0 / 3.4 H100-hours
    assert "on one NVIDIA H100-80GB (desk estimate, not a measurement;" in text
    assert "| shorter | 1 | 47.2 | 38 | 1 | 3.4 | 0.8 | 2.7 |" in text
    # Only the figures (not written in this test) are missing.
    assert re.findall(r"^.*not available.*$", text, re.M) == ["Scaling figures: not available."]
    assert "[Training: loss curve](sft/loss_curve.png)" in text
    assert "Curation: rows per stage" not in text  # only figures that exist are linked
    # no pasted TSVs or docstrings: the appendix links them
    assert "| model | dataset | method | setting | samples_per_question |" not in text and "```text" not in text
    assert "[`analysis/runs.tsv`](analysis/runs.tsv)" in text and "[`analysis/metrics.tsv`](analysis/metrics.tsv)" in text
    assert "  - `sft/truncation/B16`: [math500](generation/sft/truncation/B16/math500.jsonl); graded " \
           "[math500](graded/sft/truncation/B16/math500.jsonl)" in text
    # examples: one per dataset and kind, linked to the full shard
    assert "| math500 | truncated | sft/truncation/B16 | q0 | True | 16 | " \
           "[graded/sft/truncation/B16/math500.jsonl](graded/sft/truncation/B16/math500.jsonl) |" in text
    assert max(len(line) for line in text.splitlines()) < 700


def test_a_base_only_parallel_run_describes_only_what_ran(tmp_path, repo_root, shared_data):
    """One local model answering directly with parallel scaling, nothing trained: the report names that
    model in full, says curation and SFT did not run, and describes no method that did not run."""
    from workflow_scripts.analysis.voting import with_votes

    results = tmp_path / "results" / "mine"
    samples = []
    for j in range(4):  # k = 4 samples of 6 questions, sample j right on the first 2 + j questions
        samples += [{**row, "sample": j, "k": 4} for row in run_samples(
            [30 + j] * 6, [q < 2 + j for q in range(6)], model="mine", method="parallel", setting="k4", budget=None,
            prompt_format="direct")]
    samples = pd.DataFrame(samples)
    samples["shard"] = "graded/mine/parallel/k4/math500.jsonl"
    voted = with_votes(samples)
    boot = PairedBootstrap(voted)
    runs = run_table(voted, boot)
    generation = {**GENERATION, "models": [{"name": "mine", "source": "/models/mine", "format": "direct"}],
                  "parallel": {"k": 4, "temperature": 1.0}, "baseline": {"methods": ["parallel"], "budgets": []}}
    config = {**CONFIG, "run_name": "mine", "generation": generation}
    analysis = results / "analysis"
    write_tsv(runs, analysis / "runs.tsv")
    write_tsv(method_metrics(runs, voted, generation, boot), analysis / "metrics.tsv")
    write_tsv(matched_budget_differences(boot, runs), analysis / "paired_differences.tsv")
    write_tsv(detect_failures(runs, voted), analysis / "failures.tsv")
    inputs = {name: str(analysis / f"{name}.tsv") for name in ("runs", "metrics", "failures")}
    inputs["jobs"] = [str(results / "generation" / "mine" / "parallel" / "k4" / "job.json")]
    text = render_report(inputs, repo_root / "report" / "REPORT.md.j2", config, results / "REPORT.md")
    check_report_against_its_tables(text, results)
    assert text.startswith("# s1 test-time scaling on /models/mine: run `mine`")
    assert "- **Data and training: not run.** Every model has a source, so curation and SFT were not scheduled." in text
    assert text.count("SFT") == 1 and "Curation" not in text and "Qwen2.5-3B" not in text
    assert "- **Model**: mine instead of s1's Qwen2.5-32B-Instruct" in text
    assert "`mine`: `/models/mine` (direct answers)." in text
    assert "- **Direct answers** of `mine` (parallel): *parallel scaling*: 4 samples per question" in text
    for absent in ("truncation", "budget forcing", "Budget forcing", "class-conditional", "Class-conditional",
                   "token-conditional", "Token-/step", "Rejection", "Predicted for the full grid",
                   "fewer than two numeric truncation budgets", "budget caps", "Budget Error", "Control**"):
        assert absent not in text, absent
    assert "- **Parallel scaling** votes as a deployed system would, without the gold" in text


def test_report_with_an_incomplete_config_names_the_key(tmp_path, repo_root, shared_data):
    results = tmp_path / "results" / "full"
    _write_results(results, shared_data)
    config = {key: value for key, value in CONFIG.items() if key != "training"}
    with pytest.raises(ValueError, match="no attribute 'training'"):
        render_report(report_inputs(results, CONFIG), repo_root / "report" / "REPORT.md.j2", config,
                      results / "REPORT.md")


def test_report_lists_at_most_five_audit_disagreements(tmp_path, repo_root, shared_data):
    results = tmp_path / "results" / "full"
    _write_results(results, shared_data)
    disagreements = [{"id": str(i), "gold": "1", "extracted": None, "parse_failed": True} for i in range(25)]
    (results / "analysis" / "grader_audit.json").write_text(json.dumps({"aime24": {
        "source": "x.jsonl", "n": 25, "agree": 0, "agreement": 0.0, "without_solution": 0,
        "disagreements": disagreements}}))
    text = render_report(report_inputs(results, CONFIG), repo_root / "report" / "REPORT.md.j2", CONFIG,
                         results / "REPORT.md")
    assert "  - id `4`: gold `1`" in text and "id `5`" not in text
    assert "  - ... and 20 more (all in `analysis/grader_audit.json`)." in text


def test_compute_rows_count_missing_jobs(tmp_path):
    results = tmp_path / "r"
    job = results / "generation" / "sft" / "parts" / "1of1.json"
    job.parent.mkdir(parents=True)
    job.write_text(json.dumps({"wall_time_s": 3600.0}))
    config = {**CONFIG, "generation": {**GENERATION, "models": ["sft", "base"], "gpus_per_job": 2}}
    rows = compute_rows(None, [Path(p) for p in report_inputs(results, config)["generate_jobs"]], config)
    assert rows == [{"stage": "generation", "jobs": 1, "wall_hours": 1.0, "gpus": 2, "gpu_hours": 2.0,
                     "device": "GPU", "note": "1 generate manifest(s) missing"}]  # base's generate job


def test_junit_summary_and_markdown_table(tmp_path):
    path = tmp_path / "j.xml"
    path.write_text('<testsuite tests="3" failures="0" errors="1" skipped="0"/>')
    assert junit_summary(path) == "2 passed, 0 failed, 1 errors, 0 skipped (of 3)"
    assert junit_summary(tmp_path / "missing.xml") is None
    table = markdown_table(pd.DataFrame({"a": [1.5, float("nan")], "b": ["x|y", "z"]}))
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1.5 | x\\|y |", "|  | z |"]
    assert markdown_table(pd.DataFrame(columns=["a"]), empty="none") == "none"
    assert markdown_table(None) == "not available"


def test_every_report_item_has_a_caption_and_an_allowed_category(repo_root):
    analysis = (repo_root / "rules" / "analysis.smk").read_text()
    captions = re.findall(r'caption="\.\./report/([^"]+)"', analysis)
    assert {"metrics.rst", "scaling.rst", "methods.rst", "failures.rst", "examples.rst",
            "research_report.rst", "cost.rst"} <= set(captions)
    for caption in captions:
        assert (repo_root / "report" / caption).read_text().strip(), caption
    for rules in sorted((repo_root / "rules").glob("*.smk")):
        for category in re.findall(r'(?<!sub)category="([^"]+)"', rules.read_text()):
            assert category in CATEGORIES, (rules.name, category)
    assert (repo_root / "report" / "workflow.rst").read_text().strip()


@pytest.mark.parametrize("base, name, other", [
    ("Qwen/Qwen2.5-3B-Instruct", "Qwen2.5-3B-Instruct", "0.5B"),
    ("/models/Qwen2.5-0.5B-Instruct/", "Qwen2.5-0.5B-Instruct", "3B"),
])
def test_report_names_the_configured_model_and_eval_sets(tmp_path, repo_root, shared_data, base, name, other):
    results = tmp_path / "results" / "full"
    _write_results(results, shared_data)
    (results / "data" / "eval" / "math500.jsonl").write_text("".join(json.dumps({"id": str(i)}) + "\n" for i in range(10)))
    config = {**CONFIG, "model": {"base": base}, "eval_sets": {"math500": {"source": "/data/math500.jsonl", "limit": 4}}}
    text = render_report(report_inputs(results, config), repo_root / "report" / "REPORT.md.j2", config,
                         results / "REPORT.md")
    assert text.startswith(f"# s1 test-time scaling on {base}: run `full`")
    assert f"- **Model**: {name} instead of s1's Qwen2.5-32B-Instruct" in text
    assert other not in text
    # Only the configured eval set, with its size from the config (limit) and the run (rows, samples per run).
    assert "MATH500 (`/data/math500.jsonl`): the first 4 of 10 rows, 4 samples per run." in text
    assert "MATH500 by math-verify" in text
    assert "AIME24 by integer" not in text and "GPQA by the chosen letter" not in text
    assert "Compute tokens are a sample's thinking tokens when it thinks; the budget caps" in text


def test_report_without_training_drops_the_curation_and_sft_sections_and_says_so(tmp_path, repo_root, shared_data):
    results = tmp_path / "results" / "full"
    _write_results(results, shared_data)
    config = {**CONFIG, "generation": {**GENERATION, "models": [
        "base", {"name": "s1.1-3b", "source": "/models/s1.1-3B", "format": "think", "limit": 20}]}}
    inputs = {k: v for k, v in report_inputs(results, config).items() if not k.startswith(("curation", "sft", "loss"))}
    text = render_report(inputs, repo_root / "report" / "REPORT.md.j2", config, results / "REPORT.md")
    assert "- **Data and training: not run.** Every model has a source, so curation and SFT were not scheduled." in text
    assert "`s1.1-3b`: `/models/s1.1-3B` (think/answer format, first 20 rows of each eval set)." in text
    assert "`base`: `Qwen/Qwen2.5-3B-Instruct` (`model.base`) (direct answers);" in text
    assert "- **Direct answers** of `base` (truncation; budgets 64 cap the whole response)." in text
    assert "**Curation**" not in text and "Curation summary" not in text and "- **Curation**:" not in text
    assert "SFT summary" not in text and "SFT:" not in text and "Predicted for the full grid" not in text
