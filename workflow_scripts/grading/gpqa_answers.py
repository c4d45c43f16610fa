"""GPQA-Diamond grading: which letter (A-D) did the response choose?

Patterns, strongest first; within a pattern the last occurrence wins:

1. ``Answer: X`` / ``Final Answer: (X)`` / ``**Answer:** X`` (the format the prompt asks for);
2. ``\\boxed{X}`` (also ``\\boxed{\\text{(X)}}``);
3. "the (correct|final) answer is (X)", "answer is: X", "the correct option/choice is X";
4. a parenthesised letter ``(X)``;
5. a final standalone letter: the last line is just the letter (``C``, ``C.``, ``**C**``).

No letter found = parse failure, graded wrong. There is never a default letter
(s1's evaluation fell back to "A").
"""

from __future__ import annotations

import re

from workflow_scripts.grading.extraction import last_boxed

LETTERS = "ABCD"
_L = r"\(?\s*\**\s*([A-D])\s*\**\s*\)?"
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("answer_marker", re.compile(r"answer\s*(?:\*\*)?\s*:\s*(?:\*\*)?\s*\$?\s*(?:\\text\{)?" + _L + r"(?![A-Za-z])", re.IGNORECASE)),
    ("the_answer_is", re.compile(r"(?:answer|option|choice)\s+is\s*:?\s*(?:option\s+|choice\s+)?\$?\s*(?:\\text\{)?" + _L + r"(?![A-Za-z])", re.IGNORECASE)),
    ("parenthesised", re.compile(r"\(([A-D])\)")),
    ("final_letter", re.compile(r"(?:^|\n)\s*\**\s*\(?([A-D])\)?\s*[.:]?\s*\**\s*[.:]?\s*$")),
)


def _boxed_letter(text: str) -> str | None:
    boxed = last_boxed(text)
    if boxed is None:
        return None
    inner = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}", r"\1", boxed)
    inner = inner.strip().strip("()").strip()
    return inner if inner in LETTERS and len(inner) == 1 else None


def extract_gpqa_letter(text: str) -> tuple[str | None, str]:
    """(letter, pattern name); (None, "none") when no pattern matches."""
    if not text:
        return None, "none"
    # The "Answer:" marker and "the answer is" ask for a letter right after them, in the
    # original case (the regex ignores case only for the words, not the letter).
    ordered = [PATTERNS[0], ("boxed", None), PATTERNS[1], PATTERNS[2], PATTERNS[3]]
    for name, pattern in ordered:
        if pattern is None:
            letter = _boxed_letter(text)
            if letter:
                return letter, name
            continue
        matches = [m for m in pattern.finditer(text) if m.group(1) in LETTERS]
        if matches:
            return matches[-1].group(1), name
    return None, "none"


def parse_gpqa_gold(gold: str) -> str:
    letter = str(gold).strip().strip("()").upper()
    if letter not in LETTERS or len(letter) != 1:
        raise ValueError(f"GPQA gold must be a letter A-D (the gold_letter of the shuffled choices), got {gold!r}")
    return letter


def grade_gpqa(response: str, gold: str) -> dict:
    """Grade one GPQA response: ``extracted`` (a letter), ``correct``, ``parse_failed``."""
    target = parse_gpqa_gold(gold)
    letter, pattern = extract_gpqa_letter(response)
    if letter is None:
        return {"extracted": None, "correct": False, "parse_failed": True, "grade_method": "none"}
    return {"extracted": letter, "correct": letter == target, "parse_failed": False, "grade_method": pattern}
