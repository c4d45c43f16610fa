"""Validate a workflow config against the JSON schema, with messages that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config does not match the schema; the message names the offending key."""


def _load_schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def _location(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        return (
            f"unknown key(s) {', '.join(repr(k) for k in unexpected)} under {_location(error)}; "
            f"allowed keys: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"{_location(error)}: {error.message}"
    return f"{_location(error)}: {error.message}"


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Return ``config`` unchanged if valid, else raise :class:`ConfigError` listing every problem."""
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping, got {type(config).__name__}")
    validator = jsonschema.Draft202012Validator(_load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  - ".join(_describe(error) for error in errors)
        raise ConfigError(f"invalid workflow config:\n  - {lines}")
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    """Load a YAML config file and validate it."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    return validate_config(config)
