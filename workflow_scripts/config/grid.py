"""The evaluation grid: which generation shards a config asks for, and where they live.

A shard is one (model, dataset, method, setting) combination and one JSONL file:

    results/<run>/generation/<model>/<method>/<setting>/<dataset>.jsonl

``setting`` encodes the method's parameters so that changing one budget only touches the
shards of that budget; each method of the registry (:mod:`workflow_scripts.methods`)
defines its own, e.g.

    truncation         B500, Bunbounded
    budget_forcing     B8000-n2
    class_conditional  short, long

One generation job covers all datasets of one (model, method, setting), so the
engine starts once per configuration rather than once per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow_scripts.config.models import model_entries, model_entry
from workflow_scripts.data.benchmarks import BENCHMARKS
from workflow_scripts.decoding.budgets import UNBOUNDED
from workflow_scripts.methods import METHODS, get_method

DATASETS = BENCHMARKS  # the eval sets, in report order: one loader each (workflow_scripts.data)


@dataclass(frozen=True)
class ShardSpec:
    """One (model, method, setting); the setting is checked against its method on creation."""

    model: str
    method: str
    setting: str

    def __post_init__(self):
        self.params  # noqa: B018 -- parses, raising ValueError for an unknown method or setting

    @classmethod
    def of(cls, model: str, method: str, params: dict[str, Any]) -> "ShardSpec":
        return cls(model, method, get_method(method).setting(params))

    @classmethod
    def from_wildcards(cls, model: str, method: str, setting: str) -> "ShardSpec":
        return cls(model, method, setting)

    @property
    def params(self) -> dict[str, Any]:
        """The method's parameters of this run (e.g. ``{"budget": 500, "n": 2}``)."""
        return get_method(self.method).parse(self.setting)

    @property
    def budget(self) -> int | str | None:
        """int, "unbounded", or None (no budget, e.g. class-conditional)."""
        return self.params.get("budget")

    @property
    def n(self) -> int:
        """budget-forcing rounds; 0 for other methods."""
        return self.params.get("n", 0)

    @property
    def prompt(self) -> str | None:
        """class-conditional prompt: short | long."""
        return self.params.get("prompt")

    @property
    def sort_key(self) -> tuple:
        return (self.model, self.method, get_method(self.method).sort_key(self.params))

    @property
    def label(self) -> str:
        """Human-readable name used in tables and plots."""
        return f"{self.model}/{self.method}/{self.setting}"

    def path(self, stage_dir: str, dataset: str, suffix: str = "jsonl") -> str:
        return f"{stage_dir}/{self.model}/{self.method}/{self.setting}/{dataset}.{suffix}"


def evaluation_grid(config: dict[str, Any]) -> list[ShardSpec]:
    """Every shard the (complete, see :func:`complete_config`) config asks for, sorted, without
    duplicates. A method runs when its section is in the config: the schema gives truncation,
    budget forcing and class-conditional a default section, the other methods run when configured.
    Models that think run every method; models that answer directly what ``baseline`` lists."""
    generation = config["generation"]
    specs: set[ShardSpec] = set()
    for entry in model_entries(config):
        if entry.format == "think":
            for name, method in METHODS.items():
                if name in generation:
                    specs.update(ShardSpec.of(entry.name, name, p) for p in method.runs(generation[name]))
        else:
            baseline = generation["baseline"]
            for name in baseline["methods"]:
                method = get_method(name)
                specs.update(ShardSpec.of(entry.name, name, p)
                             for p in method.runs(generation[name], baseline["budgets"]))
    return sorted(specs, key=lambda s: s.sort_key)


# Methods whose runs are prefixes of one trajectory (generation.reuse_thinking): truncation at
# B is the thinking cut at B or its first natural end; budget forcing with n strings is the
# largest n's thinking cut at B or before its (n+1)-th string.
DERIVABLE_METHODS = ("truncation", "budget_forcing")
TRAJECTORY = "trajectory"  # the method folder of trajectory shards (not a registry method)


@dataclass(frozen=True)
class TrajectorySpec:
    """One model's shared thinking: the grid's largest derivable budget and largest n."""

    model: str
    budget: int | str
    n: int

    @property
    def setting(self) -> str:
        return f"B{self.budget}-n{self.n}"

    def path(self, stage_dir: str, dataset: str) -> str:
        return f"{stage_dir}/{self.model}/{TRAJECTORY}/{self.setting}/{dataset}.jsonl"


