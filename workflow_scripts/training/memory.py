"""How many decoder layers to checkpoint: a model of a training step's GPU memory.

Gradient checkpointing keeps only each layer's input and recomputes the layer in the backward
pass; a layer that is not checkpointed keeps everything its backward needs (its *stash*) from
the forward until its backward. The peak of a step is modelled as

    peak(k) = P * bytes_per_param            weights, gradients, AdamW m and v
            + L * input(s)                   every layer's input (kept either way)
            + k * (stash(s) - input(s))      the k layers that are not checkpointed
            + stash(s) + loss(s)             working memory: one layer recomputed in the
                                             backward, the loss's hidden-state gradient

with ``stash(s) = fixed + per_token * s`` measured on the run's own device, dtype and kernels by
counting the bytes autograd saves in one forward of a real decoder layer at two short lengths
(``measure_layer_stash``). The stash is linear in the sequence length with memory-efficient
attention (FlashAttention/cuDNN/CPU flash kernels keep the output and one log-sum-exp per row).
Counting gradients for the whole step is an upper bound: the Trainer frees them after each
optimizer step, and autocast's cached bf16 weight copies (live until the forward ends) are
smaller than the fp32 gradients they stand in for.

``auto`` checkpoints the fewest layers whose modelled peak fits the card's memory (free memory
plus what this process already holds) less a safety margin; benchmarks/RESULTS.md compares the
model with the measured peaks on an H200.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

GIB = 2**30
# Allocator fragmentation (reserved - allocated) measured up to 3.3 GiB at block 32768, plus the
# CUDA context and library workspaces that torch does not count: keep this much free.
MARGIN_FRACTION = 0.05
MARGIN_MIN_BYTES = 4 * GIB
STASH_PROBE_TOKENS = (256, 512)


@dataclass(frozen=True)
class LayerStash:
    """Bytes autograd keeps for one decoder layer's backward: ``fixed + per_token * tokens``."""

    fixed_bytes: float
    per_token_bytes: float
    input_bytes_per_token: float

    def at(self, tokens: int) -> float:
        return self.fixed_bytes + self.per_token_bytes * tokens

    def input_at(self, tokens: int) -> float:
        return self.input_bytes_per_token * tokens


@dataclass(frozen=True)
class CheckpointPlan:
    setting: str
    layers: int
    checkpointed_layers: int
    tokens: int
    predicted_peak_gib: float | None = None
    budget_gib: float | None = None
    margin_gib: float | None = None
    stash_gib_per_layer: float | None = None
    input_gib_per_layer: float | None = None
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def saved_tensor_bytes(fn, *args, exclude: tuple[torch.Tensor, ...] = (), **kwargs) -> int:
    """Bytes of the distinct storages autograd saves while running ``fn`` (parameters excluded)."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip and storage.device.type != "meta":
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn(*args, **kwargs)
    del out
    return sum(seen.values())


def layer_forward_saved_bytes(model, tokens: int, autocast_dtype: torch.dtype | None) -> tuple[int, int]:
    """(saved bytes, input bytes) of one forward of the model's first decoder layer on ``tokens`` tokens.

    The input is a fresh tensor in the model's residual dtype that requires grad, as a layer's
    input does in training (micro-batch 1; the stash scales with the micro-batch size).
    """
    decoder = model.get_decoder()
    layer = decoder.layers[0]
    param = next(layer.parameters())
    device = param.device
    generator = torch.Generator(device="cpu").manual_seed(42)
    hidden = torch.randn(1, tokens, model.config.hidden_size, generator=generator, dtype=param.dtype).to(device)
    hidden.requires_grad_(True)
    position_ids = torch.arange(tokens, device=device)[None]
    params = tuple(model.parameters())
    was_training, flag = layer.training, getattr(layer, "gradient_checkpointing", False)
    layer.train()
    layer.gradient_checkpointing = False
    try:
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            # cos/sin are computed once per forward and shared by all layers: not part of a layer's stash.
            position_embeddings = tuple(t.detach() for t in decoder.rotary_emb(hidden, position_ids))
            saved = saved_tensor_bytes(layer, hidden, attention_mask=None, position_ids=position_ids,
                                       position_embeddings=position_embeddings,
                                       exclude=params + position_embeddings)
    finally:
        layer.train(was_training)
        layer.gradient_checkpointing = flag
    return saved, hidden.numel() * hidden.element_size()


def measure_layer_stash(model, autocast_dtype: torch.dtype | None, probe_tokens=STASH_PROBE_TOKENS) -> LayerStash:
    """The stash's fixed and per-token parts from two short forwards of a real layer."""
    (short, long_) = probe_tokens
    saved_short, input_short = layer_forward_saved_bytes(model, short, autocast_dtype)
    saved_long, _ = layer_forward_saved_bytes(model, long_, autocast_dtype)
    per_token = (saved_long - saved_short) / (long_ - short)
    return LayerStash(fixed_bytes=saved_short - per_token * short, per_token_bytes=per_token,
                      input_bytes_per_token=input_short / short)


