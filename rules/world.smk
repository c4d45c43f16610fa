# The embedded default: a synthetic world made by the project (seed 42, no downloads).


rule synthetic_world:
    output:
        pool=world_file("pool.jsonl"),
        math500=world_file("eval/math500.jsonl"),
        aime24=world_file("eval/aime24.jsonl"),
        gpqa=world_file("eval/gpqa_diamond.csv"),
        model=directory(world_file("base_model")),
        summary=world_file("summary.json"),
    log:
        f"{LOGS}/synthetic_world.log",
    conda:
        CONDA_ENV
    threads: 2
    params:
        settings=as_json(config["synthetic_world"] or {}),
        seed=config["seed"],
        out_dir=lambda w, output: os.path.dirname(output.summary),
    shell:
        "python -m workflow_scripts.world --settings {params.settings:q} --seed {params.seed}"
        " --out-dir {params.out_dir} > {log} 2>&1"
