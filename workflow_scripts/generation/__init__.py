"""Test-time scaling with vLLM: truncation, budget forcing and class-conditional control.

Only :mod:`engine` touches vLLM. Everything above it (prompts, budgets, thinking rounds,
answers, shards) is plain Python on token ids, so counts are exact by construction:
prompts are built once as ids, generated ids are fed back as ids, and nothing is
re-tokenised.
"""
