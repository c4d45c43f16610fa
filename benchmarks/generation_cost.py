"""Predicted generated tokens and GPU-hours of the real evaluation grid, with and without
``generation.reuse_thinking``, for one greedy sample (k = 1) and for repeated samples.

A DESK ESTIMATE, NOT A MEASUREMENT: the token counts follow the workflow's rules on the grid of
``config.yaml`` (``workflow_scripts.config.evaluation_grid``: 100 MATH500 + 30 AIME24 + 100 GPQA
questions; truncation 500..8000 + unbounded; budget forcing with the n of config.yaml; every
registry method; models sft and base), but the thinking lengths are ASSUMPTIONS (``SCENARIOS``:
a first natural end after ``first`` tokens, then ``after_wait`` more after each forcing string,
the same for every question of a dataset), and the throughput is CITED (``THROUGHPUT``), not
measured here. The first real run's ``analysis/cost.tsv`` replaces the token counts with
measured ones, and its job.json wall times replace the GPU-hours.

Per method, one sample's thinking (engine tokens), with F = first, W = after_wait, L = the
context's thinking limit, cap(B) = min(B, L):
    truncation B: min(F, cap(B)); budget forcing B, n: min(F + n (W + 1), cap(B));
    class-conditional: short 0.5 F, long 1.5 F (capped at L); token-/step-conditional without
    forcing: F (the instruction is not trained); with forcing: min(F, N) (N tokens, or steps x
    tokens_per_step); rejection sampling B: one try of F when F <= B, else max_tries tries of
    B + 1 tokens; parallel k: k samples of F (the base model: k responses).
    Every answer phase: ``ANSWER_TOKENS``; the base model's direct response: ``BASE_RESPONSE_TOKENS``.
With reuse, the derived runs (the thinking model's truncation and budget forcing) generate
only their answers, and one trajectory per question and sample is generated: the largest
budget with the largest n (``trajectory_plan``); their answer phases re-read prompt + thinking
as prefill, counted at ``PREFILL_THROUGHPUT``.
Repeated samples (``generation.samples`` k): every run but parallel scaling and rejection
sampling (which draw their own samples) writes k samples per question, so its tokens, and the
trajectories, are x k.

    python benchmarks/generation_cost.py                  # RESULTS.md's table (k = 1 and 4) and its JSON
    python benchmarks/generation_cost.py --samples 1 10 --output /tmp/cost.json

The JSON (``RESULTS_PATH``, ``benchmarks/generation_cost_results.json`` by default) is what the research
report reads as its prediction for the full run (a declared input of the research_report rule).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workflow_scripts.config import derives_thinking, evaluation_grid, load_config, model_entry, trajectory_plan
from workflow_scripts.decoding.budgets import thinking_limit

REPO = Path(__file__).resolve().parents[1]
# Mean prompt tokens of the evaluated rows (Qwen2.5 tokenizer, chat template, think format;
# measured for the earlier estimate on branch issue-12).
PROMPT_TOKENS = {"math500": 93, "aime24": 137, "gpqa": 233}
# Assumed thinking of the SFT 3B model (tokens): (first natural end, continuation per forcing string).
SCENARIOS = {
    "shorter": {"math500": (2000, 500), "aime24": (6000, 1000), "gpqa": (3000, 700)},
    "longer": {"math500": (4000, 1000), "aime24": (12000, 2000), "gpqa": (6000, 1500)},
    "fills the context": {"math500": (10 ** 6, 0), "aime24": (10 ** 6, 0), "gpqa": (10 ** 6, 0)},
}
ANSWER_TOKENS = 300  # mean answer phase (cap: answer_max_tokens, 1024)
BASE_RESPONSE_TOKENS = 800
CLASS_CONDITIONAL = {"short": 0.5, "long": 1.5}  # x the first natural end
TRANSITION = 7  # "\n<|im_start|>answer\nFinal Answer:" with the Qwen2.5 tokenizer
# Cited throughput, output tokens/s on ONE H100-80GB (SXM, GCP a3-highgpu-1g), vLLM 0.30.0,
# Qwen/Qwen3-8B bf16, max_model_len 16384 (tgarg01/silybench-data, derived/csv/capacity.csv and
# derived/runs/20260924T125045Z_h100-80gbx1_qwen3-8b_bf16.json):
#   decode-128-1024 (128 prompt + 1,024 output tokens), at its KV-cache-bound 327 sequences: 13,322;
#   balanced-2048-2048 (2,048 + 2,048: contexts up to 4K), saturated at 128-512 concurrent: ~3,900.
# Thinking contexts are 1-32K tokens, so the second is the closer rate for long thinking. Qwen2.5-3B
# stores a quarter of Qwen3-8B's KV cache per token (2 vs 8 KV heads; 36 layers, head dim 128
# both: 36 KB vs 144 KB) and has under half its weights, so both rates are conservative for it.
THROUGHPUT = {"short context": 13_322.0, "4K context": 3_901.0}
PREFILL_THROUGHPUT = 10 * THROUGHPUT["short context"]  # assumed; only the derived answers re-read a prefix
DEFAULT_SAMPLES = (1, 4)  # 4: the recommended repeated-sample setting (temperature 0.6, top-p 0.95)
RESULTS_PATH = REPO / "benchmarks" / "generation_cost_results.json"
THROUGHPUT_SOURCE = ("vLLM 0.30.0, Qwen/Qwen3-8B bf16 on one NVIDIA H100-80GB (GCP a3-highgpu-1g): tgarg01/silybench-data, "
                     "derived/csv/capacity.csv, run 20260924T125045Z_h100-80gbx1_qwen3-8b_bf16")


def budget_forcing_thinking(first: int, after_wait: int, n: int, cap: int) -> int:
    """Engine tokens of a budget-forcing sample's thinking: F, then W more after each of n
    forcing strings (1 token each, spliced in, not generated; counted as a stop id), cut at cap."""
    return min(first + n * (after_wait + 1), cap)


def sample_thinking(spec, config: dict, first: int, after_wait: int, cap) -> int:
    """One sample's thinking engine tokens (see the module docstring)."""
    generation = config["generation"]
    if spec.method == "truncation":
        return min(first, cap(spec.budget))
    if spec.method == "budget_forcing":
        return budget_forcing_thinking(first, after_wait, spec.n, cap(spec.budget))
    if spec.method == "class_conditional":
        return min(int(first * CLASS_CONDITIONAL[spec.prompt]), cap("unbounded"))
    if spec.method in ("token_conditional", "step_conditional"):
        return min(first, cap("unbounded"))
    if spec.method == "token_conditional_forcing":
        return min(first, cap(spec.params["count"]))
    if spec.method == "step_conditional_forcing":
        return min(first, cap(spec.params["count"] * generation[spec.method]["tokens_per_step"]))
    if spec.method == "rejection_sampling":
        budget = cap(spec.budget)
        return first if first <= budget else generation[spec.method]["max_tries"] * (budget + 1)
    if spec.method == "parallel":
        return spec.params["k"] * min(first, cap("unbounded"))
    raise ValueError(f"no cost rule for method {spec.method!r}")


