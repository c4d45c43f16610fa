"""GPU device assignment for Snakemake jobs.

Snakemake's ``--resources gpu=N`` limits how many GPUs its jobs use at once but does
not say which ones. ``python -m workflow_scripts.gpu.run --gpus N -- CMD...`` claims N
free devices (one lock file per device), sets ``CUDA_VISIBLE_DEVICES`` and runs CMD
in its place. Inside a SLURM job the scheduler has already chosen the devices, so the
wrapper keeps them and claims nothing.
"""

from workflow_scripts.gpu.claim import Claim, GpuClaimError, claim_devices, default_lock_dir
from workflow_scripts.gpu.devices import DeviceDetectionError, count_devices, device_pool, parse_visible_devices

__all__ = [
    "Claim",
    "GpuClaimError",
    "claim_devices",
    "default_lock_dir",
    "DeviceDetectionError",
    "count_devices",
    "device_pool",
    "parse_visible_devices",
]
