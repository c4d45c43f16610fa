"""Global batch = micro-batch x gradient accumulation x data-parallel processes."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BatchPlan:
    processes: int
    micro_batch_size: int
    gradient_accumulation_steps: int

    @property
    def global_batch_size(self) -> int:
        return self.processes * self.micro_batch_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict:
        return {**asdict(self), "global_batch_size": self.global_batch_size}


def plan_batches(global_batch_size: int, micro_batch_size: int, gpus: int) -> BatchPlan:
    """Split the global batch over ``gpus`` processes (0 GPUs = one CPU process).

    The micro-batch is the largest size <= the requested one that divides each process's share,
    so the global batch is met exactly; a global batch that the processes cannot share evenly
    is an error rather than a silently different batch.
    """
    for name, value in (("global_batch_size", global_batch_size), ("micro_batch_size", micro_batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(gpus, int) or gpus < 0:
        raise ValueError(f"gpus must be an integer >= 0, got {gpus!r}")
    processes = max(gpus, 1)
    if global_batch_size % processes:
        raise ValueError(f"global_batch_size {global_batch_size} is not divisible by {processes} GPUs")
    per_process = global_batch_size // processes
    micro = min(micro_batch_size, per_process)
    while per_process % micro:
        micro -= 1
    return BatchPlan(processes=processes, micro_batch_size=micro,
                     gradient_accumulation_steps=per_process // micro)
