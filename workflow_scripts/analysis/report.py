"""REPORT.md: the research report rendered (jinja2) from the analysis outputs.

Every number comes from a file of the run. Optional inputs (grader audit, test results,
training summary, benchmark predictions) that are missing give an explicit
"not available" line, never a crash. No timestamps: same inputs -> same bytes.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from workflow_scripts.analysis import metrics as metrics_module
from workflow_scripts.analysis.bootstrap import NO_DETECTABLE_SCALING
from workflow_scripts.analysis.bootstrap import __doc__ as BOOTSTRAP_DOC
from workflow_scripts.analysis.tables import read_runs
from workflow_scripts.analysis.failures import __doc__ as FAILURES_DOC
from workflow_scripts.analysis.comparison import __doc__ as COMPARISON_DOC
from workflow_scripts.analysis.comparison import findings, table3
from workflow_scripts.analysis.cost import __doc__ as COST_DOC
from workflow_scripts.analysis.cost import cost_summary, read_cost
from workflow_scripts.analysis.metrics import budget_trend
from workflow_scripts.config import eval_set_names, model_entries, trains_here
from workflow_scripts.methods import METHODS

NOT_AVAILABLE = "not available"
MAX_LISTED_DISAGREEMENTS = 20  # the rest stay in analysis/grader_audit.json
# Report inputs (the names of the research_report rule's inputs) that are figures of other stages.
STAGE_FIGURES = (
    ("Curation: rows per stage", "curation_stages"),
    ("Curation: domains", "curation_domains"),
    ("Curation: sources", "curation_sources"),
    ("Curation: trace lengths", "curation_lengths"),
    ("Training: loss curve", "loss_curve"),
)
ANALYSIS_FIGURES = ("scaling", "methods", "failures_plot", "examples")
RUN_COLUMNS = ["model", "dataset", "method", "setting", "samples_per_question", "samples", "accuracy",
               "accuracy_ci_low", "accuracy_ci_high", "accuracy_sample_sd", "accuracy_sample_min",
               "accuracy_sample_max", "parse_failures", "compute",
               "compute_tokens_mean", "cap_hit_share", "waits_mean", "exceed_share"]
METRIC_COLUMNS = ["model", "dataset", "method", "runs", "control_exceed", "control_paper", "budget_error",
                  "scaling_pp_per_1k", "scaling_pp_per_1k_95ci", "scaling_verdict", "scaling_per_doubling",
                  "scaling_per_doubling_95ci", "scaling_per_doubling_verdict", "max_accuracy", "max_accuracy_setting"]
DIFFERENCE_COLUMNS = ["model", "dataset", "budget", "setting_a", "setting_b", "accuracy_a", "accuracy_b",
                      "difference", "difference_95ci", "verdict"]


def interval_text(low, high, scale: float = 1.0) -> str:
    """"[low, high]" (x scale), "" without an interval."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return ""
    return f"[{_format(float(low) * scale)}, {_format(float(high) * scale)}]"


def metrics_display(metrics: pd.DataFrame | None) -> pd.DataFrame | None:
    """metrics.tsv with the Scaling intervals in accuracy points per 1,000 compute tokens and
    (already in points) per doubling of compute tokens."""
    if metrics is None:
        return None
    doubling = [interval_text(lo, hi) for lo, hi in zip(metrics.get("scaling_per_doubling_ci_low", pd.Series(
        float("nan"), index=metrics.index)), metrics.get("scaling_per_doubling_ci_high", pd.Series(
            float("nan"), index=metrics.index)))]
    return metrics.assign(scaling_pp_per_1k_95ci=[interval_text(lo, hi, 1e5) for lo, hi in
                                                  zip(metrics["scaling_ci_low"], metrics["scaling_ci_high"])],
                          scaling_verdict=metrics["scaling_verdict"].fillna(""),
                          scaling_per_doubling_95ci=doubling,
                          scaling_per_doubling_verdict=metrics.get(
                              "scaling_per_doubling_verdict", pd.Series("", index=metrics.index)).fillna(""))


def differences_display(differences: pd.DataFrame | None) -> pd.DataFrame | None:
    if differences is None:
        return None
    return differences.assign(difference_95ci=[interval_text(lo, hi) for lo, hi in
                                               zip(differences["difference_low"], differences["difference_high"])],
                              setting_a=differences["method_a"] + "/" + differences["setting_a"],
                              setting_b=differences["method_b"] + "/" + differences["setting_b"])


