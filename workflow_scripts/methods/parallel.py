"""Parallel scaling: k samples per question at a temperature, majority vote of m = 1, 2, 4,
..., k of them (s1's parallel-scaling comparison; every m is an expectation over the m-subsets
of the same k samples, so the whole curve costs one k-sample run). Setting ``k16``.

Generation writes k lines per question (``sample`` 0..k-1, sampling seed derived from the
run seed, the question and the index: :mod:`workflow_scripts.decoding.seeds`); thinking is
bounded only by the context. Voting happens after grading
(:func:`workflow_scripts.analysis.voting.with_votes`): the m-sample runs ``k16-m4`` appear in
``runs.tsv`` with x = the mean total thinking tokens of m samples. Runs for the ``sft``
model (thinking format) and the ``base`` model (direct answers).
"""

from __future__ import annotations

from workflow_scripts.decoding.budgets import UNBOUNDED
from workflow_scripts.decoding.pipeline import direct_answers, think_then_answer
from workflow_scripts.decoding.seeds import seeded_samples
from workflow_scripts.methods.base import COUNT, Method, section_schema, temperature_schema


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
    setting_format = "k{k}"  # k samples per question
    setting_fields = {"k": COUNT}
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

    def sort_key(self, params):
        return (params["k"],)

    def spec_fields(self, params, settings):
        return {**super().spec_fields(params, settings), "budget": UNBOUNDED,
                "options": (("k", params["k"]), ("temperature", float(settings["temperature"])))}

    def sample_keys(self, record_id, spec):
        return [f"{record_id}#{j}" for j in range(spec.option("k"))]

    def generate_one(self, ctx, records, spec):
        options = dict(spec.options)
        copies = seeded_samples(records, options["k"], ctx.seed)  # the sample_keys order
        generate = direct_answers if spec.prompt_format == "direct" else think_then_answer
        # each sample records its ``sample`` and ``sample_seed`` from its copy (pipeline.base_sample)
        return generate(ctx, copies, spec, temperature=options["temperature"],
                        seeds=[copy["sample_seed"] for copy in copies])

    def describe(self, section):
        return (f"*parallel scaling*: {section['k']} samples per question at temperature {section['temperature']}, "
                f"majority vote of m = {', '.join(map(str, vote_sizes(section['k'])))} of them, averaged over "
                "every m-subset (answers cluster by equivalence among themselves, ties split the credit, "
                "only the winner is graded)")


METHOD = Parallel()