def persistent_bytes_per_param(master_weights: str, on_cuda: bool) -> int:
    """fp32 master weights: weights, grads, AdamW m and v at 4 bytes each; bf16: 2 bytes each."""
    return 8 if master_weights == "bf16" else 16


def predicted_peak_bytes(n_params: int, bytes_per_param: int, layers: int, not_checkpointed: int,
                         stash: LayerStash, tokens: int, hidden_size: int) -> float:
    """The modelled peak of one step (module docstring) with ``not_checkpointed`` layers keeping their stash."""
    loss_working = 4 * tokens * hidden_size * 4  # fp32 hidden-state gradient and the kernel's chunk buffers
    return (n_params * bytes_per_param + layers * stash.input_at(tokens)
            + not_checkpointed * (stash.at(tokens) - stash.input_at(tokens))
            + stash.at(tokens) + loss_working)


def margin_bytes(budget: float) -> float:
    return max(MARGIN_MIN_BYTES, MARGIN_FRACTION * budget)


def fewest_checkpointed(n_params: int, bytes_per_param: int, layers: int, stash: LayerStash, tokens: int,
                        hidden_size: int, budget: float) -> tuple[int, float]:
    """(checkpointed layers, predicted peak): the fewest whose peak fits ``budget`` less the margin.

    Every layer checkpointed when even that does not fit (the run then needs a smaller block or
    more GPUs; the Trainer's out-of-memory error says so).
    """
    limit = budget - margin_bytes(budget)
    for checkpointed in range(layers + 1):
        peak = predicted_peak_bytes(n_params, bytes_per_param, layers, layers - checkpointed, stash, tokens,
                                    hidden_size)
        if peak <= limit:
            return checkpointed, peak
    return layers, predicted_peak_bytes(n_params, bytes_per_param, layers, 0, stash, tokens, hidden_size)


def device_budget_bytes(device: torch.device) -> float:
    """Memory this process may use on ``device``: what is free plus what its allocator already holds."""
    free, _total = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device)


def plan_checkpointing(model, setting: str | int, tokens: int, master_weights: str, on_cuda: bool,
                       autocast_dtype: torch.dtype | None, processes: int = 1,
                       budget: float | None = None) -> CheckpointPlan:
    """How many of the model's decoder layers to checkpoint for ``setting`` (auto | all | N).

    ``auto`` needs one CUDA process (ZeRO-3 over several GPUs partitions the persistent state,
    which the model does not cover: all layers are checkpointed there, as in s1) and measures
    the stash on the model's device; ``budget`` overrides the card's memory (tests, what-ifs).
    """
    layers = len(model.get_decoder().layers)
    if setting == "all":
        return CheckpointPlan("all", layers, layers, tokens, reason="configured")
    if isinstance(setting, int):
        if setting > layers:
            raise ValueError(f"training setting checkpoint_layers: {setting} but the model has {layers} "
                             "decoder layers")
        return CheckpointPlan(str(setting), layers, setting, tokens, reason="configured")
    if processes > 1:
        return CheckpointPlan("auto", layers, layers, tokens,
                              reason=f"{processes} processes (ZeRO-3): memory model covers one GPU")
    if budget is None and not on_cuda:
        return CheckpointPlan("auto", layers, layers, tokens, reason="no GPU: nothing to size against")
    stash = measure_layer_stash(model, autocast_dtype)
    if budget is None:
        budget = device_budget_bytes(next(model.parameters()).device if
                                     next(model.parameters()).is_cuda else torch.device("cuda"))
    n_params = sum(p.numel() for p in model.parameters())
    checkpointed, peak = fewest_checkpointed(n_params, persistent_bytes_per_param(master_weights, on_cuda),
                                             layers, stash, tokens, model.config.hidden_size, budget)
    return CheckpointPlan("auto", layers, checkpointed, tokens, predicted_peak_gib=peak / GIB,
                          budget_gib=budget / GIB, margin_gib=margin_bytes(budget) / GIB,
                          stash_gib_per_layer=stash.at(tokens) / GIB, input_gib_per_layer=stash.input_at(tokens) / GIB,
                          reason="fewest checkpointed layers whose modelled peak fits the budget less the margin")


def apply_checkpoint_plan(model, checkpointed: int) -> None:
    """Checkpoint the first ``checkpointed`` decoder layers; the rest keep their activations.

    Which layers does not change the peak (every stash is alive when the backward starts).
    """
    layers = model.get_decoder().layers
    if checkpointed > 0:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    for index, layer in enumerate(layers):
        layer.gradient_checkpointing = index < checkpointed