def largest_budget(budgets) -> int | str:
    budgets = list(budgets)
    return UNBOUNDED if UNBOUNDED in budgets else max(int(b) for b in budgets)


def derives_thinking(config: dict[str, Any], spec: ShardSpec) -> bool:
    """Whether ``spec`` cuts its thinking from its model's trajectory (reuse on, a thinking model,
    a derivable method)."""
    return (config["generation"]["reuse_thinking"] and spec.method in DERIVABLE_METHODS
            and model_entry(config, spec.model).format == "think")


def trajectory_plan(config: dict[str, Any], grid: list[ShardSpec] | None = None) -> dict[str, TrajectorySpec]:
    """{model: its trajectory} for every model with derived runs in the grid."""
    grid = evaluation_grid(config) if grid is None else grid
    plan = {}
    for model in dict.fromkeys(spec.model for spec in grid):
        derived = [spec for spec in grid if spec.model == model and derives_thinking(config, spec)]
        if derived:
            plan[model] = TrajectorySpec(model, largest_budget(s.budget for s in derived), max(s.n for s in derived))
    return plan


@dataclass(frozen=True)
class GenerationRun:
    """A run its model's ``generate`` job makes: a run of the grid or the model's trajectory,
    and, for a derived run, the trajectory setting its thinking is cut from."""

    model: str
    method: str
    setting: str
    thinking_from: str | None = None

    @property
    def folder(self) -> str:
        return f"{self.model}/{self.method}/{self.setting}"

    @property
    def trajectory_folder(self) -> str | None:
        """The folder of the trajectory a derived run cuts its thinking from."""
        return f"{self.model}/{TRAJECTORY}/{self.thinking_from}" if self.thinking_from else None

    @property
    def methods(self) -> tuple[str, ...]:
        """The registry methods whose settings this run depends on: its own, and budget forcing's
        (its string) for a trajectory and the runs cut from one."""
        own = () if self.method == TRAJECTORY else (self.method,)
        forcing = ("budget_forcing",) if self.method == TRAJECTORY or self.thinking_from else ()
        return tuple(dict.fromkeys(own + forcing))

    def as_dict(self) -> dict[str, str]:
        """The run as the generation CLI reads it (``--runs``)."""
        return {"method": self.method, "setting": self.setting,
                **({"thinking_from": self.thinking_from} if self.thinking_from else {})}


def generation_runs(config: dict[str, Any], grid: list[ShardSpec] | None = None) -> dict[str, list[GenerationRun]]:
    """{model: every run its ``generate`` job makes, its trajectory first, then the grid's runs in
    grid order}. All of a model's runs share one engine per part (``generation.parts``); the runs
    cut from the trajectory generate only their answers."""
    grid = evaluation_grid(config) if grid is None else grid
    plan = trajectory_plan(config, grid)
    runs: dict[str, list[GenerationRun]] = {}
    for model in dict.fromkeys(spec.model for spec in grid):
        runs[model] = [GenerationRun(model, TRAJECTORY, plan[model].setting)] if model in plan else []
        runs[model] += [GenerationRun(s.model, s.method, s.setting,
                                      plan[model].setting if derives_thinking(config, s) else None)
                        for s in grid if s.model == model]
    return runs


def generation_parts(config: dict[str, Any]) -> list[str]:
    """The part names of a model's generation (``generation.parts`` P): ``1of2``, ``2of2``;
    part p takes every P-th question of each eval set, starting at the p-th."""
    parts = config["generation"]["parts"]
    return [f"{p}of{parts}" for p in range(1, parts + 1)]


JOB_SETTING_KEYS = ("engine", "answer_reserve_tokens", "answer_max_tokens", "samples", "temperature", "top_p")


def job_settings(generation: dict[str, Any], methods) -> dict[str, Any]:
    """What generating ``methods``' runs depends on, of the (complete) ``generation`` section:
    budget lists are excluded (a run's setting carries its budget), so changing one
    budget reruns only that budget's shards; each method adds the keys of its section it
    declares (``job_keys``)."""
    settings = {key: generation[key] for key in JOB_SETTING_KEYS}
    for name in methods:
        keys = get_method(name).job_keys
        if keys and name in generation:  # methods without a schema default run only when configured
            settings[name] = {key: generation[name][key] for key in keys}
    return settings
