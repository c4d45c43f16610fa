"""The SLURM path, for real: a one-node SLURM cluster on localhost runs the workflow.

The cluster (scripts/slurm_test_cluster.sh) needs root and apt-get (Debian's slurm-wlm and
munge); elsewhere these tests skip with the reason, except in CI (CI=true), where they fail.
It has two fake GPUs, so GPU rules are scheduled and get CUDA_VISIBLE_DEVICES but compute
on the CPU. Every snakemake call runs under `timeout -k` and a subprocess timeout.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "slurm_test_cluster.sh"
PROFILES = REPO_ROOT / "profiles"
# one test cluster per machine at a time: /etc/slurm and the ports are global
CLUSTER_LOCK = Path("/tmp/s1-slurm-test-cluster.lock")


def needs_cluster(test):
    return pytest.mark.slurm(pytest.mark.slow(test))


# --- helpers ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


@dataclass
class SnakemakeRun:
    returncode: int
    output: str
    seconds: float

    def job_counts(self) -> dict[str, int]:
        """The 'Job stats' table Snakemake prints before running: rule -> number of jobs."""
        match = re.search(r"Job stats:\njob\s+count\n-+\s+-+\n(.*?)\ntotal\s+\d+", self.output, re.S)
        if not match:
            return {}
        return {rule: int(count) for rule, count in (line.split() for line in match.group(1).splitlines())}


def run_snakemake(args: list[str], workdir: Path, timeout: int, log_name: str) -> SnakemakeRun:
    """snakemake ARGS in workdir, killed after `timeout` s (SIGTERM, then SIGKILL 10 s later)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    # rules run `python -m workflow_scripts...`: this interpreter's environment first (jobs inherit it)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake", *args]
    start = time.monotonic()
    result = subprocess.run(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout + 30
    )
    seconds = time.monotonic() - start
    (workdir / log_name).write_text(result.stdout)
    assert result.returncode not in (124, 137), f"snakemake timed out after {timeout} s:\n{result.stdout[-4000:]}"
    return SnakemakeRun(result.returncode, result.stdout, seconds)


@dataclass(frozen=True)
class SlurmJob:
    job_id: int
    state: str
    tres_per_job: str  # e.g. "gres:gpu:1", or "N/A" without a GPU request
    rule: str  # from the plugin's --comment "rule_<name>[_wildcards_<...>]"
    comment: str


def slurm_jobs() -> dict[int, SlurmJob]:
    """Every job the test cluster knows (it keeps finished jobs in squeue for MinJobAge = 3600 s)."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "-O", "JobID:20,State:20,tres-per-job:40,Comment:400"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, state, tres, comment = line.split(None, 3) if len(line.split()) >= 4 else (*line.split(), "")
        comment = comment.strip()
        rule = re.sub(r"^rule_", "", comment).split("_wildcards_")[0]
        jobs[int(job_id)] = SlurmJob(int(job_id), state, tres, rule, comment)
    return jobs


@dataclass(frozen=True)
class SlurmLog:
    job_id: int
    kind: str  # "rule", or "group" for a SLURM job that ran several Snakemake jobs
    name: str  # the rule or group name
    rules: frozenset[str]  # the rules Snakemake ran inside this SLURM job, from the log itself


def slurm_logs(workdir: Path) -> dict[int, SlurmLog]:
    """The plugin's logs, .snakemake/slurm_logs/{rule,group}_<name>/[<wildcards>/]<jobid>.log."""
    root = workdir / ".snakemake" / "slurm_logs"
    logs = {}
    for log in root.rglob("*.log"):
        assert re.fullmatch(r"\d+", log.stem), f"SLURM log without a numeric job id: {log}"
        kind, name = log.relative_to(root).parts[0].split("_", 1)
        rules = frozenset(re.findall(r"^(?:local)?rule (\w+):$", log.read_text(), re.M))
        logs[int(log.stem)] = SlurmLog(int(log.stem), kind, name, rules)
    return logs


def cannot_run_cluster() -> str | None:
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (it writes /etc/slurm and starts munged/slurmctld/slurmd)"
    path = f"/usr/local/sbin:/usr/sbin:/sbin:{os.environ.get('PATH', '')}"
    have_slurm = all(shutil.which(tool, path=path) for tool in ("slurmctld", "slurmd", "munged", "sbatch"))
    if not have_slurm and not shutil.which("apt-get", path=path):
        return "the SLURM test cluster needs Debian's slurm-wlm and munge, and there is no apt-get to install them"
    return None


