"""rules/generation.smk under real Snakemake (dry runs): one job per configuration on GPUs,
one engine-sharing job per (model, budget) on CPU, the same output paths either way."""

from __future__ import annotations

import re
import subprocess
import sys

from workflow_scripts.config import evaluation_grid, load_config


def dry_run(repo_root, *args) -> str:
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--printshellcmds", *args]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


def test_real_config_runs_one_job_per_configuration(repo_root):
    grid = evaluation_grid(load_config(repo_root / "config.yaml"))
    counts = job_counts(dry_run(repo_root))
    assert counts["generate"] == len(grid)
    assert not any(name.startswith("generate_") for name in counts)


def test_cpu_smoke_run_groups_configurations_per_budget(repo_root):
    config = load_config(repo_root / "profiles" / "smoke" / "experiment.yaml")
    grid = evaluation_grid(config)
    output = dry_run(repo_root, "--profile", "profiles/smoke")
    counts = job_counts(output)
    from workflow_scripts.methods import get_method

    groups = {(s.model, get_method(s.method).engine_group(s.params)) for s in grid}
    # the new methods share the engines of the old ones: no more engine starts than before
    assert len(groups) == 7
    assert {name: n for name, n in counts.items() if name.startswith("generate")} == {
        f"generate_{model}_{group}": 1 for model, group in groups
    }
    # every configuration keeps its own folder (shards + job.json) and is passed to the CLI once
    for spec in grid:
        assert output.count(f'"out_dir": "results/smoke/generation/{spec.model}/{spec.method}/{spec.setting}"') == 1


def test_cpu_profile_runs_the_real_config_on_cpu_one_engine_at_a_time(repo_root):
    """profiles/cpu merges its overlay over config.yaml: no GPU asked for anywhere, float32,
    one engine per (model, budget), each taking all cores (so engines never run side by side)."""
    output = dry_run(repo_root, "--profile", "profiles/cpu", "--cores", "4")
    counts = job_counts(output)
    assert "generate" not in counts and counts["generate_sft_B500"] == 1
    assert '"dtype": "float32"' in output and '"enforce_eager": true' in output and "bfloat16" not in output
    assert "gpu.run --gpus 0 " in output and "--gpus 1 " not in output  # SFT and generation on the CPU
    assert re.search(r"rule generate_sft_B500:.*?threads: 4", output, re.S)  # all 4 cores: one engine at a time
