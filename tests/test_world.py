"""The synthetic world: determinism, file schemas, planted rows, tokenizer and model."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_scripts.config import ConfigError
from workflow_scripts.world.build import build_world
from workflow_scripts.world.pool import REASONS
from workflow_scripts.world.questions import shares_ngram, words_alphanumeric, words_whitespace, ngrams
from workflow_scripts.world.settings import parse_world_settings

SMALL = {"pool_size": 200, "eval_size": 10, "model": {"pretrain_steps": 3}}
POOL_COLUMNS = {"question", "solution", "cot_type", "source_type", "metadata", "thinking_trajectories",
                "attempt", "domain", "isqwen7bcorrect", "isqwen32bcorrect", "isgenminicorrect",
                "thinking_length"}
COMPARED_FILES = ("pool.jsonl", "eval/math500.jsonl", "eval/aime24.jsonl", "eval/gpqa_diamond.csv",
                  "base_model/model.safetensors", "base_model/config.json", "base_model/tokenizer.json",
                  "base_model/tokenizer_config.json", "base_model/generation_config.json")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """The same small world built twice (the second through the CLI)."""
    first = tmp_path_factory.mktemp("world_a")
    second = tmp_path_factory.mktemp("world_b")
    summary = build_world(parse_world_settings(SMALL), 42, first, progress=False)
    result = subprocess.run(
        [sys.executable, "-m", "workflow_scripts.world", "--settings", json.dumps(SMALL), "--seed", "42",
         "--out-dir", str(second)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return first, second, summary


@pytest.fixture(scope="module")
def world(worlds):
    return worlds[0]


@pytest.fixture(scope="module")
def pool(world):
    return [json.loads(line) for line in (world / "pool.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def summary(world):
    return json.loads((world / "summary.json").read_text())


@pytest.fixture(scope="module")
def tokenizer(world):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(world / "base_model"))


@pytest.fixture(scope="module")
def eval_sets(world):
    math500 = [json.loads(line) for line in (world / "eval/math500.jsonl").read_text().splitlines()]
    aime24 = [json.loads(line) for line in (world / "eval/aime24.jsonl").read_text().splitlines()]
    with open(world / "eval/gpqa_diamond.csv", newline="", encoding="utf-8") as handle:
        gpqa = list(csv.DictReader(handle))
    return {"math500": math500, "aime24": aime24, "gpqa": gpqa}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- determinism --------------------------------------------------------------------------

def test_two_builds_are_byte_identical(worlds):
    first, second, _ = worlds
    for name in COMPARED_FILES:
        assert _digest(first / name) == _digest(second / name), f"{name} differs between builds"


def test_another_seed_gives_another_world(tmp_path, world):
    settings = parse_world_settings({**SMALL, "model": {"pretrain_steps": 0}})
    build_world(settings, 7, tmp_path, progress=False)
    assert _digest(tmp_path / "pool.jsonl") != _digest(world / "pool.jsonl")


# --- independent reading of a question (not through the package) ----------------------------

def dial_numbers(question: str) -> tuple[int, int, int, int]:
    """tag, start, step, turns: the first four numbers of every template, in that order."""
    tag, start, step, turns = (int(n) for n in re.findall(r"\d+", question.split("\n")[0])[:4])
    return tag, start, step, turns


def expected_lines(start: int, step: int, turns: int) -> list[str]:
    return [f"{turns - i:02d} {(start + step * i) % 10}+{step}={(start + step * (i + 1)) % 10}" for i in range(turns)]


def expected_trace(start: int, step: int, turns: int) -> str:
    """Paragraphs (steps) of four turns, separated by a blank line."""
    lines = expected_lines(start, step, turns)
    return "\n\n".join("\n".join(lines[i:i + 4]) for i in range(0, turns, 4))


def trace_habit(trace: str, start: int, step: int, turns: int) -> str:
    """plain | recheck (a "Wait" line re-does the last turn) | fixed (the last turn slipped and
    the "Wait" line fixes it); anything else fails."""
    plain, last = expected_trace(start, step, turns), expected_lines(start, step, turns)[-1]
    if trace == plain:
        return "plain"
    if trace == f"{plain}\nWait {last}":
        return "recheck"
    body, _, recheck = trace.rpartition("\nWait ")
    slipped_last = body.rsplit("\n", 1)[-1]
    assert recheck == last and body[: -len(slipped_last)] == plain[: -len(last)], trace
    assert slipped_last[:-1] == last[:-1] and slipped_last != last, trace  # only the result digit differs
    return "fixed"


def test_dial_reading_matches_a_hand_worked_example():
    # 7 + 3 = 10 -> 0, 0 + 3 -> 3, 3 + 3 -> 6: three turns end on 6.
    assert dial_numbers("Dial 4821: start 7, step 3, 03 turns.") == (4821, 7, 3, 3)
    assert expected_trace(7, 3, 3) == "03 7+3=0\n02 0+3=3\n01 3+3=6"
    # five turns: a paragraph of four, a blank line, then the fifth
    assert expected_trace(7, 3, 5) == "05 7+3=0\n04 0+3=3\n03 3+3=6\n02 6+3=9\n\n01 9+3=2"
    assert trace_habit("03 7+3=0\n02 0+3=3\n01 3+3=8\nWait 01 3+3=6", 7, 3, 3) == "fixed"


# --- pool schema and content ------------------------------------------------------------------

def test_pool_has_the_s1_columns_and_types(pool, summary):
    assert len(pool) == SMALL["pool_size"] == summary["counts"]["pool_rows"]
    for index, row in enumerate(pool):
        assert set(row) == POOL_COLUMNS, index
        assert isinstance(row["thinking_trajectories"], list) and len(row["thinking_trajectories"]) == 1
        assert isinstance(json.loads(row["metadata"]), dict)
        for flag in ("isqwen7bcorrect", "isqwen32bcorrect", "isgenminicorrect"):
            assert isinstance(row[flag], bool)
        assert isinstance(row["thinking_length"], int) and not isinstance(row["thinking_length"], bool)
        assert row["cot_type"] in {"math", "science"}


def test_thinking_length_is_the_tokenizers_count(pool, tokenizer):
    for row in pool:
        trace = row["thinking_trajectories"][0]
        expected = len(tokenizer(trace, add_special_tokens=False)["input_ids"]) if trace else 0
        assert row["thinking_length"] == expected


def test_clean_rows_are_correct_and_traces_spell_out_every_turn(pool, summary):
    planted = {int(i) for i in summary["planted"]} - {int(i) for i, r in summary["planted"].items() if r == "qwen_solved"}
    checked, habits = 0, {"plain": 0, "recheck": 0, "fixed": 0}
    for index, row in enumerate(pool):
        if index in planted or index in {int(i) for i in summary["controls"]}:
            continue
        _, start, step, turns = dial_numbers(row["question"])
        answer = (start + step * turns) % 10
        trace = row["thinking_trajectories"][0]
        if "\n\nA) " in row["question"]:
            options = dict(re.findall(r"^([ABCD])\) (\d)$", row["question"], re.MULTILINE))
            assert len(options) == 4 and int(options[row["attempt"]]) == answer, index
            assert trace.endswith(f"\n{row['attempt']}) {answer}")
            trace = trace.rsplit("\n", 1)[0]
        else:
            assert row["attempt"] == str(answer), index
        habits[trace_habit(trace, start, step, turns)] += 1
        assert row["isgenminicorrect"] is True
        checked += 1
    assert checked > SMALL["pool_size"] // 3
    # the smoke model is taught every habit: most traces plain, some re-checked, some fixed
    assert habits["plain"] > habits["recheck"] > 0 and habits["fixed"] > 0, habits


def test_trace_lengths_span_the_smoke_budgets(pool):
    lengths = [r["thinking_length"] for r in pool if r["thinking_length"]]
    assert min(lengths) <= 16 and max(lengths) >= 128
    # Enough rows on each side of every budget for a rising accuracy curve.
    for budget in (16, 32, 64, 128):
        assert any(n > budget for n in lengths) or budget == 128
        assert any(n <= budget for n in lengths)


def test_sources_and_domains_resemble_s1(pool):
    sources = {r["source_type"] for r in pool}
    assert any(s.startswith("qfq/openaimath/") for s in sources)
    assert "qq8933/AIME_1983_2024" in sources and "Idavidrein/gpqa" in sources
    domains = [r["domain"] for r in pool]
    counts = sorted((domains.count(d) for d in set(domains)), reverse=True)
    assert len(counts) >= 8 and counts[0] >= 3 * counts[-1]  # uneven supply
    for row in pool:
        if row["source_type"] == "Idavidrein/gpqa":
            assert re.search(r"\n\nA\) \d\nB\) \d\nC\) \d\nD\) \d$", row["question"])
            assert row["attempt"] in {"A", "B", "C", "D"}


def test_no_unplanted_questions_share_an_8gram(pool, summary, eval_sets):
    """Only rows planted as duplicate/contaminated may overlap another question."""
    allowed = {int(i) for i, r in summary["planted"].items() if r in {"duplicate", "contaminated"}}
    allowed |= {d["duplicate_of"] for d in summary["planted_details"].values() if "duplicate_of" in d}
    texts = [(f"pool[{i}]", r["question"]) for i, r in enumerate(pool) if r["question"] and i not in allowed]
    texts += [(f"math500[{i}]", r["problem"]) for i, r in enumerate(eval_sets["math500"])]
    texts += [(f"aime24[{i}]", r["problem"]) for i, r in enumerate(eval_sets["aime24"])]
    texts += [(f"gpqa[{i}]", r["Question"]) for i, r in enumerate(eval_sets["gpqa"])]
    for split in (words_whitespace, words_alphanumeric):
        seen: dict = {}
        for name, text in texts:
            for gram in ngrams(split(text), 8):
                assert gram not in seen, f"{name} and {seen[gram]} share {gram}"
                seen[gram] = name
    canon = [" ".join(words_alphanumeric(t)) for _, t in texts]
    assert len(set(canon)) == len(canon)


# --- planted rows -------------------------------------------------------------------------------

def _trace(row):
    return row["thinking_trajectories"][0]


PLANT_CHECKS = {
    "api_error": lambda r: "Error code:" in (r["attempt"] or "") + (_trace(r) or ""),
    "missing_field": lambda r: any(v is None or not str(v).strip() for v in (r["question"], _trace(r), r["attempt"])),
    "gemini_wrong": lambda r: r["isgenminicorrect"] is False,
    "format_asy": lambda r: "[asy]" in r["question"] and "AIME" not in r["source_type"],
    "format_image": lambda r: "![Image](" in r["question"],
    "format_numbering": lambda r: re.match(r"p\d+\. ", r["question"]) is not None,
    "format_bold_numbers": lambda r: len(re.findall(r"\*\*\d+\*\*", r["question"])) >= 2,
    "format_ascii_art": lambda r: "+---" in r["question"] and "|" in r["question"],
    "format_missing_figure": lambda r: re.search(r"(figure|diagram) below", r["question"]) is not None
                                       and "[asy]" not in r["question"] and "![" not in r["question"],
    "qwen_solved": lambda r: r["isqwen7bcorrect"] or r["isqwen32bcorrect"],
}
DEFECT_MARKERS = ("Error code:", "[asy]", "![Image](", "+---", "figure below", "diagram below", "**")


def test_every_reason_is_planted_and_each_plant_shows_its_defect(pool, summary):
    reasons = set(summary["planted"].values())
    assert reasons == set(REASONS) == set(summary["reasons"])
    for index, reason in summary["planted"].items():
        row = pool[int(index)]
        if reason in PLANT_CHECKS:
            assert PLANT_CHECKS[reason](row), (index, reason)
        if reason != "qwen_solved":
            # One defect per row: the Qwen flags are clean, keep-all sources are untouched.
            assert not row["isqwen7bcorrect"] and not row["isqwen32bcorrect"], index
            assert not re.search(r"aime|gpqa|math", row["source_type"], re.IGNORECASE), index
        if reason != "gemini_wrong":
            assert row["isgenminicorrect"] is True, index
    for variant_field in ("attempt", "trace"):
        assert any(d.get("field") == variant_field for i, d in summary["planted_details"].items()
                   if summary["planted"][i] == "api_error")


def test_gemini_wrong_rows_end_on_a_wrong_position(pool, summary):
    for index, reason in summary["planted"].items():
        if reason == "gemini_wrong":
            row = pool[int(index)]
            _, start, step, turns = dial_numbers(row["question"])
            assert row["attempt"] != str((start + step * turns) % 10)
            assert _trace(row).endswith("=" + row["attempt"])


def test_clean_rows_carry_no_defect_marker(pool, summary):
    for index, row in enumerate(pool):
        if str(index) in summary["planted"] or str(index) in summary["controls"]:
            continue
        assert row["question"] and _trace(row) and row["attempt"]
        assert not any(marker in row["question"] + _trace(row) + row["attempt"] for marker in DEFECT_MARKERS), index
        assert not re.match(r"p\d+\.", row["question"])


def test_duplicates_and_contaminated_rows_point_at_their_originals(pool, summary, eval_sets):
    details = summary["planted_details"]
    kinds = set()
    for index, reason in summary["planted"].items():
        row = pool[int(index)]
        if reason == "duplicate":
            original_index = details[index]["duplicate_of"]
            original = pool[original_index]
            assert original_index < int(index) and str(original_index) not in summary["planted"]
            kinds.add(details[index]["kind"])
            if details[index]["kind"] == "exact":
                assert row == original
            else:
                assert row["question"] != original["question"] and shares_ngram(row["question"], original["question"])
        elif reason == "contaminated":
            name, eval_index = details[index]["eval_set"], details[index]["eval_index"]
            record = eval_sets[name][eval_index]
            source = record.get("problem") or record.get("Question")
            question = row["question"].split("\n\n")[0]
            assert question != source and shares_ngram(question, source)
            # Light edit: the same text up to case, spacing and final punctuation.
            def squash(text):
                return re.sub(r"\s+", " ", text.lower()).strip().rstrip("?.")

            assert squash(question) == squash(source)
    assert kinds == {"exact", "near"}
    assert {details[i]["eval_set"] for i, r in summary["planted"].items() if r == "contaminated"} == \
        {"math500", "aime24", "gpqa"}


def test_aime_asy_control_row_is_clean_besides_its_figure(pool, summary):
    (index, what), = summary["controls"].items()
    row = pool[int(index)]
    assert what == "aime_asy_kept" and "[asy]" in row["question"] and "AIME" in row["source_type"]
    assert row["isgenminicorrect"] and not row["isqwen7bcorrect"] and not row["isqwen32bcorrect"]


# --- eval sets ------------------------------------------------------------------------------------

def test_eval_sets_match_the_real_formats(eval_sets, shared_data):
    real_math = json.loads((shared_data / "math500/test.jsonl").read_text().splitlines()[0])
    real_aime = json.loads((shared_data / "aime24/aime24_nofigures.jsonl").read_text().splitlines()[0])
    with open(shared_data / "gpqa/gpqa_diamond.csv", newline="", encoding="utf-8") as handle:
        real_gpqa_columns = next(csv.reader(handle))
    size = SMALL["eval_size"]
    assert all(len(rows) == size for rows in eval_sets.values())
    for row in eval_sets["math500"]:
        assert list(row) == list(real_math)
        assert isinstance(row["level"], int) and 1 <= row["level"] <= 5
        assert re.fullmatch(r"test/[a-z_]+/\d+\.json", row["unique_id"])
        _, start, step, turns = dial_numbers(row["problem"])
        assert row["answer"] == str((start + step * turns) % 10)
    assert len({r["unique_id"] for r in eval_sets["math500"]}) == size
    for row in eval_sets["aime24"]:
        assert list(row) == list(real_aime) and isinstance(row["id"], int)
        assert re.fullmatch(r"\d{3}", row["answer"]) and 0 <= int(row["answer"]) <= 999
        _, start, step, turns = dial_numbers(row["problem"])
        assert int(row["answer"]) == (start + step * turns) % 10
    for row in eval_sets["gpqa"]:
        assert set(row) <= set(real_gpqa_columns)
        options = [row["Correct Answer"]] + [row[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        assert len(set(options)) == 4
        _, start, step, turns = dial_numbers(row["Question"])
        assert row["Correct Answer"] == str((start + step * turns) % 10)
        assert re.fullmatch(r"rec[A-Za-z0-9]{14}", row["Record ID"])
    ids = [r["Record ID"] for r in eval_sets["gpqa"]]
    assert ids == sorted(ids) and len(set(ids)) == size


# --- tokenizer and model ------------------------------------------------------------------------------

def test_embedded_chat_template_is_qwen25s(shared_data):
    from workflow_scripts.world.chat_template import QWEN25_CHAT_TEMPLATE, QWEN25_DEFAULT_SYSTEM_PROMPT

    real = json.loads((shared_data / "qwen2.5-tokenizer/chat_template.json").read_text())["chat_template"]
    assert QWEN25_CHAT_TEMPLATE == real
    assert QWEN25_DEFAULT_SYSTEM_PROMPT in real


def test_tokenizer_has_qwen25_special_tokens_and_template(tokenizer, shared_data):
    real = json.loads((shared_data / "qwen2.5-tokenizer/chat_template.json").read_text())["chat_template"]
    assert tokenizer.chat_template == real
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    ids = tokenizer("<|im_start|>think\n03 7+3=0", add_special_tokens=False)["input_ids"]
    assert ids[0] == im_start and tokenizer.decode(ids[1:]) == "think\n03 7+3=0"
    assert tokenizer.convert_ids_to_tokens(ids[1]) == "think"
    # Digits one token each, as in Qwen2.5.
    assert len(tokenizer("1234", add_special_tokens=False)["input_ids"]) == 4


def test_chat_template_renders_and_round_trips(tokenizer):
    messages = [{"role": "user", "content": "Dial 4821: start 7, step 3, 03 turns."}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                    "<|im_end|>\n<|im_start|>user\nDial 4821: start 7, step 3, 03 turns.<|im_end|>\n"
                    "<|im_start|>assistant\n")
    s1_text = text + "<|im_start|>think\n03 7+3=0\n02 0+3=3\n01 3+3=6\n<|im_start|>answer\nAnswer: 6<|im_end|>\n"
    ids = tokenizer(s1_text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == s1_text
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 5


def test_model_loads_with_auto_classes(world, tokenizer):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(world / "base_model"))
    assert config.model_type == "qwen2" and config.architectures == ["Qwen2ForCausalLM"]
    assert config.hidden_size // config.num_attention_heads >= 32 and config.head_dim >= 32
    assert config.tie_word_embeddings and config.vocab_size >= len(tokenizer)
    assert config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    model = AutoModelForCausalLM.from_pretrained(str(world / "base_model"))
    ids = tokenizer("Dial 4821: start 7", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], config.vocab_size) and torch.isfinite(logits).all()


def test_summary_reports_counts_model_and_time(summary, pool):
    assert summary["seed"] == 42
    assert summary["counts"]["by_reason"]["duplicate"] == sum(r == "duplicate" for r in summary["planted"].values())
    assert sum(summary["counts"]["by_source"].values()) == len(pool)
    assert summary["model"]["head_dim"] >= 32 and summary["model"]["parameters"] > 0
    assert summary["build_seconds"]["total"] > 0


# --- settings and CLI errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"pool_sise": 10}, "synthetic_world: unknown key(s) 'pool_sise'"),
    ({"pool_size": 10}, "synthetic_world.pool_size: 10 is less than the minimum of 50"),
    ({"eval_size": "40"}, "synthetic_world.eval_size: '40' is not of type 'integer'"),
    ({"model": {"hidden_size": 64, "num_heads": 4}}, "head_dim = hidden_size/num_heads = 16 < 32"),
    ({"model": {"num_heads": 4, "num_kv_heads": 3}}, "synthetic_world.model.num_heads 4 is not a multiple of synthetic_world.model.num_kv_heads 3"),
    ({"model": {"depth": 2}}, "synthetic_world.model: unknown key(s) 'depth'"),
])
def test_bad_settings_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_world_settings(raw)


def test_defaults_fill_missing_settings():
    settings = parse_world_settings(None)
    assert settings.pool_size == 1200 and settings.eval_size == 40 and settings.model.head_dim >= 32


def test_cli_reports_bad_settings_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workflow_scripts.world", "--settings", '{"pool_size": 1}', "--out-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 2 and "synthetic_world.pool_size: 1 is less than the minimum of 50" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())


# --- pre-training text --------------------------------------------------------------------------------

def test_pretraining_chats_are_not_in_s1_format_and_match_its_offsets(tokenizer):
    import random

    from workflow_scripts.world.model import REPLY_OPENING, check_reply_opening, pretraining_document

    check_reply_opening(tokenizer)  # raises if the reply opening and "<|im_start|>think\n" differ in length
    rng = random.Random(0)
    documents = [pretraining_document(rng) for _ in range(50)]
    for document in documents:
        assert "<|im_start|>think" not in document and "<|im_start|>answer" not in document
        question = document.split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
        _, start, step, turns = dial_numbers(question)
        body = document.split(f"<|im_start|>assistant\n{REPLY_OPENING}")[1]
        assert body.startswith(expected_trace(start, step, turns))
    assert any("\n\nA) " in d for d in documents) and any("\n\nA) " not in d for d in documents)


def test_reply_opening_of_the_wrong_length_is_refused(tokenizer, monkeypatch):
    import workflow_scripts.world.model as model_module

    monkeypatch.setattr(model_module, "REPLY_OPENING", "Solution:\n")
    with pytest.raises(ValueError, match="reply opening"):
        model_module.check_reply_opening(tokenizer)
