"""The ``synthetic_world`` config section, checked with messages that name the key."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from workflow_scripts.world.model import ModelSettings


class WorldSettingsError(ValueError):
    """The synthetic_world settings are malformed; the message names the key."""


@dataclass(frozen=True)
class WorldSettings:
    pool_size: int = 1200
    eval_size: int = 40
    model: ModelSettings = field(default_factory=ModelSettings)

    MIN_POOL_SIZE = 50
    MIN_EVAL_SIZE = 5


def _positive_int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorldSettingsError(f"synthetic_world.{key} must be an integer, got {value!r}")
    if value < minimum:
        raise WorldSettingsError(f"synthetic_world.{key} must be >= {minimum}, got {value}")
    return value


def parse_world_settings(raw: dict | None) -> WorldSettings:
    """WorldSettings from the config dict (None or {} = defaults); unknown keys are errors."""
    if raw is not None and not isinstance(raw, dict):
        raise WorldSettingsError(f"synthetic_world must be a mapping, got {type(raw).__name__}")
    raw = dict(raw or {})
    known = {"pool_size", "eval_size", "model"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise WorldSettingsError(f"unknown synthetic_world key(s): {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    pool_size = _positive_int(raw.get("pool_size", 1200), "pool_size", WorldSettings.MIN_POOL_SIZE)
    eval_size = _positive_int(raw.get("eval_size", 40), "eval_size", WorldSettings.MIN_EVAL_SIZE)
    model_raw = raw.get("model") or {}
    if not isinstance(model_raw, dict):
        raise WorldSettingsError(f"synthetic_world.model must be a mapping, got {model_raw!r}")
    model_keys = {f.name: f.type for f in fields(ModelSettings)}
    unknown = sorted(set(model_raw) - set(model_keys))
    if unknown:
        raise WorldSettingsError(
            f"unknown synthetic_world.model key(s): {', '.join(unknown)}; allowed: {', '.join(sorted(model_keys))}"
        )
    checked = {}
    for key, value in model_raw.items():
        if model_keys[key] == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise WorldSettingsError(f"synthetic_world.model.{key} must be a positive number, got {value!r}")
            checked[key] = float(value)
        else:
            checked[key] = _positive_int(value, f"model.{key}", 0 if key == "pretrain_steps" else 1)
    try:
        model = ModelSettings(**checked)
    except ValueError as error:
        raise WorldSettingsError(f"synthetic_world.model: {error}") from None
    return WorldSettings(pool_size=pool_size, eval_size=eval_size, model=model)
