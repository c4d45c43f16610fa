# Grading: one graded file per shard, offline and deterministic.


rule grade:
    input:
        f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    output:
        f"{RESULTS}/graded/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    params:
        settings=as_json(config["grading"]),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/grade/{{model}}/{{method}}/{{setting}}/{{dataset}}.log",
    shell:
        "python -m workflow_scripts.grading --benchmark {wildcards.dataset} --input {input}"
        " --output {output} --settings {params.settings:q} > {log} 2>&1"


# The grader graded against itself: every reference solution of the eval sets against its
# reference answer (MATH500: all 500 rows, ~5 s on 2 CPU cores).
rule grader_audit:
    input:
        math500=f"{RESULTS}/data/eval/math500.jsonl",
        aime24=f"{RESULTS}/data/eval/aime24.jsonl",
    output:
        f"{RESULTS}/analysis/grader_audit.json",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/grader_audit.log",
    shell:
        "python -m workflow_scripts.grading.audit --math500 {input.math500} --aime24 {input.aime24}"
        " --output {output} > {log} 2>&1"
