"""AIME24 grading: the final answer is an integer from 0 to 999, compared as an integer.

The final statement (docs/grading.md) gives the answer. A box must hold an integer once
wrappers are removed (``\\textbf{(073)}`` -> 73, ``x = 25`` -> 25, ``1{,}000`` -> 1000,
``33.0`` -> 33); a marker's answer clause yields its first integer, or the first one after
a conclusion ("3.5 hours, so 12" -> 12; "the remainder is 33 when N is divided by 1000" ->
33). Two different integers in the final statement ("33 or 34") are a hedge. An integer
outside 0-999 is extracted but can never be correct.
"""

from __future__ import annotations

import re

from workflow_scripts.grading.extraction import Statement
from workflow_scripts.grading.final_answer import (
    UNREADABLE, Reading, alternatives, answer_clause, read_final_answer, resolve,
)

_WRAPPER = re.compile(r"\\(?:text|textbf|mathbf|mathrm|mbox|boldsymbol)\s?\{([^{}]{0,200})\}")
_INTEGER = re.compile(r"[+-]?\d{1,12}(?:\.0{1,6})?")
# An integer in prose: not part of a decimal ("3.5"), thousands separators allowed.
_NUMBER = re.compile(r"(?<![\d.])-?\d{1,12}(?:,\d{3}){0,4}(?:\.\d{1,12})?(?![\d])")


def _clean(answer: str) -> str:
    text = answer.strip()
    for _ in range(3):  # nested wrappers such as \boxed{\textbf{(073)}}
        text = _WRAPPER.sub(r"\1", text)
    text = text.replace("$", "").replace("{,}", "").replace("\\!", "").replace("\\,", "")
    if "=" in text:  # "x = 25", "m + n = 25"
        text = text.rsplit("=", 1)[1]
    text = re.sub(r"\^\s?\{?\\circ\}?", "", text)
    text = "".join(text.split()).strip("().").replace(",", "")
    return text


def parse_aime_integer(text: str) -> int | None:
    """The integer a boxed AIME answer stands for (``33.0`` counts as 33), else None."""
    cleaned = _clean(text)
    if len(cleaned) > 20 or not _INTEGER.fullmatch(cleaned):
        return None
    return int(cleaned.split(".")[0])


def _prose_integer(text: str) -> int | None:
    for number in _NUMBER.findall(_clean_prose(text)):
        value = number.replace(",", "")
        if "." not in value or set(value.split(".")[1]) == {"0"}:
            return int(value.split(".")[0])
    return None


def _clean_prose(text: str) -> str:
    text = text.replace("{,}", "")
    for _ in range(2):
        text = _WRAPPER.sub(r"\1", text)
    return text


def _has_integer(text: str) -> bool:
    return _prose_integer(text) is not None


def _read_value(text: str) -> int | None:
    value = parse_aime_integer(text)
    return value if value is not None else _prose_integer(text)


def _read(statement: Statement) -> Reading | None:
    if statement.kind == "box":
        parts = [c for _, c in statement.joined] + [statement.content]
        if len(parts) == 1:
            parts = alternatives(statement.content)
        values = [parse_aime_integer(part) for part in parts]
        if any(v is None for v in values):
            # "\boxed{33 \text{ or } 34}" splits into integers; anything else is not an answer.
            return Reading(None, UNREADABLE, "box") if len(parts) == 1 else None
        return resolve([str(v) for v in values], str.__eq__, "box")
    if not re.search(r"\d", statement.content):
        return None  # no integer anywhere: nothing to read (and cheap to tell)
    clause = answer_clause(statement.content, _has_integer, equals_concludes=True)
    values = [_read_value(part) for part in alternatives(clause)]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return resolve([str(v) for v in values], str.__eq__, statement.kind)


def extract_aime_answer(text: str) -> int | None:
    """The integer of the final statement, else None (no answer, unreadable or hedged)."""
    reading = read_aime_answer(text)
    return int(reading.answer) if reading.answer is not None else None


def read_aime_answer(text: str) -> Reading:
    return read_final_answer(text, _read)


def parse_aime_gold(gold: str | int) -> int:
    value = gold if isinstance(gold, int) and not isinstance(gold, bool) else parse_aime_integer(str(gold))
    if value is None or not 0 <= value <= 999:
        raise ValueError(f"AIME gold answer must be an integer in 0-999, got {gold!r}")
    return value


def grade_aime(response: str, gold: str | int) -> dict:
    """Grade one AIME response: ``extracted`` (an integer string), ``correct``, ``parse_failed``,
    ``parse_reason`` and ``grade_method``."""
    target = parse_aime_gold(gold)
    reading = read_aime_answer(response)
    if reading.answer is None:
        return reading.graded()
    value = int(reading.answer)
    return reading.graded(str(value), value == target and 0 <= value <= 999, "integer")
