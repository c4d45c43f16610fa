"""Shared by token- and step-conditional control: s1's "Think for up to N <unit>." prompt,
without forcing (thinking bounded only by the context) or, as a method of its own (a row of
s1's Table 3), with forcing (thinking cut at the instructed budget, as truncation does).
Settings ``T64`` (tokens), ``S4`` (steps)."""

from __future__ import annotations

from workflow_scripts.decoding.budgets import UNBOUNDED
from workflow_scripts.decoding.pipeline import think_then_answer
from workflow_scripts.methods.base import COUNT, Method

COUNTS = {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 1}}  # [] runs none


def instruction(count: int, unit: str) -> str:
    """s1's prompt (eval/lm-evaluation-harness/lm_eval/tasks/*/utils.py), after a blank line."""
    return f"Think for up to {count} {unit}."


class ConditionalMethod(Method):
    setting_format = ""  # T{count} | S{count}
    setting_fields = {"count": COUNT}
    unit = ""  # tokens | steps
    forced = False  # thinking cut at the instructed budget
    direct_format = False
    direct_error = "conditional control is defined for the thinking format; the base model has none"

    def runs(self, section, budgets=None):
        for count in section["budgets"]:
            yield {"count": count}

    def sort_key(self, params):
        return (params["count"],)

    def budget_tokens(self, params, settings) -> int:
        """The instructed budget in tokens: Control's and Budget Error's budget, and the cap with forcing."""
        return params["count"]

    def spec_fields(self, params, settings):
        return {**super().spec_fields(params, settings), "budget": self.budget_tokens(params, settings),
                "options": (("instructed", params["count"]), ("instruction", instruction(params["count"], self.unit)))}

    def think(self, ctx, records, spec):
        return think_then_answer(ctx, records, spec, instruction=spec.option("instruction"),
                                 thinking_budget=spec.budget if self.forced else UNBOUNDED)

    def describe(self, section):
        counts = ", ".join(map(str, section["budgets"]))
        cap = ("thinking cut at the instructed budget" if self.forced
               else "no cap beyond the context")
        return f"*{self.label}*: s1's prompt \"Think for up to N {self.unit}.\" for N = {counts}; {cap}"
