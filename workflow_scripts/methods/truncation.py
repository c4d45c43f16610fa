"""Truncation(B): think with at most B tokens, then answer (see :mod:`workflow_scripts.decoding.pipeline`).

On the base model (no thinking format) B caps the whole one-phase response instead.
"""

from __future__ import annotations

from workflow_scripts.decoding.pipeline import think_then_answer
from workflow_scripts.methods.base import BudgetMethod, section_schema


class Truncation(BudgetMethod):
    name = "truncation"
    label = "truncation"
    colour = "#0173b2"
    schema = section_schema(
        {"budgets": {"$ref": "#/definitions/budget_list", "default": [500, 1000, 2000, 4000, 8000, "unbounded"]}})

    def think(self, ctx, records, spec):
        return think_then_answer(ctx, records, spec)

    def describe(self, section):
        return (f"*truncation*: thinking is cut at a budget of {', '.join(map(str, section['budgets']))} tokens, "
                "then `Final Answer:` is appended and the answer is generated")


METHOD = Truncation()
