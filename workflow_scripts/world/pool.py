"""The synthetic question pool in the s1 59K schema, with a planted row for every filter.

Columns: question, solution, cot_type, source_type, metadata (JSON string),
thinking_trajectories (list of one string), attempt, domain, isqwen7bcorrect,
isqwen32bcorrect, isgenminicorrect, thinking_length (tokens of the trace under the
world's tokenizer).

Every planted row carries exactly one defect and is clean otherwise, so the expected
drop reason is unambiguous; ``plan.planted`` maps its row index to that reason.
Defects are planted only in sources that no keep-all rule can cover (no "aime", "gpqa"
or "math" in the name), so no curation rule order can rescue them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from workflow_scripts.world.eval_sets import EvalItem, MATH_SUBJECTS, explanation, math_level
from workflow_scripts.world.questions import NGRAM, QuestionRegistry, question_ngrams, shares_ngram
from workflow_scripts.world.task import (
    MAX_TURNS, MIN_TURNS, DialProblem, distractors, multiple_choice_question, multiple_choice_trace,
    numeric_trace, rechecked_trace, render_question, sample_problem, slipped_trace,
)

# Habits of clean traces (workflow_scripts/world/task.py): a "Wait" re-check of the last turn.
RECHECKED_SHARE = 0.15  # the re-check confirms the last turn
SLIP_FIXED_SHARE = 0.15  # the last turn slipped and the re-check fixes it

REASONS = ("api_error", "missing_field", "gemini_wrong", "format_asy", "format_image",
           "format_numbering", "format_bold_numbers", "format_ascii_art", "format_missing_figure",
           "contaminated", "duplicate", "qwen_solved")


@dataclass(frozen=True)
class Source:
    source_type: str
    cot_type: str
    style: str          # math | aime | science | gpqa (science wording + choices)
    weight: float
    min_turns: int = MIN_TURNS
    # False where a keep-all rule may cover the source: its name holds "aime", "gpqa" or
    # "math" (case-insensitive substring rules match NuminaMath and Omni-MATH too).
    plantable: bool = True


SOURCES = (
    Source("qfq/openaimath", "math", "math", 0.24, plantable=False),  # + "/<subject>"
    Source("qq8933/AIME_1983_2024", "math", "aime", 0.06, min_turns=8, plantable=False),
    Source("Idavidrein/gpqa", "science", "gpqa", 0.08, plantable=False),
    Source("AI-MO/NuminaMath-CoT/olympiads", "math", "math", 0.17, plantable=False),
    Source("AI-MO/NuminaMath-CoT/aops_forum", "math", "math", 0.10, plantable=False),
    Source("KbsdJames/Omni-MATH", "math", "math", 0.09, plantable=False),
    Source("TIGER-Lab/TheoremQA", "math", "science", 0.05),
    Source("qfq/stats_qual", "math", "math", 0.04),
    Source("daman1209arora/jeebench/phy", "science", "science", 0.05),
    Source("Hothan/OlympiadBench/Open-ended/Physics", "science", "science", 0.05),
    Source("simplescaling/s1-prob", "math", "math", 0.04),
)
# MSC-like first-level domains with uneven supply (weights), as s1's classifier gives.
MATH_DOMAINS = (("Number theory", 12), ("Combinatorics", 9), ("Real functions", 7), ("Geometry", 6),
                ("Field theory and polynomials", 5), ("Probability theory and stochastic processes", 4),
                ("Linear and multilinear algebra; matrix theory", 3), ("Sequences, series, summability", 2),
                ("Statistics", 2), ("Mathematical logic and foundations", 1))
SCIENCE_DOMAINS = (("Quantum theory", 4), ("Mechanics of particles and systems", 3),
                   ("Statistical mechanics, structure of matter", 2), ("Optics, electromagnetic theory", 2),
                   ("Classical thermodynamics, heat transfer", 1), ("Biology and other natural sciences", 1))

# s1-style API failures left in the attempt or the trace by the data-generation run.
API_ERRORS = (
    ("attempt", "Error code: 429 - {'error': {'code': 429, 'message': 'Resource has been exhausted (e.g. check quota).', 'status': 'RESOURCE_EXHAUSTED'}}"),
    ("trace", "Error code: 500 - {'error': {'code': 500, 'message': 'An internal error has occurred.', 'status': 'INTERNAL'}}"),
    ("attempt", "Error code: 503 - {'error': {'code': 503, 'message': 'The model is overloaded. Please try again later.', 'status': 'UNAVAILABLE'}}"),
)
MISSING_FIELDS = (("question", None), ("question", ""), ("thinking", ""), ("attempt", None), ("attempt", "   "))
NEAR_DUPLICATE_ADDITIONS = ("Explain briefly.", "Show your work.", "Be careful.")
MISSING_FIGURE_PHRASES = ("as shown in the figure below", "in the figure below", "as shown in the diagram below")


def asy_figure(rng: random.Random) -> str:
    points = "--".join(f"({rng.randint(0, 20)},{rng.randint(0, 20)})" for _ in range(3))
    return f"\n[asy]\nunitsize({rng.randint(2, 9)}mm);\ndraw({points}--cycle);\n[/asy]"


def ascii_art(rng: random.Random) -> str:
    """A small text grid, cells filled with random labels (so grids differ row to row)."""
    width = rng.randint(3, 5)
    border = "+" + "+".join("-" * width for _ in range(3)) + "+"
    rows = [border]
    for _ in range(2):
        cells = [f"{rng.choice('pqrsuvwxyz')}{rng.randrange(10)}".center(width) for _ in range(3)]
        rows += ["|" + "|".join(cells) + "|", border]
    return "\n" + "\n".join(rows)


def mention_missing_figure(question: str, phrase: str, rng: random.Random) -> str:
    """Refer to a figure that is not there, inside the question (a fixed suffix would repeat)."""
    words = question.split(" ")
    at = rng.randint(2, max(2, len(words) - 2))
    return " ".join(words[:at] + [f"({phrase})"] + words[at:])


@dataclass
class PoolPlan:
    rows: list[dict] = field(default_factory=list)
    planted: dict[int, str] = field(default_factory=dict)
    details: dict[int, dict] = field(default_factory=dict)
    controls: dict[int, str] = field(default_factory=dict)


def _weighted(rng: random.Random, pairs) -> str:
    names, weights = zip(*pairs)
    return rng.choices(names, weights=weights, k=1)[0]


def planted_counts(pool_size: int) -> dict[str, int]:
    """Rows planted per reason; every variant appears at least once (qwen_solved is drawn per row)."""
    per_reason = max(1, pool_size // 200)
    return {
        "api_error": max(len(API_ERRORS), per_reason),
        "missing_field": max(len(MISSING_FIELDS), per_reason),
        "gemini_wrong": max(2, round(0.05 * pool_size)),
        "format_asy": per_reason, "format_image": per_reason, "format_numbering": per_reason,
        "format_bold_numbers": per_reason, "format_ascii_art": per_reason,
        "format_missing_figure": per_reason,
        "contaminated": max(3, per_reason),
        "duplicate": max(2, per_reason),
    }


def qwen_solve_probability(turns: int) -> float:
    """Short problems are the ones Qwen solves, as easy questions are in s1's pool."""
    return 0.5 - 0.35 * (turns - MIN_TURNS) / (MAX_TURNS - MIN_TURNS)


