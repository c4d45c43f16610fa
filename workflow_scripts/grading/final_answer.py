"""The final-answer rule (docs/grading.md), shared by the three graders.

1. The last explicit final-answer statement of the answer phase wins, box or marker, by
   position (:func:`workflow_scripts.grading.extraction.statements`).
2. From a marker's text only the answer clause counts (:func:`answer_clause`): the first
   sentence holding a value, up to a justification ("since", "because", "(after ..."),
   so numbers in a justification after the answer never replace it; a conclusion ("so",
   "thus", "is") moves the answer to what follows it.
3. A statement naming two different answers ("4 or 3", "either A or B", ``\\boxed{4} or
   \\boxed{3}``) is hedged: graded wrong, with the reason ``hedged``.

Each benchmark supplies how a value is read from a piece of text and when two values are
the same answer. Every scan here is over at most a few hundred characters.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from workflow_scripts.grading.extraction import Statement, statements_from_last

# Reasons recorded in ``parse_reason`` (None: an answer was read and compared).
HEDGED = "hedged"
NO_ANSWER = "no_answer"  # no final-answer statement at all
UNREADABLE = "unreadable"  # the final statement holds no value of the benchmark's kind
TIMEOUT = "timeout"  # the record's grading ran past its deadline
CRASHED = "crashed"  # the grading worker died on the record (e.g. out of memory)
OVERLONG = "overlong"  # a "value" longer than any real answer (a runaway box)
MAX_ANSWER_CHARS = 1000
SKIP = object()  # returned by a reader: this statement is not one of the benchmark's kind

_JUSTIFICATION = re.compile(
    r"(?i)(?<![A-Za-z0-9\\])(?:since|because|as|when|where|after|given|if|which|using|by|from|checking|assuming|"
    r"with|due|for|note|noting|here|we|i)(?![A-Za-z0-9])"
)
_CONCLUSION = re.compile(
    r"(?i)(?<![A-Za-z0-9\\])(?:so|thus|therefore|hence|giving|gives|yields|yielding|is|are|equals|becomes|get|"
    r"obtain)(?![A-Za-z0-9])"
)
# Ends of the answer clause: a line break, a sentence end, a parenthesis opening prose.
_BOUNDARY = re.compile(r"\n|(?<!\\)[.!?;](?=\s|$)|\((?!either(?![a-z]))(?=[a-z]{3,}(?![A-Za-z]))")
_EQUALS = re.compile(r"(?<![<>!])=")
_MATH_DELIMITER = re.compile(r"\$\$|(?<!\\)\$|\\\(|\\\)|\\\[|\\\]")
_CLOSING = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_OR = re.compile(r"(?i)(?<![A-Za-z\\])(?:or|either)(?![A-Za-z])")
_TEXT_OR = re.compile(r"\\(?:text|mbox|textrm|mathrm)\s?\{\s{0,3}(or|either|and)\s{0,3}\}")


@dataclass(frozen=True)
class Reading:
    """What the final statement says: ``answer`` (None when nothing was read) and ``reason``."""

    answer: str | None
    reason: str | None
    source: str  # the statement's kind: box, colon, phrase, final_line; none

    def graded(self, extracted: str | None = None, correct: bool = False, method: str = "none") -> dict:
        """The grading record of this reading: ``parse_failed`` (reason) when nothing was read,
        else ``extracted`` judged ``correct`` by ``method``."""
        if self.answer is None:
            return {"extracted": None, "correct": False, "parse_failed": True, "parse_reason": self.reason,
                    "grade_method": "none", "answer_source": self.source}
        return {"extracted": extracted, "correct": correct, "parse_failed": False, "parse_reason": None,
                "grade_method": method, "answer_source": self.source}


def math_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each math span ($, $$, \\( \\), \\[ \\]); an unclosed one runs to the end."""
    spans, opened = [], None
    for match in _MATH_DELIMITER.finditer(text):
        token = match.group(0)
        if opened is None:
            if token in _CLOSING:
                opened = (token, match.start())
        elif token == _CLOSING[opened[0]]:
            spans.append((opened[1], match.end()))
            opened = None
    if opened is not None:
        spans.append((opened[1], len(text)))
    return spans


