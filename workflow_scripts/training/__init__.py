"""SFT stage: s1-format distillation of the base model on the curated set.

Modules: ``settings`` (config section, s1 defaults), ``formatting`` (training text),
``masking`` (labels, pad token, overlong policy, collator), ``batching`` (micro-batch x
accumulation x GPUs), ``loss`` (chunked / Liger fused cross-entropy), ``trainer``
(transformers Trainer, DeepSpeed ZeRO-3 when several GPUs), ``plots``, ``cli``.

Where this differs from s1's ``train/sft.py`` (TRL SFTTrainer, FSDP, 16 GPUs):

* Trainer: the transformers Trainer with our own collator instead of TRL's SFTTrainer and
  ``DataCollatorForCompletionOnlyLM``; the labels are the same (everything after
  ``<|im_start|>assistant\\n``, the final ``"\\n"`` after ``<|im_end|>`` included), found by
  rendering the prompt alone instead of searching token ids.
* Overlong examples: s1 truncated them silently at ``block_size`` (TRL's ``max_seq_length``);
  here ``overlong: drop`` (default) or ``truncate``, counted in ``summary.json``.
* Sharding: one GPU trains unsharded; several GPUs use DeepSpeed ZeRO-3 (s1: FSDP full_shard).
* Loss kernels: the cross-entropy is computed without materialising the logits (Liger's fused
  linear cross-entropy on GPU, else a chunked one): same value (tests, and device runs agree
  to 1e-4); on GPU Liger's RoPE/RMSNorm/SwiGLU kernels replace the eager modules (same math).
* Loss weighting: each micro-batch's token mean, averaged over accumulation steps and GPUs,
  which with micro-batch 1 equals s1's (one sequence per GPU, averaged over 16 GPUs).
* Precision: fp32 master weights with bf16 autocast and fused AdamW; saved as bf16.
"""
