"""Generation stage above the engine: prompts, budgets, thinking rounds, shards, natural stops.

No vLLM here (tests/test_generation_engine.py runs the real engine); the real Qwen2.5
tokenizer and real benchmark files are used throughout.
"""

from __future__ import annotations

import json
import re

import pytest

from workflow_scripts.config import ConfigError
from workflow_scripts.config.validate import engine_settings
from workflow_scripts.data import load_benchmark
from workflow_scripts.decoding.budgets import (
    BudgetError, answer_limit, context_room, parse_budget, thinking_limit,
)
from workflow_scripts.decoding.engine import Completion
from workflow_scripts.decoding.natural_stop import natural_stop_stats, natural_stop_table, stopped_naturally
from workflow_scripts.decoding.prompts import (
    CLASS_PROMPTS, FormatTokens, PromptError, encode, format_gpqa_question, prompt_ids, prompt_text, user_turn,
)
from workflow_scripts.decoding.thinking import ThinkingTrace, advance, strip_stop
from workflow_scripts.generation.inputs import GenerationError, check_settings, load_eval_sets
from workflow_scripts.generation.methods import MethodError, MethodSpec
from workflow_scripts.generation.samples import parse_part, part_records
from workflow_scripts.generation.store import SampleStore, StoreError, resume_key
from workflow_scripts.methods.budget_forcing import ForcingRule, forcing_ids

IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643
SYSTEM = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"


@pytest.fixture(scope="module")
def tokens(qwen_tokenizer):
    return FormatTokens.from_tokenizer(qwen_tokenizer)


@pytest.fixture(scope="module")
def gpqa_records(shared_data):
    return load_benchmark("gpqa", str(shared_data / "gpqa" / "gpqa_diamond.csv"), seed=42)


# --- prompts -----------------------------------------------------------------------------

def test_format_tokens_are_qwen25_ids(tokens, qwen_tokenizer):
    assert (tokens.im_start, tokens.im_end) == (IM_START, IM_END)
    assert tokens.eos_ids == (IM_END,)
    assert tokens.thinking_stops == (IM_START, IM_END) and tokens.answer_stops == (IM_END,)
    assert list(tokens.think_start) == [IM_START, 26865, 198]  # <|im_start|> "think" "\n"
    assert list(tokens.answer_start) == [IM_START, 9217, 198]
    assert qwen_tokenizer.decode(list(tokens.capped_answer_start)) == "\n<|im_start|>answer\nFinal Answer:"


def test_generation_config_eos_ids_join_the_stops(tmp_path, qwen_tokenizer):
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [IM_END, ENDOFTEXT]}))
    tokens = FormatTokens.from_tokenizer(qwen_tokenizer, tmp_path)
    assert tokens.eos_ids == (IM_END, ENDOFTEXT)
    assert tokens.thinking_stops == (IM_START, IM_END, ENDOFTEXT)


def test_think_prompt_is_chat_template_plus_think_start(qwen_tokenizer, tokens):
    record = {"id": "x", "question": "What is 1+1?"}
    text = prompt_text(qwen_tokenizer, record)
    assert text == SYSTEM + "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n"
    ids = prompt_ids(qwen_tokenizer, record)
    assert ids[-3:] == list(tokens.think_start)
    assert qwen_tokenizer.decode(ids) == text
    assert max(ids) < len(qwen_tokenizer)  # never an id the tokenizer cannot read back
    direct = prompt_text(qwen_tokenizer, record, prompt_format="direct")
    assert direct == text[: -len("<|im_start|>think\n")]


def test_class_prompts_are_s1s_strings_after_a_blank_line(qwen_tokenizer):
    assert CLASS_PROMPTS["short"] == ("Answer after a short amount of thinking. "
                                      "Do not spend excessive time double-checking your work.")
    assert CLASS_PROMPTS["long"] == (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra time "
        "trying to double-check your work until you are absolutely sure that you have the correct answer.")
    turn = user_turn({"id": "x", "question": "Q?"}, "long")
    assert turn == "Q?\n\n" + CLASS_PROMPTS["long"]
    assert ("<|im_start|>user\nQ?\n\nAnswer after a long" in
            prompt_text(qwen_tokenizer, {"id": "x", "question": "Q?"}, class_prompt="long"))


def test_format_gpqa_question_exact_text():
    text = format_gpqa_question("What is 2+2?", ["4", "3", "5", "22"])
    assert text == "What is 2+2?\n\nA) 4\nB) 3\nC) 5\nD) 22"
    with pytest.raises(PromptError, match="4 choices"):
        format_gpqa_question("q", ["a", "b"])


