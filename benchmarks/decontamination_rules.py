"""Measurement: recall and precision of the decontamination rules on the real eval sets.

Recall: every MATH500, AIME24 and GPQA-Diamond question, copied into a pool under each edit of
workflow_scripts/curation/planted_copies.py, is looked up against those three eval sets; a copy
counts as caught when it is flagged with the right eval id.
Precision: pairs of different real problems (planted_copies.precision_sets); a false flag is a
pool item flagged as a copy of an item on the other side.
Also: the pairs' highest eval coverage and longest shared run, the figures the thresholds of
curation.decontamination are chosen from.

    python benchmarks/decontamination_rules.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from workflow_scripts.config.validate import complete_section  # noqa: E402
from workflow_scripts.curation.decontaminate import contamination_words, find_contamination  # noqa: E402
from workflow_scripts.curation.ngrams import PUNCTUATION  # noqa: E402
from workflow_scripts.curation.planted_copies import (  # noqa: E402
    EDITS, math500_subjects, precision_sets, real_eval_records, split_final_question)

# Every threshold disabled but the template rules: the pairs' raw coverage and run.
OPEN = {"min_eval_coverage": 1e-9, "min_shared_run_words": 1}
# The two tokenisations the earlier rule checked, for the distinctive rule's thresholds.
OTHER_WORDS = {"punctuation_deleted": lambda t: PUNCTUATION.sub("", t.lower()).split() if t else [],
               "punctuation_as_spaces": lambda t: PUNCTUATION.sub(" ", t.lower()).split() if t else []}


def rule_settings(rule: str, **overrides) -> dict:
    return {**complete_section("curation.decontamination", {"rule": rule}), **overrides}


def recall(eval_records: list[dict], settings: dict, n: int = 8, split=None) -> dict:
    out = {}
    for name, edit in EDITS.items():
        pool, expected = [], []
        for record in eval_records:
            edited = edit(record["question"])
            if edited is None or (name != "verbatim" and edited == record["question"]):
                continue  # one sentence (no final question to change), or no formula to re-space
            pool.append(edited)
            expected.append(record)
        found = find_contamination(pool, eval_records, n, settings, split).evidence
        missed = [{"benchmark": r["benchmark"], "id": r["id"], "words": len(contamination_words(r["question"]))}
                  for r, e in zip(expected, found) if not e or e["eval_id"] != str(r["id"])]
        out[name] = {"copies": len(pool), "caught": len(pool) - len(missed), "missed": missed}
        if name == "final_question_changed":
            setup_words = [len(contamination_words(split_final_question(r["question"])[0])) for r in expected]
            long_setups = [w >= settings.get("min_shared_run_words", 20) for w in setup_words]
            out[name]["copies_with_setup_of_20_words_or_more"] = sum(long_setups)
            out[name]["caught_with_setup_of_20_words_or_more"] = sum(
                ok and bool(e) and e["eval_id"] == str(r["id"]) for ok, e, r in zip(long_setups, found, expected))
    return out


def precision(sets: dict, settings: dict, n: int = 8, split=None) -> dict:
    out = {}
    for name, pairs in sets.items():
        flagged, items = [], 0
        for pool, evals in pairs:
            found = find_contamination([r["question"] for r in pool], evals, n, settings, split).evidence
            items += len(pool)
            for record, e in zip(pool, found):
                if e:
                    flagged.append({"pool": f"{record['benchmark']} {record['id']}", "eval": f"{e['benchmark']} {e['eval_id']}",
                                    "coverage": e["eval_coverage"], "run_words": e["shared_span_words"],
                                    "span": e["shared_span"][:160]})
        out[name] = {"items": items, "flagged": len(flagged), "rate": round(len(flagged) / items, 4),
                     "flags": sorted(flagged, key=lambda f: (-f["coverage"], -f["run_words"]))}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the full measurement here")
    args = parser.parse_args()
    started = time.perf_counter()
    records = real_eval_records(SHARED)
    evals = records["math500"] + records["aime24"] + records["gpqa"]
    sets = precision_sets(records, math500_subjects(SHARED))
    report = {}
    for label, settings in (("distinctive", rule_settings("distinctive")), ("any_8gram", rule_settings("any_8gram")),
                            ("distinctive_pairs_raw", rule_settings("distinctive", **OPEN))):
        report[label] = {"settings": settings, "precision": precision(sets, settings)}
        if label != "distinctive_pairs_raw":
            report[label]["recall"] = recall(evals, settings)
    for label, split in OTHER_WORDS.items():
        settings = rule_settings("distinctive")
        report[label] = {"precision": precision(sets, settings, split=split), "recall": recall(evals, settings, split=split)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    for label in ("distinctive", "any_8gram", *OTHER_WORDS):
        print(f"== {label}")
        for name, r in report[label]["recall"].items():
            extra = (f"; set-up >= 20 words: {r['caught_with_setup_of_20_words_or_more']}/"
                     f"{r['copies_with_setup_of_20_words_or_more']}") if "copies_with_setup_of_20_words_or_more" in r else ""
            print(f"  recall {name:<24} {r['caught']}/{r['copies']}{extra}")
        for name, p in report[label]["precision"].items():
            print(f"  false flags {name:<24} {p['flagged']}/{p['items']} ({p['rate']:.1%})")
            if label == "distinctive":
                for f in p["flags"]:
                    print(f"      {f['pool']} ~ {f['eval']}: coverage {f['coverage']}, run {f['run_words']} words: {f['span']!r}")
    print("== highest coverage / longest run of different problems (template grams excluded, no thresholds)")
    for name, p in report["distinctive_pairs_raw"]["precision"].items():
        top = p["flags"]
        print(f"  {name:<24} max coverage {max((f['coverage'] for f in top), default=0)}, "
              f"max run {max((f['run_words'] for f in top), default=0)} words")
    print(f"{report['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
