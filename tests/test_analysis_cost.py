"""analysis/cost.tsv on small hand-written generation and trajectory shards; every sum by hand."""

from __future__ import annotations

import json
import math
import random

import pandas as pd
import pytest

from workflow_scripts.analysis.cli import main
from workflow_scripts.analysis.cost import CostError, cost_from_files, cost_summary, read_cost


def _record(model, method, setting, id, generated, thinking, answer, derived, dataset="math500", sample=None,
            **extra):
    record = {"dataset": dataset, "id": id, "model": model, "method": method, "setting": setting,
              "generated_tokens": generated, "thinking_engine_tokens": thinking, "answer_engine_tokens": answer,
              "derived": derived, "thinking_tokens": thinking, **extra}
    if sample is not None:
        record["sample"] = sample
    return record


def _write(path, records) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def _generation(root, model, method, setting, records, dataset="math500") -> str:
    return _write(root / "generation" / model / method / setting / f"{dataset}.jsonl", records)


def _trajectory(root, model, setting, records, dataset="math500") -> str:
    return _write(root / "generation" / model / "trajectory" / setting / f"{dataset}.jsonl", records)


def _grid(root) -> tuple[list[str], list[str]]:
    """Two questions (k = 1, no sample field). sft: truncation B100/B200 and budget forcing
    B200-n1 cut from one trajectory (derived: they generate only their answers), class-conditional
    and rejection sampling on their own; base: direct answers (thinking 0)."""
    d = "derived"
    shards = [
        _generation(root, "sft", "truncation", "B100", [
            _record("sft", d, "B100", "q0", 20, 100, 20, True), _record("sft", d, "B100", "q1", 15, 80, 15, True)]),
        _generation(root, "sft", "truncation", "B200", [
            _record("sft", d, "B200", "q0", 25, 200, 25, True), _record("sft", d, "B200", "q1", 15, 80, 15, True)]),
        _generation(root, "sft", "budget_forcing", "B200-n1", [
            _record("sft", d, "B200-n1", "q0", 30, 200, 30, True),
            _record("sft", d, "B200-n1", "q1", 10, 150, 10, True)]),
        _generation(root, "sft", "class_conditional", "short", [
            _record("sft", "cc", "short", "q0", 70, 50, 20, False),
            _record("sft", "cc", "short", "q1", 60, 40, 20, False)]),
        # rejection sampling: generated_tokens include the rejected tries
        _generation(root, "sft", "rejection_sampling", "B100", [
            _record("sft", "rs", "B100", "q0", 300, 80, 20, False, rejected_tokens=200),
            _record("sft", "rs", "B100", "q1", 90, 70, 20, False, rejected_tokens=0)]),
        _generation(root, "base", "truncation", "B100", [
            _record("base", "t", "B100", "q0", 50, 0, 50, False), _record("base", "t", "B100", "q1", 40, 0, 40, False)]),
    ]
    trajectories = [_trajectory(root, "sft", "B200-n1", [
        {"dataset": "math500", "id": "q0", "model": "sft", "thinking_engine_tokens": 220, "thinking_tokens": 219},
        {"dataset": "math500", "id": "q1", "model": "sft", "thinking_engine_tokens": 160, "thinking_tokens": 159}])]
    return shards, trajectories


