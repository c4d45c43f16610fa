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
    generation_parts,
    generation_runs,
    job_settings,
    model_entries,
    model_entry,
    trains_here,
    trajectory_plan,
)
from workflow_scripts.generation.inputs import expect_payload
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


def generation_dir(spec):
    return f"{RESULTS}/generation/{spec.model}/{spec.method}/{spec.setting}"


def generation_model_input(model):
    path = model_path(model)
    return path if model_entry(config, model).trains else local_inputs(path)


# {model: every run its generate jobs make (its trajectory first)}; each model's work is
# split into PARTS, one generate job and one engine each (generation.parts).
GENERATION_RUNS = generation_runs(config, GRID)
PARTS = generation_parts(config)
RUNS_BY_FOLDER = {run.folder: run for runs in GENERATION_RUNS.values() for run in runs}


def part_manifests(model):
    return [f"{RESULTS}/generation/{model}/parts/{part}.json" for part in PARTS]


def generate_runs(wildcards):
    """--runs of a model's generate job: every run of the model."""
    return as_json([run.as_dict() for run in GENERATION_RUNS[wildcards.model]])


def generate_settings(wildcards):
    """--settings of a model's generate job: what any of its runs depends on."""
    methods = dict.fromkeys(m for run in GENERATION_RUNS[wildcards.model] for m in run.methods)
    return as_json(job_settings(config["generation"], methods))


def request_files(model):
    """What each run of a model asks for (its request.json): the generate job's inputs."""
    return [f"{RESULTS}/generation/{run.folder}/request.json" for run in GENERATION_RUNS[model]]


def run_request(wildcards):
    """What a run's samples must be generated with: its own settings, the limits, the seed and the
    model (a parameter of generation_request: a change reruns this run's shards, and only this one's)."""
    run = RUNS_BY_FOLDER[f"{wildcards.model}/{wildcards.method}/{wildcards.setting}"]
    entry = model_entry(config, run.model)
    return expect_payload(
        job_settings(config["generation"], run.methods),
        eval_limits(config, entry),
        config["seed"],
        model_path(run.model),
        entry.format,
    )


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
