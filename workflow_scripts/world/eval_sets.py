"""Synthetic evaluation sets in the real benchmarks' file formats.

``math500.jsonl`` (problem, solution, answer, subject, level, unique_id),
``aime24.jsonl`` (id, problem, solution, answer as a zero-padded string, url) and
``gpqa_diamond.csv`` (the real csv's core columns, written with the csv module).
"""

from __future__ import annotations

import csv
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path

from workflow_scripts.io import atomic_path
from workflow_scripts.world.questions import QuestionRegistry
from workflow_scripts.world.task import MAX_TURNS, MIN_TURNS, DialProblem, distractors, render_question, sample_problem

MATH_SUBJECTS = ("Algebra", "Intermediate Algebra", "Prealgebra", "Number Theory", "Precalculus",
                 "Geometry", "Counting & Probability")
GPQA_SUBDOMAINS = {
    "Physics": ("Physics (general)", "Quantum Mechanics", "Electromagnetism and Photonics", "Astrophysics"),
    "Chemistry": ("Chemistry (general)", "Organic Chemistry", "Inorganic Chemistry"),
    "Biology": ("Molecular Biology", "Genetics"),
}
GPQA_COLUMNS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                "Incorrect Answer 3", "Explanation", "Subdomain", "High-level domain", "Record ID",
                "Canary String")
AIME_MIN_TURNS = 8  # AIME problems are the long ones


@dataclass
class EvalItem:
    """One evaluation question, kept in memory so the pool can plant contaminated copies."""
    dataset: str
    index: int
    problem: DialProblem
    question: str
    record: dict


def math_level(turns: int) -> int:
    """MATH level 1-5 from the number of turns (longer problems are harder)."""
    return 1 + min(4, (turns - MIN_TURNS) * 5 // (MAX_TURNS - MIN_TURNS + 1))


def subject_slug(subject: str) -> str:
    return subject.lower().replace(" & ", "_and_").replace(" ", "_")


def explanation(problem: DialProblem) -> str:
    total = problem.start + problem.step * problem.turns
    return (f"{problem.turns} turns of {problem.step} from {problem.start} give {problem.start} + "
            f"{problem.turns} * {problem.step} = {total}, which is {problem.answer} mod 10.")


def _unique_question(rng: random.Random, registry: QuestionRegistry, style: str,
                     min_turns: int = MIN_TURNS) -> tuple[DialProblem, str]:
    for _ in range(1000):
        problem = sample_problem(rng, rng.randint(min_turns, MAX_TURNS))
        question = render_question(problem, style, rng)
        if registry.try_add(question):
            return problem, question
    raise RuntimeError(f"could not draw a fresh {style} question in 1000 tries")


def make_math500(rng: random.Random, registry: QuestionRegistry, size: int) -> list[EvalItem]:
    items, used_ids = [], set()
    for index in range(size):
        problem, question = _unique_question(rng, registry, "math")
        subject = rng.choice(MATH_SUBJECTS)
        number = rng.randrange(1, 5000)
        while (subject, number) in used_ids:
            number += 1
        used_ids.add((subject, number))
        record = {"problem": question, "solution": explanation(problem) + f" So the answer is $\\boxed{{{problem.answer}}}$.",
                  "answer": str(problem.answer), "subject": subject, "level": math_level(problem.turns),
                  "unique_id": f"test/{subject_slug(subject)}/{number}.json"}
        items.append(EvalItem("math500", index, problem, question, record))
    return items


def make_aime24(rng: random.Random, registry: QuestionRegistry, size: int) -> list[EvalItem]:
    items = []
    for index in range(size):
        problem, question = _unique_question(rng, registry, "aime", AIME_MIN_TURNS)
        record_id = 60 + index
        record = {"id": record_id, "problem": question,
                  "solution": explanation(problem) + f" So the answer is $\\boxed{{{problem.answer:03d}}}$.",
                  "answer": f"{problem.answer:03d}", "url": f"synthetic-world://aime24/{record_id}"}
        items.append(EvalItem("aime24", index, problem, question, record))
    return items


def _record_id(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return "rec" + "".join(rng.choice(alphabet) for _ in range(14))


def make_gpqa(rng: random.Random, registry: QuestionRegistry, size: int) -> list[EvalItem]:
    items = []
    ids: set[str] = set()
    for _ in range(size):
        problem, question = _unique_question(rng, registry, "science")
        wrong = distractors(problem, rng)
        domain = rng.choice(sorted(GPQA_SUBDOMAINS))
        record_id = _record_id(rng)
        while record_id in ids:
            record_id = _record_id(rng)
        ids.add(record_id)
        canary = "SYNTHETIC WORLD, NOT GPQA. canary GUID " + "".join(rng.choice("0123456789abcdef") for _ in range(32))
        record = {"Question": question, "Correct Answer": str(problem.answer),
                  "Incorrect Answer 1": str(wrong[0]), "Incorrect Answer 2": str(wrong[1]),
                  "Incorrect Answer 3": str(wrong[2]), "Explanation": explanation(problem),
                  "Subdomain": rng.choice(GPQA_SUBDOMAINS[domain]), "High-level domain": domain,
                  "Record ID": record_id, "Canary String": canary}
        items.append(EvalItem("gpqa", 0, problem, question, record))
    # The real csv is sorted by Record ID.
    items.sort(key=lambda item: item.record["Record ID"])
    for index, item in enumerate(items):
        item.index = index
    return items


def make_eval_sets(rng: random.Random, registry: QuestionRegistry, size: int) -> dict[str, list[EvalItem]]:
    return {"math500": make_math500(rng, registry, size),
            "aime24": make_aime24(rng, registry, size),
            "gpqa": make_gpqa(rng, registry, size)}


EVAL_FILES = {"math500": "eval/math500.jsonl", "aime24": "eval/aime24.jsonl", "gpqa": "eval/gpqa_diamond.csv"}


def write_eval_sets(eval_sets: dict[str, list[EvalItem]], out_dir: Path) -> dict[str, Path]:
    paths = {name: out_dir / rel for name, rel in EVAL_FILES.items()}
    with atomic_path(paths["math500"]) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for item in eval_sets["math500"]:
            handle.write(json.dumps(item.record, ensure_ascii=False) + "\n")
    with atomic_path(paths["aime24"]) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for item in eval_sets["aime24"]:
            # The real file is compact JSON, keys in this order.
            handle.write(json.dumps(item.record, ensure_ascii=False, separators=(",", ":")) + "\n")
    with atomic_path(paths["gpqa"]) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(GPQA_COLUMNS))
        writer.writeheader()
        for item in eval_sets["gpqa"]:
            writer.writerow(item.record)
    return paths
