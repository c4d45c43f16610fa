# Test-time scaling with vLLM, in three rules:
#
# generate: one job per (model, part), one engine: every run of the model (and its thinking
#   trajectory) on that part's questions. Samples already in the part's store are kept; the
#   missing ones are generated with every run's rounds batched into one vLLM call. Writes the
#   part's manifest (workflow_scripts/generation/samples.py).
# shards: one job per run (model, method, setting), no engine: the run's shards, one per eval
#   set, and job.json, read from the stores (workflow_scripts/generation/shards.py).
# generation_request: one tiny local job per run writing what the run asks for (its settings,
#   limits, seed, model) to request.json; it reruns only when those change. That file is the
#   shards job's trigger; the manifests are `ancient` inputs, so adding a budget reruns the
#   model's generate job (which makes only that budget's samples) and that budget's shards job,
#   and no other. (A params trigger on the shards job itself would be skipped: Snakemake does
#   not evaluate jobs below a rerun job whose inputs from it are all ancient.)


rule generation_request:
    output:
        f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/request.json",
    log:
        f"{LOGS}/generation_request/{{model}}/{{method}}/{{setting}}.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        request=run_request,
    shell:
        "echo {params.request:q} > {output} 2> {log}"


rule generate:
    input:
        model=lambda w: generation_model_input(w.model),
        eval_sets=eval_files(),
        requests=lambda w: request_files(w.model),
    output:
        manifest=f"{RESULTS}/generation/{{model}}/parts/{{part}}.json",
    log:
        f"{LOGS}/generate/{{model}}/{{part}}.log",
    conda:
        CONDA_ENV
    # A CPU engine uses every core: ask for all of them (Snakemake caps this at --cores), so
    # one engine runs at a time and two never share the cores or the memory.
    threads: 2 if config["generation"]["gpus_per_job"] else 1024
    resources:
        gpu=config["generation"]["gpus_per_job"],
    params:
        model_path=lambda w: model_path(w.model),
        prompt_format=lambda w: model_entry(config, w.model).format,
        runs=generate_runs,
        settings=generate_settings,
        limits=lambda w: model_limits(w.model),
        seed=config["seed"],
        store=lambda w: f"{RESULTS}/generation/{w.model}/.store/{w.part}",
        gpus=config["generation"]["gpus_per_job"],
    shell:
        f"{GPU_RUN} --gpus {{params.gpus}} -- python -m workflow_scripts.generation samples"
        " --model {params.model_path:q} --model-name {wildcards.model} --prompt-format {params.prompt_format}"
        " --runs {params.runs:q} --settings {params.settings:q} --limits {params.limits:q}"
        " --eval-sets {input.eval_sets} --seed {params.seed} --part {wildcards.part}"
        " --store {params.store} --manifest {output.manifest} > {log} 2>&1"


rule shards:
    input:
        request=f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/request.json",
        manifests=lambda w: [ancient(path) for path in part_manifests(w.model)],
        model=lambda w: generation_model_input(w.model),
        eval_sets=eval_files(),
    output:
        shards=expand(
            f"{RESULTS}/generation/{{{{model}}}}/{{{{method}}}}/{{{{setting}}}}/{{dataset}}.jsonl",
            dataset=EVAL_SETS,
        ),
        job=f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/job.json",
    log:
        f"{LOGS}/shards/{{model}}/{{method}}/{{setting}}.log",
    conda:
        CONDA_ENV
    params:
        run=lambda w: f"{w.model}/{w.method}/{w.setting}",
        out_dir=lambda w: f"{RESULTS}/generation/{w.model}/{w.method}/{w.setting}",
    shell:
        "python -m workflow_scripts.generation shards --manifests {input.manifests} --run {params.run}"
        " --request {input.request} --out-dir {params.out_dir} > {log} 2>&1"
