"""Class-conditional control (short | long): s1's prompt appended to the user turn, thinking
bounded only by the context (see :data:`prompts.CLASS_PROMPTS`)."""

from __future__ import annotations

from workflow_scripts.generation.pipeline import think_then_answer


def class_conditional(ctx, records, spec):
    if spec.class_prompt not in ("short", "long") or spec.budget != "unbounded":
        raise ValueError(f"class-conditional runs need prompt short|long and an unbounded budget, got {spec}")
    return think_then_answer(ctx, records, spec)
