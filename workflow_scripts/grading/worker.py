"""Grade records in a worker process, each under a deadline.

Every extraction step is linear, but a record's whole grading (reading the answer, and
for MATH500 math-verify's sympy work) still gets a hard bound: :class:`Grader` sends the
record to a worker process and waits ``record_timeout_s``; past it the worker is killed
and restarted, and the record is graded ``parse_failed`` with the reason ``timeout``.
The job goes on with the next record. math-verify inside the worker has its own, shorter
limit (``verify_timeout_s``), after which the string comparison still decides.
"""

from __future__ import annotations

import atexit
import multiprocessing

from workflow_scripts.grading.extraction import text_to_grade
from workflow_scripts.grading.final_answer import CRASHED, TIMEOUT
from workflow_scripts.grading.settings import GRADING_DEFAULTS

STARTUP_TIMEOUT_S = 120.0  # importing sympy and math-verify; not part of any record's deadline


def grade_in_process(benchmark: str, response: str, gold: str, verify_timeout_s: float) -> dict:
    """Grade one response here, without a deadline (the worker's job; tests call it directly)."""
    if benchmark == "math500":
        from workflow_scripts.grading.math_answers import grade_math

        return grade_math(response, gold, verify_timeout_s)
    if benchmark == "aime24":
        from workflow_scripts.grading.aime_answers import grade_aime

        return grade_aime(response, gold)
    if benchmark == "gpqa":
        from workflow_scripts.grading.gpqa_answers import grade_gpqa

        return grade_gpqa(response, gold)
    raise ValueError(f"no grader for {benchmark!r}")


def _serve(connection) -> None:
    """Worker loop: ("load",) imports math-verify; ("grade", ...) grades; None stops."""
    import workflow_scripts.grading.aime_answers  # noqa: F401 - imported before "ready": start-up
    import workflow_scripts.grading.gpqa_answers  # noqa: F401   is not part of any record's deadline
    import workflow_scripts.grading.math_answers  # noqa: F401

    connection.send(("ready",))
    while True:
        request = connection.recv()
        if request is None:
            return
        if request[0] == "load":
            import math_verify  # noqa: F401 - sympy's import is the slow part of start-up

            connection.send(("ready",))
            continue
        _, benchmark, response, gold, verify_timeout_s = request
        try:
            if isinstance(response, tuple):  # a record's (answer, prefix): assembled here, under the deadline
                response = text_to_grade(*response)
            grade = grade_in_process(benchmark, response, gold, verify_timeout_s)
        except Exception as error:  # noqa: BLE001 - reported to the parent, which names the record
            connection.send(("error", f"{type(error).__name__}: {error}"))
            continue
        # A math-verify call cut by its timer may leave sympy's caches half-built: start afresh.
        connection.send(("ok", grade, grade.get("grade_method", "").startswith("timeout")))


def timeout_grade() -> dict:
    return {"extracted": None, "correct": False, "parse_failed": True, "parse_reason": TIMEOUT,
            "grade_method": "none", "answer_source": "none"}


class Grader:
    """Graders in a worker process with a per-record deadline (use as a context manager)."""

    def __init__(self, record_timeout_s: float = GRADING_DEFAULTS["record_timeout_s"],
                 verify_timeout_s: float = GRADING_DEFAULTS["verify_timeout_s"]):
        for name, value in (("record_timeout_s", record_timeout_s), ("verify_timeout_s", verify_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.record_timeout_s = float(record_timeout_s)
        self.verify_timeout_s = float(verify_timeout_s)
        self.timeouts = 0  # records cut at the deadline
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self._process = None
        self._connection = None
        self._math_loaded = False

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._connection = parent
        self._math_loaded = False
        self._await_ready("start")

    def _await_ready(self, what: str) -> None:
        if not self._connection.poll(STARTUP_TIMEOUT_S):
            self._stop(kill=True)
            raise RuntimeError(f"the grading worker did not {what} within {STARTUP_TIMEOUT_S} s")
        self._connection.recv()

    def _load_math(self) -> None:
        self._connection.send(("load",))
        self._await_ready("import math-verify")
        self._math_loaded = True

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

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def grade(self, benchmark: str, response: str | tuple[str, str | None], gold: str) -> dict:
        """The grade of one response (canonical benchmark name, validated gold); ``response``
        may be a record's ``(answer, prefix)`` from :func:`~workflow_scripts.grading.extraction.response_parts`."""
        if self._process is None or not self._process.is_alive():
            self._start()
        if benchmark == "math500" and not self._math_loaded:
            self._load_math()
        self._connection.send(("grade", benchmark, response, gold, self.verify_timeout_s))
        if not self._connection.poll(self.record_timeout_s):
            self.timeouts += 1
            self._stop(kill=True)
            return timeout_grade()
        try:
            reply = self._connection.recv()
        except EOFError:  # the worker died (e.g. out of memory on a huge expression)
            self._stop(kill=True)
            return {**timeout_grade(), "parse_reason": CRASHED}
        if reply[0] == "error":
            raise RuntimeError(f"the grader failed: {reply[1]}")
        _, grade, restart = reply
        if restart:
            self._stop(kill=False)
        return grade


_SHARED: Grader | None = None


def shared_grader() -> Grader:
    """One worker per process with the default deadlines, closed at exit."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Grader()
        atexit.register(_SHARED.close)
    return _SHARED