# --- the cluster ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A running one-node cluster; stopped (by pid) when the session ends."""
    reason = cannot_run_cluster()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the SLURM tests, but: {reason}")
        pytest.skip(reason)
    with open(CLUSTER_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test session on this machine finishes first
        state = tmp_path_factory.mktemp("slurm_cluster")
        start = time.monotonic()
        up = subprocess.run(
            ["bash", str(CLUSTER_SCRIPT), "up", str(state)], capture_output=True, text=True, timeout=900
        )
        assert up.returncode == 0, f"test cluster did not start:\n{up.stdout}\n{up.stderr}"
        print(f"\n{up.stdout.strip()}\nslurm cluster up in {time.monotonic() - start:.1f} s")
        try:
            yield state
        finally:
            subprocess.run(["bash", str(CLUSTER_SCRIPT), "down", str(state)], timeout=120)


# --- profiles (no cluster needed) -------------------------------------------------------------------


def flatten(mapping: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_ci_profile_differs_from_production_only_where_the_test_cluster_needs_it():
    production = flatten(load_yaml(PROFILES / "slurm" / "config.yaml"))
    ci = flatten(load_yaml(PROFILES / "slurm-ci" / "config.yaml"))
    differing = {key for key in production.keys() | ci.keys() if production.get(key) != ci.get(key)}
    allowed = re.compile(
        r"^(jobs|latency-wait|slurm-status-command|slurm-init-seconds-before-status-checks"
        r"|(default-resources|set-resources\.\w+)\.(slurm_partition|slurm_account|runtime|mem_mb))$"
    )
    assert differing and all(allowed.match(key) for key in differing), sorted(differing)
    # what makes the test cluster work at all (docs/slurm.md, "traps")
    assert ci["executor"] == production["executor"] == "slurm"
    assert ci["slurm-status-command"] == "squeue"
    assert ci["default-resources.slurm_partition"] == "ci"


def test_production_profile_leaves_cluster_values_to_the_user_and_gpus_to_the_config():
    profile = load_yaml(PROFILES / "slurm" / "config.yaml")
    placeholders = [v for k, v in flatten(profile).items() if k.endswith(("slurm_partition", "slurm_account"))]
    assert placeholders and all(str(v).startswith("EDIT") for v in placeholders)
    for rule, resources in {"*": profile["default-resources"], **profile["set-resources"]}.items():
        # GPU counts come from config.yaml through the rules' `resources: gpu=`;
        # the plugin rejects GPU requests in slurm_extra
        assert not {"gpu", "gres", "slurm_extra"} & set(resources), rule
    rules = {p.stem: p.read_text() for p in (REPO_ROOT / "rules").glob("*.smk")}
    for rule in profile["set-resources"]:
        assert any(re.search(rf"^\s*rule {rule}:", text, re.M) for text in rules.values()), f"no rule {rule!r}"
    for smk in ("training", "generation"):
        assert re.search(r"resources:\s+gpu=config\[", rules[smk]), f"rules/{smk}.smk: GPU count not from the config"


def dry_run_resources(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job a `snakemake -n` run would submit (local rules are not submitted)."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        rule = re.match(r"rule (\w+):\n", block)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            jobs.append((rule.group(1), dict(item.split("=", 1) for item in resources.group(1).split(", "))))
    return jobs


def test_production_profile_submits_gpu_rules_with_the_configs_gpu_count(tmp_path):
    """A dry run of the real experiment (config.yaml) through profiles/slurm: what each job would ask SLURM for."""
    workdir = copy_workflow(tmp_path / "workflow")
    from workflow_scripts.config import load_config

    real = load_config(REPO_ROOT / "config.yaml")  # completed with the schema's defaults, as the workflow sees it
    dry = run_snakemake(["--profile", "profiles/slurm", "-n"], workdir, 300, "dry_run.log")
    assert dry.returncode == 0, dry.output[-4000:]
    jobs = dry_run_resources(dry.output)
    assert {rule for rule, _ in jobs} >= {"eval_set", "curate", "sft", "generate", "grade", "metrics"}
    gpus = {"sft": real["training"]["gpus"], "generate": real["generation"]["gpus_per_job"]}
    for rule, resources in jobs:
        if rule in gpus:
            assert resources["gpu"] == str(gpus[rule]), (rule, resources)
            assert resources["slurm_partition"] == "EDIT-gpu-partition", (rule, resources)
        else:
            assert "gpu" not in resources or resources["gpu"] == "0", (rule, resources)
            assert resources["slurm_partition"] == "EDIT-cpu-partition", (rule, resources)
        assert resources["slurm_account"] == "EDIT-account"


def test_gpu_profile_limits_gpus_and_uses_all_cores():
    profile = load_yaml(PROFILES / "gpu" / "config.yaml")
    assert profile["resources"]["gpu"] >= 1
    assert profile["cores"] == "all"
    assert "executor" not in profile


# --- a tiny configuration of the smoke DAG through the test cluster ------------------------------------

TINY_RUN = "tiny"
# what a copy of the workflow leaves out (at the top level; __pycache__ everywhere)
NOT_COPIED = {".git", ".venv", "results", ".snakemake", ".pytest_cache", "tests", "benchmarks"}
# outputs whose computation is deterministic (seed 42, no clocks, no float reductions whose
# order depends on threads): the synthetic world's data and tokenizer, the normalised eval
# sets and the curation results. Not compared: model weights, generations (vLLM batching),
# and summaries that record wall times (world/summary.json).
DETERMINISTIC_OUTPUTS = (
    "world/pool.jsonl",
    "world/eval/math500.jsonl",
    "world/eval/aime24.jsonl",
    "world/eval/gpqa_diamond.csv",
    "world/base_model/tokenizer.json",
    "world/base_model/config.json",
    "data/eval/math500.jsonl",
    "data/eval/aime24.jsonl",
    "data/eval/gpqa.jsonl",
    "curation/curated.parquet",
    "curation/dropped.parquet",
    "curation/summary.json",
)
GPU_RULE = "generate"  # vLLM runs on the CPU even when SLURM hands it a fake GPU
WRAPPER_LINE = re.compile(
    r"\[gpu\.run\] SLURM job (\d+): using the scheduler's GPUs CUDA_VISIBLE_DEVICES=([0-9,]+) for (\d+) GPU\(s\); claiming nothing"
)
WRAPPER_NO_GPU_LINE = re.compile(r"\[gpu\.run\] SLURM job (\d+): the rule needs no GPU; hiding devices")


def tiny_config(training_gpus: int) -> dict:
    """The smoke config cut to its smallest grid: one budget, 5 eval rows, 1 epoch, 2 pre-training
    steps; generation asks for 1 GPU per job (vLLM computes on the CPU beside a fake GPU), SFT for
    `training_gpus` (training refuses a GPU without CUDA: 1 makes it fail, 0 trains on the CPU)."""
    from workflow_scripts.config import complete_config, merge_configs

    config = load_yaml(PROFILES / "smoke" / "experiment.yaml")  # an overlay over config.yaml
    config["run_name"] = TINY_RUN
    config["synthetic_world"]["eval_size"] = 5
    # a barely pre-trained base model: the SLURM test checks the plumbing, not the model
    config["synthetic_world"].setdefault("model", {})["pretrain_steps"] = 2
    for eval_set in config["eval_sets"].values():
        eval_set["limit"] = None
    config["training"].update(epochs=1, gpus=training_gpus)
    generation = config["generation"]
    budget = min(b for b in generation["truncation"]["budgets"] if b != "unbounded")
    generation["truncation"]["budgets"] = [budget]
    # one budget-forcing shard (the report describes the method), no class-conditional prompts
    generation["budget_forcing"].update(budgets=[budget], n={"default": [1]})
    generation["class_conditional"] = {"prompts": []}
    # the registry's other methods run nothing here: the SLURM path is the same for every method
    for method in ("token_conditional", "token_conditional_forcing", "step_conditional", "step_conditional_forcing",
                   "rejection_sampling"):
        generation[method] = {"budgets": []}
    generation["parallel"] = {"k": 0}
    generation["models"] = ["sft"]  # the base-model baseline adds jobs but no SLURM path of its own
    generation["baseline"] = {"methods": ["truncation"], "budgets": [budget]}
    generation["gpus_per_job"] = 1
    # the overlay must make a valid config over config.yaml, as snakemake --configfile merges it
    complete_config(merge_configs(load_yaml(REPO_ROOT / "config.yaml"), config))
    return config


def copy_workflow(dest: Path) -> Path:
    """The workflow's own files in a fresh folder: its results and .snakemake stay out of the checkout."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = NOT_COPIED if Path(folder) == REPO_ROOT else set()
        return {name for name in names if name in skipped or name == "__pycache__"}

    shutil.copytree(REPO_ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def output_mtimes(results: Path) -> dict[str, int]:
    return {
        str(p.relative_to(results)): p.stat().st_mtime_ns
        for p in results.rglob("*")
        if p.is_file() and "logs" not in p.relative_to(results).parts
    }


@dataclass
class TinyRuns:
    slurm_dir: Path
    local_dir: Path
    failing: SnakemakeRun
    rerun: SnakemakeRun
    dry_run: SnakemakeRun
    local: SnakemakeRun
    jobs_after_failure: dict[int, SlurmJob]
    jobs_after_rerun: dict[int, SlurmJob]
    logs_after_failure: dict[int, SlurmLog]
    logs_after_rerun: dict[int, SlurmLog]
    mtimes_after_failure: dict[str, int]
    mtimes_after_rerun: dict[str, int]
    sft_log_after_failure: str  # the rerun's SFT writes the same log

    @property
    def results(self) -> Path:
        return self.slurm_dir / "results" / TINY_RUN


@pytest.fixture(scope="module")
def tiny_runs(slurm_cluster, tmp_path_factory) -> TinyRuns:
    """One failing SLURM run (SFT asks for a GPU, gets a fake one and cannot use it), the rerun with
    SFT on the CPU, a dry run, and a local run of the deterministic part for comparison."""
    base = tmp_path_factory.mktemp("tiny")
    slurm_dir = copy_workflow(base / "slurm")
    local_dir = copy_workflow(base / "local")
    for folder in (slurm_dir, local_dir):
        (folder / "failing.yaml").write_text(yaml.safe_dump(tiny_config(training_gpus=1)))
        (folder / "tiny.yaml").write_text(yaml.safe_dump(tiny_config(training_gpus=0)))
    profile = ["--profile", "profiles/slurm-ci"]

    failing = run_snakemake([*profile, "--configfile", "failing.yaml"], slurm_dir, 900, "failing.log")
    jobs_after_failure, logs_after_failure = slurm_jobs(), slurm_logs(slurm_dir)
    results = slurm_dir / "results" / TINY_RUN
    mtimes_after_failure = output_mtimes(results)
    sft_log = results / "logs" / "sft.log"
    sft_log_after_failure = sft_log.read_text() if sft_log.exists() else "(no SFT log: SFT never ran)"
    rerun = run_snakemake([*profile, "--configfile", "tiny.yaml"], slurm_dir, 900, "rerun.log")
    jobs_after_rerun, logs_after_rerun = slurm_jobs(), slurm_logs(slurm_dir)
    mtimes_after_rerun = output_mtimes(results)
    dry_run = run_snakemake([*profile, "--configfile", "tiny.yaml", "-n"], slurm_dir, 120, "dry_run.log")

    # files inside the base_model folder are no targets of their own: the folder is one output
    targets = [f"results/{TINY_RUN}/{path}" for path in DETERMINISTIC_OUTPUTS if not path.startswith("world/base_model/")]
    # targets first: --configfile takes every word after it
    local = run_snakemake([*targets, "--cores", "2", "--configfile", "tiny.yaml"], local_dir, 900, "local.log")
    print(
        f"\ntiny DAG through SLURM: failing run {failing.seconds:.1f} s, rerun {rerun.seconds:.1f} s,"
        f" dry run {dry_run.seconds:.1f} s; local run of the deterministic part {local.seconds:.1f} s"
    )
    return TinyRuns(
        slurm_dir, local_dir, failing, rerun, dry_run, local,
        jobs_after_failure, jobs_after_rerun, logs_after_failure, logs_after_rerun,
        mtimes_after_failure, mtimes_after_rerun, sft_log_after_failure,
    )


@needs_cluster
def test_failing_rule_makes_snakemake_exit_nonzero(tiny_runs):
    assert tiny_runs.failing.returncode != 0
    jobs = tiny_runs.jobs_after_failure
    failed = [jobs[i] for i in sorted(tiny_runs.logs_after_failure) if jobs[i].state == "FAILED"]
    assert [(job.rule, job.tres_per_job) for job in failed] == [("sft", "gres:gpu:1")]
    assert f"SLURM-job '{failed[0].job_id}' failed, SLURM status is: 'FAILED'" in tiny_runs.failing.output
    log = tiny_runs.sft_log_after_failure
    wrapper = WRAPPER_LINE.search(log)
    assert wrapper and wrapper.group(1) == str(failed[0].job_id) and wrapper.group(3) == "1", log
    assert wrapper.group(2) in ("0", "1")
    # the training CLI's own refusal: a GPU is assigned but CUDA cannot see it
    assert re.search(r"gpus: 1 but .*CUDA device", log), log
    assert "curation/curated.parquet" in tiny_runs.mtimes_after_failure  # upstream finished before the failure


@needs_cluster
def test_rerun_completes_without_redoing_finished_jobs(tiny_runs):
    assert tiny_runs.rerun.returncode == 0, tiny_runs.rerun.output[-4000:]
    redone = set(tiny_runs.rerun.job_counts())
    assert "sft" in redone
    assert not {"synthetic_world", "eval_set", "curate", "grader_audit"} & redone, redone
    new_logs = [log for i, log in tiny_runs.logs_after_rerun.items() if i not in tiny_runs.logs_after_failure]
    assert not {"synthetic_world", "eval_set", "curate"} & {r for log in new_logs for r in log.rules}
    for path, mtime in tiny_runs.mtimes_after_failure.items():
        assert tiny_runs.mtimes_after_rerun[path] == mtime, f"{path} was rewritten by the rerun"
    for path in ("REPORT.md", "analysis/metrics.tsv", "analysis/scaling.png", "sft/summary.json"):
        assert (tiny_runs.results / path).stat().st_size > 0, path
    assert tiny_runs.dry_run.returncode == 0
    assert "Nothing to be done" in tiny_runs.dry_run.output


@needs_cluster
def test_every_rule_ran_inside_a_slurm_job(tiny_runs):
    logs = tiny_runs.logs_after_rerun
    ran = {rule for log in logs.values() for rule in log.rules}
    expected = {"synthetic_world", "eval_set", "curate", "grader_audit", "sft", "generate", "shards", "grade", "metrics",
                "cost", "plots", "failures", "examples", "research_report"}
    assert ran == expected, ran ^ expected
    jobs = {**tiny_runs.jobs_after_failure, **tiny_runs.jobs_after_rerun}
    for job_id, log in logs.items():
        job = jobs[job_id]  # the scheduler knows every job id the logs name
        assert job.rule == log.name, (job, log)
        if log.kind == "rule":
            assert log.rules == {log.name}, log
        if job_id not in tiny_runs.logs_after_failure:
            assert job.state == "COMPLETED", job


@needs_cluster
def test_gpu_rules_requested_one_gpu_and_saw_one_fake_device(tiny_runs):
    jobs = {**tiny_runs.jobs_after_failure, **tiny_runs.jobs_after_rerun}
    for job_id, log in tiny_runs.logs_after_rerun.items():
        job = jobs[job_id]
        if job.state == "COMPLETED":
            assert job.tres_per_job == ("gres:gpu:1" if log.name == GPU_RULE else "N/A"), (job, log)
    generate_logs = sorted((tiny_runs.results / "logs" / "generate").rglob("*.log"))
    assert len(generate_logs) == 1  # one engine: the trajectory, truncation and budget forcing (cut from it)
    for rule_log in generate_logs:
        wrapper = WRAPPER_LINE.search(rule_log.read_text())
        assert wrapper, rule_log
        job_id, visible, needed = wrapper.groups()
        assert visible in ("0", "1") and needed == "1", (rule_log, visible)
        assert jobs[int(job_id)].rule == GPU_RULE and jobs[int(job_id)].state == "COMPLETED"
    # SFT on the CPU (training.gpus: 0): submitted without a GPU, and the wrapper hid the devices
    no_gpu = WRAPPER_NO_GPU_LINE.search((tiny_runs.results / "logs" / "sft.log").read_text())
    assert no_gpu and jobs[int(no_gpu.group(1))].rule == "sft" and jobs[int(no_gpu.group(1))].tres_per_job == "N/A"


@needs_cluster
def test_deterministic_outputs_equal_a_local_run(tiny_runs):
    assert tiny_runs.local.returncode == 0, tiny_runs.local.output[-4000:]
    local_results = tiny_runs.local_dir / "results" / TINY_RUN
    for path in DETERMINISTIC_OUTPUTS:
        slurm_bytes, local_bytes = (tiny_runs.results / path).read_bytes(), (local_results / path).read_bytes()
        assert slurm_bytes and slurm_bytes == local_bytes, path


@needs_cluster
def test_grading_the_slurm_shards_locally_gives_the_same_grades(tiny_runs, tmp_path):
    shards = sorted(p for p in (tiny_runs.results / "generation").rglob("*.jsonl")
                    if "trajectory" not in p.parts and ".store" not in p.parts)
    assert len(shards) == 6  # 2 runs x 3 benchmarks (their thinking cut from the trajectory's shards)
    for shard in shards:
        relative = shard.relative_to(tiny_runs.results / "generation")
        local = tmp_path / relative
        result = subprocess.run(
            [sys.executable, "-m", "workflow_scripts.grading", "--benchmark", shard.stem, "--input", str(shard), "--output", str(local)],
            cwd=tiny_runs.slurm_dir, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert local.read_bytes() == (tiny_runs.results / "graded" / relative).read_bytes(), relative
