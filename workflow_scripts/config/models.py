"""The models a run evaluates: the named entries of ``generation.models``, each with a source.

An entry is a name (its ``{model}`` folder under ``generation/`` and ``graded/``) and
optionally ``source`` (a hub id or a local folder), ``format`` and ``limit``:

* ``sft`` without a source is *trained here*: curation and SFT of ``model.base``, evaluated
  from ``results/<run>/sft/model``. With a source it is that checkpoint and nothing is trained.
* ``base`` without a source is ``model.base``; every other name needs a source.
* ``format``: ``think`` (the s1 think/answer format: every configured method) or ``direct``
  (the plain chat prompt answered in one phase: the ``generation.baseline`` methods and
  budgets). Without it, ``base`` answers directly and every other model thinks.
* ``limit``: evaluate the first N rows of every eval set for this model (without it, each
  eval set's own ``limit``).

The strings ``sft`` and ``base`` are short for ``{name: sft}`` and ``{name: base}``.
Curation and SFT run only when some entry is trained here (:func:`trains_here`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRAINED_HERE = "sft"
BASELINE = "base"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: str | None  # None: trained here (sft) or model.base (base)
    format: str  # think | direct
    limit: int | None

    @property
    def trains(self) -> bool:
        """True for the checkpoint this run trains (curation + SFT)."""
        return self.name == TRAINED_HERE and self.source is None


def default_format(name: str) -> str:
    """The format of a model whose entry names none: the baseline answers directly, others think."""
    return "direct" if name == BASELINE else "think"


def _expand(raw: Any) -> dict[str, Any]:
    return {"name": raw} if isinstance(raw, str) else dict(raw)


def model_problems(models: list[Any]) -> list[str]:
    """What is wrong with ``generation.models`` beyond the schema: repeated names, missing sources."""
    problems, seen = [], set()
    for number, raw in enumerate(models, 1):
        entry = _expand(raw)
        name = entry["name"]
        if name in seen:
            problems.append(f"generation.models: entry {number} repeats the name {name!r} (names are folders)")
        seen.add(name)
        if entry.get("source") is None and name not in (TRAINED_HERE, BASELINE):
            problems.append(f"generation.models: entry {number} ({name!r}) needs a source (hub id or local folder); "
                            f"only {TRAINED_HERE!r} (trained here) and {BASELINE!r} (model.base) may omit it")
    return problems


def model_entries(config: dict[str, Any]) -> list[ModelEntry]:
    """The entries of ``generation.models`` in config order (a complete, checked config)."""
    entries = []
    for raw in config["generation"]["models"]:
        entry = _expand(raw)
        name = entry["name"]
        entries.append(ModelEntry(name=name, source=entry.get("source"),
                                  format=entry.get("format") or default_format(name),
                                  limit=entry.get("limit")))
    return entries


def model_entry(config: dict[str, Any], name: str) -> ModelEntry:
    for entry in model_entries(config):
        if entry.name == name:
            return entry
    raise KeyError(f"no model {name!r} in generation.models")


def trains_here(config: dict[str, Any]) -> bool:
    """Does some model need curation and SFT in this run?"""
    return any(entry.trains for entry in model_entries(config))


def eval_set_names(config: dict[str, Any]) -> list[str]:
    """The configured eval sets (null ones are left out), in config order."""
    return [name for name, settings in config["eval_sets"].items() if settings is not None]


def eval_limits(config: dict[str, Any], entry: ModelEntry) -> dict[str, int | None]:
    """{eval set: first N rows} for this model: its own limit where given, else each set's."""
    return {name: entry.limit if entry.limit is not None else config["eval_sets"][name]["limit"]
            for name in eval_set_names(config)}
