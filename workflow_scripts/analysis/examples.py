"""Representative samples per (dataset, model/method), chosen reproducibly.

Kinds, ``per_kind`` samples each when the method has them: ``correct``, ``wrong``,
``truncated`` (thinking cut at its cap) and ``with_waits`` (budget forcing inserted the
forcing string). The choice is a ``random.Random`` seeded with ``"<seed>/<dataset>/<model>/<method>/<kind>"``
over the candidates sorted by (setting, id), so the same shards always give the same
examples. Each example lists its metadata and the shard path relative to the results folder.
"""

from __future__ import annotations

import random

import pandas as pd

from workflow_scripts.analysis.compute import PROMPT_FORMATS, compute_tokens
from workflow_scripts.analysis.metrics import numeric_budget

KINDS = ("correct", "wrong", "truncated", "with_waits")
EXCERPT_HEAD = 600
EXCERPT_TAIL = 400


def _candidates(group: pd.DataFrame, kind: str) -> pd.DataFrame:
    if kind == "correct":
        return group[group["correct"].astype(bool)]
    if kind == "wrong":
        return group[~group["correct"].astype(bool)]
    if kind == "truncated":
        return group[group["cap_hit"].astype(bool)]
    return group[group["waits_inserted"] > 0]


def choose_examples(samples: pd.DataFrame, per_kind: int = 1, seed: int = 42) -> pd.DataFrame:
    """Rows of ``samples`` picked as examples, with a ``kind`` column; a sample is used once."""
    picked = []
    for (dataset, model, method), group in samples.groupby(["dataset", "model", "method"], sort=True):
        group = group.sort_values(["setting", "id"], key=lambda c: c.astype(str))
        used: set[tuple] = set()
        for kind in KINDS:
            pool = _candidates(group, kind)
            pool = pool[[(s, i) not in used for s, i in zip(pool["setting"], pool["id"])]]
            if pool.empty:
                continue
            rng = random.Random(f"{seed}/{dataset}/{model}/{method}/{kind}")
            rows = rng.sample(range(len(pool)), min(per_kind, len(pool)))
            for position in sorted(rows):
                row = pool.iloc[position]
                used.add((row["setting"], row["id"]))
                picked.append({**row.to_dict(), "kind": kind})
    return pd.DataFrame(picked)


def _excerpt(text: str) -> str:
    text = text or ""
    if len(text) <= EXCERPT_HEAD + EXCERPT_TAIL + 20:
        return text
    omitted = len(text) - EXCERPT_HEAD - EXCERPT_TAIL
    return f"{text[:EXCERPT_HEAD]}\n[... {omitted} characters omitted ...]\n{text[-EXCERPT_TAIL:]}"


def _fence(text: str) -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}text\n{text}\n{fence}"


def examples_markdown(examples: pd.DataFrame, seed: int = 42) -> str:
    """The examples as Markdown: one section per dataset, one block per example."""
    lines = ["# Example traces", "",
             f"Chosen reproducibly (seed {seed}; kinds: {', '.join(KINDS)}); thinking and answers are excerpted, "
             "the full sample is in the shard named in each table (relative to the results folder).", ""]
    if examples.empty:
        return "\n".join(lines + ["No graded samples were available.", ""])
    examples = examples.assign(compute_tokens=compute_tokens(examples))
    for dataset, by_dataset in examples.groupby("dataset", sort=True):
        lines += [f"## {dataset}", ""]
        if dataset == "gpqa":
            lines += ["> GPQA's authors ask that its questions not be published in plain text online; "
                      "do not publish these traces.", ""]
        for (model, method), group in by_dataset.groupby(["model", "method"], sort=True):
            lines += [f"### {model} / {method}", ""]
            for row in group.to_dict("records"):
                budget = numeric_budget(row.get("budget"))
                lines += [
                    f"#### {row['kind']}: id {row['id']} ({row['setting']})", "",
                    "| dataset | model | method | setting | budget | correct | extracted | gold | compute tokens "
                    "| waits | cap hit | shard |",
                    "|---|---|---|---|---|---|---|---|---|---|---|---|",
                    f"| {dataset} | {model} | {method} | {row['setting']} | {budget if budget is not None else row.get('budget')} "
                    f"| {bool(row['correct'])} | {_cell(row.get('extracted'))} | {_cell(row.get('gold_letter') or row.get('gold'))} "
                    f"| {int(row['compute_tokens'])} {PROMPT_FORMATS[row['prompt_format']]} "
                    f"| {int(row.get('waits_inserted') or 0)} | {bool(row.get('cap_hit'))} | `{row['shard']}` |",
                    "",
                    *_thinking_block(row),
                    "Answer:" if row["prompt_format"] == "think" else "Response (excerpt):", "",
                    _fence(_excerpt(row.get("answer_text") or "")), "",
                ]
    return "\n".join(lines)


def _thinking_block(row: dict) -> list[str]:
    if row["prompt_format"] == "direct":
        return ["No thinking phase: the model answered directly; its compute tokens are the response's.", ""]
    return ["Thinking (excerpt):", "", _fence(_excerpt(row.get("thinking_text") or "")), ""]


def _cell(value) -> str:
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text[:60] + ("..." if len(text) > 60 else "")
