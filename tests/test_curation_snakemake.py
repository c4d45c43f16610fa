"""rules/data.smk + rules/curation.smk run for real through snakemake on local files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from test_curation_pipeline import planted_pool  # the same planted pool as the pipeline tests
from workflow_scripts.data import load_benchmark

SOURCES = {"math500": "math500/test.jsonl", "aime24": "aime24/aime24_nofigures.jsonl", "gpqa": "gpqa/gpqa_diamond.csv"}


@pytest.mark.slow
def test_eval_set_and_curate_rules_run_and_are_then_up_to_date(tmp_path, repo_root, shared_data):
    records = [r for b, s in SOURCES.items() for r in load_benchmark(b, str(shared_data / s), 42)]
    pool_path = tmp_path / "pool.parquet"
    planted_pool(records).to_parquet(pool_path)
    config = yaml.safe_load((repo_root / "config.yaml").read_text())
    config["run_name"] = "curation-test"
    config["pool"]["source"] = str(pool_path)
    config["pool"]["columns"]["trace_tokens"] = "thinking_length"
    for benchmark, source in SOURCES.items():
        config["eval_sets"][benchmark]["source"] = str(shared_data / source)
    config["curation"] = {"target_size": 8}  # config.yaml leaves curation to the schema's defaults
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(repo_root / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(config_path), "--cores", "2", "results/curation-test/curation/summary.json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = tmp_path / "results" / "curation-test"
    assert sum(1 for _ in open(results / "data/eval/math500.jsonl")) == 500
    assert sum(1 for _ in open(results / "data/eval/gpqa.jsonl")) == 198
    summary = json.loads((results / "curation/summary.json").read_text())
    assert summary["kept"] == 8 and summary["counts_add_up"]
    assert summary["decontamination"]["eval_rows"] == {"aime24": 30, "gpqa": 198, "math500": 500}
    assert (results / "curation/plots/domains.png").exists()
    assert "kept 8 of 40" in (results / "logs/curate.log").read_text()  # the CLI's output went to the log
    dry = subprocess.run(command + ["-n"], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