def thinking_cap(generation: dict, prompt: int):
    """cap(budget): the thinking limit of a sample with ``prompt`` prompt tokens (the workflow's rule)."""
    def cap(budget):
        return thinking_limit(budget, prompt_len=prompt, max_model_len=generation["engine"]["max_model_len"],
                              answer_reserve=generation["answer_reserve_tokens"], transition_len=TRANSITION)
    return cap


def predict(config: dict, lengths: dict, samples: int, questions: dict[str, int]) -> dict:
    """Generated tokens of the grid from scratch and with reuse, and the prefill reuse adds."""
    generation = config["generation"]
    grid = evaluation_grid(config)
    plan = trajectory_plan(config | {"generation": generation | {"reuse_thinking": True}}, grid)
    scratch = reuse = prefill = derivable_scratch = derivable_reuse = 0
    for dataset, count in questions.items():
        first, after_wait = lengths[dataset]
        prompt = PROMPT_TOKENS[dataset]
        cap = thinking_cap(generation, prompt)
        for trajectory in plan.values():  # one per question and sample, generated once with reuse
            shared = samples * count * budget_forcing_thinking(first, after_wait, trajectory.n, cap(trajectory.budget))
            reuse, derivable_reuse = reuse + shared, derivable_reuse + shared
        for spec in grid:
            k = 1 if spec.method in ("parallel", "rejection_sampling") else samples
            if model_entry(config, spec.model).format == "direct":
                votes = spec.params["k"] if spec.method == "parallel" else 1
                tokens = votes * BASE_RESPONSE_TOKENS
                scratch, reuse = scratch + k * count * tokens, reuse + k * count * tokens
                continue
            thinking = sample_thinking(spec, config, first, after_wait, cap)
            answers = (spec.params["k"] if spec.method == "parallel" else 1) * ANSWER_TOKENS
            scratch += k * count * (thinking + answers)
            if derives_thinking(config | {"generation": generation | {"reuse_thinking": True}}, spec):
                reuse += k * count * answers
                prefill += k * count * (prompt + thinking)
                derivable_scratch += k * count * (thinking + answers)
                derivable_reuse += k * count * answers
            else:
                reuse += k * count * (thinking + answers)
    return {"samples": samples, "tokens_from_scratch": scratch, "tokens_reuse": reuse, "prefill_reuse": prefill,
            "derivable_tokens_from_scratch": derivable_scratch, "derivable_tokens_reuse": derivable_reuse}


