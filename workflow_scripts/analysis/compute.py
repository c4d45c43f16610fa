"""Compute tokens: the one token axis of the analysis (see ``metrics`` for the definition).

A sample's thinking tokens when it thinks (``prompt_format: think``), its whole response's
tokens when it answers directly (``prompt_format: direct``, the base model), as s1 counts a
base model's tokens; the budget caps exactly these tokens.
"""

from __future__ import annotations

import pandas as pd

PROMPT_FORMATS = {"think": "thinking", "direct": "response"}  # prompt_format -> what compute_tokens counts


def compute_tokens(samples: pd.DataFrame) -> pd.Series:
    """Per sample: thinking tokens when it thinks, response tokens when it answers directly."""
    direct = samples["prompt_format"] == "direct"
    tokens = samples["answer_tokens"].where(direct, samples["thinking_tokens"]).astype(float)
    # whole tokens for samples; a majority vote's row holds an expectation over subsets (voting)
    return tokens.astype(int) if (tokens == tokens.round()).all() else tokens
