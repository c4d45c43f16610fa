"""What a test-time scaling method declares: the interface every registry entry implements.

A method is one module with one :class:`Method` subclass instance. It declares

* its config section (``generation.<name>``) as a JSON-schema fragment, with a ``default:``
  for every key (the one definition of each setting);
* how that section expands into runs (``runs``: one parameter dict per run) and how a run's
  parameters read as the ``{setting}`` wildcard and back (``setting`` / ``parse``);
* how it generates (``generate``: a function over the engine context, the records and the
  method's specs of one model; the default runs each spec alone, a method may serve several
  specs from shared work);
* its label and colour in the report, and which Control / Budget Error rule applies
  (``control_kind``, defined in :mod:`workflow_scripts.analysis.metrics`).

Nothing here imports vLLM or pandas: the Snakefile reads the registry at parse time.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from workflow_scripts.decoding.budgets import UNBOUNDED, parse_budget
from workflow_scripts.decoding.pipeline import direct_answers

BUDGET_PATTERN = r"B(?:\d+|unbounded)"


def budget_label(budget: int | str) -> str:
    return f"B{budget}"


def parse_budget_setting(text: str, setting: str, method: str) -> int | str:
    """``500`` or ``unbounded`` from the part after ``B``; a clear error otherwise."""
    try:
        return parse_budget(text)
    except ValueError:
        raise ValueError(f"cannot parse shard setting {setting!r} for method {method!r}") from None


def section_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """The schema of a method's config section ``generation.<name>``: these keys only, each with
    its default, so a section left out of the config is complete too."""
    return {"type": "object", "default": {}, "additionalProperties": False, "properties": properties}


def temperature_schema(description: str) -> dict[str, Any]:
    """The config schema of a sampling method's own temperature (s1 samples at 1.0)."""
    return {"type": "number", "exclusiveMinimum": 0, "default": 1.0, "description": description}


def sample_key(sample: dict[str, Any]) -> str:
    """A sample's key in its shard: the question id, plus ``#j`` for sample j of k."""
    index = sample.get("sample")
    return str(sample["id"]) if index is None else f"{sample['id']}#{index}"


class Method:
    """One test-time scaling method. Subclasses set the class attributes and override hooks."""

    name: str = ""
    label: str = ""  # legend and table name
    colour: str = "#000000"  # one colour per method in every figure
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
    setting_regex: str = ""  # what a {setting} of this method looks like (no named groups)
    direct_format: bool = True  # the base model (plain chat prompt, one phase) may run it
    direct_error: str = ""  # why not, when direct_format is False
    job_keys: tuple[str, ...] = ()  # keys of generation.<name> a generation job depends on
    control_kind: str = "budget"  # which Control / Budget Error rule applies (analysis.metrics)
    repeatable: bool = True  # generation.samples / temperature apply (False: the method samples itself)

    # --- runs and setting strings -------------------------------------------------------
    def runs(self, section: dict[str, Any], budgets: list | None = None) -> Iterable[dict[str, Any]]:
        """Parameters of each run the section asks for; ``budgets`` overrides the section's
        budget list (the base model's ``generation.baseline.budgets``)."""
        raise NotImplementedError

    def setting(self, params: dict[str, Any]) -> str:
        raise NotImplementedError

    def parse(self, setting: str) -> dict[str, Any]:
        """Parameters from a setting string; ValueError naming the setting if it is not one."""
        raise NotImplementedError

    def sort_key(self, params: dict[str, Any]) -> tuple:
        return (self.setting(params),)

    def engine_group(self, params: dict[str, Any]) -> str:
        """CPU runs share one engine per (model, group): by default the budget."""
        return budget_label(params["budget"]) if "budget" in params else self.name

    # --- generation ---------------------------------------------------------------------
    def sample_keys(self, record_id: str, spec) -> list[str]:
        """The keys of a question's samples in a shard (see :func:`sample_key`) for a method
        that draws its own samples (``repeatable = False``): one by default. A repeatable
        method's k samples (``generation.samples``) are keyed by their records' ``sample``."""
        return [str(record_id)]

    def spec_fields(self, params: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """The generation spec's fields beyond model/method/setting/prompt_format: ``budget``,
        ``n``, ``forcing_string``, ``class_prompt`` and method-specific ``options``.
        ``settings`` is the job's ``generation.<name>`` (its ``job_keys``)."""
        return {"budget": params.get("budget", UNBOUNDED), "n": 0, "forcing_string": None,
                "class_prompt": None, "options": ()}

    def generate(self, ctx, records: list[dict[str, Any]], specs: list) -> list[list[dict[str, Any]]]:
        """Samples for every spec (one list per spec, in record order)."""
        return [self.generate_one(ctx, records, spec) for spec in specs]

    def generate_one(self, ctx, records: list[dict[str, Any]], spec) -> list[dict[str, Any]]:
        if spec.prompt_format == "direct":
            return direct_answers(ctx, records, spec)
        return self.think(ctx, records, spec)

    def think(self, ctx, records: list[dict[str, Any]], spec) -> list[dict[str, Any]]:
        """The thinking-format generation (the SFT model)."""
        raise NotImplementedError

    # --- report -------------------------------------------------------------------------
    def describe(self, section: dict[str, Any]) -> str:
        """One line for the report's approach section."""
        return self.label


class BudgetMethod(Method):
    """Runs indexed by a thinking budget alone: setting ``B500`` / ``Bunbounded``."""

    setting_regex = BUDGET_PATTERN
    _pattern = re.compile(r"B(?P<budget>\d+|unbounded)")

    def runs(self, section, budgets=None):
        for budget in budgets or section["budgets"]:
            yield {"budget": budget}

    def setting(self, params):
        return budget_label(params["budget"])

    def parse(self, setting):
        match = self._pattern.fullmatch(setting)
        if match is None:
            if re.fullmatch(BUDGET_PATTERN + r"-n\d+", setting):
                raise ValueError(f"{self.name} setting takes no -n: {setting!r}")
            raise ValueError(f"cannot parse shard setting {setting!r} for method {self.name!r}")
        return {"budget": parse_budget_setting(match["budget"], setting, self.name)}

    def sort_key(self, params):
        return (str(params["budget"]),)
