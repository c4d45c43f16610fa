"""Think, then answer: the shared core of the methods (workflow_scripts/methods/).

After thinking, the answer transition is ``<|im_start|>answer\\n`` when the model ended thinking
itself and ``\\n<|im_start|>answer\\nFinal Answer:`` when it was cut at its limit (s1). The answer
is generated until ``<|im_end|>`` (or eos) within ``answer_max_tokens`` and the context.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from workflow_scripts.generation.budgets import answer_limit, context_room, thinking_limit
from workflow_scripts.generation.prompts import FormatTokens, prompt_ids
from workflow_scripts.generation.thinking import ThinkingTrace, run_thinking, strip_stop


@dataclass
class GenerationContext:
    """What every method needs: the engine, the tokenizer and the answer settings."""

    engine: Any
    tokenizer: Any
    tokens: FormatTokens
    answer_reserve_tokens: int
    answer_max_tokens: int
    seed: int = 42
    round_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def max_model_len(self) -> int:
        return self.engine.max_model_len


def decode(tokenizer, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=False)


def answer_transition(tokens: FormatTokens, cap_hit: bool) -> tuple[int, ...]:
    return tokens.capped_answer_start if cap_hit else tokens.answer_start


def sampling_args(temperature: float, seeds: Sequence[int] | None) -> dict[str, Any]:
    """Engine keyword arguments: none for greedy decoding (the default), else temperature + seeds."""
    return {"temperature": temperature, "seeds": seeds} if temperature else {}


def run_answers(ctx: GenerationContext, sequences: list[list[int]], max_tokens: list[int], *,
                temperature: float = 0.0, seeds: Sequence[int] | None = None):
    """One batched answer round: [(answer ids, finish reason, engine tokens)], seconds."""
    started = time.perf_counter()
    completions = ctx.engine.generate(sequences, max_tokens, ctx.tokens.answer_stops,
                                      **sampling_args(temperature, seeds))
    elapsed = time.perf_counter() - started
    answers = []
    for completion in completions:
        ids, _ = strip_stop(completion, ctx.tokens.answer_stops)
        answers.append((ids, completion.finish_reason, len(completion.token_ids)))
    ctx.round_stats.append({"phase": "answer", "active": len(sequences),
                            "generated_tokens": sum(a[2] for a in answers), "seconds": round(elapsed, 3)})
    return answers, elapsed


def base_sample(record: dict[str, Any], spec, prompt: Sequence[int], ctx: GenerationContext) -> dict[str, Any]:
    return {
        "dataset": record["dataset"], "id": str(record["id"]), "index": record.get("index"),
        "model": spec.model, "method": spec.method, "setting": spec.setting, "budget": spec.budget,
        "n": spec.n, "forcing_string": spec.forcing_string, "class_prompt": spec.class_prompt,
        "prompt_format": spec.prompt_format, "prompt_tokens": len(prompt),
        "gold": record.get("answer"), "gold_letter": record.get("gold_letter"),
        "engine": ctx.engine.settings, "seed": ctx.seed,
        **dict(spec.options),  # a method's own parameters (none for truncation, forcing, class-conditional)
    }


def think_prompts(ctx: GenerationContext, records: list[dict[str, Any]], spec,
                  instruction: str | None = None) -> list[list[int]]:
    return [prompt_ids(ctx.tokenizer, r, prompt_format="think", class_prompt=spec.class_prompt,
                       instruction=instruction) for r in records]


def new_traces(ctx: GenerationContext, prompts: list[list[int]], budget: int | str) -> list[ThinkingTrace]:
    """Empty traces whose limit is ``budget`` (clamped to what the context allows)."""
    tokens = ctx.tokens
    transition_len = max(len(tokens.capped_answer_start), len(tokens.answer_start))
    return [
        ThinkingTrace(limit=thinking_limit(budget, prompt_len=len(p), max_model_len=ctx.max_model_len,
                                           answer_reserve=ctx.answer_reserve_tokens, transition_len=transition_len))
        for p in prompts
    ]


def think_then_answer(ctx: GenerationContext, records: list[dict[str, Any]], spec, *,
                      forcing_ids: Sequence[int] = (), max_waits: int = 0, thinking_budget: int | str | None = None,
                      instruction: str | None = None, temperature: float = 0.0,
                      seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Think (at most ``thinking_budget`` tokens, by default the spec's budget), then answer."""
    prompts = think_prompts(ctx, records, spec, instruction)
    traces = new_traces(ctx, prompts, spec.budget if thinking_budget is None else thinking_budget)
    ctx.round_stats.extend(run_thinking(ctx.engine, prompts, traces, ctx.tokens.thinking_stops, forcing_ids, max_waits,
                                        temperature=temperature, seeds=seeds))
    return answer_samples(ctx, records, spec, prompts, traces, temperature=temperature, seeds=seeds)


