# Curation: pool -> quality -> decontamination -> dedup -> difficulty -> 1K selection.


rule curate:
    input:
        pool=local_inputs(pool_source()),
        eval_sets=eval_files(),
        tokenizer=local_inputs(tokenizer_source()),
    output:
        curated=f"{RESULTS}/curation/curated.parquet",
        dropped=f"{RESULTS}/curation/dropped.parquet",
        summary=f"{RESULTS}/curation/summary.json",
        stages=report(
            f"{RESULTS}/curation/plots/stages.png", caption="../report/curation_stages.rst", category="Curation"
        ),
        domains=report(
            f"{RESULTS}/curation/plots/domains.png", caption="../report/curation_domains.rst", category="Curation"
        ),
        sources=report(
            f"{RESULTS}/curation/plots/sources.png", caption="../report/curation_sources.rst", category="Curation"
        ),
        lengths=report(
            f"{RESULTS}/curation/plots/trace_lengths.png",
            caption="../report/curation_lengths.rst",
            category="Curation",
        ),
    log:
        f"{LOGS}/curate.log",
    conda:
        CONDA_ENV
    threads: 2
    params:
        pool=source_param("pool", pool_source()),
        pool_settings=as_json(config["pool"]),
        settings=as_json(config["curation"]),
        tokenizer=source_param("tokenizer", tokenizer_source()),
        seed=config["seed"],
        out_dir=lambda w, output: os.path.dirname(output.summary),
    shell:
        "python -m workflow_scripts.curation --pool {params.pool:q} --pool-settings {params.pool_settings:q}"
        " --settings {params.settings:q} --eval-sets {input.eval_sets} --tokenizer {params.tokenizer:q}"
        " --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"
