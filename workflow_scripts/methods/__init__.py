"""The method registry: every test-time scaling method, by name.

Adding a method = one module here (a :class:`~workflow_scripts.methods.base.Method`) and one
line below. The config schema's method sections, the evaluation grid, the Snakefile's
wildcard constraints, the generation CLI and the analysis read this dict
(docs/adding-a-method.md).
"""

from __future__ import annotations

from workflow_scripts.methods import (budget_forcing, class_conditional, parallel, rejection_sampling, step_conditional,
                                      token_conditional, truncation)
from workflow_scripts.methods.base import Method

METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        truncation.METHOD,
        budget_forcing.METHOD,
        class_conditional.METHOD,
        token_conditional.METHOD,
        token_conditional.FORCING,
        step_conditional.METHOD,
        step_conditional.FORCING,
        rejection_sampling.METHOD,
        parallel.METHOD,
    )
}


def get_method(name: str) -> Method:
    """The registered method ``name``; ValueError listing the known ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; registered methods: {', '.join(METHODS)}") from None


def method_constraint() -> str:
    """Snakefile wildcard constraint for ``{method}``."""
    return "|".join(METHODS)


def setting_constraint() -> str:
    """Snakefile wildcard constraint for ``{setting}``: any registered method's setting."""
    return "|".join(f"(?:{method.setting_regex})" for method in METHODS.values())


__all__ = ["METHODS", "Method", "get_method", "method_constraint", "setting_constraint"]
