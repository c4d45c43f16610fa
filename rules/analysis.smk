# Metrics, plots, failure analysis, examples and the research report.


rule metrics:
    input:
        graded=shard_paths("graded"),
    output:
        metrics=report(f"{RESULTS}/analysis/metrics.tsv", caption="../report/metrics.rst", category="Scaling"),
        runs=f"{RESULTS}/analysis/runs.tsv",
        natural_stop=f"{RESULTS}/analysis/natural_stop.tsv",
        differences=f"{RESULTS}/analysis/paired_differences.tsv",
    params:
        settings=as_json({"generation": config["generation"], "eval_sets": config["eval_sets"]}),
        graded_dir=lambda w, output: os.path.join(os.path.dirname(os.path.dirname(output.runs)), "graded"),
        out_dir=lambda w, output: os.path.dirname(output.runs),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/metrics.log",
    shell:
        "python -m workflow_scripts.analysis metrics --graded {input.graded} --settings {params.settings:q}"
        " --graded-dir {params.graded_dir} --out-dir {params.out_dir} > {log} 2>&1"


rule plots:
    input:
        runs=f"{RESULTS}/analysis/runs.tsv",
        metrics=f"{RESULTS}/analysis/metrics.tsv",
        graded=shard_paths("graded"),
    output:
        scaling=report(f"{RESULTS}/analysis/scaling.png", caption="../report/scaling.rst", category="Scaling"),
        methods=report(f"{RESULTS}/analysis/methods.png", caption="../report/methods.rst", category="Scaling"),
        failures=f"{RESULTS}/analysis/failures.tsv",
        failures_plot=report(f"{RESULTS}/analysis/failures.png", caption="../report/failures.rst", category="Scaling"),
        examples=report(f"{RESULTS}/analysis/examples.md", caption="../report/examples.rst", category="Examples"),
        examples_index=f"{RESULTS}/analysis/examples.tsv",
    params:
        settings=as_json(config["report"]),
        seed=config["seed"],
        out_dir=lambda w, output: os.path.dirname(output.scaling),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/plots.log",
    shell:
        "python -m workflow_scripts.analysis plots --runs {input.runs} --metrics {input.metrics} --graded {input.graded}"
        " --settings {params.settings:q} --seed {params.seed} --out-dir {params.out_dir} > {log} 2>&1"


rule research_report:
    input:
        metrics=f"{RESULTS}/analysis/metrics.tsv",
        runs=f"{RESULTS}/analysis/runs.tsv",
        natural_stop=f"{RESULTS}/analysis/natural_stop.tsv",
        differences=f"{RESULTS}/analysis/paired_differences.tsv",
        failures=f"{RESULTS}/analysis/failures.tsv",
        examples=f"{RESULTS}/analysis/examples.md",
        examples_index=f"{RESULTS}/analysis/examples.tsv",
        scaling=f"{RESULTS}/analysis/scaling.png",
        methods=f"{RESULTS}/analysis/methods.png",
        failures_plot=f"{RESULTS}/analysis/failures.png",
        audit=f"{RESULTS}/analysis/grader_audit.json",
        curation=f"{RESULTS}/curation/summary.json",
        sft=f"{RESULTS}/sft/summary.json",
        jobs=[f"{RESULTS}/generation/{s.model}/{s.method}/{s.setting}/job.json" for s in GRID],
        template=os.path.join(workflow.basedir, "report", "REPORT.md.j2"),
    output:
        report(f"{RESULTS}/REPORT.md", caption="../report/research_report.rst", category="Scaling",
               subcategory="Research report"),
    params:
        config_json=as_json(config),
        results=lambda w, output: os.path.dirname(output[0]),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/research_report.log",
    shell:
        "python -m workflow_scripts.analysis report --results {params.results} --template {input.template}"
        " --config-json {params.config_json:q} --output {output} > {log} 2>&1"
