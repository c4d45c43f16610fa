"""Step-conditional control: "Think for up to N steps." (s1, Table 3).

A step is one blank-line-separated paragraph of thinking; every sample records the steps it
used (``steps_used``). N x ``tokens_per_step`` tokens plays the budget (s1's proxy: 100
tokens a step). ``step_conditional``: no cap beyond the context; ``step_conditional_forcing``:
thinking cut at N x tokens_per_step tokens. Setting ``S4``.
"""

from __future__ import annotations

import re

from workflow_scripts.methods.base import section_schema
from workflow_scripts.methods.conditional import COUNTS, ConditionalMethod

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")  # a blank line (possibly with spaces) between paragraphs
SCHEMA = section_schema({
    "budgets": {**COUNTS, "default": [4, 8, 16, 32, 64],
                "description": "N of \"Think for up to N steps.\" (an empty list runs none)"},
    "tokens_per_step": {"type": "integer", "minimum": 1, "default": 100,
                        "description": "tokens a step stands for: the budget is N x this (s1's proxy: 100)"},
})


def count_steps(thinking: str) -> int:
    """Non-empty blank-line-separated paragraphs (one split: linear time)."""
    return sum(1 for part in PARAGRAPH_BREAK.split(thinking) if part.strip())


class StepConditional(ConditionalMethod):
    name = "step_conditional"
    label = "step-conditional"
    colour = "#ca9161"
    setting_format = "S{count}"
    unit = "steps"
    schema = SCHEMA
    job_keys = ("tokens_per_step",)

    def budget_tokens(self, params, settings):
        return params["count"] * settings["tokens_per_step"]

    def spec_fields(self, params, settings):
        fields = super().spec_fields(params, settings)
        fields["options"] += (("tokens_per_step", settings["tokens_per_step"]),)
        return fields

    def think(self, ctx, records, spec):
        samples = super().think(ctx, records, spec)
        for sample in samples:
            sample["steps_used"] = count_steps(sample["thinking_text"])
        return samples


class StepConditionalForcing(StepConditional):
    name = "step_conditional_forcing"
    label = "step-conditional + forcing"
    colour = "#8c6239"
    forced = True


METHOD = StepConditional()
FORCING = StepConditionalForcing()
