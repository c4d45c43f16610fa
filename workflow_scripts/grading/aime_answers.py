"""AIME24 grading: the final answer is an integer from 0 to 999, compared as an integer.

Extraction: the last ``\\boxed{}`` of the response, else the text after the last
``Final Answer:`` / ``Answer:`` marker. A boxed answer must be an integer once wrappers
are removed (``\\textbf{(073)}`` -> 73, ``x = 25`` -> 25, ``1{,}000`` -> 1000); marker
text yields its last integer (``Answer: the total is 204 minutes.`` -> 204). Nothing
integral found = parse failure (graded wrong). An integer outside 0-999 is extracted
but can never be correct.
"""

from __future__ import annotations

import re

from workflow_scripts.grading.extraction import last_boxed, text_after_marker

_WRAPPER = re.compile(r"\\(?:text|textbf|mathbf|mathrm|mbox|boldsymbol)\s*\{([^{}]*)\}")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:,\d{3})*(?:\.\d+)?")


def _clean(answer: str) -> str:
    text = answer.strip()
    for _ in range(3):  # nested wrappers such as \boxed{\textbf{(073)}}
        text = _WRAPPER.sub(r"\1", text)
    text = text.replace("$", "").replace("{,}", "").replace("\\!", "").replace("\\,", "")
    text = re.sub(r"^\s*[a-zA-Z]\w*\s*=\s*", "", text)  # "x = 25"
    text = re.sub(r"\^\s*\{?\\circ\}?", "", text)
    text = re.sub(r"\s+", "", text).strip("().").replace(",", "")
    return text


def parse_aime_integer(text: str) -> int | None:
    """The integer a boxed AIME answer stands for, else None."""
    cleaned = _clean(text)
    return int(cleaned) if _INTEGER.match(cleaned) else None


def extract_aime_answer(text: str) -> int | None:
    boxed = last_boxed(text)
    if boxed is not None:
        return parse_aime_integer(boxed)
    after = text_after_marker(text)
    if after is None:
        return None
    direct = parse_aime_integer(after)
    if direct is not None:
        return direct
    integers = [n for n in _NUMBER.findall(after) if "." not in n]
    return int(integers[-1].replace(",", "")) if integers else None


def parse_aime_gold(gold: str | int) -> int:
    value = parse_aime_integer(str(gold))
    if value is None or not 0 <= value <= 999:
        raise ValueError(f"AIME gold answer must be an integer in 0-999, got {gold!r}")
    return value


def grade_aime(response: str, gold: str | int) -> dict:
    """Grade one AIME response: ``extracted`` (an integer string), ``correct``, ``parse_failed``."""
    target = parse_aime_gold(gold)
    value = extract_aime_answer(response)
    if value is None:
        return {"extracted": None, "correct": False, "parse_failed": True, "grade_method": "none"}
    return {
        "extracted": str(value),
        "correct": value == target and 0 <= value <= 999,
        "parse_failed": False,
        "grade_method": "integer",
    }