def trend_with_verdict(trend: pd.DataFrame, metrics: pd.DataFrame | None) -> pd.DataFrame:
    """The budget trend beside the paired-bootstrap verdict on each model's truncation Scaling."""
    if metrics is None:
        return trend
    chosen = metrics[metrics["method"] == "truncation"]
    verdicts = dict(zip(zip(chosen["model"], chosen["dataset"]), chosen["scaling_verdict"].fillna("")))
    keys = pd.Series(list(zip(trend["model"], trend["dataset"])), index=trend.index, dtype=object)
    return trend.assign(scaling_verdict=keys.map(verdicts).fillna(""))


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


def compute_rows(sft_summary: Path | None, job_files: list[Path], config: dict) -> list[dict]:
    """GPU-hours per stage, measured: SFT from sft/summary.json, generation from each job.json
    (wall time x GPUs per job). CPU runs (0 GPUs) report wall hours and 0 GPU-hours."""
    rows = []
    sft = _read_json(sft_summary) if sft_summary else None
    if sft:
        rows.append({"stage": "SFT", "jobs": 1, "wall_hours": sft.get("wall_time_s", 0) / 3600,
                     "gpus": sft.get("gpus", 0), "gpu_hours": sft.get("gpu_hours", 0.0),
                     "device": sft.get("device", "")})
    gpus = int(config["generation"]["gpus_per_job"])
    jobs, wall, missing = 0, 0.0, 0
    for path in job_files:
        job = _read_json(path)
        if job is None:
            missing += 1
            continue
        jobs += 1
        wall += float(job.get("wall_time_s", 0.0))
    if jobs:
        rows.append({"stage": "generation", "jobs": jobs, "wall_hours": wall / 3600, "gpus": gpus,
                     "gpu_hours": wall * gpus / 3600, "device": "GPU" if gpus else "cpu",
                     **({"note": f"{missing} job.json missing"} if missing else {})})
    return rows


def predicted_compute(path: Path | None) -> dict | None:
    """The desk estimate of the full grid (benchmarks/generation_cost_results.json, written by
    benchmarks/generation_cost.py): its table rows and what it assumed; None without the file."""
    document = _read_json(path) if path is not None else None
    if document is None:
        return None
    rows = [{"thinking (assumed)": row["scenario"], "samples k": row["samples"],
             "tokens from scratch (M)": row["tokens_from_scratch"] / 1e6, "with reuse (M)": row["tokens_reuse"] / 1e6,
             **{f"{document['gpu']}-hours {mode} ({label})": row[f"gpu_hours_{key} ({label})"]
                for mode, key in (("from scratch", "from_scratch"), ("with reuse", "reuse"))
                for label in document["throughput_tokens_per_s"]}}
            for row in document["rows"]]
    return {"table": markdown_table(pd.DataFrame(rows).round(1)), "gpu": document["gpu"],
            "kind": document["kind"], "source": document["throughput_source"],
            "throughput": document["throughput_tokens_per_s"]}


def model_name(source: str) -> str:
    """A model's display name: the last part of its hub id or folder ("Qwen/Qwen2.5-3B-Instruct"
    and "/models/Qwen2.5-3B-Instruct/" both give "Qwen2.5-3B-Instruct")."""
    return Path(str(source).rstrip("/")).name or str(source)


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


def _section_doc(doc: str | None) -> str:
    return (doc or "").strip()


