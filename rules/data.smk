# Evaluation sets, normalised by one loader per benchmark (also used for decontamination).


rule eval_set:
    input:
        source=lambda w: local_inputs(eval_source(w.dataset)),
    output:
        f"{RESULTS}/data/eval/{{dataset}}.jsonl",
    log:
        f"{LOGS}/eval_set/{{dataset}}.log",
    conda:
        CONDA_ENV
    params:
        source=source_param("source", lambda w: eval_source(w.dataset)),
        # All rows are normalised whatever `limit` says (generation applies it; decontamination
        # needs every row), so a limit change must not rewrite the eval set and stale curation.
        settings=lambda w: as_json({k: v for k, v in config["eval_sets"][w.dataset].items() if k != "limit"}),
        seed=config["seed"],
    shell:
        "python -m workflow_scripts.data --benchmark {wildcards.dataset} --source {params.source:q}"
        " --settings {params.settings:q} --seed {params.seed} --output {output} > {log} 2>&1"
