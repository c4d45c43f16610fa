"""The real grid's GPU-hours on one card, from decode rates MEASURED on that card.

Input: the JSON of ``gpu_generation.py raw --probes`` (and ``project``), measured on the lent
H100/H200 with a Qwen2.5-3B-shaped model. Method:

1. Step time. Each probe decodes ``N`` sequences at context ``C`` for 256 steps; a decode step's
   time is fitted by least squares as ``t = a + b N + c K`` with ``K = N (C + 128)`` the context
   tokens the step reads (weights once per step, per-sequence work, KV reads). The fit is checked
   against a whole measured run (the raw truncation B4000 thinking round) before it is used.
2. Work. The grid is ``config.yaml``'s (every method, the real eval-set sizes and budgets, contexts
   up to 32,768) with one engine per model as the workflow plans it
   (``workflow_scripts.config.generation_runs``). Per model, each round is S sequences that each
   decode L tokens from a context of p tokens: they run in waves of N = min(S, max_num_seqs,
   KV tokens / (p + L)) sequences, a wave takes ``L (a + b N) + c N (L p + L^2 / 2)`` seconds, and
   its prompts prefill at the probes' measured prefill rate for that context length.
   Thinking lengths per sample follow ``generation_cost.sample_thinking`` (the workflow's rules):
   **upper bound**: every thinking run reaches its cap (what the random-weight model does: it never
   stops), every answer is ``answer_max_tokens`` long; **lower bound**: s1-32B's published thinking
   lengths (``S1_LENGTHS``) with ``generation_cost.ANSWER_TOKENS`` answers.
   The base model's direct responses are ``generation_cost.BASE_RESPONSE_TOKENS`` in both bounds
   (an instruct model stops; the random model would not).
3. Engine starts: one per model (its generate job), at the measured start-up (the project's CLI,
   compile cache warm, CUDA graphs on).

Rounds are summed one after the other: the generate job merges the rounds of different runs into
one engine call (more sequences per wave), so this is an upper bound on its time.

    python benchmarks/grid_gpu_hours.py RAW.json PROJECT.json [--samples 1 4]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402

from generation_cost import (  # noqa: E402
    ANSWER_TOKENS, BASE_RESPONSE_TOKENS, PROMPT_TOKENS, TRANSITION, budget_forcing_thinking, sample_thinking,
    thinking_cap,
)
from workflow_scripts.config import (  # noqa: E402
    derives_thinking, evaluation_grid, load_config, model_entry, trajectory_plan,
)

PROBE_HALF_DECODE = 128  # a probe's mean extra context over its 256 decode steps
# s1-32B's average thinking per dataset at its longest budget-forcing point (s1, Figure 1: about
# 2K tokens on MATH500, 8K on AIME24, 4K on GPQA-Diamond), and 500 / 1,000 / 700 tokens more after
# each forcing string (the "shorter" scenario of generation_cost.py: an assumption).
S1_LENGTHS = {"math500": (2048, 500), "aime24": (8192, 1000), "gpqa": (4096, 700)}
UPPER = {name: (10 ** 6, 0) for name in PROMPT_TOKENS}  # never stops: every thinking run to its cap


@dataclass(frozen=True)
class StepModel:
    """Decode step time ``a + b N + c K`` seconds (N sequences reading K context tokens)."""

    a: float
    b: float
    c: float

    def step(self, sequences: int, context_tokens: float) -> float:
        return self.a + self.b * sequences + self.c * context_tokens

    def wave(self, sequences: int, prompt: int, decode: int) -> float:
        """Seconds for ``sequences`` to decode ``decode`` tokens each from ``prompt`` tokens:
        the sum over steps i < decode of step(N, N (prompt + i))."""
        return decode * (self.a + self.b * sequences) + self.c * sequences * (decode * prompt + decode * (decode - 1) / 2)


def fit_step_model(probes: list[dict]) -> StepModel:
    rows = [[1.0, p["sequences"], p["sequences"] * (p["context"] + PROBE_HALF_DECODE)] for p in probes]
    seconds = [p["step_ms"] / 1000 for p in probes]
    (a, b, c), *_ = np.linalg.lstsq(np.array(rows), np.array(seconds), rcond=None)
    return StepModel(float(a), float(b), float(c))


def prefill_seconds(probes: list[dict], tokens: float, context: float) -> float:
    """Prefill time of ``tokens`` prompt tokens of sequences ``context`` long, at the probes' rate
    for the nearest context length (attention makes long prompts slower per token)."""
    nearest = min(probes, key=lambda p: abs(np.log(p["context"]) - np.log(max(context, 1))))
    return tokens / nearest["prefill_tok_s"]


@dataclass(frozen=True)
class Round:
    sequences: int
    prompt: int  # context already there (prompt, or prompt + thinking for an answer round)
    decode: int  # tokens each sequence generates


def round_seconds(model: StepModel, probes: list[dict], r: Round, max_num_seqs: int, kv_tokens: int) -> float:
    if r.sequences == 0 or r.decode == 0:
        return 0.0
    per_wave = max(1, min(r.sequences, max_num_seqs, kv_tokens // (r.prompt + r.decode)))
    full, rest = divmod(r.sequences, per_wave)
    decode = full * model.wave(per_wave, r.prompt, r.decode) + (model.wave(rest, r.prompt, r.decode) if rest else 0.0)
    return decode + prefill_seconds(probes, r.sequences * r.prompt, r.prompt)


def grid_rounds(config: dict, lengths: dict, samples: int, answer_tokens: int) -> dict[str, list[Round]]:
    """{model: its rounds} of the real grid (one engine per model), for one length scenario."""
    generation = config["generation"]
    grid = evaluation_grid(config)
    plan = trajectory_plan(config, grid)
    rounds: dict[str, list[Round]] = {}
    questions = {name: settings.get("limit") or 30 for name, settings in config["eval_sets"].items() if settings}
    for dataset, count in questions.items():
        first, after_wait = lengths[dataset]
        prompt = PROMPT_TOKENS[dataset]
        cap = thinking_cap(generation, prompt)
        for trajectory in plan.values():
            thinking = budget_forcing_thinking(first, after_wait, trajectory.n, cap(trajectory.budget))
            rounds.setdefault(trajectory.model, []).append(Round(samples * count, prompt, thinking))
        for spec in grid:
            k = 1 if spec.method in ("parallel", "rejection_sampling") else samples
            votes = spec.params["k"] if spec.method == "parallel" else 1
            group = spec.model
            if model_entry(config, spec.model).format == "direct":
                rounds.setdefault(group, []).append(Round(k * count * votes, prompt, BASE_RESPONSE_TOKENS))
                continue
            thinking = sample_thinking(spec, config, first, after_wait, cap) // votes
            if spec.method == "rejection_sampling" and thinking > cap(spec.budget):
                tries = generation[spec.method]["max_tries"]
                rounds.setdefault(group, []).extend(Round(k * count, prompt, cap(spec.budget) + 1) for _ in range(tries))
                thinking = cap(spec.budget)
            elif not derives_thinking(config, spec):
                rounds.setdefault(group, []).append(Round(k * count * votes, prompt, thinking))
            rounds.setdefault(group, []).append(Round(k * count * votes, prompt + thinking + TRANSITION, answer_tokens))
    return rounds


def estimate(config: dict, raw: dict, project: dict, samples: int) -> dict:
    probes = raw["probes"]
    model = fit_step_model(probes)
    kv, seqs = raw["kv_cache_tokens"], raw["max_num_seqs"]
    out = {"samples": samples, "step_model": model.__dict__}
    for bound, lengths, answers in (("upper", UPPER, config["generation"]["answer_max_tokens"]),
                                    ("lower", S1_LENGTHS, ANSWER_TOKENS)):
        rounds = grid_rounds(config, lengths, samples, answers)
        seconds = sum(round_seconds(model, probes, r, seqs, kv) for rs in rounds.values() for r in rs)
        tokens = sum(r.sequences * r.decode for rs in rounds.values() for r in rs)
        starts = len(rounds) * project["start_s"]
        out[bound] = {"engines": len(rounds), "generated_tokens": tokens, "generate_h": round(seconds / 3600, 2),
                      "start_h": round(starts / 3600, 2), "gpu_h": round((seconds + starts) / 3600, 2)}
    return out


def check_against_run(raw: dict) -> dict:
    """The step model's prediction of the raw B4000 thinking round against its measured time."""
    model = fit_step_model(raw["probes"])
    r = raw["thinking_round"]
    per = r["tokens"] // r["prompts"]
    predicted = model.wave(r["prompts"], PROMPT_TOKENS["math500"], per)
    return {"measured_s": r["seconds"], "predicted_decode_s": round(predicted, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw", type=Path)
    parser.add_argument("project", type=Path)
    parser.add_argument("--config", default=str(REPO / "config.yaml"))
    parser.add_argument("--samples", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    raw, project = json.loads(args.raw.read_text()), json.loads(args.project.read_text())
    config = load_config(args.config)
    result = {"device": raw["device"], "vllm": raw["vllm"], "check": check_against_run(raw),
              "estimates": [estimate(config, raw, project, k) for k in args.samples]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
