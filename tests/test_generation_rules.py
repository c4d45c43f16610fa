"""rules/generation.smk under real Snakemake (dry runs): one rule, one job per configuration
(and per trajectory), each reading its engine group from the plan file; the groups of
workflow_scripts.config.grid."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from workflow_scripts.config import (
    complete_config, derives_thinking, engine_group_plan, evaluation_grid, generation_jobs, load_config, merge_configs,
    trajectory_plan, write_engine_group_plan,
)


def dry_run(repo_root, *args) -> str:
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--printshellcmds", *args]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


def job_commands(output: str) -> dict[str, dict]:
    """{out_dir: the job's own configuration flags} of every generate job in a dry run."""
    commands = {}
    pattern = (r"--method (\S+) --setting (\S+) --out-dir (\S+) +(?:--thinking-from (\S+) +)?"
               r"--engine-groups (\S+)")
    for match in re.finditer(pattern, output):
        commands[match[3]] = {"method": match[1], "setting": match[2], "thinking_from": match[4],
                              "engine_groups": match[5]}
    return commands


def test_real_config_runs_one_job_per_configuration(repo_root):
    """On GPUs every run is its own job and engine group, except the runs cut from the SFT
    model's trajectory, which share its engine; every rule is `generate`."""
    config = load_config(repo_root / "config.yaml")
    grid, plan = evaluation_grid(config), trajectory_plan(config)
    output = dry_run(repo_root)
    counts = job_counts(output)
    assert counts["generate"] == len(grid) + len(plan) == len(grid) + 1
    assert not any(name.startswith("generate_") for name in counts)
    results = f"results/{config['run_name']}"
    trajectory = f"{results}/generation/sft/trajectory/Bunbounded-n4"
    derived = {f"{results}/generation/{s.model}/{s.method}/{s.setting}" for s in grid if derives_thinking(config, s)}
    assert len(derived) == 6 + 6 + 2 * 2  # 6 truncation budgets; budget forcing: n=1 at 6, n=2 and 4 at 2
    commands = job_commands(output)
    assert set(commands) == {f"{results}/generation/{s.model}/{s.method}/{s.setting}" for s in grid} | {trajectory}
    assert {c["engine_groups"] for c in commands.values()} == {f"{results}/generation/engine_groups.json"}
    assert {d for d, c in commands.items() if c["thinking_from"] == trajectory} == derived
    groups = engine_group_plan(generation_jobs(config), results)
    shared = [g for g in groups.values() if len(g) > 1]
    assert len(shared) == 1 and {c["out_dir"] for c in shared[0]} == derived | {trajectory}
    assert len(groups) == len(commands) - len(derived)  # every other job alone


def test_engine_groups_of_the_smoke_config_with_and_without_reuse(repo_root):
    config = complete_config(load_config(repo_root / "profiles" / "smoke" / "experiment.yaml"))
    jobs = generation_jobs(config)
    groups = {}
    for job in jobs:
        groups.setdefault(job.group, []).append(job.folder)
    # the trajectory and every truncation / budget-forcing run of the SFT model share one engine
    assert sorted(groups["sft:trajectory"]) == sorted(
        [f"sft/truncation/{s}" for s in ("B16", "B32", "B64", "B128", "Bunbounded")]
        + [f"sft/budget_forcing/{s}" for s in ("B32-n1", "B128-n1", "B128-n2", "Bunbounded-n1", "Bunbounded-n2")]
        + ["sft/trajectory/Bunbounded-n2"])
    assert all(j.thinking_from == "Bunbounded-n2" for j in jobs if j.group == "sft:trajectory" and j.method != "trajectory")
    # the other runs: one engine per (model, the method's group) on the CPU
    assert {group: sorted(folders) for group, folders in groups.items() if group != "sft:trajectory"} == {
        "base:Bunbounded": ["base/parallel/k4", "base/truncation/Bunbounded"],
        "sft:conditional": sorted(["sft/class_conditional/long", "sft/class_conditional/short",
                                   "sft/step_conditional/S2", "sft/step_conditional/S4",
                                   "sft/step_conditional_forcing/S2", "sft/step_conditional_forcing/S4",
                                   "sft/token_conditional/T32", "sft/token_conditional/T128"]),
        "sft:Bunbounded": ["sft/parallel/k4"],
        "sft:B128": ["sft/rejection_sampling/B128", "sft/token_conditional_forcing/T128"],
        "sft:B64": ["sft/rejection_sampling/B64"],
        "sft:B32": ["sft/token_conditional_forcing/T32"],
    }
    assert len(jobs) == len(evaluation_grid(config)) + 1
    # the plan the CLI reads: the same groups, with each derived run's trajectory folder
    plan = engine_group_plan(jobs, "results/smoke")
    assert {g: sorted(c["out_dir"] for c in configs) for g, configs in plan.items()} == {
        g: sorted(f"results/smoke/generation/{f}" for f in folders) for g, folders in groups.items()}
    assert {c.get("thinking_from") for c in plan["sft:trajectory"]} == {
        None, "results/smoke/generation/sft/trajectory/Bunbounded-n2"}
    # reuse off: no trajectory, every run thinks from scratch in its budget's group
    scratch = generation_jobs(complete_config(merge_configs(config, {"generation": {"reuse_thinking": False}})))
    assert all(j.thinking_from is None and j.method != "trajectory" for j in scratch)
    assert {j.folder for j in scratch if j.group == "sft:B32"} == {
        "sft/truncation/B32", "sft/budget_forcing/B32-n1", "sft/token_conditional_forcing/T32"}


def test_the_plan_file_is_written_once_and_only_when_it_changes(tmp_path):
    path = tmp_path / "generation" / "engine_groups.json"
    plan = {"g": [{"method": "truncation", "setting": "B16", "out_dir": "d"}]}
    write_engine_group_plan(str(path), plan)
    first = path.stat().st_mtime_ns
    write_engine_group_plan(str(path), plan)
    assert path.stat().st_mtime_ns == first and json.loads(path.read_text()) == plan
    write_engine_group_plan(str(path), {})
    assert json.loads(path.read_text()) == {} and not list(path.parent.glob(".*.tmp"))  # no temporary file left


def test_cpu_smoke_run_is_one_rule_whose_jobs_read_their_engine_group(repo_root):
    config = complete_config(load_config(repo_root / "profiles" / "smoke" / "experiment.yaml"))
    jobs = generation_jobs(config)
    output = dry_run(repo_root, "--profile", "profiles/smoke")
    counts = job_counts(output)
    assert {name: n for name, n in counts.items() if name.startswith("generate")} == {"generate": len(jobs)}
    commands = job_commands(output)
    assert sorted(commands) == sorted(f"results/smoke/generation/{job.folder}" for job in jobs)
    for job in jobs:
        flags = commands[f"results/smoke/generation/{job.folder}"]
        assert (flags["method"], flags["setting"]) == (job.method, job.setting)
        assert flags["thinking_from"] == (f"results/smoke/generation/sft/trajectory/{job.thinking_from}"
                                          if job.thinking_from else None)


def test_cpu_profile_runs_the_real_config_on_cpu_one_engine_at_a_time(repo_root):
    """profiles/cpu merges its overlay over config.yaml: no GPU asked for anywhere, float32,
    every generation job taking all cores (so engines never run side by side)."""
    output = dry_run(repo_root, "--profile", "profiles/cpu", "--cores", "4")
    counts = job_counts(output)
    assert set(n for n in counts if n.startswith("generate")) == {"generate"}
    assert '"dtype": "float32"' in output and '"enforce_eager": true' in output and "bfloat16" not in output
    assert "gpu.run --gpus 0 " in output and "--gpus 1 " not in output  # SFT and generation on the CPU
    assert re.search(r"rule generate:.*?threads: 4", output, re.S)  # all 4 cores: one engine at a time
