"""MATH500 grading: read the final answer, check it against the gold with math-verify.

Reading: the final statement (docs/grading.md): a box's content, or the answer clause of a
marker's text. Prose ("the total is 204 minutes") is passed to math-verify as text, which
finds the number in it; a bare expression is wrapped as LaTeX (``$...$``). A statement
naming two different answers is a hedge, unless the gold itself lists several values
(``-2, 2``), when "2 or -2" is that list.

Equivalence: math-verify 0.9 (``parse`` + ``verify``) with the gold wrapped as LaTeX
``$gold$``; if math-verify says no (or cannot parse, or runs out of time) the normalised
strings are compared (:func:`normalise_answer`).

math-verify's own timeouts use ``signal.alarm`` (whole seconds, main thread only) and its
``parse`` swallows its own timeout as "nothing parsed", so they are switched off
(``parsing_timeout=None``, ``timeout_seconds=None``). :func:`math_verify_equivalent`
bounds the calls with an interval timer whose exception is not an ``Exception`` (so
math-verify's ``except Exception`` cannot swallow it); the grading worker
(:mod:`workflow_scripts.grading.worker`) runs everything in its main thread and kills
the whole record at its deadline should anything still hang.
"""

from __future__ import annotations

import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from workflow_scripts.grading.extraction import Statement
from workflow_scripts.grading.final_answer import (
    HEDGED, Reading, alternatives, answer_clause, read_final_answer,
)

DEFAULT_VERIFY_TIMEOUT_S = 10.0

# Words that are mathematics, not prose, when written without a backslash.
_MATH_WORDS = {"sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "inf", "infty",
               "mod", "gcd", "lcm", "max", "min", "deg", "arcsin", "arccos", "arctan", "i", "e"}
_PROSE_WORD = re.compile(r"(?<![A-Za-z\\{])[A-Za-z]{2,}(?![A-Za-z])")  # not a command, not an environment name
_TEXT_GROUP = re.compile(r"\\(?:text|textbf|mathrm|mbox|mathbf|operatorname)\s?\{[^{}]{0,200}\}")
_STOP_WORDS = {"the", "a", "an", "answer", "correct", "right", "wrong", "true", "false", "value", "result",
               "it", "this", "that", "final", "above", "below", "same"}


def is_prose(answer: str) -> bool:
    """Words outside math delimiters and text groups: the answer is a sentence, not LaTeX."""
    outside = re.sub(r"\$[^$]{0,1000}\$", " ", _TEXT_GROUP.sub(" ", answer))
    return any(word.lower() not in _MATH_WORDS for word in _PROSE_WORD.findall(outside))


def math_verify_input(answer: str) -> str:
    """What math-verify reads: text as it is (prose or already delimited), else ``$answer$``."""
    if re.search(r"(?<!\\)\$|\\\(|\\\[", answer) or is_prose(answer):
        return answer
    return f"${answer}$"


def _has_value(text: str) -> bool:
    """A value, as a weak statement ("the answer is ...") or a conclusion ("x is ...") must
    carry one: a number, some LaTeX, or a name ("Evelyn", "New York"); "reasonable" is no value."""
    if re.search(r"[\d\\$]", text):
        return True
    if len(text) > 60:
        return False  # a name is a few words, not a sentence
    words = re.findall(r"[A-Za-z]+", text)
    return 0 < len(words) <= 3 and all(w[0].isupper() and w.lower() not in _STOP_WORDS for w in words)


def _said(text: str) -> bool:
    return bool(re.search(r"[A-Za-z0-9\\$]", text))


def gold_lists_values(gold: str) -> bool:
    """Whether the gold answer is several values (a top-level comma, ``\\cup``): then "or" lists them."""
    if "\\cup" in gold:
        return True
    depth = 0
    for index, char in enumerate(gold):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            thousands = re.fullmatch(r"\d{3}", gold[index + 1 : index + 4]) and (index and gold[index - 1].isdigit())
            if not thousands:
                return True
    return False


_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox|mathbf)\s?\{([^{}]{0,1000})\}")


