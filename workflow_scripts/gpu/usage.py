"""Which GPUs someone else is using right now, from ``nvidia-smi`` (no torch import).

On a shared box other people's processes hold cards the workflow's lock files know nothing
about; vLLM then fails at start (``gpu_memory_utilization`` 0.9 of a card that is half full).
A card is *busy* when ``nvidia-smi --query-compute-apps`` lists a process on it, or when its
used memory is at least ``busy_memory_mib`` (a process in another container is invisible to
the first query but not to the second). The claim (``claim.py``) asks only about cards whose
lock it could take, so a process found there is never one of this workflow's own jobs.

Without ``nvidia-smi`` (a CPU machine, ``S1_NUM_GPUS`` test devices) nothing is known and no
card is called busy. Ids that are neither an index nor a UUID ``nvidia-smi`` lists (MIG
instances) are not checked either.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

# An idle H100/H200 reports a few MiB used; a CUDA context alone takes about 500 MiB.
DEFAULT_BUSY_MEMORY_MIB = 1024
GPU_QUERY = ["--query-gpu=index,uuid,memory.used,memory.total", "--format=csv,noheader,nounits"]
APPS_QUERY = ["--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class CardUsage:
    index: str
    uuid: str
    used_mib: int
    total_mib: int
    processes: tuple[tuple[int, int], ...] = ()  # (pid, MiB) of each compute process


def _csv_rows(text: str) -> list[list[str]]:
    return [[field.strip() for field in line.split(",")] for line in text.splitlines() if line.strip()]


def _mib(value: str) -> int:
    # "[N/A]" where the driver cannot tell (some containers): count it as nothing used
    try:
        return int(float(value))
    except ValueError:
        return 0


def parse_usage(gpus_csv: str, apps_csv: str) -> list[CardUsage]:
    """The two queries' CSV (``--format=csv,noheader,nounits``) as one record per card."""
    apps: dict[str, list[tuple[int, int]]] = {}
    for row in _csv_rows(apps_csv):
        if len(row) >= 3 and row[1].isdigit():
            apps.setdefault(row[0], []).append((int(row[1]), _mib(row[2])))
    cards = []
    for row in _csv_rows(gpus_csv):
        if len(row) < 4:
            continue
        index, uuid, used, total = row[:4]
        cards.append(CardUsage(index, uuid, _mib(used), _mib(total), tuple(apps.get(uuid, ()))))
    return cards


def read_usage(executable: str | None = None, timeout: float = 20.0) -> list[CardUsage] | None:
    """Every card's usage now; None when ``nvidia-smi`` is absent or fails (nothing known)."""
    executable = executable or shutil.which("nvidia-smi")
    if not executable:
        return None
    outputs = []
    for query in (GPU_QUERY, APPS_QUERY):
        try:
            result = subprocess.run([executable, *query], capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if result.returncode != 0:
            return None
        outputs.append(result.stdout)
    return parse_usage(*outputs)


def busy_reason(card: CardUsage, busy_memory_mib: int) -> str | None:
    """Why a card whose lock this workflow holds is nevertheless in use; None when it is free."""
    if card.processes:
        listed = ", ".join(f"pid {pid} ({mib} MiB)" for pid, mib in card.processes)
        return f"used by a process outside this workflow: {listed}"
    if card.used_mib >= busy_memory_mib:
        return f"{card.used_mib} of {card.total_mib} MiB in use (threshold {busy_memory_mib} MiB)"
    return None


def busy_devices(pool: list[str], busy_memory_mib: int, usage: list[CardUsage] | None) -> dict[str, str]:
    """The ids of ``pool`` (indices or UUIDs) that are busy, each with its reason."""
    if usage is None:
        return {}
    by_id = {card.index: card for card in usage} | {card.uuid: card for card in usage}
    reasons = {}
    for device in pool:
        card = by_id.get(device)
        reason = busy_reason(card, busy_memory_mib) if card is not None else None
        if reason:
            reasons[device] = reason
    return reasons
