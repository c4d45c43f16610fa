"""REPORT.md: the research report rendered (jinja2) from the analysis outputs.

Every number comes from a file of the run. Optional inputs (grader audit, test results,
training summary, benchmark predictions) that are missing give an explicit
"not available" line, never a crash. No timestamps: same inputs -> same bytes.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from workflow_scripts.analysis.bootstrap import NO_DETECTABLE_SCALING
from workflow_scripts.analysis.comparison import findings, method_name, table3
from workflow_scripts.analysis.cost import cost_summary, read_cost
from workflow_scripts.analysis.metrics import best_run
from workflow_scripts.analysis.plots import BRIEF_METHODS
from workflow_scripts.analysis.tables import read_runs
from workflow_scripts.config import eval_set_names, evaluation_grid, model_entries, trains_here
from workflow_scripts.methods import METHODS

NOT_AVAILABLE = "not available"
MAX_LISTED_DISAGREEMENTS = 5  # the rest stay in analysis/grader_audit.json
DOCS = Path(__file__).resolve().parents[2] / "docs"  # the repository's docs/, linked from the appendix
RISES, FALLS = "rises", "falls"
# Tables of the run, linked from the appendix (names of the research_report rule's inputs).
APPENDIX_TABLES = ("runs", "metrics", "differences", "natural_stop", "cost", "failures", "examples_index", "examples",
                   "audit")
# Report inputs (the names of the research_report rule's inputs) that are figures of other stages.
STAGE_FIGURES = (
    ("Curation: rows per stage", "curation_stages"),
    ("Curation: domains", "curation_domains"),
    ("Curation: sources", "curation_sources"),
    ("Curation: trace lengths", "curation_lengths"),
    ("Training: loss curve", "loss_curve"),
)


def interval_text(low, high, scale: float = 1.0) -> str:
    """"[low, high]" (x scale), "" without an interval."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return ""
    return f"[{_format(float(low) * scale)}, {_format(float(high) * scale)}]"


def model_rows(config: dict) -> list[dict]:
    """The evaluated models with where their weights come from, for the report."""
    base = "the synthetic world's base model" if config["synthetic_world"] is not None else f"`{config['model']['base']}`"
    return [{"name": e.name, "format": e.format, "limit": e.limit,
             "source": f"trained here (SFT of {base} on the curated set)" if e.trains
             else f"`{e.source}`" if e.source is not None else f"{base} (`model.base`)"}
            for e in model_entries(config)]


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.3f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text


