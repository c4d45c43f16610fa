"""The grading settings, completed from their one definition: the config schema."""

from __future__ import annotations

from workflow_scripts.config.validate import complete_section


def grading_settings(raw: dict | None = None) -> dict:
    """The ``grading`` section with the schema's defaults filled in (a ConfigError names a bad key)."""
    return complete_section("grading", raw or {})


GRADING_DEFAULTS = grading_settings()
