"""``dtype: auto`` resolved from the hardware, with /proc/cpuinfo replaced by real-format files."""

from __future__ import annotations

import pytest

from workflow_scripts.decoding import dtype

# /proc/cpuinfo excerpts (one processor each): an AVX2-only EPYC (Zen 2), a Sapphire Rapids
# Xeon (AMX and AVX-512 bf16) and an arm64 Neoverse V1 (bf16 in Features).
AVX2_ONLY = """processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC 7R32
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf tsc_known_freq pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch topoext ssbd ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 clzero xsaveerptr rdpru wbnoinvd arat npt nrip_save rdpid
bugs		: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass retbleed smt_rsb
"""
SAPPHIRE_RAPIDS = """processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Platinum 8488C
flags		: fpu vme de pse tsc msr pae avx avx2 avx512f avx512dq avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
"""
NEOVERSE_V1 = """processor	: 0
BogoMIPS	: 2100.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer	: 0x41
"""


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    """Point the flag check at a file and take CUDA away, so the CPU rule decides."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def use(text: str):
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(dtype, "CPUINFO_PATH", path)
        return path
    return use


def test_auto_picks_float32_on_a_cpu_without_native_bf16(cpuinfo):
    path = cpuinfo(AVX2_ONLY)
    assert "avx2" in dtype.cpu_flags() and dtype.cpu_native_bf16() == []
    chosen, reason = dtype.resolve_dtype("auto")
    assert chosen == "float32"
    assert reason.startswith("dtype auto -> float32: the CPU has no native bf16") and str(path) in reason


@pytest.mark.parametrize("text, flags", [(SAPPHIRE_RAPIDS, ["avx512_bf16", "amx_bf16"]), (NEOVERSE_V1, ["bf16"])])
def test_auto_picks_bfloat16_on_a_cpu_with_native_bf16(cpuinfo, text, flags):
    cpuinfo(text)
    assert dtype.cpu_native_bf16() == flags
    chosen, reason = dtype.resolve_dtype("auto")
    assert chosen == "bfloat16" and ", ".join(flags) in reason


def test_an_unreadable_cpuinfo_means_float32_and_an_explicit_dtype_is_kept(cpuinfo, tmp_path, monkeypatch):
    monkeypatch.setattr(dtype, "CPUINFO_PATH", tmp_path / "missing")
    assert dtype.resolve_dtype("auto")[0] == "float32"
    cpuinfo(AVX2_ONLY)
    assert dtype.resolve_dtype("bfloat16") == ("bfloat16", "dtype bfloat16 as configured")
    assert dtype.resolve_dtype("float16")[0] == "float16"
