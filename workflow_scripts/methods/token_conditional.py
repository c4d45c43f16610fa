"""Token-conditional control: "Think for up to N tokens." (s1, Table 3); N plays the budget.

``token_conditional``: no cap beyond the context, so the model may ignore the instruction;
``token_conditional_forcing``: thinking cut at N tokens. Setting ``T64``.
"""

from __future__ import annotations

from workflow_scripts.methods.base import section_schema
from workflow_scripts.methods.conditional import COUNTS, ConditionalMethod

SCHEMA = section_schema({"budgets": {**COUNTS, "default": [500, 1000, 2000, 4000, 8000],
                                     "description": "N of \"Think for up to N tokens.\" (an empty list runs none)"}})


class TokenConditional(ConditionalMethod):
    name = "token_conditional"
    label = "token-conditional"
    colour = "#cc78bc"
    setting_format = "T{count}"
    unit = "tokens"
    schema = SCHEMA


class TokenConditionalForcing(TokenConditional):
    name = "token_conditional_forcing"
    label = "token-conditional + forcing"
    colour = "#a1527f"
    forced = True


METHOD = TokenConditional()
FORCING = TokenConditionalForcing()
