"""What a job generates: its method spec (from the CLI) and the dispatch to its method.

The method itself comes from the registry (:mod:`workflow_scripts.methods`). A model's format
comes from its ``generation.models`` entry (``--prompt-format``): ``think`` models use the
thinking format; ``direct`` ones (the base model by default) get the plain chat prompt and
answer in one phase, as s1 evaluated Qwen2.5-Instruct: the budget caps the whole response and
the thinking fields stay empty (``answer_tokens`` is the cost).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workflow_scripts.config.grid import ShardSpec
from workflow_scripts.config.models import default_format
from workflow_scripts.decoding.budgets import parse_budget
from workflow_scripts.decoding.seeds import sample_seed, seeded_samples
from workflow_scripts.errors import UserError
from workflow_scripts.methods import get_method

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # as the schema's generation.models names
PROMPT_FORMATS = ("think", "direct")
COMMON_FIELDS = ("model", "method", "setting", "budget", "n", "forcing_string", "class_prompt", "prompt_format")


class MethodError(UserError):
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
    prompt_format: str  # "think" or "direct"
    options: tuple[tuple[str, Any], ...] = ()  # method-specific parameters beyond the common fields
    samples: int = 1  # generation.samples of a repeatable method (sample j seeded from (seed, question, j))
    temperature: float = 0.0  # generation.temperature / top_p of a repeatable method (0 = greedy)
    top_p: float = 1.0

    @classmethod
    def from_cli(cls, model_name: str, method: str, setting: str, settings: dict[str, Any],
                 prompt_format: str | None = None) -> "MethodSpec":
        if not MODEL_NAME.match(model_name):
            raise MethodError(f"--model-name must match {MODEL_NAME.pattern}, got {model_name!r}")
        prompt_format = prompt_format or default_format(model_name)
        if prompt_format not in PROMPT_FORMATS:
            raise MethodError(f"--prompt-format must be one of {PROMPT_FORMATS}, got {prompt_format!r}")
        try:
            shard = ShardSpec.from_wildcards(model_name, method, setting)
            definition = get_method(method)
            if prompt_format == "direct" and not definition.direct_format:
                raise MethodError(definition.direct_error or f"{method} needs the thinking format")
            fields = definition.spec_fields(shard.params, settings.get(method) or {})
            fields["budget"] = parse_budget(fields["budget"])
            if definition.repeatable:  # the others draw their own samples (parallel, rejection sampling)
                # settings the caller left out keep the fields' one greedy pass
                casts = {"samples": int, "temperature": float, "top_p": float}
                fields.update({key: cast(settings[key]) for key, cast in casts.items() if key in settings})
        except MethodError:
            raise
        except ValueError as error:
            raise MethodError(str(error)) from None
        return cls(model=model_name, method=method, setting=setting, prompt_format=prompt_format, **fields)

    @property
    def sampled(self) -> bool:
        """Whether the run samples (``generation.temperature``, or a method's own temperature)."""
        return bool(self.temperature) or bool(dict(self.options).get("temperature"))

    def option(self, key: str) -> Any:
        return dict(self.options)[key]

    def as_dict(self) -> dict[str, Any]:
        """The spec as stored in job.json and hashed into the resume key; the method-specific
        options sit beside the common fields (none for truncation, forcing, class-conditional),
        and the repeated-sample settings once they differ from one greedy pass (so the greedy
        runs' keys are those from before ``generation.samples`` existed)."""
        sampling = ({"samples": self.samples, "temperature": self.temperature, "top_p": self.top_p}
                    if (self.samples, self.temperature) != (1, 0.0) else {})
        return {**{key: getattr(self, key) for key in COMMON_FIELDS}, **dict(self.options), **sampling}

    def sample_records(self, records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
        """One record per sample to generate: k copies (``sample`` j, ``sample_seed`` from (seed,
        question, j), :mod:`workflow_scripts.decoding.seeds`) with generation.samples k > 1; with
        sampling at k = 1 the seed alone; else as given."""
        if self.samples > 1:
            return seeded_samples(records, self.samples, seed)
        if self.temperature:
            return [{**r, "sample_seed": sample_seed(seed, r["dataset"], r["id"], 0)} for r in records]
        return list(records)


def generate_samples(ctx, records: list[dict[str, Any]], spec: MethodSpec) -> list[dict[str, Any]]:
    """Samples for ``records`` (one batch across datasets), in record order."""
    return get_method(spec.method).generate(ctx, records, [spec])[0]