def answer_samples(ctx: GenerationContext, records: list[dict[str, Any]], spec, prompts: list[list[int]],
                   traces: list[ThinkingTrace], *, temperature: float = 0.0,
                   seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The answer phase after finished traces (one batched round), and the samples."""
    tokens = ctx.tokens
    sequences, limits = [], []
    for prompt, trace in zip(prompts, traces):
        sequence = list(prompt) + trace.token_ids + list(answer_transition(tokens, trace.cap_hit))
        sequences.append(sequence)
        limits.append(answer_limit(ctx.answer_max_tokens, sequence_len=len(sequence), max_model_len=ctx.max_model_len))
    answers, answer_seconds = run_answers(ctx, sequences, limits, temperature=temperature, seeds=seeds)

    samples = []
    for record, prompt, trace, (answer_ids, answer_finish, answer_engine_tokens) in zip(records, prompts, traces, answers):
        transition = answer_transition(tokens, trace.cap_hit)
        sample = base_sample(record, spec, prompt, ctx)
        sample.update({
            "thinking_limit": trace.limit,
            "thinking_text": decode(ctx.tokenizer, trace.token_ids),
            "thinking_tokens": len(trace.token_ids),
            "thinking_token_ids": list(trace.token_ids),
            "waits_inserted": trace.waits_inserted,
            "cap_hit": trace.cap_hit,
            "round_finish_reasons": trace.finish_reasons,
            "rounds": trace.rounds,
            "answer_prefix_text": decode(ctx.tokenizer, transition),
            "answer_text": decode(ctx.tokenizer, answer_ids),
            "answer_tokens": len(answer_ids),
            "answer_token_ids": answer_ids,
            "answer_finish_reason": answer_finish,
            "generated_tokens": sum(r["engine_tokens"] for r in trace.rounds) + answer_engine_tokens,
            "full_text": decode(ctx.tokenizer, list(tokens.think_start) + trace.token_ids + list(transition) + answer_ids),
            "timings": {"thinking_s": round(trace.seconds, 3), "answer_s": round(answer_seconds, 3),
                        "note": "wall time of the batched rounds this sample took part in"},
        })
        samples.append(sample)
    return samples


def direct_answers(ctx: GenerationContext, records: list[dict[str, Any]], spec, *, temperature: float = 0.0,
                   seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One phase, plain chat prompt: the budget caps the whole response."""
    prompts = [prompt_ids(ctx.tokenizer, r, prompt_format="direct", class_prompt=spec.class_prompt) for r in records]
    limits = []
    for prompt in prompts:
        room = context_room(prompt_len=len(prompt), max_model_len=ctx.max_model_len, reserved=0)
        limits.append(room if spec.budget == "unbounded" else min(int(spec.budget), room))
    answers, seconds = run_answers(ctx, [list(p) for p in prompts], limits, temperature=temperature, seeds=seeds)
    samples = []
    for record, prompt, limit, (answer_ids, finish, engine_tokens) in zip(records, prompts, limits, answers):
        sample = base_sample(record, spec, prompt, ctx)
        sample.update({
            "thinking_limit": 0, "thinking_text": "", "thinking_tokens": 0, "thinking_token_ids": [],
            "waits_inserted": 0, "cap_hit": finish == "length", "round_finish_reasons": [], "rounds": [],
            "response_limit": limit, "answer_prefix_text": "",
            "answer_text": decode(ctx.tokenizer, answer_ids), "answer_tokens": len(answer_ids),
            "answer_token_ids": answer_ids, "answer_finish_reason": finish, "generated_tokens": engine_tokens,
            "full_text": decode(ctx.tokenizer, answer_ids),
            "timings": {"thinking_s": 0.0, "answer_s": round(seconds, 3),
                        "note": "wall time of the batched rounds this sample took part in"},
        })
        samples.append(sample)
    return samples
