"""Quality filters: missing fields and API errors, Gemini-wrong answers, formatting problems.

Each check returns, per row, the drop reason (or None) and a short detail for the audit.
Reason names are shared with the synthetic world's planted rows.
"""

from __future__ import annotations

import re
from typing import Callable

import pandas as pd

# Fields a row needs before anything else can be judged.
NEEDED_FIELDS = ("question", "thinking", "attempt", "source_type", "domain", "qwen7b_correct",
                 "qwen32b_correct", "trace_tokens")

# A failed API call leaves its error message in the trace or the attempt. Anchored at the
# start of the field: a real trace may discuss "errors" but does not open with an error report.
API_ERROR = re.compile(
    r"^\s*(?:"
    r"\[?(?:api[ _]?)?error\]?\s*[:\-\d(]"          # "Error: ...", "API error: ...", "[ERROR] - ..."
    r"|api[ _]error\b"
    r"|an? (?:unexpected |internal )?error (?:has )?occurred"
    r"|error code\b"
    r"|exception\b"
    r"|traceback \(most recent call last\)"
    r"|(?:http )?(?:4\d\d|5\d\d)\s+(?:internal server error|service unavailable|bad gateway|too many requests|gateway timeout|resource[_ ]exhausted)"
    r"|internal server error|service unavailable|bad gateway|gateway timeout"
    r"|rate limit|too many requests|quota exceeded"
    r"|resource[_ ]exhausted|deadline[_ ]exceeded|request timed out|timed out"
    r"|\{\s*\"error\""
    r"|response blocked|blocked (?:due to|by) safety|finish_reason\s*[:=]\s*\"?(?:safety|recitation|other)"
    r")",
    re.IGNORECASE,
)


def missing_or_api_error(row) -> tuple[str, str] | None:
    """(reason, detail) for a row with an absent/empty needed field or an API error message."""
    for field in NEEDED_FIELDS:
        value = row[field]
        if value is None or (isinstance(value, str) and not value.strip()):
            return "missing_field", f"{field} is missing or empty"
    for field in ("thinking", "attempt"):
        match = API_ERROR.match(row[field][:400])
        if match:
            return "api_error", f"{field} starts with {row[field][:80].strip()!r}"
    return None


def gemini_wrong(row) -> tuple[str, str] | None:
    if row["gemini_correct"] is None:
        return "missing_field", "gemini_correct is missing (no label, and none could be derived)"
    if not row["gemini_correct"]:
        return "gemini_wrong", "the attempt does not match the solution"
    return None


# --- formatting -----------------------------------------------------------------------------

_ASY_BLOCK = re.compile(r"\[asy\].*?(?:\[/asy\]|$)", re.IGNORECASE | re.DOTALL)
_IMAGE = re.compile(
    r"!\[[^\]\n]*\]"                     # markdown image, s1's "![Image]" and friends
    r"|<img\b"                           # html image
    r"|\\includegraphics\b"
    r"|\[(?:image|figure|diagram|picture)(?:\s*\d*)?\]",  # placeholders like [image], [Figure 2]
    re.IGNORECASE,
)
# s1 tested `f"p{i}." in question` for i in 1..999: a substring test that also fires inside
# words ("step1.", "group2.") and on variables ending a sentence ("... and p2."). Here "p<number>."
# must open a line (contest numbering such as "p3. Let n be ..."), optionally bold, not a decimal.
_NUMBERING = re.compile(r"^[ \t>*#-]*p[1-9][0-9]{0,2}\.(?![0-9])", re.MULTILINE)
# Bold runs holding a number: "**12**", "**(3)**", "**1a**". s1's lookahead `(?=.*\d)` looked for a
# digit anywhere later in the line, so "**Note**: ... 3" also matched; the digit must be inside.
_BOLD_NUMBER = re.compile(r"\*\*[^\s*\]]*\d[^\s*\]]*\*\*")
_FIGURE_WORD = r"(?:figure|diagram|picture|image|illustration|drawing|graph|sketch|fig\.)"
_MISSING_FIGURE = re.compile(
    rf"\b{_FIGURE_WORD}s?\s+(?:below|above|shown|provided|attached|given\s+below|on\s+the\s+(?:right|left)|to\s+the\s+(?:right|left))\b"
    # "the reactions shown below" refers to text; only picture verbs, or "shown in the figure", count.
    rf"|\b(?:pictured|depicted|illustrated|drawn|sketched)\s+(?:below|above)"
    rf"|\b(?:shown|pictured|depicted|illustrated|drawn|sketched)\s+in\s+the\s+{_FIGURE_WORD}"
    rf"|\b(?:see|refer\s+to|in|from|on)\s+the\s+(?:accompanying\s+|following\s+|given\s+|adjacent\s+)?(?:figure|diagram|picture|illustration|drawing|fig\.)(?!\s+(?:skat\w*|of\s+speech|eight|8))"
    rf"|\b(?:see|in)\s+fig(?:ure|\.)\s*\d"
    rf"|\bfig(?:ure|\.)\s*\d+\s+(?:shows|below|above)",
    re.IGNORECASE,
)
# Characters ASCII-art diagrams are drawn with.
_DRAWING = "|/\\_-+=*#<>^~.:'`o"
_DELETE_DRAWING = str.maketrans("", "", _DRAWING)


