"""Think, then answer: the shared core of the methods (workflow_scripts/methods/).

After thinking, the answer transition is ``<|im_start|>answer\\n`` when the model ended thinking
itself and ``\\n<|im_start|>answer\\nFinal Answer:`` when it was cut at its limit (s1). The answer
is generated until ``<|im_end|>`` (or eos) within ``answer_max_tokens`` and the context.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from workflow_scripts.decoding.budgets import UNBOUNDED, answer_limit, context_room, thinking_limit
from workflow_scripts.decoding.prompts import FormatTokens, prompt_ids
from workflow_scripts.decoding.seeds import answer_seed
from workflow_scripts.decoding.thinking import NaturalEnd, ThinkingTrace, end_thinking, run_thinking, strip_stop


@dataclass
class GenerationContext:
    """What every method needs: the engine, the tokenizer and the answer settings."""

    engine: Any
    tokenizer: Any
    tokens: FormatTokens
    answer_reserve_tokens: int
    answer_max_tokens: int
    seed: int = 42
    temperature: float = 0.0  # generation.temperature / top_p: the runs' own sampling (0 = greedy)
    top_p: float = 1.0
    round_stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def max_model_len(self) -> int:
        return self.engine.max_model_len


def decode(tokenizer, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=False)


def answer_transition(tokens: FormatTokens, cap_hit: bool) -> tuple[int, ...]:
    return tokens.capped_answer_start if cap_hit else tokens.answer_start


@dataclass(frozen=True)
class Sampling:
    """How one batch decodes: greedy (temperature 0) or sampled with one seed per sample (its
    thinking seed, or a direct answer's; :mod:`workflow_scripts.decoding.seeds`)."""

    temperature: float = 0.0
    top_p: float = 1.0
    seeds: Sequence[int] | None = None

    def for_answer(self) -> "Sampling":
        """The answer phase after thinking: each sample's own answer seed (:func:`answer_seed`),
        so the answer does not replay the noise its thinking started with."""
        if self.seeds is None:
            return self
        return Sampling(self.temperature, self.top_p, [answer_seed(seed) for seed in self.seeds])

    def engine_args(self) -> dict[str, Any]:
        """Engine keyword arguments: none for greedy decoding (the default)."""
        if not self.temperature:
            return {}
        return {"temperature": self.temperature, "top_p": self.top_p, "seeds": self.seeds}


def sampling_for(ctx: GenerationContext, records: list[dict[str, Any]], temperature: float | None = None,
                 seeds: Sequence[int] | None = None) -> Sampling:
    """A method's own sampling (parallel scaling, rejection sampling pass a temperature and seeds),
    else the runs' (``generation.temperature`` / ``top_p``, each record's ``sample_seed``)."""
    if temperature is not None:
        return Sampling(temperature, 1.0, seeds)
    if not ctx.temperature:
        return Sampling()
    return Sampling(ctx.temperature, ctx.top_p, [r["sample_seed"] for r in records])


def run_answers(ctx: GenerationContext, sequences: list[list[int]], max_tokens: list[int],
                sampling: Sampling = Sampling()):
    """One batched answer round: [(answer ids, finish reason, engine tokens)], seconds."""
    started = time.perf_counter()
    completions = ctx.engine.generate(sequences, max_tokens, ctx.tokens.answer_stops, **sampling.engine_args())
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
        # repeated samples (generation.samples): the sample index and its seed
        **{key: record[key] for key in ("sample", "sample_seed") if key in record},
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
                      on_natural_end: NaturalEnd = end_thinking, thinking_budget: int | str | None = None,
                      instruction: str | None = None, temperature: float | None = None,
                      seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Think (at most ``thinking_budget`` tokens, by default the spec's budget), then answer.
    Decoding: the method's ``temperature`` and ``seeds`` if given, else the runs' (:func:`sampling_for`)."""
    prompts = think_prompts(ctx, records, spec, instruction)
    traces = think(ctx, records, prompts, spec.budget if thinking_budget is None else thinking_budget,
                   on_natural_end, sampling_for(ctx, records, temperature, seeds))
    return answer_samples(ctx, records, spec, prompts, traces, temperature=temperature, seeds=seeds)


def think(ctx: GenerationContext, records: list[dict[str, Any]], prompts: list[list[int]], budget: int | str,
          on_natural_end: NaturalEnd, sampling: Sampling) -> list[ThinkingTrace]:
    """The thinking phase alone: finished traces, one per prompt."""
    traces = new_traces(ctx, prompts, budget)
    ctx.round_stats.extend(run_thinking(ctx.engine, prompts, traces, ctx.tokens.thinking_stops, on_natural_end,
                                        temperature=sampling.temperature, top_p=sampling.top_p, seeds=sampling.seeds))
    return traces


def answer_samples(ctx: GenerationContext, records: list[dict[str, Any]], spec, prompts: list[list[int]],
                   traces: list[ThinkingTrace], *, temperature: float | None = None,
                   seeds: Sequence[int] | None = None, derived: bool = False) -> list[dict[str, Any]]:
    """The answer phase after finished traces (one batched round), and the samples. ``derived``:
    the traces were cut from a trajectory (:mod:`workflow_scripts.generation.trajectory`), so only the answer was generated."""
    tokens = ctx.tokens
    sequences, limits = [], []
    for prompt, trace in zip(prompts, traces):
        sequence = list(prompt) + trace.token_ids + list(answer_transition(tokens, trace.cap_hit))
        sequences.append(sequence)
        limits.append(answer_limit(ctx.answer_max_tokens, sequence_len=len(sequence), max_model_len=ctx.max_model_len))
    answers, answer_seconds = run_answers(ctx, sequences, limits, sampling_for(ctx, records, temperature, seeds).for_answer())

    samples = []
    for record, prompt, trace, (answer_ids, answer_finish, answer_engine_tokens) in zip(records, prompts, traces, answers):
        thinking_engine_tokens = sum(r["engine_tokens"] for r in trace.rounds)
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
            # engine tokens: of the thinking rounds as a from-scratch run generates them, of the
            # answer, and what this job generated (only the answer when derived)
            "thinking_engine_tokens": thinking_engine_tokens,
            "answer_engine_tokens": answer_engine_tokens,
            "derived": derived,
            "generated_tokens": answer_engine_tokens + (0 if derived else thinking_engine_tokens),
            "full_text": decode(ctx.tokenizer, list(tokens.think_start) + trace.token_ids + list(transition) + answer_ids),
            "timings": {"thinking_s": round(trace.seconds, 3), "answer_s": round(answer_seconds, 3),
                        "note": "wall time of the batched rounds this sample took part in"},
        })
        samples.append(sample)
    return samples


def direct_answers(ctx: GenerationContext, records: list[dict[str, Any]], spec, *, temperature: float | None = None,
                   seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One phase, plain chat prompt: the budget caps the whole response."""
    prompts = [prompt_ids(ctx.tokenizer, r, prompt_format="direct", class_prompt=spec.class_prompt) for r in records]
    limits = []
    for prompt in prompts:
        room = context_room(prompt_len=len(prompt), max_model_len=ctx.max_model_len, reserved=0)
        limits.append(room if spec.budget == UNBOUNDED else min(int(spec.budget), room))
    answers, seconds = run_answers(ctx, [list(p) for p in prompts], limits, sampling_for(ctx, records, temperature, seeds))
    samples = []
    for record, prompt, limit, (answer_ids, finish, engine_tokens) in zip(records, prompts, limits, answers):
        sample = base_sample(record, spec, prompt, ctx)
        sample.update({
            "thinking_limit": 0, "thinking_text": "", "thinking_tokens": 0, "thinking_token_ids": [],
            "waits_inserted": 0, "cap_hit": finish == "length", "round_finish_reasons": [], "rounds": [],
            "response_limit": limit, "answer_prefix_text": "",
            "answer_text": decode(ctx.tokenizer, answer_ids), "answer_tokens": len(answer_ids),
            "answer_token_ids": answer_ids, "answer_finish_reason": finish, "thinking_engine_tokens": 0,
            "answer_engine_tokens": engine_tokens, "derived": False, "generated_tokens": engine_tokens,
            "full_text": decode(ctx.tokenizer, answer_ids),
            "timings": {"thinking_s": 0.0, "answer_s": round(seconds, 3),
                        "note": "wall time of the batched rounds this sample took part in"},
        })
        samples.append(sample)
    return samples
