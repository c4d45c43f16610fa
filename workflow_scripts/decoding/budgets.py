"""Token budgets: how many thinking and answer tokens a sample may use without overflowing.

The thinking limit of a sample is its budget B, or for ``unbounded`` what the context allows
after the prompt, the longest answer transition and the answer reserve. A bounded budget
that the context cannot hold is clamped the same way (and the sample records its limit), so a
sequence never exceeds ``max_model_len``.
"""

from __future__ import annotations

from workflow_scripts.errors import UserError

UNBOUNDED = "unbounded"


class BudgetError(UserError):
    """A budget or context setting cannot be honoured; the message says which."""


def parse_budget(value) -> int | str:
    """``500``, ``"500"`` -> 500; ``"unbounded"`` stays; anything else is an error."""
    if value == UNBOUNDED:
        return UNBOUNDED
    if isinstance(value, bool):
        raise BudgetError(f"a budget must be a positive integer or 'unbounded', got {value!r}")
    try:
        budget = int(value)
    except (TypeError, ValueError):
        raise BudgetError(f"a budget must be a positive integer or 'unbounded', got {value!r}") from None
    if budget < 1 or str(budget) != str(value).strip():
        raise BudgetError(f"a budget must be a positive integer or 'unbounded', got {value!r}")
    return budget


def context_room(*, prompt_len: int, max_model_len: int, reserved: int) -> int:
    """Tokens left for generation once the prompt and ``reserved`` tokens are set aside."""
    room = max_model_len - prompt_len - reserved
    if room < 1:
        raise BudgetError(
            f"no room to generate: prompt of {prompt_len} tokens + {reserved} reserved tokens "
            f">= max_model_len {max_model_len}; raise generation.engine.max_model_len"
        )
    return room


def thinking_limit(budget: int | str, *, prompt_len: int, max_model_len: int, answer_reserve: int,
                   transition_len: int) -> int:
    """Thinking tokens this sample may use: min(B, room) with room what the context allows."""
    room = context_room(prompt_len=prompt_len, max_model_len=max_model_len,
                        reserved=answer_reserve + transition_len)
    budget = parse_budget(budget)
    return room if budget == UNBOUNDED else min(budget, room)


def answer_limit(answer_max_tokens: int, *, sequence_len: int, max_model_len: int) -> int:
    """Answer tokens allowed after ``sequence_len`` tokens (prompt + thinking + transition)."""
    room = max_model_len - sequence_len
    if room < 1:
        raise BudgetError(f"sequence of {sequence_len} tokens leaves no room for an answer (max_model_len {max_model_len})")
    return min(answer_max_tokens, room)
