# SFT: full-parameter bf16 distillation of the base model on the curated set.


rule sft:
    input:
        curated=f"{RESULTS}/curation/curated.parquet",
        model=local_inputs(base_model()),
    output:
        model=directory(f"{RESULTS}/sft/model"),
        summary=f"{RESULTS}/sft/summary.json",
        log_steps=f"{RESULTS}/sft/training_log.jsonl",
        loss=report(f"{RESULTS}/sft/loss_curve.png", caption="../report/loss_curve.rst", category="Training"),
    params:
        base=base_model(),
        settings=as_json(config["training"]),
        seed=config["seed"],
        out_dir=f"{RESULTS}/sft",
    resources:
        gpu=config["training"].get("gpus", 1),
    log:
        f"{LOGS}/sft.log",
    threads: 2
    shell:
        "{GPU_RUN} --gpus {resources.gpu} -- {PYTHON} -m workflow_scripts.training"
        " --curated {input.curated} --base {params.base:q} --settings {params.settings:q}"
        " --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"
