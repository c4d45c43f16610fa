"""Configuration loading, schema validation and the evaluation grid."""

from workflow_scripts.config.validate import ConfigError, load_config, validate_config
from workflow_scripts.config.grid import DATASETS, ShardSpec, evaluation_grid

__all__ = ["ConfigError", "load_config", "validate_config", "DATASETS", "ShardSpec", "evaluation_grid"]
