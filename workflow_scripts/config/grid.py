"""The evaluation grid: which generation shards a config asks for, and where they live.

A shard is one (model, dataset, method, setting) combination and one JSONL file:

    results/<run>/generation/<model>/<method>/<setting>/<dataset>.jsonl

``setting`` encodes the method's parameters so that changing one budget only
touches the shards of that budget:

    truncation         B500, Bunbounded
    budget_forcing     B8000-n2
    class_conditional  short, long

One generation job covers all datasets of one (model, method, setting), so the
engine starts once per configuration rather than once per file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

DATASETS = ("math500", "aime24", "gpqa")
METHODS = ("truncation", "budget_forcing", "class_conditional")
UNBOUNDED = "unbounded"

_SETTING = re.compile(r"^B(?P<budget>\d+|unbounded)(?:-n(?P<n>\d+))?$")


@dataclass(frozen=True, order=True)
class ShardSpec:
    model: str
    method: str
    budget: int | str | None = None  # int, "unbounded", or None (class-conditional)
    n: int = 0  # budget-forcing rounds; 0 for other methods
    prompt: str | None = None  # class-conditional prompt: short | long

    @property
    def setting(self) -> str:
        if self.method == "class_conditional":
            return str(self.prompt)
        if self.method == "budget_forcing":
            return f"B{self.budget}-n{self.n}"
        return f"B{self.budget}"

    @property
    def label(self) -> str:
        """Human-readable name used in tables and plots."""
        return f"{self.model}/{self.method}/{self.setting}"

    def path(self, stage_dir: str, dataset: str, suffix: str = "jsonl") -> str:
        return f"{stage_dir}/{self.model}/{self.method}/{self.setting}/{dataset}.{suffix}"

    @classmethod
    def from_wildcards(cls, model: str, method: str, setting: str) -> "ShardSpec":
        if method == "class_conditional":
            if setting not in ("short", "long"):
                raise ValueError(f"class_conditional setting must be short or long, got {setting!r}")
            return cls(model=model, method=method, prompt=setting)
        match = _SETTING.match(setting)
        if match is None or method not in METHODS:
            raise ValueError(f"cannot parse shard setting {setting!r} for method {method!r}")
        budget = match["budget"]
        budget = budget if budget == UNBOUNDED else int(budget)
        if method == "budget_forcing":
            if match["n"] is None:
                raise ValueError(f"budget_forcing setting needs -n<rounds>: {setting!r}")
            return cls(model=model, method=method, budget=budget, n=int(match["n"]))
        if match["n"] is not None:
            raise ValueError(f"{method} setting takes no -n: {setting!r}")
        return cls(model=model, method=method, budget=budget)


def forcing_rounds(n_table: dict[str, Any], budget: int | str) -> list[int]:
    """n values for one budget: the table's entry for that budget, else its default."""
    return list(n_table.get(str(budget), n_table["default"]))


def _method_specs(model: str, method: str, generation: dict[str, Any], budgets=None) -> Iterator[ShardSpec]:
    if method == "truncation":
        for budget in generation["truncation"]["budgets"] if budgets is None else budgets:
            yield ShardSpec(model, method, budget)
    elif method == "budget_forcing":
        forcing = generation["budget_forcing"]
        for budget in forcing["budgets"] if budgets is None else budgets:
            for n in forcing_rounds(forcing["n"], budget):
                yield ShardSpec(model, method, budget, n)
    elif method == "class_conditional":
        for prompt in generation["class_conditional"]["prompts"]:
            yield ShardSpec(model, method, prompt=prompt)
    else:
        raise ValueError(f"unknown method {method!r}")


def evaluation_grid(config: dict[str, Any]) -> list[ShardSpec]:
    """Every shard the (complete, see :func:`complete_config`) config asks for, sorted, without duplicates."""
    generation = config["generation"]
    specs: set[ShardSpec] = set()
    for model in generation["models"]:
        if model == "sft":
            for method in METHODS:
                specs.update(_method_specs("sft", method, generation))
        elif model == "base":
            baseline = generation["baseline"]
            for method in baseline["methods"]:
                specs.update(_method_specs("base", method, generation, baseline["budgets"]))
    return sorted(specs, key=lambda s: (s.model, s.method, str(s.budget), s.n, str(s.prompt)))
