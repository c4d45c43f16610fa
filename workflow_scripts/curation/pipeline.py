"""The whole curation, stage by stage; every dropped row keeps its stage, reason and evidence.

Stages, in order (reasons in brackets):
  quality        [missing_field, api_error]
  gemini         [gemini_wrong]                      (skipped when require_gemini_correct is false)
  format         [format_asy, format_image, format_numbering, format_bold_numbers,
                  format_ascii_art, format_missing_figure]
  decontamination [contaminated]
  dedup          [duplicate]
  difficulty     [qwen_solved]
  selection      [not_selected]
kept + dropped = input rows, always.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from workflow_scripts.config.validate import complete_section
from workflow_scripts.curation.decontaminate import find_contamination
from workflow_scripts.curation.dedup import duplicates_in_table
from workflow_scripts.curation.difficulty import qwen_solved
from workflow_scripts.curation.errors import CurationError
from workflow_scripts.curation.load_pool import canonicalise, derive_gemini_correct, derive_trace_tokens
from workflow_scripts.curation.ngrams import gram_table_of_words, normalise_words
from workflow_scripts.curation.quality import format_problems, gemini_wrong, missing_or_api_error
from workflow_scripts.curation.select import select
from workflow_scripts.curation.summary import build_summary, dropped_frame

STAGES = ("quality", "gemini", "format", "decontamination", "dedup", "difficulty", "selection")


@dataclass
class CurationResult:
    curated: pd.DataFrame
    dropped: pd.DataFrame
    summary: dict
    quality_pool: pd.DataFrame = field(repr=False, default=None)  # rows that passed the quality filters
    pool: pd.DataFrame = field(repr=False, default=None)


def _check_eval_records(eval_records: list[dict]) -> Counter:
    counts: Counter = Counter()
    seen: dict[tuple[str, str], dict] = {}
    for i, record in enumerate(eval_records):
        missing = [k for k in ("benchmark", "id", "question") if not record.get(k) and record.get(k) != 0]
        if missing:
            raise CurationError(f"eval record {i} lacks {', '.join(missing)}: {str(record)[:120]}")
        if not isinstance(record["question"], str):
            raise CurationError(f"eval record {i} ({record['benchmark']} id {record['id']!r}): the question is "
                                f"{type(record['question']).__name__}, not text")
        key = (str(record["benchmark"]), str(record["id"]))
        if key in seen:
            rows = " and ".join(str(r.get("index", "?")) for r in (seen[key], record))
            raise CurationError(f"eval set {key[0]}: id {key[1]!r} appears twice (rows {rows} of data/eval/{key[0]}.jsonl); "
                                f"decontamination evidence must name one eval question")
        seen[key] = record
        counts[record["benchmark"]] += 1
    if not eval_records:
        raise CurationError("no evaluation records given: decontamination needs the eval sets")
    return counts


class _Ledger:
    """Surviving row labels plus one entry per dropped row."""

    def __init__(self, pool: pd.DataFrame, verbose: bool = False) -> None:
        self.pool = pool
        self.verbose = verbose
        self.clock = time.perf_counter()
        self.alive = list(pool.index)
        self.drops: list[dict] = []
        self.stage_counts = [{"stage": "input", "dropped": 0, "rows_left": len(pool)}]

    def frame(self) -> pd.DataFrame:
        return self.pool.loc[self.alive]

    def apply(self, stage: str, verdicts: list) -> None:
        """verdicts[i] for alive[i]: None (keep) or (reason, detail, evidence dict)."""
        keep = []
        for label, verdict in zip(self.alive, verdicts):
            if verdict is None:
                keep.append(label)
            else:
                reason, detail, evidence = verdict
                self.drops.append({"label": label, "stage": stage, "reason": reason, "detail": detail, **evidence})
        dropped = len(self.alive) - len(keep)
        self.alive = keep
        self.stage_counts.append({"stage": stage, "dropped": dropped, "rows_left": len(keep)})
        if self.verbose:  # timings go to the log only: the summary must be identical across runs
            now = time.perf_counter()
            print(f"[curation] {stage}: dropped {dropped}, left {len(keep)} ({now - self.clock:.1f} s)", flush=True)
            self.clock = now


def _row_check(check: Callable) -> Callable[[pd.DataFrame], list]:
    def run(frame: pd.DataFrame) -> list:
        out = []
        for row in frame.to_dict("records"):
            found = check(row)
            out.append(None if found is None else (found[0], found[1], {}))
        return out
    return run


def _contamination_verdict(evidence: dict, rule: str) -> tuple[str, str, dict]:
    detail = (f"{evidence['match']} ({rule}): covers {evidence['eval_coverage']:.0%} of {evidence['benchmark']} "
              f"{evidence['eval_id']}, longest shared run {evidence['shared_span_words']} words")
    columns = {"eval_benchmark": evidence["benchmark"],
               **{key: evidence[key] for key in ("eval_id", "match", "eval_coverage", "shared_span",
                                                  "shared_span_words", "shared_ngrams", "shared_grams")}}
    return "contaminated", detail, columns


def _check_size(stage_counts: list[dict], kept: int, settings: dict) -> list[str]:
    """Warnings about the curated set's size; an empty set, or a short one when required, is an error."""
    if kept == 0:
        emptied = next((s["stage"] for s in stage_counts if s["rows_left"] == 0), "input")
        before = next((s["rows_left"] for s in reversed(stage_counts) if s["rows_left"] > 0), 0)
        raise CurationError(f"the curated set is empty: the {emptied} stage removed every remaining row"
                            + (f" ({before} rows reached it)" if emptied != "input" else " (the pool has no rows)")
                            + "; see the per-stage counts in the log")
    target = settings["target_size"]
    if kept >= target:
        return []
    message = (f"the curated set has {kept} rows, fewer than curation.target_size {target}: "
               f"the filters left only {kept} candidates")
    if settings["require_target_size"]:
        raise CurationError(message + " (curation.require_target_size is true)")
    print(f"warning: {message}", flush=True)
    return [message]


