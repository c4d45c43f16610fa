"""Class-conditional control (short | long): s1's prompt appended to the user turn, thinking
bounded only by the context (see :data:`workflow_scripts.decoding.prompts.CLASS_PROMPTS`). Setting ``short``."""

from __future__ import annotations

from workflow_scripts.decoding.budgets import UNBOUNDED
from workflow_scripts.decoding.pipeline import think_then_answer
from workflow_scripts.methods.base import Method, SettingField, section_schema

PROMPTS = ("short", "long")


class ClassConditional(Method):
    name = "class_conditional"
    label = "class-conditional"
    colour = "#029e73"
    schema = section_schema({"prompts": {"description": "an empty list runs none", "type": "array", "uniqueItems": True,
                                         "items": {"enum": list(PROMPTS)}, "default": list(PROMPTS)}})
    setting_format = "{prompt}"
    setting_fields = {"prompt": SettingField("|".join(PROMPTS), str, " or ".join(PROMPTS))}
    control_kind = "class_prompts"

    def runs(self, section, budgets=None):
        for prompt in section["prompts"]:
            yield {"prompt": prompt}

    def spec_fields(self, params, settings):
        return {**super().spec_fields(params, settings), "budget": UNBOUNDED, "class_prompt": params["prompt"]}

    def think(self, ctx, records, spec):
        if spec.class_prompt not in PROMPTS or spec.budget != UNBOUNDED:
            raise ValueError(f"class-conditional runs need prompt short|long and an unbounded budget, got {spec}")
        return think_then_answer(ctx, records, spec)

    def describe(self, section):
        return "*class-conditional*: a \"short\" or \"long\" thinking instruction in the prompt, no budget"


METHOD = ClassConditional()
