"""Pathological answer texts for the bounded-time checks (tests and benchmarks/grading_time.py).

Degenerate outputs of small models, and adversarial but realistic answers: long whitespace
runs, brace soups, repeated lines (answer markers, hedges, boxes) and random mixtures of
all of them, up to a given size. Deterministic for a seed.
"""

from __future__ import annotations

import random

# Pieces a degenerate answer phase is made of: markers, boxes, braces, letters, hedges.
PIECES = (
    "Answer:", "answer: ", "Final Answer:", "**Answer:**", "The answer is ", "the correct option is ",
    "\\boxed{", "\\boxed{5}", "\\fbox{", "}", "{", "\\{", "\\}", "$", "$$", "\\(", "\\)", "(", ")",
    "A", "B", "(C)", "D.", "Option B", "\\textbf{B}", " or ", " either ", "33", "3.5", "1,000", " = ",
    "since ", "because ", ", so ", "Wait", "**", "__", "\n", "\n\n", " ", "\t", "                ",
    "\\text{ or }", "A, B and D are wrong", "is not", "\\frac{1}{2}", "x^2", "<|im_start|>answer\n",
)


def whitespace_run(size: int, marker: str, rng: random.Random) -> str:
    """A marker, then ``size`` characters of spaces, tabs and newlines, then a letter."""
    run = "".join(rng.choice(" \t\n") for _ in range(min(size, 4096)))
    run = (run * (size // len(run) + 1))[:size] if run else ""
    return f"{marker}{run}C"


def brace_soup(size: int, rng: random.Random) -> str:
    """Unclosed and stray braces and boxes, ``size`` characters."""
    tokens = ("\\boxed{", "{", "}", "\\fbox{", "\\{", "x", " ", "\\boxed{3}")
    out, length = [], 0
    while length < size:
        token = rng.choice(tokens)
        out.append(token)
        length += len(token)
    return "".join(out)[:size]


def repeated_lines(size: int, line: str) -> str:
    """One line repeated up to ``size`` characters (a repetition loop)."""
    return (line * (size // max(len(line), 1) + 1))[:size]


def random_mixture(size: int, rng: random.Random) -> str:
    """Random pieces of :data:`PIECES` and words, ``size`` characters."""
    out, length = [], 0
    while length < size:
        piece = rng.choice(PIECES) if rng.random() < 0.7 else rng.choice(("the", "value", "is", "x", "7"))
        out.append(piece)
        length += len(piece)
    return "".join(out)[:size]


def pathological_texts(size: int, seed: int = 42) -> dict[str, str]:
    """Named pathological responses of about ``size`` characters each."""
    rng = random.Random(seed)
    return {
        "newline_run": "Reasoning.\n" + "\n" * size,
        "answer_then_spaces": whitespace_run(size, "Answer:", rng),
        "marker_then_mixed_whitespace": whitespace_run(size, "**Final Answer:**", rng),
        "unclosed_boxes": "\\boxed{" * (size // 7),
        "brace_soup": brace_soup(size, rng),
        "nested_braces": "\\boxed{" + "{" * (size // 2) + "}" * (size // 2) + "}",
        "repeated_answer_lines": repeated_lines(size, "Answer: 33 or 34\n"),
        "repeated_hedges": repeated_lines(size, "The answer is A or B, since A, B and D are wrong. "),
        "repeated_boxes": repeated_lines(size, "\\boxed{5} or "),
        "repeated_option_lines": repeated_lines(size, "Option (A) fails, and (C) matches.\n"),
        # weak statements without a value, each passed over: the longest walk back
        "repeated_weak_markers": repeated_lines(size, "so the answer: x\n"),
        "repeated_weak_phrases": repeated_lines(size, "the answer is (after all) "),
        "dollar_soup": repeated_lines(size, "$ \\( $$ \\[ "),
        "random_mixture": random_mixture(size, rng),
        "long_box": "\\boxed{" + "1+" * (size // 2) + "1}",
        "long_marker_paragraph": "Answer: " + "x " * (size // 2),
    }
