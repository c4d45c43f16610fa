"""Per-run accuracy and the s1 test-time-scaling metrics: ``runs.tsv``, ``metrics.tsv``, ``chance.tsv``.

Every column is defined once, in docs/metrics.md: compute tokens (thinking tokens, or the
whole response for direct answers), a run's accuracy and its interval (paired bootstrap;
Clopper-Pearson at 0/n and n/n), the chance line and the one-answer flag, Control
(``control_exceed``: the brief; ``control_paper``: s1; ``control_fits``, ``control_class_order``),
Budget Error on the brief's counts, and Scaling: the least-squares slope per doubling
(``scaling_ls``) whose interval gives the one ``scaling_verdict`` (see :mod:`verdicts`), beside
the brief's mean of pairwise slopes per token (``scaling_pp_per_1k``) and per doubling.
"""

from __future__ import annotations

import math
import re
from itertools import combinations
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from workflow_scripts.analysis.bootstrap import (
    LEVEL, RUN_KEYS, PairedBootstrap, interval_verdict_or_blank, least_squares_slopes,
)
from workflow_scripts.analysis.compute import PROMPT_FORMATS, compute_tokens
from workflow_scripts.analysis.verdicts import NO_COMPUTE_SPREAD, scaling_verdict
from workflow_scripts.errors import UserError
from workflow_scripts.io import read_jsonl

EXCEED_MARGIN = 10  # tokens over the budget tolerated by the brief's control definition
CLASS_CONDITIONAL_BRIEF_CONTROL = 0.5
METHOD_KEYS = ["model", "dataset", "method"]
REQUIRED_FIELDS = ("dataset", "id", "model", "method", "setting", "budget", "prompt_format", "thinking_tokens",
                   "answer_tokens", "correct", "parse_failed")
# Heavy per-token fields are not needed for tables; dropping them keeps memory small.
HEAVY_FIELDS = ("thinking_token_ids", "answer_token_ids", "full_text", "rounds", "engine")


class MetricsError(UserError):
    """Graded input that metrics cannot use; the message names the file and field."""


def load_graded(paths: Iterable[str | Path], keep_text: bool = False, relative_to: str | Path | None = None) -> pd.DataFrame:
    """All graded samples as one table; ``shard`` holds each sample's file path."""
    frames = []
    for path in paths:
        rows = read_jsonl(path)
        for number, row in enumerate(rows, 1):
            missing = [f for f in REQUIRED_FIELDS if f not in row]
            if missing:
                raise MetricsError(f"{path}: line {number} lacks {', '.join(missing)} (is it graded?)")
            if (not isinstance(row["thinking_tokens"], int) or not isinstance(row["answer_tokens"], int)
                    or isinstance(row["correct"], (str, type(None)))):
                raise MetricsError(f"{path}: line {number}: thinking_tokens and answer_tokens must be ints "
                                   "and correct a bool")
            if row["prompt_format"] not in PROMPT_FORMATS:
                raise MetricsError(f"{path}: line {number}: prompt_format must be one of {sorted(PROMPT_FORMATS)}, "
                                   f"got {row['prompt_format']!r}")
            for field in HEAVY_FIELDS + (() if keep_text else ("thinking_text", "answer_text")):
                row.pop(field, None)
        frame = pd.DataFrame(rows)
        shard = Path(path)
        frame["shard"] = str(shard.relative_to(relative_to)) if relative_to else str(shard)
        frames.append(frame)
    if not frames:
        raise MetricsError("no graded shards given")
    samples = pd.concat(frames, ignore_index=True)
    for column, default in (("cap_hit", False), ("waits_inserted", 0), ("n", 0), ("sample", 0)):
        # absent from every shard, or only from some (greedy shards beside sampled ones): the default
        samples[column] = samples[column].fillna(default).infer_objects() if column in samples else default
    samples["sample"] = samples["sample"].astype(int)
    samples["compute_tokens"] = compute_tokens(samples)
    return samples


def numeric_budget(budget) -> int | None:
    """The budget as an int; None for "unbounded" or no budget (class-conditional)."""
    if budget is None or isinstance(budget, bool):
        return None
    if isinstance(budget, (int, np.integer)):
        return int(budget)
    if isinstance(budget, float) and budget.is_integer():
        return int(budget)
    if isinstance(budget, str) and budget.isdigit():
        return int(budget)
    return None


