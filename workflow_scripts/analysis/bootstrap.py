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
rise from a fall, and the report says so instead of calling the slope a trend. A slope can be
undefined in a resample (its runs tie in resampled tokens): such resamples are counted
(``*_undefined_resamples`` in metrics.tsv) and the interval is taken over the others. Paired
method differences carry a two-sided bootstrap p-value and Holm's adjustment over all of them.
Columns: docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from workflow_scripts.analysis.compute import compute_tokens
from workflow_scripts.analysis.verdicts import NO_DETECTABLE_SCALING  # noqa: F401 (re-exported; defined there)
from workflow_scripts.analysis.verdicts import difference_verdict, interval_verdict

RESAMPLES = 10_000
SEED = 42
LEVEL = 0.95
RUN_KEYS = ["model", "dataset", "method", "setting"]


class BootstrapError(ValueError):
    """Runs that cannot be compared; the message names them."""


def resample_counts(questions: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, questions) matrix: how often each question is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, questions, size=(resamples, questions))
    flat = draws + questions * np.arange(resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * questions).reshape(resamples, questions)


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """(low, high) percentiles of the finite values along axis 0; nan where there are none.
    Callers of a statistic that can be undefined count the rest (:func:`slope_interval`)."""
    tail = (1 - level) / 2 * 100
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def slope_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, int]:
    """(low, high, undefined): the percentile interval over the resamples where the slope is
    defined, and how many resamples it is undefined in (reported beside the interval)."""
    return (*percentile_interval(values, level), int((~np.isfinite(values)).sum()))


