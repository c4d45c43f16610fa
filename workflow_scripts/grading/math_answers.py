"""MATH500 grading: extract the final answer, check it against the gold with math-verify.

Extraction: the last ``\\boxed{}`` of the response, else the text after the last
``Final Answer:`` / ``Answer:`` marker; nothing found = parse failure (graded wrong).

Equivalence: math-verify 0.9 (``parse`` + ``verify``) with the gold wrapped as LaTeX
``$gold$``; if math-verify says no (or cannot parse, or runs out of time) the
normalised strings are compared (:func:`normalise_answer`).

math-verify's own timeouts use ``signal.alarm``, which only works on the main thread,
so they are switched off (``parsing_timeout=None``, ``timeout_seconds=None``) and the
calls run in a worker process instead: :class:`MathVerifier` waits ``timeout_s``
seconds for an answer and otherwise kills and restarts the worker.
"""

from __future__ import annotations

import atexit
import multiprocessing
import re
from dataclasses import dataclass

from workflow_scripts.grading.extraction import last_boxed, text_after_marker

DEFAULT_TIMEOUT_S = 10.0
STARTUP_TIMEOUT_S = 120.0


def extract_math_answer(text: str) -> str | None:
    """The answer string: last ``\\boxed{}`` content, else the text after the answer marker."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    return text_after_marker(text)


def as_latex(answer: str) -> str:
    """``$answer$`` unless the answer already has math delimiters (marker text often does)."""
    if re.search(r"(?<!\\)\$|\\\(|\\\[", answer):
        return answer
    return f"${answer}$"


_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox|mathbf)\s*\{([^{}]*)\}")


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
    text = re.sub(r"\^\s*\{?\\circ\}?", "", text)
    text = text.replace("\\%", "").replace("%", "")
    text = re.sub(r"^\s*[a-zA-Z]\s*=\s*", "", text)  # "x = 5" -> "5"
    text = re.sub(r"\s+", "", text)
    text = text.rstrip(".")
    # \frac12 -> \frac{1}{2}
    text = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", text)
    return text.lower()


def _worker(connection) -> None:
    """Worker loop: parse and verify pairs until told to stop (None)."""
    import logging

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # the "timeout disabled" warning is expected
    connection.send("ready")
    while True:
        request = connection.recv()
        if request is None:
            return
        gold, prediction = request
        try:
            gold_parsed = parse(f"${gold}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None)
            pred_parsed = parse(
                prediction,
                extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                parsing_timeout=None,
            )
            verdict = bool(gold_parsed and pred_parsed and verify(gold_parsed, pred_parsed, timeout_seconds=None))
            connection.send(("ok", verdict, bool(gold_parsed), bool(pred_parsed)))
        except Exception as error:  # a sympy crash on one answer must not end the run
            connection.send(("error", False, False, False, f"{type(error).__name__}: {error}"))


@dataclass
class Verdict:
    equivalent: bool
    method: str  # "math_verify", "string", "timeout+string", "error+string", "none"


class MathVerifier:
    """math-verify in a worker process with a per-answer deadline.

    Use as a context manager, or call :meth:`close`. ``check`` never hangs longer than
    ``timeout_s`` (plus a restart after a timeout).
    """

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.timeout_s = timeout_s
        self.timeouts = 0
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self._process = None
        self._connection = None

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_worker, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._connection = parent
        # Importing sympy and math-verify takes seconds; the deadline starts after that.
        if not parent.poll(STARTUP_TIMEOUT_S) or parent.recv() != "ready":
            self._stop(kill=True)
            raise RuntimeError(f"the math-verify worker did not start within {STARTUP_TIMEOUT_S} s")

    def _stop(self, kill: bool) -> None:
        if self._process is None:
            return
        if kill:
            self._process.kill()
        else:
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()
        self._process = self._connection = None

    def close(self) -> None:
        self._stop(kill=False)

    def __enter__(self) -> "MathVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def math_verify(self, gold: str, prediction: str) -> tuple[str, bool]:
        """(status, equivalent) from math-verify; status is ok, timeout or error."""
        if self._process is None or not self._process.is_alive():
            self._start()
        self._connection.send((gold, prediction))
        if not self._connection.poll(self.timeout_s):
            self.timeouts += 1
            self._stop(kill=True)
            return "timeout", False
        try:
            reply = self._connection.recv()
        except EOFError:  # the worker died (e.g. out of memory on a huge expression)
            self._stop(kill=True)
            return "error", False
        return reply[0], reply[1]

    def check(self, gold: str, extracted: str) -> Verdict:
        """Is the extracted answer equivalent to the gold answer?"""
        status, equivalent = self.math_verify(gold, as_latex(extracted))
        if equivalent:
            return Verdict(True, "math_verify")
        same_string = normalise_answer(gold) == normalise_answer(extracted) and normalise_answer(gold) != ""
        if same_string:
            return Verdict(True, "string" if status == "ok" else f"{status}+string")
        return Verdict(False, "math_verify" if status == "ok" else f"{status}+string")


_SHARED: MathVerifier | None = None


def shared_verifier() -> MathVerifier:
    """One worker per process, closed at exit."""
    global _SHARED
    if _SHARED is None:
        _SHARED = MathVerifier()
        atexit.register(_SHARED.close)
    return _SHARED


def grade_math(response: str, gold: str, verifier: MathVerifier | None = None) -> dict:
    """Grade one MATH response: ``extracted``, ``correct``, ``parse_failed``, ``grade_method``."""
    extracted = extract_math_answer(response)
    if extracted is None:
        return {"extracted": None, "correct": False, "parse_failed": True, "grade_method": "none"}
    verdict = (verifier or shared_verifier()).check(gold, extracted)
    return {"extracted": extracted, "correct": verdict.equivalent, "parse_failed": False, "grade_method": verdict.method}
