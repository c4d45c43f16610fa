"""One thinking trajectory per (model, question, sample) serves every truncation and
budget-forcing run of a thinking model (``generation.reuse_thinking``).

With the same decoding, the runs of one prompt are prefixes of one another: truncation at B
is the unbounded thinking cut at min(B, its first natural end); budget forcing with n
strings is the thinking of the largest n, whose natural ends are replaced by the forcing
string, cut at B or at the natural end where no string is left or none fits. So one
trajectory, thought to the grid's largest budget with its largest n, holds the thinking of
every such run; :func:`cut` replays a run's own rules on it, and the run generates only its
answer.

The trajectory is generated in the same rounds a from-scratch run uses (one engine request
per round: the prompt, the thinking so far and the inserted string), so a run's round and
the trajectory's round at the same position see the same tokens and differ only in how many
they may generate. Its record keeps each round (tokens generated, finish reason, stop id,
whether the string was inserted): every natural end and every insertion, by position.
Token identity with from-scratch runs needs a deterministic engine (tests/test_derived_runs.py:
``max_num_seqs: 1``, prefix caching off); batched greedy decoding is not batch-invariant.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from workflow_scripts.config.grid import DERIVABLE_METHODS, UNBOUNDED
from workflow_scripts.errors import UserError
from workflow_scripts.generation.thinking import ThinkingTrace


class TrajectoryError(UserError):
    """A run cannot be cut from the trajectory given; the message says why."""


def parse_trajectory_setting(setting: str) -> tuple[int | str, int]:
    """(budget, n) of a trajectory setting ``Bunbounded-n4`` / ``B8000-n0``."""
    from workflow_scripts.generation.budgets import parse_budget

    match = re.fullmatch(r"B(\d+|unbounded)-n(\d+)", setting or "")
    if match is None:
        raise TrajectoryError(f"a trajectory setting looks like Bunbounded-n2 or B8000-n0, got {setting!r}")
    return parse_budget(match[1]), int(match[2])


def trajectory_key(record: dict[str, Any]) -> tuple[str, str, int | None]:
    """(dataset, id, sample) of a record, trajectory or sample (sample None without repeats)."""
    return record["dataset"], str(record["id"]), record.get("sample")


def check_derivable(spec) -> None:
    """Only thinking-format truncation and budget-forcing runs without a class prompt are cuts."""
    if spec.method not in DERIVABLE_METHODS or spec.prompt_format != "think" or spec.class_prompt is not None:
        raise TrajectoryError(f"{spec.model}/{spec.method}/{spec.setting} cannot take its thinking from a trajectory")


def check_cut(spec, held) -> None:
    """Before any engine starts: ``spec`` is derivable and the trajectory ``held`` (its spec) is
    long enough for it (budget and n; the per-question limit is checked by :func:`cut`)."""
    check_derivable(spec)
    too_long = held.budget != UNBOUNDED and (spec.budget == UNBOUNDED or spec.budget > held.budget)
    if too_long or spec.n > held.n:
        raise TrajectoryError(f"{spec.model}/{spec.method}/{spec.setting} cannot be cut from the trajectory "
                              f"{held.setting} (budget {held.budget}, n={held.n}): its budget or n is larger")


def cut(trajectory: dict[str, Any], limit: int, n: int, forcing_ids: Sequence[int]) -> ThinkingTrace:
    """The thinking of a run with thinking limit ``limit`` and up to ``n`` forcing strings
    (0 = truncation), replayed on ``trajectory``'s rounds by the from-scratch rules of
    :func:`workflow_scripts.generation.thinking.advance`: each round may generate what is
    left of the limit; a natural end (a stop id) within it is replaced by the string while
    strings are left and the string fits with room for one more token, else thinking ends;
    a round that reaches the limit ends thinking at the cap."""
    if limit > trajectory["thinking_limit"]:
        raise TrajectoryError(f"a run with thinking limit {limit} cannot be cut from a trajectory of limit "
                              f"{trajectory['thinking_limit']} (id {trajectory['id']!r})")
    if n > trajectory["n"]:
        raise TrajectoryError(f"a run with n={n} cannot be cut from a trajectory with n={trajectory['n']}")
    if n and list(forcing_ids) != list(trajectory["forcing_ids"]):
        raise TrajectoryError(f"forcing ids {list(forcing_ids)} differ from the trajectory's {trajectory['forcing_ids']}")
    ids = trajectory["thinking_token_ids"]
    trace = ThinkingTrace(limit=limit)
    position = 0  # in the trajectory's thinking ids (generated + inserted)
    for source in trajectory["rounds"]:
        remaining = trace.remaining
        natural_end = position + source["generated"]  # where the trajectory's round stopped or was capped
        stopped = source["finish_reason"] == "stop" and source["generated"] + 1 <= remaining
        if not stopped:  # this run's round reaches its limit first: the cap
            if source["finish_reason"] != "stop" and natural_end < position + remaining:
                raise TrajectoryError(f"trajectory {trajectory['id']!r} ends at {natural_end} tokens, before "
                                      f"the run's limit {limit}")
            trace.token_ids.extend(ids[position:position + remaining])
            trace.rounds.append({"max_tokens": remaining, "generated": remaining, "engine_tokens": remaining,
                                 "finish_reason": "length", "stop_id": None, "forced": False})
            trace.cap_hit = trace.done = True
            return trace
        trace.token_ids.extend(ids[position:natural_end])
        record = {"max_tokens": remaining, "generated": source["generated"], "engine_tokens": source["generated"] + 1,
                  "finish_reason": "stop", "stop_id": source["stop_id"], "forced": False}
        trace.rounds.append(record)
        fits = trace.used + len(forcing_ids) < trace.limit
        if not (n and trace.waits_inserted < n and fits):
            trace.done = True
            return trace
        if not source["forced"]:
            raise TrajectoryError(f"trajectory {trajectory['id']!r} did not insert the forcing string where a run "
                                  f"with limit {limit} and n={n} does (after {natural_end} tokens)")
        trace.token_ids.extend(forcing_ids)
        trace.waits_inserted += 1
        record["forced"] = True
        position = natural_end + len(forcing_ids)
    raise TrajectoryError(f"trajectory {trajectory['id']!r} has no round left for a run with limit {limit}, n={n}")


def generate_trajectories(ctx, records: list[dict[str, Any]], spec) -> list[dict[str, Any]]:
    """Think as the run ``spec`` does (its budget, n and forcing string), without answering:
    one trajectory record per record (question, sample)."""
    from workflow_scripts.generation.pipeline import sampling_for, think, think_prompts
    from workflow_scripts.methods.budget_forcing import forcing_ids as encode_forcing

    forcing = encode_forcing(ctx.tokenizer, spec.forcing_string) if spec.n else []
    prompts = think_prompts(ctx, records, spec)
    traces = think(ctx, records, prompts, spec.budget, forcing, spec.n, sampling_for(ctx, records))
    return [{
        "dataset": record["dataset"], "id": str(record["id"]), "index": record.get("index"), "model": spec.model,
        **{key: record[key] for key in ("sample", "sample_seed") if key in record},
        "budget": spec.budget, "n": spec.n, "forcing_string": spec.forcing_string, "forcing_ids": list(forcing),
        "prompt_tokens": len(prompt), "thinking_limit": trace.limit, "thinking_tokens": len(trace.token_ids),
        "thinking_token_ids": list(trace.token_ids), "rounds": trace.rounds, "waits_inserted": trace.waits_inserted,
        "cap_hit": trace.cap_hit, "thinking_engine_tokens": sum(r["engine_tokens"] for r in trace.rounds),
        "engine": ctx.engine.settings, "seed": ctx.seed, "timings": {"thinking_s": round(trace.seconds, 3)},
    } for record, prompt, trace in zip(records, prompts, traces)]


def derived_samples(ctx, records: list[dict[str, Any]], spec, trajectories: dict[tuple, dict[str, Any]],
                    source: str) -> list[dict[str, Any]]:
    """Samples of a truncation or budget-forcing run whose thinking is cut from
    ``trajectories`` ({(dataset, id, sample): record}, read from ``source``); only the answer
    phase is generated (one batched round)."""
    from workflow_scripts.generation.pipeline import answer_samples, new_traces, think_prompts
    from workflow_scripts.methods.budget_forcing import forcing_ids as encode_forcing

    check_derivable(spec)
    forcing = encode_forcing(ctx.tokenizer, spec.forcing_string) if spec.n else []
    prompts = think_prompts(ctx, records, spec)
    traces = []
    for record, prompt, empty in zip(records, prompts, new_traces(ctx, prompts, spec.budget)):
        key = trajectory_key(record)
        if key not in trajectories:
            raise TrajectoryError(f"{source}: no trajectory for {key}")
        trajectory = trajectories[key]
        if trajectory["prompt_tokens"] != len(prompt):
            raise TrajectoryError(f"{source}: trajectory {key} was thought on a prompt of {trajectory['prompt_tokens']} "
                                  f"tokens, this run's has {len(prompt)}")
        traces.append(cut(trajectory, empty.limit, spec.n, forcing))
    samples = answer_samples(ctx, records, spec, prompts, traces, derived=True)
    for sample, record in zip(samples, records):
        trajectory = trajectories[trajectory_key(record)]
        sample["trajectory"] = {"source": source, "resume_key": trajectory["resume_key"],
                                "budget": trajectory["budget"], "n": trajectory["n"]}
    return samples
