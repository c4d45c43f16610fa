"""rules/generation.smk under real Snakemake (dry runs): one `generate` job per (model, part),
one engine each, making every run of the model; one `shards` job per run (no engine), whose
trigger is its own run (workflow_scripts.config.grid: generation_runs)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

from workflow_scripts.config import (
    complete_config, derives_thinking, evaluation_grid, generation_parts, generation_runs, load_config, merge_configs,
    trajectory_plan,
)


def dry_run(repo_root, *args) -> str:
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--printshellcmds", *args]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


def commands(output: str, subcommand: str) -> list[dict]:
    """The flags of every `python -m workflow_scripts.generation <subcommand>` command of a dry run."""
    found = []
    for line in output.splitlines():
        if f"workflow_scripts.generation {subcommand} " not in line:
            continue
        words = shlex.split(line.split(f"workflow_scripts.generation {subcommand} ", 1)[1].split(" > ")[0])
        flags, key = {}, None
        for word in words:
            if word.startswith("--"):
                key = word[2:]
                flags[key] = []
            else:
                flags[key].append(word)
        found.append({k: v[0] if len(v) == 1 else v for k, v in flags.items()})
    return found


def requests(output: str) -> dict[str, dict]:
    """{request.json path: its content} of every generation_request job of a dry run."""
    return {match[2]: json.loads(shlex.split(match[1])[0])
            for match in re.finditer(r"^(?:Shell command: )?echo (.*) > (\S+/request\.json)(?: 2> \S+)?$", output, re.MULTILINE)}


def test_real_config_one_engine_per_model_and_one_shards_job_per_run(repo_root):
    """The real grid: two generate jobs (base and sft, one engine each), the SFT model's runs
    cut from its trajectory; a shards job per run and for the trajectory."""
    config = load_config(repo_root / "config.yaml")
    grid, plan = evaluation_grid(config), trajectory_plan(config)
    output = dry_run(repo_root)
    counts = job_counts(output)
    assert counts["generate"] == 2 and counts["shards"] == len(grid) + len(plan) == len(grid) + 1
    generate = {c["model-name"]: c for c in commands(output, "samples")}
    assert set(generate) == {"base", "sft"} and {c["part"] for c in generate.values()} == {"1of1"}
    sft_runs = json.loads(generate["sft"]["runs"])
    assert sft_runs[0] == {"method": "trajectory", "setting": "Bunbounded-n4"}
    derived = [r for r in sft_runs if "thinking_from" in r]
    assert len(derived) == 6 + 6 + 2 * 2  # 6 truncation budgets; budget forcing: n=1 at 6, n=2 and 4 at 2
    assert {r["thinking_from"] for r in derived} == {"Bunbounded-n4"}
    assert len(sft_runs) == 1 + sum(s.model == "sft" for s in grid)
    assert sorted((r["method"], r["setting"]) for r in derived) == sorted(
        (s.method, s.setting) for s in grid if derives_thinking(config, s))
    results = f"results/{config['run_name']}"
    shards = commands(output, "shards")
    assert sorted(c["run"] for c in shards) == sorted([s.label for s in grid] + ["sft/trajectory/Bunbounded-n4"])
    for command in shards:
        model = command["run"].split("/")[0]
        assert command["manifests"] == f"{results}/generation/{model}/parts/1of1.json"
        assert command["out-dir"] == f"{results}/generation/{command['run']}"
        assert command["request"] == f"{results}/generation/{command['run']}/request.json"
    # a derived run's shards depend on budget forcing's string (its trajectory's), not on other methods
    truncation = requests(output)[f"{results}/generation/sft/truncation/B500/request.json"]
    assert set(truncation["settings"]) >= {"budget_forcing", "engine"} and "parallel" not in truncation["settings"]
    assert truncation["limits"] == {"aime24": None, "gpqa": 100, "math500": 100} and truncation["seed"] == 42
    assert counts["generation_request"] == counts["shards"]
    assert "rule shards:" in output and not re.search(r"rule shards:[^\n]*\n(?:[^\n]+\n)*?\s+resources:.*gpu=1", output)


def test_smoke_runs_every_method_of_a_model_on_one_engine(repo_root):
    config = complete_config(load_config(repo_root / "profiles" / "smoke" / "experiment.yaml"))
    runs = generation_runs(config)
    assert [r.folder for r in runs["sft"]][0] == "sft/trajectory/Bunbounded-n2"
    assert {r.folder for r in runs["sft"] if r.thinking_from} == {
        *(f"sft/truncation/{s}" for s in ("B16", "B32", "B64", "B128", "Bunbounded")),
        *(f"sft/budget_forcing/{s}" for s in ("B32-n1", "B128-n1", "B128-n2", "Bunbounded-n1", "Bunbounded-n2"))}
    assert {r.folder for r in runs["base"]} == {"base/parallel/k4", "base/truncation/Bunbounded"}
    assert sum(len(r) for r in runs.values()) == len(evaluation_grid(config)) + 1
    output = dry_run(repo_root, "--profile", "profiles/smoke")
    counts = job_counts(output)
    assert counts["generate"] == 2 and counts["shards"] == len(evaluation_grid(config)) + 1
    for command in commands(output, "samples"):
        assert [tuple(sorted(r.items())) for r in json.loads(command["runs"])] == [
            tuple(sorted(r.as_dict().items())) for r in runs[command["model-name"]]]
    # reuse off: no trajectory, every run thinks from scratch on the same engine
    scratch = generation_runs(complete_config(merge_configs(config, {"generation": {"reuse_thinking": False}})))
    assert all(r.thinking_from is None and r.method != "trajectory" for rs in scratch.values() for r in rs)


def test_parts_split_a_models_work_into_jobs_with_one_engine_each(repo_root, tmp_path):
    config = complete_config(merge_configs(load_config(repo_root / "config.yaml"), {"generation": {"parts": 3}}))
    assert generation_parts(config) == ["1of3", "2of3", "3of3"]
    overlay = tmp_path / "parts.yaml"
    overlay.write_text("generation:\n  parts: 3\n")
    output = dry_run(repo_root, "--configfile", str(overlay))
    assert job_counts(output)["generate"] == 2 * 3
    assert sorted(c["part"] for c in commands(output, "samples")) == ["1of3", "1of3", "2of3", "2of3", "3of3", "3of3"]
    for command in commands(output, "shards"):
        model = command["run"].split("/")[0]
        assert command["manifests"] == [f"results/s1-qwen2.5-3b/generation/{model}/parts/{p}of3.json" for p in (1, 2, 3)]


def test_a_dry_run_writes_no_file(repo_root, tmp_path):
    """Nothing is planned into files at parse time: a dry run leaves the results folder as it was."""
    overlay = tmp_path / "elsewhere.yaml"
    overlay.write_text(f"run_name: dry-{tmp_path.name}\n")
    dry_run(repo_root, "--configfile", str(overlay))
    assert not (repo_root / "results" / f"dry-{tmp_path.name}").exists()


def test_cpu_profile_runs_the_real_config_on_cpu_one_engine_at_a_time(repo_root):
    """profiles/cpu merges its overlay over config.yaml: no GPU asked for anywhere, float32,
    every generate job taking all cores (so engines never run side by side)."""
    output = dry_run(repo_root, "--profile", "profiles/cpu", "--cores", "4")
    counts = job_counts(output)
    assert {n for n in counts if n.startswith("generate")} == {"generate"}
    assert '"dtype": "float32"' in output and '"enforce_eager": true' in output and "bfloat16" not in output
    assert "gpu.run --gpus 0 " in output and "--gpus 1 " not in output  # SFT and generation on the CPU
    assert re.search(r"rule generate:.*?threads: 4", output, re.S)  # all 4 cores: one engine at a time
