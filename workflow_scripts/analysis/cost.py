"""What the generation grid cost in engine tokens (``analysis/cost.tsv``): what it generated,
what it would have generated with every run thinking from scratch, and its minimum.

Read from the generation shards (``generation/<model>/<method>/<setting>/<dataset>.jsonl``)
and the trajectory shards of ``generation.reuse_thinking``
(``generation/<model>/trajectory/<setting>/<dataset>.jsonl``). Every generation sample records
``generated_tokens`` (engine tokens its job generated for it; rejection sampling includes the
rejected tries), ``thinking_engine_tokens`` (its thinking rounds as a from-scratch run would
generate them; 0 for direct answers), ``answer_engine_tokens`` (its answer phase; the whole
response of a direct answer) and ``derived`` (true when its thinking was cut from its model's
trajectory: it generated only its answer, so ``generated_tokens`` = ``answer_engine_tokens``).
Every trajectory record (one per model, dataset, question and repeated sample) records
``thinking_engine_tokens``, what generating the shared thinking cost. A missing ``sample``
is sample 0 (one greedy sample per question).

Columns, one row per model and a ``total`` row:

* **samples**, **derived_samples**: generation samples read, and those cut from a trajectory;
  **trajectories**: trajectory records read.
* **generated_in_runs** = sum of the samples' ``generated_tokens``; **generated_in_trajectories**
  = sum of the trajectories' ``thinking_engine_tokens``; **generated** = their sum: what the
  grid generated.
* **from_scratch** = sum over samples of ``thinking_engine_tokens + answer_engine_tokens``
  for a derived sample and ``generated_tokens`` otherwise: s1's procedure, every run thinking
  on its own.
* **minimum** = the other samples' ``generated_tokens`` + the derivable samples'
  ``answer_engine_tokens`` + per (model, dataset, question, sample) the largest
  ``thinking_engine_tokens`` among its derivable samples: the longest such run's thinking,
  of which every other one's is a prefix, generated once. Derivable: derived, or a
  thinking-format truncation / budget-forcing sample thought from scratch
  (``generation.reuse_thinking: false``), so a from-scratch grid shows its overhead too.
* **generated_over_minimum** = generated / minimum (1.0 is the least possible; the goal is
  at most ``GOAL_OVER_MINIMUM``, 1.2, see **within_goal**); **from_scratch_over_generated** =
  from_scratch / generated: how many times more a from-scratch grid generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from workflow_scripts.config.grid import DERIVABLE_METHODS
from workflow_scripts.errors import UserError
from workflow_scripts.io import read_jsonl

GOAL_OVER_MINIMUM = 1.2
TOTAL = "total"
TOKEN_FIELDS = ("generated_tokens", "thinking_engine_tokens", "answer_engine_tokens")
SAMPLE_FIELDS = ("dataset", "id", "model") + TOKEN_FIELDS + ("derived",)
TRAJECTORY_FIELDS = ("dataset", "id", "model", "thinking_engine_tokens")
QUESTION_KEYS = ["model", "dataset", "id", "sample"]
COLUMNS = ["model", "samples", "derived_samples", "trajectories", "generated_in_runs", "generated_in_trajectories",
           "generated", "from_scratch", "minimum", "generated_over_minimum", "from_scratch_over_generated",
           "within_goal"]


class CostError(UserError):
    """A shard that the cost table cannot use; the message names the file, line and field."""


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _sample_index(path, number: int, row: dict) -> int:
    sample = row.get("sample", 0)
    if sample is None:
        return 0
    if not _count(sample):
        raise CostError(f"{path}: line {number}: sample must be a non-negative int, got {sample!r}")
    return sample


def _read(path: str | Path, fields: tuple[str, ...], counts: tuple[str, ...], kind: str) -> list[dict]:
    rows = read_jsonl(path)
    if not rows:
        raise CostError(f"{path}: no records (an empty {kind} shard)")
    records = []
    for number, row in enumerate(rows, 1):
        missing = [f for f in fields if f not in row]
        if missing:
            raise CostError(f"{path}: line {number} lacks {', '.join(missing)} (written before the token "
                            "accounting of issue 12?)")
        bad = [f for f in counts if not _count(row[f])]
        if bad:
            raise CostError(f"{path}: line {number}: {bad[0]} must be a non-negative int, got {row[bad[0]]!r}")
        records.append({"model": str(row["model"]), "dataset": str(row["dataset"]), "id": str(row["id"]),
                        "sample": _sample_index(path, number, row), **{f: row[f] for f in counts},
                        **({"derived": row["derived"],
                            "derivable": bool(row["derived"]) or (row.get("method") in DERIVABLE_METHODS
                                                                  and row.get("prompt_format") == "think")}
                           if "derived" in fields else {})})
    return records


def read_samples(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every generation sample's token accounting (see the module docstring)."""
    records = []
    for path in paths:
        for number, record in enumerate(_read(path, SAMPLE_FIELDS, TOKEN_FIELDS, "generation"), 1):
            if not isinstance(record["derived"], bool):
                raise CostError(f"{path}: line {number}: derived must be true or false, got {record['derived']!r}")
            if record["derived"] and record["generated_tokens"] != record["answer_engine_tokens"]:
                raise CostError(f"{path}: line {number}: a derived sample generates only its answer, but "
                                f"generated_tokens {record['generated_tokens']} != answer_engine_tokens "
                                f"{record['answer_engine_tokens']}")
            records.append(record)
    if not records:
        raise CostError("no generation shards given")
    return pd.DataFrame(records, columns=QUESTION_KEYS + list(TOKEN_FIELDS) + ["derived", "derivable"])


