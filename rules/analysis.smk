# Metrics, plots, failure analysis, examples and the research report.


rule metrics:
    input:
        graded=shard_paths("graded"),
    output:
        metrics=report(
            f"{RESULTS}/analysis/metrics.tsv",
            caption="../report/metrics.rst",
            category="Scaling",
            subcategory="Tables",
        ),
        runs=f"{RESULTS}/analysis/runs.tsv",
        natural_stop=f"{RESULTS}/analysis/natural_stop.tsv",
        differences=f"{RESULTS}/analysis/paired_differences.tsv",
        chance=f"{RESULTS}/analysis/chance.tsv",
    log:
        f"{LOGS}/metrics.log",
    conda:
        CONDA_ENV
    params:
        settings=as_json(
            {
                "generation": config["generation"],
                "eval_sets": config["eval_sets"],
                "grading": config["grading"],
            }
        ),
        graded_dir=lambda w, output: os.path.join(os.path.dirname(os.path.dirname(output.runs)), "graded"),
        out_dir=lambda w, output: os.path.dirname(output.runs),
    shell:
        "python -m workflow_scripts.analysis metrics --graded {input.graded} --settings {params.settings:q}"
        " --graded-dir {params.graded_dir} --out-dir {params.out_dir} > {log} 2>&1"


# Engine tokens the grid generated, against its minimum and a from-scratch grid
# (workflow_scripts/analysis/cost.py); the trajectory shards exist only with generation.reuse_thinking.
rule cost:
    input:
        generation=shard_paths("generation"),
        trajectories=trajectory_paths(),
    output:
        cost=report(
            f"{RESULTS}/analysis/cost.tsv", caption="../report/cost.rst", category="Scaling", subcategory="Cost"
        ),
    log:
        f"{LOGS}/cost.log",
    conda:
        CONDA_ENV
    shell:
        "python -m workflow_scripts.analysis cost --generation {input.generation}"
        " --trajectories {input.trajectories} --output {output.cost} > {log} 2>&1"


rule plots:
    input:
        runs=f"{RESULTS}/analysis/runs.tsv",
        metrics=f"{RESULTS}/analysis/metrics.tsv",
    output:
        scaling=report(
            f"{RESULTS}/analysis/scaling.png",
            caption="../report/scaling.rst",
            category="Scaling",
            subcategory="Figures",
        ),
        others=report(
            f"{RESULTS}/analysis/scaling_other_methods.png",
            caption="../report/scaling_other_methods.rst",
            category="Scaling",
            subcategory="Figures",
        ),
        methods=report(
            f"{RESULTS}/analysis/methods.png",
            caption="../report/methods.rst",
            category="Scaling",
            subcategory="Figures",
        ),
    log:
        f"{LOGS}/plots.log",
    conda:
        CONDA_ENV
    shell:
        "python -m workflow_scripts.analysis plots --runs {input.runs} --metrics {input.metrics}"
        " --scaling {output.scaling} --others {output.others} --methods {output.methods} > {log} 2>&1"


rule failures:
    input:
        runs=f"{RESULTS}/analysis/runs.tsv",
        metrics=f"{RESULTS}/analysis/metrics.tsv",
        graded=shard_paths("graded"),
    output:
        table=f"{RESULTS}/analysis/failures.tsv",
        figure=report(
            f"{RESULTS}/analysis/failures.png",
            caption="../report/failures.rst",
            category="Scaling",
            subcategory="Figures",
        ),
    log:
        f"{LOGS}/failures.log",
    conda:
        CONDA_ENV
    params:
        graded_dir=lambda w, output: os.path.join(os.path.dirname(os.path.dirname(output.table)), "graded"),
    shell:
        "python -m workflow_scripts.analysis failures --runs {input.runs} --metrics {input.metrics}"
        " --graded {input.graded} --graded-dir {params.graded_dir} --table {output.table}"
        " --figure {output.figure} > {log} 2>&1"


rule examples:
    input:
        graded=shard_paths("graded"),
    output:
        markdown=report(f"{RESULTS}/analysis/examples.md", caption="../report/examples.rst", category="Examples"),
        index=f"{RESULTS}/analysis/examples.tsv",
    log:
        f"{LOGS}/examples.log",
    conda:
        CONDA_ENV
    params:
        settings=as_json(config["report"]),
        seed=config["seed"],
        graded_dir=lambda w, output: os.path.join(os.path.dirname(os.path.dirname(output.index)), "graded"),
    shell:
        "python -m workflow_scripts.analysis examples --graded {input.graded} --graded-dir {params.graded_dir}"
        " --settings {params.settings:q} --seed {params.seed} --markdown {output.markdown}"
        " --index {output.index} > {log} 2>&1"


# Every file the report reads is an input here (named as report.py knows them), passed to the
# CLI as one JSON mapping; optional ones (test results, benchmark predictions) only when they exist.
rule research_report:
    input:
        metrics=f"{RESULTS}/analysis/metrics.tsv",
        runs=f"{RESULTS}/analysis/runs.tsv",
        natural_stop=f"{RESULTS}/analysis/natural_stop.tsv",
        differences=f"{RESULTS}/analysis/paired_differences.tsv",
        cost=f"{RESULTS}/analysis/cost.tsv",
        failures=f"{RESULTS}/analysis/failures.tsv",
        failures_plot=f"{RESULTS}/analysis/failures.png",
        examples=f"{RESULTS}/analysis/examples.md",
        examples_index=f"{RESULTS}/analysis/examples.tsv",
        scaling=f"{RESULTS}/analysis/scaling.png",
        scaling_others=f"{RESULTS}/analysis/scaling_other_methods.png",
        methods=f"{RESULTS}/analysis/methods.png",
        audit=[f"{RESULTS}/analysis/grader_audit.json"] if AUDITED else [],
        # Curation and SFT only run when a model is trained here; the report says when they did not.
        curation=[f"{RESULTS}/curation/summary.json"] if TRAINS else [],
        curation_stages=[f"{RESULTS}/curation/plots/stages.png"] if TRAINS else [],
        curation_domains=[f"{RESULTS}/curation/plots/domains.png"] if TRAINS else [],
        curation_sources=[f"{RESULTS}/curation/plots/sources.png"] if TRAINS else [],
        curation_lengths=[f"{RESULTS}/curation/plots/trace_lengths.png"] if TRAINS else [],
        sft=[f"{RESULTS}/sft/summary.json"] if TRAINS else [],
        loss_curve=[f"{RESULTS}/sft/loss_curve.png"] if TRAINS else [],
        jobs=[f"{generation_dir(spec)}/job.json" for spec in GRID],
        generate_jobs=[path for model in MODELS for path in part_manifests(model)],
        eval_sets=eval_files(),
        # The desk estimate of the full grid (benchmarks/generation_cost.py writes it).
        predicted=local_inputs(os.path.join(workflow.basedir, "benchmarks", "generation_cost_results.json")),
        tests=local_inputs(f"{RESULTS}/tests/junit.xml"),
        template=os.path.join(workflow.basedir, "report", "REPORT.md.j2"),
    output:
        report(
            f"{RESULTS}/REPORT.md",
            caption="../report/research_report.rst",
            category="Scaling",
            subcategory="Research report",
        ),
    log:
        f"{LOGS}/research_report.log",
    conda:
        CONDA_ENV
    params:
        inputs=lambda w, input: as_json({name: files for name, files in input.items() if name != "template"}),
        config_json=as_json(config),
    shell:
        "python -m workflow_scripts.analysis report --inputs {params.inputs:q} --template {input.template}"
        " --config-json {params.config_json:q} --output {output} > {log} 2>&1"