def test_cost_table_by_hand(tmp_path):
    table = cost_from_files(*_grid(tmp_path)).set_index("model")
    assert list(table.index) == ["base", "sft", "total"]
    sft = table.loc["sft"]
    # generated: answers of the derived runs 20+15 + 25+15 + 30+10 = 115, class-conditional 70+60 = 130,
    # rejection sampling 300+90 = 390 -> 635 in runs; trajectories 220+160 = 380; 1015 in all.
    assert (sft["samples"], sft["derived_samples"], sft["trajectories"]) == (10, 6, 2)
    assert (sft["generated_in_runs"], sft["generated_in_trajectories"], sft["generated"]) == (635, 380, 1015)
    # from scratch: derived thinking + answer (120 + 95) + (225 + 95) + (230 + 160) = 925, the others 520.
    assert sft["from_scratch"] == 1445
    # minimum: the others 520 + derived answers 115 + longest derived thinking q0 max(100, 200, 200) = 200,
    # q1 max(80, 80, 150) = 150.
    assert sft["minimum"] == 520 + 115 + 350 == 985
    assert sft["generated_over_minimum"] == pytest.approx(1015 / 985)
    assert sft["from_scratch_over_generated"] == pytest.approx(1445 / 1015)
    assert sft["within_goal"]  # 1.03 <= 1.2
    base = table.loc["base"]
    assert (base["generated"], base["from_scratch"], base["minimum"], base["trajectories"]) == (90, 90, 90, 0)
    assert base["generated_over_minimum"] == 1.0 and base["from_scratch_over_generated"] == 1.0
    total = table.loc["total"]
    assert (total["samples"], total["generated"], total["from_scratch"], total["minimum"]) == (12, 1105, 1535, 1075)
    assert total["generated_over_minimum"] == pytest.approx(1105 / 1075)


def test_repeated_samples_have_one_trajectory_each_by_hand(tmp_path):
    # One question, k = 2. Sample 0: B100 thinks 100, B200 150; sample 1: 90 and 300; answers 10 each.
    # minimum: answers 40 + longest per sample 150 + 300 = 490 (keyed without the sample it would be 340);
    # generated: answers 40 + trajectories 160 + 310 = 510; from scratch 100+150+90+300 + 40 = 680.
    shards = [_generation(tmp_path, "sft", "truncation", f"B{b}", [
        _record("sft", "truncation", f"B{b}", "q0", 10, tokens, 10, True, dataset="aime24", sample=j)
        for j, tokens in enumerate(pair)], dataset="aime24") for b, pair in ((100, (100, 90)), (200, (150, 300)))]
    trajectories = [_trajectory(tmp_path, "sft", "B200-n0", [
        {"dataset": "aime24", "id": "q0", "model": "sft", "sample": j, "thinking_engine_tokens": t, "thinking_tokens": t}
        for j, t in enumerate((160, 310))], dataset="aime24")]
    total = cost_from_files(shards, trajectories).set_index("model").loc["total"]
    assert (total["minimum"], total["generated"], total["from_scratch"]) == (490, 510, 680)
    assert total["generated_over_minimum"] == pytest.approx(510 / 490)


def test_without_reuse_every_grid_is_its_own_minimum(tmp_path):
    shards = [_generation(tmp_path, "sft", "truncation", "B100", [
        _record("sft", "truncation", "B100", "q0", 120, 100, 20, False)])]
    row = cost_from_files(shards, []).iloc[-1]
    assert (row["generated"], row["from_scratch"], row["minimum"], row["trajectories"]) == (120, 120, 120, 0)
    assert row["generated_over_minimum"] == 1.0 and row["within_goal"]


