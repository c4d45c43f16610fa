"""Resumable shards: samples are appended (flush + fsync) to the shard's store
``{shard}.store`` as they finish, and the shard is written atomically, in eval order, once
every sample is there; the store then becomes a hard link to the shard (no second copy).

The store is not a declared output, so it outlives what Snakemake removes: a job killed
half-way, a job rerun because a parameter changed, or one whose samples another job of its
engine group generated (:mod:`workflow_scripts.generation.cli`) reads it, drops a torn last
line, ignores samples made with other settings (their ``resume_key`` differs) and generates
only the missing ones. Delete a configuration's folder to regenerate it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from workflow_scripts.errors import UserError
from workflow_scripts.io import write_jsonl
from workflow_scripts.methods.base import sample_key


class ShardError(UserError):
    """A shard or its store is unusable; the message names the file and line."""


def resume_key(payload: dict[str, Any]) -> str:
    """Stable hash of everything that determines a sample (model, method, settings, seed)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ShardWriter:
    """One shard and its store. ``digests`` ({question id: digest of its eval record}, optional):
    a stored sample counts only if it was made from the record as it is now, so an edited eval
    question is regenerated; appended samples are stamped with it (``record_sha``)."""

    def __init__(self, path: str | Path, key: str, digests: dict[str, str] | None = None):
        self.path = Path(path)
        self.store = self.path.with_name(self.path.name + ".store")
        self.key = key
        self.digests = digests
        self.samples: dict[str, dict[str, Any]] = {}
        self.torn_lines = 0
        self.foreign_samples = 0  # made with another resume key or from another record: regenerated

    def load(self) -> dict[str, dict[str, Any]]:
        """Finished samples from the final shard and the store (this key and these records only)."""
        self.samples, self.torn_lines, self.foreign_samples = {}, 0, 0
        if self.path.exists():
            for sample in self._read(self.path, allow_torn_tail=False):
                self._keep(sample)
        if self.store.exists():
            for sample in self._read(self.store, allow_torn_tail=True):
                self._keep(sample)
        return self.samples

    def _keep(self, sample: dict[str, Any]) -> None:
        stale = self.digests is not None and sample.get("record_sha") != self.digests.get(str(sample.get("id")))
        if sample.get("resume_key") != self.key or stale:
            self.foreign_samples += 1
            return
        self.samples.setdefault(sample_key(sample), sample)

    def _read(self, path: Path, allow_torn_tail: bool) -> Iterable[dict[str, Any]]:
        data = path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ShardError(f"{path}:{number}: not valid JSON ({error.msg}); delete the file to regenerate") from None
        if tail.strip():
            if not allow_torn_tail:
                raise ShardError(f"{path}: last line has no newline (torn write); delete the file to regenerate")
            # A write killed half-way: cut it off so later appends start on a clean line.
            self.torn_lines += 1
            with open(path, "r+b") as handle:
                handle.truncate(len(data) - len(tail))
        return rows

    def append(self, samples: Iterable[dict[str, Any]]) -> None:
        self.store.parent.mkdir(parents=True, exist_ok=True)
        if self.store.exists() and self.store.stat().st_nlink > 1:  # linked to the shard: copy before writing
            data = self.store.read_bytes()
            self.store.unlink()
            self.store.write_bytes(data)
        with open(self.store, "a", encoding="utf-8") as handle:
            for sample in samples:
                sample = {**sample, "resume_key": self.key}
                if self.digests is not None:
                    sample["record_sha"] = self.digests[str(sample["id"])]
                handle.write(json.dumps(sample, ensure_ascii=False, sort_keys=True) + "\n")
                self.samples[sample_key(sample)] = sample
            handle.flush()
            os.fsync(handle.fileno())

    def finalize(self, ordered_ids: list[str]) -> None:
        """Write the shard in this order of sample keys (question ids; ``id#j`` for k samples)."""
        missing = [i for i in ordered_ids if i not in self.samples]
        if missing:
            raise ShardError(f"{self.path}: {len(missing)} sample(s) missing, e.g. {missing[:3]}")
        write_jsonl(self.path, (self.samples[i] for i in ordered_ids))
        linked = self.store.with_name(self.store.name + ".tmp")
        linked.unlink(missing_ok=True)
        try:
            os.link(self.path, linked)
        except OSError:  # a filesystem without hard links: a copy
            linked.write_bytes(self.path.read_bytes())
        os.replace(linked, self.store)
