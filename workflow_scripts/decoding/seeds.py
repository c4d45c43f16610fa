"""Sampling seeds: the one definition of every seed a sampled request gets.

vLLM seeds each request's generator by itself, so a request's random stream depends on its
seed alone, not on the batch or the other questions. A seed must therefore tell questions
apart: were sample j of every question seeded from (run seed, j) only, every question would
draw the same noise at index j, and a model that reads its prompt weakly would give the same
output to all of them (the smoke run: 79 % of pairs of different questions at one index were
identical). So a sample's seed hashes (run seed, dataset, question id, sample index, try):

* the same (question, sample) gets the same seed in every method and budget: common random
  numbers keep paired comparisons between runs tight, and one sampled trajectory serves every
  truncation and budget-forcing run cut from it (docs/architecture.md, derived runs);
* different questions, samples and rejection-sampling tries get different seeds;
* blake2b of the parts' text, not ``hash()``: the same in every process and Python version.

Within a sample, each phase continues with its own seed derived from the sample's, never a
restart of the thinking stream: thinking round r (r > 0, after a forcing string) uses
:func:`round_seed`, the answer phase :func:`answer_seed`. A from-scratch run and a trajectory
derive them the same way at the same positions, so derived runs stay token-identical.
"""

from __future__ import annotations

import hashlib
from typing import Any

# Hashed into the resume key of every sampled job: shards sampled under another scheme
# (before: sample j seeded from (run seed, j), the answer restarting on it) regenerate.
SEED_SCHEME = "blake2b(run seed, dataset, id, sample, try); round r and answer derived"


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the parts' text (unit-separator joined; the same in every process)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def sample_seed(run_seed: int, dataset: str, question_id: str, sample: int = 0, attempt: int = 0) -> int:
    """The thinking seed (or, for a one-phase direct answer, the response seed) of sample
    ``sample`` of question (``dataset``, ``question_id``), try ``attempt`` (rejection sampling;
    0 otherwise)."""
    return derive_seed("sample", int(run_seed), dataset, str(question_id), int(sample), int(attempt))


def seeded_samples(records: list[dict[str, Any]], samples: int, run_seed: int) -> list[dict[str, Any]]:
    """``samples`` copies of each record, in record order: ``sample`` j and its ``sample_seed``."""
    return [{**record, "sample": j, "sample_seed": sample_seed(run_seed, record["dataset"], record["id"], j)}
            for record in records for j in range(samples)]


def round_seed(seed: int, round_index: int) -> int:
    """Thinking round ``round_index`` of a sample whose first round uses ``seed``: a round after a
    forcing string does not replay the first round's noise."""
    return int(seed) if round_index == 0 else derive_seed("round", int(seed), int(round_index))


def answer_seed(seed: int) -> int:
    """The answer phase of the sample whose thinking uses ``seed``."""
    return derive_seed("answer", int(seed))