def run_curation(raw: pd.DataFrame, mapping: dict, settings: dict, eval_records: list[dict],
                 tokenizer_source: str | None = None, seed: int = 42, progress: bool = True,
                 pool_name: str = "the pool") -> CurationResult:
    settings = complete_section("curation", settings)  # partial settings (tests, hand runs) get the defaults
    n = settings["ngram"]
    eval_counts = _check_eval_records(eval_records)
    pool, absent = canonicalise(raw, mapping, pool_name)
    derived = {}
    counted = derive_trace_tokens(pool, tokenizer_source, progress)
    if counted:
        derived["trace_tokens"] = f"{counted} rows counted with the tokenizer {tokenizer_source}"
    graded = derive_gemini_correct(pool, progress)
    if graded:
        derived["gemini_correct"] = (
            f"{graded} rows graded by the project grader (math-verify: attempt vs the solution's final answer)"
        )

    ledger = _Ledger(pool, verbose=progress)
    ledger.apply("quality", _row_check(missing_or_api_error)(ledger.frame()))
    require_gemini = settings["require_gemini_correct"]
    if require_gemini:
        ledger.apply("gemini", _row_check(gemini_wrong)(ledger.frame()))
    else:
        ledger.apply("gemini", [None] * len(ledger.alive))
    quality_pool = ledger.frame().copy()

    asy_sources = settings["asy_allowed_sources"]
    problems = format_problems(ledger.frame(), asy_sources)
    ledger.apply("format", [None if p is None else (p[0], f"matched {p[1]!r}", {}) for p in problems])

    decontamination = settings["decontamination"]
    found = find_contamination(ledger.frame()["question"].tolist(), eval_records, n, decontamination)
    ledger.apply("decontamination", [None if e is None else _contamination_verdict(e, decontamination["rule"])
                                     for e in found.evidence])

    frame = ledger.frame()
    table = gram_table_of_words([normalise_words(q) for q in frame["question"]], n)
    duplicates = duplicates_in_table(table, frame["row_index"].tolist(), frame["trace_tokens"].tolist(),
                                     min_overlap=settings["dedup_min_overlap"],
                                     max_gram_rows=settings["dedup_max_gram_rows"])
    ledger.apply("dedup", [
        None if e is None else (
            "duplicate", f"cluster {e['cluster_id']} ({e['cluster_size']} rows), kept row {e['representative']}",
            {"cluster_id": e["cluster_id"], "cluster_representative": e["representative"]},
        )
        for e in duplicates
    ])
    clusters = {e["cluster_id"]: e["cluster_size"] for e in duplicates if e}

    ledger.apply("difficulty", _row_check(qwen_solved)(ledger.frame()))

    candidates = ledger.frame().copy()
    candidates["trace_tokens"] = candidates["trace_tokens"].astype(np.int64)
    selection = select(candidates, settings, seed)
    leftover = set(selection.not_selected.index)
    ledger.apply("selection", [
        ("not_selected", "survived every filter; not drawn for the final set", {}) if label in leftover else None
        for label in ledger.alive
    ])

    curated = selection.rows
    warnings = _check_size(ledger.stage_counts, len(curated), settings)
    dropped = dropped_frame(pool, ledger.drops)
    summary = build_summary(pool, curated, dropped, ledger.stage_counts, eval_counts, absent, derived,
                            clusters, selection.notes, settings, seed, require_gemini, found.notes, warnings)
    if summary["kept"] + summary["dropped"] != summary["input_rows"]:
        raise AssertionError("curation lost rows: kept + dropped != input rows")  # never silently
    return CurationResult(curated, dropped, summary, quality_pool, pool)