def _log2_tokens(tokens: np.ndarray) -> np.ndarray:
    """log2 of the tokens; nan where tokens <= 0 (no logarithm)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tokens > 0, np.log2(np.where(tokens > 0, tokens, 1.0)), np.nan)


def least_squares_slopes(tokens: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Per row of (rows, runs) arrays: the least-squares slope of accuracy on log2(tokens),
    i.e. accuracy per doubling of tokens (x 100 for points). Equal to the pairwise slopes
    averaged with weights (x_j - x_i)^2, so runs close in tokens weigh little. Runs without a
    logarithm (tokens <= 0) or an accuracy (nan) are left out of their row; the slope is nan
    (undefined) where fewer than two runs remain or all of them tie in tokens."""
    x = _log2_tokens(tokens.astype(float))
    present = np.isfinite(x) & np.isfinite(accuracy)
    count = present.sum(axis=1)
    x0, y0 = np.where(present, x, 0.0), np.where(present, accuracy, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = x0.sum(axis=1) / count
        y_mean = y0.sum(axis=1) / count
        dx = np.where(present, x - x_mean[:, None], 0.0)
        dy = np.where(present, accuracy - y_mean[:, None], 0.0)
        spread = (dx * dx).sum(axis=1)
        slopes = (dx * dy).sum(axis=1) / spread
    # Ties are judged on the tokens themselves: a mean of equal floats need not equal them exactly.
    highest = np.where(present, x, -np.inf).max(axis=1) if x.shape[1] else np.full(x.shape[0], -np.inf)
    lowest = np.where(present, x, np.inf).min(axis=1) if x.shape[1] else np.full(x.shape[0], np.inf)
    defined = (count >= 2) & (highest > lowest)
    return np.where(defined, slopes, np.nan)


def pairwise_slopes(tokens: np.ndarray, accuracy: np.ndarray, axis: str = "tokens") -> np.ndarray:
    """s1's Scaling per row of (rows, runs) arrays: the mean over run pairs of
    (acc_j - acc_i) / (x_j - x_i), x the tokens (``axis="tokens"``) or log2 tokens
    (``axis="log2"``: accuracy per doubling). The slope of a pair does not depend on its
    order, so no sorting is needed; pairs with equal x have no slope and are left out."""
    if axis == "log2":
        x = _log2_tokens(tokens)
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

    def scaling(self, runs: Sequence[tuple], axis: str = "tokens") -> tuple[float, float, int]:
        """(low, high, undefined resamples) of the brief's pairwise Scaling of ``runs`` (one
        method's runs, one dataset); ``axis``: "tokens" or "log2" (see :func:`pairwise_slopes`)."""
        if len(runs) < 2:
            return float("nan"), float("nan"), 0
        table = self.tables[runs[0][1]]
        columns = table.columns(runs)
        return slope_interval(pairwise_slopes(table.mean_tokens[:, columns], table.accuracy[:, columns], axis))

    def least_squares(self, runs: Sequence[tuple]) -> tuple[float, float, int]:
        """(low, high, undefined resamples) of the least-squares slope per doubling (a fraction
        per doubling; x 100 for points) of ``runs``, from the same resamples."""
        if len(runs) < 2:
            return float("nan"), float("nan"), 0
        table = self.tables[runs[0][1]]
        columns = table.columns(runs)
        return slope_interval(least_squares_slopes(table.mean_tokens[:, columns], table.accuracy[:, columns]))

    def difference(self, run_a: tuple, run_b: tuple) -> tuple[float, float, float, float]:
        """(accuracy_b - accuracy_a, interval low, high, two-sided bootstrap p-value), paired
        over the questions; see :func:`bootstrap_p_value`."""
        if run_a[1] != run_b[1]:
            raise BootstrapError(f"runs of different datasets cannot be paired: {run_a} vs {run_b}")
        table = self.tables[run_a[1]]
        a, b = table.columns([run_a, run_b])
        point = float(np.nanmean(table.scores[:, b]) - np.nanmean(table.scores[:, a]))
        resampled = table.accuracy[:, b] - table.accuracy[:, a]
        return (point, *percentile_interval(resampled), bootstrap_p_value(resampled))


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided p-value of "no difference" from resampled differences: twice the smaller
    share of resamples on either side of zero (zero counts on both), with the usual + 1
    (a p-value is never 0 from finitely many resamples): 2 (c + 1) / (R + 1), at most 1,
    c = min(#(d <= 0), #(d >= 0)) over the R finite resamples. It is below 0.05 about when
    the 95 % percentile interval excludes zero."""
    finite = differences[np.isfinite(differences)]
    if finite.size == 0:
        return float("nan")
    tail = min(int((finite <= 0).sum()), int((finite >= 0).sum()))
    return float(min(1.0, 2 * (tail + 1) / (finite.size + 1)))


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error): sorted ascending, the i-th
    (from 0) becomes max over j <= i of min(1, (m - j) p_(j)); m counts the finite p-values,
    nan stays nan."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def holds_zero(low: float, high: float) -> bool:
    return bool(np.isfinite(low) and np.isfinite(high) and low <= 0 <= high)


def interval_verdict_or_blank(low: float, high: float) -> str:
    """The interval's verdict (``verdicts.interval_verdict``); empty when there is no interval
    (fewer than two runs): the brief's pairwise Scaling columns."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    return interval_verdict(low, high)


def run_intervals(boot: PairedBootstrap, runs: pd.DataFrame) -> pd.DataFrame:
    """runs with accuracy_boot_low/high (95 % paired-bootstrap interval) added."""
    bounds = [boot.accuracy_interval(tuple(row)) for row in runs[RUN_KEYS].itertuples(index=False)]
    return runs.assign(accuracy_boot_low=[b[0] for b in bounds], accuracy_boot_high=[b[1] for b in bounds])


DIFFERENCE_COLUMNS = ["model", "dataset", "budget", "method_a", "setting_a", "method_b", "setting_b",
                      "compute_tokens_a", "compute_tokens_b", "accuracy_a", "accuracy_b", "difference",
                      "difference_low", "difference_high", "verdict", "p_value", "p_holm", "holm_verdict"]
HOLM_ALPHA = 1 - LEVEL


def matched_budget_differences(boot: PairedBootstrap, runs: pd.DataFrame) -> pd.DataFrame:
    """accuracy_b - accuracy_a for every pair of runs of different methods (same model and
    dataset) at the same thinking budget, with its paired 95 % interval and its unadjusted
    verdict, its bootstrap p-value, and Holm's adjusted p-value and verdict over the whole
    table (the family: every comparison of the file, all datasets and models)."""
    rows = []
    budgeted = runs[runs["budget"].astype(str) != ""]
    for (model, dataset, budget), group in budgeted.groupby(["model", "dataset", "budget"], sort=True):
        ordered = group.sort_values(["method", "n", "setting"]).to_dict("records")
        for a, b in combinations(ordered, 2):
            if a["method"] == b["method"]:
                continue
            point, low, high, p_value = boot.difference(tuple(a[k] for k in RUN_KEYS),
                                                        tuple(b[k] for k in RUN_KEYS))
            verdict = difference_verdict(low, high, a["method"], b["method"])
            rows.append({"model": model, "dataset": dataset, "budget": budget,
                         "method_a": a["method"], "setting_a": a["setting"],
                         "method_b": b["method"], "setting_b": b["setting"],
                         "compute_tokens_a": a["compute_tokens_mean"], "compute_tokens_b": b["compute_tokens_mean"],
                         "accuracy_a": a["accuracy"], "accuracy_b": b["accuracy"], "difference": point,
                         "difference_low": low, "difference_high": high, "verdict": verdict,
                         "p_value": p_value})
    table = pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy(dtype=float)) if len(table) else []
    table["holm_verdict"] = [holm_verdict(row.p_holm, row.difference, row.method_a, row.method_b)
                             for row in table.itertuples()]
    return table


def holm_verdict(p_holm: float, difference: float, method_a: str, method_b: str) -> str:
    """"<method> better" when Holm's adjusted p-value is below 0.05 (the sign of the
    difference b - a names the method), else "no detectable difference"."""
    if not (np.isfinite(p_holm) and p_holm < HOLM_ALPHA) or difference == 0:
        return difference_verdict(float("nan"), float("nan"), method_a, method_b)
    return difference_verdict(difference, difference, method_a, method_b)
