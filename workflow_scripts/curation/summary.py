"""The curation's audit trail: the dropped-rows table and the summary whose counts add up."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from workflow_scripts.curation.dedup import LINK_RULE, MAX_GRAM_ROWS, MIN_OVERLAP, REPRESENTATIVE_RULE

FORMAT_REASONS = ("format_asy", "format_image", "format_numbering", "format_bold_numbers",
                  "format_ascii_art", "format_missing_figure")
REASONS = ("missing_field", "api_error", "gemini_wrong") + FORMAT_REASONS + (
    "contaminated", "duplicate", "qwen_solved", "not_selected")
DEVIATIONS = [
    "Every Gemini-wrong row is dropped before selection (the brief); s1 required a correct Gemini "
    "attempt only for the keep-all AIME/GPQA/long-MATH rows, not for domain-sampled rows. "
    "Set curation.require_gemini_correct: false for s1's behaviour.",
    "Domains are filled least-filled-first with seeded tie-breaks (as uniform as supply allows); s1 drew "
    "domains i.i.d. uniformly and switched to benchmark-weighted draws after 700 items "
    "(curation.domain_sampling: benchmark_after).",
    "s1's question-numbering test (`p{i}.` as a substring) also fired inside words such as 'step1.' and on "
    "variables ending a sentence ('... p2.'); here 'p<number>.' must open a line and not be a decimal.",
    "Near-duplicates share at least half of the shorter question's 8-grams (boilerplate grams held by many "
    "questions not counted) or are identical after normalisation; one shared 8-gram would chain unrelated "
    "problems through phrases like 'where m and n are relatively prime positive integers'.",
    "s1's bold-number regex looked for a digit anywhere later in the line; here the digit must be inside the bold run.",
]


def decontamination_deviation(n: int, decontamination: dict) -> str | None:
    """How this run's decontamination differs from s1's (None when it ran s1's rule)."""
    if decontamination["rule"] == "any_8gram":
        return None
    return (f"Decontamination (curation.decontamination.rule: distinctive) drops a pool question only when its shared "
            f"{n}-grams that are not template language (held by {decontamination['template_eval_rows']}+ eval questions "
            f"or {decontamination['template_pool_rows']}+ pool questions) cover >= "
            f"{decontamination['min_eval_coverage']:.0%} of one eval question or run >= "
            f"{decontamination['min_shared_run_words']} consecutive words, formulas compared as one word each; s1 "
            f"dropped any question sharing any whitespace-split {n}-gram with any eval question, which also drops "
            f"clean problems over answer-format phrases (rule: any_8gram reproduces it).")


EVIDENCE_COLUMNS = ("eval_benchmark", "eval_id", "match", "eval_coverage", "shared_span_words", "shared_span",
                    "shared_ngrams", "shared_grams", "cluster_id", "cluster_representative")
CONTEXT_COLUMNS = ("row_index", "question", "source_type", "domain", "trace_tokens",
                   "qwen7b_correct", "qwen32b_correct", "gemini_correct")


def dropped_frame(pool: pd.DataFrame, drops: list[dict]) -> pd.DataFrame:
    """One row per dropped pool row, with its context (not its trace: the pool keeps that, by row_index)."""
    if not drops:
        return pd.DataFrame(columns=list(CONTEXT_COLUMNS) + ["stage", "reason", "detail", *EVIDENCE_COLUMNS])
    ledger = pd.DataFrame({
        "stage": [d["stage"] for d in drops], "reason": [d["reason"] for d in drops],
        "detail": [d["detail"] for d in drops],
        **{c: pd.Series([d.get(c) for d in drops], dtype=object) for c in EVIDENCE_COLUMNS},
    })
    context = pool.loc[[d["label"] for d in drops], list(CONTEXT_COLUMNS)].reset_index(drop=True)
    frame = pd.concat([context, ledger], axis=1)
    return frame.sort_values("row_index", kind="mergesort").reset_index(drop=True)


def _ratio(counts: dict) -> float | None:
    values = [v for v in counts.values() if v > 0]
    return round(max(values) / min(values), 4) if values else None


def build_summary(pool, curated, dropped, stage_counts, eval_counts, absent, derived, clusters, selection_notes,
                  settings, seed, require_gemini, decontamination, warnings) -> dict:
    by_reason = Counter(dropped["reason"]) if len(dropped) else Counter()
    final_domains = dict(sorted(Counter(curated["domain"]).items()))
    dedup_sizes = sorted(clusters.values(), reverse=True)
    deviation = decontamination_deviation(settings["ngram"], settings["decontamination"])
    return {
        "input_rows": int(len(pool)),
        "kept": int(len(curated)),
        "dropped": int(len(dropped)),
        "counts_add_up": int(len(curated)) + int(len(dropped)) == int(len(pool)),
        "target_size": settings["target_size"],
        "warnings": warnings,
        "dropped_by_reason": {reason: int(by_reason.get(reason, 0)) for reason in REASONS},
        "stages": stage_counts,
        "format_patterns": {reason: int(by_reason.get(reason, 0)) for reason in FORMAT_REASONS},
        "format_patterns_note": "a row is counted under the first pattern it matches, checked in this order: "
                                + ", ".join(FORMAT_REASONS),
        "decontamination": {
            "eval_rows": dict(sorted(eval_counts.items())),
            "ngram": settings["ngram"],
            **settings["decontamination"],
            **decontamination,
        },
        "dedup": {
            "clusters": len(clusters),
            "rows_in_clusters": int(sum(dedup_sizes)),
            "largest_cluster": int(dedup_sizes[0]) if dedup_sizes else 0,
            "representative_rule": REPRESENTATIVE_RULE,
            "link_rule": LINK_RULE.replace(f"{MIN_OVERLAP:.0%}", f"{settings['dedup_min_overlap']:.0%}")
                                  .replace(f"than {MAX_GRAM_ROWS}", f"than {settings['dedup_max_gram_rows']}"),
        },
        "absent_columns": absent,
        "derived_features": derived,
        "require_gemini_correct": require_gemini,
        "selection": {
            **selection_notes,
            "keep_reasons": dict(sorted(Counter(curated["keep_reason"]).items())),
        },
        "domains": {
            "final": final_domains,
            "final_count": len(final_domains),
            "max_min_ratio": _ratio(final_domains),
            "pool": dict(sorted(Counter(pool["domain"].dropna()).items())),
        },
        "sources": {"final": dict(sorted(Counter(curated["source_type"]).items()))},
        "deviations_from_s1": DEVIATIONS + ([deviation] if deviation else []),
        "settings": settings,
        "seed": seed,
    }
