# Grading: one graded file per shard, offline and deterministic.


rule grade:
    input:
        f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    output:
        f"{RESULTS}/graded/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    log:
        f"{LOGS}/grade/{{model}}/{{method}}/{{setting}}/{{dataset}}.log",
    conda:
        CONDA_ENV
    params:
        settings=as_json(config["grading"]),
    shell:
        "python -m workflow_scripts.grading --benchmark {wildcards.dataset} --input {input}"
        " --output {output} --settings {params.settings:q} > {log} 2>&1"


# The grader graded against itself: every reference solution of the eval sets against its
# reference answer (MATH500: all 500 rows, ~5 s on 2 CPU cores).
# Only the configured ones of MATH500 and AIME24 (GPQA has no free-form solutions to audit).
rule grader_audit:
    input:
        **{name: eval_files([name]) for name in AUDITED},
    output:
        f"{RESULTS}/analysis/grader_audit.json",
    log:
        f"{LOGS}/grader_audit.log",
    conda:
        CONDA_ENV
    params:
        sets=lambda w, input: " ".join(f"--{name} {input[name]}" for name in AUDITED),
    shell:
        "python -m workflow_scripts.grading.audit {params.sets} --output {output} > {log} 2>&1"
