"""``python -m workflow_scripts.training --curated PARQUET --base MODEL --settings JSON --seed 42 --out-dir DIR``.

With ``gpus > 1`` in the settings the command re-launches itself under ``torch.distributed.run``
(one process per visible GPU; the GPU wrapper has set CUDA_VISIBLE_DEVICES) and the Trainer runs
DeepSpeed ZeRO-3 from ``deepspeed_config``. One GPU runs without DeepSpeed; ``gpus: 0`` on the CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from workflow_scripts.errors import UserError, report_user_error
from workflow_scripts.training.settings import parse_settings


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.training", description=__doc__)
    parser.add_argument("--curated", required=True, help="curation/curated.parquet")
    parser.add_argument("--base", required=True, help="base model: hub id or local folder")
    parser.add_argument("--settings", required=True, help="the config's training section as JSON")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out-dir", required=True, help="results/<run>/sft")
    return parser.parse_args(argv)


def launch_command(argv: list[str], gpus: int) -> list[str]:
    """The multi-GPU command: one process per GPU on this node through torch's launcher."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "workflow_scripts.training", *argv]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        settings = parse_settings(args.settings)
    except UserError as error:
        return report_user_error(error)
    if settings.gpus > 1 and "LOCAL_RANK" not in os.environ:
        import torch

        visible = torch.cuda.device_count()
        if visible < settings.gpus:
            return report_user_error(f"training gpus: {settings.gpus} but {visible} CUDA device(s) are visible")
        return subprocess.call(launch_command(argv, settings.gpus))
    from workflow_scripts.training.trainer import run_sft

    try:
        summary = run_sft(args.curated, args.base, settings, args.seed, args.out_dir)
    except (ValueError, FileNotFoundError) as error:
        # Bad input or settings: one clear line (the stage's own checks name the problem).
        return report_user_error(error)
    if summary:
        print(f"[sft] done: {summary['steps']} steps, final loss {summary['final_loss']}, "
              f"{summary['wall_time_s']:.1f} s, {summary['gpu_hours']} GPU-hours", flush=True)
    return 0
