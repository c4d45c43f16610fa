"""Run a command on N claimed GPUs: ``python -m workflow_scripts.gpu.run --gpus N -- CMD...``.

Outside SLURM: claims N free devices (see ``claim.py``), skipping cards someone outside the
workflow is using (a compute process listed by ``nvidia-smi``, or used memory at or above
``--busy-memory-mib``; see ``usage.py``), sets ``CUDA_VISIBLE_DEVICES``
to them and execs CMD, which inherits the locks and holds them until it exits; its
exit code is therefore the wrapper's. ``--gpus 0`` hides every device
(``CUDA_VISIBLE_DEVICES=""``).

Inside a SLURM job (``SLURM_JOB_ID`` set) the scheduler has already assigned the
devices through ``CUDA_VISIBLE_DEVICES``: the wrapper keeps that assignment, claims
nothing, and fails clearly when SLURM assigned fewer devices than the rule needs.

Before CMD starts, a job that needs GPUs checks that CUDA initialises (``driver.py``): on a
driver too old for the pinned GPU stack it fails with one line naming the driver version and
the requirement, instead of deep inside torch or vLLM.

Every decision is logged to stderr, which the rule sends to its log file.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping, Sequence

from workflow_scripts.gpu.claim import GpuClaimError, claim_devices, default_lock_dir
from workflow_scripts.gpu.devices import DeviceDetectionError, device_pool, parse_visible_devices
from workflow_scripts.gpu.driver import cuda_problem
from workflow_scripts.gpu.usage import DEFAULT_BUSY_MEMORY_MIB, busy_devices, read_usage

TIMEOUT_ENV = "S1_GPU_WAIT_TIMEOUT"
EXIT_CLAIM_FAILED = 75  # EX_TEMPFAIL: no devices now, or the request cannot be met
EXIT_NOT_FOUND = 127
EXIT_NO_CUDA = 78  # EX_CONFIG: the machine's driver cannot run the GPU stack


def log(message: str) -> None:
    print(f"[gpu.run] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workflow_scripts.gpu.run",
        description="Claim N free GPUs, set CUDA_VISIBLE_DEVICES and run CMD (inside SLURM: keep SLURM's GPUs).",
    )
    parser.add_argument("--gpus", type=int, required=True, help="number of GPUs the command needs (0 = none)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=f"seconds to wait for free devices before failing (default: ${TIMEOUT_ENV} or 86400)",
    )
    parser.add_argument(
        "--busy-memory-mib",
        type=int,
        default=DEFAULT_BUSY_MEMORY_MIB,
        help="a card with at least this much memory in use (by anyone) is busy and skipped (default: %(default)s)",
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between claim attempts")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command given: use `--gpus N -- CMD [ARGS...]`")
    if args.gpus < 0:
        parser.error(f"--gpus must be >= 0, got {args.gpus}")
    if args.busy_memory_mib < 1:
        parser.error(f"--busy-memory-mib must be >= 1, got {args.busy_memory_mib}")
    if args.timeout is None:
        raw = os.environ.get(TIMEOUT_ENV, "86400")
        try:
            args.timeout = float(raw)
        except ValueError:
            parser.error(f"{TIMEOUT_ENV} must be a number of seconds, got {raw!r}")
    return args


def slurm_visible_devices(gpus: int, env: Mapping[str, str]) -> str:
    """The CUDA_VISIBLE_DEVICES for a command inside a SLURM job: SLURM's own assignment."""
    job = env["SLURM_JOB_ID"]
    if gpus == 0:
        log(f"SLURM job {job}: the rule needs no GPU; hiding devices (CUDA_VISIBLE_DEVICES='')")
        return ""
    if "CUDA_VISIBLE_DEVICES" not in env:
        raise GpuClaimError(
            f"SLURM job {job} has no GPU assigned (CUDA_VISIBLE_DEVICES unset) but the rule needs {gpus}: "
            "submit the rule with resources gpu=N or gres='gpu:N' (see profiles/slurm)"
        )
    assigned = parse_visible_devices(env["CUDA_VISIBLE_DEVICES"])
    if len(assigned) < gpus:
        raise GpuClaimError(
            f"SLURM job {job} was assigned {len(assigned)} GPU(s) (CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']!r})"
            f" but the rule needs {gpus}: the rule's SLURM GPU request and its --gpus disagree"
        )
    log(
        f"SLURM job {job}: using the scheduler's GPUs CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}"
        f" for {gpus} GPU(s); claiming nothing"
    )
    return env["CUDA_VISIBLE_DEVICES"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    claim = None
    try:
        if env.get("SLURM_JOB_ID"):
            env["CUDA_VISIBLE_DEVICES"] = slurm_visible_devices(args.gpus, env)
        elif args.gpus == 0:
            log("the rule needs no GPU; hiding devices (CUDA_VISIBLE_DEVICES='')")
            env["CUDA_VISIBLE_DEVICES"] = ""
        else:
            pool = device_pool(env)
            lock_dir = default_lock_dir(env)
            claim = claim_devices(args.gpus, pool, lock_dir, timeout=args.timeout, poll_interval=args.poll_interval, log=log,
                                  busy=lambda ids: busy_devices(list(ids), args.busy_memory_mib, read_usage()))
            env["CUDA_VISIBLE_DEVICES"] = claim.visible_devices
            # nvidia-smi numbers devices by PCI bus; make CUDA use the same ids
            env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
            log(f"claimed GPU(s) {claim.visible_devices} of {len(pool)} (locks in {lock_dir}); CUDA_VISIBLE_DEVICES={claim.visible_devices}")
            claim.make_inheritable()
    except (GpuClaimError, DeviceDetectionError) as error:
        log(f"error: {error}")
        return EXIT_CLAIM_FAILED
    problem = cuda_problem(env) if args.gpus > 0 else None
    if problem:
        if claim is not None:
            claim.release()
        log(f"error: {problem}")
        return EXIT_NO_CUDA
    try:
        os.execvpe(args.command[0], args.command, env)
    except OSError as error:
        if claim is not None:
            claim.release()
        log(f"error: cannot run {args.command[0]!r}: {error}")
        return EXIT_NOT_FOUND


if __name__ == "__main__":
    sys.exit(main())
