"""What a job generates: its method spec (from the CLI) and the dispatch to one method.

``sft`` jobs use the thinking format. The base model (no SFT) gets the plain chat prompt
and answers in one phase ("direct" format), as s1 evaluated Qwen2.5-Instruct: its budget
caps the whole response and its thinking fields stay empty (``answer_tokens`` is the cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow_scripts.config.grid import ShardSpec
from workflow_scripts.generation.budgets import UNBOUNDED, parse_budget

MODEL_NAMES = ("sft", "base")


class MethodError(ValueError):
    """The method/setting/settings combination is not runnable; the message says why."""


@dataclass(frozen=True)
class MethodSpec:
    model: str
    method: str
    setting: str
    budget: int | str  # thinking budget (direct format: response budget)
    n: int  # budget-forcing rounds (0 for the other methods)
    forcing_string: str | None
    class_prompt: str | None
    prompt_format: str  # "think" (SFT) or "direct" (base model)

    @classmethod
    def from_cli(cls, model_name: str, method: str, setting: str, settings: dict[str, Any]) -> "MethodSpec":
        if model_name not in MODEL_NAMES:
            raise MethodError(f"--model-name must be one of {MODEL_NAMES}, got {model_name!r}")
        try:
            shard = ShardSpec.from_wildcards(model_name, method, setting)
        except ValueError as error:
            raise MethodError(str(error)) from None
        prompt_format = "think" if model_name == "sft" else "direct"
        forcing_string = None
        if method == "budget_forcing":
            if prompt_format == "direct":
                raise MethodError("budget forcing needs the thinking format; the base model has none "
                                  "(remove budget_forcing from generation.baseline.methods)")
            forcing_string = settings["budget_forcing"]["string"]
            if not isinstance(forcing_string, str) or not forcing_string:
                raise MethodError(f"generation.budget_forcing.string must be a non-empty string, got {forcing_string!r}")
            if shard.n < 1:
                raise MethodError(f"budget forcing needs n >= 1, got setting {setting!r}")
        budget = UNBOUNDED if method == "class_conditional" else parse_budget(shard.budget)
        return cls(model=model_name, method=method, setting=setting, budget=budget, n=shard.n,
                   forcing_string=forcing_string, class_prompt=shard.prompt, prompt_format=prompt_format)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def generate_samples(ctx, records: list[dict[str, Any]], spec: MethodSpec) -> list[dict[str, Any]]:
    """Samples for ``records`` (one batch across datasets), in record order."""
    from workflow_scripts.generation import baseline, budget_forcing, class_conditional, truncation

    if spec.prompt_format == "direct":
        return baseline.direct(ctx, records, spec)
    if spec.method == "truncation":
        return truncation.truncation(ctx, records, spec)
    if spec.method == "budget_forcing":
        return budget_forcing.budget_forcing(ctx, records, spec)
    if spec.method == "class_conditional":
        return class_conditional.class_conditional(ctx, records, spec)
    raise MethodError(f"unknown method {spec.method!r}")
