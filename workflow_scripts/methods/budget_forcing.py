"""Budget forcing(B, n, string): replace up to n natural ends of thinking by the string.

The string's ids (e.g. "Wait") are spliced in as ids and count as thinking tokens; every
round asks only for what is left of B, so thinking never exceeds B (s1 reused the full
budget each round and cut afterwards). Setting ``B8000-n2``.

The forcing decision is :class:`ForcingRule`, here and nowhere else: the thinking rounds
(:mod:`workflow_scripts.decoding.thinking`) call it at every natural end, and a run cut from
a trajectory (:mod:`workflow_scripts.generation.trajectory`) replays it on the trajectory's rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from workflow_scripts.decoding.pipeline import think_then_answer
from workflow_scripts.decoding.prompts import encode
from workflow_scripts.methods.base import Method, SettingField, section_schema


def forcing_ids(tokenizer, string: str) -> list[int]:
    """Ids of the forcing string, encoded alone (s1: appended right after the stripped stop)."""
    ids = encode(tokenizer, string)
    if not ids:
        raise ValueError(f"forcing string {string!r} encodes to no tokens")
    return ids


@dataclass(frozen=True)
class ForcingRule:
    """At a natural end of thinking, insert the forcing string while fewer than ``n`` were
    inserted and it fits with room for at least one more generated token; else thinking ends."""

    forcing_ids: tuple[int, ...]
    n: int

    def __call__(self, trace) -> Sequence[int]:
        fits = trace.used + len(self.forcing_ids) < trace.limit
        return self.forcing_ids if self.forcing_ids and trace.waits_inserted < self.n and fits else ()

    @classmethod
    def for_spec(cls, tokenizer, spec) -> "ForcingRule":
        """The rule of a budget-forcing spec (its string and n); n = 0: no forcing."""
        return cls(tuple(forcing_ids(tokenizer, spec.forcing_string)) if spec.n else (), spec.n)


def forcing_rounds(n_table: dict, budget) -> list[int]:
    """n values for one budget: the table's entry for that budget, else its default."""
    return list(n_table.get(str(budget), n_table["default"]))


def forcing_string(settings: dict) -> str:
    """The job's forcing string, checked (the error names the key)."""
    string = settings["string"]
    if not isinstance(string, str) or not string:
        raise ValueError(f"generation.budget_forcing.string must be a non-empty string, got {string!r}")
    return string


class BudgetForcing(Method):
    name = "budget_forcing"
    label = "budget forcing"
    colour = "#de8f05"
    schema = section_schema({
            "string": {"type": "string", "minLength": 1, "default": "Wait",
                       "description": "the forcing string: Wait, Hmm, Alternatively, ..."},
            "budgets": {"$ref": "#/definitions/budget_list", "default": [500, 1000, 2000, 4000, 8000, "unbounded"]},
            "n": {
                "type": "object",
                "description": ("n values (forcing rounds) per budget; every key is one of `budgets` (as a string) "
                                "or `default`, which applies to the budgets not listed"),
                "required": ["default"],
                "default": {"default": [1], "8000": [1, 2, 4], "unbounded": [1, 2, 4]},
                "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True,
                                         "items": {"type": "integer", "minimum": 1}},
            },
        })
    setting_format = "B{budget}-n{n}"
    # n >= 1 is checked with the job's settings (spec_fields): a setting with n = 0 names its run in the error
    setting_fields = {"n": SettingField(r"\d+", int, "a number of forcing rounds")}
    direct_format = False
    direct_error = ("budget forcing needs the thinking format; the base model has none "
                    "(remove budget_forcing from generation.baseline.methods)")
    job_keys = ("string",)

    def runs(self, section, budgets=None):
        for budget in budgets or section["budgets"]:
            for n in forcing_rounds(section["n"], budget):
                yield {"budget": budget, "n": n}

    def sort_key(self, params):
        return (str(params["budget"]), params["n"])

    def spec_fields(self, params, settings):
        if params["n"] < 1:
            raise ValueError(f"budget forcing needs n >= 1, got setting {self.setting(params)!r}")
        return {**super().spec_fields(params, settings), "n": params["n"], "forcing_string": forcing_string(settings)}

    def think(self, ctx, records, spec):
        return think_then_answer(ctx, records, spec, on_natural_end=ForcingRule.for_spec(ctx.tokenizer, spec))

    def describe(self, section):
        return ("*budget forcing*: when the model stops thinking before the budget, the end of thinking is suppressed "
                f"and \"{section['string']}\" is appended, up to n times; budgets "
                f"{', '.join(map(str, section['budgets']))}")


METHOD = BudgetForcing()
