"""Difficulty filter: drop questions Qwen2.5-7B-Instruct or Qwen2.5-32B-Instruct solved."""

from __future__ import annotations


def qwen_solved(row) -> tuple[str, str] | None:
    solved = [name for name, flag in (("Qwen2.5-7B", row["qwen7b_correct"]), ("Qwen2.5-32B", row["qwen32b_correct"])) if flag]
    if solved:
        return "qwen_solved", f"solved by {' and '.join(solved)}"
    return None
