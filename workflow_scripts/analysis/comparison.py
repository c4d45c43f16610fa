"""The paper's comparison: a Table-3-shaped table per dataset and where each method's scaling fails.

Table 3 of s1 (AIME24, s1-32B) lists per method its Control, its Scaling and its best
accuracy. Here, per dataset and (model, method), in registry order: Control
(``control_paper`` x 100, s1's form: the share of the budgeted runs whose mean compute tokens
lie within the budget; empty without a budget), the least-squares Scaling in accuracy points per
doubling of compute tokens (``scaling_ls``) with its 95 % paired-bootstrap interval and the
one verdict (``scaling_verdict``), the brief's mean pairwise slope per doubling beside it
(``scaling_per_doubling``), the best accuracy and the number of runs.

The findings say, per method and dataset, where scaling fails. They lead with the same
``scaling_verdict`` (so the findings, Table 3, ``failures.tsv`` and the method figure agree),
then add what Control shows: a prompt that is ignored (more than half the samples think
beyond the instructed budget + 10 tokens, for the conditional methods without forcing) and
questions that never fit (rejection sampling, ``control_fits``). docs/metrics.md defines every column.
"""

from __future__ import annotations

import math

import pandas as pd

from workflow_scripts.analysis.verdicts import (
    FALLS, MIN_COMPUTE_SPREAD, NO_COMPUTE_SPREAD, NO_DETECTABLE_SCALING, RISES, SINGLE_RUN,
)
from workflow_scripts.methods import METHODS

IGNORED_SHARE = 0.5
CONTROL_HEADER = "Control (% of budgeted runs within budget)"  # control_paper
CONDITIONAL = ("token_conditional", "step_conditional")


def method_name(model: str, method: str) -> str:
    label = METHODS[method].label if method in METHODS else method
    return label if model == "sft" else f"{model}: {label}"


def _order(metrics: pd.DataFrame) -> pd.DataFrame:
    rank = {name: i for i, name in enumerate(METHODS)}
    return metrics.assign(_model=(metrics["model"] != "sft").astype(int), _rank=metrics["method"].map(rank)) \
        .sort_values(["_model", "_rank", "model"])


def _pct(value) -> float:
    return float("nan") if value is None or (isinstance(value, float) and math.isnan(value)) else 100 * float(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _interval(row) -> str:
    """"[low, high]" of the least-squares Scaling (points per doubling), "" without one."""
    low, high = (getattr(row, f"scaling_ls_ci_{side}", float("nan")) for side in ("low", "high"))
    if _missing(low) or _missing(high):
        return ""
    return f"[{float(low):.1f}, {float(high):.1f}]"


def verdict_text(row) -> str:
    """The scaling verdict in words, with the numbers it rests on."""
    verdict = row.scaling_verdict
    slope = f"{row.scaling_ls:+.1f} points per doubling {_interval(row)}".rstrip()
    if verdict == RISES:
        return f"scales: {slope}"
    if verdict == FALLS:
        return f"scales inversely: {slope}"
    if verdict == NO_DETECTABLE_SCALING:
        return f"{NO_DETECTABLE_SCALING}: {slope}, the interval holds zero"
    if verdict == NO_COMPUTE_SPREAD:
        return (f"{NO_COMPUTE_SPREAD}: its runs' mean compute tokens differ by x{row.compute_spread:.3f} "
                f"(< x{MIN_COMPUTE_SPREAD:.2f}), no axis to scale along")
    if verdict == SINGLE_RUN:
        return f"{SINGLE_RUN}: no slope"
    raise ValueError(f"unknown scaling verdict {verdict!r} for {row.model}/{row.method} on {row.dataset}")


def table3(metrics: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{dataset: table} with columns method, Control (%), Scaling (pp / doubling), its 95 %
    interval, verdict, the brief's pairwise Scaling per doubling, best accuracy (%), runs."""
    tables = {}
    for dataset, group in metrics.groupby("dataset", sort=True):
        rows = [{"method": method_name(row.model, row.method), CONTROL_HEADER: _pct(row.control_paper),
                 "Scaling (pp / doubling)": row.scaling_ls,
                 "Scaling 95 % interval": _interval(row),
                 "verdict": row.scaling_verdict,
                 "pairwise Scaling (pp / doubling)": row.scaling_per_doubling,
                 "best accuracy (%)": _pct(row.max_accuracy), "best setting": row.max_accuracy_setting,
                 "runs": int(row.runs)}
                for row in _order(group).itertuples()]
        tables[dataset] = pd.DataFrame(rows)
    return tables


FINDINGS_COLUMNS = ["model", "dataset", "method", "scaling (pp / doubling)", "verdict", CONTROL_HEADER,
                    "where scaling fails"]


def findings(metrics: pd.DataFrame, methods: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per (model, dataset, method): its scaling verdict and what Control adds (see
    the module docstring)."""
    rows = []
    for row in _order(metrics).itertuples():
        if methods is not None and row.method not in methods:
            continue
        notes = [verdict_text(row)]
        if row.method in CONDITIONAL and not math.isnan(row.control_exceed) and row.control_exceed > IGNORED_SHARE:
            notes.append(f"instruction ignored: {100 * row.control_exceed:.0f} % of samples think beyond the "
                         "instructed budget + 10 tokens")
        fits = getattr(row, "control_fits", float("nan"))
        if not _missing(fits) and fits < 1:
            notes.append(f"{100 * (1 - fits):.0f} % of samples never fit (out of budget)")
        rows.append({"model": row.model, "dataset": row.dataset, "method": method_name(row.model, row.method),
                     "scaling (pp / doubling)": row.scaling_ls, "verdict": row.scaling_verdict,
                     CONTROL_HEADER: _pct(row.control_paper), "where scaling fails": "; ".join(notes)})
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)