def _budget_label(value) -> str:
    """"500", "unbounded", or "" when the run has no budget (class-conditional)."""
    number = numeric_budget(value)
    if number is not None:
        return str(number)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


RECORDED_MEANS = {"steps_used": "steps_used_mean", "tries": "tries_mean", "fits": "fits_share"}


def _recorded_means(group: pd.DataFrame) -> dict:
    """Means of what some methods record per sample (steps, tries, fits); empty elsewhere."""
    means = {}
    for field, column in RECORDED_MEANS.items():
        values = group[field].dropna() if field in group else pd.Series(dtype=float)
        means[column] = float(values.astype(float).mean()) if len(values) else float("nan")
    return means


def sample_spread(group: pd.DataFrame) -> tuple[int, float, float, float]:
    """(k samples per question, and over the k per-sample-index accuracies -- the accuracy of
    sample j over the questions -- their standard deviation (ddof 1), min and max); the three
    spreads are nan for k = 1."""
    per_question = group.groupby("id")["sample"].nunique()
    if per_question.nunique() != 1:
        uneven = per_question[per_question != per_question.max()]
        raise MetricsError(f"run {group['method'].iloc[0]}/{group['setting'].iloc[0]} ({group['dataset'].iloc[0]}): "
                           f"questions have unequal sample counts, e.g. {uneven.index[0]!r} has {uneven.iloc[0]} "
                           f"of {per_question.max()}")
    k = int(per_question.iloc[0])
    if len(group) != k * len(per_question):
        raise MetricsError(f"run {group['method'].iloc[0]}/{group['setting'].iloc[0]} ({group['dataset'].iloc[0]}): "
                           f"a (question, sample) pair occurs twice")
    if k == 1:
        return k, float("nan"), float("nan"), float("nan")
    by_sample = group.groupby("sample")["correct"].apply(lambda c: c.astype(float).mean())
    return k, float(by_sample.std(ddof=1)), float(by_sample.min()), float(by_sample.max())


ONE_ANSWER_SHARE = 0.8  # a run giving one answer to at least this share of its samples is flagged
_SPACE = re.compile(r"\s+")


