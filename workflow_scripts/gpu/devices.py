"""How many GPUs this machine has and which ids a job may claim, without importing torch.

Order of evidence: ``S1_NUM_GPUS`` (an explicit override; tests use it to fake devices),
then ``nvidia-smi -L``, then the NVIDIA driver's entries under /proc and /dev.
Importing torch here would initialise CUDA before ``CUDA_VISIBLE_DEVICES`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

NUM_GPUS_ENV = "S1_NUM_GPUS"
_SMI_GPU_LINE = re.compile(r"^GPU \d+:", re.MULTILINE)
_DEV_NVIDIA = re.compile(r"^nvidia\d+$")


class DeviceDetectionError(ValueError):
    """A device setting in the environment is malformed."""


def count_from_env(env: Mapping[str, str]) -> int | None:
    raw = env.get(NUM_GPUS_ENV)
    if raw is None or raw.strip() == "":
        return None
    try:
        count = int(raw)
    except ValueError:
        raise DeviceDetectionError(f"{NUM_GPUS_ENV} must be a whole number >= 0, got {raw!r}") from None
    if count < 0:
        raise DeviceDetectionError(f"{NUM_GPUS_ENV} must be a whole number >= 0, got {raw!r}")
    return count


def count_from_nvidia_smi(executable: str | None = None, timeout: float = 20.0) -> int | None:
    """GPUs listed by ``nvidia-smi -L``; None when the tool is absent or fails."""
    executable = executable or shutil.which("nvidia-smi")
    if not executable:
        return None
    try:
        result = subprocess.run([executable, "-L"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return len(_SMI_GPU_LINE.findall(result.stdout))


def count_from_driver(proc_gpus: str | Path = "/proc/driver/nvidia/gpus", dev: str | Path = "/dev") -> int:
    """GPUs the NVIDIA kernel driver exposes (one /proc entry or /dev/nvidiaN node each)."""
    proc_gpus, dev = Path(proc_gpus), Path(dev)
    if proc_gpus.is_dir():
        entries = [p for p in proc_gpus.iterdir() if p.is_dir()]
        if entries:
            return len(entries)
    if dev.is_dir():
        return sum(1 for p in dev.iterdir() if _DEV_NVIDIA.match(p.name))
    return 0


def count_devices(env: Mapping[str, str] | None = None) -> int:
    """Number of GPUs on this machine (0 on a CPU-only machine)."""
    env = os.environ if env is None else env
    override = count_from_env(env)
    if override is not None:
        return override
    smi = count_from_nvidia_smi()
    if smi is not None:
        return smi
    return count_from_driver()


def parse_visible_devices(value: str) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` as a list of ids ("0,2" -> ["0", "2"]; "" -> [])."""
    ids = [part.strip() for part in value.split(",")]
    if ids == [""]:
        return []
    if any(part == "" for part in ids):
        raise DeviceDetectionError(f"CUDA_VISIBLE_DEVICES has an empty entry: {value!r}")
    if len(set(ids)) != len(ids):
        raise DeviceDetectionError(f"CUDA_VISIBLE_DEVICES lists a device twice: {value!r}")
    return ids


def device_pool(env: Mapping[str, str] | None = None) -> list[str]:
    """The device ids a job on this machine may claim, in order.

    ``S1_NUM_GPUS`` wins; otherwise a ``CUDA_VISIBLE_DEVICES`` already set by the user
    restricts the pool to those ids; otherwise every detected device.
    """
    env = os.environ if env is None else env
    override = count_from_env(env)
    if override is not None:
        return [str(i) for i in range(override)]
    if "CUDA_VISIBLE_DEVICES" in env:
        return parse_visible_devices(env["CUDA_VISIBLE_DEVICES"])
    return [str(i) for i in range(count_devices(env))]
