# Grading: one graded file per shard, offline and deterministic.


rule grade:
    input:
        f"{RESULTS}/generation/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    output:
        f"{RESULTS}/graded/{{model}}/{{method}}/{{setting}}/{{dataset}}.jsonl",
    log:
        f"{LOGS}/grade/{{model}}/{{method}}/{{setting}}/{{dataset}}.log",
    shell:
        "{PYTHON} -m workflow_scripts.grading --benchmark {wildcards.dataset} --input {input}"
        " --output {output} > {log} 2>&1"
