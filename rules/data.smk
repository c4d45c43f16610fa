# Evaluation sets, normalised by one loader per benchmark (also used for decontamination).


rule eval_set:
    input:
        local_inputs(*(eval_source(ds) for ds in DATASETS)),
    output:
        f"{RESULTS}/data/eval/{{dataset}}.jsonl",
    params:
        source=lambda w: eval_source(w.dataset),
        settings=lambda w: as_json(config["eval_sets"][w.dataset]),
        seed=config["seed"],
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/eval_set/{{dataset}}.log",
    shell:
        "python -m workflow_scripts.data --benchmark {wildcards.dataset} --source {params.source:q}"
        " --settings {params.settings:q} --seed {params.seed} --output {output} > {log} 2>&1"
