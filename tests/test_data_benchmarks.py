"""Eval-set loaders on the real MATH500 / AIME24 / GPQA-Diamond files and on bad inputs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from workflow_scripts.data import (
    DataError, gpqa_choice_order, load_benchmark, normalise_benchmark,
)
from workflow_scripts.io import read_jsonl

SOURCES = {"math500": "math500/test.jsonl", "aime24": "aime24/aime24_nofigures.jsonl", "gpqa": "gpqa/gpqa_diamond.csv"}


@pytest.fixture(scope="module")
def real_sets(shared_data):
    return {b: load_benchmark(b, str(shared_data / s), seed=42) for b, s in SOURCES.items()}


def test_real_sets_load_in_full_and_in_order(real_sets, shared_data):
    assert [len(real_sets[b]) for b in SOURCES] == [500, 30, 198]
    math = real_sets["math500"]
    assert math[0]["id"] == "test/precalculus/807.json" and math[-1]["id"] == "test/geometry/615.json"
    assert math[0]["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert [r["index"] for r in math] == list(range(500))
    aime = real_sets["aime24"]
    assert aime[0]["id"] == "60" and aime[0]["question"].startswith("Every morning Aya")
    assert all(r["answer"].isdigit() and 0 <= int(r["answer"]) <= 999 for r in aime)
    raw_aime = [json.loads(line) for line in open(shared_data / SOURCES["aime24"])]
    assert [int(r["answer"]) for r in raw_aime] == [int(r["answer"]) for r in aime]  # "025" -> "25"
    assert all(set(r) >= {"benchmark", "id", "index", "question", "answer", "solution"} for b in real_sets for r in real_sets[b])


def test_gpqa_choices_are_the_stripped_options_with_the_gold_letter(real_sets, shared_data):
    raw = list(csv.DictReader(open(shared_data / SOURCES["gpqa"], newline="", encoding="utf-8")))
    assert any(r["Correct Answer"].endswith("\n") or r["Incorrect Answer 1"].endswith("\n") for r in raw)  # the csv's quirk
    for record, row in zip(real_sets["gpqa"], raw):
        options = [row[c].strip() for c in ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")]
        assert record["id"] == row["Record ID"]
        assert sorted(record["choices"]) == sorted(options)
        assert record["choices"]["ABCD".index(record["gold_letter"])] == row["Correct Answer"].strip() == record["answer"]
        assert not record["question"].endswith("\n")
    assert real_sets["gpqa"][0]["question"].startswith("Two quantum states with energies E1 and E2")
    # Shuffled, not left in csv order: every letter is gold for some question.
    letters = [r["gold_letter"] for r in real_sets["gpqa"]]
    assert all(letters.count(x) > 25 for x in "ABCD")


def test_gpqa_shuffle_depends_on_seed_and_record_only(real_sets, shared_data):
    records = real_sets["gpqa"]
    assert gpqa_choice_order(42, records[5]["id"]) == gpqa_choice_order(42, records[5]["id"])
    assert sorted(gpqa_choice_order(42, "x")) == [0, 1, 2, 3]
    other_seed = load_benchmark("gpqa", str(shared_data / SOURCES["gpqa"]), seed=7)
    assert sum(a["choices"] != b["choices"] for a, b in zip(records, other_seed)) > 100
    # Row order does not matter: a reversed subset gets the same permutation per record.
    rows = [{"Question": r["question"], "Record ID": r["id"], "Correct Answer": r["answer"],
             "Incorrect Answer 1": "w1", "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"} for r in records[:20]]
    forward = {r["id"]: r["gold_letter"] for r in normalise_benchmark("gpqa", rows, 42)}
    backward = {r["id"]: r["gold_letter"] for r in normalise_benchmark("gpqa", rows[::-1], 42)}
    assert forward == backward == {r["id"]: r["gold_letter"] for r in records[:20]}


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(DataError, match="lacks column.*'answer'"):
        normalise_benchmark("math500", [{"problem": "p", "unique_id": "u"}], 42)
    with pytest.raises(DataError, match="row 1 has no value in column 'problem'"):
        normalise_benchmark("math500", [{"problem": "p", "answer": "1", "unique_id": "a"},
                                        {"problem": None, "answer": "1", "unique_id": "b"}], 42)
    with pytest.raises(DataError, match="not an integer"):
        normalise_benchmark("aime24", [{"id": 1, "problem": "p", "answer": "x7"}], 42)
    with pytest.raises(DataError, match="id 'a' appears in rows 0 and 1"):
        normalise_benchmark("math500", [{"problem": "p", "answer": "1", "unique_id": "a"}] * 2, 42)
    with pytest.raises(DataError, match="unknown benchmark"):
        normalise_benchmark("mmlu", [{"q": 1}], 42)
    bad = tmp_path / "x.txt"
    bad.write_text("hi")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_benchmark("math500", str(bad), 42)


def test_csv_cells_stay_strings(tmp_path):
    path = tmp_path / "gpqa.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Record ID"])
        writer.writerow(["Which?\n", "None", "NA", "0012", "1.50\n", "007"])
    [record] = load_benchmark("gpqa", str(path), 42)
    assert record["id"] == "007" and record["answer"] == "None"
    assert sorted(record["choices"]) == sorted(["None", "NA", "0012", "1.50"])


def test_cli_writes_normalised_jsonl(tmp_path, shared_data, repo_root):
    out = tmp_path / "aime24.jsonl"
    settings = json.dumps({"source": "simplescaling/aime24_nofigures", "split": "train", "limit": None})
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.data", "--benchmark", "aime24",
                           "--source", str(shared_data / SOURCES["aime24"]), "--settings", settings,
                           "--seed", "42", "--output", str(out)], cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = read_jsonl(out)
    assert len(rows) == 30 and rows[0]["benchmark"] == "aime24"
    missing = subprocess.run([sys.executable, "-m", "workflow_scripts.data", "--benchmark", "aime24",
                              "--source", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")],
                             cwd=repo_root, capture_output=True, text=True)
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr and "Traceback" not in missing.stderr


def test_hub_ids_take_the_datasets_path_and_fail_clearly_offline():
    # HF_HUB_OFFLINE=1 (conftest): the real load_dataset call runs and its failure names the source.
    with pytest.raises(FileNotFoundError, match="cannot load hub dataset 'Idavidrein/gpqa' \\(subset 'gpqa_diamond'"):
        load_benchmark("gpqa", "Idavidrein/gpqa", 42, split="train", subset="gpqa_diamond")
    with pytest.raises(FileNotFoundError, match="not a hub id"):
        load_benchmark("gpqa", "./missing/file.csv", 42)