def test_gpqa_user_turn_lists_the_shuffled_choices(gpqa_records):
    record = gpqa_records[0]
    turn = user_turn(record)
    lines = turn.split("\n\n")[-1].split("\n")
    assert [line[:3] for line in lines] == ["A) ", "B) ", "C) ", "D) "]
    assert [line[3:] for line in lines] == record["choices"]
    gold_line = lines["ABCD".index(record["gold_letter"])]
    assert gold_line[3:] == record["answer"]
    assert turn.startswith(record["question"] + "\n\nA) ")


def test_gpqa_shuffle_is_deterministic_and_gold_letters_spread(shared_data, gpqa_records):
    again = load_benchmark("gpqa", str(shared_data / "gpqa" / "gpqa_diamond.csv"), seed=42)
    assert [user_turn(r) for r in again] == [user_turn(r) for r in gpqa_records]
    for record in gpqa_records:
        assert record["choices"]["ABCD".index(record["gold_letter"])] == record["answer"]
    letters = [r["gold_letter"] for r in gpqa_records]
    assert all(letters.count(letter) > 30 for letter in "ABCD")  # 198 questions, not all "A"
    other_seed = load_benchmark("gpqa", str(shared_data / "gpqa" / "gpqa_diamond.csv"), seed=7)
    assert [r["choices"] for r in other_seed] != [r["choices"] for r in gpqa_records]


@pytest.mark.parametrize("record, message", [
    ({"id": "a"}, "no question"),
    ({"id": "a", "question": "  "}, "no question"),
    ({"id": "a", "question": "Q", "choices": ["x", "y"]}, "list of 4 strings"),
    ({"id": "a", "question": "Q", "choices": ["x", "y", None, "z"]}, "list of 4 strings"),
])
def test_bad_records_name_the_problem(record, message):
    with pytest.raises(PromptError, match=message):
        user_turn(record)


def test_unknown_class_prompt_and_format_are_errors(qwen_tokenizer):
    with pytest.raises(PromptError, match="medium"):
        user_turn({"id": "a", "question": "Q"}, "medium")
    with pytest.raises(PromptError, match="prompt_format"):
        prompt_text(qwen_tokenizer, {"id": "a", "question": "Q"}, prompt_format="chat")


@pytest.mark.parametrize("string, expected", [("Wait", [14190]), ("Hmm", [80022]), ("Alternatively", [92014])])
def test_forcing_strings_are_single_tokens(qwen_tokenizer, string, expected):
    assert forcing_ids(qwen_tokenizer, string) == expected
    assert encode(qwen_tokenizer, " Wait") == [13824]


# --- budgets -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [(500, 500), ("500", 500), ("unbounded", "unbounded"), (1, 1)])
def test_parse_budget(value, expected):
    assert parse_budget(value) == expected


@pytest.mark.parametrize("value", [0, -3, "5x", None, True, 2.5, "0"])
def test_parse_budget_rejects(value):
    with pytest.raises(BudgetError, match="positive integer"):
        parse_budget(value)


def test_thinking_limit_hand_computed():
    # room = 256 - 100 prompt - 16 reserve - 7 transition = 133
    kwargs = dict(prompt_len=100, max_model_len=256, answer_reserve=16, transition_len=7)
    assert thinking_limit("unbounded", **kwargs) == 133
    assert thinking_limit(64, **kwargs) == 64
    assert thinking_limit(500, **kwargs) == 133  # clamped: never overflow the context
    assert answer_limit(16, sequence_len=100 + 133 + 7, max_model_len=256) == 16
    assert answer_limit(32, sequence_len=250, max_model_len=256) == 6
    with pytest.raises(BudgetError, match="max_model_len 256"):
        thinking_limit(8, prompt_len=240, max_model_len=256, answer_reserve=16, transition_len=7)
    with pytest.raises(BudgetError, match="no room"):
        answer_limit(16, sequence_len=256, max_model_len=256)
    assert context_room(prompt_len=10, max_model_len=20, reserved=0) == 10


# --- thinking rounds ---------------------------------------------------------------------

STOPS = (IM_START, IM_END)
WAIT = [14190]