def markdown_table(frame: pd.DataFrame | None, columns: list[str] | None = None, empty: str = "none") -> str:
    """A pipe table; ``empty`` when the frame has no rows."""
    if frame is None:
        return NOT_AVAILABLE
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    if frame.empty:
        return empty
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_format(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _read_tsv(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    if path.name == "runs.tsv":
        return read_runs(path)
    return pd.read_csv(path, sep="\t", dtype={"budget": str, "setting": str, "from_setting": str,
                                               "to_setting": str, "max_accuracy_setting": str, "id": str,
                                               "setting_a": str, "setting_b": str, "scaling_verdict": str,
                                               "scaling_pp_per_1k_verdict": str,
                                               "scaling_per_doubling_verdict": str})


def _read_json(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def junit_summary(path: Path) -> str | None:
    """"N passed, F failed, E errors, S skipped" from a pytest JUnit XML file."""
    if not path.exists():
        return None
    root = ElementTree.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("tests", "failures", "errors", "skipped")}
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    return (f"{passed} passed, {totals['failures']} failed, {totals['errors']} errors, "
            f"{totals['skipped']} skipped (of {totals['tests']})")


def compute_rows(sft_summary: Path | None, manifests: list[Path], config: dict) -> list[dict]:
    """GPU-hours per stage, measured: SFT from sft/summary.json, generation from each generate
    job's manifest (``generation/<model>/parts/<part>.json``: wall time x GPUs per job, engine
    start-up included). CPU runs (0 GPUs) report wall hours and 0 GPU-hours."""
    rows = []
    sft = _read_json(sft_summary) if sft_summary else None
    if sft:
        rows.append({"stage": "SFT", "jobs": 1, "wall_hours": sft.get("wall_time_s", 0) / 3600,
                     "gpus": sft.get("gpus", 0), "gpu_hours": sft.get("gpu_hours", 0.0),
                     "device": sft.get("device", "")})
    gpus = int(config["generation"]["gpus_per_job"])
    jobs, wall, missing = 0, 0.0, 0
    for path in manifests:
        job = _read_json(path)
        if job is None:
            missing += 1
            continue
        jobs += 1
        wall += float(job.get("wall_time_s", 0.0))
    if jobs:
        rows.append({"stage": "generation", "jobs": jobs, "wall_hours": wall / 3600, "gpus": gpus,
                     "gpu_hours": wall * gpus / 3600, "device": "GPU" if gpus else "cpu",
                     **({"note": f"{missing} generate manifest(s) missing"} if missing else {})})
    return rows


def predicted_compute(path: Path | None) -> dict | None:
    """The desk estimate of the full grid (benchmarks/generation_cost_results.json, written by
    benchmarks/generation_cost.py): its table rows and what it assumed; None without the file."""
    document = _read_json(path) if path is not None else None
    if document is None:
        return None
    rates = document["throughput_tokens_per_s"]
    rows = [{"thinking (assumed)": row["scenario"], "samples k": row["samples"],
             "tokens from scratch (M)": row["tokens_from_scratch"] / 1e6, "with reuse (M)": row["tokens_reuse"] / 1e6,
             **{f"GPU-hours {mode} at {rates[label] / 1000:.1f}K tok/s": row[f"gpu_hours_{key} ({label})"]
                for mode, key in (("from scratch", "from_scratch"), ("with reuse", "reuse")) for label in rates}}
            for row in document["rows"]]
    return {"table": markdown_table(pd.DataFrame(rows).round(1)), "gpu": document["gpu"],
            "kind": document["kind"], "source": document["throughput_source"],
            "throughput": document["throughput_tokens_per_s"]}


def model_name(source: str) -> str:
    """A model's display name: the last part of its hub id or folder ("Qwen/Qwen2.5-3B-Instruct"
    and "/models/Qwen2.5-3B-Instruct/" both give "Qwen2.5-3B-Instruct")."""
    return Path(str(source).rstrip("/")).name or str(source)


def evaluated_models(config: dict) -> list[str]:
    """The weights evaluated, once each: ``model.base`` for a model trained here or without a
    source, else the model's source (hub id or folder)."""
    names = []
    for entry in model_entries(config):
        source = config["model"]["base"] if entry.trains or entry.source is None else entry.source
        if source not in names:
            names.append(source)
    return names


def _line_count(path: Path) -> int | None:
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def evaluation_rows(config: dict, runs: pd.DataFrame | None, eval_files: list[Path]) -> list[dict]:
    """Per configured eval set: its title, source, the configured limit, the rows of the
    normalised set (``eval_files``: data/eval/<name>.jsonl) and the samples per run graded
    (max over the runs)."""
    from workflow_scripts.analysis.plots import DATASET_TITLES

    files = {path.stem: path for path in eval_files}
    rows = []
    for name in eval_set_names(config):
        settings = config["eval_sets"][name]
        graded = runs[runs["dataset"] == name]["samples"] if runs is not None else pd.Series(dtype=int)
        rows.append({"name": name, "title": DATASET_TITLES.get(name, name), "source": settings["source"],
                     "limit": settings["limit"], "rows": _line_count(files[name]) if name in files else None,
                     "samples": int(graded.max()) if len(graded) else None})
    return rows


def world_habits() -> dict:
    """What the synthetic world's traces teach the smoke model (its constants, not copies)."""
    from workflow_scripts.world.pool import RECHECKED_SHARE, SLIP_FIXED_SHARE
    from workflow_scripts.world.task import PARAGRAPH_TURNS

    return {"paragraph_turns": PARAGRAPH_TURNS, "recheck_share": RECHECKED_SHARE, "slip_fixed_share": SLIP_FIXED_SHARE}


SCALING_UNIT = "points per doubling of compute tokens"


def scaling_of(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each method's least-squares Scaling in accuracy points per doubling with its 95 % interval
    and the one verdict (metrics.tsv's ``scaling_ls``, ``scaling_ls_ci_low``/``_high``,
    ``scaling_verdict``; docs/metrics.md), as columns ``scaling``, ``low``, ``high``, ``verdict``."""
    names = {"scaling_ls": "scaling", "scaling_ls_ci_low": "low", "scaling_ls_ci_high": "high",
             "scaling_verdict": "verdict"}
    picked = metrics[["model", "dataset", "method", *names]].rename(columns=names)
    return picked.assign(verdict=picked["verdict"].fillna(""))


def _points(value: float) -> str:
    return f"{value:+.1f}"


def _interval_points(low: float, high: float) -> str:
    return "" if any(math.isnan(float(v)) for v in (low, high)) else f" [{float(low):+.1f}, {float(high):+.1f}]"


def headline_rows(metrics: pd.DataFrame | None, runs: pd.DataFrame | None) -> list[dict]:
    """Per dataset (report order): the methods whose Scaling rises / falls with its interval, those
    with no detectable scaling, and the best run (accuracy and interval from runs.tsv)."""
    from workflow_scripts.analysis.plots import DATASET_ORDER, DATASET_TITLES

    if metrics is None or runs is None or metrics.empty or runs.empty:
        return []
    scaling = scaling_of(metrics)
    datasets = [d for d in DATASET_ORDER if d in set(runs["dataset"])] + sorted(set(runs["dataset"]) - set(DATASET_ORDER))
    rows = []
    for dataset in datasets:
        chosen = scaling[scaling["dataset"] == dataset]
        ordered = chosen.assign(_rank=chosen["method"].map({m: i for i, m in enumerate(METHODS)}),
                                _model=(chosen["model"] != "sft").astype(int)).sort_values(["_model", "_rank", "model"])

        def named(verdict: str, ordered=ordered) -> list[str]:
            return [f"{method_name(r.model, r.method)} {_points(r.scaling)}{_interval_points(r.low, r.high)}"
                    for r in ordered.itertuples() if r.verdict == verdict]

        best = best_run(runs[runs["dataset"] == dataset])
        # runs.tsv's chance line: the dataset's most common gold answer's share (one value per dataset)
        chance = runs.loc[runs["dataset"] == dataset].get("chance_accuracy", pd.Series(dtype=float)).dropna()
        rows.append({"chance": 100 * float(chance.iloc[0]) if len(chance) else None,
                     "dataset": dataset, "title": DATASET_TITLES.get(dataset, dataset),
                     "rises": named(RISES), "falls": named(FALLS),
                     "flat": [method_name(r.model, r.method) for r in ordered.itertuples()
                              if r.verdict == NO_DETECTABLE_SCALING],
                     "best": {"name": method_name(best["model"], best["method"]), "setting": best["setting"],
                              "accuracy": 100 * float(best["accuracy"]), "low": 100 * float(best["accuracy_ci_low"]),
                              "high": 100 * float(best["accuracy_ci_high"]), "samples": int(best["samples"])}})
    return rows


def main_failure(metrics: pd.DataFrame | None, failures: pd.DataFrame | None) -> str | None:
    """One sentence: how many (method, dataset) Scalings rise, fall or show nothing detectable,
    the steepest fall, and the most frequent case of failures.tsv."""
    if metrics is None or metrics.empty:
        return None
    scaling = scaling_of(metrics)
    counts = scaling["verdict"].value_counts()
    judged = int(sum(counts.get(v, 0) for v in (RISES, FALLS, NO_DETECTABLE_SCALING)))
    if not judged:
        return "no method has two runs that differ in compute tokens, so no Scaling could be judged"
    text = (f"of {judged} method-dataset Scalings, {counts.get(RISES, 0)} rise, {counts.get(FALLS, 0)} fall and "
            f"{counts.get(NO_DETECTABLE_SCALING, 0)} show no detectable scaling (the 95 % interval holds zero)")
    unjudged = len(scaling) - judged
    if unjudged:
        text += f", {unjudged} more have no slope to judge (no compute spread or a single run)"
    falls = scaling[scaling["verdict"] == FALLS].sort_values("scaling")
    if len(falls):
        worst = falls.iloc[0]
        text += (f"; the steepest fall is {method_name(worst['model'], worst['method'])} on "
                 f"{worst['dataset']} ({_points(worst['scaling'])}{_interval_points(worst['low'], worst['high'])} "
                 f"{SCALING_UNIT})")
    if failures is not None and len(failures):
        kind, count = failures["kind"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index[0], \
            int(failures["kind"].value_counts().max())
        text += f"; `failures.tsv` lists {len(failures)} case(s), most often `{kind}` ({count})"
    return text


def ordered_table3(metrics: pd.DataFrame | None) -> dict[str, str]:
    """{dataset title: Table 3 as markdown}, datasets in the report's order (MATH500, AIME24, GPQA)."""
    from workflow_scripts.analysis.plots import DATASET_ORDER, DATASET_TITLES

    if metrics is None or metrics.empty:
        return {}
    tables = table3(metrics)
    order = [d for d in DATASET_ORDER if d in tables] + sorted(set(tables) - set(DATASET_ORDER))
    return {DATASET_TITLES.get(d, d): markdown_table(tables[d]) for d in order}


def failing_findings(metrics: pd.DataFrame | None) -> pd.DataFrame | None:
    """The findings (comparison.findings) of the methods whose scaling fails somewhere."""
    if metrics is None or metrics.empty:
        return None
    table = findings(metrics)
    return table[~table["where scaling fails"].str.startswith("scales")]


def failure_kinds(failures: pd.DataFrame | None) -> pd.DataFrame | None:
    """failures.tsv summarised: cases per kind, with the methods they concern."""
    if failures is None:
        return None
    rows = []
    for kind, group in failures.groupby("kind", sort=True):
        methods = sorted({f"{method_name(m, k)} ({d})" for m, k, d in zip(group["model"], group["method"], group["dataset"])})
        rows.append({"kind": kind, "cases": len(group),
                     "where": ", ".join(methods[:4]) + (f", ... {len(methods) - 4} more" if len(methods) > 4 else "")})
    return pd.DataFrame(rows, columns=["kind", "cases", "where"])


def example_rows(examples: pd.DataFrame | None, output: Path, results: Path) -> pd.DataFrame | None:
    """One example per (dataset, kind), from the brief's methods where the dataset has them, each
    linked to its full graded shard."""
    from workflow_scripts.analysis.plots import BRIEF_METHODS

    if examples is None or examples.empty:
        return None
    rank = {name: i for i, name in enumerate(METHODS)}  # registry order: truncation first
    ranked = examples.assign(_brief=~examples["method"].isin(BRIEF_METHODS), _model=examples["model"] != "sft",
                             _rank=examples["method"].map(rank))
    rows = []
    for (dataset, kind), group in ranked.groupby(["dataset", "kind"], sort=True):
        row = group.sort_values(["_brief", "_model", "_rank", "setting", "id"], kind="stable").iloc[0]
        link = os.path.relpath(results / row["shard"], output.parent)
        rows.append({"dataset": dataset, "kind": kind, "run": f"{row['model']}/{row['method']}/{row['setting']}",
                     "id": row["id"], "correct": bool(row["correct"]), "compute tokens": row["compute_tokens"],
                     "full sample": f"[{row['shard']}]({link})"})
    return pd.DataFrame(rows)


def shard_links(job_files: list[Path], eval_names: list[str], output: Path) -> list[str]:
    """Per configuration (its generation job folder): links to its generation and graded shards."""
    rows = []
    for job in job_files:
        folder = job.parent
        graded = Path(*[("graded" if part == "generation" else part) for part in folder.parts])
        generated = " ".join(f"[{name}]({os.path.relpath(folder / f'{name}.jsonl', output.parent)})" for name in eval_names)
        graded_links = " ".join(f"[{name}]({os.path.relpath(graded / f'{name}.jsonl', output.parent)})"
                                for name in eval_names)
        rows.append(f"`{'/'.join(folder.parts[-3:])}`: {generated}; graded {graded_links}")
    return rows


GRADERS = {"math500": "MATH500 by math-verify with a normalised-string fallback",
           "aime24": "AIME24 by integer comparison", "gpqa": "GPQA by the chosen letter, never a default letter"}


def audit_lines(audit: dict | None) -> list[str]:
    """The grader audit per benchmark, with at most MAX_LISTED_DISAGREEMENTS disagreements each."""
    lines = []
    for name, part in (audit or {}).items():
        extra = f"; {part['without_solution']} rows without a reference solution" if part.get("without_solution") else ""
        none = "" if part["disagreements"] else "; no disagreements"
        lines.append(f"- **{name}**: **{part['agree']}/{part['n']}** graded correct "
                     f"({100 * part['agreement']:.1f} %){extra}{none}.")
        for d in part["disagreements"][:MAX_LISTED_DISAGREEMENTS]:
            lines.append(f"  - id `{d['id']}`: gold `{d['gold']}`, extracted `{d['extracted']}`"
                         + (" (no final answer found)" if d.get("parse_failed") else ""))
        if len(part["disagreements"]) > MAX_LISTED_DISAGREEMENTS:
            lines.append(f"  - ... and {len(part['disagreements']) - MAX_LISTED_DISAGREEMENTS} more "
                         "(all in `analysis/grader_audit.json`).")
    return lines


def grading_line(eval_names: list[str]) -> str:
    """How the run's eval sets are graded (docs/grading.md has the rules)."""
    return "; ".join(GRADERS[name] for name in eval_names if name in GRADERS)


def ran_methods(config: dict) -> dict:
    """What the grid ran: per method of a thinking model its description line; the direct-answer
    models with the methods they ran; the set of every method that ran."""
    grid = evaluation_grid(config)
    formats = {entry.name: entry.format for entry in model_entries(config)}
    generation = config["generation"]
    thinking = [name for name in METHODS if any(s.method == name and formats[s.model] == "think" for s in grid)]
    direct = {}
    for spec in grid:
        if formats[spec.model] == "direct":
            direct.setdefault(spec.model, [])
            if spec.method not in direct[spec.model]:
                direct[spec.model].append(spec.method)
    return {"lines": [METHODS[name].describe(generation[name]) for name in thinking],
            "direct": [{"model": model, "methods": methods,
                        "lines": [METHODS[m].describe(generation[m]) for m in methods if m == "parallel"]}
                       for model, methods in direct.items()],
            "all": {spec.method for spec in grid}}


def build_context(inputs: dict[str, Any], config: dict, output: Path) -> dict:
    """Everything the template shows, read from ``inputs`` (name -> path; ``jobs``, ``generate_jobs`` -> paths: the
    research_report rule's declared inputs) and the complete config; nothing else is read."""
    def path(name: str) -> Path | None:
        value = inputs.get(name)
        if isinstance(value, list):  # an optional input: [] when the run has none
            value = value[0] if value else None
        return Path(value) if value else None

    def tsv(name: str) -> pd.DataFrame | None:
        return _read_tsv(path(name)) if path(name) else None

    def relative(target: Path | str) -> str:  # links are relative to REPORT.md
        return os.path.relpath(target, output.parent)

    runs = tsv("runs")
    metrics = tsv("metrics")
    cost = read_cost(path("cost")) if path("cost") and path("cost").exists() else None
    curation = _read_json(path("curation")) if path("curation") else None
    audit = _read_json(path("audit")) if path("audit") else None
    failures = tsv("failures")
    tests = junit_summary(path("tests")) if path("tests") else None
    generation = config["generation"]
    synthetic = config["synthetic_world"] is not None
    ran = ran_methods(config)
    results = output.parent
    job_files = [Path(p) for p in inputs.get("jobs", [])]
    manifests = [Path(p) for p in inputs.get("generate_jobs", [])]
    has_runs = runs is not None and len(runs)
    brief = has_runs and runs["method"].isin(BRIEF_METHODS).any()
    others = has_runs and (~runs["method"].isin(BRIEF_METHODS)).any()
    return {
        "run_name": config["run_name"],
        "config": config,
        "synthetic": synthetic,
        "title": "the synthetic world" if synthetic else " and ".join(evaluated_models(config)),
        "base_name": "the synthetic world's tiny model" if synthetic else " and ".join(
            model_name(source) for source in evaluated_models(config)),
        "evaluation": evaluation_rows(config, runs, [Path(p) for p in inputs.get("eval_sets", [])]),
        "eval_names": eval_set_names(config),
        "grading": grading_line(eval_set_names(config)),
        "models": model_rows(config),
        "trained": trains_here(config),
        "generation": generation,
        "ran": ran["all"],
        "budgeted": bool(ran["all"] - {"parallel"}),  # some method that ran has a budget
        "computes": sorted(set(runs["compute"])) if has_runs else [],  # thinking and/or (direct) response
        "method_lines": ran["lines"],
        "direct_runs": ran["direct"],
        "headline": headline_rows(metrics, runs),
        "main_failure": main_failure(metrics, failures),
        "scaling_unit": SCALING_UNIT,
        "table3": ordered_table3(metrics),
        "failing_findings": markdown_table(failing_findings(metrics), empty="none: every method scales")
        if metrics is not None else NOT_AVAILABLE,
        "failure_kinds": markdown_table(failure_kinds(failures), empty="none detected"),
        "failures_count": 0 if failures is None else len(failures),
        "world_habits": world_habits(),
        "examples_table": markdown_table(example_rows(tsv("examples_index"), output, results), empty="no examples"),
        "curation": curation,
        "curation_table": ", ".join(f"{k} {v}" for k, v in (curation or {}).get("dropped_by_reason", {}).items())
        or "none",
        "audit_lines": audit_lines(audit),
        "tests": tests,
        "compute_table": markdown_table(pd.DataFrame(compute_rows(path("sft"), manifests, config)), empty=NOT_AVAILABLE),
        "predicted": predicted_compute(path("predicted")),
        "cost_table": markdown_table(cost, empty="no generation samples"),
        "cost": cost_summary(cost),
        "sft": _read_json(path("sft")) if path("sft") else None,
        # the brief's methods that ran, named in the main figure's title
        "brief_labels": ", ".join(METHODS[m].label for m in BRIEF_METHODS if has_runs and (runs["method"] == m).any()),
        "figures": {"scaling": relative(path("scaling")) if path("scaling") and brief else None,
                    "scaling_others": relative(path("scaling_others")) if path("scaling_others") and others else None,
                    "methods": relative(path("methods")) if path("methods") else None,
                    "failures": relative(path("failures_plot")) if path("failures_plot") else None},
        "tables": [(name, relative(path(name))) for name in APPENDIX_TABLES if path(name)],
        "metrics_doc": relative(DOCS / "metrics.md"),
        "stage_figures": [(title, relative(path(name))) for title, name in STAGE_FIGURES if path(name)],
        "shards": shard_links(job_files, eval_set_names(config), output),
        "not_available": NOT_AVAILABLE,
        "max_listed": MAX_LISTED_DISAGREEMENTS,
    }


def render_report(inputs: dict[str, Any], template: Path, config: dict, output: Path) -> str:
    """REPORT.md from ``template``, reading only ``inputs`` (see :func:`build_context`)."""
    if not template.exists():
        raise ValueError(f"report template {template} does not exist")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template.parent)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.filters["pct"] = lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f} %"
    try:
        text = environment.get_template(template.name).render(**build_context(inputs, config, output))
    except jinja2.UndefinedError as error:
        raise ValueError(f"{template}: {error} (is --config-json the full workflow config?)") from None
    from workflow_scripts.io import atomic_path

    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return text
