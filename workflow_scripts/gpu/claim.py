"""Claim GPUs with one lock file per device.

A claim is an ``fcntl.flock`` on ``<lock_dir>/gpu-<id>.lock``. The kernel drops the lock
when the last process holding the open file exits, however it exits (kill -9 included),
so a crashed job never leaves a device claimed. A claimer that cannot get all the
devices it needs releases the ones it got before waiting, so two claimers never
deadlock holding half each.

A lock only coordinates this workflow's own jobs. On a shared box a card whose lock is free
may still be in use by someone else: ``claim_devices`` takes a ``busy`` probe (``usage.py``:
``nvidia-smi``'s compute processes and used memory) and skips the cards it names, logging them;
when too few cards are free it waits, as for locked cards, up to its timeout.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

LOCK_DIR_ENV = "S1_GPU_LOCK_DIR"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class GpuClaimError(RuntimeError):
    """The devices cannot be claimed (too few exist, or none freed up in time)."""


def default_lock_dir(env=None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(LOCK_DIR_ENV) or "/tmp/s1-gpu-locks")


def lock_path(lock_dir: Path, device: str) -> Path:
    # ids may be GPU UUIDs or MIG names; keep the file name plain
    return Path(lock_dir) / f"gpu-{_UNSAFE.sub('_', device)}.lock"


@dataclass
class Claim:
    devices: list[str]
    fds: list[int] = field(default_factory=list)

    @property
    def visible_devices(self) -> str:
        return ",".join(self.devices)

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)  # closing the only descriptor drops the flock
        self.fds = []

    def make_inheritable(self) -> None:
        """Keep the locks across exec: the command that replaces us holds them."""
        for fd in self.fds:
            os.set_inheritable(fd, True)


def _ensure_lock_dir(lock_dir: Path) -> None:
    if not lock_dir.exists():
        lock_dir.mkdir(parents=True, exist_ok=True)
        try:  # shared by every user of the machine, like /tmp
            os.chmod(lock_dir, 0o1777)
        except OSError:
            pass
    if not lock_dir.is_dir():
        raise GpuClaimError(f"GPU lock dir {lock_dir} is not a directory (set {LOCK_DIR_ENV})")


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _record_holder(fd: int, device: str) -> None:
    """Who holds the device, for the 'waiting' log line of other claimers."""
    note = f"pid={os.getpid()} device={device} since={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, note.encode(), 0)


def holders(lock_dir: Path, devices: Sequence[str]) -> dict[str, str]:
    """The devices held right now, each with what its lock file says about the holder."""
    notes = {}
    for device in devices:
        path = lock_path(lock_dir, device)
        fd = _try_lock(path)
        if fd is not None:  # free (a note left there is stale)
            os.close(fd)
            continue
        try:
            notes[device] = path.read_text().strip() or "unknown holder"
        except OSError:
            notes[device] = "unknown holder"
    return notes


def _foreign(busy: Mapping[str, str], lock_dir: Path) -> dict[str, str]:
    """The busy devices whose lock is free: their processes belong to someone else (a device this
    workflow holds is busy with its own job, and skipped as held)."""
    held = holders(lock_dir, list(busy)) if busy else {}
    return {device: why for device, why in busy.items() if device not in held}


def _describe_busy(busy: Mapping[str, str]) -> str:
    return "; ".join(f"{d}: {why}" for d, why in busy.items())


def _describe_holders(lock_dir: Path, pool: Sequence[str]) -> str:
    busy = holders(lock_dir, pool)
    return "; ".join(f"{d}: {note}" for d, note in busy.items()) or "none (just freed)"


def try_claim(n: int, pool: Sequence[str], lock_dir: Path, busy: Mapping[str, str] | None = None) -> Claim | None:
    """Lock n devices of pool now, skipping those in ``busy``, or lock none and return None."""
    got_devices, got_fds = [], []
    for device in pool:
        if len(got_devices) == n:
            break
        if device in (busy or {}):
            continue
        fd = _try_lock(lock_path(lock_dir, device))
        if fd is not None:
            got_devices.append(device)
            got_fds.append(fd)
    if len(got_devices) < n:
        Claim(got_devices, got_fds).release()
        return None
    for device, fd in zip(got_devices, got_fds):
        _record_holder(fd, device)
    return Claim(got_devices, got_fds)


def _stderr_log(message: str) -> None:
    print(f"[gpu.run] {message}", file=sys.stderr, flush=True)


def claim_devices(
    n: int,
    pool: Sequence[str],
    lock_dir: Path | str | None = None,
    timeout: float = 24 * 3600,
    poll_interval: float = 2.0,
    log: Callable[[str], None] = _stderr_log,
    log_every: float = 60.0,
    busy: Callable[[Sequence[str]], Mapping[str, str]] | None = None,
) -> Claim:
    """Claim n devices of pool, waiting up to ``timeout`` seconds for them to free up.

    ``busy(pool)`` names the devices someone outside the workflow uses now (with a reason); they
    are skipped at this attempt and logged whenever that set changes.
    """
    if n < 0:
        raise GpuClaimError(f"cannot claim a negative number of GPUs ({n})")
    if n == 0:
        return Claim([])
    if n > len(pool):
        have = f"ids {', '.join(pool)}" if pool else "none detected"
        raise GpuClaimError(
            f"the job needs {n} GPU(s) but this machine has {len(pool)} ({have}); "
            "lower the rule's GPU count in the config or set S1_NUM_GPUS"
        )
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    _ensure_lock_dir(lock_dir)
    start = time.monotonic()
    last_log = None
    logged_busy: Mapping[str, str] = {}
    while True:
        in_use = _foreign(busy(pool), lock_dir) if busy else {}
        if set(in_use) != set(logged_busy):
            if in_use:
                log(f"skipping busy GPU(s): {_describe_busy(in_use)}")
            else:
                log("no GPU is busy outside this workflow any more")
            logged_busy = in_use
        claim = try_claim(n, pool, lock_dir, in_use)
        if claim is not None:
            if last_log is not None:
                log(f"got {claim.visible_devices} after waiting {time.monotonic() - start:.0f} s")
            return claim
        waited = time.monotonic() - start
        if waited >= timeout:
            raise GpuClaimError(
                f"no {n} free GPU(s) among {len(pool)} after {waited:.0f} s; held: {_describe_holders(lock_dir, pool)}"
                + (f"; busy outside this workflow: {_describe_busy(in_use)}" if in_use else "")
            )
        if last_log is None or time.monotonic() - last_log >= log_every:
            log(
                f"waiting for {n} free GPU(s) of {len(pool)} (lock dir {lock_dir}, timeout {timeout:.0f} s);"
                f" held: {_describe_holders(lock_dir, pool)}"
            )
            last_log = time.monotonic()
        time.sleep(min(poll_interval, max(0.0, timeout - waited)))