def normalise_answer(answer: str) -> str:
    """A canonical string for the fallback comparison (Hendrycks-MATH style clean-up).

    Drops math delimiters, spacing commands, ``\\left``/``\\right``, text wrappers, degree
    signs, percent signs, ``dfrac``/``tfrac``, a leading ``x =``, trailing periods,
    whitespace and case.
    """
    text = answer.strip()
    text = text.replace("\\$", "").replace("$", "")  # escaped dollar (currency) first
    text = _TEXT_WRAPPERS.sub(r"\1", text)
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    for token in ("\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\ ", "\\displaystyle"):
        text = text.replace(token, "")
    text = re.sub(r"\^\s?\{?\\circ\}?", "", text)
    text = text.replace("\\%", "").replace("%", "")
    text = re.sub(r"^\s{0,20}[a-zA-Z]\s{0,20}=", "", text)  # "x = 5" -> "5"
    text = "".join(text.split())
    text = text.rstrip(".")
    # \frac12 -> \frac{1}{2}
    text = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", text)
    return text.lower()


def same_answer(first: str, other: str, timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> bool:
    """Two readings of one statement that are the same value (``15\\frac{39}{40}`` or ``\\frac{639}{40}``)."""
    if normalise_answer(first) == normalise_answer(other):
        return True
    status, equivalent = math_verify_equivalent(first.replace("$", ""), math_verify_input(other), timeout_s)
    return equivalent


def _read(statement: Statement, gold: str, timeout_s: float) -> Reading | None:
    if statement.kind == "box":
        parts = [c for _, c in statement.joined] + [statement.content]
        if len(parts) == 1:
            parts = alternatives(statement.content)
    else:
        if not statement.strong and not _has_value(statement.content):
            return None  # cheap to tell: "the answer is reasonable" names no value
        clause = answer_clause(statement.content, _has_value, said=_said)
        if not clause or (not statement.strong and not _has_value(clause)):
            return None
        parts = alternatives(clause)
    if len(parts) == 1:
        return Reading(parts[0], None, statement.kind)
    if gold_lists_values(gold):
        return Reading(", ".join(parts), None, statement.kind)
    if all(same_answer(parts[0], other, timeout_s) for other in parts[1:]):
        return Reading(parts[-1], None, statement.kind)
    return Reading(None, HEDGED, statement.kind)


def read_math_answer(text: str, gold: str = "", verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> Reading:
    """The final answer of a MATH response (``gold`` only tells whether "or" lists values)."""
    return read_final_answer(text, lambda statement: _read(statement, gold, verify_timeout_s))


def extract_math_answer(text: str) -> str | None:
    """The final answer string of ``text`` (e.g. a reference solution's last box), else None."""
    return read_math_answer(text).answer


class VerifyTimeout(BaseException):
    """Raised by the interval timer inside math-verify; a BaseException so that math-verify's
    ``except Exception`` blocks let it through."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`VerifyTimeout` after ``seconds`` (main thread only; elsewhere no limit:
    the grading worker's record deadline is the bound there)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    state = {"active": True}

    def expire(signum, frame):
        if state["active"]:
            raise VerifyTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def math_verify_equivalent(gold: str, prediction: str, timeout_s: float) -> tuple[str, bool]:
    """(status, equivalent) from math-verify; status is ok, timeout or error."""
    import logging

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # the "timeout disabled" warning is expected
    try:
        with time_limit(timeout_s):
            gold_parsed = parse(f"${gold}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None)
            pred_parsed = parse(prediction, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                                parsing_timeout=None)
            verdict = bool(gold_parsed and pred_parsed and verify(gold_parsed, pred_parsed, timeout_seconds=None))
    except VerifyTimeout:
        return "timeout", False
    except Exception:  # noqa: BLE001 - a sympy crash on one answer must not end the run
        return "error", False
    return "ok", verdict


@dataclass
class Verdict:
    equivalent: bool
    method: str  # "math_verify", "string", "timeout+string", "error+string"


def check_math(gold: str, extracted: str, timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> Verdict:
    """Is the extracted answer equivalent to the gold answer?"""
    status, equivalent = math_verify_equivalent(gold, math_verify_input(extracted), timeout_s)
    if equivalent:
        return Verdict(True, "math_verify")
    same_string = normalise_answer(gold) == normalise_answer(extracted) and normalise_answer(gold) != ""
    if same_string:
        return Verdict(True, "string" if status == "ok" else f"{status}+string")
    return Verdict(False, "math_verify" if status == "ok" else f"{status}+string")


def grade_math(response: str, gold: str, verify_timeout_s: float = DEFAULT_VERIFY_TIMEOUT_S) -> dict:
    """Grade one MATH response: ``extracted``, ``correct``, ``parse_failed``, ``parse_reason``,
    ``grade_method`` and ``answer_source``."""
    reading = read_math_answer(response, gold, verify_timeout_s)
    if reading.answer is None:
        return reading.graded()
    verdict = check_math(gold, reading.answer, verify_timeout_s)
    return reading.graded(reading.answer, verdict.equivalent, verdict.method)

