"""One thinking trajectory per (model, question, sample) serves every truncation and
budget-forcing run of a thinking model (``generation.reuse_thinking``).

With the same decoding, the runs of one prompt are prefixes of one another: truncation at B
is the unbounded thinking cut at min(B, its first natural end); budget forcing with n
strings is the thinking of the largest n, whose natural ends are replaced by the forcing
string, cut at B or at the natural end where no string is left or none fits. So one
trajectory, thought to the grid's largest budget with its largest n, holds the thinking of
every such run; :func:`cut` replays a run's own rules on it (the thinking rounds' own
``advance`` with the method's ``ForcingRule``), and the run generates only its answer.

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
from typing import Any

from workflow_scripts.config.grid import DERIVABLE_METHODS, UNBOUNDED
from workflow_scripts.decoding.budgets import parse_budget
from workflow_scripts.decoding.engine import Completion
from workflow_scripts.decoding.pipeline import answer_samples, new_traces, sampling_for, think, think_prompts
from workflow_scripts.decoding.thinking import ThinkingTrace, advance
from workflow_scripts.errors import UserError
from workflow_scripts.methods.base import BUDGET
from workflow_scripts.methods.budget_forcing import ForcingRule


class TrajectoryError(UserError):
    """A run cannot be cut from the trajectory given; the message says why."""


def parse_trajectory_setting(setting: str) -> tuple[int | str, int]:
    """(budget, n) of a trajectory setting ``Bunbounded-n4`` / ``B8000-n0``."""
    match = re.fullmatch(rf"B({BUDGET.regex})-n(\d+)", setting or "")
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


def cut(trajectory: dict[str, Any], limit: int, rule: ForcingRule) -> ThinkingTrace:
    """The thinking of a run with thinking limit ``limit`` and the forcing ``rule`` (n = 0:
    truncation), replayed on ``trajectory``'s rounds through the from-scratch code itself:
    each trajectory round becomes the completion the run's round would have received (what is
    left of the run's limit: the trajectory's tokens up to its natural end and the stop id, or
    the limit's worth, a cap), and :func:`workflow_scripts.decoding.thinking.advance` applies
    the run's rule to it. Where the run inserts the string the trajectory must have too."""
    if limit > trajectory["thinking_limit"]:
        raise TrajectoryError(f"a run with thinking limit {limit} cannot be cut from a trajectory of limit "
                              f"{trajectory['thinking_limit']} (id {trajectory['id']!r})")
    if rule.n > trajectory["n"]:
        raise TrajectoryError(f"a run with n={rule.n} cannot be cut from a trajectory with n={trajectory['n']}")
    if rule.n and list(rule.forcing_ids) != list(trajectory["forcing_ids"]):
        raise TrajectoryError(f"forcing ids {list(rule.forcing_ids)} differ from the trajectory's "
                              f"{trajectory['forcing_ids']}")
    ids = trajectory["thinking_token_ids"]
    trace = ThinkingTrace(limit=limit)
    position = 0  # in the trajectory's thinking ids (generated + inserted)
    for source in trajectory["rounds"]:
        remaining = trace.remaining
        natural_end = position + source["generated"]  # where the trajectory's round stopped or was capped
        if source["finish_reason"] == "stop" and source["generated"] + 1 <= remaining:
            completion = Completion(ids[position:natural_end] + [source["stop_id"]], "stop")
        elif source["finish_reason"] != "stop" and natural_end < position + remaining:
            raise TrajectoryError(f"trajectory {trajectory['id']!r} ends at {natural_end} tokens, before "
                                  f"the run's limit {limit}")
        else:  # this run's round reaches its limit first: the cap
            completion = Completion(ids[position:position + remaining], "length")
        advance(trace, completion, [source["stop_id"]], rule)
        if trace.done:
            return trace
        if not source["forced"]:
            raise TrajectoryError(f"trajectory {trajectory['id']!r} did not insert the forcing string where a run "
                                  f"with limit {limit} and n={rule.n} does (after {natural_end} tokens)")
        position = natural_end + len(rule.forcing_ids)
    raise TrajectoryError(f"trajectory {trajectory['id']!r} has no round left for a run with limit {limit}, n={rule.n}")


def generate_trajectories(ctx, records: list[dict[str, Any]], spec) -> list[dict[str, Any]]:
    """Think as the run ``spec`` does (its budget, n and forcing string), without answering:
    one trajectory record per record (question, sample)."""
    rule = ForcingRule.for_spec(ctx.tokenizer, spec)
    prompts = think_prompts(ctx, records, spec)
    traces = think(ctx, records, prompts, spec.budget, rule, sampling_for(ctx, records))
    return [{
        "dataset": record["dataset"], "id": str(record["id"]), "index": record.get("index"), "model": spec.model,
        **{key: record[key] for key in ("sample", "sample_seed") if key in record},
        "budget": spec.budget, "n": spec.n, "forcing_string": spec.forcing_string, "forcing_ids": list(rule.forcing_ids),
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
    check_derivable(spec)
    rule = ForcingRule.for_spec(ctx.tokenizer, spec)
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
        traces.append(cut(trajectory, empty.limit, rule))
    samples = answer_samples(ctx, records, spec, prompts, traces, derived=True)
    for sample, record in zip(samples, records):
        trajectory = trajectories[trajectory_key(record)]
        sample["trajectory"] = {"source": source, "resume_key": trajectory["resume_key"],
                                "budget": trajectory["budget"], "n": trajectory["n"]}
    return samples
