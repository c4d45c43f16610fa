"""Base-model baseline: the plain chat prompt, answered in one phase (no thinking format).

s1 evaluated Qwen2.5-Instruct this way (chat template, no ``<|im_start|>think``, only a
generation-length cap); the base model never learnt the think/answer format, so forcing it
into that format would measure the format, not the model. The budget caps the whole response.
"""

from __future__ import annotations

from workflow_scripts.generation.pipeline import direct_answers


def direct(ctx, records, spec):
    return direct_answers(ctx, records, spec)
