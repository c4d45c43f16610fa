"""Where test-time scaling fails: automatic detection on the run table and the samples.

Eight kinds of case, one row each in ``failures.tsv``. Tokens are compute tokens (thinking
tokens, or the whole response for direct answers; see ``metrics``):

* ``no_detectable_scaling``, ``scaling_falls``, ``no_compute_spread``: a method whose
  ``scaling_verdict`` (metrics.tsv, the one verdict of the least-squares Scaling per doubling
  and its 95 % paired-bootstrap interval; see docs/metrics.md) is that failure.

* ``accuracy_drop``: two runs of a method, consecutive in mean compute tokens (or the
  runs with the fewest and the most tokens), where the run with more tokens is *less*
  accurate beyond sampling noise: one-sided two-proportion z-test at the shard sizes,
  p < ``alpha`` (0.05).
* ``accuracy_flat``: the method's run with the most compute tokens is neither more nor
  less accurate than its run with the fewest beyond noise (both one-sided tests
  p >= ``alpha``) although mean compute tokens grew by at least ``min_token_growth`` (50 %).
* ``forcing_adds_no_tokens``: a budget-forcing run whose mean thinking tokens exceed those
  of its baseline by less than 1 % (baseline: n = 1 at the same budget for n > 1, truncation
  at the same budget for n = 1): "Wait" did not buy any thinking.
* ``forcing_hurts``: a budget-forcing run (budget B, any n) *less* accurate than truncation
  at the same budget B (same model and dataset) beyond sampling noise (the one-sided
  two-proportion z-test, p < ``alpha``), although it thought at least as many tokens on
  average: forcing derails the model, e.g. one that never saw the forcing string in training.
* ``wait_repetition``: budget-forcing samples whose thinking after the first forcing string
  loops: at least half of its word 4-grams repeat an earlier 4-gram (over >= 20 4-grams).
  One row per run with at least one such sample.

The runs compared share their questions, so the unpaired test is conservative; it is what
the shard sizes allow without per-question pairing assumptions.
"""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from workflow_scripts.analysis.verdicts import FALLS, MIN_COMPUTE_SPREAD, NO_COMPUTE_SPREAD, NO_DETECTABLE_SCALING
from workflow_scripts.analysis.metrics import METHOD_KEYS, numeric_budget

