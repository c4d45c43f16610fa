"""Examples, figures and the analysis CLI on hand-built graded shards."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image

from test_analysis_records import run_samples, sample, write_shards
from test_report import check_report_against_its_tables, report_inputs
from workflow_scripts.analysis.examples import KINDS, choose_examples, examples_markdown
from workflow_scripts.analysis.failures import detect_failures
from workflow_scripts.analysis.metrics import method_metrics, run_table
from workflow_scripts.analysis.plots import (
    draw_methods, draw_other_methods, draw_scaling, failures_figure, methods_figure, other_methods_figure,
    overlapping_tick_labels, scaling_figure, series_name, series_palette,
)


def _world_samples():
    """Three datasets x (truncation B16/B64/Bunbounded, budget forcing B64-n1, base Bunbounded)."""
    samples = []
    for dataset in ("math500", "aime24", "gpqa"):
        for budget, correct in ((16, 1), (64, 3), ("unbounded", 4)):
            samples += run_samples([budget if budget != "unbounded" else 90] * 5, [i < correct for i in range(5)],
                                   dataset=dataset, setting=f"B{budget}", budget=budget,
                                   cap_hit=budget != "unbounded")
        samples += run_samples([70] * 5, [i < 3 for i in range(5)], dataset=dataset, method="budget_forcing",
                               setting="B64-n1", budget=64, n=1, waits=1, forcing_string="Wait",
                               thinking_text="so. Wait, check again.")
        samples += run_samples([40] * 5, [i < 2 for i in range(5)], dataset=dataset, model="base",
                               setting="Bunbounded", budget="unbounded")
    return samples


def test_choose_examples_kinds_are_true_and_choice_is_reproducible():
    samples = pd.DataFrame(_world_samples()).assign(shard="graded/x.jsonl")
    first = choose_examples(samples, per_kind=2, seed=42)
    again = choose_examples(samples.sample(frac=1, random_state=1), per_kind=2, seed=42)  # input order is irrelevant
    key = ["dataset", "model", "method", "kind", "setting", "id"]
    assert first[key].values.tolist() == again[key].values.tolist()
    for row in first.to_dict("records"):
        assert {"correct": row["correct"], "wrong": not row["correct"], "truncated": row["cap_hit"],
                "with_waits": row["waits_inserted"] > 0}[row["kind"]]
    # A sample is shown once; at most per_kind of each kind per (dataset, model, method).
    assert not first.duplicated(["dataset", "model", "method", "setting", "id"]).any()
    assert first.groupby(["dataset", "model", "method", "kind"]).size().max() == 2
    forcing = first[(first["dataset"] == "gpqa") & (first["method"] == "budget_forcing")]
    assert set(forcing["kind"]) == {"correct", "wrong", "with_waits"}  # no truncated sample exists there
    assert set(first["kind"]) <= set(KINDS)
    other_seed = choose_examples(samples, per_kind=2, seed=7)
    assert other_seed[key].values.tolist() != first[key].values.tolist()


def test_examples_markdown_lists_metadata_and_shard():
    samples = pd.DataFrame([sample(id="z9", correct=False, thinking_text="x" * 3000)]).assign(
        shard="graded/sft/truncation/B100/math500.jsonl")
    text = examples_markdown(choose_examples(samples), seed=42)
    assert "Chosen reproducibly (seed 42; kinds: correct, wrong, truncated, with_waits)" in text
    assert "#### wrong: id z9 (B100)" in text
    assert "| math500 | sft | truncation | B100 | 100 | False | 5 | 4 | 100 thinking | 0 | False " \
           "| `graded/sft/truncation/B100/math500.jsonl` |" in text
    assert "[... 2000 characters omitted ...]" in text
    assert "No graded samples" in examples_markdown(pd.DataFrame())


def test_examples_of_direct_answers_show_response_tokens_and_no_thinking_block():
    samples = pd.DataFrame(run_samples([246], [True], model="base", setting="B512", budget=512)).assign(
        shard="graded/base/truncation/B512/math500.jsonl")
    text = examples_markdown(choose_examples(samples), seed=42)
    assert "| math500 | base | truncation | B512 | 512 | True | 4 | 4 | 246 response | 0 | False " in text
    assert "No thinking phase: the model answered directly" in text and "Thinking (excerpt)" not in text
    thinking = examples_markdown(choose_examples(pd.DataFrame([sample(id="t", tokens=77)]).assign(shard="x")))
    assert "| 77 thinking |" in thinking and "Thinking (excerpt)" in thinking


def _plot_samples() -> pd.DataFrame:
    """math500: truncation B16/B64 and budget forcing B64-n1 on the very same point as B64
    (their labels would overprint), base model one direct run (no slope)."""
    return pd.DataFrame(
        run_samples([16] * 10, [i < 2 for i in range(10)], setting="B16", budget=16, cap_hit=True)
        + run_samples([60] * 10, [i < 6 for i in range(10)], setting="B64", budget=64)
        + run_samples([60] * 10, [i < 6 for i in range(10)], method="budget_forcing", setting="B64-n1", budget=64,
                      n=1)
        + run_samples([40] * 10, [i < 3 for i in range(10)], model="base", setting="B64", budget=64))


def _plot_runs():
    return run_table(_plot_samples())


def test_scaling_plot_data_ticks_intervals_and_labels():
    from matplotlib.container import ErrorbarContainer

    runs = _plot_runs()
    figure = draw_scaling(runs)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_title() == "MATH500 (n=10)"
    assert list(ax.get_xticks()) == [16, 64]  # one tick per budget, labelled with it
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "64"]
    assert "compute tokens" in ax.get_xlabel()
    # Error bars: the 95 % interval of each run, as in runs.tsv (truncation B64: 6/10 at 60 tokens).
    b64 = runs[(runs["model"] == "sft") & (runs["method"] == "truncation") & (runs["setting"] == "B64")].iloc[0]
    low, high = b64["accuracy_ci_low"], b64["accuracy_ci_high"]
    assert low < 0.6 < high
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    spans = sorted((round(float(seg[0][0]), 3), round(float(seg[0][1]), 3), round(float(seg[1][1]), 3))
                   for c in bars for seg in c.lines[2][0].get_segments())
    assert (60.0, round(low * 100, 3), round(high * 100, 3)) in spans
    assert len(spans) == 4  # one bar per run
    # The base model is drawn at its response tokens (40), not at 0 thinking tokens.
    base = [line for line in ax.get_lines() if list(line.get_xdata()) == [40.0]]
    assert base
    # Labels: one per run, and no two overlap although B64 and B64-n1 share a point.
    labels = [t for t in ax.texts]
    assert sorted(t.get_text() for t in labels) == ["B16", "B64", "B64", "B64-n1"]
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_scaling_plot_shows_the_spread_of_repeated_samples_by_hand():
    from matplotlib.collections import PolyCollection
    from matplotlib.container import ErrorbarContainer

    # Truncation B16 and B64, k = 2 samples of four questions. B16: sample 0 right on 1 of 4,
    # sample 1 on 3 of 4 -> accuracy 50 %, per-sample 25 % / 75 %, sd (ddof 1) = sqrt(2) x 25 %.
    # B64: 3/4 and 4/4 -> 87.5 %, range 75-100 %, sd = sqrt(2) x 12.5 %.
    rows = []
    for tokens, setting, counts in ((16, "B16", (1, 3)), (60, "B64", (3, 4))):
        for j, right in enumerate(counts):
            rows += [{**s, "sample": j} for s in run_samples([tokens] * 4, [q < right for q in range(4)],
                                                             setting=setting, budget=int(setting[1:]))]
    runs = run_table(pd.DataFrame(rows))
    ax = draw_scaling(runs).axes[0]
    assert ax.get_title() == "MATH500 (n=8)"  # samples per run: 4 questions x 2
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    vertices = bands[0].get_paths()[0].vertices
    by_x = {x: sorted({round(float(y), 6) for xx, y in vertices if xx == x}) for x in (16.0, 60.0)}
    assert by_x == {16.0: [25.0, 75.0], 60.0: [75.0, 100.0]}
    thick = [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.lines[2][0].get_linewidth()[0] == 3]
    spans = sorted((round(float(seg[0][1]), 4), round(float(seg[1][1]), 4)) for seg in thick[0].lines[2][0].get_segments())
    half16, half64 = 2 ** 0.5 * 25, 2 ** 0.5 * 12.5
    assert spans == [(round(50 - half16, 4), round(50 + half16, 4)), (round(87.5 - half64, 4), round(87.5 + half64, 4))]
    # k = 1: no band, no thick bars.
    ax = draw_scaling(_plot_runs()).axes[0]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]


def _close_budget_runs():
    """Truncation at 16, 64, 128, 160 and 4096 tokens (128 and 160 sit close on a log axis), class-conditional
    short/long, token-conditional T64/T128 and parallel k4 (votes m1, m2, m4)."""
    samples = []
    for budget in (16, 64, 128, 160, 4096):
        samples += run_samples([budget] * 6, [i < min(budget // 40, 6) for i in range(6)], setting=f"B{budget}",
                               budget=budget)
    samples += run_samples([50] * 6, [i < 2 for i in range(6)], method="class_conditional", setting="short", budget=None)
    samples += run_samples([150] * 6, [i < 4 for i in range(6)], method="class_conditional", setting="long", budget=None)
    for n in (64, 128):
        samples += run_samples([n] * 6, [i < n // 40 for i in range(6)], method="token_conditional", setting=f"T{n}",
                               budget=n)
    return run_table(pd.DataFrame(samples))


def test_the_brief_figure_draws_its_three_methods_and_the_rest_go_to_panels_per_method():
    runs = _close_budget_runs()
    figure = draw_scaling(runs[runs["method"] != "token_conditional"])
    texts = sorted(t.get_text() for t in figure.axes[0].texts)
    assert texts == ["B128", "B16", "B160", "B4096", "B64", "long", "short"]
    # the legend wraps (at most 4 entries a row), here 2 series
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["class-conditional", "truncation"]
    others = draw_other_methods(runs[runs["method"] == "token_conditional"])
    assert [ax.get_title() for ax in others.axes if ax.axison] == ["token-conditional"]
    assert sorted(t.get_text() for t in others.axes[0].texts) == ["T128", "T64"]


def test_budget_tick_labels_never_run_together():
    """128 and 160 a quarter of a doubling apart: the labels printed "128160"; now one of them is left out."""
    runs = _close_budget_runs()
    for figure in (draw_scaling(runs[runs["method"] == "truncation"]), draw_other_methods(runs[runs["method"] == "token_conditional"])):
        assert overlapping_tick_labels(figure) == []
    ticks = {int(t) for t in draw_scaling(runs[runs["method"] == "truncation"]).axes[0].get_xticks()}
    assert {16, 64, 4096} <= ticks and len({128, 160} & ticks) == 1
    # a wide axis has room for both
    wide = draw_scaling(runs[runs["method"] == "truncation"])
    wide.set_size_inches(40, 5)
    wide.canvas.draw()
    from workflow_scripts.analysis.plots import thin_tick_labels
    from matplotlib.ticker import FixedLocator
    wide.axes[0].xaxis.set_major_locator(FixedLocator([16, 64, 128, 160, 4096]))
    wide.canvas.draw()
    thin_tick_labels(wide)
    assert {int(t) for t in wide.axes[0].get_xticks()} == {16, 64, 128, 160, 4096}


def test_the_only_model_is_drawn_in_its_methods_colour_not_a_pale_shade():
    from matplotlib.colors import to_rgb
    from workflow_scripts.methods import get_method

    truncation = to_rgb(get_method("truncation").colour)
    assert to_rgb(series_palette([("mine", "truncation")])["mine/truncation"]) == truncation
    palette = series_palette([("sft", "truncation"), ("base", "truncation")])
    assert to_rgb(palette["truncation"]) == truncation and to_rgb(palette["base/truncation"]) != truncation
    palette = series_palette([("base", "parallel"), ("zeta", "parallel")])  # no sft: the first by name leads
    assert to_rgb(palette[series_name("base", "parallel")]) == to_rgb(get_method("parallel").colour)
    assert to_rgb(palette[series_name("zeta", "parallel")]) != to_rgb(get_method("parallel").colour)


def test_methods_plot_draws_the_least_squares_scaling_with_its_interval_and_verdict():
    from matplotlib.container import ErrorbarContainer

    samples = _plot_samples()
    runs = run_table(samples)
    metrics = method_metrics(runs, samples)
    figure = draw_methods(runs, metrics)
    accuracy, scaling = figure.axes[:2]
    # Best accuracy: base 30 %, budget forcing 60 %, truncation 60 % (B64; the tie-break prefers fewer tokens).
    assert sorted(round(p.get_height(), 6) for p in accuracy.patches) == [30.0, 60.0, 60.0]
    # Slope: only truncation has two runs: (60 - 20) points over log2(60 / 16) doublings.
    slope = 40 / math.log2(60 / 16)
    assert [round(p.get_height(), 6) for p in scaling.patches] == [round(slope, 6)]
    truncation = metrics.set_index(["model", "method"]).loc[("sft", "truncation")]
    bars = [c for c in scaling.containers if isinstance(c, ErrorbarContainer)]
    (low, high), = [tuple(float(y) for _, y in segment) for segment in bars[0].lines[2][0].get_segments()]
    assert (low, high) == (pytest.approx(truncation["scaling_ls_ci_low"]), pytest.approx(truncation["scaling_ls_ci_high"]))
    assert truncation["scaling_verdict"] == "rises"
    marks = sorted(t.get_text() for t in scaling.texts)
    assert marks == ["+", "1 n/a", "1 n/a"]  # truncation rises; base and budget forcing: a single run, no slope
    assert "+ rises" in figure._suptitle.get_text()
    # The chance line: every gold is "4" in these samples, so always answering "4" scores 100 %.
    (chance,) = [c for c in accuracy.collections if c.get_label() == "chance: the most common gold answer"]
    assert [float(y) for segment in chance.get_segments() for _, y in segment] == [100.0, 100.0]


def test_figures_are_drawn_and_reproducible(tmp_path):
    samples = pd.DataFrame(_world_samples())
    runs = run_table(samples)
    scaling_figure(runs, tmp_path / "scaling.png")
    scaling_figure(runs, tmp_path / "again.png")
    assert (tmp_path / "scaling.png").read_bytes() == (tmp_path / "again.png").read_bytes()
    three = Image.open(tmp_path / "scaling.png").size
    scaling_figure(runs[runs["dataset"] == "gpqa"], tmp_path / "one.png")
    one = Image.open(tmp_path / "one.png").size
    assert three[0] > 2.5 * one[0]  # three panels side by side
    methods_figure(runs, method_metrics(runs, samples), tmp_path / "methods.png")
    assert Image.open(tmp_path / "methods.png").size[0] > 300
    # every method of this world is in the brief's figure: the second figure says so in one line
    other_methods_figure(runs, tmp_path / "others.png")
    assert Image.open(tmp_path / "others.png").size[1] < 250
    assert detect_failures(runs, samples).empty  # this world scales; the failing one below does not
    failures_figure(runs, detect_failures(runs, samples), tmp_path / "none.png")
    # A world with every kind of failure: accuracy falls 8/10 -> 1/10 (math500) or stays flat (gpqa), forcing
    # adds no tokens over truncation, and the forced thinking loops.
    failing = pd.DataFrame(
        run_samples([100] * 10, [i < 5 for i in range(10)], dataset="gpqa", setting="B100", budget=100)
        + run_samples([300] * 10, [i < 5 for i in range(10)], dataset="gpqa", setting="B400", budget=400)
        + run_samples([100] * 10, [i < 8 for i in range(10)], setting="B100", budget=100)
        + run_samples([200] * 10, [i < 1 for i in range(10)], setting="B200", budget=200)
        + run_samples([200] * 10, [i < 1 for i in range(10)], method="budget_forcing", setting="B200-n1",
                      budget=200, n=1, waits=1, forcing_string="Wait",
                      thinking_text="Wait" + " and again the same" * 8))
    failing_runs = run_table(failing)
    failures = detect_failures(failing_runs, failing)
    assert sorted(set(failures["kind"])) == ["accuracy_drop", "accuracy_flat", "forcing_adds_no_tokens",
                                             "wait_repetition"]
    failures_figure(failing_runs, failures, tmp_path / "failures.png")
    width_all, _ = Image.open(tmp_path / "failures.png").size
    width_none, _ = Image.open(tmp_path / "none.png").size
    assert width_all > 3 * width_none  # one panel per kind of case


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "workflow_scripts.analysis", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_analysis_cli_end_to_end_with_missing_optional_inputs(tmp_path, repo_root):
    results = tmp_path / "results" / "toy"
    shards = write_shards(results, _world_samples())
    generation = {"truncation": {"budgets": [16, 64, "unbounded"]}, "gpus_per_job": 0,
                  "budget_forcing": {"string": "Wait", "budgets": [64], "n": {"default": [1]}},
                  "class_conditional": {"prompts": []}, "baseline": {"methods": ["truncation"], "budgets": ["unbounded"]},
                  "models": ["sft", "base"], "engine": {"max_model_len": 1024}, "answer_reserve_tokens": 32,
                  "samples": 1, "temperature": 0.0}
    settings = json.dumps({"generation": generation, "eval_sets": {}})
    analysis = results / "analysis"
    done = _cli("metrics", "--graded", *map(str, shards), "--settings", settings, "--graded-dir",
                str(results / "graded"), "--out-dir", str(analysis))
    assert done.returncode == 0, done.stderr
    runs = pd.read_csv(analysis / "runs.tsv", sep="\t", dtype={"budget": str})
    assert len(runs) == 15  # 3 datasets x 5 runs
    metrics = pd.read_csv(analysis / "metrics.tsv", sep="\t")
    row = metrics[(metrics["dataset"] == "aime24") & (metrics["method"] == "truncation") & (metrics["model"] == "sft")]
    # runs (16, .2), (64, .6), (90, .8): slopes .4/48, .6/74, .2/26
    assert row["scaling"].iloc[0] == pytest.approx((0.4 / 48 + 0.6 / 74 + 0.2 / 26) / 3, rel=1e-5)
    # 5 questions; B16 (1/5) -> B64 (3/5) -> unbounded (4/5), each question never falls: a rise.
    assert row["scaling_verdict"].iloc[0] == "rises" and 0 < row["scaling_ci_low"].iloc[0]
    differences = pd.read_csv(analysis / "paired_differences.tsv", sep="\t", dtype={"budget": str})
    # The one matched budget: truncation B64 vs budget forcing B64-n1, same 3/5 questions right: 0 exactly.
    assert list(differences["budget"]) == ["64"] * 3 and (differences["difference"] == 0).all()
    assert (differences["difference_low"] == 0).all() and (differences["verdict"] == "no detectable difference").all()
    natural = pd.read_csv(analysis / "natural_stop.tsv", sep="\t", dtype={"budget": str})
    assert set(natural["budget"]) == {"16", "64", "unbounded"}
    assert natural.set_index(["model", "dataset", "budget"]).loc[("sft", "gpqa", "16"), "share"] == 0.0

    runs_tsv, graded = str(analysis / "runs.tsv"), ["--graded", *map(str, shards), "--graded-dir", str(results / "graded")]
    done = _cli("plots", "--runs", runs_tsv, "--metrics", str(analysis / "metrics.tsv"), "--scaling", str(analysis / "scaling.png"),
                "--others", str(analysis / "scaling_other_methods.png"), "--methods", str(analysis / "methods.png"))
    assert done.returncode == 0, done.stderr
    done = _cli("failures", "--runs", runs_tsv, "--metrics", str(analysis / "metrics.tsv"), *graded,
                "--table", str(analysis / "failures.tsv"), "--figure", str(analysis / "failures.png"))
    assert done.returncode == 0, done.stderr
    done = _cli("examples", *graded, "--settings", json.dumps({"examples_per_method": 1}), "--seed", "42",
                "--markdown", str(analysis / "examples.md"), "--index", str(analysis / "examples.tsv"))
    assert done.returncode == 0, done.stderr
    for name in ("scaling.png", "scaling_other_methods.png", "methods.png", "failures.png", "failures.tsv", "examples.md", "examples.tsv"):
        assert (analysis / name).exists(), name
    assert "`graded/sft/budget_forcing/B64-n1/gpqa.jsonl`" in (analysis / "examples.md").read_text()

    config = {"run_name": "toy", "seed": 42, "synthetic_world": {"pool_size": 10}, "model": {"base": "synthetic"},
              "curation": {"ngram": 8, "target_size": 10, "domain_sampling": "uniform", "require_gemini_correct": True},
              "training": {"epochs": 1, "learning_rate": 0.001, "global_batch_size": 4, "block_size": 128},
              "eval_sets": {name: {"source": "synthetic", "limit": None} for name in ("math500", "aime24", "gpqa")},
              "generation": generation}
    report = results / "REPORT.md"
    inputs = json.dumps(report_inputs(results, config))
    done = _cli("report", "--inputs", inputs, "--template", str(repo_root / "report" / "REPORT.md.j2"),
                "--config-json", json.dumps(config), "--output", str(report), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = report.read_text()
    assert "Smoke run on a synthetic world" in text
    assert "Grader audit: not available." in text
    assert "Curation summary: not available." in text
    assert "SFT summary: not available." in text
    assert "**Tests**: not available for this run" in text
    assert "AIME24 (`synthetic`, synthetic): all of not available rows, 5 samples per run;" in text
    # the figure is titled with the brief's methods that ran (no class-conditional prompts here)
    assert "![Accuracy vs. compute tokens: truncation, budget forcing](analysis/scaling.png)" in text
    assert "other methods" not in text  # every method of this toy run is in the brief's figure
    assert "| truncation |" in text.split("**AIME24**")[1]  # its Table 3 row
    assert "definitions in\n[docs/metrics.md](" in text  # definitions: linked, not pasted
    check_report_against_its_tables(text, results)
    first = report.read_bytes()
    assert _cli("report", "--inputs", inputs, "--template", str(repo_root / "report" / "REPORT.md.j2"),
                "--config-json", json.dumps(config), "--output", str(report), cwd=tmp_path).returncode == 0
    assert report.read_bytes() == first


def test_analysis_cli_reports_bad_input(tmp_path):
    broken = tmp_path / "graded.jsonl"
    broken.write_text(json.dumps({"id": "a"}) + "\n")
    done = _cli("metrics", "--graded", str(broken), "--settings", "{}", "--out-dir", str(tmp_path))
    assert done.returncode == 2 and "lacks dataset" in done.stderr and "Traceback" not in done.stderr
    done = _cli("metrics", "--graded", str(broken), "--settings", "[1", "--out-dir", str(tmp_path))
    assert done.returncode == 2 and "--settings is not valid JSON" in done.stderr
    runs = tmp_path / "runs.tsv"
    runs.write_text("model\tdataset\nsft\tmath500\n")
    done = _cli("failures", "--runs", str(runs), "--metrics", str(runs), "--graded", str(broken),
                "--table", str(tmp_path / "f.tsv"), "--figure", str(tmp_path / "f.png"))
    assert done.returncode == 2 and "not a runs table, missing column(s) method" in done.stderr
    assert "Traceback" not in done.stderr