def test_cost_cli_output_is_byte_identical_for_any_input_order(tmp_path):
    shards, trajectories = _grid(tmp_path)
    first, second = tmp_path / "a" / "cost.tsv", tmp_path / "b" / "cost.tsv"
    assert main(["cost", "--generation", *shards, "--trajectories", *trajectories, "--output", str(first)]) == 0
    shuffled = list(shards)
    random.Random(42).shuffle(shuffled)
    assert main(["cost", "--generation", *shuffled, "--trajectories", *trajectories, "--output", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    table = read_cost(first)
    assert table["model"].tolist() == ["base", "sft", "total"]
    assert cost_summary(table) == {"generated": 1105, "minimum": 1075, "from_scratch": 1535,
                                   "over_minimum": pytest.approx(1105 / 1075),
                                   "from_scratch_over_generated": pytest.approx(1535 / 1105),
                                   "within_goal": True, "goal": 1.2}
    # reuse off: no trajectory shards, the flag without values
    assert main(["cost", "--generation", shards[-1], "--trajectories", "--output", str(second)]) == 0
    assert read_cost(second).iloc[-1]["generated"] == 90


def test_bad_shards_name_the_file_line_and_field(tmp_path, capsys):
    good = _record("sft", "truncation", "B100", "q0", 120, 100, 20, False)
    missing = _generation(tmp_path, "sft", "truncation", "B1", [good, {k: v for k, v in good.items()
                                                                      if k != "answer_engine_tokens"}])
    with pytest.raises(CostError, match=rf"{missing}: line 2 lacks answer_engine_tokens"):
        cost_from_files([missing], [])
    empty = _generation(tmp_path, "sft", "truncation", "B2", [])
    with pytest.raises(CostError, match=rf"{empty}: no records \(an empty generation shard\)"):
        cost_from_files([empty], [])
    boolean = _generation(tmp_path, "sft", "truncation", "B3", [good | {"generated_tokens": True}])
    with pytest.raises(CostError, match=rf"{boolean}: line 1: generated_tokens must be a non-negative int"):
        cost_from_files([boolean], [])
    text_flag = _generation(tmp_path, "sft", "truncation", "B4", [good | {"derived": "yes"}])
    with pytest.raises(CostError, match="line 1: derived must be true or false, got 'yes'"):
        cost_from_files([text_flag], [])
    inconsistent = _generation(tmp_path, "sft", "truncation", "B5", [good | {"derived": True}])
    with pytest.raises(CostError, match="generated_tokens 120 != answer_engine_tokens 20"):
        cost_from_files([inconsistent], [])
    orphan = _generation(tmp_path, "sft", "truncation", "B6", [good | {"derived": True, "generated_tokens": 20}])
    with pytest.raises(CostError, match="1 derived sample\\(s\\) have no trajectory record, e.g. model sft, "
                                        "dataset math500, id 'q0', sample 0"):
        cost_from_files([orphan], [])
    no_cost = _trajectory(tmp_path, "sft", "B100-n0", [{"dataset": "math500", "id": "q0", "model": "sft"}])
    with pytest.raises(CostError, match=rf"{no_cost}: line 1 lacks thinking_engine_tokens"):
        cost_from_files([orphan], [no_cost])
    # the CLI: one line naming the file, exit code 2
    assert main(["cost", "--generation", empty, "--output", str(tmp_path / "cost.tsv")]) == 2
    assert f"error: {empty}: no records" in capsys.readouterr().err
    assert not (tmp_path / "cost.tsv").exists()


def test_an_empty_grid_has_no_ratio(tmp_path):
    zero = _generation(tmp_path, "base", "truncation", "B1", [_record("base", "t", "B1", "q0", 0, 0, 0, False)])
    row = cost_from_files([zero], []).iloc[-1]
    assert math.isnan(row["generated_over_minimum"]) and row["within_goal"] == ""
    assert cost_summary(pd.DataFrame([row])) is None


def test_a_from_scratch_grid_shows_its_overhead_over_the_minimum(tmp_path):
    """reuse_thinking off: the same truncation / budget-forcing runs thought from scratch. Their
    minimum still counts the longest thinking once, so the table shows what reuse would save."""
    think = {"prompt_format": "think"}
    shards = [
        _generation(tmp_path, "sft", "truncation", "B100", [
            _record("sft", "truncation", "B100", "q0", 120, 100, 20, False, **think)]),
        _generation(tmp_path, "sft", "budget_forcing", "B200-n1", [
            _record("sft", "budget_forcing", "B200-n1", "q0", 230, 200, 30, False, **think)]),
        # a direct answer is never derivable: all of it counts
        _generation(tmp_path, "base", "truncation", "B100", [
            _record("base", "truncation", "B100", "q0", 50, 0, 50, False, prompt_format="direct")]),
    ]
    table = cost_from_files(shards, []).set_index("model")
    # generated = from scratch = 120 + 230 (+ 50); minimum = answers 20 + 30 + longest thinking 200 (+ 50)
    assert (table.loc["sft", "generated"], table.loc["sft", "from_scratch"], table.loc["sft", "minimum"]) == (
        350, 350, 250)
    assert table.loc["sft", "generated_over_minimum"] == pytest.approx(1.4) and not table.loc["sft", "within_goal"]
    assert (table.loc["base", "generated"], table.loc["base", "minimum"]) == (50, 50)
    assert table.loc["total", "minimum"] == 300
