# Settings completed once, shared paths and input functions.
import json
import os
import re
import sys

sys.path.insert(0, workflow.basedir)

from workflow_scripts.config import (
    DATASETS,
    ConfigError,
    complete_config,
    eval_limits,
    eval_set_names,
    evaluation_grid,
    engine_group_plan,
    generation_jobs,
    job_settings,
    model_entries,
    model_entry,
    trains_here,
    trajectory_plan,
    write_engine_group_plan,
)
from workflow_scripts.methods import METHODS, get_method, method_constraint, setting_constraint

# The schema's defaults (the one definition of every setting) filled in once, then checked,
# so every rule below and every stage it calls receives complete settings.
try:
    config.update(complete_config(config))
except ConfigError as error:
    raise WorkflowError(str(error))


RESULTS = f"results/{config['run_name']}"
LOGS = f"{RESULTS}/logs"
WORLD = f"{RESULTS}/world"
SYNTHETIC = config["synthetic_world"] is not None
GRID = evaluation_grid(config)
MODELS = [entry.name for entry in model_entries(config)]
# The configured eval sets, in the canonical order; curation and SFT only when a model is trained here.
EVAL_SETS = [name for name in DATASETS if name in eval_set_names(config)]
TRAINS = trains_here(config)
TRAJECTORIES = trajectory_plan(config, GRID)  # {model: its shared thinking trajectory}
AUDITED = [name for name in ("math500", "aime24") if name in EVAL_SETS]  # eval sets with reference solutions


def as_json(value):
    """Settings passed to a stage's CLI; params changes make Snakemake rerun the rule."""
    return json.dumps(value, sort_keys=True)


def world_file(name):
    return f"{WORLD}/{name}"


def local_inputs(*sources):
    """Local files/folders among sources (hub ids are not files), so edits trigger reruns.
    Synthetic-world files count before they exist: the synthetic_world rule makes them."""
    return [s for s in sources if s and (os.path.exists(s) or str(s).startswith(f"{WORLD}/"))]


def pool_source():
    return world_file("pool.jsonl") if SYNTHETIC else config["pool"]["source"]


def eval_source(dataset):
    if SYNTHETIC:
        return world_file(
            {"math500": "eval/math500.jsonl", "aime24": "eval/aime24.jsonl", "gpqa": "eval/gpqa_diamond.csv"}[dataset]
        )
    return config["eval_sets"][dataset]["source"]


def base_model():
    return world_file("base_model") if SYNTHETIC else config["model"]["base"]


def tokenizer_source():
    return base_model() if SYNTHETIC else (config["model"]["tokenizer"] or config["model"]["base"])


def model_path(model):
    """Where a model's weights are: the SFT output, its source, or model.base."""
    entry = model_entry(config, model)
    if entry.trains:
        return f"{RESULTS}/sft/model"
    return entry.source if entry.source is not None else base_model()


def model_limits(model):
    """--limits of a model's generation jobs: its own limit, else each eval set's."""
    return as_json(eval_limits(config, model_entry(config, model)))


def eval_files(datasets=None):
    return [f"{RESULTS}/data/eval/{name}.jsonl" for name in (datasets or EVAL_SETS)]


def world_inputs(*names):
    return [world_file(n) for n in names] if SYNTHETIC else []


def shard_paths(stage, datasets=None, grid=None):
    return [spec.path(f"{RESULTS}/{stage}", ds) for spec in (grid or GRID) for ds in (datasets or EVAL_SETS)]


def trajectory_paths(models=None):
    """The trajectory shards (generation.reuse_thinking) of ``models`` (default: every model)."""
    return [
        trajectory.path(f"{RESULTS}/generation", ds)
        for model, trajectory in TRAJECTORIES.items()
        if models is None or model in models
        for ds in EVAL_SETS
    ]


# `--sdm conda`: the CPU stack for CPU-only configs (smoke), else the GPU stack.
# The GPU wrapper every GPU-capable rule runs its command through (claims free, idle cards).
GPU_RUN = "python -m workflow_scripts.gpu.run" + (
    f" --busy-memory-mib {config['gpu_claim']['busy_memory_mib']}" if config["gpu_claim"]["busy_memory_mib"] else ""
)
_CPU_ONLY = config["training"]["gpus"] == 0 and config["generation"]["gpus_per_job"] == 0
CONDA_ENV = "../envs/workflow-cpu.yaml" if _CPU_ONLY else "../envs/workflow-gpu.yaml"


def generation_settings(*methods):
    return as_json(job_settings(config, methods))


def generation_dir(spec):
    return f"{RESULTS}/generation/{spec.model}/{spec.method}/{spec.setting}"


def generation_model_input(model):
    path = model_path(model)
    return path if model_entry(config, model).trains else local_inputs(path)


GENERATION_JOBS = {(job.model, job.method, job.setting): job for job in generation_jobs(config, GRID)}


def generation_job(wildcards):
    return GENERATION_JOBS[(wildcards.model, wildcards.method, wildcards.setting)]


def generation_job_dir(job):
    return f"{RESULTS}/generation/{job.folder}"


def trajectory_dir(job):
    return f"{RESULTS}/generation/{job.trajectory_folder}"


# Which jobs share an engine: read by the generation CLI at run time (not a parameter, so a
# new budget reruns only its own job; workflow_scripts/config/grid.py: engine_group_plan).
ENGINE_GROUPS = f"{RESULTS}/generation/engine_groups.json"
write_engine_group_plan(ENGINE_GROUPS, engine_group_plan(list(GENERATION_JOBS.values()), RESULTS))


def engine_group_settings(wildcards):
    """--settings of a generation job: what the methods of its engine group depend on (the
    job's own method and trajectory, and the methods it may generate samples for)."""
    group = generation_job(wildcards).group
    return generation_settings(
        *dict.fromkeys(j.method for j in GENERATION_JOBS.values() if j.group == group and j.method in METHODS)
    )


def thinking_flag(wildcards):
    job = generation_job(wildcards)
    return f"--thinking-from {trajectory_dir(job)}" if job.thinking_from else ""


def thinking_inputs(wildcards):
    """The trajectory shards a derived run cuts its thinking from."""
    job = generation_job(wildcards)
    return trajectory_paths([job.model]) if job.thinking_from else []


def source_param(input_name, source):
    """A source as a parameter, i.e. the input file when it is local, else the hub id.
    (Taking it from `input` keeps a local path from being hard-coded twice.) `source` may be
    a function of the wildcards."""

    def resolve(wildcards, input):
        files = input.get(input_name, [])
        files = [files] if isinstance(files, str) else list(files)
        if files:
            return files[0]
        return source(wildcards) if callable(source) else source

    return resolve
