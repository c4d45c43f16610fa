"""The thinking phase as rounds over token ids, batched across all active samples.

Each round asks the engine for at most ``limit - used`` tokens. A round ends either at the
cap ("length": the sample has used its whole limit) or because the model emitted a stop id
(``<|im_start|>`` or eos), which vLLM keeps as the last id; it is stripped here, as it is not
thinking. On such a natural stop the method decides (``on_natural_end``: ids to insert, or
none to end thinking); budget forcing's rule lives in :mod:`workflow_scripts.methods.budget_forcing`
(``ForcingRule``), and a trajectory cut replays the same rule through :func:`advance`. Inserted ids
count as thinking tokens, so thinking never exceeds the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from workflow_scripts.decoding.engine import Completion
from workflow_scripts.decoding.seeds import round_seed


@dataclass
class ThinkingTrace:
    """One sample's thinking so far."""

    limit: int
    token_ids: list[int] = field(default_factory=list)  # generated + inserted, no stop ids
    waits_inserted: int = 0
    rounds: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    cap_hit: bool = False
    seconds: float = 0.0

    def __post_init__(self):
        if self.limit < 1:
            raise ValueError(f"a thinking limit must be >= 1, got {self.limit}")

    @property
    def used(self) -> int:
        return len(self.token_ids)

    @property
    def remaining(self) -> int:
        return self.limit - self.used

    @property
    def finish_reasons(self) -> list[str]:
        return [r["finish_reason"] for r in self.rounds]


# What a method does at a natural end of thinking: the ids to insert (thinking goes on), or none.
NaturalEnd = Callable[[ThinkingTrace], Sequence[int]]


def end_thinking(trace: ThinkingTrace) -> Sequence[int]:
    """The default at a natural end: thinking ends there."""
    return ()


def strip_stop(completion: Completion, stop_ids: Sequence[int]) -> tuple[list[int], int | None]:
    """(ids without the trailing stop id, that stop id or None)."""
    ids = list(completion.token_ids)
    if completion.finish_reason == "stop":
        if not ids or ids[-1] not in stop_ids:
            raise ValueError(f"finish reason 'stop' but the last id {ids[-1:]} is not a stop id {list(stop_ids)}")
        return ids[:-1], ids[-1]
    if completion.finish_reason != "length":
        raise ValueError(f"unexpected finish reason {completion.finish_reason!r}")
    return ids, None


def advance(trace: ThinkingTrace, completion: Completion, stop_ids: Sequence[int],
            on_natural_end: NaturalEnd = end_thinking) -> None:
    """Apply one round's completion to ``trace``: append ids, then cap, or at a natural end
    insert what ``on_natural_end`` returns (thinking goes on) or end."""
    requested = trace.remaining
    ids, stop_id = strip_stop(completion, stop_ids)
    if len(ids) > requested:
        raise ValueError(f"engine returned {len(ids)} thinking tokens for a request of {requested}")
    trace.token_ids.extend(ids)
    record = {"max_tokens": requested, "generated": len(ids), "engine_tokens": len(completion.token_ids),
              "finish_reason": completion.finish_reason, "stop_id": stop_id, "forced": False}
    trace.rounds.append(record)
    if stop_id is None:  # cap: the whole remaining budget was generated
        trace.cap_hit = True
        trace.done = True
        return
    inserted = list(on_natural_end(trace))
    if trace.used + len(inserted) >= trace.limit and inserted:
        raise ValueError(f"{len(inserted)} inserted ids leave no room to generate within the limit {trace.limit}")
    if inserted:
        trace.token_ids.extend(inserted)
        trace.waits_inserted += 1
        record["forced"] = True
    else:
        trace.done = True


def run_thinking(engine, prompts: Sequence[Sequence[int]], traces: Sequence[ThinkingTrace],
                 stop_ids: Sequence[int], on_natural_end: NaturalEnd = end_thinking, *,
                 temperature: float = 0.0, top_p: float = 1.0, seeds: Sequence[int] | None = None) -> list[dict]:
    """Think until every trace is done; each round is one batched engine call. Returns round stats.
    Greedy by default; sampling passes a temperature (and top-p) and one seed per trace: round r
    of a trace samples with :func:`round_seed` (the seed itself in round 0), which depends on
    the position alone, so a round sees the same random stream whatever its ``max_tokens``
    (a trajectory's round and a run's round at the same position match) and a round after a
    forcing string does not replay the first round's noise."""
    if len(prompts) != len(traces):
        raise ValueError(f"{len(prompts)} prompts but {len(traces)} traces")
    sampling = {} if not temperature else {"temperature": temperature, "top_p": top_p}
    round_stats = []
    while True:
        active = [i for i, t in enumerate(traces) if not t.done]
        if not active:
            return round_stats
        started = time.perf_counter()
        if sampling:
            sampling["seeds"] = ([round_seed(seeds[i], len(traces[i].rounds)) for i in active]
                                 if seeds is not None else None)
        completions = engine.generate([list(prompts[i]) + traces[i].token_ids for i in active],
                                      [traces[i].remaining for i in active], stop_ids, **sampling)
        elapsed = time.perf_counter() - started
        generated = 0
        for i, completion in zip(active, completions):
            advance(traces[i], completion, stop_ids, on_natural_end)
            traces[i].seconds += elapsed
            generated += len(completion.token_ids)
        round_stats.append({"phase": "thinking", "round": len(round_stats), "active": len(active),
                            "generated_tokens": generated, "seconds": round(elapsed, 3)})