def test_strip_stop_removes_only_the_stop_id():
    assert strip_stop(Completion([1, 2, IM_START], "stop"), STOPS) == ([1, 2], IM_START)
    assert strip_stop(Completion([1, 2, IM_END], "stop"), STOPS) == ([1, 2], IM_END)
    assert strip_stop(Completion([1, 2, IM_START], "length"), STOPS) == ([1, 2, IM_START], None)
    with pytest.raises(ValueError, match="not a stop id"):
        strip_stop(Completion([1, 2], "stop"), STOPS)
    with pytest.raises(ValueError, match="unexpected finish reason"):
        strip_stop(Completion([1], "abort"), STOPS)


def test_natural_stop_inserts_wait_and_shrinks_the_remaining_budget():
    trace = ThinkingTrace(limit=10)
    advance(trace, Completion([5, 6, 7, IM_START], "stop"), STOPS, ForcingRule(tuple(WAIT), 2))
    assert trace.token_ids == [5, 6, 7, 14190] and trace.waits_inserted == 1 and not trace.done
    assert trace.remaining == 6
    advance(trace, Completion([8, IM_END], "stop"), STOPS, ForcingRule(tuple(WAIT), 2))
    assert trace.token_ids == [5, 6, 7, 14190, 8, 14190] and trace.waits_inserted == 2 and trace.remaining == 4
    advance(trace, Completion([9, IM_START], "stop"), STOPS, ForcingRule(tuple(WAIT), 2))  # n exhausted: ends
    assert trace.done and not trace.cap_hit and trace.used == 7
    assert trace.finish_reasons == ["stop", "stop", "stop"]
    assert [r["forced"] for r in trace.rounds] == [True, True, False]
    assert [r["max_tokens"] for r in trace.rounds] == [10, 6, 4]


def test_cap_after_a_wait_uses_exactly_the_budget():
    trace = ThinkingTrace(limit=6)
    advance(trace, Completion([1, 2, IM_START], "stop"), STOPS, ForcingRule(tuple(WAIT), 1))
    assert trace.remaining == 3
    advance(trace, Completion([3, 4, 5], "length"), STOPS, ForcingRule(tuple(WAIT), 1))
    assert trace.done and trace.cap_hit and trace.used == 6 == trace.limit


def test_wait_is_not_inserted_when_it_would_leave_no_room():
    trace = ThinkingTrace(limit=4)
    advance(trace, Completion([1, 2, 3, IM_START], "stop"), STOPS, ForcingRule(tuple(WAIT), 3))
    assert trace.done and trace.waits_inserted == 0 and trace.used == 3 and not trace.cap_hit
    long_string = [11, 12]
    trace = ThinkingTrace(limit=5)
    advance(trace, Completion([1, 2, 3, IM_START], "stop"), STOPS, ForcingRule(tuple(long_string), 3))
    assert trace.done and trace.waits_inserted == 0  # 3 + 2 = 5 would leave nothing to generate
    trace = ThinkingTrace(limit=5)
    advance(trace, Completion([1, 2, IM_START], "stop"), STOPS, ForcingRule(tuple(long_string), 3))
    assert not trace.done and trace.token_ids == [1, 2, 11, 12] and trace.remaining == 1


def test_truncation_never_forces_and_rejects_overlong_completions():
    trace = ThinkingTrace(limit=3)
    advance(trace, Completion([1, IM_START], "stop"), STOPS)
    assert trace.done and trace.token_ids == [1] and trace.waits_inserted == 0
    trace = ThinkingTrace(limit=2)
    with pytest.raises(ValueError, match="request of 2"):
        advance(trace, Completion([1, 2, 3], "length"), STOPS)
    with pytest.raises(ValueError, match=">= 1"):
        ThinkingTrace(limit=0)


# --- method specs and CLI input ----------------------------------------------------------

SETTINGS = {"engine": {"dtype": "float32", "max_model_len": 256}, "answer_reserve_tokens": 16,
            "answer_max_tokens": 16, "budget_forcing": {"string": "Hmm"}}


def test_method_specs_from_cli():
    spec = MethodSpec.from_cli("sft", "budget_forcing", "B128-n2", SETTINGS)
    assert (spec.budget, spec.n, spec.forcing_string, spec.prompt_format) == (128, 2, "Hmm", "think")
    spec = MethodSpec.from_cli("sft", "class_conditional", "long", SETTINGS)
    assert (spec.budget, spec.class_prompt, spec.n) == ("unbounded", "long", 0)
    spec = MethodSpec.from_cli("base", "truncation", "Bunbounded", SETTINGS)
    assert (spec.budget, spec.prompt_format) == ("unbounded", "direct")


