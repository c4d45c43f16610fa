"""The paper's comparison: a Table-3-shaped table per dataset and where each method's scaling fails.

Table 3 of s1 (AIME24, s1-32B) lists per method its Control, its Scaling and its best
accuracy. Here, per dataset and (model, method), in registry order:

* **Control (%)**: ``control_paper`` x 100 (s1's form; see :mod:`metrics` for each method's
  rule: the share of budgeted runs whose mean thinking stays within the budget, the
  short/long ordering for class-conditional, the share of samples that fit for rejection
  sampling; empty for parallel scaling, which has no budget);
* **Scaling (pp / doubling)**: ``scaling_per_doubling``, the unit of the paper's Table 3, with
  its 95 % paired-bootstrap interval (``scaling_per_doubling_ci_low``/``_ci_high``);
* **Best accuracy (%)** and the number of runs.

The findings say, per method and dataset, where scaling fails, from the same metrics:
a negative slope ("scales inversely"), a flat one (|slope| < 1 point per doubling), a
prompt that is ignored (more than half the samples think beyond the instructed budget +
10 tokens, for the conditional methods without forcing), questions that never fit
(rejection sampling), or too few runs for a slope.
"""

from __future__ import annotations

import math

import pandas as pd

from workflow_scripts.methods import METHODS

FLAT_POINTS_PER_DOUBLING = 1.0
IGNORED_SHARE = 0.5
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


def _interval(row) -> str:
    """"[low, high]" of the per-doubling Scaling, "" without one."""
    low, high = (getattr(row, f"scaling_per_doubling_ci_{side}", float("nan")) for side in ("low", "high"))
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return ""
    return f"[{float(low):.1f}, {float(high):.1f}]"


def table3(metrics: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{dataset: table} with columns method, Control (%), Scaling (pp / doubling), best accuracy (%), runs."""
    tables = {}
    for dataset, group in metrics.groupby("dataset", sort=True):
        rows = [{"method": method_name(row.model, row.method), "Control (%)": _pct(row.control_paper),
                 "Scaling (pp / doubling)": row.scaling_per_doubling,
                 "Scaling 95 % interval": _interval(row),
                 "best accuracy (%)": _pct(row.max_accuracy), "best setting": row.max_accuracy_setting,
                 "runs": int(row.runs)}
                for row in _order(group).itertuples()]
        tables[dataset] = pd.DataFrame(rows)
    return tables


def findings(metrics: pd.DataFrame, methods: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per (model, dataset, method): a verdict on its scaling (see the module docstring)."""
    rows = []
    for row in _order(metrics).itertuples():
        if methods is not None and row.method not in methods:
            continue
        notes = []
        slope = row.scaling_per_doubling
        if int(row.runs) < 2 or (isinstance(slope, float) and math.isnan(slope)):
            notes.append("no slope (fewer than two runs with distinct token means)")
        elif slope < -FLAT_POINTS_PER_DOUBLING:
            notes.append(f"scales inversely: {slope:+.1f} points per doubling")
        elif abs(slope) <= FLAT_POINTS_PER_DOUBLING:
            notes.append(f"flat: {slope:+.1f} points per doubling")
        if row.method in CONDITIONAL and not math.isnan(row.control_exceed) and row.control_exceed > IGNORED_SHARE:
            notes.append(f"instruction ignored: {100 * row.control_exceed:.0f} % of samples think beyond the "
                         "instructed budget + 10 tokens")
        if row.method == "rejection_sampling" and not math.isnan(row.control_exceed) and row.control_exceed > 0:
            notes.append(f"{100 * row.control_exceed:.0f} % of samples never fit (out of budget)")
        rows.append({"model": row.model, "dataset": row.dataset, "method": method_name(row.model, row.method),
                     "scaling (pp / doubling)": slope, "Control (%)": _pct(row.control_paper),
                     "where scaling fails": "; ".join(notes) if notes else "scales (no failure found by these rules)"})
    return pd.DataFrame(rows, columns=["model", "dataset", "method", "scaling (pp / doubling)", "Control (%)",
                                       "where scaling fails"])
