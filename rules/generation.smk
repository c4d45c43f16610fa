# Test-time scaling with vLLM: one job per (model, method, setting) (a run of the grid, or a
# model's thinking trajectory, method `trajectory`), one shard per eval set + job.json.
#
# Every job reads its engine group from the plan (--engine-groups): when one of its samples is
# missing it starts the engine and generates the missing samples of the whole group into their
# shards' stores, so the group's other jobs then finish without an engine. A model's trajectory and the
# truncation / budget-forcing runs cut from it share one engine; on the CPU (gpus_per_job: 0)
# a model's other runs share one per budget (vLLM's ~30 s start-up would dwarf a tiny model's
# generation); on GPUs every other run is alone (workflow_scripts/config/grid.py).


rule generate:
    input:
        model=lambda w: generation_model_input(w.model),
        eval_sets=eval_files(),
        thinking=thinking_inputs,
    output:
        shards=expand(
            f"{RESULTS}/generation/{{{{model}}}}/{{{{method}}}}/{{{{setting}}}}/{{dataset}}.jsonl",
            dataset=EVAL_SETS,
        ),
        job=f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/job.json",
    log:
        f"{LOGS}/generate/{{model}}/{{method}}/{{setting}}.log",
    conda:
        CONDA_ENV
    # A CPU engine uses every core: ask for all of them (Snakemake caps this at --cores), so
    # one engine runs at a time and two never share the cores or the memory.
    threads: 2 if config["generation"]["gpus_per_job"] else 1024
    resources:
        gpu=config["generation"]["gpus_per_job"],
    params:
        model_path=source_param("model", lambda w: model_path(w.model)),
        prompt_format=lambda w: model_entry(config, w.model).format,
        settings=engine_group_settings,
        thinking=thinking_flag,
        engine_groups=ENGINE_GROUPS,
        limits=lambda w: model_limits(w.model),
        seed=config["seed"],
        out_dir=lambda w: generation_job_dir(generation_job(w)),
        gpus=config["generation"]["gpus_per_job"],
    shell:
        f"{GPU_RUN} --gpus {{params.gpus}} -- python -m workflow_scripts.generation"
        " --model {params.model_path:q} --model-name {wildcards.model} --prompt-format {params.prompt_format}"
        " --method {wildcards.method} --setting {wildcards.setting} --out-dir {params.out_dir} {params.thinking}"
        " --engine-groups {params.engine_groups}"
        " --settings {params.settings:q} --limits {params.limits:q}"
        " --eval-sets {input.eval_sets} --seed {params.seed} > {log} 2>&1"
