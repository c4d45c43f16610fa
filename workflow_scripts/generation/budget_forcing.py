"""Budget forcing(B, n, string): replace up to n natural ends of thinking by the string.

The string's ids (e.g. "Wait") are spliced in as ids and count as thinking tokens; every
round asks only for what is left of B, so thinking never exceeds B (s1 reused the full
budget each round and cut afterwards).
"""

from __future__ import annotations

from workflow_scripts.generation.pipeline import think_then_answer
from workflow_scripts.generation.prompts import encode


def forcing_ids(tokenizer, string: str) -> list[int]:
    """Ids of the forcing string, encoded alone (s1: appended right after the stripped stop)."""
    ids = encode(tokenizer, string)
    if not ids:
        raise ValueError(f"forcing string {string!r} encodes to no tokens")
    return ids


def budget_forcing(ctx, records, spec):
    return think_then_answer(ctx, records, spec, forcing_ids=forcing_ids(ctx.tokenizer, spec.forcing_string),
                             max_waits=spec.n)