def gpu_hours(tokens: int, rate: float, prefill: int = 0) -> float:
    return (tokens / rate + prefill / PREFILL_THROUGHPUT) / 3600


def prediction_rows(config: dict, samples, questions: dict[str, int]) -> list[dict]:
    """One row per (thinking scenario, samples k): tokens from scratch and with reuse, and the
    H100-hours at each cited throughput."""
    rows = []
    for name, lengths in SCENARIOS.items():
        for k in samples:
            row = {"scenario": name, **predict(config, lengths, k, questions)}
            for label, rate in THROUGHPUT.items():
                row[f"gpu_hours_from_scratch ({label})"] = gpu_hours(row["tokens_from_scratch"], rate)
                row[f"gpu_hours_reuse ({label})"] = gpu_hours(row["tokens_reuse"], rate, row["prefill_reuse"])
            rows.append(row)
    return rows


def results_document(config: dict, samples, questions: dict[str, int]) -> dict:
    """The machine-readable result: what was assumed, what was cited, every row."""
    return {"kind": "desk estimate, not a measurement", "gpu": "NVIDIA H100-80GB", "questions": questions,
            "thinking_scenarios": {name: {dataset: {"first_natural_end": first, "after_each_wait": wait}
                                          for dataset, (first, wait) in lengths.items()}
                                   for name, lengths in SCENARIOS.items()},
            "answer_tokens": ANSWER_TOKENS, "base_response_tokens": BASE_RESPONSE_TOKENS,
            "throughput_tokens_per_s": THROUGHPUT, "throughput_source": THROUGHPUT_SOURCE,
            "prefill_tokens_per_s": PREFILL_THROUGHPUT, "rows": prediction_rows(config, samples, questions)}


def eval_questions(config: dict) -> dict[str, int]:
    """Questions per eval set of the real grid (AIME24 has no limit: its 30 problems)."""
    return {name: settings.get("limit") or {"aime24": 30}.get(name)
            for name, settings in config["eval_sets"].items() if settings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--samples", type=int, nargs="+", default=list(DEFAULT_SAMPLES))
    parser.add_argument("--output", default=str(RESULTS_PATH), help="the machine-readable result (JSON)")
    args = parser.parse_args()
    config = load_config(args.config)
    questions = eval_questions(config)
    document = results_document(config, args.samples, questions)
    rows = document["rows"]
    print(f"questions: {questions}")
    print("| thinking (assumed) | samples k | generated tokens from scratch | with reuse | truncation + forcing only: "
          "from scratch / with reuse | H100-hours from scratch (13.3K / 3.9K tok/s) | H100-hours with reuse "
          "(13.3K / 3.9K tok/s) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['scenario']} | {row['samples']} | {row['tokens_from_scratch'] / 1e6:.1f} M | "
              f"{row['tokens_reuse'] / 1e6:.1f} M ({row['tokens_from_scratch'] / row['tokens_reuse']:.1f}x fewer) | "
              f"{row['derivable_tokens_from_scratch'] / 1e6:.1f} M / {row['derivable_tokens_reuse'] / 1e6:.1f} M | "
              f"{row['gpu_hours_from_scratch (short context)']:.1f} / {row['gpu_hours_from_scratch (4K context)']:.1f} | "
              f"{row['gpu_hours_reuse (short context)']:.1f} / {row['gpu_hours_reuse (4K context)']:.1f} |")
    Path(args.output).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
