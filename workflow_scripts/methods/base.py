"""What a test-time scaling method declares: the interface every registry entry implements.

A method is one module with one :class:`Method` subclass instance. It declares

* its config section (``generation.<name>``) as a JSON-schema fragment, with a ``default:``
  for every key (the one definition of each setting);
* how that section expands into runs (``runs``: one parameter dict per run) and how a run's
  parameters read as the ``{setting}`` wildcard: one declaration, ``setting_format`` (e.g.
  ``B{budget}-n{n}``) with its fields (``setting_fields``: regex, parser; ``{budget}`` is
  provided here), from which the wildcard's regular expression (``setting_regex``), the
  formatting (``setting``) and the parsing (``parse``) follow;
* how it generates (``generate``: a function over the engine context, the records and the
  method's specs of one model; the default runs each spec alone, a method may serve several
  specs from shared work);
* its label and colour in the report, and which Control / Budget Error rule applies
  (``control_kind``, defined in :mod:`workflow_scripts.analysis.metrics`).

Nothing here imports vLLM or pandas: the Snakefile reads the registry at parse time.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable

from workflow_scripts.decoding.budgets import UNBOUNDED, parse_budget
from workflow_scripts.decoding.pipeline import direct_answers


def budget_label(budget: int | str) -> str:
    return f"B{budget}"


@dataclass(frozen=True)
class SettingField:
    """One ``{field}`` of a method's ``setting_format``: what its text looks like (``regex``, a
    regular expression without capturing groups), how it reads (``parse``: text -> value,
    ValueError if it is not one) and what it is, for error messages (``meaning``)."""

    regex: str
    parse: Callable[[str], Any]
    meaning: str


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text!r} is not a positive integer")
    return value


# The thinking budget (``B500``, ``Bunbounded``): every method's ``{budget}``.
BUDGET = SettingField(r"\d+|unbounded", parse_budget, "a positive integer or unbounded")
COUNT = SettingField(r"\d+", positive_int, "a positive integer")
SETTING_FIELDS = {"budget": BUDGET}  # available to every method's setting_format


class SettingFormat:
    """A setting string's one declaration, e.g. ``B{budget}-n{n}`` with its fields (name ->
    :class:`SettingField`): the wildcard's regular expression, formatting and parsing follow."""

    def __init__(self, method: str, text: str, fields: dict[str, SettingField]):
        self.method, self.text = method, text
        self.parts = [(literal, name) for literal, name, _, _ in string.Formatter().parse(text)]
        names = [name for _, name in self.parts if name is not None]
        unknown = [name for name in names if name not in fields]
        if not text or unknown or len(set(names)) != len(names):
            raise TypeError(f"method {method!r}: setting_format {text!r} needs each {{field}} once, declared in "
                            f"setting_fields (undeclared: {unknown})")
        self.fields = {name: fields[name] for name in names}
        for name, field in self.fields.items():
            if re.compile(field.regex).groups:
                raise TypeError(f"method {method!r}: the regex of setting field {name!r} has a capturing group")

    def regex(self, prefix: int | None = None, named: bool = False) -> str:
        """The format's regular expression (of its first ``prefix`` parts); ``named``: one named
        group per field, else none (a Snakefile wildcard constraint)."""
        pieces = []
        for literal, name in self.parts[:prefix]:
            pieces.append(re.escape(literal))
            if name is not None:
                pieces.append(f"(?P<{name}>{self.fields[name].regex})" if named else f"(?:{self.fields[name].regex})")
        return "".join(pieces)

    def format(self, params: dict[str, Any]) -> str:
        return self.text.format(**{name: params[name] for name in self.fields})

    def _expected(self) -> str:
        if len(self.parts) == 1 and not self.parts[0][0]:  # the field alone, e.g. {prompt}
            return f"expected {next(iter(self.fields.values())).meaning}"
        meanings = ", ".join(f"{name} {field.meaning}" for name, field in self.fields.items())
        return f"expected {self.text}" + (f" with {meanings}" if meanings else "")

    def parse(self, setting: str) -> dict[str, Any]:
        match = re.fullmatch(self.regex(named=True), setting)
        if match is None:
            raise ValueError(self._mismatch(setting))
        try:
            return {name: field.parse(match[name]) for name, field in self.fields.items()}
        except ValueError:
            raise ValueError(f"cannot parse shard setting {setting!r} for method {self.method!r}: "
                             f"{self._expected()}") from None

    def _reads(self, setting: str, prefix: int | None = None) -> bool:
        """Whether ``setting`` is the first ``prefix`` parts of the format, each field readable."""
        match = re.fullmatch(self.regex(prefix, named=True), setting)
        if match is None:
            return False
        try:
            for name, text in match.groupdict().items():
                self.fields[name].parse(text)
        except ValueError:
            return False
        return True

    def _mismatch(self, setting: str) -> str:
        """What is wrong with a setting that does not match: a tail too many or one missing
        (after a valid head), else the whole."""
        head = re.match(self.regex(named=True), setting)
        tail = setting[head.end():] if head else ""
        if tail and not tail[0].isalnum() and self._reads(setting[:head.end()]):
            return f"{self.method} setting takes no {tail}: {setting!r} ({self._expected()})"
        for prefix in range(len(self.parts) - 1, 0, -1):
            if self._reads(setting, prefix):
                missing = "".join(literal + (f"{{{name}}}" if name else "") for literal, name in self.parts[prefix:])
                return f"{self.method} setting needs {missing}: {setting!r} ({self._expected()})"
        return f"cannot parse shard setting {setting!r} for method {self.method!r}: {self._expected()}"


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
    setting_format: str = ""  # the {setting} wildcard, e.g. "B{budget}-n{n}": literal text and {field}s
    setting_fields: dict[str, SettingField] = {}  # each {field} of setting_format beyond SETTING_FIELDS
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

    @cached_property
    def _setting_format(self) -> SettingFormat:
        return SettingFormat(self.name, self.setting_format, {**SETTING_FIELDS, **self.setting_fields})

    @property
    def setting_regex(self) -> str:
        """What a {setting} of this method looks like (no named groups): the wildcard constraint."""
        return self._setting_format.regex()

    def setting(self, params: dict[str, Any]) -> str:
        """The setting string of a run's parameters (``setting_format`` filled in)."""
        return self._setting_format.format(params)

    def parse(self, setting: str) -> dict[str, Any]:
        """Parameters from a setting string; ValueError naming the setting if it is not one."""
        return self._setting_format.parse(setting)

    def sort_key(self, params: dict[str, Any]) -> tuple:
        return (self.setting(params),)

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

    setting_format = "B{budget}"

    def runs(self, section, budgets=None):
        for budget in budgets or section["budgets"]:
            yield {"budget": budget}

    def sort_key(self, params):
        return (str(params["budget"]),)
