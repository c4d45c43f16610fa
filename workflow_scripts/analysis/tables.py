"""The analysis tables on disk: runs.tsv and metrics.tsv, read and written the same way by every step."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workflow_scripts.io import atomic_path

TSV_FLOAT = "%.6g"


def write_tsv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format=TSV_FLOAT, lineterminator="\n")


RUN_COLUMNS = ("model", "dataset", "method", "setting", "budget", "n", "samples", "correct", "accuracy",
               "accuracy_sample_sd", "accuracy_ci_low", "accuracy_ci_high", "compute", "compute_tokens_mean",
               "thinking_tokens_mean", "answer_tokens_mean", "waits_mean")


def read_runs(path: str | Path) -> pd.DataFrame:
    """runs.tsv with budget and setting kept as text ("500", "unbounded", "")."""
    runs = pd.read_csv(path, sep="\t", dtype={"budget": str, "setting": str}, keep_default_na=False,
                       na_values={c: [""] for c in ("exceed_share", "within_budget_share", "accuracy_sample_sd",
                                                   "accuracy_sample_min", "accuracy_sample_max",
                                                   "chance_accuracy")})
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"{path}: not a runs table, missing column(s) {', '.join(missing)}")
    return runs


def read_metrics(path: str | Path) -> pd.DataFrame:
    """metrics.tsv with settings and verdicts kept as text ("" where empty)."""
    text_columns = ("settings", "max_accuracy_setting", "scaling_verdict", "scaling_pp_per_1k_verdict",
                    "scaling_per_doubling_verdict", "control_note", "budget_error_note")
    metrics = pd.read_csv(path, sep="\t", dtype={c: str for c in text_columns})
    missing = [c for c in ("model", "dataset", "method", "scaling_verdict") if c not in metrics.columns]
    if missing:
        raise ValueError(f"{path}: not a metrics table, missing column(s) {', '.join(missing)}")
    return metrics.fillna({c: "" for c in text_columns})
