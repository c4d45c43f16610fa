"""Paired bootstrap over questions: intervals for run accuracy, Scaling and method differences.

Every run of one dataset answers the same questions, so one resample of the questions (drawn
with replacement) is applied to all of them at once: the pairing across budgets, methods and
models is kept, and a difference between two runs is resampled as a difference per question.
With ``generation.samples`` k > 1 a question's score in a run is the mean over its k samples
(and its tokens the mean over them), so the questions, not the samples, are resampled. A run
that lacks some of its dataset's questions (not the case in a complete grid) is averaged over
the drawn questions it has.

``RESAMPLES`` (10,000) resamples from ``numpy.random.default_rng(SEED)`` (42), drawn once per
dataset; intervals are the 2.5 and 97.5 percentiles (95 %). Cost: one (resamples x questions)
count matrix per dataset and one matrix product with the (questions x runs) score table, so
a 100-question, 30-run dataset takes milliseconds and a few MB.

A Scaling interval that holds zero means "no detectable scaling": the data cannot tell a
rise from a fall, and the report says so instead of calling the slope a trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from workflow_scripts.analysis.compute import compute_tokens

RESAMPLES = 10_000
SEED = 42
LEVEL = 0.95
RUN_KEYS = ["model", "dataset", "method", "setting"]
NO_DETECTABLE_SCALING = "no detectable scaling"


class BootstrapError(ValueError):
    """Runs that cannot be compared; the message names them."""


def resample_counts(questions: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, questions) matrix: how often each question is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, questions, size=(resamples, questions))
    flat = draws + questions * np.arange(resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * questions).reshape(resamples, questions)


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """(low, high) percentiles of the finite values along axis 0; nan where there are none."""
    tail = (1 - level) / 2 * 100
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def pairwise_slopes(tokens: np.ndarray, accuracy: np.ndarray, axis: str = "tokens") -> np.ndarray:
    """s1's Scaling per row of (rows, runs) arrays: the mean over run pairs of
    (acc_j - acc_i) / (x_j - x_i), x the tokens (``axis="tokens"``) or log2 tokens
    (``axis="log2"``: accuracy per doubling). The slope of a pair does not depend on its
    order, so no sorting is needed; pairs with equal x have no slope and are left out."""
    if axis == "log2":
        with np.errstate(divide="ignore"):
            x = np.where(tokens > 0, np.log2(np.where(tokens > 0, tokens, 1.0)), np.nan)
    elif axis == "tokens":
        x = tokens.astype(float)
    else:
        raise ValueError(f"axis must be 'tokens' or 'log2', got {axis!r}")
    runs = x.shape[1]
    if runs < 2:
        return np.full(x.shape[0], np.nan)
    i, j = np.array(list(combinations(range(runs), 2))).T
    dx = x[:, j] - x[:, i]
    da = accuracy[:, j] - accuracy[:, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(dx != 0, da / dx, np.nan)
    counted = np.isfinite(slopes).sum(axis=1)
    total = np.where(np.isfinite(slopes), slopes, 0.0).sum(axis=1)
    return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)


@dataclass
class DatasetTable:
    """One dataset: per-question scores and tokens of every run, and their resampled means."""

    runs: list[tuple]  # run keys (model, dataset, method, setting), column order
    questions: list[str]
    scores: np.ndarray  # (questions, runs): mean correctness over the question's samples
    tokens: np.ndarray  # (questions, runs): mean compute tokens over the question's samples
    accuracy: np.ndarray  # (resamples, runs)
    mean_tokens: np.ndarray  # (resamples, runs)

    def columns(self, runs: Sequence[tuple]) -> list[int]:
        index = {run: position for position, run in enumerate(self.runs)}
        return [index[run] for run in runs]


class PairedBootstrap:
    """The resampled accuracies and token means of every run, one shared resample per dataset."""

    def __init__(self, samples: pd.DataFrame, resamples: int = RESAMPLES, seed: int = SEED):
        self.resamples, self.seed = resamples, seed
        samples = samples.assign(correct=samples["correct"].astype(float),  # a vote's row: its expected credit
                                 compute_tokens=compute_tokens(samples).astype(float))
        self.tables: dict[str, DatasetTable] = {}
        for dataset, group in samples.groupby("dataset", sort=True):
            self.tables[dataset] = self._table(group)

    def _table(self, group: pd.DataFrame) -> DatasetTable:
        per_question = group.groupby(RUN_KEYS + ["id"], sort=True).agg(
            score=("correct", "mean"), tokens=("compute_tokens", "mean"))
        score_table = per_question["score"].unstack("id")
        scores = score_table.to_numpy().T  # (questions, runs); nan where a run lacks the question
        tokens = per_question["tokens"].unstack("id").to_numpy().T
        present = np.isfinite(scores).astype(float)
        counts = resample_counts(scores.shape[0], self.resamples, self.seed).astype(float)
        # Each run's mean over the drawn questions it has (all of them in a complete grid).
        with np.errstate(invalid="ignore", divide="ignore"):
            drawn = counts @ present
            accuracy = counts @ np.nan_to_num(scores) / drawn
            mean_tokens = counts @ np.nan_to_num(tokens) / drawn
        return DatasetTable(runs=[tuple(r) for r in score_table.index], questions=list(score_table.columns),
                            scores=scores, tokens=tokens, accuracy=accuracy, mean_tokens=mean_tokens)

    def accuracy_interval(self, run: tuple) -> tuple[float, float]:
        table = self.tables[run[1]]
        return percentile_interval(table.accuracy[:, table.columns([run])[0]])

    def scaling(self, runs: Sequence[tuple], axis: str = "tokens") -> tuple[float, float]:
        """Interval of the Scaling of ``runs`` (one method's runs, one dataset)."""
        if len(runs) < 2:
            return float("nan"), float("nan")
        table = self.tables[runs[0][1]]
        columns = table.columns(runs)
        return percentile_interval(pairwise_slopes(table.mean_tokens[:, columns], table.accuracy[:, columns], axis))

    def difference(self, run_a: tuple, run_b: tuple) -> tuple[float, float, float]:
        """(accuracy_b - accuracy_a, interval low, high), paired over the questions."""
        if run_a[1] != run_b[1]:
            raise BootstrapError(f"runs of different datasets cannot be paired: {run_a} vs {run_b}")
        table = self.tables[run_a[1]]
        a, b = table.columns([run_a, run_b])
        point = float(np.nanmean(table.scores[:, b]) - np.nanmean(table.scores[:, a]))
        return (point, *percentile_interval(table.accuracy[:, b] - table.accuracy[:, a]))


def holds_zero(low: float, high: float) -> bool:
    return bool(np.isfinite(low) and np.isfinite(high) and low <= 0 <= high)


def scaling_verdict(low: float, high: float) -> str:
    """"rises", "falls" or "no detectable scaling" (empty when there is no interval)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    if holds_zero(low, high):
        return NO_DETECTABLE_SCALING
    return "rises" if low > 0 else "falls"


def run_intervals(boot: PairedBootstrap, runs: pd.DataFrame) -> pd.DataFrame:
    """runs with accuracy_boot_low/high (95 % paired-bootstrap interval) added."""
    bounds = [boot.accuracy_interval(tuple(row)) for row in runs[RUN_KEYS].itertuples(index=False)]
    return runs.assign(accuracy_boot_low=[b[0] for b in bounds], accuracy_boot_high=[b[1] for b in bounds])


DIFFERENCE_COLUMNS = ["model", "dataset", "budget", "method_a", "setting_a", "method_b", "setting_b",
                      "compute_tokens_a", "compute_tokens_b", "accuracy_a", "accuracy_b", "difference",
                      "difference_low", "difference_high", "verdict"]


def matched_budget_differences(boot: PairedBootstrap, runs: pd.DataFrame) -> pd.DataFrame:
    """accuracy_b - accuracy_a for every pair of runs of different methods (same model and
    dataset) at the same thinking budget, with its paired 95 % interval."""
    rows = []
    budgeted = runs[runs["budget"].astype(str) != ""]
    for (model, dataset, budget), group in budgeted.groupby(["model", "dataset", "budget"], sort=True):
        ordered = group.sort_values(["method", "n", "setting"]).to_dict("records")
        for a, b in combinations(ordered, 2):
            if a["method"] == b["method"]:
                continue
            point, low, high = boot.difference(tuple(a[k] for k in RUN_KEYS), tuple(b[k] for k in RUN_KEYS))
            verdict = ("no detectable difference" if holds_zero(low, high)
                       else f"{b['method']} better" if low > 0 else f"{a['method']} better")
            rows.append({"model": model, "dataset": dataset, "budget": budget,
                         "method_a": a["method"], "setting_a": a["setting"],
                         "method_b": b["method"], "setting_b": b["setting"],
                         "compute_tokens_a": a["compute_tokens_mean"], "compute_tokens_b": b["compute_tokens_mean"],
                         "accuracy_a": a["accuracy"], "accuracy_b": b["accuracy"], "difference": point,
                         "difference_low": low, "difference_high": high, "verdict": verdict})
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)
