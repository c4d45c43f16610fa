"""Prompts as token ids: chat template (default system prompt) + the s1 thinking format.

The assistant turn of the SFT format (s1) is::

    <|im_start|>think\n{thinking}<|im_start|>answer\n{answer}<|im_end|>

so the prompt ends with ``<|im_start|>think\n`` and the model ends thinking by emitting
``<|im_start|>``. The base model (no SFT) never learnt this format; it gets the plain chat
prompt ("direct" format), as s1 evaluated Qwen2.5-Instruct.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow_scripts.errors import UserError

THINK_START = "<|im_start|>think\n"
# Ending thinking by itself vs. being cut at the cap (s1: "Final Answer:" only after a cut).
ANSWER_START = "<|im_start|>answer\n"
CAPPED_ANSWER_START = "\n<|im_start|>answer\nFinal Answer:"

# s1's class-conditional prompts, appended to the user turn after a blank line.
CLASS_PROMPTS = {
    "short": "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
    "long": (
        "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra "
        "time trying to double-check your work until you are absolutely sure that you have the correct answer."
    ),
}

PROMPT_FORMATS = ("think", "direct")
CHOICE_LETTERS = "ABCD"  # GPQA's choices, in the shuffled order of the eval record


class PromptError(UserError):
    """An eval record cannot be turned into a prompt; the message names the record."""


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text``; special-token strings map to their ids, no BOS/EOS added."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _single_id(tokenizer, token: str) -> int:
    ids = encode(tokenizer, token)
    if len(ids) != 1:
        raise PromptError(f"the tokenizer does not know {token!r} as one token (got ids {ids})")
    return ids[0]


def generation_config_eos(model: str | Path | None) -> list[int]:
    """eos ids of the model's generation config (vLLM stops on these too); [] if it has none."""
    if model is None:
        return []
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(str(model))
    except OSError:  # no generation_config.json
        return []
    eos = config.eos_token_id
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, list) else [eos])]


@dataclass(frozen=True)
class FormatTokens:
    """Special ids and the fixed id sequences spliced between phases."""

    im_start: int
    im_end: int
    eos_ids: tuple[int, ...]
    think_start: tuple[int, ...]
    answer_start: tuple[int, ...]
    capped_answer_start: tuple[int, ...]

    @classmethod
    def from_tokenizer(cls, tokenizer, model: str | Path | None = None) -> "FormatTokens":
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        eos_ids = tuple(dict.fromkeys(eos + generation_config_eos(model)))
        return cls(
            im_start=_single_id(tokenizer, "<|im_start|>"),
            im_end=_single_id(tokenizer, "<|im_end|>"),
            eos_ids=eos_ids,
            think_start=tuple(encode(tokenizer, THINK_START)),
            answer_start=tuple(encode(tokenizer, ANSWER_START)),
            capped_answer_start=tuple(encode(tokenizer, CAPPED_ANSWER_START)),
        )

    @property
    def thinking_stops(self) -> tuple[int, ...]:
        """``<|im_start|>`` ends thinking; eos too (vLLM stops there regardless)."""
        return tuple(dict.fromkeys((self.im_start, *self.eos_ids)))

    @property
    def answer_stops(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys((self.im_end, *self.eos_ids)))


def format_gpqa_question(question: str, choices: list[str]) -> str:
    """The user turn for a GPQA record: the question, a blank line, then ``A) .. D) ..``."""
    if len(choices) != len(CHOICE_LETTERS):
        raise PromptError(f"a GPQA question needs 4 choices, got {len(choices)}")
    lines = "\n".join(f"{letter}) {choice}" for letter, choice in zip(CHOICE_LETTERS, choices))
    return f"{question}\n\n{lines}"


def user_turn(record: dict[str, Any], class_prompt: str | None = None, instruction: str | None = None) -> str:
    """The user message: the question (GPQA: plus its shuffled choices), then the class prompt
    or a method's instruction (e.g. "Think for up to 64 tokens."), after a blank line."""
    rid = record.get("id", "<no id>")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise PromptError(f"eval record {rid!r} has no question text (got {question!r})")
    choices = record.get("choices")
    if choices is not None:
        if not isinstance(choices, list) or len(choices) != 4 or not all(isinstance(c, str) for c in choices):
            raise PromptError(f"eval record {rid!r}: 'choices' must be a list of 4 strings, got {choices!r}")
        text = format_gpqa_question(question, choices)
    else:
        text = question
    if class_prompt is not None:
        if class_prompt not in CLASS_PROMPTS:
            raise PromptError(f"unknown class-conditional prompt {class_prompt!r}; use one of {sorted(CLASS_PROMPTS)}")
        text = f"{text}\n\n{CLASS_PROMPTS[class_prompt]}"
    if instruction is not None:
        text = f"{text}\n\n{instruction}"
    return text


def prompt_text(tokenizer, record: dict[str, Any], *, prompt_format: str = "think",
                class_prompt: str | None = None, instruction: str | None = None) -> str:
    """Chat-templated prompt (the template's default system prompt) ending where the model writes."""
    if prompt_format not in PROMPT_FORMATS:
        raise PromptError(f"prompt_format must be one of {PROMPT_FORMATS}, got {prompt_format!r}")
    messages = [{"role": "user", "content": user_turn(record, class_prompt, instruction)}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text + THINK_START if prompt_format == "think" else text


def prompt_ids(tokenizer, record: dict[str, Any], *, prompt_format: str = "think",
               class_prompt: str | None = None, instruction: str | None = None) -> list[int]:
    return encode(tokenizer, prompt_text(tokenizer, record, prompt_format=prompt_format, class_prompt=class_prompt,
                                         instruction=instruction))
