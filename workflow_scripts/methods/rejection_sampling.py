"""Rejection sampling(B): sample thinking at a temperature until it ends by itself within B
tokens, up to ``max_tries`` tries (s1, Table 3: temperature 1, retried without limit).

Each try thinks with a cap of B + 1 tokens (s1's trick): a try that reaches the cap did not
fit. A sample records its ``tries`` and whether it ``fits``; a question whose every try
overran keeps its last try (B + 1 thinking tokens, answered after the cut) and counts as out
of budget: it is never replaced silently. ``generated_tokens`` includes the rejected tries
(``rejected_tokens``), which cost as much as the kept one. Try j of a question samples with its own seed,
derived from (run seed, question, sample 0, try j) (:mod:`workflow_scripts.decoding.seeds`):
try 0 is the seed sample 0 has in every other method. Setting ``B500``.
"""

from __future__ import annotations

from workflow_scripts.decoding.budgets import UNBOUNDED
from workflow_scripts.decoding.pipeline import answer_samples, new_traces, think_prompts
from workflow_scripts.decoding.seeds import sample_seed
from workflow_scripts.decoding.thinking import run_thinking
from workflow_scripts.methods.base import BudgetMethod, section_schema, temperature_schema


class RejectionSampling(BudgetMethod):
    name = "rejection_sampling"
    label = "rejection sampling"
    colour = "#fbafe4"
    direct_format = False
    direct_error = "rejection sampling needs the thinking format (a thinking budget); the base model has none"
    job_keys = ("temperature", "max_tries")
    repeatable = False  # draws its own samples
    control_kind = "fits"
    schema = section_schema({
            "budgets": {"type": "array", "uniqueItems": True, "items": {"type": "integer", "minimum": 1},
                        "default": [500, 1000, 2000, 4000], "description": "thinking budgets (an empty list runs none)"},
            "temperature": temperature_schema("sampling temperature of every try (s1: 1.0)"),
            "max_tries": {"type": "integer", "minimum": 1, "default": 8,
                          "description": "tries per question before it counts as out of budget"},
        })

    def spec_fields(self, params, settings):
        if params["budget"] == UNBOUNDED:
            raise ValueError("rejection sampling needs a numeric budget (what would a sample have to fit?)")
        return {**super().spec_fields(params, settings),
                "options": (("temperature", float(settings["temperature"])), ("max_tries", int(settings["max_tries"])))}

    def think(self, ctx, records, spec):
        options = dict(spec.options)
        temperature = options["temperature"]
        prompts = think_prompts(ctx, records, spec)
        kept, tries, seeds = [None] * len(records), [0] * len(records), [0] * len(records)
        rejected = [0] * len(records)  # engine tokens of the tries thrown away: they cost too
        pending = list(range(len(records)))
        for attempt in range(options["max_tries"]):
            attempt_seeds = [sample_seed(ctx.seed, records[i]["dataset"], records[i]["id"], 0, attempt) for i in pending]
            traces = new_traces(ctx, [prompts[i] for i in pending], spec.budget + 1)
            ctx.round_stats.extend(run_thinking(ctx.engine, [prompts[i] for i in pending], traces,
                                                ctx.tokens.thinking_stops, temperature=temperature,
                                                seeds=attempt_seeds))
            for i, trace, seed in zip(pending, traces, attempt_seeds):
                if kept[i] is not None:
                    rejected[i] += sum(r["engine_tokens"] for r in kept[i].rounds)
                kept[i], tries[i], seeds[i] = trace, attempt + 1, seed
            pending = [i for i in pending if kept[i].cap_hit]  # reached B + 1 (or the context): did not fit
            if not pending:
                break
        samples = answer_samples(ctx, records, spec, prompts, kept, temperature=temperature, seeds=seeds)
        for sample, trace, count, seed, waste in zip(samples, kept, tries, seeds, rejected):
            sample.update({"tries": count, "fits": not trace.cap_hit, "sample_seed": seed,
                           "rejected_tokens": waste, "generated_tokens": sample["generated_tokens"] + waste})
        return samples

    def describe(self, section):
        return (f"*rejection sampling*: thinking sampled at temperature {section['temperature']} until it ends within "
                f"the budget ({', '.join(map(str, section['budgets']))} tokens), at most {section['max_tries']} tries; "
                "a question that never fits keeps its last try and counts as out of budget")


METHOD = RejectionSampling()