def _is_drawing_line(line: str) -> bool:
    cells = line.replace(" ", "").replace("\t", "")
    if len(cells) < 2:
        return False
    drawing = len(cells) - len(cells.translate(_DELETE_DRAWING))
    # Mostly strokes: several of them, or a few laid out with spaces, or a short stroke-only line.
    return drawing >= 2 and drawing / len(cells) >= 0.6 and (drawing >= 3 or "  " in line.strip() or len(cells) <= 3)


def _is_label_line(line: str) -> bool:
    """A vertex label such as "  A" or " B   C" between strokes: neither breaks nor makes a drawing."""
    cells = line.replace(" ", "")
    return 0 < len(cells) <= 3 and cells.isalnum()


def _is_box_row(line: str) -> bool:
    """A row between vertical bars, as in a grid drawn with +---+ borders (or a markdown table)."""
    stripped = line.strip()
    return len(stripped) >= 3 and stripped[0] == "|" and stripped[-1] == "|"


# "+---+" corners mark a drawn box; markdown tables use "|---|" and never "+".
_BOX_BORDER = re.compile(r"\+[-=]{2,}\+")


def _is_diagram(block: list[str]) -> bool:
    strokes = sum(_is_drawing_line(line) for line in block)
    return len(block) >= 3 and (strokes >= 3 or any(_BOX_BORDER.search(line) for line in block))


def ascii_art(question: str) -> str | None:
    """Three or more consecutive diagram lines outside [asy] code: stroke-drawn lines, or a grid with
    +---+ borders. Markdown tables and LaTeX arrays are not drawings."""
    if question.count("\n") < 2:
        return None
    block: list[str] = []
    for line in _strip_asy(question).splitlines() + [""]:
        if block and _is_label_line(line):
            continue
        stroke = line.strip() and _is_drawing_line(line) and "$" not in line and "\\\\" not in line
        if stroke or _is_box_row(line):
            block.append(line)
            continue
        if _is_diagram(block):
            return block[0].strip()
        block = []
    return None


def _matches(pattern: re.Pattern) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        match = pattern.search(text)
        return match.group(0) if match else None
    return check


def _strip_asy(text: str) -> str:
    return _ASY_BLOCK.sub("\n", text) if "[asy" in text.lower() else text


def _without_asy(check: Callable[[str], str | None]) -> Callable[[str], str | None]:
    return lambda text: check(_strip_asy(text))


# Cheap substring screen before the missing-figure regex (every alternative contains one of these).
_FIGURE_HINTS = ("fig", "diagram", "picture", "image", "illustrat", "drawing", "graph", "sketch", "depicted", "drawn")


def missing_figure(question: str) -> str | None:
    """A reference to a figure when the question carries none ([asy] code counts as a figure)."""
    lowered = question.lower()
    if "[asy]" in lowered or not any(hint in lowered for hint in _FIGURE_HINTS):
        return None
    return _matches(_MISSING_FIGURE)(question)


# Order matters only for which reason a row gets when several apply; counts are per first match.
FORMAT_RULES: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("format_image", _matches(_IMAGE)),
    ("format_numbering", _without_asy(_matches(_NUMBERING))),
    ("format_bold_numbers", _matches(_BOLD_NUMBER)),
    ("format_ascii_art", ascii_art),
    ("format_missing_figure", missing_figure),
)


def source_matches(source: str | None, patterns: list[str] | tuple[str, ...]) -> bool:
    """Case-insensitive substring match of a source_type against configured patterns."""
    if not source:
        return False
    lowered = source.lower()
    return any(p.lower() in lowered for p in patterns)


def format_problem(question: str, source_type: str | None, asy_allowed_sources) -> tuple[str, str] | None:
    """(reason, matched text) for the first formatting problem of a question, else None."""
    if "[asy]" in question.lower() and not source_matches(source_type, asy_allowed_sources):
        return "format_asy", "[asy]"
    for reason, check in FORMAT_RULES:
        found = check(question)
        if found:
            return reason, found[:120]
    return None


def format_problems(frame: pd.DataFrame, asy_allowed_sources) -> list[tuple[str, str] | None]:
    return [format_problem(q, s, asy_allowed_sources) for q, s in zip(frame["question"], frame["source_type"])]
