"""Benchmark: the whole curation on a synthetic 59,000-row pool with realistic lengths.

Questions ~100 words, 30 % of them ending in an answer-format phrase that competition problems
share ("where m and n are relatively prime positive integers ..."), thinking traces ~4,000 tokens
(the ``thinking_length`` column is present, as in the real pool, so no tokenisation is timed),
50 MSC domains, s1-like sources, 2% planted near-duplicates and 100 planted copies of real
MATH500/AIME24/GPQA questions, edited in turn by each edit of curation/planted_copies.py. The eval
sets are the real ones from ../shared/data, normalised by workflow_scripts.data.

    python benchmarks/curation_59k.py [--rows 59000] [--work-dir /tmp/curation_59k] [--rule distinctive]

Prints the generation time and the wall time of `python -m workflow_scripts.curation`
(pool loading through `datasets`, every filter, selection, parquet/summary/plots).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from workflow_scripts.curation.msc import MSC_FIRST_LEVEL  # noqa: E402
from workflow_scripts.curation.planted_copies import EDITS  # noqa: E402
from workflow_scripts.data import load_benchmark  # noqa: E402
from workflow_scripts.io import write_jsonl  # noqa: E402

SOURCES = [("AI-MO/NuminaMath-CoT/olympiads", 0.55), ("qfq/openaimath/Algebra", 0.12),
           ("KbsdJames/Omni-MATH", 0.08), ("GAIR/OlympicArena/Physics", 0.08), ("baber/agieval/aqua_rat", 0.05),
           ("qq8933/AIME_1983_2024", 0.02), ("Idavidrein/gpqa", 0.01), ("TIGER-Lab/TheoremQA/integer", 0.09)]
COLUMNS = {"question": "question", "solution": "solution", "source_type": "source_type", "cot_type": "cot_type",
           "metadata": "metadata", "thinking": "thinking_trajectories", "attempt": "attempt", "domain": "domain",
           "qwen7b_correct": "isqwen7bcorrect", "qwen32b_correct": "isqwen32bcorrect",
           "gemini_correct": "isgenminicorrect", "trace_tokens": "thinking_length"}
SETTINGS = {"target_size": 1000, "ngram": 8, "keep_all_sources": ["aime", "gpqa"],
            "long_trace_sources": ["openaimath"], "long_trace_min_tokens": 5600, "domain_sampling": "uniform",
            "benchmark_weighted_after": 700, "require_gemini_correct": True}
TEMPLATE_PHRASES = [
    "where m and n are relatively prime positive integers find m+n.",
    "where a b and c are positive integers and b is not divisible by the square of any prime. find a+b+c.",
    "find the sum of all possible values of n.", "find the least positive integer n such that this holds.",
    "express your answer as a common fraction.", "what is the probability that this happens?"]


def make_pool(rows: int, seed: int = 42) -> tuple[pa.Table, dict]:
    """The pool and the planted row indices ({"duplicate": [...], "contaminated": [...]})."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(20000)])
    # A bank of ~300-word paragraphs; a trace is ~10 of them (~3,000 words ~ 4,000 tokens).
    paragraphs = [" ".join(rng.choice(vocab, 300)) for _ in range(400)]
    eval_questions = [r["question"] for b, s in (("math500", "math500/test.jsonl"), ("aime24", "aime24/aime24_nofigures.jsonl"),
                                                 ("gpqa", "gpqa/gpqa_diamond.csv")) for r in load_benchmark(b, str(SHARED / s), 42)]
    questions = [" ".join(rng.choice(vocab, int(rng.integers(70, 130)))) for _ in range(rows)]
    for i in np.flatnonzero(rng.random(rows) < 0.3):  # template language shared by thousands of problems
        questions[int(i)] += " " + TEMPLATE_PHRASES[int(rng.integers(len(TEMPLATE_PHRASES)))]
    planted = {"duplicate": [], "contaminated": []}
    targets = rng.choice(rows, rows // 50 + 100, replace=False)
    for i in targets[: rows // 50]:  # near-duplicates: a copy of another row with one word changed
        source = int(rng.integers(rows))
        while source in targets:
            source = int(rng.integers(rows))
        words = questions[source].split()
        words[int(rng.integers(len(words)))] = "changed"
        questions[int(i)] = " ".join(words)
        planted["duplicate"].append([int(i), source])
    edits = list(EDITS.values())
    for k, i in enumerate(targets[rows // 50:]):  # contaminated: edited copies of eval questions
        edit = edits[k % len(edits)]
        copy = None
        while copy is None:  # the final-question edit needs a question of two sentences or more
            copy = edit(eval_questions[int(rng.integers(len(eval_questions)))])
        questions[int(i)] = copy
        planted["contaminated"].append(int(i))
    n_par = rng.integers(8, 13, size=rows)
    traces = [[" ".join(paragraphs[j] for j in rng.integers(0, len(paragraphs), n))] for n in n_par]
    names, probs = zip(*SOURCES)
    sources = rng.choice(names, rows, p=np.array(probs) / sum(probs))
    domains = rng.choice(list(MSC_FIRST_LEVEL.values())[:50], rows)
    return pa.table({
        "question": questions,
        "solution": [f"The answer is $\\boxed{{{i % 97}}}$." for i in range(rows)],
        "cot_type": ["math"] * rows,
        "source_type": sources.tolist(),
        "metadata": ["{}"] * rows,
        "thinking_trajectories": traces,
        "attempt": [f"Final answer: {i % 97}" for i in range(rows)],
        "domain": domains.tolist(),
        "isqwen7bcorrect": (rng.random(rows) < 0.35).tolist(),
        "isqwen32bcorrect": (rng.random(rows) < 0.45).tolist(),
        "isgenminicorrect": (rng.random(rows) < 0.9).tolist(),
        "thinking_length": np.clip(rng.normal(4000, 1500, rows), 200, 30000).astype(np.int64),
    }), planted


def check_planted(dropped_path: Path, planted: dict) -> dict:
    """Planted rows vs what the curation dropped: every planted copy is caught, nothing else is."""
    dropped = pq.read_table(dropped_path).to_pandas()
    reason = dict(zip(dropped["row_index"], dropped["reason"]))
    before = {"missing_field", "api_error", "gemini_wrong"} | {r for r in set(reason.values()) if r.startswith("format_")}
    contaminated = set(planted["contaminated"])
    duplicates = {i for i, _ in planted["duplicate"]} | {j for _, j in planted["duplicate"]}
    return {
        "planted_contaminated_caught": sum(reason.get(i) == "contaminated" for i in contaminated),
        "planted_contaminated_dropped_earlier": sum(reason.get(i) in before for i in contaminated),
        "unplanted_rows_dropped_as_contaminated": sum(r == "contaminated" and i not in contaminated for i, r in reason.items()),
        "unplanted_rows_dropped_as_duplicate": sum(r == "duplicate" and i not in duplicates for i, r in reason.items()),
        # Copies were edited in turn by each planted_copies edit (k-th copy: edit k mod 6).
        "planted_contaminated_caught_by_edit": {
            name: f"{sum(reason.get(i) == 'contaminated' for i in planted['contaminated'][k::len(EDITS)])}"
                  f"/{len(planted['contaminated'][k::len(EDITS)])}"
                  f" ({sum(reason.get(i) in before for i in planted['contaminated'][k::len(EDITS)])} dropped earlier)"
            for k, name in enumerate(EDITS)},
        "planted_pairs_both_survived_dedup": sum(
            reason.get(i) not in before | {"contaminated", "duplicate"} and reason.get(j) not in before | {"contaminated", "duplicate"}
            for i, j in planted["duplicate"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=59000)
    parser.add_argument("--work-dir", default="/tmp/curation_59k")
    parser.add_argument("--rule", default="distinctive", choices=["distinctive", "any_8gram"])
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    pool_path = work / f"pool_v2_{args.rows}.parquet"
    planted_path = work / f"planted_v2_{args.rows}.json"
    if not pool_path.exists() or not planted_path.exists():
        started = time.perf_counter()
        table, planted = make_pool(args.rows)
        pq.write_table(table, pool_path)
        planted_path.write_text(json.dumps(planted))
        print(f"generated {pool_path} ({pool_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    eval_paths = []
    for benchmark, source in (("math500", "math500/test.jsonl"), ("aime24", "aime24/aime24_nofigures.jsonl"),
                              ("gpqa", "gpqa/gpqa_diamond.csv")):
        path = work / f"{benchmark}.jsonl"
        write_jsonl(path, load_benchmark(benchmark, str(SHARED / source), 42))
        eval_paths.append(str(path))
    command = [sys.executable, "-m", "workflow_scripts.curation", "--pool", str(pool_path),
               "--pool-settings", json.dumps({"source": str(pool_path), "split": "train", "columns": COLUMNS}),
               "--settings", json.dumps({**SETTINGS, "decontamination": {"rule": args.rule}}), "--eval-sets", *eval_paths, "--seed", "42",
               "--out-dir", str(work / "out"), "--no-progress"]
    # A fresh `datasets` cache: the timed run includes the cold parquet -> arrow conversion.
    cache = Path(tempfile.mkdtemp(prefix="hf_cache_", dir=work))
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, env=env)
    elapsed = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    summary = json.loads((work / "out" / "summary.json").read_text()) if completed.returncode == 0 else {}
    report = {"rows": args.rows, "rule": args.rule, "wall_s": round(elapsed, 1), "returncode": completed.returncode,
              "kept": summary.get("kept"), "dropped_by_reason": summary.get("dropped_by_reason"),
              "top_ignored_template_ngrams": summary.get("decontamination", {}).get("top_ignored_template_ngrams")}
    if completed.returncode == 0:
        report["planted_check"] = check_planted(work / "out" / "dropped.parquet", json.loads(planted_path.read_text()))
    print(json.dumps(report, indent=1))
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