@pytest.mark.parametrize("model, method, setting, message", [
    ("base", "budget_forcing", "B32-n1", "base model has none"),
    ("sft", "truncation", "B32-n1", "takes no -n"),
    ("sft", "budget_forcing", "B32", "needs -n"),
    ("sft", "class_conditional", "medium", "short or long"),
    ("chat/x", "truncation", "B32", "--model-name"),
    ("sft", "truncation", "B0x", "cannot parse"),
])
def test_bad_method_specs(model, method, setting, message):
    with pytest.raises(MethodError, match=message):
        MethodSpec.from_cli(model, method, setting, SETTINGS)


def test_settings_and_engine_validation():
    completed = check_settings(SETTINGS)
    assert {k: completed[k] for k in ("answer_reserve_tokens", "answer_max_tokens")} == {
        "answer_reserve_tokens": 16, "answer_max_tokens": 16}
    assert completed["engine"]["max_model_len"] == 256 and completed["engine"]["enforce_eager"] is False  # a default
    assert check_settings({})["engine"]["max_model_len"] == 32768  # the schema's default
    with pytest.raises(ConfigError, match=re.escape("generation.answer_max_tokens: 0 is less than the minimum of 1")):
        check_settings({**SETTINGS, "answer_max_tokens": 0})
    with pytest.raises(ConfigError, match="leaves no room to think"):
        check_settings({**SETTINGS, "answer_reserve_tokens": 256})
    assert engine_settings({"dtype": "float32", "max_model_len": 64}) == {
        "dtype": "float32", "max_model_len": 64, "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9,
        "enable_prefix_caching": False, "enforce_eager": False}
    with pytest.raises(ConfigError, match=re.escape("generation.engine: unknown key(s) 'gpu_mem'")):
        engine_settings({"dtype": "float32", "max_model_len": 64, "gpu_mem": 1})


def test_load_eval_sets_limits_and_errors(tmp_path):
    good = tmp_path / "math500.jsonl"
    good.write_text("".join(json.dumps({"id": i, "question": f"q{i}", "answer": "1"}) + "\n" for i in range(5)))
    sets = load_eval_sets([str(good)], {"math500": 3})
    assert [r["id"] for r in sets["math500"]] == ["0", "1", "2"] and sets["math500"][0]["dataset"] == "math500"
    assert len(load_eval_sets([str(good)], {"math500": None})["math500"]) == 5
    with pytest.raises(GenerationError, match="no entry for eval set 'math500'"):
        load_eval_sets([str(good)], {"aime24": None})
    with pytest.raises(GenerationError, match="positive integer or null"):
        load_eval_sets([str(good)], {"math500": 0})
    dup = tmp_path / "aime24.jsonl"
    dup.write_text(json.dumps({"id": 1, "question": "a"}) + "\n" + json.dumps({"id": 1, "question": "b"}) + "\n")
    with pytest.raises(GenerationError, match="duplicate id"):
        load_eval_sets([str(dup)], {"aime24": None})
    blank = tmp_path / "gpqa.jsonl"
    blank.write_text(json.dumps({"id": 1, "question": None}) + "\n")
    with pytest.raises(GenerationError, match="record 1 has no 'question'"):
        load_eval_sets([str(blank)], {"gpqa": None})


def test_parts_take_every_pth_question_and_cover_each_set_once():
    eval_sets = {"math500": [{"id": str(i)} for i in range(7)], "aime24": [{"id": "a"}]}
    assert parse_part("1of1") == (1, 1) and parse_part("3of4") == (3, 4)
    for bad in ("0of2", "3of2", "1-2", "of2"):
        with pytest.raises(GenerationError, match="--part must look like"):
            parse_part(bad)
    parts = [part_records(eval_sets, p, 3) for p in (1, 2, 3)]
    assert [[i for i, _ in part["math500"]] for part in parts] == [[0, 3, 6], [1, 4], [2, 5]]
    assert [len(part["aime24"]) for part in parts] == [1, 0, 0]  # a part may have no question of a set


def test_a_derived_run_must_name_a_listed_trajectory(tmp_path, capsys):
    """A derived run whose trajectory --runs does not list, or the same run twice: refused by
    name, before eval sets or engines."""
    from workflow_scripts.generation.cli import main

    base = ["samples", "--model", "m", "--model-name", "sft", "--settings", "{}", "--limits", "{}", "--eval-sets",
            str(tmp_path / "missing.jsonl"), "--store", str(tmp_path / "s"), "--manifest", str(tmp_path / "m.json")]
    derived = [{"method": "truncation", "setting": "B16", "thinking_from": "B32-n0"},
               {"method": "truncation", "setting": "B32"}]
    assert main(base + ["--runs", json.dumps(derived)]) == 2
    assert "sft/truncation/B16 is cut from the trajectory 'B32-n0', which --runs does not list" in capsys.readouterr().err
    assert main(base + ["--runs", json.dumps([derived[1], derived[1]])]) == 2
    assert "names the same run twice" in capsys.readouterr().err
    assert main(base + ["--runs", json.dumps([{"method": "truncation"}])]) == 2
    assert "must have method, setting" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