def build_context(inputs: dict[str, Any], config: dict, output: Path) -> dict:
    """Everything the template shows, read from ``inputs`` (name -> path, ``jobs`` -> paths: the
    research_report rule's declared inputs) and the complete config; nothing else is read."""
    def path(name: str) -> Path | None:
        value = inputs.get(name)
        if isinstance(value, list):  # an optional input: [] when the run has none
            value = value[0] if value else None
        return Path(value) if value else None

    def tsv(name: str) -> pd.DataFrame | None:
        return _read_tsv(path(name)) if path(name) else None

    def relative(name: str) -> str:  # figures are linked relative to REPORT.md
        return os.path.relpath(path(name), output.parent)

    runs = tsv("runs")
    metrics = tsv("metrics")
    cost = read_cost(path("cost")) if path("cost") and path("cost").exists() else None
    trend = trend_with_verdict(budget_trend(runs), metrics) if runs is not None and len(runs) else None
    curation = _read_json(path("curation")) if path("curation") else None
    audit = _read_json(path("audit")) if path("audit") else None
    examples = tsv("examples_index")
    failures = tsv("failures")
    tests = junit_summary(path("tests")) if path("tests") else None
    generation = config["generation"]
    synthetic = config["synthetic_world"] is not None
    return {
        "run_name": config["run_name"],
        "config": config,
        "synthetic": synthetic,
        "base_name": "the synthetic world's tiny model" if synthetic else model_name(config["model"]["base"]),
        "evaluation": evaluation_rows(config, runs, [Path(p) for p in inputs.get("eval_sets", [])]),
        "eval_names": eval_set_names(config),
        "models": model_rows(config),
        "direct_models": [f"`{m.name}`" for m in model_entries(config) if m.format == "direct"],
        "trained": trains_here(config),
        "generation": generation,
        # One line per configured method, from its registry entry (workflow_scripts/methods/).
        "method_lines": [method.describe(generation[name]) for name, method in METHODS.items()
                         if name in generation and any(True for _ in method.runs(generation[name]))],
        "runs_table": markdown_table(runs, RUN_COLUMNS),
        "metrics_table": markdown_table(metrics_display(metrics), METRIC_COLUMNS),
        "differences_table": markdown_table(differences_display(tsv("differences")),
                                            DIFFERENCE_COLUMNS, empty="no two methods share a budget"),
        "no_detectable_scaling": [] if metrics is None else [
            f"{r['model']}/{r['method']} on {r['dataset']}" for r in metrics.to_dict("records")
            if r.get("scaling_verdict") == NO_DETECTABLE_SCALING],
        "no_detectable_scaling_per_doubling": [] if metrics is None else [
            f"{r['model']}/{r['method']} on {r['dataset']}" for r in metrics.to_dict("records")
            if r.get("scaling_per_doubling_verdict") == NO_DETECTABLE_SCALING],
        "natural_stop_table": markdown_table(tsv("natural_stop"), empty="no truncation runs"),
        "table3": {dataset: markdown_table(table) for dataset, table in table3(metrics).items()}
        if metrics is not None and len(metrics) else {},
        "findings_table": markdown_table(findings(metrics), empty="no methods")
        if metrics is not None and len(metrics) else NOT_AVAILABLE,
        "comparison_notes": _section_doc(COMPARISON_DOC),
        "world_habits": world_habits(),
        "trend_table": markdown_table(trend, empty="fewer than two numeric truncation budgets")
        if trend is not None else NOT_AVAILABLE,
        "trend": trend.to_dict("records") if trend is not None else [],
        "failures_table": markdown_table(failures, ["kind", "model", "dataset", "method", "from_setting",
                                                    "to_setting", "detail"], empty="none detected"),
        "failures_count": 0 if failures is None else len(failures),
        "examples_table": markdown_table(examples, empty="no examples"),
        "metric_definitions": _section_doc(metrics_module.__doc__),
        "failure_definitions": _section_doc(FAILURES_DOC),
        "bootstrap_definition": _section_doc(BOOTSTRAP_DOC),
        "curation": curation,
        "curation_table": markdown_table(pd.DataFrame(
            [{"stage or reason": k, "rows": v} for k, v in (curation or {}).get("dropped_by_reason", {}).items()]),
            empty="no rows dropped") if curation else NOT_AVAILABLE,
        "audit": audit,
        "tests": tests,
        "compute_table": markdown_table(pd.DataFrame(compute_rows(path("sft"), [Path(p) for p in inputs.get("jobs", [])],
                                                                  config)), empty=NOT_AVAILABLE),
        "predicted_compute": predicted_compute(path("benchmarks")),
        "cost_table": markdown_table(cost, empty="no generation samples"),
        "cost": cost_summary(cost),
        "cost_definition": _section_doc(COST_DOC),
        "sft": _read_json(path("sft")) if path("sft") else None,
        "files": {name: relative(name) if path(name) else None for name in ANALYSIS_FIGURES},
        # Figures of other stages, embedded when the run has them.
        "stage_figures": [(title, relative(name)) for title, name in STAGE_FIGURES if path(name)],
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
