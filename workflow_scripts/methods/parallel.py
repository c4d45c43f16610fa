"""Parallel scaling: k samples per question at a temperature, majority vote over the first
m = 1, 2, 4, ..., k of them (s1's parallel-scaling comparison; nested subsets of the same
samples, so the whole curve costs one k-sample run). Setting ``k16``.

Generation writes k lines per question (``sample`` 0..k-1, sampling seed derived from
the run seed and the index); thinking is bounded only by the context. Voting happens after
grading (:func:`workflow_scripts.analysis.voting.vote_runs`): the m-sample runs ``k16-m4``
appear in ``runs.tsv`` with x = the mean total thinking tokens of the m samples. Runs for the
``sft`` model (thinking format) and the ``base`` model (direct answers).
"""

from __future__ import annotations

import re

from workflow_scripts.generation.budgets import UNBOUNDED
from workflow_scripts.methods.base import Method, budget_label, sample_seed, section_schema, temperature_schema


def vote_sizes(k: int) -> list[int]:
    """m = 1, 2, 4, ... up to k, and k itself."""
    sizes, m = [], 1
    while m < k:
        sizes.append(m)
        m *= 2
    return sizes + [k]


class Parallel(Method):
    name = "parallel"
    label = "parallel (majority vote)"
    colour = "#949494"
    setting_regex = r"k\d+"
    job_keys = ("temperature",)
    repeatable = False  # draws its own samples
    control_kind = "none"
    schema = section_schema({
            "k": {"type": "integer", "minimum": 0, "default": 16, "description": "samples per question (0 runs none)"},
            "temperature": temperature_schema("sampling temperature of every sample"),
        })

    def runs(self, section, budgets=None):
        if section["k"]:  # the base model's baseline budgets do not apply: no budget
            yield {"k": section["k"]}

    def setting(self, params):
        return f"k{params['k']}"

    def parse(self, setting):
        match = re.fullmatch(r"k(\d+)", setting)
        if match is None or int(match[1]) < 1:
            raise ValueError(f"cannot parse shard setting {setting!r} for method {self.name!r} (expected k<samples>)")
        return {"k": int(match[1])}

    def sort_key(self, params):
        return (params["k"],)

    def engine_group(self, params):
        return budget_label(UNBOUNDED)  # shares the engine of the unbounded runs

    def spec_fields(self, params, settings):
        return {**super().spec_fields(params, settings), "budget": UNBOUNDED,
                "options": (("k", params["k"]), ("temperature", float(settings["temperature"])))}

    def sample_keys(self, record_id, spec):
        return [f"{record_id}#{j}" for j in range(spec.option("k"))]

    def generate_one(self, ctx, records, spec):
        from workflow_scripts.generation.pipeline import direct_answers, think_then_answer

        options = dict(spec.options)
        copies = [(record, index) for record in records for index in range(options["k"])]  # the sample_keys order
        seeds = [sample_seed(ctx.seed, index) for _, index in copies]
        generate = direct_answers if spec.prompt_format == "direct" else think_then_answer
        samples = generate(ctx, [record for record, _ in copies], spec, temperature=options["temperature"], seeds=seeds)
        for sample, (_, index), seed in zip(samples, copies, seeds):
            sample.update({"sample": index, "sample_seed": seed})
        return samples

    def describe(self, section):
        return (f"*parallel scaling*: {section['k']} samples per question at temperature {section['temperature']}, "
                f"majority vote over the first m = {', '.join(map(str, vote_sizes(section['k'])))} samples "
                "(votes compare graded answers)")


METHOD = Parallel()
