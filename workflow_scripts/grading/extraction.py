"""Find the answer inside a response: the last ``\\boxed{}``, else the text after a marker.

Shared by the three graders. Every function returns ``None`` when nothing is found, so
the caller can count the sample as a parse failure instead of guessing.
"""

from __future__ import annotations

import re

BOXED_COMMANDS = ("\\boxed", "\\fbox")
# "Final Answer:" first so that "Final Answer: 5" is not read as "Answer: 5" of a longer phrase.
ANSWER_MARKER = re.compile(r"(?:final\s+answer|answer)\s*(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
MAX_MARKER_ANSWER_CHARS = 300
# s1's answer phase opens with this header (workflow_scripts/generation/prompts.py: ANSWER_START).
ANSWER_HEADER = re.compile(r"<\|im_start\|>answer\s*$")


def _balanced_braces(text: str, open_index: int) -> str | None:
    """Content of the ``{...}`` group opening at ``open_index``; None if unbalanced."""
    depth = 0
    for index in range(open_index, len(text)):
        char = text[index]
        if char == "{" and (index == 0 or text[index - 1] != "\\"):
            depth += 1
        elif char == "}" and (index == 0 or text[index - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : index]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``.

    ``\\boxed 5`` (no braces, as some models write) yields ``5``. A box that is never
    closed (the answer was cut off) does not count.
    """
    if not text:
        return None
    starts = []
    for command in BOXED_COMMANDS:
        starts += [m.start() for m in re.finditer(re.escape(command) + r"(?![A-Za-z])", text)]
    for start in sorted(starts, reverse=True):
        rest_index = start + len("\\boxed" if text.startswith("\\boxed", start) else "\\fbox")
        while rest_index < len(text) and text[rest_index] == " ":
            rest_index += 1
        if rest_index < len(text) and text[rest_index] == "{":
            content = _balanced_braces(text, rest_index)
            if content is not None and content.strip():
                return content.strip()
        else:
            match = re.match(r"\s*([^\s$]+)", text[rest_index:])
            if match:
                return match.group(1).rstrip(".,")
    return None


def text_after_marker(text: str) -> str | None:
    """Text after the last ``Final Answer:`` / ``Answer:`` marker: its first paragraph, stripped."""
    if not text:
        return None
    matches = list(ANSWER_MARKER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].strip()
    paragraph = re.split(r"\n\s*\n", rest, maxsplit=1)[0].strip()
    return paragraph[:MAX_MARKER_ANSWER_CHARS] or None


def is_bare_answer(text: str) -> bool:
    """One short paragraph: what a model writes when its answer is just the answer."""
    stripped = text.strip()
    return bool(stripped) and "\n\n" not in stripped and len(stripped) <= MAX_MARKER_ANSWER_CHARS


def _optional_text(record: dict, key: str) -> str | None:
    """``record[key]`` when it is a string or None; anything else is a clear error."""
    value = record[key]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"record {record.get('id')!r}: {key} must be a string, got {type(value).__name__}")
    return value


def response_text(record: dict) -> str:
    """The text to grade for one input line.

    A generation shard carries ``answer_text`` (the answer phase); a user file carries
    ``response``. When the answer phase was prompted with a marker (the engine appended
    ``Final Answer:`` after a thinking phase cut at its cap, as s1 does), the marker sits in
    ``answer_prefix_text`` (or at the end of ``full_text``, just before ``answer_text``): it is
    put back so that "text after the marker" still applies. A thinking phase that ended by
    itself is followed by the answer header ``<|im_start|>answer`` only; a bare answer after
    it (one short paragraph, e.g. ``9``) counts as the text after a marker as well.
    """
    if "answer_text" in record:
        answer = _optional_text(record, "answer_text")
        if answer is None:
            return ""
        # The engine records the text spliced between thinking and answer (answer_prefix_text);
        # older shards only have full_text, which ends with prefix + answer.
        prefix = record.get("answer_prefix_text")
        if not isinstance(prefix, str):
            full = record.get("full_text")
            prefix = full[: len(full) - len(answer)] if isinstance(full, str) and answer and full.endswith(answer) else ""
        if ANSWER_MARKER.search(answer) or last_boxed(answer) is not None:
            return answer
        marker = re.search(r"(?:final\s+answer|answer)\s*:\s*$", prefix.rstrip()[-40:], re.IGNORECASE)
        if marker:
            return marker.group(0) + " " + answer
        # The answer-phase header of the s1 format marks the answer too: a bare, short answer
        # after it ("9", "C") is the answer itself. Longer text is left to the usual rules.
        if ANSWER_HEADER.search(prefix) and is_bare_answer(answer):
            return "Answer: " + answer.strip()
        return answer
    if "response" in record:
        return _optional_text(record, "response") or ""
    raise ValueError(
        f"record {record.get('id')!r} has neither 'response' nor 'answer_text'; keys: {sorted(record)}"
    )


def gold_value(record: dict, benchmark: str) -> str:
    """The gold answer of one input line (GPQA: the letter, from ``gold_letter`` or ``gold``)."""
    keys = ("gold_letter", "gold") if benchmark == "gpqa" else ("gold",)
    for key in keys:
        value = record.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    raise ValueError(f"record {record.get('id')!r}: missing gold answer (looked for {', '.join(keys)})")
