"""GPQA-Diamond grading: which letter (A-D) did the response choose?

The final statement (docs/grading.md) gives the letter: a box holding a letter, or a
marker (``Answer:``, ``Final Answer:``, "the answer is", "the correct option is", any case)
and the letter it asserts: ``C``, ``(C)``, ``Option C``, ``\\textbf{C}``, ``answer: c``.
In the marker's text, letters said to be wrong ("A, B and D are wrong, so C") are
eliminated, a justification after the asserted letter ("C, since A fails") is ignored, and
a correction ("..., but C") replaces what came before it. Two different asserted letters
("A or B") are a hedge. Only when the response has no statement at all does a standalone
final line that is only a letter count (``C``, ``**C.**``, ``(C)``); ``D) 7`` may be the end of a
list of the options, not a choice.

No letter found = parse failure, graded wrong. There is never a default letter
(s1's evaluation fell back to "A").
"""

from __future__ import annotations

import re

from workflow_scripts.grading.extraction import Statement
from workflow_scripts.grading.final_answer import (
    SKIP, Reading, alternatives, read_final_answer, resolve,
)

LETTERS = "ABCD"
_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|textit|emph)\s?\{([^{}]{0,80})\}")
_LETTER = re.compile(
    r"(?<![A-Za-z0-9_\\^'])(?P<prefix>(?i:option|choice)[ \t]{0,2})?(?P<open>\()?[ \t]?"
    r"(?P<letter>[A-Da-d])[ \t]?(?P<close>\))?(?![A-Za-z0-9_^'])"
)
# Words after "A" that make it the article ("A careful look ...") unless they are these.
_VERBS_AFTER_LETTER = {"is", "are", "was", "and", "or", "seems", "appears", "must", "would", "should",
                       "remains", "matches", "fits", "gives", "correct", "best", "only", "as", "because",
                       "since", "it", "with", "if", "which"}
_NEGATIVE = {"wrong", "incorrect", "false", "fail", "fails", "eliminated", "eliminate", "excluded", "exclude",
             "ruled", "invalid", "impossible", "unlikely", "implausible", "inconsistent", "contradicts"}
_POSITIVE = {"correct", "right", "true", "valid", "best", "consistent", "matches", "fits", "answer"}
_NEGATE_BEFORE = re.compile(r"(?i)(?<![A-Za-z])(?:not|no|neither|nor|except|excluding)[ \t]{1,3}(?:option[ \t]{1,2}|choice[ \t]{1,2})?\(?$")
# Segment connectors: a conclusion replaces the letter before it, a justification is ignored.
_CONNECTOR = re.compile(
    r"(?i)(?P<sentence>[.!?;](?=\s|$)|\n)|(?<![A-Za-z])(?:(?P<conclusion>so|thus|therefore|hence|but|instead|actually|"
    r"ultimately|finally)|(?P<justification>since|because|as|given|for|although|though|whereas|while))(?![A-Za-z])"
    r"|(?P<paren>[()])"
)
_ANY_LETTER = re.compile(r"(?<![A-Za-z])[A-D](?![A-Za-z])|\([ \t]?[a-d][ \t]?\)|(?i:option|choice)[ \t]{1,2}[a-d]")
_WORD_AFTER = re.compile(r"[ \t]{1,3}([A-Za-z]+)")
_FINAL_LINE = re.compile(r"\(?\s?([A-D])\s?\)?\s?[.:]?")


_PARENTHESISED_LETTER = re.compile(r"\([ \t]?([A-Da-d])[ \t]?\)")


def _clean(text: str) -> str:
    for _ in range(2):
        text = _WRAPPER.sub(r"\1", text)
    return text.replace("**", " ").replace("$", " ").replace("__", " ")


def _marked_letters(text: str) -> str:
    """``(C)`` -> `` option C ``: a parenthesised letter is a marked letter, not a parenthesis."""
    return _PARENTHESISED_LETTER.sub(r" option \1 ", text)


