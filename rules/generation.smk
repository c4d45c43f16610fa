# Test-time scaling with vLLM: one shard per (model, method, setting, dataset) + one job.json
# per (model, method, setting), whatever the grouping of jobs.
#
# On GPUs (gpus_per_job >= 1) every (model, method, setting) is its own job, so configurations
# spread over devices. On CPU (gpus_per_job: 0, the smoke run) vLLM's start-up (~30 s) would
# dwarf a tiny model's generation, so one job per (model, budget) runs the configurations of
# that budget (truncation and budget forcing; class-conditional is one more group) on one
# engine (`--configs`), still writing one output folder per configuration. Grouping by budget
# keeps the rerun rule: changing one budget reruns only the jobs of that budget.

# A grouped job depends on the settings of all its methods (the forcing string included).
GROUP_SETTINGS = generation_settings(*METHODS)
GROUP_GENERATION = config["generation"]["gpus_per_job"] == 0


if not GROUP_GENERATION:

    rule generate:
        input:
            model=lambda w: generation_model_input(w.model),
            eval_sets=eval_files(),
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
        threads: 2
        resources:
            gpu=config["generation"]["gpus_per_job"],
        params:
            model_path=source_param("model", lambda w: model_path(w.model)),
            settings=lambda w: generation_settings(w.method),
            limits=lambda w: model_limits(w.model),
            prompt_format=lambda w: model_entry(config, w.model).format,
            seed=config["seed"],
            out_dir=lambda w: f"{RESULTS}/generation/{w.model}/{w.method}/{w.setting}",
            gpus=config["generation"]["gpus_per_job"],
        shell:
            "python -m workflow_scripts.gpu.run --gpus {params.gpus} -- python -m workflow_scripts.generation"
            " --model {params.model_path:q} --model-name {wildcards.model} --prompt-format {params.prompt_format}"
            " --method {wildcards.method}"
            " --setting {wildcards.setting} --settings {params.settings:q} --limits {params.limits:q}"
            " --eval-sets {input.eval_sets} --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"

else:

    for _model, _group in sorted({(spec.model, engine_group(spec)) for spec in GRID}):
        _specs = [spec for spec in GRID if spec.model == _model and engine_group(spec) == _group]

        rule:
            name:
                f"generate_{re.sub(r'[^A-Za-z0-9_]', '_', _model)}_{_group}"
            input:
                model=generation_model_input(_model),
                eval_sets=eval_files(),
            output:
                shards=[spec.path(f"{RESULTS}/generation", ds) for spec in _specs for ds in EVAL_SETS],
                jobs=[f"{generation_dir(spec)}/job.json" for spec in _specs],
            log:
                f"{LOGS}/generate/{_model}_{_group}.log",
            conda:
                CONDA_ENV
            # A CPU engine uses every core: ask for all of them (Snakemake caps this at --cores),
            # so one engine runs at a time and two never share the cores or the memory.
            threads: 1024
            resources:
                gpu=0,
            params:
                model_path=source_param("model", model_path(_model)),
                model_name=_model,
                prompt_format=model_entry(config, _model).format,
                configs=as_json(
                    [{"method": s.method, "setting": s.setting, "out_dir": generation_dir(s)} for s in _specs]
                ),
                settings=GROUP_SETTINGS,
                limits=model_limits(_model),
                seed=config["seed"],
                gpus=0,
            shell:
                "python -m workflow_scripts.gpu.run --gpus {params.gpus} -- python -m workflow_scripts.generation"
                " --model {params.model_path:q} --model-name {params.model_name} --prompt-format {params.prompt_format}"
                " --configs {params.configs:q}"
                " --settings {params.settings:q} --limits {params.limits:q}"
                " --eval-sets {input.eval_sets} --seed {params.seed} > {log} 2>&1"