def clopper_pearson(successes: int, trials: int, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial share, in closed form at the
    boundaries it is used for: 0/n -> [0, 1 - (tail)^(1/n)], n/n -> [(tail)^(1/n), 1]
    (tail = (1 - level) / 2); other counts are a named error (the bootstrap covers them)."""
    tail = (1 - level) / 2
    if trials < 1:
        raise ValueError(f"an exact interval needs at least one trial, got {trials}")
    if successes == 0:
        return 0.0, 1 - tail ** (1 / trials)
    if successes == trials:
        return tail ** (1 / trials), 1.0
    raise ValueError(f"clopper_pearson is used at 0/n and n/n only, got {successes}/{trials}")


def _answer_key(value) -> str | None:
    """An answer compared across questions: whitespace removed; None for no answer."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _SPACE.sub("", str(value)) or None


def gold_answers(samples: pd.DataFrame) -> dict[tuple[str, str], str]:
    """{(dataset, question id): gold answer} (GPQA: the gold letter), from the samples that
    carry one (vote rows of parallel scaling do not)."""
    golds: dict[tuple[str, str], str] = {}
    columns = [c for c in ("gold_letter", "gold") if c in samples]
    for row in samples[["dataset", "id", *columns]].itertuples(index=False):
        values = row._asdict()
        gold = next((k for k in (_answer_key(values.get(c)) for c in columns) if k is not None), None)
        if gold is not None:
            golds.setdefault((row.dataset, row.id), gold)
    return golds


def chance_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, the accuracy of always giving its most common gold answer (the chance
    line): questions, most_common_gold, chance_accuracy (its share of the questions), and
    gold_distribution ("answer:count" by count, then answer; GPQA: the letters)."""
    golds = gold_answers(samples)
    rows = []
    for dataset in sorted({d for d, _ in golds}):
        counts = pd.Series([g for (d, _), g in golds.items() if d == dataset]).value_counts()
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        rows.append({"dataset": dataset, "questions": int(counts.sum()), "most_common_gold": ordered[0][0],
                     "chance_accuracy": ordered[0][1] / counts.sum(),
                     "gold_distribution": " ".join(f"{answer}:{count}" for answer, count in ordered)})
    return pd.DataFrame(rows, columns=["dataset", "questions", "most_common_gold", "chance_accuracy",
                                       "gold_distribution"])


def one_answer_share(group: pd.DataFrame, golds: dict[tuple[str, str], str]) -> tuple[float, str]:
    """(share of the run's samples that give its most common answer, that answer). A sample's
    answer is its extracted answer (whitespace removed), or the gold when it is correct and
    records none); unparsed samples give no answer. A majority vote's run (``vote_size``) holds
    expectations over subsets of samples, no single answer per question: (nan, "")."""
    if "vote_size" in group and group["vote_size"].notna().any():
        return float("nan"), ""
    answers = []
    for row in group[["dataset", "id", "correct", *(c for c in ("extracted",) if c in group)]].to_dict("records"):
        answer = _answer_key(row.get("extracted"))
        if answer is None and bool(row["correct"]):
            answer = golds.get((row["dataset"], row["id"]))
        answers.append(answer)
    counts = pd.Series([a for a in answers if a is not None], dtype=object).value_counts()
    if counts.empty:
        return 0.0, ""
    best = min(a for a, c in counts.items() if c == counts.iloc[0])  # ties: the smallest answer, stably
    return float(counts.iloc[0]) / len(group), best


def count(flags: pd.Series) -> int | float:
    """How many samples are flagged (correct, unparsed): an int, or for a majority vote's run
    (whose rows hold expectations over subsets, :mod:`voting`) a fraction."""
    total = float(flags.astype(float).sum())
    return int(total) if total.is_integer() else total


def run_table(samples: pd.DataFrame, boot: PairedBootstrap | None = None) -> pd.DataFrame:
    """One row per run (model, dataset, method, setting); see docs/metrics.md.
    ``boot``: the paired bootstrap of ``samples`` (built here when not given)."""
    boot = boot or PairedBootstrap(samples)
    golds = gold_answers(samples)
    chance = chance_table(samples).set_index("dataset")["chance_accuracy"].to_dict()
    rows = []
    for keys, group in samples.groupby(RUN_KEYS, sort=True):
        budget_values = group["budget"].map(_budget_label).unique()
        if len(budget_values) != 1:
            raise MetricsError(f"run {'/'.join(keys)} mixes budgets {sorted(budget_values)}")
        budget = numeric_budget(group["budget"].iloc[0])
        formats = sorted(group["prompt_format"].unique())
        if len(formats) != 1:
            raise MetricsError(f"run {'/'.join(keys)} mixes prompt formats {formats}")
        tokens = compute_tokens(group)
        thinking = group["thinking_tokens"].astype(float)
        correct = count(group["correct"])
        k, spread, lowest, highest = sample_spread(group)
        questions = len(group) // k
        if correct in (0, len(group)):
            # All wrong or all right: every resample gives the same share, a zero-width bootstrap
            # interval. The exact interval over the questions (the independent units) covers.
            (low, high), interval_method = clopper_pearson(correct // k, questions), "clopper-pearson"
        else:
            (low, high), interval_method = boot.accuracy_interval(keys), "bootstrap"
        share, answer = one_answer_share(group, golds)
        rows.append({
            **dict(zip(RUN_KEYS, keys)),
            "budget": budget_values[0],
            "n": int(pd.to_numeric(group["n"], errors="coerce").fillna(0).iloc[0]),
            "questions": questions,
            "samples_per_question": k,
            "samples": len(group),
            "correct": correct,
            "accuracy": correct / len(group),
            "accuracy_sample_sd": spread,
            "accuracy_sample_min": lowest,
            "accuracy_sample_max": highest,
            "accuracy_ci_low": low,
            "accuracy_ci_high": high,
            "accuracy_ci_method": interval_method,
            "chance_accuracy": chance.get(keys[1], float("nan")),
            "one_answer_share": share,
            "one_answer": answer,
            "one_answer_flag": share >= ONE_ANSWER_SHARE,
            "parse_failures": count(group["parse_failed"]),
            "compute": PROMPT_FORMATS[formats[0]],
            "compute_tokens_mean": float(tokens.mean()),
            "compute_tokens_median": float(tokens.median()),
            "thinking_tokens_mean": float(thinking.mean()),
            "thinking_tokens_median": float(thinking.median()),
            "answer_tokens_mean": float(group["answer_tokens"].astype(float).mean()),
            "cap_hit_share": float(group["cap_hit"].astype(float).mean()),
            "waits_mean": float(group["waits_inserted"].astype(float).mean()),
            "exceed_share": float((tokens > budget + EXCEED_MARGIN).mean()) if budget is not None else float("nan"),
            "within_budget_share": float((tokens <= budget).mean()) if budget is not None else float("nan"),
            **_recorded_means(group),
        })
    return pd.DataFrame(rows)


SCALING_AXES = ("linear", "log2")


def scaling_slope(tokens: list[float], accuracies: list[float], axis: str = "linear") -> tuple[float, int, int]:
    """s1's Scaling: mean slope over all run pairs ordered by tokens -> (slope, pairs, tied pairs).

    ``axis="linear"``: accuracy per thinking token (the brief's formula); ``axis="log2"``:
    accuracy per doubling of thinking tokens (the paper's figures); points with tokens <= 0
    have no logarithm and are left out."""
    if axis not in SCALING_AXES:
        raise ValueError(f"axis must be one of {SCALING_AXES}, got {axis!r}")
    points = list(zip(tokens, accuracies))
    if axis == "log2":
        points = [(math.log2(t), a) for t, a in points if t > 0]
    slopes, tied = [], 0
    for (t_i, a_i), (t_j, a_j) in combinations(points, 2):
        if t_i == t_j:
            tied += 1
            continue
        if t_i > t_j:
            (t_i, a_i), (t_j, a_j) = (t_j, a_j), (t_i, a_i)
        slopes.append((a_j - a_i) / (t_j - t_i))
    return (float(np.mean(slopes)) if slopes else float("nan"), len(slopes), tied)


def least_squares_per_doubling(tokens: list[float], accuracies: list[float]) -> float:
    """The least-squares slope of accuracy (percentage points) on log2(mean compute tokens):
    points per doubling; nan when undefined (see ``bootstrap.least_squares_slopes``)."""
    slope = least_squares_slopes(np.array([tokens], dtype=float), np.array([accuracies], dtype=float))[0]
    return float(slope * 100)


def compute_spread(tokens: list[float]) -> float:
    """max / min of the runs' mean compute tokens, over the runs with positive tokens (those a
    slope on log2 tokens uses); nan when there are none."""
    positive = [t for t in tokens if t > 0]
    return max(positive) / min(positive) if positive else float("nan")


def brief_budgets(generation_settings: dict | None) -> list[int]:
    """The brief's budget counts: the numeric truncation budgets of the config (500, 1000,
    2000, 4000, 8000 in the real config; the smoke's scaled ladder 16, 32, 64, 128)."""
    budgets = [numeric_budget(b) for b in ((generation_settings or {}).get("truncation", {}) or {}).get("budgets", [])]
    return sorted(b for b in budgets if b is not None)


def budget_error(runs: pd.DataFrame, counts: list[int]) -> tuple[float, str]:
    """(Budget Error, note) on the brief's counts: the mean over ``counts`` of
    |mean compute tokens - count| / count of the method's one run at that count (n = 1 where
    the method has forcing rounds). nan when a count has no run (the note names the missing
    counts) or there are no counts; two runs at one count are a named error."""
    if not counts:
        return float("nan"), "no numeric truncation budgets in the config"
    budgets = runs["budget"].map(numeric_budget)
    errors, missing = [], []
    for count in counts:
        at_count = runs[(budgets == count) & (runs["n"] <= 1)]
        if at_count.empty:
            missing.append(count)
            continue
        if len(at_count) > 1:
            raise MetricsError(f"{runs['method'].iloc[0]} ({runs['dataset'].iloc[0]}) has {len(at_count)} runs at budget "
                               f"{count} with n <= 1: {', '.join(at_count['setting'])}")
        errors.append(abs(float(at_count["compute_tokens_mean"].iloc[0]) - count) / count)
    if missing:
        return float("nan"), f"no run at budget {', '.join(map(str, missing))}"
    return float(np.mean(errors)), ""


def control_kind(method: str) -> str:
    """Which Control / Budget Error rule the method declares in the registry: ``budget``
    (runs with a numeric budget), ``class_prompts`` (class-conditional's short/long rule),
    ``fits`` (rejection sampling: the share that fits) or ``none`` (no budget)."""
    from workflow_scripts.methods import get_method

    try:
        return get_method(method).control_kind
    except ValueError as error:
        raise MetricsError(f"graded shards of {error}") from None


def best_run(runs: pd.DataFrame) -> pd.Series:
    """The most accurate run; ties go to the fewest mean compute tokens, then the setting name."""
    return runs.sort_values(["accuracy", "compute_tokens_mean", "setting"], ascending=[False, True, True]).iloc[0]


def method_metrics(runs: pd.DataFrame, samples: pd.DataFrame, generation_settings: dict | None = None,
                   boot: PairedBootstrap | None = None) -> pd.DataFrame:
    """One row per method (model, dataset, method); see docs/metrics.md."""
    counts = brief_budgets(generation_settings)
    boot = boot or PairedBootstrap(samples)
    rows = []
    for keys, group in runs.groupby(METHOD_KEYS, sort=True):
        model, dataset, method = keys
        tokens = group["compute_tokens_mean"].tolist()
        accuracies = group["accuracy"].tolist()
        slope, pairs, tied = scaling_slope(tokens, accuracies)
        per_doubling, _, _ = scaling_slope(tokens, accuracies, axis="log2")
        run_keys = [tuple(r) for r in group[RUN_KEYS].itertuples(index=False)]
        slope_low, slope_high, slope_undefined = boot.scaling(run_keys)
        doubling_low, doubling_high, doubling_undefined = boot.scaling(run_keys, axis="log2")
        ls_low, ls_high, ls_undefined = boot.least_squares(run_keys)
        spread = compute_spread(tokens)
        verdict = scaling_verdict(sum(t > 0 for t in tokens), spread, ls_low, ls_high)
        if verdict == NO_COMPUTE_SPREAD:  # a slope over a token gap of noise is no trend: n/a, not a number
            ls_point, ls_low, ls_high = float("nan"), float("nan"), float("nan")
        else:
            ls_point = least_squares_per_doubling(tokens, accuracies)
        best = best_run(group)
        row = {
            "model": model, "dataset": dataset, "method": method,
            "runs": len(group),
            "settings": ",".join(group["setting"]),
            "control_exceed": float("nan"), "control_paper": float("nan"), "control_fits": float("nan"),
            "control_class_order": float("nan"), "control_note": "",
            "budget_error": float("nan"), "budget_error_note": "",
            # The one verdict (verdicts.scaling_verdict), from the least-squares slope per doubling.
            "scaling_verdict": verdict,
            "scaling_ls": ls_point,
            "scaling_ls_ci_low": ls_low * 100, "scaling_ls_ci_high": ls_high * 100,
            "scaling_ls_undefined_resamples": ls_undefined,
            "compute_spread": spread,
            # The brief's mean of pairwise slopes, per token and (s1's unit) per doubling.
            "scaling": slope, "scaling_pp_per_1k": slope * 100 * 1000 if not math.isnan(slope) else float("nan"),
            "scaling_ci_low": slope_low, "scaling_ci_high": slope_high,
            "scaling_pp_per_1k_verdict": interval_verdict_or_blank(slope_low, slope_high),
            "scaling_undefined_resamples": slope_undefined,
            "scaling_pairs": pairs, "scaling_pairs_tied": tied,
            "scaling_per_doubling": per_doubling * 100 if not math.isnan(per_doubling) else float("nan"),
            "scaling_per_doubling_ci_low": doubling_low * 100, "scaling_per_doubling_ci_high": doubling_high * 100,
            "scaling_per_doubling_verdict": interval_verdict_or_blank(doubling_low, doubling_high),
            "scaling_per_doubling_undefined_resamples": doubling_undefined,
            "resamples": boot.resamples,
            "max_accuracy": float(best["accuracy"]), "max_accuracy_setting": best["setting"],
            "compute": ",".join(sorted(group["compute"].unique())),
            "compute_tokens_min": float(group["compute_tokens_mean"].min()),
            "compute_tokens_max": float(group["compute_tokens_mean"].max()),
        }
        kind = control_kind(method)
        if kind == "none":
            row["control_note"] = row["budget_error_note"] = "no budget"
        elif kind == "class_prompts":
            row["control_exceed"] = CLASS_CONDITIONAL_BRIEF_CONTROL
            by_prompt = dict(zip(group["setting"], group["compute_tokens_mean"]))
            if "short" in by_prompt and "long" in by_prompt:
                row["control_class_order"] = 1.0 if by_prompt["long"] > by_prompt["short"] else 0.0
            row["control_note"] = "no budget: control_exceed fixed at 0.5 by the brief"
            row["budget_error_note"] = "no budget"
        else:
            row["budget_error"], row["budget_error_note"] = budget_error(group, counts)
            budgeted = group[group["budget"].map(numeric_budget).notna()]
            if len(budgeted):
                mask = ((samples["model"] == model) & (samples["dataset"] == dataset) & (samples["method"] == method)
                        & samples["setting"].isin(budgeted["setting"]))
                chosen = samples[mask]
                limits = chosen["budget"].map(numeric_budget).astype(float)
                row["control_exceed"] = float((compute_tokens(chosen) > limits + EXCEED_MARGIN).mean())
                run_budgets = budgeted["budget"].map(numeric_budget).astype(float)
                row["control_paper"] = float((budgeted["compute_tokens_mean"] <= run_budgets).mean())
                if kind == "fits":
                    row["control_fits"] = float(chosen["fits"].astype(bool).mean())
            else:
                row["control_note"] = "no run with a numeric budget"
        if row["compute"] == "response" and not row["control_note"]:
            row["control_note"] = "direct answers: response tokens against the response cap"
        rows.append(row)
    return pd.DataFrame(rows)


def natural_stop_rows(samples: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, budget) of truncation: share of samples whose thinking ended
    before the budget (the engine's rule: first round finished with a stop, else not cap_hit)."""
    from workflow_scripts.decoding.natural_stop import natural_stop_stats

    columns = ["model", "method", "setting", "dataset", "budget", "samples", "natural_stops", "share"]
    truncation = samples[samples["method"] == "truncation"]
    if truncation.empty:
        return pd.DataFrame(columns=columns)
    records = truncation.to_dict("records")
    for record in records:
        reasons = record.get("round_finish_reasons")
        if not isinstance(reasons, list):
            # Without the per-round record the cap flag decides (thinking hit its limit or not).
            record["round_finish_reasons"] = ["length" if record["cap_hit"] else "stop"]
    return pd.DataFrame(natural_stop_stats(records), columns=columns)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); nan when a side is constant."""
    rx = pd.Series(x, dtype=float).rank().to_numpy()
    ry = pd.Series(y, dtype=float).rank().to_numpy()
    if len(rx) < 2 or np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def budget_trend(runs: pd.DataFrame, method: str = "truncation") -> pd.DataFrame:
    """Does accuracy rise with the budget? Per model and dataset: Spearman(budget, accuracy)
    over the numeric budgets and accuracy at the smallest vs the largest budget."""
    rows = []
    chosen = runs[runs["method"] == method]
    for (model, dataset), group in chosen.groupby(["model", "dataset"], sort=True):
        group = group.assign(b=group["budget"].map(numeric_budget)).dropna(subset=["b"]).sort_values("b")
        if len(group) < 2:
            continue
        rho = spearman(group["b"].tolist(), group["accuracy"].tolist())
        first, last = float(group["accuracy"].iloc[0]), float(group["accuracy"].iloc[-1])
        rows.append({"model": model, "dataset": dataset, "budgets": len(group), "spearman": rho,
                     "accuracy_first": first, "accuracy_last": last,
                     "rises": bool((not math.isnan(rho) and rho > 0) and last > first)})
    return pd.DataFrame(rows, columns=["model", "dataset", "budgets", "spearman", "accuracy_first", "accuracy_last",
                                       "rises"])
