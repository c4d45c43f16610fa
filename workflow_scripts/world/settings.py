"""The ``synthetic_world`` config section as typed objects; values (and defaults) come from the schema."""

from __future__ import annotations

from dataclasses import dataclass

from workflow_scripts.config.validate import complete_section
from workflow_scripts.world.model import ModelSettings


@dataclass(frozen=True)
class WorldSettings:
    pool_size: int
    eval_size: int
    model: ModelSettings


def parse_world_settings(raw: dict | None) -> WorldSettings:
    """WorldSettings from the config section (None or {} = the schema's defaults); unknown keys and
    bad values raise :class:`~workflow_scripts.config.ConfigError` naming the key."""
    settings = complete_section("synthetic_world", raw or {})
    return WorldSettings(pool_size=settings["pool_size"], eval_size=settings["eval_size"],
                         model=ModelSettings(**settings["model"]))
