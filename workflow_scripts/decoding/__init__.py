"""The decoding core: vLLM engine, token budgets, prompts as ids, thinking rounds, think/answer.

Only :mod:`engine` touches vLLM. Everything above it (prompts, budgets, thinking rounds,
answers) is plain Python on token ids, so counts are exact by construction: prompts are built
once as ids, generated ids are fed back as ids, and nothing is re-tokenised.

The lowest layer of the generation code: it imports nothing of workflow_scripts but
:mod:`~workflow_scripts.errors`, :mod:`~workflow_scripts.io` and
:mod:`~workflow_scripts.tokenization`; the methods (:mod:`workflow_scripts.methods`), the
config and the generation stage build on it (tests/test_layers.py).
"""