def read_trajectories(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every trajectory record's cost; an empty table when reuse is off (no paths)."""
    records = [record for path in paths
               for record in _read(path, TRAJECTORY_FIELDS, ("thinking_engine_tokens",), "trajectory")]
    return pd.DataFrame(records, columns=QUESTION_KEYS + ["thinking_engine_tokens"])


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _row(model: str, samples: pd.DataFrame, trajectories: pd.DataFrame) -> dict:
    derived = samples["derived"].astype(bool)
    in_runs = int(samples["generated_tokens"].sum())
    in_trajectories = int(trajectories["thinking_engine_tokens"].sum())
    generated = in_runs + in_trajectories
    from_scratch = int((samples["thinking_engine_tokens"] + samples["answer_engine_tokens"])[derived].sum()
                       + samples["generated_tokens"][~derived].sum())
    derivable = samples["derivable"].astype(bool) if "derivable" in samples else derived
    longest = samples[derivable].groupby(QUESTION_KEYS)["thinking_engine_tokens"].max()
    minimum = int(samples["generated_tokens"][~derivable].sum() + samples["answer_engine_tokens"][derivable].sum()
                  + longest.sum())
    over_minimum = _ratio(generated, minimum)
    return {"model": model, "samples": len(samples), "derived_samples": int(derived.sum()),
            "trajectories": len(trajectories), "generated_in_runs": in_runs,
            "generated_in_trajectories": in_trajectories, "generated": generated, "from_scratch": from_scratch,
            "minimum": minimum, "generated_over_minimum": over_minimum,
            "from_scratch_over_generated": _ratio(from_scratch, generated),
            "within_goal": bool(over_minimum <= GOAL_OVER_MINIMUM) if minimum else ""}


def cost_table(samples: pd.DataFrame, trajectories: pd.DataFrame) -> pd.DataFrame:
    """One row per model (sorted) and the ``total`` row; see the module docstring.
    Every derived sample must have its trajectory: else the grid's cost is under-counted."""
    derived = samples[samples["derived"].astype(bool)]
    if len(derived):
        have = set(map(tuple, trajectories[QUESTION_KEYS].itertuples(index=False)))
        orphans = [key for key in map(tuple, derived[QUESTION_KEYS].itertuples(index=False)) if key not in have]
        if orphans:
            model, dataset, question, sample = orphans[0]
            raise CostError(f"{len(orphans)} derived sample(s) have no trajectory record, e.g. model {model}, "
                            f"dataset {dataset}, id {question!r}, sample {sample} (are the trajectory shards "
                            "inputs of the cost rule?)")
    rows = [_row(model, samples[samples["model"] == model], trajectories[trajectories["model"] == model])
            for model in sorted(set(samples["model"]) | set(trajectories["model"]))]
    rows.append(_row(TOTAL, samples, trajectories))
    return pd.DataFrame(rows, columns=COLUMNS)


def cost_from_files(generation: Iterable[str | Path], trajectories: Iterable[str | Path]) -> pd.DataFrame:
    return cost_table(read_samples(generation), read_trajectories(trajectories))


def read_cost(path: str | Path) -> pd.DataFrame:
    """cost.tsv as written (models as text)."""
    table = pd.read_csv(path, sep="\t", dtype={"model": str, "within_goal": str}, keep_default_na=False,
                        na_values={c: [""] for c in ("generated_over_minimum", "from_scratch_over_generated")})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise CostError(f"{path}: not a cost table, missing column(s) {', '.join(missing)}")
    return table


def cost_summary(table: pd.DataFrame | None) -> dict | None:
    """The total row's numbers for the report's sentence; None without a table or tokens."""
    if table is None:
        return None
    total = table[table["model"] == TOTAL]
    if total.empty or not int(total["generated"].iloc[0]):
        return None
    row = total.iloc[0]
    generated, minimum, from_scratch = (int(row[c]) for c in ("generated", "minimum", "from_scratch"))
    # ratios from the exact counts (the table's are rounded to 6 digits)
    return {"generated": generated, "minimum": minimum, "from_scratch": from_scratch,
            "over_minimum": _ratio(generated, minimum), "from_scratch_over_generated": from_scratch / generated,
            "within_goal": bool(minimum) and generated <= GOAL_OVER_MINIMUM * minimum, "goal": GOAL_OVER_MINIMUM}
