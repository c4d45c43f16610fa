"""Configuration: schema defaults and checks (the one source of settings), config-file overlays, the grid."""

from workflow_scripts.config.grid import (
    DATASETS, GenerationRun, ShardSpec, TrajectorySpec, derives_thinking, evaluation_grid, generation_parts,
    generation_runs, job_settings, trajectory_plan,
)
from workflow_scripts.config.models import (
    ModelEntry, eval_limits, eval_set_names, model_entries, model_entry, trains_here,
)
from workflow_scripts.config.validate import (
    ConfigError, complete_config, complete_section, load_config, merge_configs, validate_config,
)

__all__ = ["ConfigError", "complete_config", "complete_section", "load_config", "merge_configs", "validate_config",
           "DATASETS", "GenerationRun", "generation_parts", "generation_runs", "job_settings", "ShardSpec",
           "TrajectorySpec", "derives_thinking", "evaluation_grid", "trajectory_plan",
           "ModelEntry", "eval_limits", "eval_set_names", "model_entries", "model_entry", "trains_here"]
