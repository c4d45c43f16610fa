"""The synthetic task: a ten-position dial turned step by step.

A problem starts a dial at ``start`` (0-9) and turns it by ``step`` positions, ``turns``
times; the answer is the final position, ``(start + step * turns) mod 10``. The
thinking trace writes one line per turn: turns left, then the addition mod 10:

    03 7+3=0
    02 0+3=3
    01 3+3=6

Lines come in paragraphs of four turns separated by a blank line (a paragraph is one *step*,
what step-conditional control counts). Some traces end with a re-check: a line starting
with "Wait" re-does the last turn, and where that turn slipped it fixes it and the answer
follows the fix (the habit budget forcing relies on: "Wait" re-checks, it does not derail):

    01 3+3=7
    Wait 01 3+3=6

Each line follows from the one above it at fixed offsets (count down, carry the step,
add mod 10), and the first line from the question's fixed-format tail ("start 7,
step 3, 03 turns."), which a tiny transformer learns quickly; the answer needs every
line, so a trace cut by a thinking budget ends on a wrong position and accuracy rises
with the budget. Traces run from 8 tokens (1 turn) to 143 tokens (16 turns).

Each question starts with a word and a random four-digit tag, as word problems carry
names: every word 8-gram of a question contains the tag, so distinct questions do not
share 8-grams by accident (the n-gram filters would read them as duplicates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

POSITIONS = 10
PARAGRAPH_TURNS = 4  # turns per paragraph (step)
RECHECK_WORD = "Wait"  # the forcing string of the smoke run's budget forcing
MIN_TURNS, MAX_TURNS = 1, 16
MIN_TAG, MAX_TAG = 1000, 9999
# Small steps: the tiny model must learn the addition table within a CPU minute.
STEPS = (1, 2)
CHOICE_LETTERS = "ABCD"

# 8 words, the tag second (every 8-gram holds it), and one fixed tail so the model
# finds start, step and turns at the same place in every question.
QUESTION_TAIL = "start {start}, step {step}, {turns:02d} turns."
OPENING_WORDS = {
    "math": ("Counter", "Clock", "Sequence", "Cycle"),
    "aime": ("Problem", "Task"),
    "science": ("Dial", "Rotor", "Phase", "Orbit"),
}
TEMPLATES = {style: tuple(f"{word} {{tag}}: {QUESTION_TAIL}" for word in words)
             for style, words in OPENING_WORDS.items()}


@dataclass(frozen=True)
class DialProblem:
    tag: int
    start: int
    step: int
    turns: int

    def __post_init__(self):
        if not MIN_TURNS <= self.turns <= MAX_TURNS:
            raise ValueError(f"turns must be in [{MIN_TURNS}, {MAX_TURNS}], got {self.turns}")
        if not (0 <= self.start < POSITIONS and 1 <= self.step < POSITIONS):
            raise ValueError(f"start must be 0-9 and step 1-9, got start={self.start} step={self.step}")

    @property
    def answer(self) -> int:
        return (self.start + self.step * self.turns) % POSITIONS

    def positions(self) -> list[int]:
        """Position after each turn."""
        return [(self.start + self.step * done) % POSITIONS for done in range(1, self.turns + 1)]

    def trace_lines(self, positions: list[int] | None = None) -> list[str]:
        """One line per turn: turns left, then previous position + step = new position."""
        positions = self.positions() if positions is None else positions
        before = [self.start] + positions[:-1]
        return [f"{self.turns - i:02d} {b}+{self.step}={p}" for i, (b, p) in enumerate(zip(before, positions))]


def sample_problem(rng: random.Random, turns: int) -> DialProblem:
    if not MIN_TURNS <= turns <= MAX_TURNS:
        raise ValueError(f"turns must be in [{MIN_TURNS}, {MAX_TURNS}], got {turns}")
    return DialProblem(tag=rng.randint(MIN_TAG, MAX_TAG), start=rng.randrange(POSITIONS),
                       step=rng.choice(STEPS), turns=turns)


def render_question(problem: DialProblem, style: str, rng: random.Random) -> str:
    if style not in TEMPLATES:
        raise ValueError(f"unknown question style {style!r}; known: {', '.join(TEMPLATES)}")
    return rng.choice(TEMPLATES[style]).format(tag=problem.tag, start=problem.start, step=problem.step,
                                               turns=problem.turns)


def paragraphs(lines: list[str]) -> str:
    """Lines grouped PARAGRAPH_TURNS at a time, paragraphs separated by a blank line."""
    return "\n\n".join("\n".join(lines[i:i + PARAGRAPH_TURNS]) for i in range(0, len(lines), PARAGRAPH_TURNS))


def numeric_trace(problem: DialProblem, positions: list[int] | None = None) -> str:
    return paragraphs(problem.trace_lines(positions))


def rechecked_trace(problem: DialProblem, slip: int = 0) -> str:
    """The trace, then "Wait" and the last turn re-done. With ``slip`` (1-9), the last turn
    first lands ``slip`` positions off and the re-check fixes it; the answer is the fix."""
    positions = problem.positions()
    if slip:
        positions = positions[:-1] + [(positions[-1] + slip) % POSITIONS]
    return f"{numeric_trace(problem, positions)}\n{RECHECK_WORD} {problem.trace_lines()[-1]}"


def slipped_trace(problem: DialProblem, rng: random.Random) -> tuple[str, int]:
    """A trace with one wrong addition (later lines follow it) and its wrong final position."""
    slip_at = rng.randrange(problem.turns)
    offset = rng.randint(1, POSITIONS - 1)
    positions, position = [], problem.start
    for index in range(problem.turns):
        position = (position + problem.step + (offset if index == slip_at else 0)) % POSITIONS
        positions.append(position)
    return numeric_trace(problem, positions), position


def distractors(problem: DialProblem, rng: random.Random, count: int = 3) -> list[int]:
    """Distinct wrong positions; earlier positions first (what a cut-short trace suggests)."""
    answer = problem.answer
    partial = [p for p in problem.positions()[:-1] if p != answer]
    others = [p for p in range(POSITIONS) if p != answer]
    rng.shuffle(partial)
    rng.shuffle(others)
    options: list[int] = []
    for value in partial + others:
        if value not in options:
            options.append(value)
        if len(options) == count:
            return options
    raise ValueError(f"could not draw {count} distractors for {problem}")


def choice_block(options: list[int]) -> str:
    """The choice lines the generation stage writes under a multiple-choice question."""
    return "\n".join(f"{letter}) {value}" for letter, value in zip(CHOICE_LETTERS, options))


def multiple_choice_question(question: str, options: list[int]) -> str:
    return f"{question}\n\n{choice_block(options)}"


def multiple_choice_trace(problem: DialProblem, options: list[int], trace: str | None = None) -> tuple[str, str]:
    """Trace (by default the plain one) that ends by naming the matching choice line, and the answer letter."""
    letter = CHOICE_LETTERS[options.index(problem.answer)]
    return (numeric_trace(problem) if trace is None else trace) + f"\n{letter}) {problem.answer}", letter