# --- the store ---------------------------------------------------------------------------

def _sample(i, key_model="sft"):
    return {"id": str(i), "dataset": "math500", "model": key_model, "x": i}


def test_store_append_resume_and_torn_tails(tmp_path):
    path = tmp_path / "store" / "math500.jsonl"
    store = SampleStore(path, "k1")
    assert store.load() == {}
    store.append([_sample(2)])
    store.append([_sample(0)])
    # a killed write: half a line at the end
    with open(path, "a") as handle:
        handle.write('{"id": "1", "dataset": "mat')
    again = SampleStore(path, "k1")
    assert sorted(again.load()) == ["0", "2"] and again.torn_lines == 1
    assert path.read_text().endswith("\n")  # torn tail cut off
    again.append([_sample(1)])
    assert sorted(SampleStore(path, "k1").load()) == ["0", "1", "2"]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(r["resume_key"] == "k1" for r in rows)
    other = SampleStore(path, "k2")
    assert other.load() == {} and other.foreign_samples == 3
    # a sample counts only if it was made from the eval record as it is now
    digests = SampleStore(path, "k1", {"0": "a", "1": "a", "2": "a"})
    digests.append([_sample(0)])  # stamped with record_sha "a"
    assert sorted(digests.load()) == ["0"] and digests.foreign_samples == 3


def test_corrupt_lines_are_errors_not_silently_dropped(tmp_path):
    path = tmp_path / "gpqa.jsonl"
    path.write_text('{"id": "0", "resume_key": "k"}\nnot json\n{"id": "1", "resume_key": "k"}\n')
    with pytest.raises(StoreError, match="gpqa.jsonl:2"):
        SampleStore(path, "k").load()


def test_resume_key_is_stable_and_sensitive():
    a = resume_key({"model": "m", "spec": {"budget": 32}, "seed": 42})
    assert a == resume_key({"seed": 42, "spec": {"budget": 32}, "model": "m"})
    assert a != resume_key({"model": "m", "spec": {"budget": 64}, "seed": 42})
    assert len(a) == 16


# --- natural stops -----------------------------------------------------------------------

def _stop_sample(dataset, budget, reasons, answer_finish="stop", method="truncation"):
    return {"model": "sft", "method": method, "setting": f"B{budget}", "dataset": dataset, "budget": budget,
            "round_finish_reasons": reasons, "answer_finish_reason": answer_finish}


def test_natural_stop_shares_hand_counted(tmp_path):
    samples = [
        _stop_sample("math500", 16, ["stop"]), _stop_sample("math500", 16, ["length"]),
        _stop_sample("math500", 16, ["length"]), _stop_sample("math500", 16, ["stop"]),
        _stop_sample("gpqa", 16, ["length"]),
        _stop_sample("math500", "unbounded", ["stop"]),
    ]
    rows = natural_stop_stats(samples)
    by_key = {(r["dataset"], r["budget"]): r for r in rows}
    assert by_key[("math500", "16")]["share"] == 0.5 and by_key[("math500", "16")]["samples"] == 4
    assert by_key[("gpqa", "16")]["natural_stops"] == 0
    assert by_key[("math500", "unbounded")]["share"] == 1.0
    # base model (direct): the response ending before its cap counts as natural
    assert stopped_naturally({"round_finish_reasons": [], "answer_finish_reason": "stop"})
    assert not stopped_naturally({"round_finish_reasons": [], "answer_finish_reason": "length"})
    # forced rounds: only the first round says whether the model stopped by itself
    assert stopped_naturally({"round_finish_reasons": ["stop", "length"]})
    shard = tmp_path / "math500.jsonl"
    shard.write_text("".join(json.dumps(s) + "\n" for s in samples + [
        _stop_sample("math500", 16, ["length"], method="budget_forcing")]))
    table = natural_stop_table([shard])
    assert [(r["dataset"], r["budget"], r["natural_stops"], r["samples"]) for r in table] == [
        ("gpqa", "16", 0, 1), ("math500", "16", 2, 4), ("math500", "unbounded", 1, 1)]
