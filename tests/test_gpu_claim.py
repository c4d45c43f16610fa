"""GPU claiming on a CPU machine: fake device counts, real lock files, real subprocesses."""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflow_scripts.gpu import (
    DeviceDetectionError,
    GpuClaimError,
    claim_devices,
    device_pool,
    parse_visible_devices,
)
from workflow_scripts.gpu.claim import holders, lock_path
from workflow_scripts.gpu.devices import count_from_driver, count_from_env, count_from_nvidia_smi
from workflow_scripts.gpu.run import EXIT_CLAIM_FAILED, EXIT_NOT_FOUND

REPO_ROOT = Path(__file__).resolve().parents[1]
WRAPPER = [sys.executable, "-m", "workflow_scripts.gpu.run"]
# the child prints what it was given, as JSON
SHOW_ENV = [
    sys.executable,
    "-c",
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in ('CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER')}))",
]


def wrapper_env(lock_dir: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any GPU or SLURM setting of the machine running it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k not in ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "S1_NUM_GPUS")}
    env["S1_GPU_LOCK_DIR"] = str(lock_dir)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def run_wrapper(args, env, timeout=60):
    return subprocess.run(WRAPPER + list(args), env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


# --- device detection -------------------------------------------------------------


def test_count_from_env_reads_override_and_rejects_garbage():
    assert count_from_env({"S1_NUM_GPUS": "3"}) == 3
    assert count_from_env({"S1_NUM_GPUS": "0"}) == 0
    assert count_from_env({}) is None
    assert count_from_env({"S1_NUM_GPUS": ""}) is None
    for bad in ("two", "-1", "1.5"):
        with pytest.raises(DeviceDetectionError, match="S1_NUM_GPUS"):
            count_from_env({"S1_NUM_GPUS": bad})


def _fake_tool(path: Path, stdout: str, code: int = 0) -> Path:
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{stdout}EOF\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_count_from_nvidia_smi_counts_gpu_lines_not_mig_lines(tmp_path):
    # the format of `nvidia-smi -L` on a machine with one MIG-partitioned GPU and one plain GPU
    listing = (
        "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1b2c3d4e-0000-1111-2222-333344445555)\n"
        "  MIG 3g.40gb     Device  0: (UUID: MIG-aaaa0000-1111-2222-3333-444455556666)\n"
        "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-9f8e7d6c-0000-1111-2222-333344445555)\n"
    )
    assert count_from_nvidia_smi(str(_fake_tool(tmp_path / "smi", listing))) == 2
    # a driver that is installed but broken says nothing about the count
    assert count_from_nvidia_smi(str(_fake_tool(tmp_path / "broken", "NVIDIA-SMI has failed\n", 9))) is None
    assert count_from_nvidia_smi(str(tmp_path / "missing")) is None


def test_count_from_driver_reads_proc_then_dev(tmp_path):
    proc, dev = tmp_path / "proc_gpus", tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-modeset", "null"):
        (dev / name).touch()
    assert count_from_driver(proc, dev) == 2  # no /proc entries: device nodes
    for bus in ("0000:1b:00.0", "0000:43:00.0", "0000:52:00.0"):
        (proc / bus).mkdir(parents=True)
    assert count_from_driver(proc, dev) == 3  # the driver's own list wins
    assert count_from_driver(tmp_path / "nothing", tmp_path / "nothing") == 0


def test_parse_visible_devices():
    assert parse_visible_devices("0,2") == ["0", "2"]
    assert parse_visible_devices(" 3 ") == ["3"]
    assert parse_visible_devices("") == []
    assert parse_visible_devices("GPU-1b2c,GPU-9f8e") == ["GPU-1b2c", "GPU-9f8e"]
    with pytest.raises(DeviceDetectionError, match="empty entry"):
        parse_visible_devices("0,,1")
    with pytest.raises(DeviceDetectionError, match="twice"):
        parse_visible_devices("1,1")


def test_device_pool_precedence():
    assert device_pool({"S1_NUM_GPUS": "3", "CUDA_VISIBLE_DEVICES": "5"}) == ["0", "1", "2"]
    assert device_pool({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert device_pool({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert device_pool({"S1_NUM_GPUS": "0"}) == []


# --- claiming in one process ----------------------------------------------------------


def test_claims_are_exclusive_and_released(tmp_path):
    pool = ["0", "1", "2"]
    first = claim_devices(2, pool, tmp_path, timeout=0)
    assert first.devices == ["0", "1"] and first.visible_devices == "0,1"
    second = claim_devices(1, pool, tmp_path, timeout=0)
    assert second.devices == ["2"]
    with pytest.raises(GpuClaimError, match=rf"no 1 free GPU\(s\) among 3 .*0: pid={os.getpid()}"):
        claim_devices(1, pool, tmp_path, timeout=0.3, poll_interval=0.1)
    assert set(holders(tmp_path, pool)) == {"0", "1", "2"}
    first.release()
    assert set(holders(tmp_path, pool)) == {"2"}
    again = claim_devices(2, pool, tmp_path, timeout=0)
    assert again.devices == ["0", "1"]
    again.release()
    second.release()
    assert holders(tmp_path, pool) == {}


def test_partial_holdings_are_released_before_waiting(tmp_path):
    pool = ["0", "1"]
    held = claim_devices(1, pool, tmp_path, timeout=0)  # device 0
    with pytest.raises(GpuClaimError):
        claim_devices(2, pool, tmp_path, timeout=0.2, poll_interval=0.05)
    # the failed 2-GPU claimer must not keep device 1
    other = claim_devices(1, pool, tmp_path, timeout=0)
    assert other.devices == ["1"]
    held.release()
    other.release()


def test_zero_and_impossible_requests(tmp_path):
    assert claim_devices(0, [], tmp_path).devices == []
    with pytest.raises(GpuClaimError, match=r"needs 3 GPU\(s\) but this machine has 2 \(ids 0, 1\)"):
        claim_devices(3, ["0", "1"], tmp_path)
    with pytest.raises(GpuClaimError, match="has 0 \\(none detected\\)"):
        claim_devices(1, [], tmp_path)


def test_lock_dir_that_is_a_file_is_a_clear_error(tmp_path):
    not_a_dir = tmp_path / "locks"
    not_a_dir.write_text("")
    with pytest.raises(GpuClaimError, match="not a directory"):
        claim_devices(1, ["0"], not_a_dir)


def test_waiting_claimer_logs_and_gets_the_device_when_freed(tmp_path):
    holder = subprocess.Popen(
        WRAPPER + ["--gpus", "1", "--", "sleep", "1.5"],
        env=wrapper_env(tmp_path, S1_NUM_GPUS="1"),
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "claimed GPU(s) 0" in holder.stderr.readline()
    messages = []
    start = time.monotonic()
    claim = claim_devices(1, ["0"], tmp_path, timeout=30, poll_interval=0.1, log=messages.append)
    waited = time.monotonic() - start
    assert holder.wait(timeout=10) == 0
    assert claim.devices == ["0"]
    assert 0.5 < waited < 10
    assert messages[0].startswith("waiting for 1 free GPU(s) of 1") and f"pid={holder.pid}" in messages[0]
    assert messages[-1].startswith("got 0 after waiting")
    claim.release()


# --- the wrapper as Snakemake runs it ---------------------------------------------------


def test_wrapper_sets_visible_devices_and_device_order(tmp_path):
    result = run_wrapper(["--gpus", "2", "--", *SHOW_ENV], wrapper_env(tmp_path, S1_NUM_GPUS="3"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert "claimed GPU(s) 0,1 of 3" in result.stderr


def test_wrapper_claims_within_a_preset_visible_devices(tmp_path):
    result = run_wrapper(["--gpus", "1", "--", *SHOW_ENV], wrapper_env(tmp_path, CUDA_VISIBLE_DEVICES="4,6"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CUDA_VISIBLE_DEVICES"] == "4"


def test_wrapper_zero_gpus_hides_devices(tmp_path):
    result = run_wrapper(["--gpus", "0", "--", *SHOW_ENV], wrapper_env(tmp_path, S1_NUM_GPUS="2", CUDA_VISIBLE_DEVICES="1"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CUDA_VISIBLE_DEVICES"] == ""
    assert not any(tmp_path.iterdir())  # nothing was locked


@pytest.mark.parametrize("code", [0, 1, 7, 42])
def test_wrapper_propagates_exit_code(tmp_path, code):
    result = run_wrapper(["--gpus", "1", "--", "sh", "-c", f"exit {code}"], wrapper_env(tmp_path, S1_NUM_GPUS="1"))
    assert result.returncode == code


def test_wrapper_errors(tmp_path):
    env = wrapper_env(tmp_path, S1_NUM_GPUS="1")
    missing = run_wrapper(["--gpus", "1", "--", "no-such-command-s1"], env)
    assert missing.returncode == EXIT_NOT_FOUND and "cannot run 'no-such-command-s1'" in missing.stderr
    too_many = run_wrapper(["--gpus", "2", "--", "true"], env)
    assert too_many.returncode == EXIT_CLAIM_FAILED and "needs 2 GPU(s) but this machine has 1" in too_many.stderr
    bad_count = run_wrapper(["--gpus", "1", "--", "true"], wrapper_env(tmp_path, S1_NUM_GPUS="lots"))
    assert bad_count.returncode == EXIT_CLAIM_FAILED and "S1_NUM_GPUS must be a whole number" in bad_count.stderr
    no_command = run_wrapper(["--gpus", "1", "--"], env)
    assert no_command.returncode == 2 and "no command given" in no_command.stderr
    negative = run_wrapper(["--gpus", "-1", "--", "true"], env)
    assert negative.returncode == 2 and "--gpus must be >= 0" in negative.stderr


def test_concurrent_claimers_never_share_a_device(tmp_path):
    """Seven wrappers (needing 1 or 2 GPUs) race for 3 fake devices; each logs its device use."""
    record = (
        "import json, os, sys, time; t0 = time.time(); time.sleep(0.5); "
        "print(json.dumps({'devices': os.environ['CUDA_VISIBLE_DEVICES'].split(','), 'start': t0, 'end': time.time()}))"
    )
    needs = [2, 1, 1, 2, 1, 1, 2]
    env = wrapper_env(tmp_path, S1_NUM_GPUS="3")
    procs = [
        subprocess.Popen(
            WRAPPER + ["--gpus", str(n), "--poll-interval", "0.05", "--", sys.executable, "-c", record],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in needs
    ]
    uses = []
    for n, proc in zip(needs, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        use = json.loads(out)
        assert len(use["devices"]) == n and set(use["devices"]) <= {"0", "1", "2"}
        uses.append(use)
    for a, b in itertools.combinations(uses, 2):
        overlap = a["start"] < b["end"] and b["start"] < a["end"]
        if overlap:
            assert not set(a["devices"]) & set(b["devices"]), (a, b)
    # 10 GPU-uses of 0.5 s on 3 devices cannot all run at once: someone waited
    assert max(u["end"] for u in uses) - min(u["start"] for u in uses) >= 1.0


def test_killed_holder_releases_its_device(tmp_path):
    env = wrapper_env(tmp_path, S1_NUM_GPUS="1")
    holder = subprocess.Popen(
        WRAPPER + ["--gpus", "1", "--", "sleep", "300"], env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "claimed GPU(s) 0 of 1" in holder.stderr.readline()
        blocked = run_wrapper(["--gpus", "1", "--timeout", "1", "--poll-interval", "0.1", "--", "true"], env)
        assert blocked.returncode == EXIT_CLAIM_FAILED
        assert "waiting for 1 free GPU(s) of 1" in blocked.stderr
        assert f"0: pid={holder.pid}" in blocked.stderr  # exec kept the pid: the command holds the lock
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    assert holder.returncode == -signal.SIGKILL
    after = run_wrapper(["--gpus", "1", "--timeout", "5", "--", *SHOW_ENV], env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["CUDA_VISIBLE_DEVICES"] == "0"
    assert "waiting" not in after.stderr


def test_lock_files_live_in_the_configured_dir(tmp_path):
    lock_dir = tmp_path / "nested" / "locks"
    result = run_wrapper(["--gpus", "1", "--", "true"], wrapper_env(lock_dir, S1_NUM_GPUS="2"))
    assert result.returncode == 0, result.stderr
    assert lock_path(lock_dir, "0").exists() and not lock_path(lock_dir, "1").exists()
    assert lock_path(lock_dir, "GPU-1b2c/3").name == "gpu-GPU-1b2c_3.lock"


# --- inside a SLURM job -----------------------------------------------------------------------


def test_slurm_assignment_is_kept_and_nothing_is_claimed(tmp_path):
    # every local device is busy: a wrapper that claimed would wait; under SLURM it must not
    busy = claim_devices(2, ["0", "1"], tmp_path, timeout=0)
    try:
        env = wrapper_env(tmp_path, S1_NUM_GPUS="2", SLURM_JOB_ID="4242", CUDA_VISIBLE_DEVICES="1")
        result = run_wrapper(["--gpus", "1", "--timeout", "0", "--", *SHOW_ENV], env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": None}
        assert "SLURM job 4242: using the scheduler's GPUs CUDA_VISIBLE_DEVICES=1 for 1 GPU(s); claiming nothing" in result.stderr
        assert holders(tmp_path, ["0", "1"]).keys() == {"0", "1"}  # still ours
    finally:
        busy.release()


def test_slurm_zero_gpus_hides_devices(tmp_path):
    env = wrapper_env(tmp_path, SLURM_JOB_ID="7", CUDA_VISIBLE_DEVICES="0")
    result = run_wrapper(["--gpus", "0", "--", *SHOW_ENV], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CUDA_VISIBLE_DEVICES"] == ""
    no_gpu_job = run_wrapper(["--gpus", "0", "--", *SHOW_ENV], wrapper_env(tmp_path, SLURM_JOB_ID="8"))
    assert json.loads(no_gpu_job.stdout)["CUDA_VISIBLE_DEVICES"] == ""


def test_slurm_job_without_enough_gpus_fails_clearly(tmp_path):
    unset = run_wrapper(["--gpus", "1", "--", "true"], wrapper_env(tmp_path, SLURM_JOB_ID="9", S1_NUM_GPUS="4"))
    assert unset.returncode == EXIT_CLAIM_FAILED
    assert "SLURM job 9 has no GPU assigned (CUDA_VISIBLE_DEVICES unset) but the rule needs 1" in unset.stderr
    fewer = run_wrapper(["--gpus", "2", "--", "true"], wrapper_env(tmp_path, SLURM_JOB_ID="10", CUDA_VISIBLE_DEVICES="3"))
    assert fewer.returncode == EXIT_CLAIM_FAILED
    assert "was assigned 1 GPU(s) (CUDA_VISIBLE_DEVICES='3') but the rule needs 2" in fewer.stderr
    assert not any(tmp_path.iterdir())


# --- cards someone else is using (fake nvidia-smi) ----------------------------------------

# nvidia-smi's real output formats for two H100s; GPU 0 runs another user's process (pid 4242).
SMI_LIST = (
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa0000-0000-0000-0000-000000000000)\n"
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb1111-1111-1111-1111-111111111111)\n"
)
SMI_GPUS = (
    "0, GPU-aaaa0000-0000-0000-0000-000000000000, 40962, 81559\n"
    "1, GPU-bbbb1111-1111-1111-1111-111111111111, 3, 81559\n"
)
SMI_APPS = "GPU-aaaa0000-0000-0000-0000-000000000000, 4242, 40960\n"


def fake_nvidia_smi(bin_dir: Path, gpus: str = SMI_GPUS, apps: str = SMI_APPS) -> Path:
    """A `nvidia-smi` on PATH that answers -L and the two --query-* calls the claim makes."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  -L) cat <<'EOF'\n{SMI_LIST}EOF\n;;\n"
        f"  --query-gpu=*) cat <<'EOF'\n{gpus}EOF\n;;\n"
        f"  --query-compute-apps=*) cat <<'EOF'\n{apps}EOF\n;;\n"
        "  *) echo \"unexpected nvidia-smi call: $*\" >&2; exit 9;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return script


def test_parse_usage_reads_both_queries():
    from workflow_scripts.gpu.usage import busy_devices, parse_usage

    cards = parse_usage(SMI_GPUS, SMI_APPS + "GPU-bbbb1111-1111-1111-1111-111111111111, 77, [N/A]\n")
    assert [(c.index, c.used_mib, c.total_mib, c.processes) for c in cards] == [
        ("0", 40962, 81559, ((4242, 40960),)),
        ("1", 3, 81559, ((77, 0),)),
    ]
    # by index or by UUID; a MIG id nvidia-smi does not list is not judged
    busy = busy_devices(["0", "GPU-bbbb1111-1111-1111-1111-111111111111", "MIG-x"], 1024, parse_usage(SMI_GPUS, SMI_APPS))
    assert list(busy) == ["0"] and "pid 4242 (40960 MiB)" in busy["0"]
    # a process invisible to the apps query (another container) still shows as used memory
    hidden = parse_usage(SMI_GPUS, "")
    assert busy_devices(["0", "1"], 1024, hidden) == {"0": "40962 of 81559 MiB in use (threshold 1024 MiB)"}
    assert busy_devices(["0", "1"], 50000, hidden) == {}
    assert busy_devices(["0", "1"], 1024, None) == {}  # no nvidia-smi: nothing known


def test_wrapper_skips_a_card_held_by_a_foreign_process(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_nvidia_smi(bin_dir)
    env = wrapper_env(tmp_path / "locks", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_wrapper(["--gpus", "1", "--", *SHOW_ENV], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CUDA_VISIBLE_DEVICES"] == "1"
    assert "skipping busy GPU(s): 0: used by a process outside this workflow: pid 4242 (40960 MiB)" in result.stderr
    assert "claimed GPU(s) 1 of 2" in result.stderr


def test_wrapper_waits_then_fails_naming_busy_cards_when_all_are_busy(tmp_path):
    bin_dir = tmp_path / "bin"
    both_busy = SMI_APPS + "GPU-bbbb1111-1111-1111-1111-111111111111, 5151, 20480\n"
    fake_nvidia_smi(bin_dir, apps=both_busy)
    env = wrapper_env(tmp_path / "locks", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_wrapper(["--gpus", "1", "--timeout", "0.5", "--poll-interval", "0.1", "--", *SHOW_ENV], env)
    assert result.returncode == EXIT_CLAIM_FAILED
    assert result.stdout == ""  # the command never ran
    assert "busy outside this workflow: 0: used by a process outside this workflow: pid 4242" in result.stderr
    assert "1: used by a process outside this workflow: pid 5151" in result.stderr


def test_memory_threshold_is_the_wrappers_flag(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_nvidia_smi(bin_dir, apps="")  # 40962 MiB used on GPU 0, no process visible
    env = wrapper_env(tmp_path / "locks", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    low = run_wrapper(["--gpus", "1", "--", *SHOW_ENV], env)
    assert json.loads(low.stdout)["CUDA_VISIBLE_DEVICES"] == "1"
    high = run_wrapper(["--gpus", "1", "--busy-memory-mib", "50000", "--", *SHOW_ENV], env)
    assert json.loads(high.stdout)["CUDA_VISIBLE_DEVICES"] == "0"
    bad = run_wrapper(["--gpus", "1", "--busy-memory-mib", "0", "--", *SHOW_ENV], env)
    assert bad.returncode == 2 and "--busy-memory-mib must be >= 1" in bad.stderr


def test_a_card_this_workflow_holds_is_held_not_foreign(tmp_path):
    """Our own job's process on a card we locked is not 'someone else': the log says held."""
    from workflow_scripts.gpu.usage import busy_devices, parse_usage

    usage = parse_usage(SMI_GPUS, SMI_APPS)
    ours = claim_devices(1, ["0", "1"], tmp_path, timeout=0)  # we hold 0 (where pid 4242 runs)
    messages = []
    with pytest.raises(GpuClaimError) as error:
        claim_devices(2, ["0", "1"], tmp_path, timeout=0.2, poll_interval=0.05, log=messages.append,
                      busy=lambda pool: busy_devices(list(pool), 1024, usage))
    assert "busy outside this workflow" not in str(error.value)
    assert not any(m.startswith("skipping busy") for m in messages)
    ours.release()