class PoolBuilder:
    def __init__(self, rng: random.Random, registry: QuestionRegistry, tokenizer,
                 eval_sets: dict[str, list[EvalItem]], pool_size: int):
        self.rng = rng
        self.registry = registry
        self.tokenizer = tokenizer
        self.eval_sets = eval_sets
        self.pool_size = pool_size
        self.plan = PoolPlan()

    # --- one row -------------------------------------------------------------------
    def _count(self, text) -> int:
        from workflow_scripts.world.tokenizer import count_tokens

        return count_tokens(self.tokenizer, text) if text else 0

    def _source(self, plantable_only: bool) -> Source:
        choices = [s for s in SOURCES if s.plantable or not plantable_only]
        return self.rng.choices(choices, weights=[s.weight for s in choices], k=1)[0]

    def _trace(self, problem: DialProblem) -> str:
        """The plain trace, or (RECHECKED_SHARE of rows) one ending with a "Wait" re-check that
        confirms the last turn, or (SLIP_FIXED_SHARE) fixes a slip in it."""
        draw = self.rng.random()
        if draw < SLIP_FIXED_SHARE:
            return rechecked_trace(problem, slip=self.rng.randint(1, 9))
        if draw < SLIP_FIXED_SHARE + RECHECKED_SHARE:
            return rechecked_trace(problem)
        return numeric_trace(problem)

    def _row(self, source: Source, problem: DialProblem, question: str, options=None) -> dict:
        """A clean row: trace, attempt, solution and flags for ``problem``."""
        rng = self.rng
        if source.style == "gpqa":
            trace, attempt = multiple_choice_trace(problem, options, self._trace(problem))
        else:
            trace, attempt = self._trace(problem), str(problem.answer)
        domain = _weighted(rng, SCIENCE_DOMAINS if source.cot_type == "science" else MATH_DOMAINS)
        source_type, metadata = source.source_type, {"turns": problem.turns, "tag": problem.tag}
        if source.source_type == "qfq/openaimath":
            subject = rng.choice(MATH_SUBJECTS)
            source_type = f"qfq/openaimath/{subject}"
            metadata.update(level=f"Level {math_level(problem.turns)}", type=subject)
        elif source.style == "aime":
            year = rng.randint(1983, 2023)
            metadata.update(Year=year, **{"Problem Number": rng.randint(1, 15)})
        elif source.style == "gpqa":
            metadata.update(options=options)
        return {
            "question": question,
            "solution": explanation(problem),
            "cot_type": source.cot_type,
            "source_type": source_type,
            "metadata": json.dumps(metadata, sort_keys=True),
            "thinking_trajectories": [trace],
            "attempt": attempt,
            "domain": domain,
            "isqwen7bcorrect": False,
            "isqwen32bcorrect": False,
            "isgenminicorrect": True,
            "thinking_length": self._count(trace),
        }

    def _fresh(self, source: Source, decorate=None) -> tuple[dict, DialProblem]:
        """A row with a question no other question overlaps (after ``decorate``)."""
        rng = self.rng
        for _ in range(1000):
            problem = sample_problem(rng, rng.randint(source.min_turns, MAX_TURNS))
            style = "science" if source.style == "gpqa" else source.style
            question = render_question(problem, style, rng)
            options = None
            if source.style == "gpqa":
                options = distractors(problem, rng) + [problem.answer]
                rng.shuffle(options)
                question = multiple_choice_question(question, options)
            if decorate is not None:
                question = decorate(question)
            if self.registry.try_add(question):
                return self._row(source, problem, question, options), problem
        raise RuntimeError(f"could not draw a fresh question for {source.source_type} in 1000 tries")

    # --- planted defects ---------------------------------------------------------------
    def _plant(self, index: int, reason: str, variant: int) -> dict:
        rng = self.rng
        source = self._source(plantable_only=True)
        details: dict = {}
        if reason == "api_error":
            where, message = API_ERRORS[variant % len(API_ERRORS)]
            row, _ = self._fresh(source)
            if where == "attempt":
                row["attempt"] = message
            else:
                row["thinking_trajectories"] = [message]
                row["thinking_length"] = self._count(message)
            details = {"field": where}
        elif reason == "missing_field":
            column, value = MISSING_FIELDS[variant % len(MISSING_FIELDS)]
            row, _ = self._fresh(source)
            if column == "thinking":
                row["thinking_trajectories"] = [value]
                row["thinking_length"] = 0
            else:
                row[column] = value
            details = {"field": column, "value": value}
        elif reason == "gemini_wrong":
            row, problem = self._fresh(source)
            trace, wrong = slipped_trace(problem, rng)
            row.update(thinking_trajectories=[trace], attempt=str(wrong), isgenminicorrect=False,
                       thinking_length=self._count(trace))
        elif reason == "format_asy":
            row, _ = self._fresh(source, lambda q: q + asy_figure(rng))
        elif reason == "format_image":
            tag = "".join(rng.choice("0123456789abcdef") for _ in range(12))
            row, _ = self._fresh(source, lambda q: q + f"\n![Image](https://{tag}.cdn.mathpix.com/cropped/image.jpg)")
        elif reason == "format_numbering":
            number = rng.randint(1, 9)
            row, _ = self._fresh(source, lambda q: f"p{number}. {q}")
        elif reason == "format_bold_numbers":
            first = rng.randint(1, 40)
            row, _ = self._fresh(source, lambda q: f"**{first}** {q} **{first + 1}**")
        elif reason == "format_ascii_art":
            row, _ = self._fresh(source, lambda q: q + ascii_art(rng))
        elif reason == "format_missing_figure":
            phrase = MISSING_FIGURE_PHRASES[variant % len(MISSING_FIGURE_PHRASES)]
            row, _ = self._fresh(source, lambda q: mention_missing_figure(q, phrase, rng))
        elif reason == "contaminated":
            row, details = self._contaminated(source, variant)
        elif reason == "duplicate":
            row, details = self._duplicate(index, variant)
        else:
            raise ValueError(f"no planting rule for reason {reason!r}")
        self.plan.details[index] = details
        return row

    def _overlaps_others(self, question: str, original: str) -> bool:
        """Whether ``question`` shares an n-gram with any registered question but ``original``."""
        own = question_ngrams(question, self.registry.n) - question_ngrams(original, self.registry.n)
        return bool(own & self.registry.grams)

    def _contaminated(self, source: Source, variant: int) -> tuple[dict, dict]:
        """A light edit (case, spacing or final punctuation) of an evaluation question."""
        names = sorted(self.eval_sets)
        name = names[variant % len(names)]
        edit = ("lowercase", "spacing", "punctuation")[variant // len(names) % 3]
        candidates = list(self.eval_sets[name])
        self.rng.shuffle(candidates)
        for item in candidates:
            question = item.question
            if edit == "lowercase":
                question = question.lower()
            elif edit == "spacing" or len(question.split()) <= NGRAM:
                # An 8-word question has one 8-gram: a punctuation edit would break it.
                question = question.replace(" ", "  ")
            else:
                question = question.rstrip("?.") + ("." if question.endswith("?") else "?")
            options = None
            if name == "gpqa":
                options = [int(item.record[c]) for c in ("Correct Answer", "Incorrect Answer 1",
                                                         "Incorrect Answer 2", "Incorrect Answer 3")]
                self.rng.shuffle(options)
                question = multiple_choice_question(question, options)
                source = Source("TIGER-Lab/TheoremQA", "science", "gpqa", 0.0)
            if question == item.question or not shares_ngram(question, item.question):
                raise AssertionError(f"contaminated copy of {name}[{item.index}] is not a light edit")
            if self._overlaps_others(question, item.question):
                continue
            self.registry.add(question)
            row = self._row(source, item.problem, question, options)
            return row, {"eval_set": name, "eval_index": item.index, "edit": edit}
        raise RuntimeError(f"every {name} question overlaps another question once edited")

    def _duplicate(self, index: int, variant: int) -> tuple[dict, dict]:
        """An exact copy (even variants) or a copy with a sentence added (odd) of an earlier clean row."""
        earlier = [i for i, reason in sorted(self._kinds.items())
                   if i < index and reason == "clean" and self._source_of[i].plantable]
        if not earlier:
            raise ValueError(f"no earlier clean row to duplicate for row {index}")
        self.rng.shuffle(earlier)
        for original_index in earlier:
            original = self.plan.rows[original_index]
            if variant % 2 == 0:
                row = dict(original, thinking_trajectories=list(original["thinking_trajectories"]))
                return row, {"duplicate_of": original_index, "kind": "exact"}
            question = f"{original['question']} {NEAR_DUPLICATE_ADDITIONS[variant // 2 % len(NEAR_DUPLICATE_ADDITIONS)]}"
            if not shares_ngram(question, original["question"]):
                raise AssertionError("near duplicate shares no 8-gram with its original")
            if self._overlaps_others(question, original["question"]):
                continue
            self.registry.add(question)
            row = dict(original, question=question, thinking_trajectories=list(original["thinking_trajectories"]))
            return row, {"duplicate_of": original_index, "kind": "near"}
        raise RuntimeError(f"no earlier row can be near-duplicated without other overlaps (row {index})")

    # --- the whole pool ------------------------------------------------------------------
    def build(self) -> PoolPlan:
        rng = self.rng
        counts = planted_counts(self.pool_size)
        total_planted = sum(counts.values())
        if total_planted > self.pool_size // 2:
            raise ValueError(f"pool_size {self.pool_size} is too small for {total_planted} planted rows")
        # Duplicates sit in the second half so that they have earlier originals.
        first_half = list(range(1, self.pool_size // 2))
        second_half = list(range(self.pool_size // 2, self.pool_size))
        rng.shuffle(first_half)
        rng.shuffle(second_half)
        self._kinds: dict[int, str] = {}
        for _ in range(counts["duplicate"]):
            self._kinds[second_half.pop()] = "duplicate"
        free = first_half + second_half
        rng.shuffle(free)
        for reason, count in counts.items():
            if reason == "duplicate":
                continue
            for _ in range(count):
                self._kinds[free.pop()] = reason
        self._source_of: dict[int, Source] = {}
        self._problems: dict[int, DialProblem] = {}
        variants: dict[str, int] = {}
        aime = next(s for s in SOURCES if s.style == "aime")
        for index in range(self.pool_size):
            reason = self._kinds.setdefault(index, "clean")
            if index == 0:
                # Control: an AIME question with an [asy] figure must survive the format filter.
                row, problem = self._fresh(aime, lambda q: q + "\n[asy]\ndraw(circle((0,0),1));\n[/asy]")
                self._source_of[index], self._problems[index] = aime, problem
                self.plan.controls[index] = "aime_asy_kept"
            elif reason == "clean":
                source = self._source(plantable_only=False)
                row, problem = self._fresh(source)
                self._source_of[index], self._problems[index] = source, problem
                if rng.random() < qwen_solve_probability(problem.turns):
                    solved = rng.choice([("isqwen7bcorrect",), ("isqwen32bcorrect",),
                                         ("isqwen7bcorrect", "isqwen32bcorrect")])
                    row.update({flag: True for flag in solved})
                    self._kinds[index] = "qwen_solved"
                    self.plan.planted[index] = "qwen_solved"
            else:
                variant = variants.get(reason, 0)
                variants[reason] = variant + 1
                row = self._plant(index, reason, variant)
                self.plan.planted[index] = reason
            self.plan.rows.append(row)
        return self.plan
