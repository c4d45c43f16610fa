# Test-time scaling with vLLM: one job per (model, method, setting), one shard per dataset.


rule generate:
    input:
        model=lambda w: model_path(w.model) if w.model == "sft" else local_inputs(base_model()),
        eval_sets=expand(f"{RESULTS}/data/eval/{{dataset}}.jsonl", dataset=DATASETS),
    output:
        shards=expand(f"{RESULTS}/generation/{{{{model}}}}/{{{{method}}}}/{{{{setting}}}}/{{dataset}}.jsonl", dataset=DATASETS),
        job=f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/job.json",
    params:
        model_path=lambda w: model_path(w.model),
        settings=as_json({k: v for k, v in config["generation"].items() if k not in ("models",)}),
        limits=as_json({ds: config["eval_sets"][ds].get("limit") for ds in DATASETS}),
        seed=config["seed"],
        out_dir=lambda w: f"{RESULTS}/generation/{w.model}/{w.method}/{w.setting}",
    resources:
        gpu=config["generation"].get("gpus_per_job", 1),
    log:
        f"{LOGS}/generate/{{model}}/{{method}}/{{setting}}.log",
    threads: 2
    shell:
        "{GPU_RUN} --gpus {resources.gpu} -- {PYTHON} -m workflow_scripts.generation"
        " --model {params.model_path:q} --model-name {wildcards.model} --method {wildcards.method}"
        " --setting {wildcards.setting} --settings {params.settings:q} --limits {params.limits:q}"
        " --eval-sets {input.eval_sets} --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"
