"""Scanning primitives shared by the graders, each linear in the length of the text.

No pattern here can backtrack catastrophically: anchors are found by literal searches, and
every regular expression applied at an anchor has bounded quantifiers only. Braces are
matched once for the whole text (:func:`top_level_boxes`), so many unclosed ``\\boxed{``
cost no more than one. docs/grading.md states the rule these pieces implement.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

import numpy as np

BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# "answer" as a word; "final answer" is one marker, not "answer" of a longer phrase.
_ANSWER_WORD = re.compile(r"(?i)(?<![A-Za-z])(?:final[ \t]{1,3})?answer(?![A-Za-z])")
# What may follow the word: "Answer:" / "**Answer:**" / "Answer**:" (a colon marker), or
# "answer is" / "answer would be" (a phrase marker); "answer is not" asserts nothing.
_MARKER_TAIL = re.compile(
    r"(?i)[ \t]{0,3}(?:\*\*|__)?[ \t]{0,3}(?:(?P<colon>:)|(?P<phrase>(?:is|would[ \t]be|will[ \t]be|should[ \t]be)"
    r"(?![A-Za-z])(?![ \t]{1,3}(?:not|n't)(?![A-Za-z]))[ \t]{0,3}:?))"
)
_OPTION_PHRASE = re.compile(r"(?i)(?<![A-Za-z])(?:correct|right|best)[ \t]{1,3}(?:option|choice)[ \t]{1,3}is(?![A-Za-z])[ \t]{0,3}:?")
_SENTENCE_END = re.compile(r"\n|(?<!\\)[.!?;](?=\s|$)")
_CONTENT_LEAD = re.compile(r"[\s*_]*")  # one class under one star: nothing to backtrack into
MAX_CONTENT_CHARS = 300
MAX_WEAK_CONTENT_CHARS = 120
MAX_JOINED_BOXES = 8  # a longer run of "\boxed{..} or \boxed{..}" is a list, read from its last boxes
# s1's answer phase opens with this header (workflow_scripts/decoding/prompts.py: ANSWER_START).
ANSWER_HEADER = re.compile(r"<\|im_start\|>answer[ \t]*\n?[ \t]*$")


@dataclass
class Statement:
    """One explicit final-answer statement: a box, or a marker and the text after it.

    ``kind`` is ``box``, ``colon`` (``Answer:``) or ``phrase`` (``the answer is``);
    ``start`` orders statements (the last one wins). ``strong`` statements (a box, a
    ``Final Answer:``, an ``Answer:`` opening a line or sentence) decide the answer even when
    no value can be read from them; weak ones (a phrase, an ``answer:`` inside a sentence)
    count only when they carry a value. ``content`` is the box content or the marker's text
    (its first paragraph, at most ``MAX_CONTENT_CHARS``; a weak marker's first sentence),
    read only when asked for. ``joined``
    lists earlier boxes linked to this one by a bare connector (``\\boxed{4} or \\boxed{3}``)
    as ``(connector, content)`` pairs.
    """

    kind: str
    start: int
    strong: bool
    _text: str = field(repr=False)
    _content_start: int = field(repr=False)
    _box_content: str | None = field(default=None, repr=False)
    _boxes: list | None = field(default=None, repr=False)
    _box_index: int = field(default=-1, repr=False)

    @cached_property
    def joined(self) -> tuple[tuple[str, str], ...]:
        return _joined_boxes(self._text, self._boxes, self._box_index) if self._boxes else ()

    @cached_property
    def content(self) -> str:
        if self._box_content is not None:
            return self._box_content
        if self.strong:
            return _paragraph(self._text, self._content_start)
        # A weak statement states its value at once: "the answer is 7." -- its first sentence.
        sentence = _paragraph(self._text, self._content_start, MAX_WEAK_CONTENT_CHARS)
        end = _SENTENCE_END.search(sentence)
        return sentence[: end.start()] if end else sentence


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def matching_braces(text: str, opens: list[int]) -> dict[int, int]:
    """Index of the ``}`` closing each ``{`` at the given indices (absent = never closed).

    One pass over the text in numpy: with d(i) the depth after brace i, the brace closing
    an opening brace of depth d is the first later brace whose depth is d - 1. Escaped
    braces (``\\{``) do not count.
    """
    if not opens:
        return {}
    codes = _code_points(text)
    previous = np.concatenate(([0], codes[:-1]))
    is_open = (codes == ord("{")) & (previous != ord("\\"))
    is_close = (codes == ord("}")) & (previous != ord("\\"))
    positions = np.flatnonzero(is_open | is_close)
    if not len(positions):
        return {}
    depth = np.cumsum(np.where(is_open[positions], 1, -1))
    # Braces sorted by (depth, position): the match of an opening brace of depth d at p is
    # the first entry after (d - 1, p), if it has depth d - 1 (all vectorised).
    scale = len(text) + 1
    keys = np.sort(depth.astype(np.int64) * scale + positions)
    wanted = np.asarray(opens, dtype=np.int64)
    event = np.minimum(np.searchsorted(positions, wanted), len(positions) - 1)
    is_brace = (positions[event] == wanted) & is_open[wanted]
    target = depth[event].astype(np.int64) - 1
    k = np.searchsorted(keys, target * scale + wanted, side="right")
    k_safe = np.minimum(k, len(keys) - 1)
    found = is_brace & (k < len(keys)) & (np.floor_divide(keys[k_safe], scale) == target)
    closes = keys[k_safe] - target * scale
    return {int(o): int(c) for o, c, ok in zip(wanted, closes, found) if ok}


_BRACE_AFTER_COMMAND = re.compile(r" {0,3}\{")
_BARE_BOX_TOKEN = re.compile(r"[ \t]{0,3}([^\s${}]{1,60})")
_BOX_CONNECTOR = re.compile(r"(?i)^[\s$.,;]*(?:\\text\{\s{0,3})?(or|and|,)(?:\s{0,3}\})?[\s$]*$")


def top_level_boxes(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of each complete ``\\boxed{...}``/``\\fbox{...}`` not inside another.

    ``\\boxed 5`` (no braces) yields ``5``. A box that is never closed (the answer was cut
    off) does not count; empty boxes do not count either.
    """
    commands = [(m.start(), m.end()) for m in BOX_COMMAND.finditer(text)]
    if not commands:
        return []
    opens = []
    for _, end in commands:
        if text.startswith("{", end):
            opens.append(end)
        else:
            brace = _BRACE_AFTER_COMMAND.match(text, end)
            opens.append(brace.end() - 1 if brace else -1)
    closes = matching_braces(text, sorted({o for o in opens if o >= 0}))
    ends = np.asarray([closes.get(o, -2) + 1 if o >= 0 else -1 for o in opens], dtype=np.int64)
    # A box starting before the end of an earlier complete box is nested in it.
    reach = np.maximum.accumulate(np.concatenate(([-1], ends[:-1])))
    starts = np.asarray([start for start, _ in commands], dtype=np.int64)
    boxes = []
    for index in np.flatnonzero(starts >= reach).tolist():
        start, end = commands[index]
        if opens[index] >= 0:
            if ends[index] <= 0:
                continue  # never closed
            content = text[opens[index] + 1 : ends[index] - 1].strip()
            if content:
                boxes.append((start, int(ends[index]), content))
        else:
            token = _BARE_BOX_TOKEN.match(text, end)
            if token and token.group(1).rstrip(".,"):
                boxes.append((start, token.end(), token.group(1).rstrip(".,")))
    return boxes


def last_boxed(text: str) -> str | None:
    """Content of the last complete top-level box, else None."""
    boxes = top_level_boxes(text) if text else []
    return boxes[-1][2] if boxes else None


def _paragraph(text: str, start: int, limit: int = MAX_CONTENT_CHARS) -> str:
    """The text from ``start`` (leading blanks and bold marks skipped) to its paragraph's end."""
    lead = _CONTENT_LEAD.match(text, start)
    begin = lead.end() if lead else start
    window = text[begin : begin + limit]
    blank = re.search(r"\n[ \t]*\n", window)
    return (window[: blank.start()] if blank else window).strip()


def _inside_box(position: int, box_starts: list[int], boxes: list[tuple[int, int, str]]) -> bool:
    index = bisect_left(box_starts, position) - 1
    return index >= 0 and boxes[index][0] < position < boxes[index][1]


# Before a marker: a line start (markdown bullets, headings, bold allowed) or a sentence end.
_LINE_START = re.compile(r"(?:^|\n|[.!?:]\s)[ \t>#*_-]{0,8}$")
# "check whether the answer is ...", "if the answer is ...": a question, not a statement.
_CONDITIONAL = re.compile(r"(?i)(?:\bif|whether|check|verify|confirm|ensure)\b[^.!?\n]{0,20}$")


def _marker_strength(text: str, start: int, word: str, kind: str) -> bool | None:
    """True: a strong marker; False: a weak one; None: not a statement at all."""
    before = text[max(0, start - 30) : start]
    if _CONDITIONAL.search(before):
        return None
    if kind == "phrase":
        return False
    return word[:1].isupper() or word.lower().startswith("final") or bool(_LINE_START.search(before))


def _joined_boxes(text: str, boxes: list[tuple[int, int, str]], index: int) -> tuple[tuple[str, str], ...]:
    """The earlier boxes a bare connector joins to box ``index``, as (connector, content)."""
    joined: list[tuple[str, str]] = []
    current = index
    while current > 0 and len(joined) < MAX_JOINED_BOXES and boxes[current][0] - boxes[current - 1][1] <= 30:
        link = _BOX_CONNECTOR.match(text[boxes[current - 1][1] : boxes[current][0]])
        if not link:
            break
        joined.append((link.group(1).lower(), boxes[current - 1][2]))
        current -= 1
    return tuple(reversed(joined))


def _box_statement(text: str, boxes: list[tuple[int, int, str]], index: int) -> Statement:
    start, end, content = boxes[index]
    return Statement("box", start, True, text, end, content, boxes, index)


def _marker_statement(text: str, start: int, word_end: int) -> Statement | None:
    if word_end == start:  # an option phrase: its own regex matched the whole marker
        tail_end, kind = _OPTION_PHRASE.match(text, start).end(), "phrase"
    else:
        tail = _MARKER_TAIL.match(text, word_end)
        if tail is None:
            return None
        tail_end, kind = tail.end(), "colon" if tail.group("colon") else "phrase"
    strong = _marker_strength(text, start, text[start:word_end], kind)
    return None if strong is None else Statement(kind, start, strong, text, tail_end)


def statements_from_last(text: str, option_phrases: bool = False) -> Iterator[Statement]:
    """The final-answer statements of ``text``, last first, each built only when reached.

    Markers inside a box are part of the box, not statements of their own. Boxes joined to
    the previous box by a bare connector (``or``, ``and``, a comma) carry that link.
    ``option_phrases`` adds "the correct option/choice is" (multiple choice).
    """
    if not text:
        return
    boxes = top_level_boxes(text)
    box_starts = [box[0] for box in boxes]
    anchors = [(m.start(), m.end()) for m in _ANSWER_WORD.finditer(text)]
    if option_phrases:
        anchors = sorted(anchors + [(m.start(), m.start()) for m in _OPTION_PHRASE.finditer(text)])
    box_index, anchor_index = len(boxes) - 1, len(anchors) - 1
    while box_index >= 0 or anchor_index >= 0:
        if anchor_index < 0 or (box_index >= 0 and boxes[box_index][0] > anchors[anchor_index][0]):
            yield _box_statement(text, boxes, box_index)
            box_index -= 1
            continue
        start, word_end = anchors[anchor_index]
        anchor_index -= 1
        if not _inside_box(start, box_starts, boxes):
            statement = _marker_statement(text, start, word_end)
            if statement is not None:
                yield statement


def statements(text: str, option_phrases: bool = False) -> list[Statement]:
    """Every final-answer statement of ``text``, in order of position."""
    return list(reversed(list(statements_from_last(text, option_phrases))))


def is_bare_answer(text: str) -> bool:
    """One short paragraph: what a model writes when its answer is just the answer."""
    stripped = text.strip()
    return bool(stripped) and "\n\n" not in stripped and len(stripped) <= MAX_CONTENT_CHARS


def _optional_text(record: dict, key: str) -> str | None:
    """``record[key]`` when it is a string or None; anything else is a clear error."""
    value = record[key]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"record {record.get('id')!r}: {key} must be a string, got {type(value).__name__}")
    return value


_PREFIX_MARKER = re.compile(r"(?i)(?:final[ \t]{1,3}answer|answer)[ \t]{0,3}:[ \t]{0,3}$")


def response_parts(record: dict) -> tuple[str, str | None]:
    """``(text, prefix)`` of one input line, checked: a shard's ``answer_text`` and the text
    spliced before it (``prefix``), or a user file's ``response`` (prefix None).

    Only type checks and slicing here (the caller's process); :func:`text_to_grade` does the
    scanning, inside the grading worker's deadline.
    """
    if "answer_text" in record:
        answer = _optional_text(record, "answer_text") or ""
        # The engine records the text spliced between thinking and answer (answer_prefix_text);
        # older shards only have full_text, which ends with prefix + answer.
        prefix = record.get("answer_prefix_text")
        if not isinstance(prefix, str):
            full = record.get("full_text")
            prefix = full[-len(answer) - 80 : len(full) - len(answer)] if (
                isinstance(full, str) and answer and full.endswith(answer)) else ""
        return answer, prefix[-80:]
    if "response" in record:
        return _optional_text(record, "response") or "", None
    raise ValueError(
        f"record {record.get('id')!r} has neither 'response' nor 'answer_text'; keys: {sorted(record)}"
    )


def text_to_grade(answer: str, prefix: str | None) -> str:
    """The text to grade from :func:`response_parts`.

    When the answer phase was prompted with a marker (the engine appended ``Final Answer:``
    after a thinking phase cut at its cap, as s1 does), the marker is put back so that "text
    after the marker" still applies. A thinking phase that ended by itself is followed by the
    answer header ``<|im_start|>answer`` only; a bare answer after it (one short paragraph,
    e.g. ``9``) counts as the text after a marker as well.
    """
    if prefix is None or not answer or next(statements_from_last(answer), None) is not None:
        return answer
    marker = _PREFIX_MARKER.search(prefix.rstrip()[-40:])
    if marker:
        return marker.group(0).strip() + " " + answer
    # The answer-phase header of the s1 format marks the answer too: a bare, short answer
    # after it ("9", "C") is the answer itself. Longer text is left to the usual rules.
    if ANSWER_HEADER.search(prefix[-60:]) and is_bare_answer(answer):
        return "Answer: " + answer.strip()
    return answer


def response_text(record: dict) -> str:
    """The text to grade for one input line (:func:`response_parts`, then :func:`text_to_grade`)."""
    return text_to_grade(*response_parts(record))


def gold_value(record: dict, benchmark: str) -> str:
    """The gold answer of one input line (GPQA: the letter, from ``gold_letter`` or ``gold``).

    Gold must be a string (an integer is accepted for AIME); a list, bool, dict or float is
    an error naming the record, never silently turned into text.
    """
    keys = ("gold_letter", "gold") if benchmark == "gpqa" else ("gold",)
    for key in keys:
        value = record.get(key)
        if value is None:
            continue
        allowed = (str, int) if benchmark == "aime24" else (str,)
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise ValueError(
                f"record {record.get('id')!r}: {key} must be a string"
                f"{' or an integer' if benchmark == 'aime24' else ''}, got {type(value).__name__} {value!r}"
            )
        if str(value).strip():
            return str(value).strip()
    raise ValueError(f"record {record.get('id')!r}: missing gold answer (looked for {', '.join(keys)})")
