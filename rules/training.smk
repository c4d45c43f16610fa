# SFT: full-parameter bf16 distillation of the base model on the curated set.
# One GPU trains without DeepSpeed; with training.gpus > 1 the CLI launches one process per
# claimed GPU (torch.distributed.run) and the Trainer runs DeepSpeed ZeRO-3 (deepspeed_config);
# gpus: 0 (the smoke profile) trains on the CPU in fp32.


rule sft:
    input:
        curated=f"{RESULTS}/curation/curated.parquet",
        model=local_inputs(base_model()),
        deepspeed=local_inputs(config["training"]["deepspeed_config"]) if config["training"]["gpus"] > 1 else [],
    output:
        model=directory(f"{RESULTS}/sft/model"),
        summary=f"{RESULTS}/sft/summary.json",
        log_steps=f"{RESULTS}/sft/training_log.jsonl",
        loss=report(f"{RESULTS}/sft/loss_curve.png", caption="../report/loss_curve.rst", category="Training"),
    log:
        f"{LOGS}/sft.log",
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=config["training"]["gpus"],
    params:
        base=source_param("model", base_model()),
        settings=as_json(config["training"]),
        seed=config["seed"],
        out_dir=lambda w, output: os.path.dirname(output.summary),
        # The wrapper's device count comes from the config, not from `resources`, so a site
        # that requests GPUs through `gres=` instead of `gpu=` still gets them claimed.
        gpus=config["training"]["gpus"],
    shell:
        f"{GPU_RUN} --gpus {{params.gpus}} -- python -m workflow_scripts.training"
        " --curated {input.curated} --base {params.base:q} --settings {params.settings:q}"
        " --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"