def _letters(segment: str, alone: bool) -> list[str]:
    """Letters asserted in one segment: not negated, not the article "A"."""
    found = []
    matches = list(_LETTER.finditer(segment))
    for match in matches:
        letter, marked = match.group("letter"), bool(match.group("prefix") or match.group("open"))
        if letter.islower() and not (marked or alone):
            continue
        if letter == "A" and not marked:
            word = _WORD_AFTER.match(segment, match.end())
            if word and word.group(1).islower() and word.group(1) not in _VERBS_AFTER_LETTER:
                continue  # "A careful analysis shows ..."
        if _NEGATE_BEFORE.search(segment[max(0, match.start() - 24) : match.start()]):
            continue
        if _polarity(segment[match.end() : match.end() + 120]) == "negative":
            continue
        found.append(letter.upper())
    return found


def _polarity(following: str) -> str | None:
    """The first predicate after a letter: "A, B and D are wrong" makes all three negative."""
    words = re.findall(r"[A-Za-z']+", following.lower())
    for index, word in enumerate(words):
        if word in _NEGATIVE:
            return "negative"
        if word in _POSITIVE:
            negated = index and (words[index - 1] in ("not", "never") or words[index - 1].endswith("n't"))
            return "negative" if negated else "positive"
    return None


def letters_in_marker_text(content: str) -> list[str]:
    """The letters a marker's text asserts (see the module docstring); [] when none."""
    text = _marked_letters(_clean(content))
    alone = bool(re.fullmatch(r"\s*(?i:option|choice)?\s?\(?\s?[A-Da-d]\s?\)?\s?[.:]?\s*", text))
    segments: list[tuple[str, str]] = []
    kind, start = "start", 0
    for match in _CONNECTOR.finditer(text):
        segments.append((kind, text[start : match.start()]))
        kind = match.lastgroup if match.lastgroup != "paren" else "justification"
        start = match.end()
    segments.append((kind, text[start:]))
    answer: list[str] = []
    for kind, segment in segments:
        found = _letters(segment, alone)
        if not found:
            continue
        if kind == "conclusion" or (not answer and kind != "justification"):
            answer = found
    return answer


def _box_letter(content: str) -> str | None:
    inner = _clean(content).strip().strip("()").strip()
    return inner.upper() if len(inner) == 1 and inner.upper() in LETTERS else None


def _read(statement: Statement) -> Reading | object | None:
    if statement.kind == "box":
        content = statement.content
        if len(content) > 40 or not any(c in content for c in "ABCDabcd") or (
                not _box_letter(content) and " or " not in content):
            return SKIP  # a boxed value, not a letter: no choice can be read from it
        parts = [c for _, c in statement.joined] + [statement.content]
        if len(parts) == 1:
            parts = alternatives(statement.content)
        letters = [_box_letter(part) for part in parts]
        if any(letter is None for letter in letters):
            return SKIP  # a boxed value, not a letter: no choice can be read from it
        return resolve(letters, str.__eq__, "box")
    if not statement.strong and not _ANY_LETTER.search(statement.content):
        return None  # cheap to tell: no letter a weak statement could assert
    letters = letters_in_marker_text(statement.content)
    if not letters:
        return None
    return resolve(letters, str.__eq__, statement.kind)


def _final_line(text: str) -> str | None:
    stripped = text.rstrip()
    line = stripped[stripped.rfind("\n") + 1 :]
    if len(line) > 400:
        return None
    line = _clean(line).strip(" \t#>*_-")
    match = _FINAL_LINE.fullmatch(line)
    return match.group(1) if match else None


def read_gpqa_letter(text: str) -> Reading:
    reading = read_final_answer(text, _read, option_phrases=True)
    if reading.source == "none" and text:
        letter = _final_line(text)
        if letter:
            return Reading(letter, None, "final_line")
    return reading


def extract_gpqa_letter(text: str) -> tuple[str | None, str]:
    """(letter, where it came from); (None, "none") when no letter is asserted."""
    reading = read_gpqa_letter(text or "")
    return (reading.answer, reading.source) if reading.answer else (None, "none")


def parse_gpqa_gold(gold: str) -> str:
    letter = str(gold).strip().strip("()").upper()
    if letter not in LETTERS or len(letter) != 1:
        raise ValueError(f"GPQA gold must be a letter A-D (the gold_letter of the shuffled choices), got {gold!r}")
    return letter


def grade_gpqa(response: str, gold: str) -> dict:
    """Grade one GPQA response: ``extracted`` (a letter), ``correct``, ``parse_failed``,
    ``parse_reason`` and ``grade_method``."""
    target = parse_gpqa_gold(gold)
    reading = read_gpqa_letter(response)
    return reading.graded(reading.answer, reading.answer == target, "letter")