def _in_math(position: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    index = bisect_right(starts, position) - 1
    return index >= 0 and position < spans[index][1]


def _sentences(text: str, spans: list[tuple[int, int]], starts: list[int]) -> list[tuple[int, int]]:
    """``(begin, end)`` of each sentence (or line) of ``text``; math spans are never cut."""
    pieces, begin = [], 0
    for match in _BOUNDARY.finditer(text):
        index = match.start()
        if _in_math(index, spans, starts) or not text[begin:index].strip():
            continue
        if text[index] == "." and text[max(0, index - 3) : index].lower() in ("i.e", "e.g"):
            continue
        pieces.append((begin, index))
        begin = match.end() if text[index] != "(" else index
    pieces.append((begin, len(text)))
    return pieces


def answer_clause(content: str, has_value: Callable[[str], bool], equals_concludes: bool = False,
                  said: Callable[[str], bool] | None = None) -> str:
    """The part of a marker's text that states the answer (see the module docstring).

    The first sentence that holds a value is read ("Final Answer: Let me compute. The result
    is 12." -> 12); ``has_value`` tells whether a piece of text holds one (also what may
    follow a conclusion), ``said`` whether something was stated before a justification word
    (default: has_value).
    """
    said = said or has_value
    text = content[:MAX_ANSWER_CHARS]
    spans = math_spans(text)
    starts = [start for start, _ in spans]
    first = None
    for begin, end in _sentences(text, spans, starts):
        clause = _sentence_clause(text, begin, end, spans, starts, has_value, said, equals_concludes)
        if has_value(clause):
            return clause
        first = clause if first is None else first
    return first or ""


def _sentence_clause(text: str, begin: int, end: int, spans: list[tuple[int, int]], starts: list[int],
                     has_value: Callable[[str], bool], said: Callable[[str], bool], equals_concludes: bool) -> str:
    # A justification word ends the clause once something has been said before it.
    for word in _JUSTIFICATION.finditer(text, begin, end):
        if not _in_math(word.start(), spans, starts) and said(text[begin : word.start()]):
            end = word.start()
            break
    # A conclusion moves the answer to what follows it, if a value follows.
    marks = [w.end() for w in _CONCLUSION.finditer(text, begin, end) if not _in_math(w.start(), spans, starts)]
    if equals_concludes:
        marks += [m.end() for m in _EQUALS.finditer(text, begin, end)]
    for mark in sorted(marks, reverse=True):
        if has_value(text[mark:end]):
            begin = mark
            break
    return text[begin:end].strip(" \t,:;*_").strip()


def alternatives(clause: str) -> list[str]:
    """The parts of ``clause`` joined by "or" / "either ... or" (one part when there is no "or")."""
    text = _TEXT_OR.sub(lambda m: f" {m.group(1)} ", clause)
    parts = [part.strip(" \t,;:*_") for part in _OR.split(text)]
    parts = [p for p in parts if p.strip("$ ")]
    if len(parts) <= 1:
        return [clause]
    # An "or" that split a math span leaves lone dollars behind: drop them.
    return [p.replace("$", "").strip() if p.count("$") % 2 else p for p in parts]


def read_final_answer(text: str, read: Callable[[Statement], Reading | object | None],
                      option_phrases: bool = False) -> Reading:
    """Walk the statements from the last: the first one that ``read`` gives a reading wins.

    ``read`` returns None when a statement carries no value; a strong statement (box,
    ``Final Answer:``) without a value still ends the search (its answer is unreadable).
    ``SKIP`` passes over a statement whatever its strength.
    """
    for statement in statements_from_last(text, option_phrases=option_phrases):
        if not statement.content.strip():
            continue
        if len(statement.content) > MAX_ANSWER_CHARS:  # a runaway box, not an answer
            return Reading(None, OVERLONG, statement.kind)
        reading = read(statement)
        if reading is SKIP:
            continue
        if reading is not None:
            return reading
        if statement.strong:
            return Reading(None, UNREADABLE, statement.kind)
    return Reading(None, NO_ANSWER, "none")


def resolve(parts: list[str], same: Callable[[str, str], bool], source: str) -> Reading:
    """One answer when all parts agree, else a hedge."""
    first = parts[0]
    if all(same(first, other) for other in parts[1:]):
        return Reading(first, None, source)
    return Reading(None, HEDGED, source)
