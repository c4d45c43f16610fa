"""Truncation(B): think with at most B tokens, then answer (see :mod:`pipeline`)."""

from __future__ import annotations

from workflow_scripts.generation.pipeline import think_then_answer


def truncation(ctx, records, spec):
    return think_then_answer(ctx, records, spec)