ALPHA = 0.05
MIN_TOKEN_GROWTH = 0.5
MIN_FORCING_GAIN = 0.01
LOOP_NGRAM = 4
LOOP_MIN_NGRAMS = 20
LOOP_REPEAT_SHARE = 0.5
COLUMNS = ["kind", "model", "dataset", "method", "from_setting", "to_setting", "tokens_from", "tokens_to",
           "accuracy_from", "accuracy_to", "samples_from", "samples_to", "p_value", "detail"]


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(success_a: int, n_a: int, success_b: int, n_b: int) -> float:
    """One-sided p-value of H1: p_b > p_a (pooled two-proportion z-test)."""
    if n_a == 0 or n_b == 0:
        return float("nan")
    pooled = (success_a + success_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    difference = success_b / n_b - success_a / n_a
    if variance == 0:
        return 0.0 if difference > 0 else 1.0
    return _normal_sf(difference / math.sqrt(variance))


def _case(kind, keys, a, b, p, detail) -> dict:
    model, dataset, method = keys
    return {"kind": kind, "model": model, "dataset": dataset, "method": method,
            "from_setting": a["setting"], "to_setting": b["setting"],
            "tokens_from": a["compute_tokens_mean"], "tokens_to": b["compute_tokens_mean"],
            "accuracy_from": a["accuracy"], "accuracy_to": b["accuracy"],
            "samples_from": int(a["samples"]), "samples_to": int(b["samples"]), "p_value": p, "detail": detail}


def accuracy_cases(runs: pd.DataFrame, alpha: float = ALPHA, min_token_growth: float = MIN_TOKEN_GROWTH) -> list[dict]:
    cases = []
    for keys, group in runs.groupby(METHOD_KEYS, sort=True):
        ordered = group.sort_values(["compute_tokens_mean", "setting"]).to_dict("records")
        for a, b in zip(ordered, ordered[1:]):
            if b["compute_tokens_mean"] <= a["compute_tokens_mean"]:
                continue
            p_drop = two_proportion_p(int(b["correct"]), int(b["samples"]), int(a["correct"]), int(a["samples"]))
            if p_drop < alpha:
                cases.append(_case("accuracy_drop", keys, a, b, p_drop,
                                   f"accuracy fell {a['accuracy']:.3f} -> {b['accuracy']:.3f} (one-sided p={p_drop:.3g})"))
        if len(ordered) >= 2:
            low, high = ordered[0], ordered[-1]
            grew = low["compute_tokens_mean"] > 0 and (
                high["compute_tokens_mean"] >= (1 + min_token_growth) * low["compute_tokens_mean"])
            if grew or (low["compute_tokens_mean"] == 0 and high["compute_tokens_mean"] > 0):
                p_gain = two_proportion_p(int(low["correct"]), int(low["samples"]), int(high["correct"]), int(high["samples"]))
                p_fall = two_proportion_p(int(high["correct"]), int(high["samples"]), int(low["correct"]), int(low["samples"]))
                flagged = any(c["from_setting"] == low["setting"] and c["to_setting"] == high["setting"]
                              and c["model"] == keys[0] and c["dataset"] == keys[1] and c["method"] == keys[2]
                              for c in cases)
                if p_fall < alpha and not flagged:
                    cases.append(_case("accuracy_drop", keys, low, high, p_fall,
                                       f"accuracy fell {low['accuracy']:.3f} -> {high['accuracy']:.3f} from the fewest "
                                       f"to the most compute tokens (one-sided p={p_fall:.3g})"))
                elif not p_gain < alpha and not p_fall < alpha:
                    cases.append(_case("accuracy_flat", keys, low, high, p_gain,
                                       f"no significant gain from {low['compute_tokens_mean']:.0f} to "
                                       f"{high['compute_tokens_mean']:.0f} compute tokens (one-sided p={p_gain:.3g})"))
    return cases


def _same_budget_run(runs: pd.DataFrame, row: dict, method: str, n: int | None = None) -> dict | None:
    """The first run of ``method`` (with ``n`` rounds, if given) at row's model, dataset and budget."""
    match = runs[(runs["model"] == row["model"]) & (runs["dataset"] == row["dataset"])
                 & (runs["budget"] == row["budget"]) & (runs["method"] == method)]
    if n is not None:
        match = match[match["n"] == n]
    return None if match.empty else match.iloc[0].to_dict()


def forcing_cases(runs: pd.DataFrame, min_gain: float = MIN_FORCING_GAIN) -> list[dict]:
    cases = []
    forcing = runs[runs["method"] == "budget_forcing"]
    for row in forcing.to_dict("records"):
        if int(row["n"]) > 1:
            base = _same_budget_run(runs, row, "budget_forcing", n=1)
        else:
            base = _same_budget_run(runs, row, "truncation")
        if base is None:
            continue
        gain = row["compute_tokens_mean"] - base["compute_tokens_mean"]
        if gain < min_gain * max(base["compute_tokens_mean"], 1.0):
            keys = (row["model"], row["dataset"], row["method"])
            cases.append(_case("forcing_adds_no_tokens", keys, base, row, float("nan"),
                               f"{row['setting']} thinks {gain:+.1f} tokens vs {base['method']}/{base['setting']} "
                               f"(waits per sample {row['waits_mean']:.2f})"))
    return cases


def forcing_hurts_cases(runs: pd.DataFrame, alpha: float = ALPHA) -> list[dict]:
    """Forcing runs less accurate than truncation at the same budget beyond noise, with no fewer tokens."""
    cases = []
    forcing = runs[runs["method"] == "budget_forcing"].sort_values(["model", "dataset", "setting"])
    for row in forcing.to_dict("records"):
        base = _same_budget_run(runs, row, "truncation")
        if base is None:
            continue
        if row["compute_tokens_mean"] < base["compute_tokens_mean"]:
            continue  # fewer tokens: a lower accuracy is not the forcing's doing alone
        p_worse = two_proportion_p(int(row["correct"]), int(row["samples"]),
                                   int(base["correct"]), int(base["samples"]))
        if p_worse < alpha:
            keys = (row["model"], row["dataset"], row["method"])
            cases.append(_case("forcing_hurts", keys, base, row, p_worse,
                               f"{row['setting']} accuracy {row['accuracy']:.3f} ({row['compute_tokens_mean']:.1f} "
                               f"tokens) < truncation/{base['setting']} {base['accuracy']:.3f} "
                               f"({base['compute_tokens_mean']:.1f} tokens) (one-sided p={p_worse:.3g})"))
    return cases


def repeated_ngram_share(text: str, n: int = LOOP_NGRAM) -> tuple[float, int]:
    """(share of word n-gram occurrences that repeat an earlier one, number of n-grams)."""
    words = text.split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0, 0
    counts = Counter(grams)
    repeats = sum(count - 1 for count in counts.values())
    return repeats / len(grams), len(grams)


def text_after_forcing(thinking: str, forcing_string: str) -> str:
    index = thinking.find(forcing_string) if forcing_string else -1
    return thinking[index + len(forcing_string):] if index >= 0 else ""


def is_loop(thinking: str, forcing_string: str) -> bool:
    share, grams = repeated_ngram_share(text_after_forcing(thinking, forcing_string))
    return grams >= LOOP_MIN_NGRAMS and share >= LOOP_REPEAT_SHARE


def repetition_cases(samples: pd.DataFrame) -> list[dict]:
    """Needs ``thinking_text`` and ``forcing_string`` in ``samples`` (load with keep_text=True)."""
    cases = []
    forced = samples[(samples["method"] == "budget_forcing") & (samples["waits_inserted"] > 0)]
    for (model, dataset, setting), group in forced.groupby(["model", "dataset", "setting"], sort=True):
        loops = [is_loop(row.thinking_text or "", row.forcing_string or "") for row in group.itertuples()]
        looped = sum(loops)
        if looped:
            example = group.iloc[[i for i, flag in enumerate(loops) if flag][0]]["id"]
            cases.append({"kind": "wait_repetition", "model": model, "dataset": dataset, "method": "budget_forcing",
                          "from_setting": setting, "to_setting": setting, "tokens_from": float("nan"),
                          "tokens_to": float("nan"), "accuracy_from": float("nan"), "accuracy_to": float("nan"),
                          "samples_from": len(group), "samples_to": looped, "p_value": float("nan"),
                          "detail": f"{looped}/{len(group)} forced samples loop after the forcing string "
                                    f"(>= {LOOP_REPEAT_SHARE:.0%} repeated word {LOOP_NGRAM}-grams); e.g. id {example}"})
    return cases


SCALING_FAILURE_KINDS = {NO_DETECTABLE_SCALING: "no_detectable_scaling", FALLS: "scaling_falls",
                         NO_COMPUTE_SPREAD: "no_compute_spread"}


def scaling_cases(metrics: pd.DataFrame) -> list[dict]:
    """One case per method whose ``scaling_verdict`` (metrics.tsv, the one verdict) is a
    failure: no detectable scaling, falls, or no compute spread."""
    cases = []
    for row in metrics[metrics["scaling_verdict"].isin(list(SCALING_FAILURE_KINDS))].to_dict("records"):
        verdict = row["scaling_verdict"]
        if verdict == NO_COMPUTE_SPREAD:
            detail = (f"mean compute tokens {row['compute_tokens_min']:.1f} to {row['compute_tokens_max']:.1f} "
                      f"(x{row['compute_spread']:.3f}, < x{MIN_COMPUTE_SPREAD:.2f}) over {int(row['runs'])} runs: "
                      f"{NO_COMPUTE_SPREAD}")
        else:
            detail = (f"Scaling {row['scaling_ls']:+.3g} points per doubling (least squares), 95 % interval "
                      f"[{row['scaling_ls_ci_low']:.3g}, {row['scaling_ls_ci_high']:.3g}]"
                      f"{' holds zero' if verdict == NO_DETECTABLE_SCALING else ''} over {int(row['runs'])} runs: "
                      f"{verdict}")
        cases.append({"kind": SCALING_FAILURE_KINDS[verdict], "model": row["model"], "dataset": row["dataset"],
                      "method": row["method"], "from_setting": row["settings"].split(",")[0],
                      "to_setting": row["settings"].split(",")[-1], "tokens_from": row["compute_tokens_min"],
                      "tokens_to": row["compute_tokens_max"], "accuracy_from": float("nan"),
                      "accuracy_to": row["max_accuracy"], "samples_from": int(row["runs"]),
                      "samples_to": int(row["runs"]), "p_value": float("nan"), "detail": detail})
    return cases


def detect_failures(runs: pd.DataFrame, samples: pd.DataFrame | None = None,
                    metrics: pd.DataFrame | None = None) -> pd.DataFrame:
    cases = (scaling_cases(metrics) if metrics is not None else []) + accuracy_cases(runs) + forcing_cases(runs) \
        + forcing_hurts_cases(runs)
    if samples is not None and "thinking_text" in samples:
        cases += repetition_cases(samples)
    return pd.DataFrame(cases, columns=COLUMNS)


def budget_sort_key(budget) -> float:
    value = numeric_budget(budget)
    return float(value) if value is not None else math.inf
