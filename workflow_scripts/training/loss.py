"""Causal-LM loss without materialising the full logits.

The fp32 logits of one 32K-token sequence over Qwen's 151,936-token vocabulary are ~20 GB, so
the model's forward is replaced (on the instance) by one that runs the decoder, then computes
the loss from the final hidden states and the LM-head weight with either

* Liger's fused linear cross-entropy (Triton; GPU only; ``liger-kernel`` when installed), or
* a chunked cross-entropy: the labelled positions are split into chunks of ~``CHUNK_ELEMENTS``
  logits; each chunk's logits are recomputed in the backward pass (activation checkpointing),
  so at most one chunk's logits exist at a time.

The loss is the token-level mean over the micro-batch's labelled tokens, and the Trainer averages
micro-batches (gradient accumulation) and GPUs: with micro-batch 1 that is s1's weighting (each
sequence's token mean, averaged over the 16 sequences of a step; s1 ran micro-batch 1 on 16 GPUs).
The alternative, one token-level mean over the whole global batch, would weight long traces more;
it is what ``num_items_in_batch`` gives if a caller passes it (kept for that use).
The loss is computed inside the model's own forward so DeepSpeed ZeRO-3 gathers the (tied)
head weight as it does for any parameter used there.
"""

from __future__ import annotations

import importlib.util
import types

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from workflow_scripts.training.masking import IGNORE_INDEX

# ~256M fp32 logits (1 GiB) per chunk: 1,766 tokens at Qwen's vocabulary.
CHUNK_ELEMENTS = 1 << 28


def liger_available() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def resolve_loss_kind(requested: str, on_cuda: bool) -> str:
    """auto -> liger on CUDA when installed, else chunked; liger without CUDA/package is an error."""
    if requested == "auto":
        return "liger" if on_cuda and liger_available() else "chunked"
    if requested == "liger":
        if not on_cuda:
            raise ValueError("fused_cross_entropy: liger needs a CUDA GPU; use chunked or auto on CPU")
        if not liger_available():
            raise ValueError("fused_cross_entropy: liger requested but liger-kernel is not installed "
                             "(pip install liger-kernel), or use auto/chunked")
    if requested not in ("liger", "chunked", "none"):
        raise ValueError(f"unknown fused_cross_entropy {requested!r}")
    return requested


def _chunk_loss_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = F.linear(hidden, weight)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # softmax in fp32; 16-bit matmul under autocast
    return F.cross_entropy(logits, targets, reduction="sum")


def shifted_targets(hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states and next-token targets at labelled positions only (prompt rows skip the head)."""
    hidden = hidden[:, :-1, :].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1).to(hidden.device)
    keep = targets != IGNORE_INDEX
    return hidden[keep], targets[keep]


def chunked_loss_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                     chunk_tokens: int | None = None) -> torch.Tensor:
    """Sum of token cross-entropies; each chunk's logits are rebuilt in backward, never stored."""
    chunk_tokens = chunk_tokens or max(1, CHUNK_ELEMENTS // weight.shape[0])
    total = hidden.new_zeros((), dtype=torch.promote_types(hidden.dtype, torch.float32))
    for start in range(0, hidden.shape[0], chunk_tokens):
        part = slice(start, start + chunk_tokens)
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss_sum, hidden[part], weight, targets[part], use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(hidden[part], weight, targets[part])
    return total


def liger_loss_sum(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    from liger_kernel.transformers.fused_linear_cross_entropy import LigerFusedLinearCrossEntropyLoss

    # Under autocast the residual stream is fp32; the fused kernel runs its matmuls in the
    # autocast dtype so they use the tensor cores (the cast's backward keeps fp32 master grads).
    if torch.is_autocast_enabled(hidden.device.type):
        dtype = torch.get_autocast_dtype(hidden.device.type)
        hidden, weight = hidden.to(dtype), weight.to(dtype)
    return LigerFusedLinearCrossEntropyLoss(reduction="sum")(weight, hidden, targets).float()


def causal_lm_loss(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, kind: str,
                   num_items_in_batch=None) -> torch.Tensor:
    hidden, targets = shifted_targets(hidden, labels)
    if kind == "liger":
        total = liger_loss_sum(hidden, weight, targets)
    elif kind == "chunked":
        total = chunked_loss_sum(hidden, weight, targets)
    elif kind == "none":
        total = _chunk_loss_sum(hidden, weight, targets)
    else:
        raise ValueError(f"unknown loss kind {kind!r}")
    denominator = num_items_in_batch if num_items_in_batch is not None else targets.numel()
    if torch.is_tensor(denominator):
        return total / denominator.to(total.device).clamp(min=1)
    return total / max(denominator, 1)


def install_memory_efficient_loss(model, kind: str) -> None:
    """Replace ``model.forward`` (instance only) by decoder + ``causal_lm_loss`` when labels are given.

    Without labels (generation, evaluation of logits) the original forward runs unchanged.
    """
    original_forward = model.forward

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, labels=None,
                num_items_in_batch=None, **kwargs):
        if labels is None:
            return original_forward(input_ids=input_ids, attention_mask=attention_mask,
                                    position_ids=position_ids, **kwargs)
        from transformers.modeling_outputs import CausalLMOutputWithPast

        kwargs.pop("use_cache", None)
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             position_ids=position_ids, use_cache=False, **kwargs)
        loss = causal_lm_loss(outputs.last_hidden_state, self.lm_head.weight, labels, kind,
                              num_items_in_batch=num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss, logits=None)

    model.forward = types.MethodType(forward, model)
    # The Trainer then divides each micro-batch mean by the accumulation steps (s1's weighting)
    # instead of passing num_items_in_batch.
    model.accepts_loss_kwargs = False
    model.memory_efficient_loss = kind
